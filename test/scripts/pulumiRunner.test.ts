// `pulumi preview` must not type-check the program (npm test does, with tsc --noEmit): the project's
// Pulumi.yaml makes Pulumi's runner only transpile. Checked on a deliberately ill-typed file: the runner
// loads it with the project's runtime options, tsc --noEmit with the project's compiler options refuses
// it, and the runner with Pulumi's default options (ts-node with type-checking) refuses it too, which
// shows the first check would notice a configuration that type-checks again.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadThroughRunner, readProject } from "../../scripts/pulumiRunner";

const root = join(__dirname, "..", "..");
const project = readProject(root);

describe("Pulumi's runner with this project's Pulumi.yaml", () => {
    let dir: string;
    let illTyped: string;
    before(() => {
        dir = mkdtempSync(join(tmpdir(), "ill-typed-"));
        illTyped = join(dir, "illTyped.ts");
        writeFileSync(illTyped, 'const port: number = "not a number";\nexport = { port };\n');
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it("loads an ill-typed program without type-checking it", { timeout: 120_000 }, () => {
        const load = loadThroughRunner(root, illTyped, project.runtime, project.name);
        assert.ok(load.loaded, `exit ${load.status}:\n${load.stdout}${load.stderr}`);
    });

    it("while tsc --noEmit, as npm test runs it, refuses the same file", { timeout: 120_000 }, () => {
        const tsconfig = join(dir, "tsconfig.json");
        // The project's compiler options; no @types/node lookup from outside the project.
        writeFileSync(tsconfig, JSON.stringify({ extends: join(root, "tsconfig.json"), compilerOptions: { types: [] }, files: [illTyped], include: [] }));
        const tsc = spawnSync(process.execPath, [require.resolve("typescript/bin/tsc", { paths: [root] }), "--noEmit", "-p", tsconfig], { encoding: "utf8" });
        assert.notEqual(tsc.status, 0, tsc.stdout);
        assert.match(tsc.stdout, /illTyped\.ts\(1,7\): error TS2322: Type 'string' is not assignable to type 'number'/);
    });

    it("and the runner with Pulumi's default options would have refused it", { timeout: 120_000 }, () => {
        const load = loadThroughRunner(root, illTyped, { typescript: true, nodeargs: [] }, project.name);
        assert.equal(load.loaded, false, load.stdout);
        assert.match(load.stderr, /TS2322/);
    });
});
