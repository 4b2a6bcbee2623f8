// Renders /etc/gitlab/gitlab.rb from data. Every value becomes a Ruby literal that cannot break out of
// its line or interpolate, and keys that the target version does not know are never written.
// Pure module: no cloud SDK, no Pulumi runtime.

import { keyExists, type Version } from "../versions/versions";

/** A value gitlab.rb can hold. */
export type RubyValue = string | number | boolean | null | readonly RubyValue[] | { readonly [key: string]: RubyValue };

/**
 * One gitlab.rb setting. `key` is written as Omnibus documents it: a top-level name
 * (`external_url`) or a block attribute (`mattermost['gitlab_id']`).
 */
export interface GitlabRbSetting {
    readonly key: string;
    readonly value: RubyValue;
}

/** A titled group of settings; the title becomes a comment. */
export interface GitlabRbSection {
    readonly title: string;
    /** Why the section is there, for the administrator reading the file on the host. */
    readonly note?: string;
    readonly settings: readonly GitlabRbSetting[];
}

/** Everything that goes into one host's gitlab.rb. */
export interface GitlabRbDocument {
    /** Names the stack and host, so a reader on the host knows where the file comes from. */
    readonly origin: string;
    /** The installed version, which decides which keys exist. */
    readonly version: Version;
    readonly sections: readonly GitlabRbSection[];
}

const KEY_FORM = /^([a-z][a-z0-9_]*)(?:\['([a-z][a-z0-9_]*)'\])?$/;

/**
 * A Ruby string literal that evaluates to exactly `text`. Double-quoted with every character that
 * is not printable ASCII escaped, so the file is pure ASCII, one setting per line, and `#{}` is inert.
 */
export function rubyString(text: string): string {
    let out = '"';
    for (const char of text) {
        const code = char.codePointAt(0) as number;
        if (char === "\\" || char === '"' || char === "#") {
            out += `\\${char}`;
        } else if (code >= 0x20 && code < 0x7f) {
            out += char;
        } else if (char === "\n") {
            out += "\\n";
        } else if (char === "\t") {
            out += "\\t";
        } else if (code >= 0xd800 && code <= 0xdfff) {
            throw new Error("gitlab.rb strings must be valid Unicode; found a lone surrogate");
        } else {
            out += `\\u{${code.toString(16)}}`;
        }
    }
    return `${out}"`;
}

/** A Ruby literal for any RubyValue. Hash keys are strings, as Omnibus's own examples write them. */
export function rubyLiteral(value: RubyValue): string {
    if (value === null) {
        return "nil";
    }
    if (typeof value === "string") {
        return rubyString(value);
    }
    if (typeof value === "boolean") {
        return value ? "true" : "false";
    }
    if (typeof value === "number") {
        if (!Number.isSafeInteger(value)) {
            throw new Error(`gitlab.rb values are whole numbers; got ${value}`);
        }
        return String(value);
    }
    if (Array.isArray(value)) {
        return `[${value.map(rubyLiteral).join(", ")}]`;
    }
    const entries = Object.entries(value as { readonly [key: string]: RubyValue });
    if (entries.length === 0) {
        return "{}";
    }
    return `{ ${entries.map(([k, v]) => `${rubyString(k)} => ${rubyLiteral(v)}`).join(", ")} }`;
}

function renderSetting({ key, value }: GitlabRbSetting): string {
    const match = KEY_FORM.exec(key);
    if (!match) {
        throw new Error(`not a gitlab.rb key: ${key}`);
    }
    const [, name, attribute] = match;
    if (attribute !== undefined) {
        return `${name}['${attribute}'] = ${rubyLiteral(value)}`;
    }
    // Ruby reads `name { ... }` as a call with a block, which would drop the setting: a hash
    // argument needs parentheses. Every other literal keeps Omnibus's documented `name value` form.
    const literal = rubyLiteral(value);
    return literal.startsWith("{") ? `${name}(${literal})` : `${name} ${literal}`;
}

function comment(text: string): string {
    return text
        .split("\n")
        .map((line) => `# ${line}`.trimEnd())
        .join("\n");
}

/** The whole file. Deterministic: the same document always gives the same bytes. */
export function renderGitlabRb(doc: GitlabRbDocument): string {
    const blocks = [
        comment(
            `Managed by gitlab-mattermost (${doc.origin}).\n` +
                "Edits made here are replaced on the next `pulumi up`; change the stack configuration instead.\n" +
                "The copy this file replaced is kept as gitlab.rb.previous.",
        ),
    ];
    for (const section of doc.sections) {
        const lines = section.settings.filter((s) => keyExists(s.key, doc.version)).map(renderSetting);
        if (lines.length === 0) {
            continue;
        }
        const heading = comment(section.note ? `${section.title}: ${section.note}` : section.title);
        blocks.push(`${heading}\n${lines.join("\n")}`);
    }
    return `${blocks.join("\n\n")}\n`;
}
