// npm run bench:load [-- --repetitions N] [--with-pulumi-default]
//
// What `pulumi preview` pays before the program's first resource, measured side by side in one run.
// Every figure is the wall time of a fresh node process, started and waited for by this script, with a
// new empty TMPDIR (where ts-node and tsx keep their caches; esbuild-register keeps none), so every load
// is cold, as on a new CI runner. Runs are interleaved and each figure is the median of N.
//
// - sdks: plain node requiring the five SDKs the program uses (scripts/bench-load-sdks.ts lists them).
// - runner alone: Pulumi's runner with no TypeScript loader (typescript off, no nodeargs) loading a
//   plain JavaScript file that requires the same SDKs: what any entry point costs, compiled JavaScript
//   included, before a loader or the program adds anything.
// - runner floor: Pulumi's runner (node_modules/@pulumi/pulumi/cmd/run), started as the CLI's language
//   host starts it with this project's Pulumi.yaml runtime options (scripts/pulumiRunner.ts), loading
//   scripts/bench-load-sdks.ts: the runner, the configured TypeScript loader and the SDKs, no program.
//   No program loaded through the runner can be faster.
// - program: the same runner loading Pulumi.yaml's `main` (index.ts). The process ends when the runner's
//   `require` of the program returns (scripts/runnerProbe.cjs); the program's exported function, which
//   registers the resources, is not run. The runner's own root stack resource goes to Pulumi's mock monitor.
// - pulumi default (with --with-pulumi-default): the program through the runner with Pulumi's default
//   runtime options (typescript on, no nodeargs): ts-node type-checking every file, as before this
//   project configured its loader.
// - render: `npm run render -- --stack split` as package.json's script runs it (node directly, without
//   npm's own start-up): the whole program on the mock runtime, printing the hosts' files.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadThroughRunner, readProject, type RuntimeOptions } from "./pulumiRunner";

const projectDir = join(__dirname, "..");
const SDK_ENTRY = join(__dirname, "bench-load-sdks.ts");
const RENDER_STACK = "split";

/** The SDK packages bench-load-sdks.ts imports; the plain-node baseline requires the same ones. */
function sdkPackages(): string[] {
    const packages = [...readFileSync(SDK_ENTRY, "utf8").matchAll(/^import "([^"]+)";$/gm)].map((match) => match[1]);
    if (packages.length === 0) throw new Error(`${SDK_ENTRY} imports no package`);
    return packages;
}

/** Wall time of a fresh node process with `args`, in an empty TMPDIR; throws unless it exits 0. */
function timeNode(args: string[]): number {
    const scratch = mkdtempSync(join(tmpdir(), "bench-load-"));
    try {
        const started = process.hrtime.bigint();
        const child = spawnSync(process.execPath, args, { cwd: projectDir, env: { ...process.env, TMPDIR: scratch }, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
        const milliseconds = Number(process.hrtime.bigint() - started) / 1e6;
        if (child.error) throw child.error;
        if (child.status !== 0) throw new Error(`node ${args.join(" ")} exited ${child.status}:\n${child.stderr}`);
        return milliseconds;
    } finally {
        rmSync(scratch, { recursive: true, force: true });
    }
}

/** package.json's `render` script (`node ...`) as node arguments. */
function renderArgs(): string[] {
    const scripts = (JSON.parse(readFileSync(join(projectDir, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    const [command, ...args] = scripts.render.split(/\s+/);
    if (command !== "node") throw new Error(`package.json's render script does not start with node: ${scripts.render}`);
    return [...args, "--stack", RENDER_STACK];
}

function median(values: readonly number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function main(): void {
    const { values } = parseArgs({ options: { repetitions: { type: "string", default: "5" }, "with-pulumi-default": { type: "boolean", default: false } } });
    const repetitions = Number(values.repetitions);
    if (!Number.isInteger(repetitions) || repetitions < 1) throw new Error(`--repetitions must be a positive integer, got ${values.repetitions}`);

    const project = readProject(projectDir);
    const program = join(projectDir, project.main === "." ? "index.ts" : project.main);
    const packages = sdkPackages();
    const pulumiVersion = (JSON.parse(readFileSync(require.resolve("@pulumi/pulumi/package.json", { paths: [projectDir] }), "utf8")) as { version: string }).version;
    const throughRunner = (entry: string, runtime: RuntimeOptions = project.runtime) => {
        const load = loadThroughRunner(projectDir, entry, runtime, project.name);
        if (!load.loaded) throw new Error(`Pulumi's runner did not load ${entry} (exit ${load.status}):\n${load.stdout}${load.stderr}`);
        return load.milliseconds;
    };
    // The SDKs as plain JavaScript, for the runner without a loader; resolved from the project, as the program's imports are.
    const plainDir = mkdtempSync(join(tmpdir(), "bench-load-plain-"));
    const plainEntry = join(plainDir, "sdks.cjs");
    writeFileSync(plainEntry, packages.map((name) => `require(${JSON.stringify(require.resolve(name, { paths: [projectDir] }))});\n`).join(""));
    const measures: { label: string; run: () => number; runs: number[] }[] = [
        { label: "sdks", run: () => timeNode(["-e", `for (const p of ${JSON.stringify(packages)}) require(p);`]), runs: [] },
        { label: "runner alone", run: () => throughRunner(plainEntry, { typescript: false, nodeargs: [] }), runs: [] },
        { label: "runner floor", run: () => throughRunner(SDK_ENTRY), runs: [] },
        { label: "program", run: () => throughRunner(program), runs: [] },
        { label: "render", run: () => timeNode(renderArgs()), runs: [] },
    ];
    if (values["with-pulumi-default"]) {
        measures.push({ label: "pulumi default", run: () => throughRunner(program, { typescript: true, nodeargs: [] }), runs: [] });
    }

    const loadBefore = loadavg()[0];
    try {
        for (let i = 0; i < repetitions; i++) {
            for (const measure of measures) measure.runs.push(measure.run());
        }
    } finally {
        rmSync(plainDir, { recursive: true, force: true });
    }
    const loadAfter = loadavg()[0];

    const lines = [
        `machine: ${availableParallelism()} CPUs, ${cpus()[0].model}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB memory, node ${process.version}; load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after`,
        `runner: @pulumi/pulumi ${pulumiVersion} cmd/run; Pulumi.yaml runtime options: typescript=${project.runtime.typescript}` +
            `${project.runtime.tsconfig ? ` tsconfig=${project.runtime.tsconfig}` : ""} nodeargs="${project.runtime.nodeargs.join(" ")}"`,
        `sdks: ${packages.join(", ")}`,
        `each figure: median wall time of ${repetitions} fresh node processes, empty TMPDIR (no loader cache)`,
        "",
    ];
    const medians = new Map(measures.map((m) => [m.label, Math.round(median(m.runs))]));
    for (const measure of measures) {
        lines.push(`${`${measure.label}:`.padEnd(14)}${String(medians.get(measure.label)).padStart(6)} ms   runs ${measure.runs.map((ms) => Math.round(ms)).join(" ")} ms`);
    }
    const ratio = (label: string) => ((medians.get(label) as number) / (medians.get("sdks") as number)).toFixed(2);
    lines.push(
        "",
        `program / sdks: ${ratio("program")}x (target 1.5x)`,
        `runner alone / sdks: ${ratio("runner alone")}x (Pulumi's runner with no loader, the SDKs from plain JavaScript: the least any entry point, compiled JavaScript included, can cost)`,
        `runner floor / sdks: ${ratio("runner floor")}x (the runner and its TypeScript loader without the program: the least the program can cost with this loader)`,
        `render / sdks: ${ratio("render")}x (target 2x)`,
    );
    if (medians.has("pulumi default")) {
        lines.push(`pulumi default / sdks: ${ratio("pulumi default")}x (the program with ts-node type-checking it, Pulumi's default)`);
    }
    process.stdout.write(`${lines.join("\n")}\n`);
}

main();
