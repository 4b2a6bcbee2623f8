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
    it("times both procedures on the same data, checks both restores, and prints consistent figures", { timeout: 600_000 }, async () => {
        const { status, output } = await runBench("0.1");
        assert.equal(status, 0, output);

        const [posts] = figures(output, /^database: (\d+) posts, /m);
        assert.ok(posts! > 0, "the database was grown with posts");
        assert.match(output, /^integrity\s+row counts, checksums, schema identical\s+row counts, checksums, schema identical$/m);

        const [guideRestore, ourRestore] = figures(output, /^restore time\s+([\d.]+) s\s+([\d.]+) s$/m);
        const [ratio, printedGuide, printedOurs] = figures(output, /^restore: ours is ([\d.]+)x as fast as the guide's \(guide ([\d.]+) s \/ ours ([\d.]+) s\)$/m);
        assert.deepEqual([printedGuide, printedOurs], [guideRestore, ourRestore]);
        assertRatio(ratio!, guideRestore!, ourRestore!);

        // The point-in-time restore beside it, in the same run, on the same data.
        const [pitrRestore] = figures(output, /^point-in-time restore \(pgBackRest, physical, to a moment\): ([\d.]+) s, Mattermost down \d+ ms; its first full backup \(enable-pitr\.sh, archiving on\) [\d.]+ s$/m);
        const [pitrGuideRatio, guideAgain, pitrAgain, pitrOursRatio, oursAgain, pitrOnceMore] = figures(
            output,
            /^restore: point-in-time is ([\d.]+)x as fast as the guide's \(guide ([\d.]+) s \/ point-in-time ([\d.]+) s\), ([\d.]+)x as fast as our dump restore \(ours ([\d.]+) s \/ point-in-time ([\d.]+) s\)$/m,
        );
        assert.deepEqual([guideAgain, oursAgain, pitrAgain, pitrOnceMore], [guideRestore, ourRestore, pitrRestore, pitrRestore]);
        assertRatio(pitrGuideRatio!, guideRestore!, pitrRestore!);
        assertRatio(pitrOursRatio!, ourRestore!, pitrRestore!);
        for (const phase of [/restoring to \S+ into \S+ while Mattermost keeps serving/, /paused there, and answers/, /is the restored cluster; the previous one is/, /promoting the restored cluster/, /restore to \S+ complete; Mattermost answers at/]) {
            assert.match(output, phase, "a phase of the point-in-time restore");
        }

        // The restore ran end to end: verified, swapped, and Mattermost answered.
        for (const phase of ["dump verified:", "backup verified:", "restoring into the new database", "posts loaded;", "restored database checked: all", "database swapped in:", "complete; Mattermost answers at"]) {
            assert.ok(output.includes(phase), `the restore's phases include "${phase}"`);
        }

        // The floor is measured with the session settings the restore built with, as it printed them.
        const settings = output.match(/^our restore's build settings, as it printed them: --jobs=(\d+) \(RESTORE_JOBS default: nproc\), maintenance_work_mem=(\d+MB) per session /m);
        assert.ok(settings, output);
        assert.match(output, new RegExp(`restoring into the new database \\S+ with ${settings[1]} parallel jobs, maintenance_work_mem=${settings[2]},`));
        const slowest = output.match(/^slowest index builds, each alone on the restored database \(maintenance_work_mem=(\d+MB), max_parallel_maintenance_workers as the server's\):\n((?: +[\d.]+ s {2}\S+\n){3})/m);
        assert.ok(slowest, output);
        assert.equal(slowest[1], settings[2]);
        const builds = slowest[2]!.trim().split("\n").map((line) => Number(line.trim().split(" ")[0]));
        assert.deepEqual(builds, [...builds].sort((a, b) => b - a), "slowest first");
        const [floorSeconds, floorRatio, floorGuide, floorDenominator] = figures(output, /^floor: no restore that rebuilds \S+ takes less than ([\d.]+) s, so none is more than ([\d.]+)x as fast as the guide's here \(guide ([\d.]+) s \/ ([\d.]+) s\)$/m);
        assert.deepEqual([floorSeconds, floorGuide, floorDenominator], [builds[0], guideRestore, builds[0]]);
        assertRatio(floorRatio!, guideRestore!, floorSeconds!);

        // The targets: each figure is the one printed above, each ratio its quotient, each verdict its comparison.
        const verdict = (text: string, met: boolean) => assert.equal(text, met ? "met" : "NOT met");
        const [guideBackup, ourBackup] = figures(output, /^backup time\s+([\d.]+) s\s+([\d.]+) s$/m);
        const [guideDumpMiB, ourDumpMiB] = figures(output, /^database dump size\s+([\d.]+) MiB\s+([\d.]+) MiB$/m);

        const downtime = output.match(/^downtime: (\d+) ms with the database unavailable to Mattermost \(its stop returned to its start called\), ([\d.]+)x the guide's whole restore \(([\d.]+) s\); target <= 1000 ms: (met|NOT met)$/m);
        assert.ok(downtime, output);
        const [downtimeMs, downtimeRatio, downtimeGuide] = downtime.slice(1, 4).map(Number);
        assert.equal(downtimeGuide, guideRestore);
        assert.ok(downtimeMs! > 0, "the swap takes some time");
        assert.ok(downtimeMs! / 1000 < ourRestore!, "Mattermost was down for part of our restore only");
        // Printed to 4 decimals, against the ms (to 1) and the guide's seconds (to 0.1) as printed.
        const [low, high] = [(downtimeMs! - 0.5) / 1000 / (guideRestore! + 0.05), (downtimeMs! + 0.5) / 1000 / (guideRestore! - 0.05)];
        assert.ok(downtimeRatio! >= low - 0.00005 && downtimeRatio! <= high + 0.00005, `${downtimeRatio} is ${downtimeMs} ms / ${guideRestore} s`);
        verdict(downtime[4]!, downtimeMs! <= 1000);

        const wall = output.match(/^wall time: our whole restore ([\d.]+) s, ([\d.]+)x the slowest index build \((\S+) ([\d.]+) s\); target <= 1\.30x: (met|NOT met)$/m);
        assert.ok(wall, output);
        const [wallSeconds, wallRatio] = [Number(wall[1]), Number(wall[2])];
        assert.equal(wallSeconds, ourRestore);
        assert.equal(Number(wall[4]), builds[0]);
        assert.ok(slowest[2]!.includes(wall[3]!), "the slowest index named is the first of the slowest builds");
        assertRatio(wallRatio, wallSeconds, builds[0]!);
        verdict(wall[5]!, wallRatio <= 1.3);
        const [postsLoaded, , floorSum, floorWallRatio] = figures(output, /^wall-time floor: the full-text index can start only once posts is loaded, ([\d.]+) s into our restore \(the manifest and the dump downloaded and checked by ([\d.]+) s; the other files are checked and staged beside the build\), so ours takes at least [\d.]+ s \+ [\d.]+ s = ([\d.]+) s, ([\d.]+)x the slowest index build$/m);
        assert.ok(postsLoaded! < wallSeconds, "posts was loaded before the restore ended");
        assert.ok(Math.abs(floorSum! - (postsLoaded! + builds[0]!)) <= 0.15);
        assertRatio(floorWallRatio!, floorSum!, builds[0]!);

        const size = output.match(/^backup size: our dump ([\d.]+) MiB, ([\d.]+)x the guide's gzip dump \(([\d.]+) MiB\); target <= 0\.65x: (met|NOT met)$/m);
        assert.ok(size, output);
        assert.deepEqual([Number(size[1]), Number(size[3])], [ourDumpMiB, guideDumpMiB]);
        // MiB printed to 0.1, like the seconds assertRatio takes.
        assertRatio(Number(size[2]), ourDumpMiB!, guideDumpMiB!);
        verdict(size[4]!, Number(size[2]) <= 0.65);

        // The compressors alone: what each backup compresses, as its backup compressed it.
        const compressor = (label: string) => {
            const line = new RegExp(`^ {4}${label} +([\\d.]+) s wall, +([\\d.]+) s CPU \\(([\\d.]+)x gzip's\\), +([\\d.]+) MiB \\(([\\d.]+)x gzip's\\)$`, "m").exec(output);
            assert.ok(line, `no line for ${label} in:\n${output}`);
            return line.slice(1).map(Number);
        };
        const zstdArgs = output.match(/^ +[\d.]+ s {2}dumping database \S+: pg_dump --format=custom --compress=0 \| zstd (.+)$/m);
        assert.ok(zstdArgs, "the backup's phases say how it compresses the dump");
        const [, gzipCpu, gzipCpuRatio, gzipMiB, gzipSizeRatio] = compressor("gzip \\(the guide's\\)");
        assert.deepEqual([gzipCpuRatio, gzipMiB, gzipSizeRatio], [1, guideDumpMiB, 1]);
        const [, zstdCpu, zstdCpuRatio, zstdMiB, zstdSizeRatio] = compressor(`zstd ${zstdArgs[1]!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(ours\\)`);
        assert.equal(zstdMiB, ourDumpMiB, "the same compression as our backup's");
        assertRatio(zstdCpuRatio!, zstdCpu!, gzipCpu!);
        assertRatio(zstdSizeRatio!, zstdMiB!, gzipMiB!);
        compressor("zstd -T0 -9");

        const backupTime = output.match(/^backup time: ours ([\d.]+) s, ([\d.]+)x the guide's \(([\d.]+) s\); target <= 1\.00x: (met|NOT met)$/m);
        assert.ok(backupTime, output);
        assert.deepEqual([Number(backupTime[1]), Number(backupTime[3])], [ourBackup, guideBackup]);
        assertRatio(Number(backupTime[2]), ourBackup!, guideBackup!);
        verdict(backupTime[4]!, Number(backupTime[2]) <= 1);

        const [build, defaultSchedule, jobs, scheduleRatio] = figures(output, /^schedule: our database build ([\d.]+) s \(from "restoring into" to "database restored"\), pg_restore's own schedule ([\d.]+) s on the same dump with --jobs=(\d+): ([\d.]+)x$/m);
        assert.ok(build! > 0 && build! < ourRestore!, "the build is part of our restore");
        assertRatio(scheduleRatio!, build!, defaultSchedule!);

        const [cpus] = figures(output, /^machine: (\d+) CPUs /m);
        assert.equal(jobs, cpus);
        assert.equal(jobs, Number(settings[1]));
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
