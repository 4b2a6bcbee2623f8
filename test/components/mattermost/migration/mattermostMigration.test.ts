// MattermostMigration and BundledDataRemoval on Pulumi's mock runtime: which scripts run on which
// host, in which order, with which arguments, and that nothing secret is in them.

import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as command from "@pulumi/command";
import { BundledDataRemoval, MattermostMigration } from "../../../../components/mattermost/migration/mattermostMigration";
import type { MigrationPlan } from "../../../../components/mattermost/migration/migrationPlan";
import { hostScriptText } from "../../../../components/omnibus/hostScripts";
import { runProgramOffline, type OfflineRun, type RegisteredResource } from "../../../../scripts/offlineRuntime";

const PLAN: Extract<MigrationPlan, { kind: "migrate" }> = { kind: "migrate", bundledHost: "gitlab", bundledVersion: "10.11.20", targetVersion: "10.11.20", text: [] };
const BUNDLED = { host: "192.0.2.10", user: "ubuntu", privateKey: "key" };
const STANDALONE = { host: "192.0.2.20", user: "ubuntu", privateKey: "key" };

function step(run: OfflineRun, name: string): RegisteredResource {
    const found = run.resources.find((r) => r.type === "command:remote:Command" && r.name === name);
    assert.ok(found, `no step ${name}; have ${run.resources.map((r) => r.name).join(", ")}`);
    return found;
}
/** The script a command runs and its arguments. */
function invocation(resource: RegisteredResource): string {
    const match = /^sudo bash -c '(?:[^']|'\\'')*' ([a-z-]+\.sh)((?: \S+)*)$/.exec(String(resource.inputs.create));
    assert.ok(match, String(resource.inputs.create).slice(-200));
    return `${match[1]}${match[2]}`;
}

describe("MattermostMigration", () => {
    let run: OfflineRun;
    before(async () => {
        run = await runProgramOffline(async () => {
            const bundledReady = new command.remote.Command("bundled-backup-tools", { connection: BUNDLED, create: "true" });
            const standaloneHealthy = new command.remote.Command("standalone-health", { connection: STANDALONE, create: "true" });
            const migration = new MattermostMigration("mm-move", {
                plan: PLAN,
                bundled: { connection: BUNDLED, instanceId: "i-gitlab", after: [bundledReady] },
                standalone: { connection: STANDALONE, instanceId: "i-mattermost", after: [standaloneHealthy] },
            });
            // What deployment.ts does with it: the cut-over waits for the verification.
            new command.remote.Command("cut-over", { connection: STANDALONE, create: "true" }, { dependsOn: migration.verified });
            return {};
        }, {});
    });

    it("exports on the bundled host and imports on the standalone host, each for the configured version", () => {
        assert.equal(invocation(step(run, "mm-move-export")), "export-bundled-mattermost.sh 10.11.20");
        assert.equal(invocation(step(run, "mm-move-import")), "import-standalone-mattermost.sh 10.11.20");
        assert.equal((step(run, "mm-move-export").inputs.connection as { host: string }).host, BUNDLED.host);
        assert.equal((step(run, "mm-move-import").inputs.connection as { host: string }).host, STANDALONE.host);
    });

    it("carries the scripts with their shared files inlined", () => {
        const text = hostScriptText("migration/export-bundled-mattermost.sh");
        assert.match(text, /^end_step\(\) \{/m, "step-common.sh is inlined");
        assert.match(text, /^table_fingerprints\(\) \{/m, "migration-common.sh is inlined");
        assert.doesNotMatch(text, /^\. "\$\(dirname/m);
        assert.ok(String(step(run, "mm-move-export").inputs.create).includes("table_fingerprints()"));
    });

    it("runs both halves once both hosts are ready (the bundled tools, the healthy standalone host), side by side", () => {
        const exportStep = step(run, "mm-move-export");
        const importStep = step(run, "mm-move-import");
        for (const half of [exportStep, importStep]) {
            assert.ok(half.dependsOn.includes("bundled-backup-tools") && half.dependsOn.includes("standalone-health"), half.dependsOn.join(", "));
        }
        // They meet in the bucket: one waiting for the other through Pulumi would wait for ever.
        assert.ok(!exportStep.dependsOn.includes("mm-move-import"));
        assert.ok(!importStep.dependsOn.includes("mm-move-export"));
    });

    it("makes the cut-over depend on both halves", () => {
        const cutOver = step(run, "cut-over");
        assert.ok(cutOver.dependsOn.includes("mm-move-export") && cutOver.dependsOn.includes("mm-move-import"), cutOver.dependsOn.join(", "));
    });

    it("passes nothing secret: no stdin, and a replaced host runs the steps again", () => {
        for (const name of ["mm-move-export", "mm-move-import"]) {
            assert.equal(step(run, name).inputs.stdin, undefined);
            assert.deepEqual(step(run, name).secretInputs, ["connection"], "only the SSH connection (its key) is secret");
            assert.deepEqual(step(run, name).inputs.triggers, ["i-gitlab", "i-mattermost"]);
        }
    });
});

describe("BundledDataRemoval", () => {
    it("runs the removal on the bundled host, naming the standalone backups' folder", async () => {
        const run = await runProgramOffline(async () => {
            new BundledDataRemoval("mm-remove", { connection: BUNDLED, instanceId: "i-gitlab", standaloneBackupFolder: "mattermost" });
            return {};
        }, {});
        assert.equal(invocation(step(run, "mm-remove-remove")), "remove-bundled-mattermost-data.sh mattermost");
        assert.equal((step(run, "mm-remove-remove").inputs.connection as { host: string }).host, BUNDLED.host);
    });
});
