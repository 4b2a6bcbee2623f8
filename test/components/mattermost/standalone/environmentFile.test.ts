// The standalone host's environment file in systemd's EnvironmentFile= format: the reader used here
// is checked against systemd.exec(5)'s documented rules and against systemd's own parser; then every
// value the renderer accepts must come back unchanged, and what systemd cannot hold is refused.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import fc from "fast-check";
import { isVariableName, renderEnvironmentFile, unrepresentable } from "../../../../components/mattermost/standalone/environmentFile";
import { ConfigError } from "../../../../components/settings/configError";
import { ENVIRONMENT_D_GENERATOR, parseSystemdEnvironmentFile, systemdReads } from "../../../support/systemdEnvironmentFile";

/** systemd.exec(5), EnvironmentFile=: file text → what systemd loads. */
const DOCUMENTED: [string, string, Record<string, string>][] = [
    ["comments and lines without = are ignored", "# A=1\n; B=2\nC\nD=4\n", { D: "4" }],
    ["unquoted: leading and trailing whitespace dropped, inner kept", "A=  x  y \t\n", { A: "x  y" }],
    ["unquoted: backslash keeps the next character", "A=a\\\\b\\\"c\n", { A: 'a\\b"c' }],
    ["unquoted: backslash-newline joins lines", "A=one\\\ntwo\n", { A: "onetwo" }],
    ["unquoted: quotes after the first character stay", "A=it's \"x\"\n", { A: `it's "x"` }],
    ["single quotes: verbatim across lines, no escapes", "A='a\\nb\nc $d'\n", { A: "a\\nb\nc $d" }],
    ["double quotes: \\\" \\\\ \\` \\$ keep the character", 'A="\\"\\\\\\`\\$"\n', { A: '"\\`$' }],
    ["double quotes: other backslashes are kept", 'A="a\\nb"\n', { A: "a\\nb" }],
    ["double quotes: backslash-newline is a continuation", 'A="a\\\nb"\n', { A: "ab" }],
    ["double quotes: newlines and spaces verbatim", 'A="  a\n b  "\n', { A: "  a\n b  " }],
    ["CR ends an unquoted line", "A=x\rB=y\n", { A: "x", B: "y" }],
    ["a later assignment wins", "A=1\nA=2\n", { A: "2" }],
    ["invalid names are ignored", "1A=x\nA-B=y\nok_1=z\n", { ok_1: "z" }],
    ["an empty value", "A=\nB=\"\"\n", { A: "", B: "" }],
];

describe("systemd EnvironmentFile reader used by the tests", () => {
    for (const [rule, text, expected] of DOCUMENTED) {
        it(`follows systemd.exec(5): ${rule}`, () => {
            assert.deepEqual(parseSystemdEnvironmentFile(text), expected);
        });
    }

    it("agrees with systemd's own parser on the documented cases without $", { skip: !existsSync(ENVIRONMENT_D_GENERATOR) && "no systemd here" }, async () => {
        for (const [rule, text, expected] of DOCUMENTED) {
            // The generator expands $NAME and leaves out empty values; EnvironmentFile= does neither.
            if (text.includes("$") || Object.values(expected).includes("")) continue;
            assert.deepEqual(await systemdReads(text, Object.keys(parseSystemdEnvironmentFile(text + "\nZZZ=1\n"))), expected, rule);
        }
    });
});

/** Any string systemd can carry: printable and control characters, quotes, backslashes, Unicode. */
const representable = fc
    .string({
        unit: fc.oneof(
            fc.constantFrom('"', "'", "\\", "`", "$", "\n", "\r", "\t", " ", "#", ";", "="),
            fc.integer({ min: 1, max: 0x1f }).map((code) => String.fromCharCode(code)),
            fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
        ),
    })
    .filter((value) => unrepresentable(value) === undefined);

describe("renderEnvironmentFile", () => {
    it("gives back every representable value unchanged, as systemd reads it", () => {
        fc.assert(
            fc.property(fc.dictionary(fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}$/), representable), (variables) => {
                const text = renderEnvironmentFile(["test"], Object.entries(variables).map(([name, value]) => ({ name, value, configKey: "k" })));
                assert.deepEqual(parseSystemdEnvironmentFile(text), Object.fromEntries(Object.entries(variables)));
            }),
            { numRuns: 500 },
        );
    });

    it("is read the same by systemd itself (values without $)", { skip: !existsSync(ENVIRONMENT_D_GENERATOR) && "no systemd here" }, async () => {
        await fc.assert(
            fc.asyncProperty(representable.filter((value) => value !== "" && !value.includes("$")), async (value) => {
                const text = renderEnvironmentFile([], [{ name: "MM_TEST_VALUE", value, configKey: "k" }]);
                assert.deepEqual(await systemdReads(text, ["MM_TEST_VALUE"]), { MM_TEST_VALUE: value });
            }),
            { numRuns: 60 },
        );
    });

    const refused: [string, string, RegExp][] = [
        ["NUL", "a\0b", /NUL/],
        ["a byte order mark", "\uFEFFx", /FEFF/],
        ["an unpaired surrogate", "x\uD800", /surrogate/],
        ["a noncharacter", "x\uFFFE", /noncharacter U\+FFFE/],
        ["a noncharacter from the FDD0 block", "\uFDD0", /noncharacter/],
    ];
    for (const [what, value, message] of refused) {
        it(`refuses a value with ${what}, naming the key`, () => {
            assert.throws(
                () => renderEnvironmentFile([], [{ name: "MM_X", value, configKey: "mattermost.env.MM_X" }]),
                (error: unknown) => error instanceof ConfigError && error.message.includes("mattermost.env.MM_X") && message.test(error.message),
            );
        });
    }

    it("refuses names systemd would ignore", () => {
        for (const name of ["1ABC", "A-B", "A B", "", "Ä"]) {
            assert.equal(isVariableName(name), false, name);
            assert.throws(() => renderEnvironmentFile([], [{ name, value: "x", configKey: "mattermost.env" }]), ConfigError);
        }
    });

    it("refuses the same name twice, naming both keys", () => {
        assert.throws(
            () => renderEnvironmentFile([], [
                { name: "MM_A", value: "1", configKey: "first.key" },
                { name: "MM_A", value: "2", configKey: "mattermost.env.MM_A" },
            ]),
            /mattermost\.env\.MM_A.*first\.key/s,
        );
    });

    it("refuses a comment line that systemd would continue onto the next line", () => {
        assert.throws(() => renderEnvironmentFile(["ends in \\"], []), /comment/);
    });
});
