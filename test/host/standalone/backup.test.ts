// The backup and restore tools (host/tools/) on a standalone Mattermost host: the same scripts as on
// Omnibus, with the settings file backupEnvFile writes for that host (components/backups/backupPlan.ts),
// its paths moved below a sandbox. Against a REAL PostgreSQL (test/support/postgres.ts) holding a
// Mattermost-like database owned by the standalone role `mmuser`, and a REAL S3-protocol server on
// 127.0.0.1 (test/support/s3.ts) reached through rclone.
//
// What only exists on the host is a RECORDING STAND-IN (test/support/standIns.ts): systemctl (stopping
// and starting "Mattermost" by a file that Mattermost's ping, a small HTTP server, reads), and for
// upgrade-mattermost.sh curl for the ping on 127.0.0.1:8065.

import assert from "node:assert/strict";
import { chmodSync, existsSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { BACKUP_ENV_FILE, MATTERMOST_RESTORE, TOOL_DIR, backupEnvFile, backupHostKind, backupJobs } from "../../../components/backups/backupPlan";
import { STANDALONE_DATABASE, STANDALONE_LAYOUT } from "../../../components/mattermost/standalone/hostLayout";
import { HOST_SCRIPT_DIR, hostFile } from "../../../components/omnibus/hostScripts";
import { DEFAULTS } from "../../../components/settings/settings";
import { planHosts } from "../../../components/settings/topology";
import { backupServices } from "../../support/backupServices";
import {
    MATTERMOST_DB_OWNER,
    TEST_SCALE,
    createMattermostDatabase,
    fileTreeHash,
    fingerprint,
    writeDataDirectory,
    mattermostState,
    writePluginDirectories,
    type MattermostState,
} from "../../support/mattermostFixture";
import { startPing, type PingServer } from "../../support/mattermostPing";
import { parseConfig, stackConfig } from "../../support/stackConfig";
import { Sandbox, filesIn, runProcess, sh, waitForFile, withSandbox, type RunResult } from "../../support/standIns";

const STANDALONE_PLAN = planHosts(parseConfig(stackConfig("split", { gitlab: { version: "19.3.0" }, mattermost: { mode: "standalone", version: "11.7.9" } })))[1]!;
const KIND = backupHostKind(STANDALONE_PLAN).toolSettings;
const FIXTURE_DB = "standalone_fixture";
const TIMEOUT_MS = 120_000;
const AS_ROOT = process.getuid?.() === 0;

function describeRun(result: RunResult): string {
    return `status ${result.status} signal ${result.signal}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;
}

const services = backupServices(async (cluster) => {
    // The fixture as the standalone host holds it: every object owned by its role, not Omnibus's.
    await cluster.sql("postgres", `CREATE ROLE ${STANDALONE_DATABASE.role} LOGIN`);
    await createMattermostDatabase(cluster, FIXTURE_DB, TEST_SCALE);
    await cluster.sql(FIXTURE_DB, `REASSIGN OWNED BY ${MATTERMOST_DB_OWNER} TO ${STANDALONE_DATABASE.role}`);
});

const databasesStartingWith = (prefix: string) => services.cluster.databasesStartingWith(prefix);

/**
 * A standalone Mattermost host in a sandbox: the database `mattermost` (a copy of the fixture), the
 * standalone layout below <sandbox>/host, the settings file backupEnvFile writes for it (paths below
 * the sandbox, the test cluster and bucket), systemctl as a stand-in and Mattermost's ping.
 */
class StandaloneHost {
    readonly root: string;
    readonly database = KIND.MM_DB!;
    readonly stack: string;
    readonly dataDir: string;
    readonly pluginDir: string;
    readonly clientPluginDir: string;
    readonly config: string;
    readonly etcDir: string;
    readonly stateDir: string;
    readonly envFile: string;
    readonly startedFile: string;
    ping!: PingServer;

    constructor(readonly sandbox: Sandbox, name: string) {
        this.root = sandbox.path("host");
        this.stack = `stack-${name}`;
        this.dataDir = this.root + KIND.MM_DATA_DIR!;
        this.pluginDir = this.root + KIND.MM_PLUGIN_DIR!;
        this.clientPluginDir = this.root + KIND.MM_CLIENT_PLUGIN_DIR!;
        this.config = this.root + KIND.MM_CONFIG!;
        this.etcDir = this.root + KIND.MM_ETC_DIR!;
        this.stateDir = sandbox.path("var/lib/gitlab-mattermost");
        this.envFile = this.root + BACKUP_ENV_FILE;
        this.startedFile = sandbox.path("mattermost-started");
    }

    static async create(sandbox: Sandbox, name: string): Promise<StandaloneHost> {
        const host = new StandaloneHost(sandbox, name);
        // The postgres account reads the dump from the tools' temporary directory.
        chmodSync(sandbox.root, 0o711);
        for (const database of await databasesStartingWith(host.database)) {
            await services.cluster.sql("postgres", `DROP DATABASE "${database}" WITH (FORCE)`);
        }
        await services.cluster.sql("postgres", `CREATE DATABASE "${host.database}" TEMPLATE ${FIXTURE_DB} OWNER ${STANDALONE_DATABASE.role}`);
        writeDataDirectory(host.dataDir);
        writePluginDirectories(join(host.root, STANDALONE_LAYOUT.dataRoot));
        sandbox.write(`host${STANDALONE_LAYOUT.configFile}`, '{"ServiceSettings":{"SiteURL":"https://chat.example.com"}}\n', 0o600);
        sandbox.write(`host${STANDALONE_LAYOUT.environmentFile}`, 'MM_SQLSETTINGS_ATRESTENCRYPTKEY="k1"\n', 0o600);
        writeFileSync(host.startedFile, "");
        host.ping = await startPing(host.startedFile);
        sandbox.standIn(
            "systemctl",
            `case "$*" in
"stop mattermost.service") rm -f ${sh(host.startedFile)} ;;
"start mattermost.service" | "restart mattermost.service") touch ${sh(host.startedFile)} ;;
*) echo "systemctl stand-in: unexpected $*" >&2; exit 64 ;;
esac`,
        );
        // The file the host gets, with what only differs in a sandbox replaced: paths, cluster, bucket.
        const moved = Object.fromEntries(["MM_DATA_DIR", "MM_CONFIG", "MM_PLUGIN_DIR", "MM_CLIENT_PLUGIN_DIR", "MM_ETC_DIR"].map((key) => [key, host.root + KIND[key]!]));
        const overrides: Record<string, string> = {
            BACKUP_REMOTE: services.s3.remote,
            ...services.s3.remoteSettings(),
            ...services.cluster.scriptEnv(),
            ...moved,
            BACKUP_IMDS_URL: services.imds.url,
            BACKUP_STATE_DIR: host.stateDir,
            MM_OWNER: AS_ROOT ? "nobody:nogroup" : "",
            MM_PING_URL: host.ping.url,
            MM_PING_INTERVAL: "0.2",
            MM_PING_TIMEOUT: "20",
        };
        const lines = backupEnvFile({ plan: STANDALONE_PLAN, stack: host.stack, bucket: "unused", region: "us-east-1", keepNewest: DEFAULTS.backup.keepNewest })
            .split("\n")
            .filter((line) => line !== "" && !(line.split("=")[0]! in overrides));
        sandbox.write(`host${BACKUP_ENV_FILE}`, [...lines, ...Object.entries(overrides).map(([key, value]) => `${key}=${value}`), ""].join("\n"));
        return host;
    }

    /** The environment of the tools: the settings file, and the shared file from the repository. */
    env(extra: Record<string, string> = {}): Record<string, string> {
        return { BACKUP_ENV_FILE: this.envFile, BACKUP_COMMON: join(HOST_SCRIPT_DIR, "tools", "backup-common.sh"), ...services.s3.credentialEnv(), ...extra };
    }

    async backup(): Promise<string> {
        const result = await this.sandbox.runScript("tools/mattermost-backup.sh", [], { env: this.env(), timeoutMs: TIMEOUT_MS });
        assert.equal(result.status, 0, describeRun(result));
        const timestamp = /backup (\d{8}T\d{6}Z) complete/.exec(result.stdout)?.[1];
        assert.ok(timestamp, result.stdout);
        return timestamp;
    }

    restore(which: string, env: Record<string, string> = {}): Promise<RunResult> {
        return this.sandbox.runScript("tools/mattermost-restore.sh", [which], { env: this.env(env), timeoutMs: TIMEOUT_MS });
    }

    state(): Promise<MattermostState> {
        return mattermostState(services.cluster, this);
    }

    systemctlCalls(): string[] {
        return this.sandbox.calls("systemctl").map((call) => call.argv.join(" "));
    }

    objects(): Promise<string[]> {
        return services.s3.filesUnder(`${this.stack}/`);
    }
}

async function withHost(name: string, body: (host: StandaloneHost) => Promise<void>): Promise<void> {
    await withSandbox(async (sandbox) => {
        const host = await StandaloneHost.create(sandbox, name);
        try {
            await body(host);
        } finally {
            await host.ping.close();
        }
    });
}

/** Changes everything a restore gives back, as a day of use after the backup would. */
async function changeSinceBackup(host: StandaloneHost): Promise<void> {
    await services.cluster.sql(host.database, "DELETE FROM posts WHERE createat % 3 = 0; UPDATE users SET nickname = 'changed since'; DROP INDEX idx_posts_message_txt;");
    rmSync(join(host.dataDir, "users"), { recursive: true });
    writeFileSync(host.config, '{"changed":true}\n');
    rmSync(join(host.clientPluginDir, "com.example.standup"), { recursive: true });
    writeFileSync(join(host.pluginDir, "com.example.standup", "plugin.json"), '{"id": "com.example.standup", "version": "9.9.9"}\n');
}

/** Rolled back after the swap: the previous database and files serve again, the restored ones are aside. */
async function assertRolledBackAfterSwap(host: StandaloneHost, result: RunResult, before: MattermostState): Promise<void> {
    assert.match(result.stderr, /restore FAILED after the swap began; rolled back: .*database mattermost.* are the previous ones again/, describeRun(result));
    assert.deepEqual(await host.state(), before, "the previous database, files, plugins and config.json are live again");
    const [failed] = await databasesStartingWith(`${host.database}_failed_restore_`);
    assert.ok(failed, "the restored database is kept aside");
    assert.deepEqual(await databasesStartingWith(host.database), [host.database, failed]);
    assert.deepEqual(host.systemctlCalls(), ["stop mattermost.service", "start mattermost.service", "stop mattermost.service", "start mattermost.service"]);
    assert.ok(existsSync(host.startedFile), "Mattermost runs");
    assert.deepEqual(filesIn(host.sandbox.tmp), []);
    assert.deepEqual(filesIn(host.etcDir), ["mattermost.env"], "no copy of the backup's secrets is left");
}

describe("backup and restore on a standalone Mattermost host", () => {
    test("round trip: posts, files, plugins and config.json come back identical, owned by mmuser; systemctl stops and starts Mattermost", () =>
        withHost("round-trip", async (host) => {
            const backedUp = await host.state();
            assert.ok(backedUp.database.schema.includes(`database owner ${STANDALONE_DATABASE.role}`));
            const timestamp = await host.backup();
            const names = ["config.json", "manifest.txt", "mattermost-client-plugins.tar.gz", "mattermost-data.tar.gz", "mattermost-etc.tar.gz", "mattermost-plugins.tar.gz", "mattermost.dump.zst"];
            assert.deepEqual(await host.objects(), [...names.map((name) => `mattermost/${timestamp}/${name}`), "mattermost/last-success.txt"]);
            assert.deepEqual(host.systemctlCalls(), [], "a backup leaves Mattermost running");

            await changeSinceBackup(host);
            writeFileSync(join(host.etcDir, "mattermost.env"), 'MM_SQLSETTINGS_ATRESTENCRYPTKEY="changed since"\n');
            const changed = await host.state();
            assert.notDeepEqual(changed.database.tables, backedUp.database.tables);

            const result = await host.restore("latest");
            assert.equal(result.status, 0, describeRun(result));
            assert.deepEqual(await host.state(), backedUp, "tables, owners, indexes, files, plugins and config.json are as backed up");
            assert.deepEqual(host.systemctlCalls(), ["stop mattermost.service", "start mattermost.service"]);
            assert.ok(host.ping.requests.length > 0 && host.ping.requests.every((started) => started), "pinged, and only after the start");

            const [previous] = await databasesStartingWith(`${host.database}_before_restore_`);
            assert.ok(previous, "the previous database is kept");
            const stamp = previous.slice(`${host.database}_before_restore_`.length);
            assert.deepEqual((await fingerprint(services.cluster, previous)).tables, changed.database.tables);
            assert.equal(fileTreeHash(`${host.dataDir}.before-restore-${stamp}`), changed.files);
            assert.equal(readFileSync(`${host.config}.before-restore-${stamp}`, "utf8"), '{"changed":true}\n');
            // Printed commands are the standalone host's way to the superuser.
            assert.ok(result.stdout.includes(`sudo -u postgres psql -d postgres -c 'DROP DATABASE "${previous}"'`), result.stdout);
            // The environment file is not overwritten: the backed-up copy is put aside.
            assert.equal(readFileSync(join(host.etcDir, `mattermost-restore-${stamp}`, "mattermost.env"), "utf8"), 'MM_SQLSETTINGS_ATRESTENCRYPTKEY="k1"\n');
            assert.equal(readFileSync(join(host.etcDir, "mattermost.env"), "utf8"), 'MM_SQLSETTINGS_ATRESTENCRYPTKEY="changed since"\n');
            assert.match(result.stdout, /mattermost\.env from the backup are in .*, NOT installed\.\n.*compare it with \/etc\/mattermost\/mattermost\.env/);
            assert.deepEqual(filesIn(host.sandbox.tmp), []);
        }));

    test("a replaced instance before its settings step: the upgrade's backup holds no environment file, and restores without one", () =>
        withHost("replaced", async (host) => {
            const backedUp = await host.state();
            rmSync(join(host.etcDir, "mattermost.env"));
            const refused = await host.sandbox.runScript("tools/mattermost-backup.sh", [], { env: host.env(), timeoutMs: TIMEOUT_MS });
            assert.equal(refused.status, 1, describeRun(refused));
            assert.match(refused.stderr, /mattermost\/mattermost\.env is missing; nothing was uploaded/);
            assert.deepEqual(await host.objects(), [], "nothing uploaded");

            const made = await host.sandbox.runScript("tools/mattermost-backup.sh", [], { env: host.env({ BACKUP_ETC_MAY_BE_ABSENT: "yes" }), timeoutMs: TIMEOUT_MS });
            assert.equal(made.status, 0, describeRun(made));
            assert.match(made.stdout, /mattermost\.env is not on this host yet: this backup holds no copy of it/);
            const timestamp = /backup (\d{8}T\d{6}Z) complete/.exec(made.stdout)![1]!;

            await changeSinceBackup(host);
            const result = await host.restore(timestamp);
            assert.equal(result.status, 0, describeRun(result));
            assert.deepEqual(await host.state(), backedUp, "the database, files, plugins and config.json are as backed up");
            assert.match(result.stdout, /the backup holds no copy of mattermost\.env: it was made on a replaced instance before its settings were installed/);
            assert.doesNotMatch(result.stdout, /NOT installed/);
        }));

    test("an error after the swap (Mattermost never answers): rolled back, Mattermost started again on its previous data", () =>
        withHost("never-answers", async (host) => {
            const timestamp = await host.backup();
            await changeSinceBackup(host);
            const before = await host.state();
            const result = await host.restore(timestamp, { MM_PING_URL: "http://127.0.0.1:9/api/v4/system/ping", MM_PING_TIMEOUT: "1" });
            assert.equal(result.status, 1, describeRun(result));
            assert.match(result.stderr, /Mattermost did not answer "status":"OK" at http:\/\/127\.0\.0\.1:9\/api\/v4\/system\/ping within 1s/);
            await assertRolledBackAfterSwap(host, result, before);
        }));

    test("a real SIGTERM to the whole run while it waits for Mattermost after the swap: rolled back, FAILED, previous data serving", () =>
        withHost("sigterm", async (host) => {
            const timestamp = await host.backup();
            await changeSinceBackup(host);
            const before = await host.state();
            const started = host.sandbox.path("started-after-swap");
            host.sandbox.standIn(
                "systemctl",
                `case "$*" in
"stop mattermost.service") rm -f ${sh(host.startedFile)} ;;
"start mattermost.service") touch ${sh(host.startedFile)} ${sh(started)} ;;
*) exit 64 ;;
esac`,
            );
            const running = host.sandbox.start("tools/mattermost-restore.sh", [timestamp], {
                env: host.env({ MM_PING_URL: "http://127.0.0.1:9/api/v4/system/ping", MM_PING_TIMEOUT: "90" }),
                timeoutMs: TIMEOUT_MS,
            });
            await waitForFile(started, 60_000);
            running.signal("SIGTERM");
            const result = await running.done;
            assert.equal(result.status, 143, describeRun(result));
            assert.match(result.stderr, /mattermost-restore: FAILED \(ended by SIGTERM\)/);
            await assertRolledBackAfterSwap(host, result, before);
            // A re-run restores, on the previous data as it was left.
            host.sandbox.standIn("systemctl", `case "$*" in "stop mattermost.service") rm -f ${sh(host.startedFile)} ;; "start mattermost.service") touch ${sh(host.startedFile)} ;; esac`);
            const again = await host.restore(timestamp);
            assert.equal(again.status, 0, describeRun(again));
        }));
});

describe("upgrade-mattermost.sh on a standalone host backs up through the installed mattermost-backup", () => {
    test("the backup reaches the bucket, with the standalone database and files, before the release is switched", () =>
        withHost("upgrade", async (host) => {
            // The tool where BackupSchedule installs it, under its command's name, on PATH as on the host.
            const [job] = backupJobs(STANDALONE_PLAN);
            assert.equal(`${TOOL_DIR}/${job!.command}`, "/usr/local/sbin/mattermost-backup");
            host.sandbox.write(`bin/${job!.command}`, hostFile(job!.source), 0o755);
            host.sandbox.write("host/opt/mattermost-11.7.3/bin/mattermost", "#!/bin/sh\n", 0o755);
            host.sandbox.write("host/opt/mattermost-11.7.9/bin/mattermost", "#!/bin/sh\n", 0o755);
            symlinkSync("mattermost-11.7.3", join(host.root, "opt/mattermost"));
            // Only Mattermost's ping answers from this stand-in; anything else reaches the real curl.
            const realCurl = (await runProcess("bash", ["-c", "command -v curl"])).stdout.trim();
            host.sandbox.standIn("curl", `case "$*" in *127.0.0.1:8065/api/v4/system/ping*) exit 0 ;; esac\nexec ${sh(realCurl)} "$@"`);

            const result = await host.sandbox.runScript("standalone/upgrade-mattermost.sh", ["11.7.9", "enterprise", "5"], {
                env: host.env({ MATTERMOST_HOST_ROOT: host.root, PING_POLL_SECONDS: "0" }),
                timeoutMs: TIMEOUT_MS,
            });
            assert.equal(result.status, 0, describeRun(result));
            const timestamp = /mattermost-backup: backup (\d{8}T\d{6}Z) complete/.exec(result.stdout)?.[1];
            assert.ok(timestamp, result.stdout);
            assert.ok(result.stdout.indexOf("backup " + timestamp + " complete") < result.stdout.indexOf("now runs mattermost-11.7.9"), "backed up before the switch");
            const objects = await host.objects();
            assert.ok(objects.includes(`mattermost/${timestamp}/manifest.txt`) && objects.includes(`mattermost/${timestamp}/mattermost-etc.tar.gz`), objects.join("\n"));
            assert.deepEqual(host.systemctlCalls(), ["restart mattermost.service"]);
            // The dump is the standalone database's: restoring it brings back what the host held.
            const before = await host.state();
            await changeSinceBackup(host);
            const restored = await host.sandbox.runScript(MATTERMOST_RESTORE.source, [timestamp], { env: host.env(), timeoutMs: TIMEOUT_MS });
            assert.equal(restored.status, 0, describeRun(restored));
            assert.deepEqual(await host.state(), before);
        }));

    test("a failing backup stops the upgrade before the switch", () =>
        withHost("upgrade-backup-fails", async (host) => {
            const [job] = backupJobs(STANDALONE_PLAN);
            host.sandbox.write(`bin/${job!.command}`, hostFile(job!.source), 0o755);
            host.sandbox.write("host/opt/mattermost-11.7.3/bin/mattermost", "#!/bin/sh\n", 0o755);
            host.sandbox.write("host/opt/mattermost-11.7.9/bin/mattermost", "#!/bin/sh\n", 0o755);
            symlinkSync("mattermost-11.7.3", join(host.root, "opt/mattermost"));
            await services.cluster.sql("postgres", `ALTER DATABASE "${host.database}" RENAME TO "${host.database}_elsewhere"`);
            try {
                const result = await host.sandbox.runScript("standalone/upgrade-mattermost.sh", ["11.7.9", "enterprise", "5"], {
                    env: host.env({ MATTERMOST_HOST_ROOT: host.root, PING_POLL_SECONDS: "0" }),
                    timeoutMs: TIMEOUT_MS,
                });
                assert.equal(result.status, 1, describeRun(result));
                assert.match(result.stderr, /mattermost-backup: FAILED/);
                assert.match(result.stderr, /upgrade-mattermost: FAILED \(exit status 1\): the backup before the upgrade failed; nothing was changed/);
                assert.equal(readlinkSync(join(host.root, "opt/mattermost")), "mattermost-11.7.3", "the release is not switched");
                assert.deepEqual(host.systemctlCalls(), []);
                assert.deepEqual(await host.objects(), [], "nothing uploaded");
            } finally {
                await services.cluster.sql("postgres", `ALTER DATABASE "${host.database}_elsewhere" RENAME TO "${host.database}"`);
            }
        }));
});
