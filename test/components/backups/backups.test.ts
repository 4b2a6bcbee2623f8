// Backups on Pulumi's mock runtime: the bucket and its guarantees, each host's permissions, the
// tools, units and timers on the hosts, GitLab's upload settings, and the one-time restore.

import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { BACKUP_ENV_FILE, EXPIRABLE_TAG, backupEnvFile, backupHostKind, backupJobs, backupUnits, hostBackupPolicy, ownBackupKeys } from "../../../components/backups/backupPlan";
import { BackupSchedule, MattermostRestore } from "../../../components/backups/backupSchedule";
import { STANDALONE_DATABASE, STANDALONE_LAYOUT } from "../../../components/mattermost/standalone/hostLayout";
import { planHosts, type HostPlan } from "../../../components/settings/topology";
import { ConfigError } from "../../../components/stack/config";
import { hostFile, scriptOfCommand } from "../../../components/omnibus/hostScripts";
import { runOffline, runProgramOffline, type OfflineRun, type RegisteredResource } from "../../../scripts/offlineRuntime";
import { ENVIRONMENT_D_GENERATOR, parseSystemdEnvironmentFile, systemdReads } from "../../support/systemdEnvironmentFile";
import { existsSync } from "node:fs";
import { planVersion } from "../../../components/stack/upgrade";
import { parseConfig, stackConfig } from "../../support/stackConfig";
import { version } from "../../support/versions";

const one = (run: OfflineRun, type: string, name?: string): RegisteredResource => {
    const found = run.resources.filter((r) => r.type === type && (name === undefined || r.name === name));
    assert.equal(found.length, 1, `one ${type} ${name ?? ""}, found ${found.length}`);
    return found[0];
};
const command = (run: OfflineRun, name: string) => one(run, "command:remote:Command", name);
const BUCKET = "gitlab-mattermost-backups-0standin";

interface PolicyStatement {
    Effect: string;
    Action: string | string[];
    Resource: string | string[];
    Condition?: unknown;
}

/** IAM's wildcards: `*` any run of characters (slashes too), `?` one character. */
const matches = (pattern: string, value: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`).test(value);

/** Whether an Allow statement without conditions grants `action` on `resource`; the policies here have no Deny. */
function allows(policy: { Statement: PolicyStatement[] }, action: string, resource: string): boolean {
    return policy.Statement.some(
        (statement) =>
            statement.Effect === "Allow" &&
            statement.Condition === undefined &&
            [statement.Action].flat().some((pattern) => matches(pattern, action)) &&
            [statement.Resource].flat().some((pattern) => matches(pattern, resource)),
    );
}

describe("the backup bucket", () => {
    let run: OfflineRun;
    before(async () => {
        run = await runOffline(stackConfig("split", { backup: { retentionDays: 45 } }));
    });

    it("is versioned, encrypted, private and kept when the stack is destroyed", () => {
        const bucket = one(run, "aws:s3/bucket:Bucket");
        assert.equal(bucket.retainOnDelete, true);
        assert.equal(bucket.inputs.forceDestroy, false);
        for (const type of ["aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "aws:s3/bucketPolicy:BucketPolicy", "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"]) {
            assert.equal(one(run, type).inputs.bucket, "backups-id", `${type} is the bucket's`);
        }
        assert.deepEqual(one(run, "aws:s3/bucketVersioning:BucketVersioning").inputs.versioningConfiguration, { status: "Enabled" });
        assert.equal((one(run, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").inputs.rules as { applyServerSideEncryptionByDefault: { sseAlgorithm: string } }[])[0].applyServerSideEncryptionByDefault.sseAlgorithm, "AES256");
        const block = one(run, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs;
        assert.deepEqual([block.blockPublicAcls, block.blockPublicPolicy, block.ignorePublicAcls, block.restrictPublicBuckets], [true, true, true, true]);
    });

    it("denies every request without TLS", () => {
        const { Statement } = JSON.parse(String(one(run, "aws:s3/bucketPolicy:BucketPolicy").inputs.policy));
        assert.deepEqual(Statement, [{
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: [`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}/*`],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
        }]);
    });

    it("expires after backup.retentionDays only what the tools tagged expirable, never an untagged current object", () => {
        const rules = one(run, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs.rules as Record<string, Record<string, unknown>>[];
        assert.deepEqual(rules, [
            {
                id: "expire-backups-beyond-the-newest",
                status: "Enabled",
                filter: { tag: { key: EXPIRABLE_TAG.key, value: EXPIRABLE_TAG.value } },
                expiration: { days: 45 },
            },
            {
                id: "expire-replaced-versions-and-unfinished-uploads",
                status: "Enabled",
                filter: {},
                expiration: { expiredObjectDeleteMarker: true },
                noncurrentVersionExpiration: { noncurrentDays: 45 },
                abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
            },
        ]);
        // What S3 accepts: no AbortIncompleteMultipartUpload in a rule filtered by tags; no ExpiredObjectDeleteMarker beside Days.
        for (const rule of rules) {
            const expiration = rule.expiration as Record<string, unknown> | undefined;
            assert.ok(rule.filter.tag === undefined || rule.abortIncompleteMultipartUpload === undefined, String(rule.id));
            assert.ok(expiration?.days === undefined || expiration.expiredObjectDeleteMarker === undefined, String(rule.id));
        }
        for (const rule of rules.filter((candidate) => candidate.filter.tag === undefined)) {
            assert.equal((rule.expiration as Record<string, unknown> | undefined)?.days, undefined, `${String(rule.id)} would expire current objects without the tag`);
        }
    });

    it("lets each host write, read and list only its own prefixes, and delete nothing", () => {
        const policyOf = (host: string) => JSON.parse(String(one(run, "aws:iam/rolePolicy:RolePolicy", `${host}-backup-access`).inputs.policy)) as { Statement: PolicyStatement[] };
        const gitlab = policyOf("gitlab");
        const mattermost = policyOf("mattermost");
        const key = (name: string) => `arn:aws:s3:::${BUCKET}/${name}`;
        const ownKeys = { gitlab: ["test/gitlab-etc/20261126T031500Z/etc.tar", "1764126900_2026_11_26_18.11.11-ee_gitlab_backup.tar"], mattermost: ["test/mattermost/20261126T031500Z/database.dump"] };
        for (const [host, policy, other] of [["gitlab", gitlab, "mattermost"], ["mattermost", mattermost, "gitlab"]] as const) {
            for (const action of ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion"]) {
                for (const own of ownKeys[host]) {
                    assert.ok(allows(policy, action, key(own)), `${host} may ${action} ${own}`);
                }
                const otherFolder = other === "gitlab" ? "gitlab-etc" : "mattermost";
                for (const foreign of [...ownKeys[other], `test/${otherFolder}/last-success.txt`, `other-stack/${host === "gitlab" ? "gitlab-etc" : "mattermost"}/x`, "notes.txt"]) {
                    assert.ok(!allows(policy, action, key(foreign)), `${host} may not ${action} ${foreign}`);
                }
            }
            for (const action of ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutLifecycleConfiguration", "s3:DeleteBucket"]) {
                assert.ok(!allows(policy, action, key(ownKeys[host][0])) && !allows(policy, action, `arn:aws:s3:::${BUCKET}`), `${host} may not ${action}`);
            }
            const instance = one(run, "aws:ec2/instance:Instance", host);
            assert.equal(instance.inputs.iamInstanceProfile, `${host}-backup-access-standin`);
        }
        // Tagging: only the expirable tag, only on what the host writes; nothing else touches tags.
        for (const policy of [gitlab, mattermost]) {
            const writes = policy.Statement.find((statement) => [statement.Action].flat().includes("s3:PutObject"))!;
            const tagging = policy.Statement.filter((statement) => [statement.Action].flat().some((action) => /tagging/i.test(action)));
            assert.deepEqual(tagging.map((statement) => [statement.Action, statement.Resource, statement.Condition]), [[
                "s3:PutObjectTagging",
                writes.Resource,
                {
                    StringEquals: { [`s3:RequestObjectTag/${EXPIRABLE_TAG.key}`]: EXPIRABLE_TAG.value },
                    "ForAllValues:StringEquals": { "s3:RequestObjectTagKeys": [EXPIRABLE_TAG.key] },
                },
            ]]);
        }
        // Listing: only under the host's own folders.
        const listing = (policy: { Statement: PolicyStatement[] }) => policy.Statement.filter((statement) => [statement.Action].flat().includes("s3:ListBucket"));
        assert.deepEqual(listing(gitlab).map((statement) => [statement.Resource, statement.Condition]), [[`arn:aws:s3:::${BUCKET}`, { StringLike: { "s3:prefix": ["test/gitlab-etc/*"] } }]]);
        assert.deepEqual(listing(mattermost).map((statement) => [statement.Resource, statement.Condition]), [[`arn:aws:s3:::${BUCKET}`, { StringLike: { "s3:prefix": ["test/mattermost/*"] } }]]);
    });

});

for (const topology of ["single", "split"] as const) {
    describe(`backups on the hosts, ${topology} topology`, () => {
        let run: OfflineRun;
        before(async () => {
            run = await runOffline(stackConfig(topology, { backup: { schedule: "*-*-* 03:00:00" } }));
        });
        const mattermostHost = topology === "single" ? "gitlab" : "mattermost";
        const files = (host: string) =>
            Object.fromEntries(
                run.resources
                    .filter((r) => r.type === "command:remote:Command" && r.parent === `${host}-backup` && scriptOfCommand(String(r.inputs.create)) === "install-file.sh")
                    .map((r) => [String(r.inputs.create).split(" ").slice(-2).join(" "), String(r.inputs.stdin)]),
            );

        it("installs each host's tools, the settings file and a service and timer per job", () => {
            const gitlab = files("gitlab");
            assert.equal(gitlab["/usr/local/sbin/gitlab-full-backup 0755"], hostFile("tools/gitlab-full-backup.sh"));
            assert.match(gitlab["/etc/systemd/system/gitlab-full-backup.timer 0644"], /^OnCalendar=\*-\*-\* 03:00:00$/m);
            assert.match(gitlab["/etc/systemd/system/gitlab-full-backup.service 0644"], /^ExecStart=\/usr\/local\/sbin\/gitlab-full-backup$/m);
            assert.equal(gitlab["/usr/local/lib/gitlab-mattermost/backup-common.sh 0644"], hostFile("tools/backup-common.sh"));
            const mattermost = files(mattermostHost);
            assert.equal(mattermost["/usr/local/sbin/mattermost-backup 0755"], hostFile("tools/mattermost-backup.sh"));
            assert.equal(mattermost["/usr/local/sbin/mattermost-restore 0755"], hostFile("tools/mattermost-restore.sh"));
            assert.match(mattermost["/etc/systemd/system/mattermost-backup.timer 0644"], /^RandomizedDelaySec=1h$/m);
            const env = mattermost["/etc/gitlab-mattermost/backup.env 0644"];
            assert.match(env, new RegExp(`^BACKUP_REMOTE=backup:${BUCKET}$`, "m"));
            assert.match(env, /^BACKUP_STACK=test$/m);
            assert.match(env, /^BACKUP_KEEP_NEWEST=3$/m);
            assert.match(env, new RegExp(`^BACKUP_EXPIRABLE_TAG=${EXPIRABLE_TAG.key}=${EXPIRABLE_TAG.value}$`, "m"));
            assert.match(env, /^RCLONE_CONFIG_BACKUP_ENV_AUTH=true$/m);
            // The profile lists only its own folders, so rclone must not look up a destination first.
            assert.match(env, /^RCLONE_NO_CHECK_DEST=true$/m);
            assert.doesNotMatch(env, /SECRET|ACCESS_KEY/i, "no credentials: the instance profile provides them");
            if (topology === "split") {
                assert.equal(gitlab["/usr/local/sbin/mattermost-backup 0755"], undefined, "no Mattermost backup on the GitLab host");
                assert.equal(mattermost["/usr/local/sbin/gitlab-full-backup 0755"], undefined);
            }
        });

        it("enables the timers once the files are in place, again whenever they change", () => {
            const timers = command(run, `${mattermostHost}-backup-timers`);
            assert.equal(scriptOfCommand(String(timers.inputs.create)), "enable-backups.sh");
            assert.match(String(timers.inputs.create), topology === "single" ? / gitlab-full-backup\.timer mattermost-backup\.timer$/ : / mattermost-backup\.timer$/);
            for (const file of run.resources.filter((r) => r.parent === `${mattermostHost}-backup` && r.type === "command:remote:Command" && r.name !== timers.name)) {
                assert.ok(timers.dependsOn.includes(file.name));
            }
            assert.equal((timers.inputs.triggers as unknown[]).length, 2, "the instance and the files' digest");
        });

        it("points gitlab-backup's upload at the bucket with the instance profile", () => {
            const gitlabRb = String(command(run, "gitlab-gitlab-rb").inputs.stdin);
            assert.match(gitlabRb, /^gitlab_rails\['backup_upload_connection'\] = \{ "provider" => "AWS", "region" => "eu-west-1", "use_iam_profile" => true \}$/m);
            assert.match(gitlabRb, new RegExp(`^gitlab_rails\\['backup_upload_remote_directory'\\] = "${BUCKET}"$`, "m"));
        });

        it("runs no restore unless backup.restoreFrom asks", () => {
            assert.ok(!run.resources.some((r) => r.name === "mattermost-restore"));
        });
    });

    describe(`backup outputs, ${topology} topology`, () => {
        const mattermostHost = topology === "single" ? "gitlab" : "mattermost";
        const lastMattermost = "test/mattermost/last-success.txt";
        let run: OfflineRun;
        before(async () => {
            // Mattermost's backup has recorded a success; GitLab's has not yet.
            run = await runOffline(stackConfig(topology), { bucketObjects: { [lastMattermost]: "20261126T031500Z\n", "test/mattermost/20261126T031500Z/manifest.txt": "x" } });
        });
        const ssh = (host: string) => `ssh -i gitlab-mattermost.key ubuntu@${(run.outputs.hosts as Record<string, { publicIp: string }>)[host]!.publicIp}`;

        it("gives the command that runs each backup now, on the host that runs it, and the restore's", () => {
            assert.deepEqual(run.outputs.backupCommands, {
                "gitlab-full-backup": `${ssh("gitlab")} sudo systemctl start gitlab-full-backup.service`,
                "mattermost-backup": `${ssh(mattermostHost)} sudo systemctl start mattermost-backup.service`,
            });
            assert.equal(run.outputs.mattermostRestoreCommand, `${ssh(mattermostHost)} sudo mattermost-restore latest`);
        });

        it("reports each job's last success as recorded in the bucket, and says when there is none", () => {
            assert.deepEqual(run.outputs.lastSuccessfulBackups, { "gitlab-full-backup": "none in the bucket", "mattermost-backup": "20261126T031500Z" });
            const reads = run.invokes.filter((invoke) => invoke.token.startsWith("aws:s3/")).map((invoke) => [invoke.token, invoke.inputs.bucket, invoke.inputs.prefix ?? invoke.inputs.key]);
            assert.deepEqual(
                reads.sort(),
                [
                    ["aws:s3/getObject:getObject", BUCKET, lastMattermost],
                    ["aws:s3/getObjects:getObjects", BUCKET, "test/gitlab-etc/last-success.txt"],
                    ["aws:s3/getObjects:getObjects", BUCKET, lastMattermost],
                ].sort(),
                "each record is listed first, and read only where it exists",
            );
        });
    });
}

describe("backup.restoreFrom", () => {
    it("restores once on the Mattermost host, after it is configured and healthy, before the plugin is configured", async () => {
        const run = await runOffline(stackConfig("split", { backup: { restoreFrom: "20261120T031500Z" }, mattermost: { gitlabPlugin: { enabled: true } } }));
        const restore = command(run, "mattermost-restore");
        assert.equal(restore.inputs.create, "sudo /usr/local/sbin/mattermost-restore 20261120T031500Z");
        assert.equal((restore.inputs.connection as { host: string }).host, (command(run, "mattermost-gitlab-rb").inputs.connection as { host: string }).host);
        assert.ok(restore.dependsOn.includes("mattermost-gitlab-rb") && restore.dependsOn.includes("mattermost-mattermost-health"));
        assert.ok(restore.dependsOn.includes("mattermost-backup-tools-ready"), "the restore tool is installed first");
        assert.ok((restore.inputs.triggers as unknown[]).includes("20261120T031500Z"), "a new value runs it again");
        // @pulumi/command runs `create` again on an update unless `update` is set; a new connection
        // (e.g. ssh.access changed) must not restore the backup a second time over newer data.
        assert.equal(restore.inputs.update, "true");
        assert.ok(command(run, "gitlab-plugin-configure").dependsOn.includes("mattermost-restore"));
    });

    for (const topology of ["split", "single"] as const) {
        it(`runs before any backup can on the Mattermost host (${topology} topology): its timers are enabled only after the restore`, async () => {
            const run = await runOffline(stackConfig(topology, { backup: { restoreFrom: "latest" } }));
            const byName = new Map(run.resources.map((r) => [r.name, r]));
            const waitsFor = (name: string, seen = new Set<string>()): Set<string> => {
                for (const dependency of byName.get(name)?.dependsOn ?? []) {
                    if (!seen.has(dependency)) {
                        seen.add(dependency);
                        waitsFor(dependency, seen);
                    }
                }
                return seen;
            };
            const host = topology === "single" ? "gitlab" : "mattermost";
            const timers = command(run, `${host}-backup-timers`);
            assert.match(String(timers.inputs.create), / mattermost-backup\.timer$/);
            assert.ok(waitsFor(timers.name).has("mattermost-restore"), "the timers wait for the restore");
            assert.ok(!waitsFor("mattermost-restore").has(timers.name), "the restore does not wait for the timers");
            const ready = command(run, `${host}-backup-tools-ready`);
            assert.equal(String(ready.inputs.create), String(timers.inputs.create).replace(/ [a-z-]+\.timer/g, ""), "the same script, without a timer");
            assert.ok(command(run, "mattermost-restore").dependsOn.includes(ready.name));
        });
    }

    it("is refused while an upgrade is pending: the walk's backup would come before the restore", () => {
        const settings = parseConfig(stackConfig("split", { backup: { restoreFrom: "latest" } }));
        assert.throws(
            () => planVersion(settings, { edition: "ee", version: version("18.8.11") }),
            (error: unknown) => error instanceof ConfigError && error.key === "backup.restoreFrom" && /upgrade to .* is pending/.test(error.message),
        );
        assert.doesNotThrow(() => planVersion(settings, undefined), "a fresh install has no walk");
    });

    it("refuses a value that is not a backup timestamp", () => {
        for (const value of ["2026-11-20", "yesterday", "20261120T0315Z"]) {
            assert.throws(
                () => parseConfig(stackConfig("split", { backup: { restoreFrom: value } })),
                (error: unknown) => error instanceof ConfigError && error.key === "backup.restoreFrom",
            );
        }
    });
});

describe("backup settings", () => {
    it("defaults to a daily schedule kept 30 days, the newest 3 kept however old", () => {
        assert.deepEqual(parseConfig(stackConfig("single")).backup, { schedule: "daily", retentionDays: 30, keepNewest: 3 });
        assert.equal(parseConfig(stackConfig("single", { backup: { keepNewest: 1 } })).backup.keepNewest, 1);
    });

    it("refuses a schedule that cannot be a calendar expression, and a retention out of range", () => {
        const refused = (backup: Record<string, unknown>, key: string) =>
            assert.throws(() => parseConfig(stackConfig("single", { backup })), (error: unknown) => error instanceof ConfigError && error.key === key);
        refused({ schedule: "daily\nExecStart=/bin/sh" }, "backup.schedule");
        refused({ schedule: "'daily'" }, "backup.schedule");
        refused({ retentionDays: 0 }, "backup.retentionDays");
        for (const keepNewest of [0, -1, 1001, 2.5, "three"]) {
            refused({ keepNewest }, "backup.keepNewest");
        }
    });

    it("renders the schedule into the timer exactly", () => {
        const plan = planHosts(parseConfig(stackConfig("single")))[0]!;
        const { timer } = backupUnits({ command: "mattermost-backup", source: "", prefix: "mattermost", description: "d" }, { schedule: "Mon..Fri 02:30", retentionDays: 30, keepNewest: 3 }, plan);
        assert.match(timer, /^OnCalendar=Mon\.\.Fri 02:30$/m);
        assert.match(timer, /^Persistent=true$/m);
        assert.match(timer, /^WantedBy=timers\.target$/m);
    });
});

describe("a standalone Mattermost host's backups", () => {
    const config = stackConfig("split", { gitlab: { version: "19.3.0" }, mattermost: { mode: "standalone", version: "11.7.9" } });
    const [gitlabPlan, standalonePlan] = planHosts(parseConfig(config)) as [HostPlan, HostPlan];
    const settings = parseConfig(config).backup;

    it("has the Mattermost backup job, and its instance profile only the job's own folder", () => {
        assert.equal(standalonePlan.role, "mattermost-standalone");
        assert.deepEqual(backupJobs(standalonePlan).map((job) => job.command), ["mattermost-backup"]);
        assert.deepEqual(ownBackupKeys(standalonePlan, "test"), { objects: ["test/mattermost/*"], listPrefixes: ["test/mattermost/*"] });
    });

    it("gives the migration folder to the two hosts of a move only, and the bundled host Mattermost's backup folder for the move's backup", () => {
        const policyOf = (keys: ReturnType<typeof ownBackupKeys>) => hostBackupPolicy("arn:aws:s3:::bucket", keys);
        const migrationObjects = "arn:aws:s3:::bucket/test/mattermost-migration/*";
        const readable = (keys: ReturnType<typeof ownBackupKeys>) => policyOf(keys).Statement.find((statement) => statement.Sid === "ReadOwnBackups")!.Resource;
        const writable = (keys: ReturnType<typeof ownBackupKeys>) => policyOf(keys).Statement.find((statement) => statement.Sid === "WriteOwnBackups")!.Resource;
        const listable = (keys: ReturnType<typeof ownBackupKeys>) => policyOf(keys).Statement.find((statement) => statement.Sid === "ListOwnBackups")!.Condition!.StringLike!["s3:prefix"];
        // single → split: the GitLab host runs the bundle.
        const fromGitlab = { host: "gitlab", moving: true } as const;
        const gitlabMoving = ownBackupKeys(gitlabPlan, "test", fromGitlab);
        assert.ok(readable(gitlabMoving).includes(migrationObjects) && writable(gitlabMoving).includes(migrationObjects));
        assert.deepEqual(listable(gitlabMoving), ["test/gitlab-etc/*", "test/mattermost/*", "test/mattermost-migration/*"]);
        const standaloneMoving = ownBackupKeys(standalonePlan, "test", fromGitlab);
        assert.deepEqual(standaloneMoving, { objects: ["test/mattermost/*", "test/mattermost-migration/*"], listPrefixes: ["test/mattermost/*", "test/mattermost-migration/*"] });
        // Without a move, neither has it; the GitLab host not Mattermost's folder either.
        assert.ok(!readable(ownBackupKeys(gitlabPlan, "test")).includes(migrationObjects));
        assert.deepEqual(listable(ownBackupKeys(gitlabPlan, "test")), ["test/gitlab-etc/*"]);
        assert.ok(!listable(ownBackupKeys(standalonePlan, "test")).includes("test/mattermost-migration/*"));
        // After the move, until the bundled data is removed: the host holding it keeps both folders, the standalone host the migration folder no longer.
        const kept = { host: "gitlab", moving: false } as const;
        assert.deepEqual(listable(ownBackupKeys(gitlabPlan, "test", kept)), ["test/gitlab-etc/*", "test/mattermost/*", "test/mattermost-migration/*"]);
        assert.deepEqual(ownBackupKeys(standalonePlan, "test", kept), ownBackupKeys(standalonePlan, "test"));
        // split: the old Mattermost host runs the bundle; the GitLab host takes no part.
        assert.deepEqual(listable(ownBackupKeys(gitlabPlan, "test", { host: "mattermost", moving: true })), ["test/gitlab-etc/*"]);
    });

    it("orders the backup after Mattermost and its PostgreSQL, not after Omnibus's runit", () => {
        const [job] = backupJobs(standalonePlan);
        const { service } = backupUnits(job!, settings, standalonePlan);
        assert.match(service, /^After=network-online\.target mattermost\.service postgresql\.service$/m);
        assert.match(backupUnits(job!, settings, gitlabPlan).service, /^After=network-online\.target gitlab-runsvdir\.service$/m);
    });

    it("tells the tools where the standalone host keeps Mattermost; an Omnibus host's file names nothing, the tools' defaults are its paths", () => {
        const text = backupEnvFile({ plan: standalonePlan, stack: "test", bucket: "b", region: "eu-west-1", keepNewest: 3 });
        const read = parseSystemdEnvironmentFile(text);
        assert.deepEqual(
            Object.fromEntries(Object.entries(read).filter(([key]) => /^(PG|MM)_/.test(key))),
            {
                PG_BIN: "/usr/bin",
                PG_RUN_AS: "postgres",
                PG_HOST: "/var/run/postgresql",
                PG_USER: "postgres",
                PG_ADMIN_PSQL: "sudo -u postgres psql",
                MM_DB: STANDALONE_DATABASE.name,
                MM_DB_OWNER: STANDALONE_DATABASE.role,
                MM_DATA_DIR: "/var/opt/mattermost/data",
                MM_CONFIG: STANDALONE_LAYOUT.configFile,
                MM_PLUGIN_DIR: STANDALONE_LAYOUT.pluginDirectory,
                MM_CLIENT_PLUGIN_DIR: STANDALONE_LAYOUT.clientPluginDirectory,
                MM_ETC_DIR: "/etc/mattermost",
                MM_ETC_FILES: "mattermost.env",
                MM_ETC_ARCHIVE: "mattermost-etc.tar.gz",
                MM_ETC_ADVICE: backupHostKind(standalonePlan).toolSettings.MM_ETC_ADVICE!,
                MM_STOP_COMMAND: "systemctl stop mattermost.service",
                MM_START_COMMAND: "systemctl start mattermost.service",
            },
        );
        assert.equal(`${read.MM_ETC_DIR}/${read.MM_ETC_FILES}`, STANDALONE_LAYOUT.environmentFile);
        const omnibus = backupEnvFile({ plan: gitlabPlan, stack: "test", bucket: "b", region: "eu-west-1", keepNewest: 3 });
        assert.doesNotMatch(omnibus, /^(PG|MM)_/m);
        assert.equal(text.startsWith(omnibus.trimEnd()), true, "the same file, with the standalone host's settings after it");
    });

    it("writes settings systemd reads as the tools do (EnvironmentFile= of the backup unit)", { skip: !existsSync(ENVIRONMENT_D_GENERATOR) && "systemd's environment.d generator is not installed" }, async () => {
        const text = backupEnvFile({ plan: standalonePlan, stack: "test", bucket: "b", region: "eu-west-1", keepNewest: 3 });
        const names = Object.keys(backupHostKind(standalonePlan).toolSettings);
        assert.deepEqual(await systemdReads(text, names), backupHostKind(standalonePlan).toolSettings);
    });

    it("BackupSchedule installs the tools, the standalone settings and the unit on the host, and MattermostRestore restores there", async () => {
        const run = await runProgramOffline(async () => {
            const schedule = new BackupSchedule("mattermost-backup", {
                plan: standalonePlan,
                backup: { ...settings, restoreFrom: "latest" },
                connection: { host: "192.0.2.20", user: "ubuntu", privateKey: "key" },
                instanceId: "i-mattermost",
                bucketName: BUCKET,
                region: "eu-west-1",
                after: [],
                enableTimersLater: true,
            });
            const restore = new MattermostRestore("mattermost-restore", { backup: "latest", connection: { host: "192.0.2.20", user: "ubuntu", privateKey: "key" }, dataVolumeId: "vol-1", after: [schedule.toolsReady] });
            schedule.enableTimers([restore.step]);
            return {};
        }, {});
        const installed = Object.fromEntries(
            run.resources
                .filter((r) => r.type === "command:remote:Command" && scriptOfCommand(String(r.inputs.create)) === "install-file.sh")
                .map((r) => [String(r.inputs.create).split(" ").slice(-2).join(" "), String(r.inputs.stdin)]),
        );
        assert.equal(installed["/usr/local/sbin/mattermost-backup 0755"], hostFile("tools/mattermost-backup.sh"));
        assert.equal(installed["/usr/local/sbin/mattermost-restore 0755"], hostFile("tools/mattermost-restore.sh"));
        assert.equal(installed["/usr/local/lib/gitlab-mattermost/backup-common.sh 0644"], hostFile("tools/backup-common.sh"));
        assert.match(installed[`${BACKUP_ENV_FILE} 0644`]!, /^MM_STOP_COMMAND=systemctl stop mattermost\.service$/m);
        assert.match(installed["/etc/systemd/system/mattermost-backup.service 0644"]!, /^After=network-online\.target mattermost\.service postgresql\.service$/m);
        const restore = command(run, "mattermost-restore");
        assert.equal(restore.inputs.create, "sudo /usr/local/sbin/mattermost-restore latest");
        assert.ok(command(run, "mattermost-backup-timers").dependsOn.includes("mattermost-restore"), "the timers wait for the restore");
    });
});
