// Turns the scripts in host/ into remote command strings. The script travels inside the command,
// its arguments are shell-quoted, and anything secret travels separately, on stdin.
// Pure module apart from reading the script files that ship with the program.

import { readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** The scripts remote steps run, by file name in host/. Tools installed on the hosts live in host/tools/. */
export const HOST_SCRIPTS = [
    "mount-data-volume.sh",
    "move-to-data-volume.sh",
    "install-omnibus.sh",
    "wait-for-dns.sh",
    "apply-gitlab-rb.sh",
    "ensure-oauth-application.sh",
    "health-gate.sh",
    "install-file.sh",
    "reload-nginx.sh",
    "configure-gitlab-plugin.sh",
    "ensure-mattermost-admin.sh",
    "upgrade-gitlab.sh",
    "enable-backups.sh",
    "enable-pitr.sh",
] as const;

export type HostScript = (typeof HOST_SCRIPTS)[number];

/** Directory of the host scripts and their helper programs. */
export const HOST_SCRIPT_DIR = join(__dirname, "..", "..", "host");

/** The text of a file in host/. */
export function hostFile(name: string): string {
    return readFileSync(join(HOST_SCRIPT_DIR, name), "utf8");
}

/** Quotes one word for a POSIX shell. */
export function shellQuote(word: string): string {
    return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The line by which a host script sources a shared file (relative to its own directory) when it runs from its file. */
const SOURCE_LINE = /^\. "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/((?:\.\.\/)?(?:[a-z-]+\/)?[a-z-]+\.sh)"$/gm;

/** A host script (a path below host/) as it travels: each file it sources is put in place of that line. */
export function hostScriptText(path: string): string {
    return hostFile(path).replace(SOURCE_LINE, (_line, shared: string) => hostFile(join(dirname(path), shared)).trimEnd());
}

/**
 * `sudo bash -c '<script>' <script name> <args...>`: runs a host script as root with its name as $0,
 * so error messages and the offline render can tell which script a command runs.
 */
export function hostCommand(script: HostScript, args: readonly string[] = []): string {
    return hostScriptCommand(script, args);
}

/** Like hostCommand, for a script at `path` below host/ (e.g. `standalone/x.sh`), named by its file name. */
export function hostScriptCommand(path: string, args: readonly string[] = []): string {
    return ["sudo", "bash", "-c", shellQuote(hostScriptText(path)), basename(path), ...args.map(shellQuote)].join(" ");
}

/** The script a command string built by hostCommand runs, or undefined for any other command. */
export function scriptOfCommand(command: string): HostScript | undefined {
    const match = /^sudo bash -c '(?:[^']|'\\'')*' ([a-z-]+\.sh)(?: |$)/.exec(command);
    return match ? (match[1] as HostScript) : undefined;
}
