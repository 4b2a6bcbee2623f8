// Runs rendered gitlab.rb text through a real Ruby interpreter, using omnibus_dsl.rb as a stand-in
// for Omnibus's strict settings DSL. Needs `ruby` on PATH.

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The DSL evaluator, next to this file. */
export const OMNIBUS_DSL = join(__dirname, "omnibus_dsl.rb");

/** What Ruby printed and how it exited. */
export interface RubyRun {
    readonly status: number;
    readonly stdout: string;
    readonly stderr: string;
}

/** Writes `text` to a temporary file and runs `ruby <args> <file> <extra>`; never throws on a non-zero exit. */
function runRubyOnFile(text: string, args: (file: string) => readonly string[]): RubyRun {
    const dir = mkdtempSync(join(tmpdir(), "gitlab-rb-"));
    try {
        const file = join(dir, "gitlab.rb");
        writeFileSync(file, text, "utf8");
        try {
            const stdout = execFileSync("ruby", args(file), {
                encoding: "utf8",
                stdio: ["ignore", "pipe", "pipe"],
                maxBuffer: 64 * 1024 * 1024,
            });
            return { status: 0, stdout, stderr: "" };
        } catch (error) {
            const failed = error as { status?: number | null; stdout?: string; stderr?: string; message: string };
            if (typeof failed.status !== "number") {
                throw new Error(`could not run ruby: ${failed.message}`);
            }
            return { status: failed.status, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
        }
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

/** Evaluates gitlab.rb text as Omnibus `version` would read it; returns what it set. Throws with Ruby's stderr on failure. */
export function evaluateGitlabRb(text: string, version: string): Record<string, unknown> {
    const run = runRubyOnFile(text, (file) => [OMNIBUS_DSL, file, version]);
    if (run.status !== 0) {
        throw new Error(`omnibus_dsl.rb rejected the file for ${version}: ${run.stderr.trim()}`);
    }
    return JSON.parse(run.stdout) as Record<string, unknown>;
}

/**
 * The error Ruby reports for gitlab.rb text under `version`, or undefined if the file is accepted.
 * For negative tests.
 */
export function evaluateGitlabRbError(text: string, version: string): string | undefined {
    const run = runRubyOnFile(text, (file) => [OMNIBUS_DSL, file, version]);
    return run.status === 0 ? undefined : run.stderr.trim();
}

/** Evaluates a Ruby expression with plain Ruby and returns what `print` wrote, decoded as UTF-8. Throws on a Ruby error. */
export function rubyPrint(expression: string): string {
    const run = runRubyOnFile(`print(${expression})\n`, (file) => ["--disable-gems", "-E", "UTF-8:UTF-8", file]);
    if (run.status !== 0) {
        throw new Error(`ruby could not evaluate ${expression}: ${run.stderr.trim()}`);
    }
    return run.stdout;
}
