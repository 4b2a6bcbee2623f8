// PointInTimeRecovery and the instance profile's access to the repository, on Pulumi's mock runtime:
// which files go on the host, which script turns archiving on with which arguments and after what, and
// the one-time restore to a point in time.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as command from "@pulumi/command";
import { HostBackupAccess } from "../../../components/backups/backupStorage";
import { PITR } from "../../../components/backups/pitr";
import { PointInTimeRecovery, type PointInTimeRecoveryArgs } from "../../../components/backups/pointInTimeRecovery";
import { hostFile, scriptOfCommand } from "../../../components/omnibus/hostScripts";
import { runProgramOffline, type OfflineRun, type RegisteredResource } from "../../../scripts/offlineRuntime";

const ARGS: PointInTimeRecoveryArgs = {
    connection: { host: "192.0.2.20", user: "ubuntu", privateKey: "key" },
    instanceId: "i-mattermost",
    bucketName: "gitlab-mattermost-backups-0abc",
    region: "eu-west-1",
    retentionDays: 14,
    after: [],
};

function deploy(args: PointInTimeRecoveryArgs): Promise<OfflineRun> {
    return runProgramOffline(async () => {
        new PointInTimeRecovery("pitr", args);
        return {};
    }, {}, { stack: "prod" });
}

const commands = (run: OfflineRun) => run.resources.filter((r) => r.type === "command:remote:Command");
function step(run: OfflineRun, name: string): RegisteredResource {
    const found = commands(run).find((r) => r.name === name);
    assert.ok(found, `no step ${name}; have ${commands(run).map((r) => r.name).join(", ")}`);
    return found;
}

describe("PointInTimeRecovery", () => {
    it("puts pgbackrest.conf, the restore tool and the backup units on the host, then runs enable-pitr.sh after all of them", async () => {
        const run = await deploy(ARGS);
        const config = step(run, "pitr-file-pgbackrest.conf");
        assert.match(String(config.inputs.create), /' install-file\.sh \/etc\/pgbackrest\/pgbackrest\.conf 0644$/);
        assert.match(String(config.inputs.stdin), /^repo1-path=\/prod\/mattermost-pitr$/m);
        assert.match(String(config.inputs.stdin), /^repo1-retention-full=14$/m);
        assert.match(String(config.inputs.stdin), /^repo1-s3-bucket=gitlab-mattermost-backups-0abc$/m);
        assert.match(String(config.inputs.stdin), /^pg1-path=\/var\/opt\/mattermost\/postgresql\/16\/main$/m);
        assert.equal(step(run, "pitr-file-mattermost-pitr-restore").inputs.stdin, hostFile(PITR.restoreTool.source));
        const files = ["pgbackrest.conf", "mattermost-pitr-restore", "pgbackrest-mattermost-full.service", "pgbackrest-mattermost-full.timer", "pgbackrest-mattermost-diff.service", "pgbackrest-mattermost-diff.timer"].map((file) => step(run, `pitr-file-${file}`));

        const enable = step(run, "pitr-enable");
        assert.equal(scriptOfCommand(String(enable.inputs.create)), "enable-pitr.sh");
        assert.match(String(enable.inputs.create), / enable-pitr\.sh \/etc\/pgbackrest\/pgbackrest\.conf mattermost 60 pgbackrest-mattermost-full\.timer pgbackrest-mattermost-diff\.timer$/);
        for (const file of files) {
            assert.ok(enable.dependsOn.includes(file.name), `enable waits for ${file.name}`);
        }
        assert.equal(commands(run).some((r) => r.name === "pitr-restore"), false, "no restore unless one is asked for");
    });

    it("restores once to the moment asked for, after archiving is on and what it is told to wait for", async () => {
        const run = await runProgramOffline(async () => {
            const gate = new command.local.Command("mattermost-answers", { create: "true" });
            new PointInTimeRecovery("pitr", { ...ARGS, restore: { to: "2026-11-30T10:15:00Z", after: [gate], dataVolumeId: "vol-1" } });
            return {};
        }, {}, { stack: "prod" });
        const restore = step(run, "pitr-restore");
        assert.equal(restore.inputs.create, "sudo /usr/local/sbin/mattermost-pitr-restore 2026-11-30T10:15:00Z");
        assert.deepEqual(restore.inputs.triggers, ["vol-1", "2026-11-30T10:15:00Z"]);
        assert.ok(restore.dependsOn.includes("pitr-enable"));
        assert.ok(restore.dependsOn.includes("mattermost-answers"));
    });

    it("refuses a restore target that is not a point in time", async () => {
        await assert.rejects(deploy({ ...ARGS, restore: { to: "latest", after: [], dataVolumeId: "vol-1" } }), /not a point in time/);
    });
});

describe("HostBackupAccess with pointInTimeRecovery", () => {
    async function policyOf(pointInTimeRecovery: boolean): Promise<{ Statement: { Sid: string; Resource: unknown }[] }> {
        const run = await runProgramOffline(async () => {
            new HostBackupAccess("mattermost-backup-access", { bucketArn: "arn:aws:s3:::bucket", own: { objects: ["prod/mattermost/*"], listPrefixes: ["prod/mattermost/*"] }, pointInTimeRecovery });
            return {};
        }, {}, { stack: "prod" });
        const policy = run.resources.find((r) => r.type === "aws:iam/rolePolicy:RolePolicy");
        assert.ok(policy);
        return JSON.parse(String(policy.inputs.policy)) as { Statement: { Sid: string; Resource: unknown }[] };
    }

    it("adds the repository's folder of this stack to the host's own keys, and only when asked", async () => {
        const withPitr = await policyOf(true);
        const without = await policyOf(false);
        assert.deepEqual(withPitr.Statement.slice(0, without.Statement.length), without.Statement);
        assert.deepEqual(withPitr.Statement.slice(without.Statement.length).map((s) => [s.Sid, s.Resource]), [
            ["PitrRepositoryObjects", "arn:aws:s3:::bucket/prod/mattermost-pitr/*"],
            ["PitrRepositoryList", "arn:aws:s3:::bucket"],
        ]);
    });
});
