// How systemd reads an EnvironmentFile=, for tests: a transcription of the state machine of systemd's
// parse_env_file_internal (src/basic/env-file.c, systemd 252, Debian bookworm's and close to Ubuntu
// noble's 255) as systemd.exec(5) documents it:
//   - lines starting (after whitespace) with `#` or `;` are comments; a line without `=` is ignored;
//   - an unquoted value loses leading and trailing whitespace; a backslash keeps the next character,
//     and a backslash before a newline joins the lines;
//   - '…' keeps everything up to the next single quote verbatim, across lines;
//   - "…" keeps everything verbatim, across lines, except that a backslash before `"`, `\`, `` ` ``
//     or `$` keeps just that character, a backslash before a newline drops both, and a backslash
//     before anything else is kept with it;
//   - CR ends a line like LF outside quotes; names outside [A-Za-z_][A-Za-z0-9_]* are ignored;
//     a later assignment replaces an earlier one.
// Also: systemd's own reader, through the environment.d generator, which shares the parser.

import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runProcess } from "./standIns";

type State = "preKey" | "key" | "preValue" | "value" | "valueEscape" | "single" | "double" | "doubleEscape" | "comment" | "commentEscape";

const NEWLINE = "\n\r";
const WHITESPACE = " \t\n\r";
const DOUBLE_QUOTE_ESCAPES = '"\\`$';

/** The variables systemd would load from `text`. */
export function parseSystemdEnvironmentFile(text: string): Record<string, string> {
    const result = new Map<string, string>();
    let state: State = "preKey";
    let key = "";
    let value = "";
    let keyWhitespace = -1;
    let valueWhitespace = -1;
    const push = () => {
        const name = keyWhitespace >= 0 ? key.slice(0, keyWhitespace) : key;
        const trimmed = valueWhitespace >= 0 && state === "value" ? value.slice(0, valueWhitespace) : value;
        if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) result.set(name, trimmed);
        key = "";
        value = "";
    };
    for (const c of text) {
        switch (state) {
            case "preKey":
                if (WHITESPACE.includes(c)) break;
                if (c === "#" || c === ";") state = "comment";
                else {
                    state = "key";
                    keyWhitespace = -1;
                    key = c;
                }
                break;
            case "key":
                if (NEWLINE.includes(c)) {
                    state = "preKey";
                    key = "";
                } else if (c === "=") {
                    state = "preValue";
                    valueWhitespace = -1;
                } else {
                    if (!WHITESPACE.includes(c)) keyWhitespace = -1;
                    else if (keyWhitespace < 0) keyWhitespace = key.length;
                    key += c;
                }
                break;
            case "preValue":
                if (NEWLINE.includes(c)) {
                    push();
                    state = "preKey";
                } else if (c === "'") state = "single";
                else if (c === '"') state = "double";
                else if (c === "\\") state = "valueEscape";
                else if (!WHITESPACE.includes(c)) {
                    state = "value";
                    value += c;
                }
                break;
            case "value":
                if (NEWLINE.includes(c)) {
                    push();
                    state = "preKey";
                } else if (c === "\\") {
                    state = "valueEscape";
                    valueWhitespace = -1;
                } else {
                    if (!WHITESPACE.includes(c)) valueWhitespace = -1;
                    else if (valueWhitespace < 0) valueWhitespace = value.length;
                    value += c;
                }
                break;
            case "valueEscape":
                state = "value";
                if (!NEWLINE.includes(c)) value += c;
                break;
            case "single":
                if (c === "'") state = "preValue";
                else value += c;
                break;
            case "double":
                if (c === '"') state = "preValue";
                else if (c === "\\") state = "doubleEscape";
                else value += c;
                break;
            case "doubleEscape":
                state = "double";
                if (DOUBLE_QUOTE_ESCAPES.includes(c)) value += c;
                else if (c !== "\n") value += `\\${c}`;
                break;
            case "comment":
                if (c === "\\") state = "commentEscape";
                else if (NEWLINE.includes(c)) state = "preKey";
                break;
            case "commentEscape":
                state = "comment";
                break;
        }
    }
    if (["preValue", "value", "valueEscape", "single", "double", "doubleEscape"].includes(state)) push();
    return Object.fromEntries(result);
}

/** The generator that reads environment.d files with systemd's own parser, when installed. */
export const ENVIRONMENT_D_GENERATOR = "/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator";

/**
 * The variables systemd itself reads from `text`, through its environment.d generator (same parser
 * as EnvironmentFile=, then `$NAME` expansion, so only meaningful for text without `$`). The
 * generator also reads the machine's own environment.d files; only `names` are returned. It leaves
 * out variables whose value is empty.
 */
export async function systemdReads(text: string, names: readonly string[]): Promise<Record<string, string>> {
    const home = mkdtempSync(join(tmpdir(), "environment-d-"));
    try {
        mkdirSync(join(home, "environment.d"));
        writeFileSync(join(home, "environment.d", "99-test.conf"), text);
        const result = await runProcess(ENVIRONMENT_D_GENERATOR, [], { env: { XDG_CONFIG_HOME: home } });
        if (result.status !== 0) throw new Error(`environment.d generator failed: ${result.stderr}`);
        const variables: Record<string, string> = {};
        for (const line of result.stdout.split("\n")) {
            const eq = line.indexOf("=");
            if (eq > 0 && names.includes(line.slice(0, eq))) variables[line.slice(0, eq)] = unquoteGeneratorValue(line.slice(eq + 1));
        }
        return variables;
    } finally {
        rmSync(home, { recursive: true, force: true });
    }
}

const C_ESCAPES: Record<string, string> = { a: "\x07", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v" };

/** The generator prints values shell-quoted with C escapes (systemd's shell_maybe_quote). */
function unquoteGeneratorValue(text: string): string {
    const body = text.startsWith('"') && text.endsWith('"') ? text.slice(1, -1) : text;
    return body.replace(/\\(?:([0-7]{3})|x([0-9a-fA-F]{2})|(.))/gs, (_, octal?: string, hex?: string, char?: string) => {
        if (octal) return String.fromCharCode(parseInt(octal, 8));
        if (hex) return String.fromCharCode(parseInt(hex, 16));
        return C_ESCAPES[char!] ?? char!;
    });
}
