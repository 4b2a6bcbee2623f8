// Starts Pulumi's Node.js runner (@pulumi/pulumi/cmd/run) the way the Pulumi CLI's language host does
// for `pulumi preview` and `pulumi up`, without the CLI: same runner file from node_modules, same node
// arguments and environment derived from Pulumi.yaml's runtime options, so the runner's own code decides
// how TypeScript is loaded. What the language host does is in pulumi/pulumi
// sdk/nodejs/cmd/pulumi-language-nodejs/main.go: parseOptions (typescript defaults to true, tsconfig,
// nodeargs), execRuntime (PULUMI_NODEJS_TYPESCRIPT=true when typescript is on, PULUMI_NODEJS_TSCONFIG_PATH
// from tsconfig, node <nodeargs> <runner> ...) and constructArguments (--monitor ... --pwd <dir> <main>).
//
// The runner is preloaded with scripts/runnerProbe.cjs: Pulumi's mock monitor instead of an engine, and
// the process ends as soon as the program's entry file has loaded.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";

/** Pulumi.yaml's nodejs runtime options, with the language host's defaults. */
export interface RuntimeOptions {
    readonly typescript: boolean;
    readonly tsconfig?: string;
    readonly nodeargs: readonly string[];
}

export interface PulumiProject {
    readonly name: string;
    readonly main: string;
    readonly runtime: RuntimeOptions;
}

/** Splits `nodeargs` on spaces; quoting (which the language host's shlex would honour) is refused, not guessed. */
function splitNodeArgs(nodeargs: string): string[] {
    if (/["'\\]/.test(nodeargs)) {
        throw new Error(`Pulumi.yaml runtime.options.nodeargs uses quotes or escapes, which this tool does not parse: ${nodeargs}`);
    }
    return nodeargs.split(/\s+/).filter((arg) => arg !== "");
}

export function readProject(projectDir: string): PulumiProject {
    const project = parseYaml(readFileSync(join(projectDir, "Pulumi.yaml"), "utf8")) as {
        name: string;
        main?: string;
        runtime: string | { name: string; options?: { typescript?: boolean; tsconfig?: string; nodeargs?: string } };
    };
    const options = typeof project.runtime === "string" ? {} : (project.runtime.options ?? {});
    return {
        name: project.name,
        main: project.main ?? ".",
        runtime: { typescript: options.typescript ?? true, tsconfig: options.tsconfig, nodeargs: splitNodeArgs(options.nodeargs ?? "") },
    };
}

/** Variables that change how the runner or a TypeScript loader behaves; a developer's shell must not leak them in. */
const LOADER_VARIABLES = /^(PULUMI_NODEJS_|PULUMI_CONFIG|TS_NODE_|TSX_|NODE_OPTIONS$)/;

export interface RunnerLoad {
    /** Exit status of the runner process. */
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
    /** Wall time from starting the runner process to its exit, in milliseconds. */
    readonly milliseconds: number;
    /** Whether the runner got as far as having loaded the entry file. */
    readonly loaded: boolean;
}

/**
 * Loads `entry` (an absolute path) through Pulumi's runner as `pulumi preview` would, with `runtime` as
 * Pulumi.yaml's runtime options, in a fresh node process whose TMPDIR is new and empty: ts-node's cache
 * (its default directory is under os.tmpdir()) and tsx's cache both start cold, as on a new CI runner.
 */
export function loadThroughRunner(projectDir: string, entry: string, runtime: RuntimeOptions, projectName: string): RunnerLoad {
    const runnerPath = require.resolve("@pulumi/pulumi/cmd/run", { paths: [projectDir] });
    const scratch = mkdtempSync(join(tmpdir(), "runner-load-"));
    const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !LOADER_VARIABLES.test(key)));
    Object.assign(env, { TMPDIR: scratch, PULUMI_CONFIG: "{}", PULUMI_CONFIG_SECRET_KEYS: "[]", RUNNER_PROBE_PROGRAM: entry });
    if (runtime.typescript) env.PULUMI_NODEJS_TYPESCRIPT = "true";
    if (runtime.tsconfig) env.PULUMI_NODEJS_TSCONFIG_PATH = runtime.tsconfig;
    const args = [
        ...runtime.nodeargs,
        "--require",
        join(__dirname, "runnerProbe.cjs"),
        runnerPath,
        "--monitor",
        "mock-monitor",
        "--project",
        projectName,
        "--stack",
        "bench",
        "--pwd",
        projectDir,
        entry,
    ];
    try {
        const started = process.hrtime.bigint();
        const child = spawnSync(process.execPath, args, { cwd: projectDir, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
        const milliseconds = Number(process.hrtime.bigint() - started) / 1e6;
        if (child.error) throw child.error;
        return {
            status: child.status,
            stdout: child.stdout,
            stderr: child.stderr,
            milliseconds,
            loaded: child.status === 0 && child.stdout.includes(`runner loaded the program: ${entry}`),
        };
    } finally {
        rmSync(scratch, { recursive: true, force: true });
    }
}
