// components/gitlabRb/gitlabRb.ts, checked by a real Ruby interpreter: literals evaluate to exactly the value
// they were made from, rendered files evaluate under the Omnibus stand-in (test/support/omnibus_dsl.rb),
// and keys a version does not know are never written.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { renderGitlabRb, rubyLiteral, rubyString, type GitlabRbDocument, type GitlabRbSection, type RubyValue } from "../../../components/gitlabRb/gitlabRb";
import { evaluateGitlabRb, evaluateGitlabRbError, rubyPrint } from "../../support/ruby";
import { version } from "../../support/versions";


function doc(versionText: string, sections: readonly GitlabRbSection[], origin = "test"): GitlabRbDocument {
    return { origin, version: version(versionText), sections };
}

/** Lines of a rendered file that Ruby executes (everything but comments and blank lines). */
function codeLines(text: string): string[] {
    return text.split("\n").filter((line) => line !== "" && !line.startsWith("#"));
}

const TRICKY_STRINGS: readonly [string, string][] = [
    ["empty", ""],
    ["plain ASCII", "https://gitlab.example.com"],
    ["double quote", '"'],
    ["single quote", "'"],
    ["backslash", "\\"],
    ["backslash before quote", '\\"'],
    ["trailing backslash", "abc\\"],
    ["literal backslash-n", "\\n"],
    ["literal \\u escape", "\\u{41}"],
    ["interpolation", "#{1 + 1}"],
    ["interpolation with a call", '#{`id`}#{File.read("/etc/passwd")}'],
    ["instance variable interpolation", "#@x"],
    ["class variable interpolation", "#@@x"],
    ["global interpolation", "#$y #$0"],
    ["lone hash", "#"],
    ["hash at end", "a#"],
    ["newline", "a\nb"],
    ["CR LF", "a\r\nb"],
    ["lone CR", "\r"],
    ["tab", "\t"],
    ["NUL", "a\u0000b"],
    ["other C0 controls and DEL", "\u0001\u0004\u001a\u001b\u001f\u007f"],
    ["C1 control and NBSP", "\u0085\u00a0"],
    ["Latin-1", "é ß ÿ"],
    ["CJK", "日本語"],
    ["emoji", "😀"],
    ["ZWJ family", "👩‍👩‍👧"],
    ["flag", "🇩🇪"],
    ["line and paragraph separators", "\u2028\u2029"],
    ["BOM", "\ufeff"],
    ["last code point", "\u{10ffff}"],
    ["private use", "\ue000"],
    ["Ruby end marker", "\n__END__\n"],
    ["embedded document", "\n=begin\n=end\n"],
    ["percent literal opener", "%q(%w[%{"],
    ["closing quote and code", '"; system("id"); "'],
];

describe("rubyString in real Ruby", () => {
    for (const [name, text] of TRICKY_STRINGS) {
        it(`evaluates to exactly the original: ${name}`, () => {
            const literal = rubyString(text);
            assert.match(literal, /^"[\x20-\x7e]*"$/, "the literal is one line of printable ASCII");
            assert.equal(rubyPrint(literal), text);
        });
    }

    it("refuses a lone surrogate, which no Ruby string can hold", () => {
        assert.throws(() => rubyString("a\ud800b"), /lone surrogate/);
        assert.throws(() => rubyString("\udc00"), /lone surrogate/);
    });
});

describe("rubyLiteral in real Ruby", () => {
    const cases: readonly [string, RubyValue][] = [
        ["nil", null],
        ["true", true],
        ["false", false],
        ["zero", 0],
        ["negative", -1],
        ["uid", 994],
        ["largest safe integer", Number.MAX_SAFE_INTEGER],
        ["smallest safe integer", Number.MIN_SAFE_INTEGER],
        ["empty array", []],
        ["empty hash", {}],
        ["array of tricky strings", ["#{x}", '"', "\\", "\n", "😀", ""]],
        ["hash with tricky keys", { '"': "a", "#{k}": "b", "\\": "c", "\n": "d", "😀": "e", "": "f", __proto__x: "g" }],
        ["nesting", { list: [1, [2, [3]], { deep: { deeper: [null, true, "#$v"] } }], "": {} }],
    ];
    for (const [name, value] of cases) {
        it(`gitlab_rails['x'] = <literal> evaluates to the original: ${name}`, () => {
            const result = evaluateGitlabRb(`gitlab_rails['x'] = ${rubyLiteral(value)}\n`, "18.11.11");
            assert.deepEqual(result, { gitlab_rails: { x: value } });
        });
    }

    it("keeps a __proto__ hash key as an ordinary key", () => {
        const value = Object.fromEntries([["__proto__", "p"], ["a", "b"]]) as RubyValue;
        const result = evaluateGitlabRb(`gitlab_rails['x'] = ${rubyLiteral(value)}\n`, "18.11.11");
        assert.deepEqual(result, { gitlab_rails: { x: value } });
    });

    it("refuses numbers that are not safe integers", () => {
        for (const bad of [1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 1]) {
            assert.throws(() => rubyLiteral(bad), /whole numbers/, String(bad));
        }
    });
});

describe("renderGitlabRb in real Ruby", () => {
    it("writes a hash at a top-level name as an argument, not as a block", () => {
        // Ruby reads `external_url { "a" => "b" }` as a block and silently sets nothing.
        const text = renderGitlabRb(
            doc("18.11.11", [
                {
                    title: "Top level",
                    settings: [
                        { key: "external_url", value: { a: "b", "#{x}": ["c"] } },
                        { key: "mattermost_external_url", value: [1, "two"] },
                    ],
                },
            ]),
        );
        assert.deepEqual(evaluateGitlabRb(text, "18.11.11"), {
            external_url: { a: "b", "#{x}": ["c"] },
            mattermost_external_url: [1, "two"],
        });
    });

    it("writes each setting on one line, in order, and omits empty sections", () => {
        const text = renderGitlabRb(
            doc("18.11.11", [
                { title: "Empty", settings: [] },
                { title: "Only removed keys", settings: [{ key: "grafana['enable']", value: false }] },
                {
                    title: "URLs",
                    note: "two lines\nof note",
                    settings: [
                        { key: "external_url", value: "https://gitlab.example.com" },
                        { key: "gitlab_rails['mattermost_host']", value: "https://mattermost.example.com" },
                    ],
                },
            ]),
        );
        assert.deepEqual(codeLines(text), [
            'external_url "https://gitlab.example.com"',
            `gitlab_rails['mattermost_host'] = "https://mattermost.example.com"`,
        ]);
        assert.ok(!text.includes("Empty") && !text.includes("Only removed keys"), text);
        assert.match(text, /^# URLs: two lines\n# of note\nexternal_url /m);
        assert.deepEqual(evaluateGitlabRb(text, "18.11.11"), {
            external_url: "https://gitlab.example.com",
            gitlab_rails: { mattermost_host: "https://mattermost.example.com" },
        });
    });

    it("refuses keys that are not written the way Omnibus documents them", () => {
        for (const key of ["External_url", "gitlab_rails[\"x\"]", "gitlab_rails['x']['y']", "a; system('id')", "gitlab_rails['x'] "]) {
            assert.throws(() => renderGitlabRb(doc("18.11.11", [{ title: "t", settings: [{ key, value: 1 }] }])), /not a gitlab\.rb key/, key);
        }
    });
});

describe("renderGitlabRb and key lifetimes", () => {
    const sections: readonly GitlabRbSection[] = [
        {
            title: "Services",
            settings: [
                { key: "gitlab_rails['enable']", value: false },
                { key: "grafana['enable']", value: false },
                { key: "redis['enable']", value: false },
            ],
        },
    ];

    it("writes grafana['enable'] for 16.11.10, and 16.11.10 accepts the file", () => {
        const text = renderGitlabRb(doc("16.11.10", sections));
        assert.ok(text.includes("grafana['enable'] = false\n"), text);
        assert.deepEqual(evaluateGitlabRb(text, "16.11.10"), {
            gitlab_rails: { enable: false },
            grafana: { enable: false },
            redis: { enable: false },
        });
    });

    for (const target of ["17.1.0", "18.11.11"]) {
        it(`drops grafana['enable'] for ${target}, and ${target} accepts the file`, () => {
            const text = renderGitlabRb(doc(target, sections));
            assert.ok(!text.includes("grafana"), text);
            assert.deepEqual(codeLines(text), ["gitlab_rails['enable'] = false", "redis['enable'] = false"]);
            assert.deepEqual(evaluateGitlabRb(text, target), { gitlab_rails: { enable: false }, redis: { enable: false } });
        });
    }

    it("needs the drop: the file rendered for 16.11.10 is rejected by 17.1.0", () => {
        const error = evaluateGitlabRbError(renderGitlabRb(doc("16.11.10", sections)), "17.1.0");
        assert.match(error ?? "accepted", /UnknownConfigOptionError: Reading unsupported config value grafana/);
    });

    it("a hand-written grafana['enable'] = false is rejected by 17.1.0 and accepted by 17.0.8", () => {
        const text = "external_url 'https://gitlab.example.com'\ngrafana['enable'] = false\n";
        assert.match(evaluateGitlabRbError(text, "17.1.0") ?? "accepted", /Reading unsupported config value grafana/);
        assert.match(evaluateGitlabRbError(text, "18.11.11") ?? "accepted", /Reading unsupported config value grafana/);
        assert.equal(evaluateGitlabRbError(text, "17.0.8"), undefined);
        assert.deepEqual(evaluateGitlabRb(text, "17.0.8"), { external_url: "https://gitlab.example.com", grafana: { enable: false } });
    });

    it("writes mattermost['register_as_oauth_app'] only from 15.4", () => {
        const settings = [{ title: "Mattermost", settings: [{ key: "mattermost['register_as_oauth_app']", value: false }] }];
        assert.ok(!renderGitlabRb(doc("15.3.5", settings)).includes("register_as_oauth_app"));
        const text = renderGitlabRb(doc("15.4.0", settings));
        assert.deepEqual(evaluateGitlabRb(text, "15.4.0"), { mattermost: { register_as_oauth_app: false } });
    });
});

describe("the Omnibus stand-in", () => {
    it("rejects an unknown top-level name, read or set", () => {
        assert.match(evaluateGitlabRbError("abc['def'] = 1\n", "18.11.11") ?? "accepted", /UnknownConfigOptionError: Reading unsupported config value abc/);
        assert.match(evaluateGitlabRbError('abc "x"\n', "18.11.11") ?? "accepted", /UnknownConfigOptionError: Cannot set unsupported config value abc/);
    });

    it("rejects an unknown name that the renderer's key syntax allows", () => {
        const text = renderGitlabRb(doc("18.11.11", [{ title: "Typo", settings: [{ key: "gitlab_rail['enable']", value: false }] }]));
        assert.match(evaluateGitlabRbError(text, "18.11.11") ?? "accepted", /Reading unsupported config value gitlab_rail/);
    });

    it("rejects Ruby syntax errors", () => {
        assert.match(evaluateGitlabRbError('external_url "https://x\n', "18.11.11") ?? "accepted", /SyntaxError/);
    });

    it("reports only the names the file set", () => {
        assert.deepEqual(evaluateGitlabRb("# nothing but a comment\n", "18.11.11"), {});
        assert.deepEqual(evaluateGitlabRb("x = nginx['enable']\nnginx['listen_port'] = x\n", "18.11.11"), { nginx: { listen_port: null } });
    });
});

// ---- Properties: arbitrary strings survive a rendered file and a real Ruby evaluation exactly. ----

/** Pieces that have broken string quoting somewhere, in Ruby or elsewhere. */
const TRICKY_PIECE = fc.constantFrom(
    '"', "'", "`", "\\", "\\\\", "#", "#{", "}", "#{1+1}", "#@x", "#@@x", "#$y", "#$0", "${x}", "%q(", "%w[",
    "\n", "\r", "\r\n", "\t", "\u0000", "\u0001", "\u0004", "\u001a", "\u001b", "\u007f", "\u0085", "\u00a0",
    "é", "ß", "日本", "😀", "👩‍👩‍👧", "🇩🇪", "\u200d", "\u2028", "\u2029", "\ufeff", "\ue000", "\u{10ffff}",
    "__END__", "=begin", "\\u{41}", "\\n", "\\x00", "=>", ",", "]", ")",
);

/** Strings biased toward TRICKY_PIECE, mixed with arbitrary graphemes. */
const trickyString = fc
    .array(fc.oneof({ weight: 3, arbitrary: TRICKY_PIECE }, { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 3 }) }), { maxLength: 12 })
    .map((pieces) => pieces.join(""));

/** Any string that a JavaScript string can hold as valid Unicode. */
const anyString = fc.oneof(fc.string({ unit: "grapheme" }), fc.string({ unit: "binary" }), trickyString);

const PROPERTY_RUNS = 50;

describe("property: arbitrary strings survive rendering and Ruby", () => {
    it("through mattermost['env'], URL-like values, arrays and the origin comment", () => {
        fc.assert(
            fc.property(
                fc.array(anyString, { minLength: 1, maxLength: 16 }),
                fc.array(fc.tuple(anyString, anyString), { maxLength: 6 }),
                fc.tuple(anyString, anyString, anyString),
                fc.array(anyString, { maxLength: 4 }),
                anyString,
                (envValues, extraEnv, [gitlabTail, mattermostTail, hostTail], emails, origin) => {
                    const env = Object.fromEntries([...extraEnv, ...envValues.map((v, i) => [`VAR_${i}`, v] as const)]);
                    const externalUrl = `https://${gitlabTail}`;
                    const mattermostUrl = `https://${mattermostTail}`;
                    const mattermostHost = `http://${hostTail}/`;
                    const text = renderGitlabRb(
                        doc(
                            "18.11.11",
                            [
                                {
                                    title: "URLs",
                                    settings: [
                                        { key: "external_url", value: externalUrl },
                                        { key: "mattermost_external_url", value: mattermostUrl },
                                        { key: "gitlab_rails['mattermost_host']", value: mattermostHost },
                                    ],
                                },
                                { title: "TLS", settings: [{ key: "letsencrypt['contact_emails']", value: emails }] },
                                {
                                    title: "Mattermost",
                                    settings: [
                                        { key: "mattermost['env']", value: env },
                                        { key: "mattermost['gitlab_auth_endpoint']", value: `${externalUrl}/oauth/authorize` },
                                    ],
                                },
                            ],
                            origin,
                        ),
                    );
                    for (const line of codeLines(text)) {
                        assert.match(line, /^[\x20-\x7e]+$/, "every setting is one line of printable ASCII");
                    }
                    assert.equal(codeLines(text).length, 6, "one line per setting");
                    assert.deepEqual(evaluateGitlabRb(text, "18.11.11"), {
                        external_url: externalUrl,
                        mattermost_external_url: mattermostUrl,
                        gitlab_rails: { mattermost_host: mattermostHost },
                        letsencrypt: { contact_emails: emails },
                        mattermost: { env, gitlab_auth_endpoint: `${externalUrl}/oauth/authorize` },
                    });
                },
            ),
            { numRuns: PROPERTY_RUNS },
        );
    });
});
