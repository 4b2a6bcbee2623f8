// Environment files in the format systemd reads with EnvironmentFile= (systemd.exec(5), "EnvironmentFile=",
// systemd 252 to 255): one NAME=value per line, `#` or `;` starting a comment line. Every value is
// written double-quoted, where POSIX double-quote escapes apply: a backslash keeps the next `"`, `\`,
// `` ` `` or `$` literally, and any other character, newlines included, stands for itself, so every
// value systemd can hold has exactly one spelling here. Pure module.

import { ConfigError } from "../../settings/configError";

/**
 * systemd's rule for a variable name (env_name_is_valid: letters, digits and `_`, not starting with a
 * digit); a name outside it is ignored with a warning when the file is loaded.
 */
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Whether systemd accepts `name` as a variable name in an environment file. */
export function isVariableName(name: string): boolean {
    return VARIABLE_NAME.test(name);
}

/**
 * Why systemd cannot carry `value`, or undefined when it can. systemd.exec(5): values must be UTF-8
 * made of Unicode scalar values other than noncharacters, U+0000 and U+FEFF.
 */
export function unrepresentable(value: string): string | undefined {
    for (const char of value) {
        const code = char.codePointAt(0)!;
        if (code === 0) return "it contains a NUL character";
        if (code === 0xfeff) return "it contains U+FEFF (byte order mark)";
        if (code >= 0xd800 && code <= 0xdfff) return "it contains an unpaired UTF-16 surrogate, which is not UTF-8";
        if ((code >= 0xfdd0 && code <= 0xfdef) || (code & 0xfffe) === 0xfffe) {
            return `it contains the Unicode noncharacter U+${code.toString(16).toUpperCase()}`;
        }
    }
    return undefined;
}

/** `value` as a double-quoted systemd environment value. */
export function quoteValue(value: string): string {
    return `"${value.replace(/["\\`$]/g, (char) => `\\${char}`)}"`;
}

/** One variable of an environment file, with the configuration key that sets it, for errors. */
export interface EnvironmentEntry {
    readonly name: string;
    readonly value: string;
    /** The configuration key an administrator changes to change this value. */
    readonly configKey: string;
}

/**
 * The file's text: the comment lines, then one line per entry. Refuses a name systemd would ignore,
 * a value it cannot hold and a name given twice, naming the configuration key.
 */
export function renderEnvironmentFile(comment: readonly string[], entries: readonly EnvironmentEntry[]): string {
    const seen = new Map<string, string>();
    const lines = comment.map((line) => {
        // systemd 252 continues a comment that ends in a backslash onto the next line.
        if (/[\r\n]|\\$/.test(line)) throw new Error(`comment line would not stay one comment: ${JSON.stringify(line)}`);
        return `# ${line}`.trimEnd();
    });
    for (const entry of entries) {
        if (!isVariableName(entry.name)) {
            throw new ConfigError(entry.configKey, `${JSON.stringify(entry.name)} is not a variable name systemd accepts (letters, digits and _, not starting with a digit).`);
        }
        const earlier = seen.get(entry.name);
        if (earlier !== undefined) {
            throw new ConfigError(entry.configKey, `sets ${entry.name}, which ${earlier} already sets. Remove one of them.`);
        }
        const problem = unrepresentable(entry.value);
        if (problem !== undefined) {
            throw new ConfigError(entry.configKey, `the value of ${entry.name} cannot go into a systemd environment file: ${problem}.`);
        }
        seen.set(entry.name, entry.configKey);
        lines.push(`${entry.name}=${quoteValue(entry.value)}`);
    }
    return `${lines.join("\n")}\n`;
}
