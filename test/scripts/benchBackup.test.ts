// The backup benchmark, run end to end on a small database so that it keeps working: it asserts what
// the benchmark prints and that its figures agree with each other, never how fast anything was.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";

const root = join(__dirname, "..", "..");

function runBench(minGiB: string): Promise<{ status: number | null; output: string }> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ["--import", "tsx", join(root, "scripts", "bench-backup.ts"), "--min-gib", minGiB], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
        child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
        child.on("error", reject);
        child.on("close", (status) => resolve({ status, output }));
    });
}

/** The first match of `pattern` in `text`, its groups as numbers. */
function figures(text: string, pattern: RegExp): number[] {
    const match = text.match(pattern);
    assert.ok(match, `no line matching ${pattern} in:\n${text}`);
    return match.slice(1).map(Number);
}

/** `ratio` as printed (2 decimals) against `numerator / denominator` as printed (0.1 s each). */
function assertRatio(ratio: number, numerator: number, denominator: number): void {
    const low = (numerator - 0.05) / (denominator + 0.05);
    const high = (numerator + 0.05) / Math.max(denominator - 0.05, 0.001);
    assert.ok(ratio >= low - 0.005 && ratio <= high + 0.005, `${ratio} is not ${numerator} / ${denominator}`);
}

describe("npm run bench:backup", () => {
    it("times both procedures on the same data, checks both restores, and prints consistent figures", { timeout: 300_000 }, async () => {
        const { status, output } = await runBench("0.1");
        assert.equal(status, 0, output);

        const [posts] = figures(output, /^database: (\d+) posts, /m);
        assert.ok(posts! > 0, "the database was grown with posts");
        assert.match(output, /^integrity\s+row counts, checksums, schema identical\s+row counts, checksums, schema identical$/m);

        const [guideRestore, ourRestore] = figures(output, /^restore time\s+([\d.]+) s\s+([\d.]+) s$/m);
        const [ratio, printedGuide, printedOurs] = figures(output, /^restore: ours is ([\d.]+)x as fast as the guide's \(guide ([\d.]+) s \/ ours ([\d.]+) s\)$/m);
        assert.deepEqual([printedGuide, printedOurs], [guideRestore, ourRestore]);
        assertRatio(ratio!, guideRestore!, ourRestore!);

        // The restore ran end to end: verified, swapped, and Mattermost answered.
        for (const phase of ["backup verified:", "database swapped in:", "complete; Mattermost answers at"]) {
            assert.ok(output.includes(phase), `the restore's phases include "${phase}"`);
        }

        const slowest = output.match(/^slowest index builds, each alone on the restored database:\n((?: +[\d.]+ s {2}\S+\n){3})/m);
        assert.ok(slowest, output);
        const builds = slowest[1]!.trim().split("\n").map((line) => Number(line.trim().split(" ")[0]));
        assert.deepEqual(builds, [...builds].sort((a, b) => b - a), "slowest first");
        const [floorSeconds, floorRatio, floorGuide, floorDenominator] = figures(output, /^floor: no restore that rebuilds \S+ takes less than ([\d.]+) s, so none is more than ([\d.]+)x as fast as the guide's here \(guide ([\d.]+) s \/ ([\d.]+) s\)$/m);
        assert.deepEqual([floorSeconds, floorGuide, floorDenominator], [builds[0], guideRestore, builds[0]]);
        assertRatio(floorRatio!, guideRestore!, floorSeconds!);

        const [cpus] = figures(output, /^machine: (\d+) CPUs /m);
        const [indexCount, allBuilds, spread, spreadCpus] = figures(output, /^all (\d+) index builds: ([\d.]+) s, or ([\d.]+) s spread perfectly over (\d+) CPUs$/m);
        assert.ok(indexCount! > builds.length, "more indexes were rebuilt than the three slowest");
        assert.equal(spreadCpus, cpus);
        assert.ok(allBuilds! >= builds.reduce((sum, build) => sum + build, 0) - 0.15, "all builds include the three slowest");
        assert.ok(Math.abs(spread! - allBuilds! / cpus!) <= 0.1, `${spread} is ${allBuilds} / ${cpus}`);
        const [spreadFloor, spreadRatio, spreadGuide, spreadDenominator] = figures(output, /^floor: no restore that rebuilds every index takes less than ([\d.]+) s on (?:\d+) CPUs, so none is more than ([\d.]+)x as fast as the guide's here \(guide ([\d.]+) s \/ ([\d.]+) s\)$/m);
        assert.deepEqual([spreadFloor, spreadGuide, spreadDenominator], [spread, guideRestore, spread]);
        assertRatio(spreadRatio!, guideRestore!, spread!);
    });
});
