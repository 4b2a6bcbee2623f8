// Runs a host/standalone script in a sandbox as its own process group, so a test can end it the way
// a lost SSH connection or a cancelled deployment would: a signal to the whole group, while one of
// the stand-ins it called is still working.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { HOST_SCRIPT_DIR } from "../../../components/omnibus/hostScripts";
import type { RunResult, Sandbox } from "../../support/standIns";

export interface RunningScript {
    readonly done: Promise<RunResult>;
    /** Sends `signal` to the script and everything it started. */
    signal(signal: NodeJS.Signals): void;
}

export function startScript(sandbox: Sandbox, script: string, args: readonly string[], options: { input?: string; env?: Record<string, string> } = {}): RunningScript {
    const child = spawn("bash", [join(HOST_SCRIPT_DIR, "standalone", script), ...args], {
        env: sandbox.env(options.env),
        cwd: sandbox.root,
        detached: true,
        stdio: ["pipe", "pipe", "pipe"],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
    const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 60_000);
    const done = new Promise<RunResult>((resolve, reject) => {
        child.on("error", reject);
        child.on("close", (status, signal) => {
            clearTimeout(timer);
            resolve({ status, signal, stdout: Buffer.concat(stdout).toString("utf8"), stderr: Buffer.concat(stderr).toString("utf8") });
        });
    });
    return { done, signal: (signal) => process.kill(-child.pid!, signal) };
}

/** Runs a script to its end. */
export function runStandaloneScript(sandbox: Sandbox, script: string, args: readonly string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
    return startScript(sandbox, script, args, options).done;
}

/** Waits until `file` exists (a stand-in writes it when it starts working). */
export async function waitForFile(file: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!existsSync(file)) {
        if (Date.now() > deadline) throw new Error(`${file} did not appear`);
        await delay(20);
    }
}
