// Test support for the scripts in host/: a throw-away sandbox per test, RECORDING STAND-INS for the
// tools that only exist on a real GitLab host (gitlab-ctl, Omnibus's embedded ruby, apt-get,
// cloud-init, gitlab-rails, getent answers, ...), and a runner for `bash host/<script>`.
//
// A stand-in is a small bash executable. Before it answers, it records its call in
// <sandbox>/calls/<name>/<NNNN>/: `argv` (NUL-separated arguments), and, when its body asks for them,
// `stdin` (record_stdin) and `env` (record_env, NUL-separated `KEY=VALUE`). Every call is also
// appended to <sandbox>/calls/sequence, so tests can check the order of calls across stand-ins.
// The body can use $CALL_DIR (this call's record directory) and $CALL_NUMBER (1 for the first call).

import { spawn } from "node:child_process";
import { setTimeout as delay } from "node:timers/promises";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { HOST_SCRIPT_DIR } from "../../components/omnibus/hostScripts";

/** One recorded call of a stand-in. */
export interface StandInCall {
    readonly argv: string[];
    /** What the stand-in read on stdin, if its body called record_stdin. */
    readonly stdin?: string;
    /** The environment it saw, if its body called record_env. */
    readonly env?: Record<string, string>;
    /** This call's record directory, for anything else the body saved there. */
    readonly dir: string;
}

export interface RunResult {
    /** Exit status; null when the process was killed by a signal. */
    readonly status: number | null;
    readonly signal: NodeJS.Signals | null;
    readonly stdout: string;
    readonly stderr: string;
}

/** A script started by Sandbox.start. */
export interface RunningScript {
    readonly done: Promise<RunResult>;
    /** The script's pid, which is also the id of its process group. */
    readonly group: number;
    /**
     * Sends `signal` to the script and everything it started, as a lost SSH connection hangs up the
     * whole session; with `to` "script", to the script alone, as `kill <pid>` or systemd would.
     */
    signal(signal: NodeJS.Signals, to?: SignalTarget): void;
}

export type SignalTarget = "group" | "script";

export interface RunOptions {
    /** Added to the sandbox environment (PATH with the stand-ins first, TMPDIR inside the sandbox). */
    readonly env?: Record<string, string>;
    /** Written to stdin, which is then closed. */
    readonly input?: string;
    /** Milliseconds before the process is killed; the default is generous for a slow CI machine. */
    readonly timeoutMs?: number;
}

export interface StartOptions extends RunOptions {
    /** Settles `done` once the script exits rather than once its output closes, which what it leaves running keeps open. */
    readonly untilExit?: boolean;
}

/** Shell-quotes a word for the stand-in bodies this module writes. */
export function sh(word: string): string {
    return `'${word.replace(/'/g, `'\\''`)}'`;
}

const PRELUDE = (name: string, callsDir: string) => `#!/usr/bin/env bash
# RECORDING STAND-IN for \`${name}\`, written by test/support/standIns.ts for one test. It is not the
# real tool: it records how it was called and answers as the test scenario says.
set -euo pipefail
_calls=${sh(callsDir)}
mkdir -p "$_calls/${name}"
CALL_NUMBER=$(( $(find "$_calls/${name}" -mindepth 1 -maxdepth 1 -type d | wc -l) + 1 ))
# Calls made at the same moment (a tool's parallel streams) take the next free number.
until CALL_DIR=$(printf '%s/${name}/%04d' "$_calls" "$CALL_NUMBER") && mkdir "$CALL_DIR" 2>/dev/null; do
    CALL_NUMBER=$((CALL_NUMBER + 1))
done
printf '%s\\0' "$@" >"$CALL_DIR/argv"
printf '%s' "$#" >"$CALL_DIR/argc"
printf '%s\\n' ${sh(name)} >>"$_calls/sequence"
record_stdin() { cat >"$CALL_DIR/stdin"; }
record_env() { env -0 >"$CALL_DIR/env"; }
# --- scenario ---
`;

export class Sandbox {
    /** Root of the sandbox, a fresh directory under os.tmpdir(). */
    readonly root: string;
    /** Directory put first on PATH; stand-ins go here unless written to an explicit path. */
    readonly bin: string;
    /** TMPDIR for the scripts, so tests can check that no temporary file is left behind. */
    readonly tmp: string;
    private readonly callsDir: string;

    constructor() {
        this.root = mkdtempSync(join(tmpdir(), "host-scripts-"));
        this.bin = this.path("bin");
        this.tmp = this.path("tmp");
        this.callsDir = this.path("calls");
        for (const dir of [this.bin, this.tmp, this.callsDir]) {
            mkdirSync(dir, { recursive: true });
        }
    }

    /** A path inside the sandbox. */
    path(...parts: string[]): string {
        return join(this.root, ...parts);
    }

    /** Writes a file inside the sandbox (creating its directories) and returns its path. */
    write(relative: string, content: string, mode = 0o644): string {
        const file = this.path(relative);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, content, { mode });
        chmodSync(file, mode);
        return file;
    }

    /**
     * Writes a recording stand-in called `name`. `body` is bash that runs after the call has been
     * recorded, with "$@" untouched; it decides the answer. `at` is where to put it (default
     * bin/<name>, which is first on PATH), e.g. an OMNIBUS_DIR path. Returns its path.
     */
    standIn(name: string, body: string, at?: string): string {
        const file = at ?? join(this.bin, name);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, PRELUDE(name, this.callsDir) + body + "\n");
        chmodSync(file, 0o755);
        return file;
    }

    /** The recorded calls of stand-in `name`, oldest first. */
    calls(name: string): StandInCall[] {
        const dir = join(this.callsDir, name);
        if (!existsSync(dir)) {
            return [];
        }
        return readdirSync(dir)
            .sort()
            .map((entry) => {
                const callDir = join(dir, entry);
                // printf '%s\0' prints one empty word when there are no arguments, hence argc.
                const argc = Number(readFileSync(join(callDir, "argc"), "utf8"));
                const argv = argc === 0 ? [] : readFileSync(join(callDir, "argv"), "utf8").slice(0, -1).split("\0");
                const stdinFile = join(callDir, "stdin");
                const envFile = join(callDir, "env");
                return {
                    argv,
                    dir: callDir,
                    ...(existsSync(stdinFile) ? { stdin: readFileSync(stdinFile, "utf8") } : {}),
                    ...(existsSync(envFile) ? { env: parseEnv(readFileSync(envFile, "utf8")) } : {}),
                };
            });
    }

    /** Names of the stand-ins in the order they were called. */
    sequence(): string[] {
        const file = join(this.callsDir, "sequence");
        return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter((line) => line !== "") : [];
    }

    /** The environment the scripts run with: PATH with the stand-ins first, TMPDIR in the sandbox. */
    env(extra: Record<string, string> = {}): Record<string, string> {
        const base: Record<string, string> = {};
        for (const [key, value] of Object.entries(process.env)) {
            if (value !== undefined) {
                base[key] = value;
            }
        }
        return { ...base, PATH: `${this.bin}:${process.env.PATH ?? "/usr/bin:/bin"}`, TMPDIR: this.tmp, ...extra };
    }

    /** Runs `bash host/<script> args...` in the sandbox environment. */
    runScript(script: string, args: readonly string[] = [], options: RunOptions = {}): Promise<RunResult> {
        return this.run("bash", [join(HOST_SCRIPT_DIR, script), ...args], options);
    }

    /**
     * Starts `bash host/<script> args...` in the sandbox environment as its own process group, so a
     * test can end it the way a lost SSH connection or a cancelled deployment would: a signal to the
     * whole group, while a stand-in it called is still working. Killed after `timeoutMs` (60 s).
     */
    start(script: string, args: readonly string[] = [], options: StartOptions = {}): RunningScript {
        return this.startCommand("bash", [join(HOST_SCRIPT_DIR, script), ...args], options);
    }

    /** Starts any command as Sandbox.start starts a host script. */
    startCommand(command: string, args: readonly string[], options: StartOptions = {}): RunningScript {
        const child = spawn(command, args, {
            env: this.env(options.env),
            cwd: this.root,
            detached: true,
            stdio: ["pipe", "pipe", "pipe"],
        });
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
        child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
        child.stdin.on("error", () => undefined);
        child.stdin.end(options.input ?? "");
        const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), options.timeoutMs ?? 60_000);
        const done = new Promise<RunResult>((resolve, reject) => {
            child.on("error", reject);
            child.on(options.untilExit ? "exit" : "close", (status: number | null, signal: NodeJS.Signals | null) => {
                clearTimeout(timer);
                resolve({ status, signal, stdout: Buffer.concat(stdout).toString("utf8"), stderr: Buffer.concat(stderr).toString("utf8") });
            });
        });
        return {
            done,
            group: child.pid!,
            signal: (signal, to = "group") => process.kill(to === "group" ? -child.pid! : child.pid!, signal),
        };
    }

    /** Runs any command in the sandbox environment, with the sandbox as working directory. */
    run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
        return runProcess(command, args, { ...options, env: this.env(options.env), cwd: this.root });
    }

    /** Removes the sandbox. */
    cleanup(): void {
        rmSync(this.root, { recursive: true, force: true });
    }
}

function parseEnv(text: string): Record<string, string> {
    const env: Record<string, string> = {};
    for (const entry of text.split("\0")) {
        const eq = entry.indexOf("=");
        if (eq > 0) {
            env[entry.slice(0, eq)] = entry.slice(eq + 1);
        }
    }
    return env;
}

/** Runs a process to completion, feeding `input` on stdin, and collects its output. */
export function runProcess(
    command: string,
    args: readonly string[],
    options: { env?: Record<string, string>; input?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<RunResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, {
            env: options.env ?? (process.env as Record<string, string>),
            cwd: options.cwd,
            stdio: ["pipe", "pipe", "pipe"],
            timeout: options.timeoutMs ?? 30_000,
        });
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
        child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
        child.on("error", reject);
        // A script that exits without reading stdin closes the pipe; that is not the test's failure.
        child.stdin.on("error", () => undefined);
        child.on("close", (status, signal) =>
            resolve({
                status,
                signal,
                stdout: Buffer.concat(stdout).toString("utf8"),
                stderr: Buffer.concat(stderr).toString("utf8"),
            }),
        );
        child.stdin.end(options.input ?? "");
    });
}

/** Files left in a directory (names only, sorted); an absent directory has none. */
export function filesIn(dir: string): string[] {
    return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/**
 * Runs `body` with a fresh sandbox and removes it afterwards, whatever happens.
 */
export async function withSandbox<T>(body: (sandbox: Sandbox) => Promise<T>): Promise<T> {
    const sandbox = new Sandbox();
    try {
        return await body(sandbox);
    } finally {
        sandbox.cleanup();
    }
}

/**
 * Sends `signal` to a started script once `ready()` holds (checked every 25 ms), then runs
 * `afterSending`; gives its result and whether the signal was sent.
 */
export async function signalWhenReady(
    running: RunningScript,
    options: { ready: () => boolean; signal: NodeJS.Signals; to: SignalTarget; afterSending?: () => void },
): Promise<RunResult & { sent: boolean }> {
    let sent = false;
    const poll = setInterval(() => {
        if (!sent && options.ready()) {
            sent = true;
            running.signal(options.signal, options.to);
            options.afterSending?.();
        }
    }, 25);
    try {
        const result = await running.done;
        return { ...result, sent };
    } finally {
        clearInterval(poll);
    }
}

/** Waits until `file` exists (a stand-in writes it when it starts working). */
export async function waitForFile(file: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(file)) {
        if (Date.now() > deadline) throw new Error(`${file} did not appear`);
        await delay(20);
    }
}
