// The program on Pulumi's mock runtime: each host's data volume (created, retained, protected,
// attached, mounted before the install), the daily snapshots, and what a replaced instance changes.

import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { scriptOfCommand } from "../../../components/omnibus/hostScripts";
import { runOffline, type OfflineRun, type RegisteredResource } from "../../../scripts/offlineRuntime";
import { stackConfig } from "../../support/stackConfig";

const VOLUME = "aws:ebs/volume:Volume";
const ATTACHMENT = "aws:ec2/volumeAttachment:VolumeAttachment";
const COMMAND = "command:remote:Command";

const byType = (run: OfflineRun, type: string) => run.resources.filter((r) => r.type === type);
function named(run: OfflineRun, name: string, type = COMMAND): RegisteredResource {
    const found = run.resources.filter((r) => r.name === name && r.type === type);
    assert.equal(found.length, 1, `expected one ${type} named ${name}, found ${found.length}`);
    return found[0];
}

/** Whether command `later` waits for `earlier`, directly or through other resources. */
function waitsFor(run: OfflineRun, later: string, earlier: string, seen = new Set<string>()): boolean {
    if (seen.has(later)) return false;
    seen.add(later);
    const resource = run.resources.find((r) => r.name === later && r.type === COMMAND);
    const deps = resource?.dependsOn ?? [];
    return deps.includes(earlier) || deps.some((d) => waitsFor(run, d, earlier, seen));
}

for (const topology of ["single", "split"] as const) {
    describe(`data volumes, ${topology} topology`, () => {
        const hosts = topology === "single" ? ["gitlab"] : ["gitlab", "mattermost"];
        let run: OfflineRun;
        before(async () => {
            run = await runOffline(stackConfig(topology, { backup: { retentionDays: 14 } }));
        });

        it("gives every host one encrypted gp3 volume in the hosts' zone, retained and protected", () => {
            assert.deepEqual(byType(run, VOLUME).map((v) => v.name).sort(), hosts.map((h) => `${h}-data`));
            const zone = named(run, "network-public", "aws:ec2/subnet:Subnet").inputs.availabilityZone;
            for (const host of hosts) {
                const volume = named(run, `${host}-data`, VOLUME);
                assert.equal(volume.inputs.encrypted, true);
                assert.equal(volume.inputs.type, "gp3");
                assert.equal(volume.inputs.availabilityZone, zone);
                assert.deepEqual([volume.inputs.size, volume.inputs.iops, volume.inputs.throughput], [host === "gitlab" ? 100 : 50, 3000, 125]);
                assert.equal(volume.retainOnDelete, true, "pulumi destroy keeps it");
                assert.equal(volume.protect, true, "no plan deletes or replaces it");
                assert.deepEqual(volume.ignoreChanges, ["snapshotId"]);
                assert.equal(volume.inputs.snapshotId, undefined);
                assert.deepEqual(volume.inputs.tags, { Name: `${host}-data`, "gitlab-mattermost-data": "test" });
            }
        });

        it("attaches each volume to its host's instance, the old attachment going before a new one", () => {
            for (const host of hosts) {
                const attachment = named(run, `${host}-data`, ATTACHMENT);
                assert.equal(attachment.inputs.volumeId, `${host}-data-id`);
                assert.equal(attachment.inputs.instanceId, `${host}-id`);
                assert.equal(attachment.inputs.deviceName, "/dev/sdf");
                assert.equal(attachment.inputs.stopInstanceBeforeDetaching, true);
                assert.equal(attachment.deleteBeforeReplace, true);
                assert.equal(attachment.protect, false, "a replaced instance needs a new attachment");
            }
        });

        it("protects the instances from pulumi destroy", () => {
            for (const instance of byType(run, "aws:ec2/instance:Instance")) {
                assert.equal(instance.protect, true, instance.name);
                assert.equal((instance.inputs.rootBlockDevice as Record<string, unknown>).deleteOnTermination, true, "only the system is on the root volume");
            }
        });

        it("moves old data over, then mounts the volume at /var/opt/gitlab with /etc/gitlab kept on it, before the package installs", () => {
            for (const host of hosts) {
                const mount = named(run, `${host}-mount-data-volume`);
                const create = String(mount.inputs.create);
                assert.equal(scriptOfCommand(create), "mount-data-volume.sh");
                assert.ok(create.endsWith(` mount-data-volume.sh ${host}-data-id /var/opt/gitlab gitlab-data /etc/gitlab`), create.slice(-80));
                assert.ok(mount.dependsOn.includes(`${host}-data`), "after the attachment");
                const move = named(run, `${host}-move-to-data-volume`);
                assert.equal(scriptOfCommand(String(move.inputs.create)), "move-to-data-volume.sh");
                assert.ok(waitsFor(run, `${host}-mount-data-volume`, `${host}-move-to-data-volume`));
                assert.ok(waitsFor(run, `${host}-install`, `${host}-mount-data-volume`), "the install waits for the mount");
                assert.deepEqual(mount.inputs.triggers, [`${host}-id`], "a new instance mounts again");
            }
        });

        it("snapshots the tagged data volumes daily with DLM, kept backup.retentionDays", () => {
            const [policy] = byType(run, "aws:dlm/lifecyclePolicy:LifecyclePolicy");
            assert.ok(policy, "a lifecycle policy");
            const details = policy.inputs.policyDetails as Record<string, unknown>;
            assert.equal(details.policyType, "EBS_SNAPSHOT_MANAGEMENT");
            assert.deepEqual(details.resourceTypes, ["VOLUME"]);
            assert.deepEqual(details.targetTags, { "gitlab-mattermost-data": "test" });
            const [schedule] = details.schedules as Record<string, Record<string, unknown>>[];
            assert.deepEqual(schedule.createRule, { interval: 24, intervalUnit: "HOURS", times: "03:00" });
            assert.deepEqual(schedule.retainRule, { interval: 14, intervalUnit: "DAYS" });
            const role = named(run, "data-snapshots", "aws:iam/role:Role");
            assert.equal(policy.inputs.executionRoleArn, role.outputs.arn);
            assert.match(String(role.inputs.assumeRolePolicy), /dlm\.amazonaws\.com/);
            const attachment = named(run, "data-snapshots", "aws:iam/rolePolicyAttachment:RolePolicyAttachment");
            assert.equal(attachment.inputs.policyArn, "arn:aws:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole");
            assert.ok(policy.dependsOn.includes("data-snapshots"), "the policy waits for its role's permissions");
        });
    });
}

describe("data volumes: a snapshot to start from", () => {
    it("creates the volume from gitlab.dataVolume.snapshotId, which later changes cannot apply", async () => {
        const run = await runOffline(stackConfig("single", { gitlab: { edition: "ee", version: "18.11.11", dataVolume: { snapshotId: "snap-0123456789abcdef0", sizeGiB: 200 } } }));
        const volume = named(run, "gitlab-data", VOLUME);
        assert.equal(volume.inputs.snapshotId, "snap-0123456789abcdef0");
        assert.equal(volume.inputs.size, 200);
        assert.deepEqual(volume.ignoreChanges, ["snapshotId"]);
    });
});

describe("data volumes: a replaced instance", () => {
    // A subnet or key pair change gives the host a new instance; offline, the cloud's new instance id
    // stands for it. Everything else is as before, with a restore requested.
    const config = stackConfig("split", { backup: { restoreFrom: "20261101T030000Z" }, mattermost: { instanceType: "c6a.large", gitlabPlugin: { enabled: true } } });
    let before_: OfflineRun;
    let after: OfflineRun;
    before(async () => {
        before_ = await runOffline(config);
        after = await runOffline(config, { replaced: ["gitlab", "mattermost"] });
    });
    const same = (type: string, name: string) => {
        const [a, b] = [named(before_, name, type), named(after, name, type)];
        assert.equal(b.urn, a.urn, `${name} keeps its URN`);
        assert.deepEqual(b.inputs, a.inputs, `${name} keeps its inputs`);
    };

    it("keeps the data volumes, and attaches them to the new instances", () => {
        for (const host of ["gitlab", "mattermost"]) {
            same(VOLUME, `${host}-data`);
            assert.equal(named(after, `${host}-data`, ATTACHMENT).inputs.instanceId, `${host}-replacement-id`);
            assert.equal(named(after, `${host}-data`, ATTACHMENT).inputs.volumeId, `${host}-data-id`);
        }
    });

    it("keeps the root password, the OAuth credentials and the backup bucket", () => {
        same("random:index/randomPassword:RandomPassword", "root-password");
        const credentials = before_.resources.filter((r) => r.type.startsWith("random:") && r.name !== "root-password");
        assert.ok(credentials.length >= 2, "OAuth credentials for sign-in and the plugin");
        for (const credential of credentials) same(credential.type, credential.name);
        same("aws:s3/bucket:Bucket", "backups");
    });

    it("does not run the restore again: its triggers are unchanged", () => {
        same(COMMAND, "mattermost-restore");
    });

    it("mounts the volume and reinstalls the same package version on the new instance", () => {
        for (const host of ["gitlab", "mattermost"]) {
            for (const step of [`${host}-mount-data-volume`, `${host}-install`]) {
                const [a, b] = [named(before_, step), named(after, step)];
                assert.equal(b.inputs.create, a.inputs.create, `${step} runs the same command`);
                assert.deepEqual(b.inputs.triggers, [`${host}-replacement-id`], `${step} runs on the new instance`);
            }
        }
    });
});

describe("data volumes: a replacement forced by a changed input", () => {
    // A new subnet is one of the changes that force new instances: offline, the subnet gets a new id,
    // the instances' subnetId input changes with it, and the cloud gives them new ids.
    const config = stackConfig("split", { backup: { restoreFrom: "20261101T030000Z" }, mattermost: { instanceType: "c6a.large", gitlabPlugin: { enabled: true } } });
    let before_: OfflineRun;
    let after: OfflineRun;
    before(async () => {
        before_ = await runOffline(config);
        after = await runOffline(config, { replaced: ["network-public", "gitlab", "mattermost"] });
    });

    it("is a real replacement: the instances' forcing input changed", () => {
        for (const host of ["gitlab", "mattermost"]) {
            const [a, b] = [named(before_, host, "aws:ec2/instance:Instance"), named(after, host, "aws:ec2/instance:Instance")];
            assert.notEqual(b.inputs.subnetId, a.inputs.subnetId);
            assert.equal(b.inputs.subnetId, "network-public-replacement-id");
        }
    });

    // What must outlive the instance: its data, the secrets the running GitLab and Mattermost were set
    // up with, and the backups with their settings and snapshots.
    const OUTLIVES = [/^aws:ebs\/volume:/, /^random:/, /^aws:s3\//, /^aws:dlm\//];
    it("leaves the volumes, the root password, every OAuth credential and the backups exactly as they were", () => {
        const kept = before_.resources.filter((r) => OUTLIVES.some((pattern) => pattern.test(r.type)));
        for (const pattern of OUTLIVES) assert.ok(kept.some((r) => pattern.test(r.type)), `a resource matching ${pattern}`);
        for (const name of ["root-password", "oauth-client-id", "oauth-client-secret", "gitlab-plugin-oauth-client-id", "gitlab-plugin-oauth-client-secret", "backups"]) {
            assert.ok(kept.some((r) => r.name === name), `${name} is among the resources compared`);
        }
        for (const resource of kept) {
            const twin = after.resources.find((r) => r.urn === resource.urn && r.type === resource.type && r.name === resource.name);
            assert.ok(twin, `${resource.urn} still exists`);
            assert.deepEqual(twin.inputs, resource.inputs, `${resource.type} ${resource.name} keeps its inputs`);
            assert.equal(twin.protect, resource.protect);
        }
    });

    it("does not restore again, and mounts the same volume on the new instances", () => {
        assert.deepEqual(named(after, "mattermost-restore").inputs, named(before_, "mattermost-restore").inputs);
        for (const host of ["gitlab", "mattermost"]) {
            assert.equal(named(after, `${host}-data`, ATTACHMENT).inputs.volumeId, named(before_, `${host}-data`, ATTACHMENT).inputs.volumeId);
            assert.equal(named(after, `${host}-mount-data-volume`).inputs.create, named(before_, `${host}-mount-data-volume`).inputs.create);
        }
    });
});

describe("a replaced standalone Mattermost instance", () => {
    const config = stackConfig("split", { gitlab: { edition: "ee", version: "19.3.0" }, mattermost: { mode: "standalone", version: "11.7.9", gitlabPlugin: { enabled: true } } });
    let before_: OfflineRun;
    let after: OfflineRun;
    before(async () => {
        before_ = await runOffline(config);
        after = await runOffline(config, { replaced: ["mattermost"] });
    });

    it("keeps the data volume, with the database's password and at-rest key, and attaches it to the new instance", () => {
        const [a, b] = [named(before_, "mattermost-data", VOLUME), named(after, "mattermost-data", VOLUME)];
        assert.equal(b.urn, a.urn);
        assert.deepEqual(b.inputs, a.inputs);
        assert.equal(named(after, "mattermost-data", ATTACHMENT).inputs.instanceId, "mattermost-replacement-id");
        for (const secret of ["mattermost-database-password", "mattermost-at-rest-key"]) {
            const type = "random:index/randomPassword:RandomPassword";
            assert.deepEqual(named(after, secret, type).inputs, named(before_, secret, type).inputs, `${secret} is kept`);
        }
    });

    it("mounts the volume at /var/opt/mattermost, then installs the same release over it", () => {
        for (const step of ["mattermost-mount-data-volume", "mattermost-install", "mattermost-database", "mattermost-environment", "mattermost-health"]) {
            const [a, b] = [named(before_, step), named(after, step)];
            assert.equal(b.inputs.create, a.inputs.create, `${step} runs the same command`);
            assert.ok((b.inputs.triggers as unknown[]).includes("mattermost-replacement-id"), `${step} runs on the new instance`);
        }
        assert.match(String(named(after, "mattermost-mount-data-volume").inputs.create), /' mount-data-volume\.sh mattermost-data-id \/var\/opt\/mattermost mattermost-data$/);
        assert.ok(waitsFor(after, "mattermost-install", "mattermost-mount-data-volume"));
    });
});
