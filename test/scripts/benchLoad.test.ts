// The load benchmark, run once end to end so that it keeps working: it asserts what the benchmark
// prints and that its figures agree with each other, never how fast anything was.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";

const root = join(__dirname, "..", "..");

function runBench(repetitions: string): Promise<{ status: number | null; output: string }> {
    return new Promise((resolve, reject) => {
        const args = ["--import", "tsx", join(root, "scripts", "bench-load.ts"), "--repetitions", repetitions, "--with-pulumi-default"];
        const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
        child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
        child.on("error", reject);
        child.on("close", (status) => resolve({ status, output }));
    });
}

function line(output: string, pattern: RegExp): RegExpMatchArray {
    const match = output.match(pattern);
    assert.ok(match, `no line matching ${pattern} in:\n${output}`);
    return match;
}

describe("npm run bench:load", () => {
    it("prints each load's median with its runs, and ratios that follow from the medians", { timeout: 300_000 }, async () => {
        const { status, output } = await runBench("1");
        assert.equal(status, 0, output);

        const machine = line(output, /^machine: (\d+) CPUs, (.+), ([\d.]+) GiB memory, node (v[\d.]+); load average ([\d.]+) before, ([\d.]+) after$/m);
        assert.ok(Number(machine[1]) >= 1 && Number(machine[3]) > 0, machine[0]);
        line(output, /^runner: @pulumi\/pulumi \d+\.\d+\.\d+ cmd\/run; Pulumi\.yaml runtime options: typescript=(true|false)/m);
        assert.match(line(output, /^sdks: (.+)$/m)[1], /@pulumi\/pulumi, @pulumi\/aws, @pulumi\/command, @pulumi\/random, @pulumi\/tls/);
        line(output, /^each figure: median wall time of 1 fresh node processes/m);

        const medians: Record<string, number> = {};
        for (const label of ["sdks", "runner alone", "runner floor", "program", "render", "pulumi default"]) {
            const match = line(output, new RegExp(`^${label}: +(\\d+) ms   runs ([\\d ]+) ms$`, "m"));
            const runs = match[2].split(" ").map(Number);
            assert.equal(runs.length, 1, match[0]);
            assert.ok(runs[0] > 0, match[0]);
            medians[label] = Number(match[1]);
            assert.ok(Math.abs(medians[label] - runs[0]) <= 1, `${label}: the median of one run is that run: ${match[0]}`);
        }
        for (const [label, target] of [["program", "1.5x"], ["runner alone", undefined], ["runner floor", undefined], ["render", "2x"], ["pulumi default", undefined]] as const) {
            const match = line(output, new RegExp(`^${label} / sdks: ([\\d.]+)x${target ? ` \\(target ${target.replace(".", "\\.")}\\)` : " \\("}`, "m"));
            const expected = medians[label] / medians.sdks;
            assert.ok(Math.abs(Number(match[1]) - expected) <= 0.006, `${match[0]} is not ${medians[label]} / ${medians.sdks}`);
        }
    });
});
