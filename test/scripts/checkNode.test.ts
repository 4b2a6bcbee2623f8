// The Node.js check that runs before `npm test` and `npm run render`: run by a Node.js that reports an
// older version, in a copy of the project with and without the Node.js that setup-and-test.sh installs.
// Where the machine has an older Node.js of its own, that one runs it too.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

const root = join(__dirname, "..", "..");
const scratch = mkdtempSync(join(tmpdir(), "check-node-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of the project's package.json and check, optionally with a stand-in for .tools/node/bin/node. */
function project(name: string, installedVersion?: string): string {
    const dir = join(scratch, name);
    mkdirSync(join(dir, "scripts"), { recursive: true });
    copyFileSync(join(root, "package.json"), join(dir, "package.json"));
    copyFileSync(join(root, "scripts", "check-node.cjs"), join(dir, "scripts", "check-node.cjs"));
    if (installedVersion !== undefined) {
        mkdirSync(join(dir, ".tools", "node", "bin"), { recursive: true });
        writeFileSync(join(dir, ".tools", "node", "bin", "node"), `#!/bin/sh\necho ${installedVersion}\n`);
        chmodSync(join(dir, ".tools", "node", "bin", "node"), 0o755);
    }
    return dir;
}

/** Runs the check with this Node.js, made to report `version`. */
function checkAs(version: string, dir: string) {
    const pretend = `Object.defineProperty(process, "versions", { value: { ...process.versions, node: ${JSON.stringify(version)} } }); require(${JSON.stringify(join(dir, "scripts", "check-node.cjs"))});`;
    return spawnSync(process.execPath, ["-e", pretend], { encoding: "utf8" });
}

/** A Node.js on this machine older than 22 (Debian's), if there is one. */
function olderNode(): string | undefined {
    for (const candidate of ["/usr/bin/node", "/usr/local/bin/node"]) {
        try {
            const major = Number(execFileSync(candidate, ["-p", "process.versions.node.split('.')[0]"], { encoding: "utf8" }));
            if (major < 22) return candidate;
        } catch {
            // not installed there
        }
    }
    return undefined;
}

describe("the Node.js check before npm test and npm run render", () => {
    it("runs first in both scripts", () => {
        const scripts = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
        assert.equal(scripts.pretest, "node scripts/check-node.cjs");
        assert.equal(scripts.prerender, "node scripts/check-node.cjs");
    });

    it("says nothing on a Node.js that package.json's engines allow", () => {
        const result = checkAs("22.0.0", project("current"));
        assert.deepEqual([result.status, result.stdout, result.stderr], [0, "", ""]);
    });

    it("names the Node.js setup-and-test.sh installed, and how to put it on PATH", () => {
        const dir = project("installed", "v24.11.1");
        const result = checkAs("20.20.2", dir);
        assert.equal(result.status, 1);
        const bin = join(dir, ".tools", "node", "bin");
        assert.equal(
            result.stderr,
            `This is Node.js 20.20.2 (${process.execPath}); the tests and the render need Node.js 22 or newer.\n` +
                `./scripts/setup-and-test.sh installed Node.js v24.11.1 in ${bin}. Put it first on PATH, then run the command again:\n` +
                `  export PATH="${bin}:$PATH"\n`,
        );
    });

    it("points to setup-and-test.sh when it has not run", () => {
        const result = checkAs("21.7.3", project("fresh"));
        assert.equal(result.status, 1);
        assert.match(result.stderr, /^This is Node\.js 21\.7\.3 .*need Node\.js 22 or newer\.\nRun \.\/scripts\/setup-and-test\.sh \(it installs Node\.js 24 into \.tools\/node/);
    });

    it("stops the machine's own older Node.js with the same message", { skip: olderNode() === undefined && "no Node.js older than 22 on this machine" }, () => {
        const node = olderNode() as string;
        const dir = project("machine", "v24.11.1");
        const result = spawnSync(node, [join(dir, "scripts", "check-node.cjs")], { encoding: "utf8" });
        assert.equal(result.status, 1);
        assert.match(result.stderr, new RegExp(`^This is Node\\.js \\d+\\.\\d+\\.\\d+ \\(${node}\\); .*\\n.*installed Node\\.js v24\\.11\\.1 in `));
    });
});
