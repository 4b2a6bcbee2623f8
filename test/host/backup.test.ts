// Tests for host/tools/mattermost-backup.sh, mattermost-restore.sh and gitlab-full-backup.sh against a
// REAL PostgreSQL (Debian's package, a throw-away cluster on a Unix socket: test/support/postgres.ts)
// and a REAL S3-protocol server on 127.0.0.1 (s3rver: test/support/s3.ts), reached through rclone as
// on the hosts. The database is Mattermost-like (test/support/mattermostFixture.ts).
//
// What only exists on a GitLab host is a RECORDING STAND-IN (test/support/standIns.ts): gitlab-ctl
// (stopping and starting Mattermost, backup-etc), gitlab-backup, and in two cases pg_restore or rclone
// wrapping the real program. Mattermost's ping is a small HTTP server on 127.0.0.1 that answers
// "status":"OK" only while the gitlab-ctl stand-in says Mattermost is started.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { HOST_SCRIPT_DIR } from "../../components/omnibus/hostScripts";
import {
    createMattermostDatabase,
    fileTreeHash,
    fingerprint,
    MATTERMOST_DB_OWNER,
    TEST_SCALE,
    writeDataDirectory,
    mattermostState,
    writePluginDirectories,
    type MattermostState,
} from "../support/mattermostFixture";
import { gitlabCtlMattermostBody, startPing, type PingServer } from "../support/mattermostPing";
import { EXPIRABLE_TAG } from "../../components/backups/backupPlan";
import { DEFAULTS } from "../../components/settings/settings";
import { backupServices } from "../support/backupServices";
import { TEST_KEYS } from "../support/s3";
import { filesIn, runProcess, sh, signalWhenReady, type RunResult, Sandbox, type SignalTarget, withSandbox } from "../support/standIns";

const FIXTURE_DB = "mattermost_fixture";
const TIMESTAMP = /^\d{8}T\d{6}Z$/;
const AS_ROOT = process.getuid?.() === 0;
const SCRIPT_TIMEOUT_MS = 120_000;
/** What a Mattermost home holds: the paths a restore replaces. */
const LIVE_FILES = ["client-plugins", "config.json", "data", "plugins"];
/** The tools' shared file, from the repository rather than where hosts install it. */
const BACKUP_COMMON = join(HOST_SCRIPT_DIR, "tools", "backup-common.sh");

function describeRun(result: RunResult): string {
    return `status ${result.status}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;
}

function sha256(content: Buffer | string): string {
    return createHash("sha256").update(content).digest("hex");
}

let realRclone: string;
/** The tag the tools put on what the lifecycle may expire, as BACKUP_EXPIRABLE_TAG carries it. */
const EXPIRABLE = `${EXPIRABLE_TAG.key}=${EXPIRABLE_TAG.value}`;
/** What the hosts' env file says about retention, as backupEnvFile writes it, and where IMDS is. */
function retentionSettings(): Record<string, string> {
    return { BACKUP_KEEP_NEWEST: String(DEFAULTS.backup.keepNewest), BACKUP_EXPIRABLE_TAG: EXPIRABLE, BACKUP_IMDS_URL: services.imds.url };
}

before(async () => {
    const which = await runProcess("bash", ["-c", "command -v rclone"]);
    assert.equal(which.status, 0, "rclone is not installed (Debian package rclone)");
    realRclone = which.stdout.trim();
});

const services = backupServices((cluster) => createMattermostDatabase(cluster, FIXTURE_DB, TEST_SCALE));

const databasesStartingWith = (prefix: string) => services.cluster.databasesStartingWith(prefix);

/** Files under <stack>/ in the bucket, as `relative/path` lines. */
const objectsOf = (stack: string) => services.s3.filesUnder(`${stack}/`);

async function downloadObject(path: string, to: string): Promise<Buffer> {
    const result = await services.s3.rclone(["copyto", services.s3.path(path), to]);
    assert.equal(result.status, 0, describeRun(result));
    return readFileSync(to);
}

async function uploadObject(path: string, from: string): Promise<void> {
    const result = await services.s3.rclone(["copyto", from, services.s3.path(path)]);
    assert.equal(result.status, 0, describeRun(result));
}

/** A backup's record of its last success in the bucket: its content and the type S3 serves it as. */
async function recordedSuccess(folder: string): Promise<{ content: string; mimeType: string }> {
    const result = await services.s3.rclone(["lsjson", services.s3.path(`${folder}/last-success.txt`)]);
    assert.equal(result.status, 0, describeRun(result));
    const [entry] = JSON.parse(result.stdout) as { MimeType: string }[];
    const content = await services.s3.rclone(["cat", services.s3.path(`${folder}/last-success.txt`)]);
    assert.equal(content.status, 0, describeRun(content));
    return { content: content.stdout, mimeType: entry!.MimeType };
}

interface ManifestEntry {
    sha256: string;
    size: number;
    name: string;
}

function parseManifest(text: string): ManifestEntry[] {
    return text
        .split("\n")
        .filter((line) => line !== "" && !line.startsWith("#"))
        .map((line) => {
            const [sum, size, name] = line.split(" ");
            return { sha256: sum!, size: Number(size), name: name! };
        });
}

/**
 * One Mattermost host in a sandbox: its own live database (a copy of the fixture), MM_HOME with a
 * data directory and config.json, /etc/gitlab, the env file the scripts share, a gitlab-ctl stand-in
 * that stops and starts "Mattermost", a recording wrapper around the real rclone, and a ping server.
 */
class MattermostHost {
    readonly database: string;
    readonly stack: string;
    readonly home: string;
    readonly dataDir: string;
    readonly config: string;
    readonly pluginDir: string;
    readonly clientPluginDir: string;
    readonly etc: string;
    readonly stateDir: string;
    readonly envFile: string;
    readonly startedFile: string;
    readonly owner = AS_ROOT ? "nobody:nogroup" : "";
    ping!: PingServer;

    constructor(
        readonly sandbox: Sandbox,
        readonly name: string,
    ) {
        this.database = `mm_${name.replace(/-/g, "_")}`;
        this.stack = `stack-${name}`;
        this.home = sandbox.path("var/opt/gitlab/mattermost");
        this.dataDir = join(this.home, "data");
        this.config = join(this.home, "config.json");
        this.pluginDir = join(this.home, "plugins");
        this.clientPluginDir = join(this.home, "client-plugins");
        this.etc = sandbox.path("etc/gitlab");
        this.stateDir = sandbox.path("var/lib/gitlab-mattermost");
        this.envFile = sandbox.path("etc/gitlab-mattermost/backup.env");
        this.startedFile = sandbox.path("mattermost-started");
    }

    static async create(sandbox: Sandbox, name: string): Promise<MattermostHost> {
        const host = new MattermostHost(sandbox, name);
        // The database superuser's account reads the dump from the scripts' temp dir (as under /tmp).
        chmodSync(sandbox.root, 0o711);
        await services.cluster.sql("postgres", `CREATE DATABASE "${host.database}" TEMPLATE ${FIXTURE_DB} OWNER ${MATTERMOST_DB_OWNER}`);
        writeDataDirectory(host.dataDir);
        writePluginDirectories(host.home);
        sandbox.write("var/opt/gitlab/mattermost/config.json", '{"ServiceSettings":{"SiteURL":"https://mm.example.com"},"SqlSettings":{"AtRestEncryptKey":"k1"}}\n', 0o600);
        sandbox.write("etc/gitlab/gitlab-secrets.json", '{"mattermost":{"sql_at_rest_encrypt_key":"k1"}}\n', 0o600);
        sandbox.write("etc/gitlab/gitlab.rb", "external_url 'https://gitlab.example.com'\n", 0o600);
        writeFileSync(host.startedFile, "");
        host.ping = await startPing(host.startedFile);
        sandbox.standIn("gitlab-ctl", gitlabCtlMattermostBody(host.startedFile, sh));
        host.useRclone(`exec ${sh(realRclone)} "$@"`);
        const settings: Record<string, string> = {
            BACKUP_REMOTE: services.s3.remote,
            BACKUP_STACK: host.stack,
            ...retentionSettings(),
            ...services.s3.remoteSettings(),
            ...services.cluster.scriptEnv(),
            MM_DB: host.database,
            MM_HOME: host.home,
            MM_OWNER: host.owner,
            GITLAB_ETC_DIR: host.etc,
            BACKUP_STATE_DIR: host.stateDir,
            MM_STOP_COMMAND: `${join(sandbox.bin, "gitlab-ctl")} stop mattermost`,
            MM_START_COMMAND: `${join(sandbox.bin, "gitlab-ctl")} start mattermost`,
            MM_PING_URL: host.ping.url,
            MM_PING_INTERVAL: "0.2",
            MM_PING_TIMEOUT: "20",
        };
        sandbox.write(
            "etc/gitlab-mattermost/backup.env",
            `# written by test/host/backup.test.ts; no secrets\n${Object.entries(settings)
                .map(([key, value]) => `${key}=${value}`)
                .join("\n")}\n`,
        );
        return host;
    }

    /** Replaces the rclone on PATH with a recording stand-in with this body. */
    useRclone(body: string): void {
        this.sandbox.standIn("rclone", body);
    }

    /** What the tools run with: this host's env file, the shared file and the bucket's credentials. */
    toolEnv(env: Record<string, string> = {}): Record<string, string> {
        return { BACKUP_ENV_FILE: this.envFile, BACKUP_COMMON, ...services.s3.credentialEnv(), ...env };
    }

    run(script: string, args: string[] = [], env: Record<string, string> = {}): Promise<RunResult> {
        return this.sandbox.runScript(script, args, { env: this.toolEnv(env), timeoutMs: SCRIPT_TIMEOUT_MS });
    }

    async backup(env: Record<string, string> = {}): Promise<{ result: RunResult; timestamp: string }> {
        const result = await this.run("tools/mattermost-backup.sh", [], env);
        const timestamp = /backup (\d{8}T\d{6}Z) complete/.exec(result.stdout)?.[1] ?? "";
        return { result, timestamp };
    }

    /** Backs up and asserts success; returns the backup's timestamp. */
    async backupOk(): Promise<string> {
        const { result, timestamp } = await this.backup();
        assert.equal(result.status, 0, describeRun(result));
        assert.match(timestamp, TIMESTAMP);
        return timestamp;
    }

    restore(which: string, env: Record<string, string> = {}): Promise<RunResult> {
        return this.run("tools/mattermost-restore.sh", [which], env);
    }

    /** Everything a restore must give back. */
    state(): Promise<MattermostState> {
        return mattermostState(services.cluster, this);
    }

    gitlabCtlCalls(): string[] {
        return this.sandbox.calls("gitlab-ctl").map((call) => call.argv.join(" "));
    }

    /** The path of a backup's file in the bucket. */
    backupPath(timestamp: string, name: string): string {
        return `${this.stack}/mattermost/${timestamp}/${name}`;
    }

    async close(): Promise<void> {
        await this.ping.close();
    }
}

async function withHost(name: string, body: (host: MattermostHost) => Promise<void>): Promise<void> {
    await withSandbox(async (sandbox) => {
        const host = await MattermostHost.create(sandbox, name);
        try {
            await body(host);
        } finally {
            await host.close();
        }
    });
}

/** The restore refused before touching anything: Mattermost never stopped, nothing changed. */
async function assertUntouched(host: MattermostHost, result: RunResult, before: Awaited<ReturnType<MattermostHost["state"]>>): Promise<void> {
    assert.notEqual(result.status, 0, describeRun(result));
    assert.deepEqual(host.gitlabCtlCalls(), [], "the stop command was never called");
    assert.deepEqual(await host.state(), before, "live database, directories and config.json are intact");
    assert.deepEqual(await databasesStartingWith(host.database), [host.database], "no other database was created");
    assert.deepEqual(filesIn(host.home), LIVE_FILES, "nothing was staged beside the live files");
    assert.deepEqual(filesIn(host.sandbox.tmp), [], "the downloaded files were removed");
}

// ---------------------------------------------------------------------------------------------------
describe("tools/mattermost-backup.sh", () => {
    test("uploads the dump, the archives and config.json, then the manifest LAST, under <stack>/mattermost/<ts>/", () =>
        withHost("backup-layout", async (host) => {
            const timestamp = await host.backupOk();
            const names = ["config.json", "gitlab-etc.tar.gz", "manifest.txt", "mattermost-client-plugins.tar.gz", "mattermost-data.tar.gz", "mattermost-plugins.tar.gz", "mattermost.dump.zst"];
            assert.deepEqual(await objectsOf(host.stack), [...names.map((name) => `mattermost/${timestamp}/${name}`), "mattermost/last-success.txt"]);

            const uploads = host.sandbox.calls("rclone").map((call) => call.argv).filter((argv) => argv[0] !== "lsf");
            assert.deepEqual(
                uploads.map((argv) => [argv[0], argv.at(-1)]),
                [
                    ["copy", `${services.s3.remote}/${host.stack}/mattermost/${timestamp}`],
                    ["copyto", `${services.s3.remote}/${host.backupPath(timestamp, "manifest.txt")}`],
                    ["rcat", `${services.s3.remote}/${host.stack}/mattermost/last-success.txt`],
                ],
                "the files go up first, then the manifest, then the record of success",
            );
            assert.deepEqual(await recordedSuccess(`${host.stack}/mattermost`), { content: `${timestamp}\n`, mimeType: "text/plain; charset=utf-8" });

            const manifestText = (await downloadObject(host.backupPath(timestamp, "manifest.txt"), host.sandbox.path("manifest.txt"))).toString("utf8");
            const manifest = parseManifest(manifestText);
            assert.deepEqual(manifest.map((entry) => entry.name).sort(), names.filter((name) => name !== "manifest.txt"));
            for (const entry of manifest) {
                const content = await downloadObject(host.backupPath(timestamp, entry.name), host.sandbox.path("check", entry.name));
                assert.equal(content.length, entry.size, `size of ${entry.name}`);
                assert.equal(sha256(content), entry.sha256, `sha256 of ${entry.name}`);
            }
            assert.deepEqual(readFileSync(host.sandbox.path("check", "config.json")), readFileSync(host.config));

            const frame = await runProcess("zstd", ["--list", "--verbose", host.sandbox.path("check", "mattermost.dump.zst")]);
            assert.match(frame.stdout, /^Window Size: 4\.00 MiB /m, describeRun(frame));
            const unpacked = await runProcess("zstd", ["--quiet", "--decompress", host.sandbox.path("check", "mattermost.dump.zst")]);
            assert.equal(unpacked.status, 0, describeRun(unpacked));
            const toc = await runProcess(join(services.cluster.bin, "pg_restore"), ["--list", host.sandbox.path("check", "mattermost.dump")]);
            assert.equal(toc.status, 0, describeRun(toc));
            assert.match(toc.stdout, /Format: CUSTOM/);
            assert.match(toc.stdout, /Compression: 0/, "pg_dump leaves the compression to zstd");
            assert.match(toc.stdout, /TABLE DATA public posts /);
            assert.match(toc.stdout, /INDEX public idx_posts_message_txt /);

            const listing = async (archive: string) =>
                (await runProcess("tar", ["--list", "--gzip", "--file", host.sandbox.path("check", archive)])).stdout.split("\n").filter((line) => line !== "").sort();
            assert.deepEqual(await listing("gitlab-etc.tar.gz"), ["gitlab-secrets.json", "gitlab.rb"]);
            assert.ok((await listing("mattermost-plugins.tar.gz")).includes("./com.example.standup/server/dist/plugin-linux-amd64"));
            assert.ok((await listing("mattermost-client-plugins.tar.gz")).includes("./com.example.standup/com.example.standup_0123abcd_bundle.js"));

            assert.equal(readFileSync(join(host.stateDir, "mattermost-backup.last-success"), "utf8"), `${timestamp}\n`);
            assert.deepEqual(filesIn(host.sandbox.tmp), [], "local temp files are removed");
        }));

    test("a database that does not exist: non-zero exit, nothing uploaded, no last-success", () =>
        withHost("backup-wrong-db", async (host) => {
            const { result } = await host.backup({ MM_DB: "no_such_database" });
            assert.notEqual(result.status, 0, describeRun(result));
            assert.match(result.stderr, /database "no_such_database" does not exist/);
            assert.deepEqual(await objectsOf(host.stack), []);
            assert.equal(existsSync(join(host.stateDir, "mattermost-backup.last-success")), false);
            assert.deepEqual(filesIn(host.sandbox.tmp), []);
        }));

    test("the server is stopped: non-zero exit, nothing uploaded", () =>
        withHost("backup-server-down", async (host) => {
            await services.cluster.stop();
            let result: RunResult;
            try {
                result = (await host.backup()).result;
            } finally {
                await services.cluster.start();
            }
            assert.notEqual(result.status, 0, describeRun(result));
            assert.match(result.stderr, /connection to server on socket .* failed/);
            assert.deepEqual(await objectsOf(host.stack), []);
            assert.deepEqual(filesIn(host.sandbox.tmp), []);
        }));

    test("an upload that fails midway leaves no manifest; restore latest skips that backup", () =>
        withHost("backup-upload-fails", async (host) => {
            const complete = await host.backupOk();
            // Timestamps have one-second resolution; the failing backup must be a newer one.
            await new Promise((resolve) => setTimeout(resolve, 1100));
            // Uploads every file but config.json, then fails, as an interrupted transfer would.
            host.useRclone(`if [ "$1" = copy ]; then
    ${sh(realRclone)} "$@" --exclude config.json
    echo "rclone stand-in: upload of config.json failed" >&2
    exit 1
fi
exec ${sh(realRclone)} "$@"`);
            const failed = await host.backup();
            assert.notEqual(failed.result.status, 0, describeRun(failed.result));
            const objects = await objectsOf(host.stack);
            const incomplete = objects.filter((path) => !path.startsWith(`mattermost/${complete}/`) && path !== "mattermost/last-success.txt");
            assert.ok(incomplete.some((path) => path.endsWith("/mattermost.dump.zst")), `the dump went up before the failure: ${objects.join(", ")}`);
            assert.ok(!incomplete.some((path) => path.endsWith("/manifest.txt")), "no manifest for the failed backup");
            assert.equal(readFileSync(join(host.stateDir, "mattermost-backup.last-success"), "utf8"), `${complete}\n`);
            assert.equal((await recordedSuccess(`${host.stack}/mattermost`)).content, `${complete}\n`, "the bucket still names the complete backup");

            host.useRclone(`exec ${sh(realRclone)} "$@"`);
            const restored = await host.restore("latest");
            assert.equal(restored.status, 0, describeRun(restored));
            const skipped = incomplete[0]!.split("/")[1]!;
            assert.match(restored.stdout, new RegExp(`skipping ${skipped}: it has no manifest`));
            assert.match(restored.stdout, new RegExp(`restore of backup ${complete} complete`));
        }));

    test("the backup is up but its record in the bucket fails: non-zero exit that says so", () =>
        withHost("backup-record-fails", async (host) => {
            host.useRclone(`if [ "$1" = rcat ]; then
    cat >/dev/null
    echo "rclone stand-in: rcat refused" >&2
    exit 1
fi
exec ${sh(realRclone)} "$@"`);
            const { result } = await host.backup();
            assert.notEqual(result.status, 0, describeRun(result));
            const timestamp = readFileSync(join(host.stateDir, "mattermost-backup.last-success"), "utf8").trim();
            assert.match(result.stderr, new RegExp(`backup ${timestamp} is complete, but recording it as .*/${host.stack}/mattermost/last-success\\.txt failed`));
            assert.ok((await objectsOf(host.stack)).includes(`mattermost/${timestamp}/manifest.txt`), "the backup itself is complete");
        }));

    test("settings: the environment overrides the env file; a malformed line is refused", () =>
        withHost("backup-settings", async (host) => {
            const original = readFileSync(host.envFile, "utf8");
            writeFileSync(host.envFile, original.replace(`MM_DB=${host.database}\n`, "") + "MM_DB='no_such_database'\n");
            const overridden = await host.backup({ MM_DB: host.database, BACKUP_ZSTD_LEVEL: "1" });
            assert.equal(overridden.result.status, 0, describeRun(overridden.result));
            assert.match(overridden.result.stdout, new RegExp(`dumping database ${host.database}: pg_dump --format=custom --compress=0 \\| zstd -T0 -1 --zstd=wlog=22,mml=6$`, "m"));
            // Level 1's own window is 512 KiB: the 4 MiB one holds at any level.
            await downloadObject(host.backupPath(overridden.timestamp, "mattermost.dump.zst"), host.sandbox.path("level-1.dump.zst"));
            const frame = await runProcess("zstd", ["--list", "--verbose", host.sandbox.path("level-1.dump.zst")]);
            assert.match(frame.stdout, /^Window Size: 4\.00 MiB /m, describeRun(frame));

            const fromFile = await host.backup();
            assert.notEqual(fromFile.result.status, 0);
            assert.match(fromFile.result.stderr, /database "no_such_database" does not exist/, "quotes around a value are removed");

            writeFileSync(host.envFile, `${original}export MM_DB=x\n`);
            const malformed = await host.backup();
            assert.notEqual(malformed.result.status, 0);
            assert.match(malformed.result.stderr, /backup\.env line \d+ is not KEY=value/);
        }));
});

// ---------------------------------------------------------------------------------------------------
describe("tools/mattermost-restore.sh: round trips", () => {
    test("backup, damage, restore latest: identical tables, files and config; the old ones kept; Mattermost restarted", () =>
        withHost("round-trip", async (host) => {
            const backedUp = await host.state();
            const timestamp = await host.backupOk();
            const etcAtBackup = readFileSync(join(host.etc, "gitlab-secrets.json"), "utf8");

            await services.cluster.sql(
                host.database,
                `DELETE FROM posts WHERE createat % 3 = 0;
                 UPDATE users SET nickname = 'damaged';
                 INSERT INTO systems VALUES ('Damaged', 'yes');
                 DROP INDEX idx_posts_message_txt;
                 CREATE TEMP TABLE newer AS SELECT * FROM posts LIMIT 3;
                 UPDATE newer SET id = left(md5(id), 26), createat = (extract(epoch FROM now()) * 1000)::bigint + 1000;
                 INSERT INTO posts SELECT * FROM newer;`,
            );
            rmSync(join(host.dataDir, "users"), { recursive: true });
            writeFileSync(join(host.dataDir, "20260101", "stray.txt"), "created after the backup\n");
            writeFileSync(host.config, '{"damaged":true}\n');
            rmSync(join(host.clientPluginDir, "com.example.standup"), { recursive: true });
            writeFileSync(join(host.pluginDir, "com.example.standup", "plugin.json"), '{"id": "com.example.standup", "version": "9.9.9"}\n');
            writeFileSync(join(host.etc, "gitlab-secrets.json"), '{"mattermost":{"sql_at_rest_encrypt_key":"changed since"}}\n');
            const damaged = await host.state();
            assert.notDeepEqual(damaged.database.tables, backedUp.database.tables);
            assert.notEqual(damaged.files, backedUp.files);
            assert.notEqual(damaged.plugins, backedUp.plugins);
            assert.notEqual(damaged.clientPlugins, backedUp.clientPlugins);

            const result = await host.restore("latest");
            assert.equal(result.status, 0, describeRun(result));
            assert.deepEqual(await host.state(), backedUp, "tables, schema, data and plugin directories and config.json are as backed up");

            assert.deepEqual(host.gitlabCtlCalls(), ["stop mattermost", "start mattermost"]);
            assert.ok(host.ping.requests.length > 0 && host.ping.requests.every((started) => started), "pinged, and only after the start");
            // The database is built while Mattermost runs; it is stopped only for the swap.
            const order = ["restoring into the new database", "restored database checked: all", "database restored into", "stopping Mattermost", "database swapped in", "ms after Mattermost stopped; starting Mattermost"];
            const positions = order.map((line) => result.stdout.indexOf(line));
            assert.ok(positions.every((at, i) => at >= 0 && (i === 0 || at > positions[i - 1]!)), `in this order: ${order.join(" / ")}\n${result.stdout}`);

            const [before] = await databasesStartingWith(`${host.database}_before_restore_`);
            assert.ok(before, "the previous database is kept");
            const stamp = before.slice(`${host.database}_before_restore_`.length);
            assert.match(stamp, TIMESTAMP);
            assert.deepEqual(await databasesStartingWith(host.database), [host.database, before], "no _restore_ database is left");
            assert.deepEqual((await fingerprint(services.cluster, before)).tables, damaged.database.tables, "the kept database is the damaged one, unchanged");
            assert.equal(fileTreeHash(join(host.home, `data.before-restore-${stamp}`)), damaged.files);
            assert.equal(readFileSync(join(host.home, `config.json.before-restore-${stamp}`), "utf8"), '{"damaged":true}\n');
            assert.equal(fileTreeHash(join(host.home, `plugins.before-restore-${stamp}`)), damaged.plugins);
            assert.equal(fileTreeHash(join(host.home, `client-plugins.before-restore-${stamp}`)), damaged.clientPlugins);
            assert.ok(result.stdout.includes(`sudo gitlab-psql -d postgres -c 'DROP DATABASE "${before}"'`), result.stdout);
            // The three posts written after the backup are in the kept database, and the restore says how to copy them.
            const since = Date.parse(timestamp.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"));
            assert.match(result.stdout, new RegExp(`the previous database ${before} holds 3 posts newer than the backup \\(${timestamp}, CreateAt > ${since}\\)`));
            const copy = /^mattermost-restore: {5}(sudo gitlab-psql -d \S+ -c 'COPY .*)$/m.exec(result.stdout);
            assert.ok(copy, result.stdout);
            // The printed command, with the stand-in's psql for gitlab-psql: the three posts come back.
            const psql = `${sh(join(services.cluster.bin, "psql"))} -X -q -h ${sh(services.cluster.socketDir)} -p ${services.cluster.port} -U ${services.cluster.superuser}`;
            const copied = await services.cluster.tryRun("bash", ["-c", copy[1]!.replaceAll("sudo gitlab-psql", psql)], "", 30_000);
            assert.equal(copied.status, 0, describeRun(copied));
            assert.equal((await services.cluster.sql(host.database, `SELECT count(*) FROM posts WHERE createat > ${since}`)).trim(), "3");

            // gitlab-secrets.json is NOT overwritten; the backed-up copy is put aside.
            const aside = join(host.etc, `mattermost-restore-${stamp}`);
            assert.equal(readFileSync(join(aside, "gitlab-secrets.json"), "utf8"), etcAtBackup);
            assert.equal(readFileSync(join(host.etc, "gitlab-secrets.json"), "utf8"), '{"mattermost":{"sql_at_rest_encrypt_key":"changed since"}}\n');
            assert.match(result.stdout, /gitlab-secrets\.json and gitlab\.rb from the backup are in .*, NOT installed/);

            assert.equal(statSync(host.config).mode & 0o777, 0o600);
            if (AS_ROOT) {
                const nobody = Number((await runProcess("id", ["-u", "nobody"])).stdout.trim());
                assert.equal(statSync(host.dataDir).uid, nobody, "the data directory belongs to MM_OWNER");
                assert.equal(statSync(join(host.dataDir, "users", "user1", "profile.png")).uid, nobody);
                assert.equal(statSync(host.config).uid, nobody);
                assert.equal(statSync(join(host.pluginDir, "com.example.standup", "server", "dist", "plugin-linux-amd64")).uid, nobody);
            }
            assert.deepEqual(filesIn(host.home), [...LIVE_FILES, ...LIVE_FILES.map((name) => `${name}.before-restore-${stamp}`)].sort());
            assert.deepEqual(filesIn(host.sandbox.tmp), []);
            assert.match(result.stdout, new RegExp(`restore of backup ${timestamp} complete`));
        }));

    test("onto a host without the database, data directory or config.json, by timestamp", () =>
        withHost("round-trip-empty", async (host) => {
            const backedUp = await host.state();
            const timestamp = await host.backupOk();
            await services.cluster.sql("postgres", `DROP DATABASE "${host.database}"`);
            for (const path of [host.dataDir, host.pluginDir, host.clientPluginDir, host.config]) {
                rmSync(path, { recursive: true });
            }

            const result = await host.restore(timestamp);
            assert.equal(result.status, 0, describeRun(result));
            assert.deepEqual(await host.state(), backedUp);
            assert.deepEqual(await databasesStartingWith(host.database), [host.database]);
            assert.deepEqual(filesIn(host.home), LIVE_FILES);
            assert.doesNotMatch(result.stdout, /DROP DATABASE/, "no previous database to drop");
        }));

    test("plugin directories that did not exist at the backup come back empty; the later ones are kept aside", () =>
        withHost("round-trip-no-plugins", async (host) => {
            rmSync(host.pluginDir, { recursive: true });
            rmSync(host.clientPluginDir, { recursive: true });
            const timestamp = await host.backupOk();
            writePluginDirectories(host.home);
            const installedLater = await host.state();

            const result = await host.restore(timestamp);
            assert.equal(result.status, 0, describeRun(result));
            assert.deepEqual(readdirSync(host.pluginDir), []);
            assert.deepEqual(readdirSync(host.clientPluginDir), []);
            const [before] = await databasesStartingWith(`${host.database}_before_restore_`);
            const stamp = before!.slice(`${host.database}_before_restore_`.length);
            assert.equal(fileTreeHash(`${host.pluginDir}.before-restore-${stamp}`), installedLater.plugins);
            assert.equal(fileTreeHash(`${host.clientPluginDir}.before-restore-${stamp}`), installedLater.clientPlugins);
        }));

    test("a backup made before zstd (mattermost.dump, custom format compressed by pg_dump) restores", () =>
        withHost("round-trip-zlib-dump", async (host) => {
            const backedUp = await host.state();
            const timestamp = await host.backupOk();
            // What such a backup holds: pg_dump's custom format with its default compression (zlib).
            const dir = host.sandbox.path("older-dump");
            mkdirSync(dir, { mode: 0o777 });
            chmodSync(dir, 0o777);
            const dumped = await services.cluster.tryRun(join(services.cluster.bin, "pg_dump"), ["--format=custom", `--file=${join(dir, "mattermost.dump")}`, `--dbname=${host.database}`], "", 60_000);
            assert.equal(dumped.status, 0, describeRun(dumped));
            const toc = await runProcess(join(services.cluster.bin, "pg_restore"), ["--list", join(dir, "mattermost.dump")]);
            assert.match(toc.stdout, /Compression: -1|Compression: gzip/, "pg_dump's default compression");
            await replaceDump(host, timestamp, "mattermost.dump", readFileSync(join(dir, "mattermost.dump")));
            await services.cluster.sql(host.database, "UPDATE users SET nickname = 'damaged'");

            const result = await host.restore(timestamp);
            assert.equal(result.status, 0, describeRun(result));
            assert.deepEqual((await host.state()).database, backedUp.database);
            assert.doesNotMatch(result.stdout, /mattermost\.dump\.zst/);
        }));

    test("a backup without plugin archives (made before they were backed up) restores the rest; the live plugins stay", () =>
        withHost("round-trip-older-backup", async (host) => {
            const backedUp = await host.state();
            const timestamp = await host.backupOk();
            // What a backup of the earlier layout holds: the same files less the plugin archives.
            const archives = ["mattermost-plugins.tar.gz", "mattermost-client-plugins.tar.gz"];
            for (const name of archives) {
                const removed = await services.s3.rclone(["deletefile", services.s3.path(host.backupPath(timestamp, name))]);
                assert.equal(removed.status, 0, describeRun(removed));
            }
            const manifestFile = host.sandbox.path("older", "manifest.txt");
            const manifest = (await downloadObject(host.backupPath(timestamp, "manifest.txt"), manifestFile)).toString("utf8");
            const older = manifest.split("\n").filter((line) => !archives.some((name) => line.endsWith(` ${name}`))).join("\n");
            assert.equal(older.split("\n").length, manifest.split("\n").length - 2);
            writeFileSync(manifestFile, older);
            await uploadObject(host.backupPath(timestamp, "manifest.txt"), manifestFile);

            await services.cluster.sql(host.database, "UPDATE users SET nickname = 'damaged'");
            writePluginDirectories(host.home);
            writeFileSync(join(host.pluginDir, "com.example.standup", "plugin.json"), '{"id": "com.example.standup", "version": "2.0.0"}\n');
            const livePlugins = fileTreeHash(host.pluginDir);

            const result = await host.restore(timestamp);
            assert.equal(result.status, 0, describeRun(result));
            for (const name of archives) {
                assert.match(result.stdout, new RegExp(`the backup holds no ${name.replace(/\./g, "\\.")}; .* stays as it is`));
            }
            const restored = await host.state();
            assert.deepEqual(restored.database, backedUp.database);
            assert.equal(restored.files, backedUp.files);
            assert.equal(restored.plugins, livePlugins, "the live plugins directory was not touched");
            assert.equal(restored.clientPlugins, backedUp.clientPlugins);
            assert.deepEqual(filesIn(host.home).filter((name) => name.includes("plugins")), ["client-plugins", "plugins"], "no plugin directory was moved aside");
        }));
});

/** The uncompressed custom-format dump of a backup. */
async function dumpOf(host: MattermostHost, timestamp: string): Promise<Buffer> {
    const file = host.sandbox.path("dump-of", timestamp, "mattermost.dump.zst");
    await downloadObject(host.backupPath(timestamp, "mattermost.dump.zst"), file);
    const unpacked = await runProcess("zstd", ["--quiet", "--decompress", "--force", file]);
    assert.equal(unpacked.status, 0, describeRun(unpacked));
    return readFileSync(file.replace(/\.zst$/, ""));
}

/** `content` compressed by the zstd command, through the file `path`. */
function zstd(content: Buffer, path: string): Buffer {
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(`${path}.in`, content);
    const packed = spawnSync("zstd", ["--quiet", "--force", `${path}.in`, "-o", path]);
    assert.equal(packed.status, 0, packed.stderr.toString("utf8"));
    return readFileSync(path);
}

/** Replaces a backup's dump by `content` named `name`, and its manifest line by one that matches it. */
async function replaceDump(host: MattermostHost, timestamp: string, name: "mattermost.dump" | "mattermost.dump.zst", content: Buffer): Promise<void> {
    const file = host.sandbox.path("replaced", timestamp, name);
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(file, content);
    if (name !== "mattermost.dump.zst") {
        const removed = await services.s3.rclone(["deletefile", services.s3.path(host.backupPath(timestamp, "mattermost.dump.zst"))]);
        assert.equal(removed.status, 0, describeRun(removed));
    }
    await uploadObject(host.backupPath(timestamp, name), file);
    const manifestFile = host.sandbox.path("replaced", timestamp, "manifest.txt");
    const manifest = (await downloadObject(host.backupPath(timestamp, "manifest.txt"), manifestFile)).toString("utf8");
    const rewritten = manifest.replace(/^[0-9a-f]{64} \d+ mattermost\.dump\.zst$/m, `${sha256(content)} ${content.length} ${name}`);
    assert.notEqual(rewritten, manifest);
    writeFileSync(manifestFile, rewritten);
    await uploadObject(host.backupPath(timestamp, "manifest.txt"), manifestFile);
}

// ---------------------------------------------------------------------------------------------------
describe("tools/mattermost-restore.sh: bad backups are refused before anything stops", () => {
    const scenarios: {
        name: string;
        damage: (host: MattermostHost, timestamp: string) => Promise<void>;
        message: RegExp;
        /** The files it downloaded before refusing (the listing is read first, the dump before the rest). */
        downloaded: "none" | "manifest" | "manifest and dump" | "all";
    }[] = [
        {
            name: "missing manifest",
            damage: async (host, timestamp) => {
                const result = await services.s3.rclone(["deletefile", services.s3.path(host.backupPath(timestamp, "manifest.txt"))]);
                assert.equal(result.status, 0, describeRun(result));
            },
            message: /manifest\.txt is missing, so the backup is incomplete/,
            downloaded: "none",
        },
        {
            name: "checksum mismatch (same size)",
            damage: async (host, timestamp) => {
                const file = host.sandbox.path("damage", "config.json");
                const content = await downloadObject(host.backupPath(timestamp, "config.json"), file);
                writeFileSync(file, content.toString("utf8").replace("k1", "k2"));
                await uploadObject(host.backupPath(timestamp, "config.json"), file);
            },
            message: /config\.json has sha256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}/,
            downloaded: "all",
        },
        {
            name: "dump checksum mismatch (same size), found as it streams",
            damage: async (host, timestamp) => {
                const file = host.sandbox.path("damage", "mattermost.dump.zst");
                const content = await downloadObject(host.backupPath(timestamp, "mattermost.dump.zst"), file);
                content[content.length - 1] ^= 0xff;
                writeFileSync(file, content);
                await uploadObject(host.backupPath(timestamp, "mattermost.dump.zst"), file);
            },
            message: /mattermost\.dump\.zst has sha256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}/,
            downloaded: "manifest and dump",
        },
        {
            name: "truncated dump",
            damage: async (host, timestamp) => {
                const file = host.sandbox.path("damage", "mattermost.dump.zst");
                const content = await downloadObject(host.backupPath(timestamp, "mattermost.dump.zst"), file);
                writeFileSync(file, content.subarray(0, Math.floor(content.length * 0.6)));
                await uploadObject(host.backupPath(timestamp, "mattermost.dump.zst"), file);
            },
            message: /mattermost\.dump\.zst has \d+ bytes, the manifest says \d+/,
            downloaded: "manifest",
        },
        {
            name: "truncated zstd dump, matching manifest",
            damage: async (host, timestamp) => {
                const content = await downloadObject(host.backupPath(timestamp, "mattermost.dump.zst"), host.sandbox.path("damage", "mattermost.dump.zst"));
                await replaceDump(host, timestamp, "mattermost.dump.zst", content.subarray(0, Math.floor(content.length * 0.6)));
            },
            message: /mattermost\.dump\.zst does not decompress/,
            downloaded: "manifest and dump",
        },
        {
            name: "whole zstd frame of a truncated dump, matching manifest",
            damage: async (host, timestamp) => {
                const dump = await dumpOf(host, timestamp);
                await replaceDump(host, timestamp, "mattermost.dump.zst", zstd(dump.subarray(0, Math.floor(dump.length * 0.6)), host.sandbox.path("damage", "short.zst")));
            },
            message: /the dump's data does not read back/,
            downloaded: "all",
        },
    ];

    for (const scenario of scenarios) {
        test(`${scenario.name}: refused, the stop command never called, live data intact`, () =>
            withHost(`bad-${scenario.name.replace(/[^a-z]+/g, "-")}`.replace(/-+$/, ""), async (host) => {
                const timestamp = await host.backupOk();
                await scenario.damage(host, timestamp);
                const before = await host.state();
                const result = await host.restore(timestamp);
                assert.match(result.stderr, scenario.message, describeRun(result));
                await assertUntouched(host, result, before);
                const downloads = host.sandbox
                    .calls("rclone")
                    .filter((call) => ["copyto", "cat"].includes(call.argv[0]!) && call.argv[1]!.startsWith(services.s3.remote))
                    .map((call) => call.argv[1]!.split("/").at(-1)!);
                const expected = {
                    none: [],
                    manifest: ["manifest.txt"],
                    "manifest and dump": ["manifest.txt", "mattermost.dump.zst"],
                    all: ["manifest.txt", "mattermost.dump.zst", "gitlab-etc.tar.gz", "mattermost-data.tar.gz", "mattermost-plugins.tar.gz", "mattermost-client-plugins.tar.gz", "config.json"],
                }[scenario.downloaded];
                assert.deepEqual(downloads, expected, "each file downloaded once, the manifest and the dump first");
                // The other files are checked while the database is built: a defect found there
                // discards that database (assertUntouched: no database but the live one is left).
                assert.equal(result.stdout.includes("restoring into the new database"), scenario.downloaded === "all");
            }));
    }

    test("a timestamp with no backup at all is refused", () =>
        withHost("bad-no-backup", async (host) => {
            const before = await host.state();
            const result = await host.restore("20200101T000000Z");
            assert.match(result.stderr, /manifest\.txt is missing/);
            await assertUntouched(host, result, before);
        }));

    test("an argument that is neither a timestamp nor latest is refused", () =>
        withHost("bad-argument", async (host) => {
            const before = await host.state();
            const result = await host.restore("../../etc");
            assert.match(result.stderr, /usage: mattermost-restore <YYYYmmddTHHMMSSZ\|latest>/);
            await assertUntouched(host, result, before);
            assert.deepEqual(host.sandbox.calls("rclone"), [], "nothing was downloaded");
        }));
});

/**
 * A PG_BIN with the real client programs, except a pg_restore stand-in with `body` (the real one is
 * $REAL). The stand-in runs as the database superuser's account too, so its call records are open to it.
 */
function pgRestoreStandIn(host: MattermostHost, body: string): string {
    const pgBin = host.sandbox.path("pg-bin");
    mkdirSync(pgBin);
    for (const program of readdirSync(services.cluster.bin).filter((name) => name !== "pg_restore")) {
        symlinkSync(join(services.cluster.bin, program), join(pgBin, program));
    }
    for (const dir of ["calls", "calls/pg_restore"]) {
        mkdirSync(host.sandbox.path(dir), { recursive: true });
        chmodSync(host.sandbox.path(dir), 0o777);
    }
    host.sandbox.write("calls/sequence", "", 0o666);
    host.sandbox.standIn("pg_restore", `REAL=${sh(join(services.cluster.bin, "pg_restore"))}\n${body}`, join(pgBin, "pg_restore"));
    return pgBin;
}

// ---------------------------------------------------------------------------------------------------
describe("tools/mattermost-restore.sh: a restore that fails halfway leaves the previous database in place", () => {
    /**
     * After a failure before the swap: same database under the same name, Mattermost running (never
     * stopped when the failure came while the database was being built, else started again).
     */
    async function assertRolledBack(host: MattermostHost, result: RunResult, before: Awaited<ReturnType<MattermostHost["state"]>>, calls: string[]) {
        assert.notEqual(result.status, 0, describeRun(result));
        assert.match(result.stderr, /restore FAILED before anything live was changed/);
        assert.deepEqual(await host.state(), before, "live database (same name), data directory and config.json are intact");
        assert.deepEqual(await databasesStartingWith(host.database), [host.database], "the partial restore database was dropped");
        assert.deepEqual(host.gitlabCtlCalls(), calls);
        assert.ok(existsSync(host.startedFile), "Mattermost runs");
        assert.deepEqual(filesIn(host.home), LIVE_FILES, "the staged files were removed");
        assert.deepEqual(filesIn(host.sandbox.tmp), []);
    }
    const NEVER_STOPPED: string[] = [];
    const STARTED_AGAIN = ["stop mattermost", "start mattermost"];

    test("pg_restore fails on the dump itself (an owner role that no longer exists)", () =>
        withHost("fail-missing-role", async (host) => {
            await services.cluster.sql("postgres", "DROP ROLE IF EXISTS mm_departed_owner; CREATE ROLE mm_departed_owner");
            await services.cluster.sql(host.database, "CREATE TABLE departed (id int); ALTER TABLE departed OWNER TO mm_departed_owner; INSERT INTO departed VALUES (1)");
            const timestamp = await host.backupOk();
            await services.cluster.sql(host.database, "DROP TABLE departed");
            await services.cluster.sql("postgres", "DROP ROLE mm_departed_owner");
            const before = await host.state();

            const result = await host.restore(timestamp);
            assert.match(result.stderr, /role "mm_departed_owner" does not exist/);
            await assertRolledBack(host, result, before, NEVER_STOPPED);
        }));

    test("pg_restore fails after loading the tables' data (a stand-in wrapping the real one): Mattermost never stopped", () =>
        withHost("fail-after-data", async (host) => {
            const timestamp = await host.backupOk();
            const before = await host.state();
            // Restores the tables and their data for real, then fails on the first index build.
            const pgBin = pgRestoreStandIn(
                host,
                `case "$*" in
*--section=post-data*)
    echo "pg_restore stand-in: tables and data loaded, failing now" >&2
    exit 1 ;;
esac
exec "$REAL" "$@"`,
            );

            const result = await host.restore(timestamp, { PG_BIN: pgBin });
            assert.match(result.stderr, /pg_restore stand-in: tables and data loaded, failing now/);
            const restores = host.sandbox.calls("pg_restore").filter((call) => call.argv.some((arg) => arg.startsWith("--dbname=")));
            assert.ok(restores.length >= 3, "pre-data, then data, then a post-data stream");
            for (const call of restores) {
                assert.match(call.argv.find((arg) => arg.startsWith("--dbname="))!, new RegExp(`^--dbname=${host.database}_restore_\\d{8}T\\d{6}Z$`));
                assert.ok(call.argv.includes("--exit-on-error"));
            }
            await assertRolledBack(host, result, before, NEVER_STOPPED);
        }));

    test("the restored database lacks an index the dump lists: refused before the swap, Mattermost never stopped", () =>
        withHost("fail-missing-index", async (host) => {
            const timestamp = await host.backupOk();
            const before = await host.state();
            // Leaves idx_posts_create_at out of the list it is given, as a restore that skipped it would.
            const lists = host.sandbox.path("lists");
            mkdirSync(lists);
            chmodSync(lists, 0o777);
            const pgBin = pgRestoreStandIn(
                host,
                `args=()
for arg in "$@"; do
    case "$arg" in
    --use-list=*) short=${sh(lists)}/$$.list; grep -v ' idx_posts_create_at ' "\${arg#--use-list=}" >"$short" || true; args+=("--use-list=$short") ;;
    *) args+=("$arg") ;;
    esac
done
exec "$REAL" "\${args[@]}"`,
            );
            const result = await host.restore(timestamp, { PG_BIN: pgBin });
            assert.match(result.stderr, /the restored database \S+ holds (\d+) of the (\d+) indexes, constraints and triggers the dump lists; missing: index idx_posts_create_at$/m, describeRun(result));
            const [, found, expected] = /holds (\d+) of the (\d+)/.exec(result.stderr)!;
            assert.equal(Number(found), Number(expected) - 1);
            await assertRolledBack(host, result, before, NEVER_STOPPED);
        }));

    test("staging the files fails beside the build (a chown to an owner that does not exist): the run fails, no older backup tried, Mattermost never stopped", () =>
        withHost("fail-staging", async (host) => {
            const timestamp = await host.backupOk();
            const before = await host.state();
            const result = await host.restore("latest", { MM_OWNER: "mm-no-such-owner:mm-no-such-owner" });
            assert.match(result.stderr, /staging the backup's files beside the live ones failed/, describeRun(result));
            assert.doesNotMatch(result.stdout, /skipping/, "not taken for a defect of the backup");
            assert.match(result.stdout, new RegExp(`downloading \\S+/${timestamp}/`));
            await assertRolledBack(host, result, before, NEVER_STOPPED);
        }));

    test("the stop command fails once the new database is built: dropped, nothing swapped, Mattermost started again", () =>
        withHost("fail-stop", async (host) => {
            const timestamp = await host.backupOk();
            const before = await host.state();
            host.sandbox.standIn("gitlab-ctl", `case "$1" in
stop) echo "gitlab-ctl stand-in: timeout: run: mattermost" >&2; exit 1 ;;
start) touch ${sh(host.startedFile)} ;;
esac`);
            const result = await host.restore(timestamp);
            assert.match(result.stdout, /database restored into \S+_restore_\d{8}T\d{6}Z/, "the database was built before the stop");
            assert.match(result.stderr, /gitlab-ctl stand-in: timeout: run: mattermost/);
            await assertRolledBack(host, result, before, STARTED_AGAIN);
        }));

    test("another session on the live database: the swap is refused, nothing renamed", () =>
        withHost("fail-busy-live", async (host) => {
            const timestamp = await host.backupOk();
            const before = await host.state();
            const blocker = services.cluster.tryRun(join(services.cluster.bin, "psql"), ["-X", "-d", host.database, "-c", "SELECT pg_sleep(60)"], "", 90_000);
            try {
                const result = await host.restore(timestamp, { RESTORE_SESSION_WAIT: "1" });
                assert.match(result.stderr, new RegExp(`sessions still connected to ${host.database} after 1s`));
                await assertRolledBack(host, result, before, STARTED_AGAIN);
            } finally {
                await services.cluster.sql("postgres", `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${host.database}'`);
                await blocker;
            }
        }));

    test("Mattermost never answers its ping after the swap: rolled back, Mattermost started again on its previous data", () =>
        withHost("fail-ping", async (host) => {
            const timestamp = await host.backupOk();
            await services.cluster.sql(host.database, "UPDATE users SET nickname = 'changed since the backup'");
            writeFileSync(host.config, '{"changed":true}\n');
            const before = await host.state();
            const result = await host.restore(timestamp, { MM_PING_URL: "http://127.0.0.1:9/api/v4/system/ping", MM_PING_TIMEOUT: "1" });
            assert.notEqual(result.status, 0, describeRun(result));
            assert.match(result.stderr, /did not answer "status":"OK" at http:\/\/127\.0\.0\.1:9\/api\/v4\/system\/ping within 1s/);
            await assertRolledBackAfterSwap(host, result, before);
        }));
});

/** After a failure once the swap began: the previous database and files back in place, the restored ones aside, Mattermost started on them. */
async function assertRolledBackAfterSwap(host: MattermostHost, result: RunResult, before: MattermostState): Promise<void> {
    assert.notEqual(result.status, 0, describeRun(result));
    assert.match(result.stderr, /restore FAILED after the swap began; rolled back: .*database .* are the previous ones again/, describeRun(result));
    assert.deepEqual(await host.state(), before, "the previous database, directories and config.json are live again");
    const [failed] = await databasesStartingWith(`${host.database}_failed_restore_`);
    assert.ok(failed, "the restored database is kept aside");
    const stamp = failed.slice(`${host.database}_failed_restore_`.length);
    assert.deepEqual(await databasesStartingWith(host.database), [host.database, failed]);
    assert.deepEqual(filesIn(host.home), [...LIVE_FILES, ...LIVE_FILES.map((name) => `${name}.failed-restore-${stamp}`)].sort());
    assert.deepEqual(host.gitlabCtlCalls(), ["stop mattermost", "start mattermost", "stop mattermost", "start mattermost"], "stopped, started, stopped for the rollback, started again");
    assert.ok(existsSync(host.startedFile), "Mattermost runs");
    assert.deepEqual(filesIn(host.sandbox.tmp), []);
    assert.deepEqual(filesIn(host.etc).filter((name) => name.includes("mattermost-restore")), [], "no copy of the backup's secrets is left");
}

/** A tool run started detached (its own process group, as an SSH session's commands are), sent `signal` once `ready()` holds. */
async function runAndSignal(
    host: MattermostHost,
    script: string,
    args: string[],
    options: {
        env?: Record<string, string>;
        ready: () => boolean;
        signal: NodeJS.Signals;
        to: SignalTarget;
        /** Resolve once the script exits, not once its output closes: what it leaves running keeps that open. */
        onExit?: boolean;
    },
): Promise<RunResult & { sent: boolean; group: number }> {
    const running = host.sandbox.start(script, args, { env: host.toolEnv(options.env), timeoutMs: SCRIPT_TIMEOUT_MS, untilExit: options.onExit });
    return { ...(await signalWhenReady(running, options)), group: running.group };
}

/**
 * Checks a restore that `signal` ended while it built the new database: Mattermost was never stopped
 * and serves its own data, and nothing of the run is left (the partial database, staged files, a copy
 * of the backup's secrets, temporary files, pg_restore). Kills whatever the run left running, in any case.
 */
async function assertStoppedWhileBuilding(
    host: MattermostHost,
    result: RunResult & { sent: boolean; group: number },
    expected: { signal: NodeJS.Signals; status: number; before: MattermostState; pgBin: string },
): Promise<void> {
    try {
        assert.ok(result.sent, describeRun(result));
        assert.equal(result.status, expected.status, describeRun(result));
        assert.match(result.stderr, new RegExp(`mattermost-restore: FAILED \\(ended by ${expected.signal}\\)`));
        assert.match(result.stderr, /restore FAILED before anything live was changed/);
        assert.deepEqual(host.gitlabCtlCalls(), [], "Mattermost was never stopped");
        assert.ok(existsSync(host.startedFile), "Mattermost runs");
        assert.deepEqual(await host.state(), expected.before, "on its own data");
        assert.deepEqual(await databasesStartingWith(host.database), [host.database], "the partial database was dropped");
        assert.deepEqual(filesIn(host.home), LIVE_FILES, "the staged files were removed");
        assert.deepEqual(filesIn(host.etc).filter((name) => name.includes("mattermost-restore")), [], "no copy of the backup's secrets is left");
        assert.deepEqual(filesIn(host.sandbox.tmp), []);
        const left = await runProcess("pgrep", ["-f", join(expected.pgBin, "pg_restore")]);
        assert.equal(left.stdout.trim(), "", "no pg_restore of that run, loading or checking, is left running");
    } finally {
        try {
            process.kill(-result.group, "SIGKILL");
        } catch {
            // nothing of that run is left
        }
    }
}

// ---------------------------------------------------------------------------------------------------
describe("tools/mattermost-restore.sh: a signal is a failure like any other", () => {
    // SIGHUP and SIGPIPE: an SSH connection that drops hangs up the whole session (the process group),
    // here while Mattermost is being stopped. SIGTERM and SIGINT: sent to the script alone, once
    // everything is swapped in and it waits for Mattermost's ping.
    const cases: { signal: NodeJS.Signals; to: "group" | "script"; when: "stopped" | "swapped"; status: number }[] = [
        { signal: "SIGHUP", to: "group", when: "stopped", status: 129 },
        { signal: "SIGPIPE", to: "group", when: "stopped", status: 141 },
        { signal: "SIGTERM", to: "script", when: "swapped", status: 143 },
        { signal: "SIGINT", to: "script", when: "swapped", status: 130 },
    ];
    for (const { signal, to, when, status } of cases) {
        test(`${signal} to the ${to} once Mattermost was ${when}: rolled back, FAILED, Mattermost running on its previous data`, () =>
            withHost(`signal-${signal.toLowerCase()}`, async (host) => {
                const timestamp = await host.backupOk();
                await services.cluster.sql(host.database, "UPDATE users SET nickname = 'changed since the backup'");
                const before = await host.state();
                // A slow stop (the first call), so that the hangup comes while it runs.
                const called = host.sandbox.path(`${when}-called`);
                host.sandbox.standIn("gitlab-ctl", `case "$1" in
stop) rm -f ${sh(host.startedFile)}; if [ "$CALL_NUMBER" -eq 1 ] && [ ${sh(when)} = stopped ]; then touch ${sh(called)}; sleep 60; fi ;;
start) touch ${sh(host.startedFile)}; if [ ${sh(when)} = swapped ]; then touch ${sh(called)}; fi ;;
esac`);
                const ready = () => existsSync(called);
                const result = await runAndSignal(host, "tools/mattermost-restore.sh", [timestamp], {
                    env: when === "swapped" ? { MM_PING_URL: "http://127.0.0.1:9/api/v4/system/ping", MM_PING_TIMEOUT: "90" } : {},
                    ready,
                    signal,
                    to,
                });
                assert.ok(result.sent, describeRun(result));
                assert.equal(result.status, status, describeRun(result));
                assert.match(result.stderr, new RegExp(`mattermost-restore: FAILED \\(ended by ${signal}\\)`));
                assert.match(readFileSync(join(host.stateDir, "mattermost-restore.last-failure"), "utf8"), new RegExp(`FAILED \\(ended by ${signal}\\)`));
                if (when === "stopped") {
                    assert.match(result.stderr, /restore FAILED before anything live was changed/);
                    assert.deepEqual(await host.state(), before);
                    assert.deepEqual(await databasesStartingWith(host.database), [host.database]);
                    assert.deepEqual(filesIn(host.home), LIVE_FILES, "the staged files were removed");
                    assert.deepEqual(host.gitlabCtlCalls(), ["stop mattermost", "start mattermost"]);
                    assert.ok(existsSync(host.startedFile), "Mattermost runs");
                    assert.deepEqual(filesIn(host.sandbox.tmp), []);
                } else {
                    await assertRolledBackAfterSwap(host, result, before);
                }
            }));
    }

    // While the new database is being built, Mattermost is running on the live one.
    const duringBuild: { signal: NodeJS.Signals; to: "group" | "script"; status: number }[] = [
        { signal: "SIGTERM", to: "script", status: 143 },
        { signal: "SIGHUP", to: "group", status: 129 },
    ];
    for (const { signal, to, status } of duringBuild) {
        test(`${signal} to the ${to} while the new database is being built: Mattermost never stopped, the partial database dropped, pg_restore stopped`, () =>
            withHost(`signal-build-${signal.toLowerCase()}`, async (host) => {
                const timestamp = await host.backupOk();
                await services.cluster.sql(host.database, "UPDATE users SET nickname = 'changed since the backup'");
                const before = await host.state();
                const loaded = host.sandbox.path("loaded");
                mkdirSync(loaded);
                chmodSync(loaded, 0o777);
                // The data streams load for real, then hang as a long load would.
                const pgBin = pgRestoreStandIn(
                    host,
                    `case "$*" in
*--section=data*)
    "$REAL" "$@"
    touch ${sh(join(loaded, "yes"))}
    sleep 60 ;;
esac
exec "$REAL" "$@"`,
                );
                const result = await runAndSignal(host, "tools/mattermost-restore.sh", [timestamp], {
                    env: { PG_BIN: pgBin },
                    ready: () => existsSync(join(loaded, "yes")),
                    signal,
                    to,
                });
                await assertStoppedWhileBuilding(host, result, { signal, status, before, pgBin });
            }));
    }

    test("SIGTERM while the database loads and the backup's files are still being checked beside it: all of it stopped and removed, Mattermost never stopped", () =>
        withHost("signal-overlapped", async (host) => {
            const timestamp = await host.backupOk();
            await services.cluster.sql(host.database, "UPDATE users SET nickname = 'changed since the backup'");
            const before = await host.state();
            const marks = host.sandbox.path("marks");
            mkdirSync(marks);
            chmodSync(marks, 0o777);
            // The data streams load for real, then hang; the check that reads the dump's data back
            // (the last of the file checks, after the staging) hangs too.
            const pgBin = pgRestoreStandIn(
                host,
                `case "$*" in
*--section=data*)
    "$REAL" "$@"
    touch ${sh(join(marks, "loaded"))}
    sleep 60 ;;
*--file=/dev/null*)
    touch ${sh(join(marks, "checking"))}
    sleep 60 ;;
esac
exec "$REAL" "$@"`,
            );
            let stagedWhenSignalled: string[] = [];
            const result = await runAndSignal(host, "tools/mattermost-restore.sh", [timestamp], {
                env: { PG_BIN: pgBin },
                ready: () => {
                    if (!existsSync(join(marks, "loaded")) || !existsSync(join(marks, "checking"))) {
                        return false;
                    }
                    stagedWhenSignalled = filesIn(host.home).filter((name) => name.includes(".restore-"));
                    return true;
                },
                signal: "SIGTERM",
                to: "script",
            });
            assert.equal(stagedWhenSignalled.length, LIVE_FILES.length, `the files were staged beside the live ones when the signal came: ${stagedWhenSignalled.join(", ")}`);
            await assertStoppedWhileBuilding(host, result, { signal: "SIGTERM", status: 143, before, pgBin });
        }));

    test("SIGHUP during a backup's upload: FAILED, no manifest, no work directory left", () =>
        withHost("signal-backup", async (host) => {
            const uploading = host.sandbox.path("uploading");
            host.useRclone(`if [ "$1" = copy ]; then touch ${sh(uploading)}; sleep 60; fi
exec ${sh(realRclone)} "$@"`);
            const result = await runAndSignal(host, "tools/mattermost-backup.sh", [], { ready: () => existsSync(uploading), signal: "SIGHUP", to: "group" });
            assert.ok(result.sent);
            assert.equal(result.status, 129, describeRun(result));
            assert.match(result.stderr, /mattermost-backup: FAILED \(ended by SIGHUP\)/);
            assert.deepEqual(await objectsOf(host.stack), [], "nothing, and no manifest, was uploaded");
            assert.equal(existsSync(join(host.stateDir, "mattermost-backup.last-success")), false);
            assert.deepEqual(filesIn(host.sandbox.tmp), []);
        }));
});

// ---------------------------------------------------------------------------------------------------
describe("tools/gitlab-full-backup.sh", () => {
    /** Omnibus's gitlab-backup and gitlab-ctl as stand-ins; backup-etc writes a real tarball. */
    function gitlabHost(sandbox: Sandbox, options: { backupFails?: boolean; etcTarballs?: number } = {}) {
        const omnibus = sandbox.path("opt/gitlab");
        const etc = sandbox.path("etc/gitlab");
        sandbox.write("etc/gitlab/gitlab-secrets.json", '{"gitlab_rails":{"db_key_base":"k"}}\n', 0o600);
        sandbox.write("etc/gitlab/gitlab.rb", "external_url 'https://gitlab.example.com'\n", 0o600);
        sandbox.standIn(
            "gitlab-backup",
            options.backupFails
                ? `echo "gitlab-backup stand-in: Backup failed" >&2; exit 1`
                : // As Omnibus does with backup_upload_connection: the archive goes to <bucket>/<DIRECTORY>/.
                  `directory=""
for arg; do case "$arg" in DIRECTORY=*) directory=\${arg#DIRECTORY=} ;; esac; done
[ -n "$directory" ] || { echo "gitlab-backup stand-in: no DIRECTORY given" >&2; exit 64; }
id="17672256\$(printf %02d "$CALL_NUMBER")_2026_01_01_18.11.11-ee"
printf 'gitlab archive %s\\n' "$id" | ${sh(realRclone)} rcat "$BACKUP_REMOTE/$directory/\${id}_gitlab_backup.tar"
echo "gitlab-backup stand-in: Backup $id is done."`,
            join(omnibus, "bin", "gitlab-backup"),
        );
        const tarballs = options.etcTarballs ?? 1;
        sandbox.standIn(
            "gitlab-ctl",
            `[ "$1" = backup-etc ] && [ "$2" = --backup-path ] || { echo "gitlab-ctl stand-in: unexpected $*" >&2; exit 64; }
for i in $(seq 1 ${tarballs}); do
    tar --create --file "$3/gitlab_config_176722560\${i}_2026_01_01.tar" --directory ${sh(sandbox.path("etc"))} gitlab
done`,
            join(omnibus, "bin", "gitlab-ctl"),
        );
        sandbox.standIn("rclone", `exec ${sh(realRclone)} "$@"`);
        const stack = `stack-${sandbox.root.slice(-6).toLowerCase()}`;
        const stateDir = sandbox.path("var/lib/gitlab-mattermost");
        const env = {
            ...services.s3.remoteSettings(),
            ...services.s3.credentialEnv(),
            BACKUP_ENV_FILE: sandbox.path("no-env-file"),
            BACKUP_COMMON,
            BACKUP_REMOTE: services.s3.remote,
            BACKUP_STACK: stack,
            OMNIBUS_DIR: omnibus,
            BACKUP_STATE_DIR: stateDir,
            ...retentionSettings(),
        };
        return { stack, etc, stateDir, run: () => sandbox.runScript("tools/gitlab-full-backup.sh", [], { env, timeoutMs: SCRIPT_TIMEOUT_MS }) };
    }

    test("gitlab-backup create, then backup-etc; the tarball and then the manifest go to <stack>/gitlab-etc/<ts>/", () =>
        withSandbox(async (sandbox) => {
            const host = gitlabHost(sandbox);
            const result = await host.run();
            assert.equal(result.status, 0, describeRun(result));
            assert.deepEqual(sandbox.sequence().filter((name) => name !== "rclone"), ["gitlab-backup", "gitlab-ctl"]);
            const timestamp = readFileSync(join(host.stateDir, "gitlab-full-backup.last-success"), "utf8").trim();
            assert.match(timestamp, TIMESTAMP);
            assert.deepEqual(sandbox.calls("gitlab-backup")[0]!.argv, ["create", `DIRECTORY=${host.stack}/gitlab-etc/${timestamp}`]);
            const etcCall = sandbox.calls("gitlab-ctl")[0]!.argv;
            assert.deepEqual(etcCall.slice(0, 2), ["backup-etc", "--backup-path"]);
            assert.ok(etcCall[2]!.startsWith(sandbox.tmp), "backup-etc writes to a temp directory");

            const tarball = "gitlab_config_1767225601_2026_01_01.tar";
            assert.deepEqual(await objectsOf(host.stack), [
                `gitlab-etc/${timestamp}/1767225601_2026_01_01_18.11.11-ee_gitlab_backup.tar`,
                `gitlab-etc/${timestamp}/${tarball}`,
                `gitlab-etc/${timestamp}/manifest.txt`,
                "gitlab-etc/last-success.txt",
            ]);
            const uploads = sandbox.calls("rclone").filter((call) => call.argv[0] !== "lsf").map((call) => call.argv.at(-1));
            assert.deepEqual(uploads, [
                `${services.s3.remote}/${host.stack}/gitlab-etc/${timestamp}/${tarball}`,
                `${services.s3.remote}/${host.stack}/gitlab-etc/${timestamp}/manifest.txt`,
                `${services.s3.remote}/${host.stack}/gitlab-etc/last-success.txt`,
            ]);
            assert.deepEqual(await recordedSuccess(`${host.stack}/gitlab-etc`), { content: `${timestamp}\n`, mimeType: "text/plain; charset=utf-8" });
            const manifest = parseManifest(
                (await downloadObject(`${host.stack}/gitlab-etc/${timestamp}/manifest.txt`, sandbox.path("manifest.txt"))).toString("utf8"),
            );
            const content = await downloadObject(`${host.stack}/gitlab-etc/${timestamp}/${tarball}`, sandbox.path(tarball));
            assert.deepEqual(manifest, [{ sha256: sha256(content), size: content.length, name: tarball }]);
            const listing = await runProcess("tar", ["--list", "--file", sandbox.path(tarball)]);
            assert.match(listing.stdout, /^gitlab\/gitlab-secrets\.json$/m);
            assert.deepEqual(filesIn(sandbox.tmp), []);
        }));

    test("gitlab-backup create fails: non-zero exit, no etc backup, nothing uploaded", () =>
        withSandbox(async (sandbox) => {
            const host = gitlabHost(sandbox, { backupFails: true });
            const result = await host.run();
            assert.notEqual(result.status, 0, describeRun(result));
            assert.deepEqual(sandbox.calls("gitlab-ctl"), []);
            assert.deepEqual(await objectsOf(host.stack), []);
            assert.equal(existsSync(join(host.stateDir, "gitlab-full-backup.last-success")), false);
        }));

    test("retention: GitLab's archive is in the backup's folder and expires with it, only beyond the newest backup.keepNewest", () =>
        withSandbox(async (sandbox) => {
            const host = gitlabHost(sandbox);
            const timestamps: string[] = [];
            for (let run = 1; run <= DEFAULTS.backup.keepNewest + 1; run++) {
                const result = await host.run();
                assert.equal(result.status, 0, describeRun(result));
                timestamps.push(readFileSync(join(host.stateDir, "gitlab-full-backup.last-success"), "utf8").trim());
                await new Promise((resolve) => setTimeout(resolve, 1100));
            }
            const [oldest, ...newest] = timestamps;
            for (const object of await objectsOf(host.stack)) {
                const expected = object.startsWith(`gitlab-etc/${oldest}/`) ? [EXPIRABLE] : [];
                assert.deepEqual(await services.s3.tagsOf(`${host.stack}/${object}`), expected, object);
            }
            const objects = await objectsOf(host.stack);
            assert.ok(objects.includes(`gitlab-etc/${oldest}/1767225601_2026_01_01_18.11.11-ee_gitlab_backup.tar`), objects.join("\n"));
            assert.equal(newest.length, DEFAULTS.backup.keepNewest);
        }));

    test("backup-etc leaves no tarball (or several): non-zero exit, no manifest", () =>
        withSandbox(async (sandbox) => {
            for (const count of [0, 2]) {
                const host = gitlabHost(sandbox, { etcTarballs: count });
                const result = await host.run();
                assert.notEqual(result.status, 0, describeRun(result));
                assert.match(result.stderr, new RegExp(`left ${count} tarballs in its backup path, expected 1`));
                // Omnibus had uploaded GitLab's archive: the folder stays incomplete, without a manifest.
                assert.deepEqual((await objectsOf(host.stack)).map((object) => object.replace(/\d{8}T\d{6}Z/, "<ts>")), [`gitlab-etc/<ts>/176722560${count === 0 ? 1 : 2}_2026_01_01_18.11.11-ee_gitlab_backup.tar`]);
                await services.s3.rclone(["purge", services.s3.path(host.stack)]);
            }
        }));
});

// ---------------------------------------------------------------------------------------------------
test("the three backup tools load one shared file, from the path it is installed at", () => {
    for (const script of ["tools/mattermost-backup.sh", "tools/mattermost-restore.sh", "tools/gitlab-full-backup.sh"]) {
        const text = readFileSync(join(HOST_SCRIPT_DIR, script), "utf8");
        assert.match(text, /^\. "\$\{BACKUP_COMMON:-\/usr\/local\/lib\/gitlab-mattermost\/backup-common\.sh\}"$/m, script);
        assert.doesNotMatch(text, /^load_env_file\(\)/m, `${script} has no copy of the loader`);
    }
});

// ---------------------------------------------------------------------------------------------------
describe("tools/mattermost-restore.sh: which backup `latest` is", () => {
    test("a future-stamped folder does not shadow, and a damaged newest backup gives way to the next older one", () =>
        withHost("latest-fallback", async (host) => {
            const good = await host.backupOk();
            const backedUp = await host.state();
            // A folder stamped by a clock that was ahead: a complete copy of the good backup.
            const future = "29991231T235959Z";
            const copied = await services.s3.rclone(["copy", services.s3.path(`${host.stack}/mattermost/${good}`), services.s3.path(`${host.stack}/mattermost/${future}`)]);
            assert.equal(copied.status, 0, describeRun(copied));
            await new Promise((resolve) => setTimeout(resolve, 1100));
            await services.cluster.sql(host.database, "UPDATE users SET nickname = 'in the damaged backup'");
            const damaged = await host.backupOk();
            const file = host.sandbox.path("damage", "config.json");
            const content = await downloadObject(host.backupPath(damaged, "config.json"), file);
            writeFileSync(file, content.toString("utf8").replace("k1", "k2"));
            await uploadObject(host.backupPath(damaged, "config.json"), file);

            const result = await host.restore("latest");
            assert.equal(result.status, 0, describeRun(result));
            assert.match(result.stdout, new RegExp(`skipping ${future}: it is stamped after now`));
            assert.match(result.stdout, new RegExp(`skipping ${damaged}: it does not verify \\(config\\.json has sha256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}\\); trying the next older backup`));
            assert.match(result.stdout, new RegExp(`restore of backup ${good} complete`));
            assert.deepEqual((await host.state()).database, backedUp.database);
        }));
});

// ---------------------------------------------------------------------------------------------------
describe("tools/mattermost-backup.sh: a backup never writes into an existing folder", () => {
    test("the clock went back to a complete backup's second: a fresh name, or a refusal; the complete backup is untouched", () =>
        withHost("backup-clock-back", async (host) => {
            const stepped = "20260101T000000Z";
            const mode = host.sandbox.path("clock-mode");
            // A date stand-in: the backup timestamp is `stepped` always, or only at the first call.
            host.sandbox.standIn("date", `if [ "$*" = "-u +%Y%m%dT%H%M%SZ" ] && { [ "$(cat ${sh(mode)})" = always ] || [ "$CALL_NUMBER" -eq 1 ]; }; then
    echo ${stepped}
else
    exec /usr/bin/date "$@"
fi`);
            writeFileSync(mode, "always");
            const first = await host.backup();
            assert.equal(first.result.status, 0, describeRun(first.result));
            assert.equal(first.timestamp, stepped);
            const manifest = (await downloadObject(host.backupPath(stepped, "manifest.txt"), host.sandbox.path("m1"))).toString("utf8");
            await services.cluster.sql(host.database, "UPDATE users SET nickname = 'after the first backup'");

            host.sandbox.standIn("date", `if [ "$*" = "-u +%Y%m%dT%H%M%SZ" ]; then echo ${stepped}; else exec /usr/bin/date "$@"; fi`);
            const refused = await host.backup();
            assert.notEqual(refused.result.status, 0, describeRun(refused.result));
            assert.match(refused.result.stderr, new RegExp(`refusing to write into .*/mattermost/${stepped}/, which already exists; nothing was uploaded`));
            assert.equal((await downloadObject(host.backupPath(stepped, "manifest.txt"), host.sandbox.path("m2"))).toString("utf8"), manifest, "the complete backup is untouched");

            host.sandbox.standIn("date", `if [ "$*" = "-u +%Y%m%dT%H%M%SZ" ] && [ ! -e ${sh(host.sandbox.path("stepped-once"))} ]; then
    touch ${sh(host.sandbox.path("stepped-once"))}
    echo ${stepped}
else
    exec /usr/bin/date "$@"
fi`);
            const fresh = await host.backup();
            assert.equal(fresh.result.status, 0, describeRun(fresh.result));
            assert.notEqual(fresh.timestamp, stepped);
            assert.match(fresh.result.stdout, new RegExp(`${stepped}/ already exists \\(the clock went back\\?\\); a backup never writes into it`));
            assert.equal((await downloadObject(host.backupPath(stepped, "manifest.txt"), host.sandbox.path("m3"))).toString("utf8"), manifest);
            assert.ok((await objectsOf(host.stack)).includes(`mattermost/${fresh.timestamp}/manifest.txt`));
        }));
});

// ---------------------------------------------------------------------------------------------------
describe("tools/mattermost-restore.sh: leftovers of a killed run", () => {
    test("killed (SIGKILL) while restoring the database: the re-run stops the orphan holding the lock, drops and removes what it left, says so, and restores", () =>
        withHost("killed-rerun", async (host) => {
            const timestamp = await host.backupOk();
            const backedUp = await host.state();
            await services.cluster.sql(host.database, "UPDATE users SET nickname = 'changed since the backup'");
            // A pg_restore that loads the data and then hangs: it outlives the killed script, holding the lock.
            const pgBin = host.sandbox.path("pg-bin");
            mkdirSync(pgBin);
            for (const program of readdirSync(services.cluster.bin).filter((name) => name !== "pg_restore")) {
                symlinkSync(join(services.cluster.bin, program), join(pgBin, program));
            }
            for (const dir of ["calls", "calls/pg_restore"]) {
                mkdirSync(host.sandbox.path(dir), { recursive: true });
                chmodSync(host.sandbox.path(dir), 0o777);
            }
            host.sandbox.write("calls/sequence", "", 0o666);
            const loaded = host.sandbox.path("loaded");
            mkdirSync(loaded, { mode: 0o777 });
            chmodSync(loaded, 0o777);
            const real = sh(join(services.cluster.bin, "pg_restore"));
            host.sandbox.standIn(
                "pg_restore",
                `case "$*" in
*--dbname=*)
    ${real} --section=pre-data --section=data "$@"
    touch ${sh(join(loaded, "yes"))}
    sleep 300 ;;
esac
exec ${real} "$@"`,
                join(pgBin, "pg_restore"),
            );
            const killed = await runAndSignal(host, "tools/mattermost-restore.sh", [timestamp], {
                env: { PG_BIN: pgBin },
                ready: () => existsSync(join(loaded, "yes")),
                signal: "SIGKILL",
                to: "script",
                onExit: true,
            });
            try {
            assert.ok(killed.sent);
            assert.equal(killed.signal, "SIGKILL");
            const [partial] = await databasesStartingWith(`${host.database}_restore_`);
            assert.ok(partial, "the killed run left its database");
            assert.ok(filesIn(host.home).some((name) => name.includes(".restore-")), "and its staged files");
            assert.ok(filesIn(host.sandbox.tmp).length > 0, "and its work directory");
            assert.ok(filesIn(host.etc).some((name) => name.endsWith(".partial")), "and its copy of the backup's secrets");

            const rerun = await host.restore(timestamp);
            assert.equal(rerun.status, 0, describeRun(rerun));
            assert.match(rerun.stdout, /reclaiming .*mattermost\.lock: the run that took it \(pid \d+\) has ended; stopping what it left running: pids \d+/);
            assert.match(rerun.stdout, new RegExp(`dropped ${partial}, the incomplete database of an earlier restore`));
            assert.match(rerun.stdout, /removed .*\.data\.restore-\d{8}T\d{6}Z, staged by an earlier restore/);
            assert.match(rerun.stdout, /removed .*mattermost-restore\.work\.\w+, the work directory of an earlier run/);
            assert.match(rerun.stdout, /removed .*\.mattermost-restore-\d{8}T\d{6}Z\.partial, extracted by an earlier restore/);
            assert.deepEqual(await host.state(), backedUp);
            assert.deepEqual(await databasesStartingWith(`${host.database}_restore_`), []);
            assert.ok(!filesIn(host.home).some((name) => name.includes(".restore-")));
            assert.deepEqual(filesIn(host.sandbox.tmp), []);
            assert.ok(!filesIn(host.etc).some((name) => name.endsWith(".partial")));
            const orphans = await runProcess("pgrep", ["-f", join(pgBin, "pg_restore")]);
            assert.equal(orphans.stdout.trim(), "", "the orphan was stopped");
            } finally {
                try {
                    process.kill(-killed.group, "SIGKILL");
                } catch {
                    // nothing of that run is left
                }
            }
        }));
});

// ---------------------------------------------------------------------------------------------------
describe("tools/mattermost-restore.sh: a data directory that is a mount point", { skip: !AS_ROOT && "needs root to mount" }, () => {
    test("its contents are swapped inside it (renaming it fails with EBUSY); the previous contents are kept inside", () =>
        withHost("mounted-data", async (host) => {
            const timestamp = await host.backupOk();
            const backedUp = await host.state();
            // The data volume: a copy of the data directory, bind-mounted over it in a mount namespace
            // of the restore's own (a bind mount is a mount point: rename(2) on it fails with EBUSY).
            const volume = host.sandbox.path("data-volume");
            const copied = await runProcess("cp", ["-a", host.dataDir, volume]);
            assert.equal(copied.status, 0, describeRun(copied));
            rmSync(join(volume, "users"), { recursive: true });
            writeFileSync(join(volume, "stray.txt"), "written after the backup\n");
            const damaged = fileTreeHash(volume);
            await services.cluster.sql(host.database, "UPDATE users SET nickname = 'changed since the backup'");

            const result = await host.sandbox.run(
                "unshare",
                ["--mount", "bash", "-c", 'mount --bind "$1" "$2" && exec bash "$3" "$4"', "mount", volume, host.dataDir, join(HOST_SCRIPT_DIR, "tools/mattermost-restore.sh"), timestamp],
                { env: host.toolEnv(), timeoutMs: SCRIPT_TIMEOUT_MS },
            );
            assert.equal(result.status, 0, describeRun(result));
            assert.match(result.stdout, /data is a mount point: its contents are swapped inside it/);
            const kept = filesIn(volume).filter((name) => name.startsWith(".before-restore-"));
            assert.equal(kept.length, 1, filesIn(volume).join(", "));
            assert.equal(fileTreeHash(join(volume, kept[0]!)), damaged, "the previous contents are kept inside the volume");
            rmSync(join(volume, kept[0]!), { recursive: true });
            assert.equal(fileTreeHash(volume), backedUp.files, "the volume holds the backup's files");
            assert.deepEqual((await host.state()).database, backedUp.database);
        }));
});

// ---------------------------------------------------------------------------------------------------
describe("retention: the newest complete backups are never tagged expirable, whatever their age", () => {
    /** The objects of the host's backups, each with its tags. */
    async function tagsByObject(host: MattermostHost): Promise<Map<string, string[]>> {
        const tags = new Map<string, string[]>();
        for (const object of await objectsOf(host.stack)) {
            tags.set(object, await services.s3.tagsOf(`${host.stack}/${object}`));
        }
        return tags;
    }

    /** The folders (or top-level files) whose objects carry the expirable tag, and those that do not. */
    function split(tags: Map<string, string[]>): { tagged: string[]; untagged: string[] } {
        const tagged = new Set<string>();
        const untagged = new Set<string>();
        for (const [object, objectTags] of tags) {
            const folder = object.split("/").slice(0, 2).join("/");
            assert.ok(objectTags.length === 0 || objectTags.join() === EXPIRABLE, `${object}: ${objectTags.join()}`);
            (objectTags.length === 0 ? untagged : tagged).add(folder);
        }
        for (const folder of tagged) {
            assert.ok(!untagged.has(folder), `${folder} is tagged only in part`);
        }
        return { tagged: [...tagged].sort(), untagged: [...untagged].sort() };
    }

    test("after k backups: nothing is tagged up to backup.keepNewest; then every object of each older backup, and only those", () =>
        withHost("retention-sequence", async (host) => {
            const keep = 2;
            const env = { BACKUP_KEEP_NEWEST: String(keep) };
            const timestamps: string[] = [];
            const requestsBefore = services.imds.requests.length;
            for (let k = 1; k <= keep + 2; k++) {
                const { result, timestamp } = await host.backup(env);
                assert.equal(result.status, 0, describeRun(result));
                timestamps.push(timestamp);
                const { tagged, untagged } = split(await tagsByObject(host));
                const expectedTagged = timestamps.slice(0, Math.max(0, k - keep)).map((stamp) => `mattermost/${stamp}`);
                assert.deepEqual(tagged, expectedTagged, `after ${k} backups`);
                assert.deepEqual(untagged, [...timestamps.slice(-keep).map((stamp) => `mattermost/${stamp}`), "mattermost/last-success.txt"].sort(), `after ${k} backups`);
                if (k <= keep) {
                    const says = k < keep ? `retention: ${k} complete backups at or before now, none beyond the newest ${keep}: nothing to tag` : `retention: keeping the newest ${keep} complete backups \\(from ${timestamps[0]} on\\); no older backup needs tagging`;
                    assert.match(result.stdout, new RegExp(says));
                    assert.equal(services.imds.requests.length, requestsBefore, "no credentials are fetched when there is nothing to tag");
                } else {
                    assert.match(result.stdout, new RegExp(`retention: keeping the newest ${keep} complete backups \\(from ${timestamps[k - keep]} on\\); tagged 7 objects of 1 older backups expirable: ${timestamps[k - keep - 1]}`));
                }
                assert.equal(existsSync(join(host.stateDir, "mattermost-backup.last-retention-failure")), false);
                await new Promise((resolve) => setTimeout(resolve, 1100));
            }
            assert.ok(services.imds.requests.includes("PUT /latest/api/token"), "IMDSv2: a session token first");
        }));

    test("an existing stack: old complete backups beyond the newest are tagged on the first run, failed runs older than them too; newer failed runs and future-stamped backups are not", () =>
        withHost("retention-existing", async (host) => {
            const first = await host.backupOk();
            const copy = async (to: string, withManifest: boolean) => {
                const args = ["copy", services.s3.path(`${host.stack}/mattermost/${first}`), services.s3.path(`${host.stack}/mattermost/${to}`), ...(withManifest ? [] : ["--exclude", "manifest.txt"])];
                const result = await services.s3.rclone(args);
                assert.equal(result.status, 0, describeRun(result));
            };
            // Written before this change (no tags), in the order the clock gave them.
            await copy("20240101T000000Z", true);
            await copy("20240102T000000Z", false);
            await copy("20240103T000000Z", true);
            await copy("20240104T000000Z", false);
            await copy("29991231T235959Z", true);
            await new Promise((resolve) => setTimeout(resolve, 1100));
            const second = await host.backupOk();

            // Complete at or before now, newest first: second, first, 20240103 (kept, however old), 20240101.
            const { tagged, untagged } = split(await tagsByObject(host));
            assert.deepEqual(tagged, ["mattermost/20240101T000000Z", "mattermost/20240102T000000Z"]);
            assert.deepEqual(untagged, [
                "mattermost/20240103T000000Z",
                "mattermost/20240104T000000Z",
                `mattermost/${first}`,
                `mattermost/${second}`,
                "mattermost/29991231T235959Z",
                "mattermost/last-success.txt",
            ].sort());
            assert.deepEqual(readFileSync(join(host.stateDir, "mattermost-backup.expirable"), "utf8").split("\n").filter(Boolean), ["20240101T000000Z", "20240102T000000Z"]);
        }));

    test("backups already tagged are not tagged again", () =>
        withHost("retention-cache", async (host) => {
            const env = { BACKUP_KEEP_NEWEST: "1" };
            for (let k = 1; k <= 2; k++) {
                assert.equal((await host.backup(env)).result.status, 0);
                await new Promise((resolve) => setTimeout(resolve, 1100));
            }
            host.sandbox.standIn("curl", `exec /usr/bin/curl "$@"`);
            const third = await host.backup(env);
            assert.equal(third.result.status, 0, describeRun(third.result));
            const puts = host.sandbox.calls("curl").filter((call) => call.argv.join(" ").includes("--config -") && !call.argv.some((arg) => arg.includes("/latest/")));
            assert.equal(puts.length, 7, "only the objects of the one backup that fell beyond the newest");
        }));

    test("the instance profile's credentials never reach a command line", () =>
        withHost("retention-argv", async (host) => {
            const env = { BACKUP_KEEP_NEWEST: "1" };
            assert.equal((await host.backup(env)).result.status, 0);
            await new Promise((resolve) => setTimeout(resolve, 1100));
            host.sandbox.standIn("curl", `exec /usr/bin/curl "$@"`);
            const result = await host.backup(env);
            assert.equal(result.result.status, 0, describeRun(result.result));
            const calls = host.sandbox.calls("curl");
            assert.ok(calls.length > 3, "curl was called for IMDS and the tagging");
            for (const call of calls) {
                const line = call.argv.join(" ");
                assert.doesNotMatch(line, new RegExp(TEST_KEYS.secretAccessKey), line);
                assert.doesNotMatch(line, /metadata-token:|security-token/i, line);
            }
        }));

    const failures: { name: string; breakIt: (host: MattermostHost) => Record<string, string>; says: RegExp }[] = [
        { name: "the host has no instance profile", breakIt: () => ((services.imds.hasRole = false), {}), says: /retention: this host has no instance profile/ },
        { name: "IMDS does not answer", breakIt: () => ({ BACKUP_IMDS_URL: "http://127.0.0.1:9" }), says: /retention: cannot get an IMDSv2 session token/ },
        {
            name: "S3 refuses the request",
            breakIt: (host) => (host.sandbox.standIn("curl", `if [ "$1" != --silent ] || [[ "$*" == *latest* ]]; then exec /usr/bin/curl "$@"; fi
for arg; do case "$arg" in --output) out=yes ;; *) if [ "\${out-}" = yes ]; then echo '<Error><Code>AccessDenied</Code></Error>' >"$arg"; out=no; fi ;; esac; done
printf 403`), {}),
            says: /retention: tagging .*\/mattermost\/\d{8}T\d{6}Z\/\S+ failed: S3 answered 403: <Error><Code>AccessDenied<\/Code><\/Error>/,
        },
    ];
    for (const { name, breakIt, says } of failures) {
        test(`${name}: the backup still succeeds and is recorded; the failure is reported and the next run tags`, () =>
            withHost(`retention-${name.split(" ").at(-1)}`, async (host) => {
                const env = { BACKUP_KEEP_NEWEST: "1" };
                const first = await host.backupOk();
                await new Promise((resolve) => setTimeout(resolve, 1100));
                try {
                    const broken = await host.backup({ ...env, ...breakIt(host) });
                    assert.equal(broken.result.status, 0, describeRun(broken.result));
                    assert.match(broken.result.stderr, says);
                    assert.match(broken.result.stderr, new RegExp(`WARNING: retention FAILED: .*backup ${broken.timestamp} is complete; the next backup tries again`));
                    assert.equal(readFileSync(join(host.stateDir, "mattermost-backup.last-success"), "utf8").trim(), broken.timestamp);
                    assert.ok((await objectsOf(host.stack)).includes(`mattermost/${broken.timestamp}/manifest.txt`));
                    assert.match(readFileSync(join(host.stateDir, "mattermost-backup.last-retention-failure"), "utf8"), new RegExp(`retention FAILED \\(backup ${broken.timestamp} is complete\\)`));
                    assert.deepEqual(split(await tagsByObject(host)).tagged, []);
                    assert.deepEqual(filesIn(host.sandbox.tmp), []);
                } finally {
                    services.imds.hasRole = true;
                }
                host.sandbox.standIn("curl", `exec /usr/bin/curl "$@"`);
                await new Promise((resolve) => setTimeout(resolve, 1100));
                const fixed = await host.backup(env);
                assert.equal(fixed.result.status, 0, describeRun(fixed.result));
                assert.equal(existsSync(join(host.stateDir, "mattermost-backup.last-retention-failure")), false);
                assert.ok(split(await tagsByObject(host)).tagged.includes(`mattermost/${first}`));
            }));
    }

    test("SIGTERM (systemd stopping the unit) while tagging: FAILED, and it says the backup is complete and recorded; the next run finishes the tagging", () =>
        withHost("retention-signal", async (host) => {
            const env = { BACKUP_KEEP_NEWEST: "1" };
            const first = await host.backupOk();
            await new Promise((resolve) => setTimeout(resolve, 1100));
            const tagging = host.sandbox.path("tagging");
            host.sandbox.standIn("curl", `if [[ "$*" == *latest/api/token* ]]; then touch ${sh(tagging)}; sleep 60; fi
exec /usr/bin/curl "$@"`);
            const result = await runAndSignal(host, "tools/mattermost-backup.sh", [], { env, ready: () => existsSync(tagging), signal: "SIGTERM", to: "group", onExit: true });
            assert.ok(result.sent);
            assert.equal(result.status, 143, describeRun(result));
            const second = readFileSync(join(host.stateDir, "mattermost-backup.last-success"), "utf8").trim();
            assert.notEqual(second, first);
            assert.match(result.stderr, new RegExp(`mattermost-backup: FAILED \\(ended by SIGTERM after backup ${second} was complete and recorded; only its retention step did not finish\\)`));
            assert.ok((await objectsOf(host.stack)).includes(`mattermost/${second}/manifest.txt`));
            assert.deepEqual(split(await tagsByObject(host)).tagged, []);

            host.sandbox.standIn("curl", `exec /usr/bin/curl "$@"`);
            await new Promise((resolve) => setTimeout(resolve, 1100));
            const next = await host.backup(env);
            assert.equal(next.result.status, 0, describeRun(next.result));
            assert.deepEqual(split(await tagsByObject(host)).tagged, [`mattermost/${first}`, `mattermost/${second}`]);
        }));
});
