// Moving a bundled Mattermost to the standalone host: host/migration/export-bundled-mattermost.sh and
// import-standalone-mattermost.sh, run at the same time as `pulumi up` runs them, against
//   - a REAL bundled-like PostgreSQL cluster (Debian's package, test/support/postgres.ts) reached over
//     its Unix socket, where the role gitlab_mattermost owns mattermost_production (posts, file infos,
//     plugin values and a value encrypted at rest, test/support/mattermostFixture.ts);
//   - a SEPARATE real cluster standing in for the standalone host's PostgreSQL, prepared by the real
//     setup-mattermost-database.sh (role mmuser, database mattermost);
//   - a REAL S3-protocol server on 127.0.0.1 (s3rver) reached through rclone, and the real backup tool
//     host/tools/mattermost-backup.sh for the backup before the move.
// What only exists on the hosts is a RECORDING STAND-IN (test/support/standIns.ts): gitlab-ctl on the
// bundled host, systemctl on the standalone one; each host's Mattermost ping is a small HTTP server on
// 127.0.0.1 that answers only while its stand-in says Mattermost is started (mattermostPing.ts).

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { standaloneEnvironmentFile } from "../../components/mattermost/standalone/standaloneSettings";
import { EXPIRABLE_TAG } from "../../components/backups/backupPlan";
import { HOST_SCRIPT_DIR } from "../../components/omnibus/hostScripts";
import { parseVersion } from "../../components/versions/versions";
import { backupServices, type BackupServices } from "../support/backupServices";
import { createMattermostDatabase, fileTreeHash, fingerprint, writeDataDirectory, writePluginDirectories, type DatabaseFingerprint } from "../support/mattermostFixture";
import { gitlabCtlMattermostBody, startPing, type PingServer } from "../support/mattermostPing";
import { PostgresCluster, postgresBinDir } from "../support/postgres";
import { runProcess, sh, type RunResult, type RunningScript, Sandbox, waitForFile, withSandbox } from "../support/standIns";
import { parseSystemdEnvironmentFile } from "../support/systemdEnvironmentFile";

const VERSION = "10.11.20";
const AT_REST_KEY = "0123456789abcdef0123456789abcdef";
const OAUTH_ID = "a1b2c3d4e5f6";
const SITE_URL = "https://chat.example.com";
const SECRET_TEXT = "encrypted at rest: the standup plugin's token";
const AS_ROOT = process.getuid?.() === 0;
const SCALE = { users: 30, channels: 6, posts: 900, largePostEvery: 150 };
const SCRIPT_TIMEOUT_MS = 180_000;
const SOURCE_DB = "mattermost_production";

function describeRun(result: RunResult): string {
    return `status ${result.status} signal ${result.signal}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;
}

/** AES-256-GCM with the key's 32 bytes, nonce first, base64: how Mattermost seals values at rest. */
function seal(key: string, text: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", Buffer.from(key, "utf8"), nonce);
    const sealed = Buffer.concat([cipher.update(text, "utf8"), cipher.final(), cipher.getAuthTag()]);
    return Buffer.concat([nonce, sealed]).toString("base64");
}
function open(key: string, sealedText: string): string {
    const raw = Buffer.from(sealedText, "base64");
    const decipher = createDecipheriv("aes-256-gcm", Buffer.from(key, "utf8"), raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString("utf8");
}

/** The bundled host's PostgreSQL (services.cluster), the bucket and IMDS, started by the describe below. */
let services: BackupServices;
let targetDb: PostgresCluster;
let sourceFingerprint: DatabaseFingerprint;
let stackCounter = 0;

/** Every table of schema public, so the check covers tables the fixture list does not name. */
async function fullFingerprint(cluster: PostgresCluster, database: string): Promise<{ tables: Record<string, string>; structure: string[] }> {
    const base = await fingerprint(cluster, database);
    const sealed = await cluster.sql(database, "SELECT count(*) || ' ' || string_agg(md5(t::text), ',' ORDER BY pluginid, pkey) FROM sealedvalues AS t;");
    // Owners differ on purpose (gitlab_mattermost there, mmuser here); the structure must not.
    return { tables: { ...base.tables, sealedvalues: sealed.trim() }, structure: base.schema.filter((line) => !/ owner /.test(line)) };
}

describe("shellcheck on the migration scripts", () => {
    const scripts = readdirSync(join(HOST_SCRIPT_DIR, "migration")).filter((name) => name.endsWith(".sh"));
    test("there are scripts to check", () => assert.ok(scripts.includes("export-bundled-mattermost.sh") && scripts.includes("migration-common.sh")));
    for (const script of scripts) {
        test(`shellcheck -x ${script} reports nothing`, async () => {
            const result = await runProcess("shellcheck", ["-x", join(HOST_SCRIPT_DIR, "migration", script)]);
            assert.equal(result.stdout + result.stderr, "", `shellcheck reported on ${script}`);
            assert.equal(result.status, 0);
        });
    }
});

/** A value sealed with the at-rest key, as Mattermost keeps e.g. plugin secrets. */
async function addSealedValue(bundledDb: PostgresCluster): Promise<void> {
    await bundledDb.sql(
        SOURCE_DB,
        `SET ROLE gitlab_mattermost;
         CREATE TABLE sealedvalues (pluginid varchar(190), pkey varchar(150), pvalue text, PRIMARY KEY (pluginid, pkey));
         INSERT INTO sealedvalues VALUES ('com.example.standup', 'token', '${seal(AT_REST_KEY, SECRET_TEXT)}');`,
    );
}

describe("moving the bundled Mattermost to the standalone host", { skip: !postgresBinDir() && "PostgreSQL is not installed" }, () => {
    services = backupServices(async (bundledDb) => {
        await createMattermostDatabase(bundledDb, SOURCE_DB, SCALE);
        await addSealedValue(bundledDb);
        sourceFingerprint = await fingerprint(bundledDb, SOURCE_DB);
    });
    before(async () => {
        targetDb = await PostgresCluster.create();
        const setup = await withSandbox((sandbox) => sandbox.runScript("standalone/setup-mattermost-database.sh", [], { input: "db-password\n", env: targetDb.scriptEnv() }));
        assert.equal(setup.status, 0, describeRun(setup));
    });
    after(async () => {
        await targetDb?.destroy();
    });

    let world: World;
    beforeEach(async () => {
        world = await World.create();
    });
    afterEach(async () => {
        await world.close();
    });

    test("moves the database, files and settings, verified, and leaves the bundled data in place", async () => {
        const [exported, imported] = await world.migrate();
        assert.equal(exported.status, 0, describeRun(exported));
        assert.equal(imported.status, 0, describeRun(imported));

        const source = await fullFingerprint(services.cluster, SOURCE_DB);
        const target = await fullFingerprint(targetDb, "mattermost");
        assert.deepEqual(target.tables, source.tables, "every table arrives with the same rows");
        assert.deepEqual(target.structure, source.structure, "indexes, constraints and types arrive");
        assert.ok(Number(source.tables.posts!.split(" ")[0]) > 0);
        assert.equal((await targetDb.sql("mattermost", "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public';")).trim(), "mmuser");
        assert.deepEqual(await world.targetDatabases(), ["mattermost"], "nothing is left beside it");

        for (const folder of ["data", "plugins", "client-plugins"]) {
            assert.equal(fileTreeHash(world.standalonePath(folder)), fileTreeHash(world.bundledPath(folder)), `${folder} arrives identical`);
        }
        assert.equal(readFileSync(world.standalonePath("config/config.json"), "utf8"), readFileSync(world.bundledPath("config.json"), "utf8"));

        const carried = parseSystemdEnvironmentFile(readFileSync(world.standaloneRoot("etc/mattermost/migrated.env"), "utf8"));
        assert.deepEqual(carried, {
            MM_SQLSETTINGS_ATRESTENCRYPTKEY: AT_REST_KEY,
            MM_SERVICESETTINGS_ALLOWEDUNTRUSTEDINTERNALCONNECTIONS: "gitlab.example.com",
            MM_SERVICESETTINGS_ENABLEAPITEAMDELETION: "true",
            MM_FEATUREFLAGS_CUSTOM: 'a "quoted" $value with `ticks` \\ and trailing',
            GODEBUG: "tlsmlkem=0",
        }, "what the host does not set itself comes over byte for byte; Omnibus paths, the socket DSN and the host's own settings do not");
        const sealed = (await targetDb.sql("mattermost", "SELECT pvalue FROM sealedvalues;")).trim();
        assert.equal(open(carried.MM_SQLSETTINGS_ATRESTENCRYPTKEY!, sealed), SECRET_TEXT, "a value sealed before the move opens with the carried key");
        assert.equal(readFileSync(world.standaloneRoot("etc/systemd/system/mattermost.service.d/migrated-settings.conf"), "utf8"), "[Service]\nEnvironmentFile=/etc/mattermost/migrated.env\n");

        assert.deepEqual(world.gitlabCtl(), ["stop mattermost"], "the bundled Mattermost stays stopped after the move");
        assert.ok(world.standaloneServing(), "the standalone Mattermost runs on the moved data");
        assert.deepEqual((await fingerprint(services.cluster, SOURCE_DB)).tables, sourceFingerprint.tables, "the bundled database stays as it was");
        assert.ok(existsSync(world.bundledPath("data/users/user1/profile.png")), "the bundled files stay");
        assert.ok((await world.objects("mattermost")).some((key) => key.endsWith("/manifest.txt")), "a full backup was made first");
        assert.match(await world.object("mattermost-migration/completed.txt"), /^\d{8}T\d{6}Z\n$/);

        const [again, againImport] = await world.migrate();
        assert.equal(again.status, 0, describeRun(again));
        assert.equal(againImport.status, 0, describeRun(againImport));
        assert.match(again.stdout, /already moved/);
        assert.match(againImport.stdout, /already moved here/);
        assert.deepEqual(world.gitlabCtl(), ["stop mattermost"], "a re-run after the move touches nothing");
    });

    test("removes the bundled data only once asked and after a newer complete backup of the standalone Mattermost", async () => {
        const [exported, imported] = await world.migrate();
        assert.equal(exported.status, 0, describeRun(exported));
        assert.equal(imported.status, 0, describeRun(imported));
        const remove = () => world.sandbox.runScript("migration/remove-bundled-mattermost-data.sh", [], { env: world.exportEnv(), timeoutMs: SCRIPT_TIMEOUT_MS });
        const intact = async () => {
            assert.deepEqual((await fingerprint(services.cluster, SOURCE_DB)).tables, sourceFingerprint.tables, "the bundled database stays");
            assert.ok(existsSync(world.bundledPath("data/users/user1/profile.png")), "the bundled files stay");
        };

        const onlyOlder = await remove();
        assert.notEqual(onlyOlder.status, 0, describeRun(onlyOlder));
        assert.match(onlyOlder.stderr, /no backup of the standalone Mattermost newer than the move/, "the backup before the move does not count");
        await intact();

        // STAND-IN for a backup the standalone host's backup tool made after the move: a manifest and its file.
        const newer = "29990101T000000Z";
        const file = world.sandbox.write("standin-backup/mattermost.dump.zst", "stand-in dump\n");
        await services.s3.rclone(["copyto", file, services.s3.path(`${world.stack}/mattermost/${newer}/mattermost.dump.zst`)]);
        await services.s3.rclone(["rcat", services.s3.path(`${world.stack}/mattermost/${newer}/manifest.txt`)], "# stand-in\nabc 14 mattermost.dump.zst\ndef 99 config.json\n");
        await services.s3.rclone(["rcat", services.s3.path(`${world.stack}/mattermost/last-success.txt`)], `${newer}\n`);
        const incomplete = await remove();
        assert.notEqual(incomplete.status, 0, describeRun(incomplete));
        assert.match(incomplete.stderr, /lacks config\.json of size 99/);
        await intact();

        await services.s3.rclone(["rcat", services.s3.path(`${world.stack}/mattermost/${newer}/manifest.txt`)], "# stand-in\nabc 14 mattermost.dump.zst\n");
        const removed = await remove();
        assert.equal(removed.status, 0, describeRun(removed));
        assert.equal((await services.cluster.sql("postgres", `SELECT count(*) FROM pg_database WHERE datname = '${SOURCE_DB}';`)).trim(), "0");
        for (const gone of ["data", "plugins", "client-plugins", "config.json"]) assert.ok(!existsSync(world.bundledPath(gone)), gone);
        assert.ok(world.standaloneServing(), "the standalone Mattermost is not touched");
        const again = await remove();
        assert.equal(again.status, 0, describeRun(again));
        assert.match(again.stdout, /nothing to do/);
        // The next test moves this database again.
        await createMattermostDatabase(services.cluster, SOURCE_DB, SCALE);
        await addSealedValue(services.cluster);
        sourceFingerprint = await fingerprint(services.cluster, SOURCE_DB);
    });

    test("takes the at-rest key from gitlab-secrets.json when the environment directory lacks it", async () => {
        world.removeBundledEnv("MM_SQLSETTINGS_ATRESTENCRYPTKEY");
        const [exported, imported] = await world.migrate();
        assert.equal(exported.status, 0, describeRun(exported));
        assert.equal(imported.status, 0, describeRun(imported));
        const carried = parseSystemdEnvironmentFile(readFileSync(world.standaloneRoot("etc/mattermost/migrated.env"), "utf8"));
        assert.equal(carried.MM_SQLSETTINGS_ATRESTENCRYPTKEY, AT_REST_KEY);
    });

    /** Faults before the cut-over: the bundled Mattermost serves again on intact data, and a re-run completes. */
    const faults: { name: string; inject: (world: World) => void; failsOn: "export" | "import"; says: RegExp; stopped: boolean; down?: boolean }[] = [
        { name: "the bundled Mattermost does not answer", inject: (w) => w.bundledDown(), failsOn: "export", says: /does not answer/, stopped: false, down: true },
        { name: "a version mismatch", inject: (w) => (w.exportVersion = "10.11.21"), failsOn: "export", says: /10\.11\.20.*10\.11\.21.*gitlab-mattermost:mattermost\.version/, stopped: false },
        { name: "the backup fails", inject: (w) => w.failBackup(), failsOn: "export", says: /backup before the move failed/, stopped: false },
        { name: "pg_dump fails", inject: (w) => w.wrapBundled("pg_dump", "exit 3"), failsOn: "export", says: /pg_dump/, stopped: true },
        { name: "the upload fails", inject: (w) => w.wrapBundled("rclone", 'case "$1 $3" in "copy "*mattermost-migration*) exit 5 ;; esac'), failsOn: "export", says: /rclone copy/, stopped: true },
        { name: "a verification mismatch (a row lost on the way)", inject: (w) => w.dropRowOnImport(), failsOn: "import", says: /differs from the bundled one/, stopped: true },
        {
            name: "a file changed on the way",
            inject: (w) => w.wrapImport("tar", 'if [ "$1" = --extract ]; then "$REAL" "$@" || exit; f=$(find "${3#--directory=}" -name profile.png | head -n 1); [ -z "$f" ] || printf x >>"$f"; exit 0; fi'),
            failsOn: "import",
            says: /differ from the bundled ones \(sha256\)/,
            stopped: true,
        },
        { name: "a different OAuth application", inject: (w) => w.writeStandaloneEnv("someone-else"), failsOn: "import", says: /sign-in with GitLab would break/, stopped: true },
        { name: "the standalone Mattermost does not answer on the moved data", inject: (w) => w.standaloneStartsOnlyOnce(), failsOn: "import", says: /does not answer .* on the moved data/, stopped: true },
    ];
    for (const fault of faults) {
        test(`${fault.name}: nothing is lost, the bundled Mattermost serves again, and a re-run completes`, async () => {
            fault.inject(world);
            const [exported, imported] = await world.migrate();
            const failed = fault.failsOn === "export" ? exported : imported;
            assert.notEqual(exported.status, 0, describeRun(exported));
            assert.match(failed.stderr, fault.says, describeRun(failed));
            assert.match(exported.stderr, /FAILED/, describeRun(exported));
            if (fault.failsOn === "import") {
                assert.notEqual(imported.status, 0, describeRun(imported));
                assert.match(exported.stderr, /did not take run .*failed: /, "the export says why the import failed");
            }
            await world.assertBundledServingIntact(fault.stopped, !fault.down);
            assert.ok(world.standaloneServing(), "the standalone Mattermost runs as before");
            assert.deepEqual(await world.targetDatabases(), ["mattermost"], "no half-built database is left");
            assert.equal((await targetDb.sql("mattermost", "SELECT to_regclass('public.posts') IS NULL;")).trim(), "t", "the standalone database is the one it had");

            world.repair();
            const [exportedAgain, importedAgain] = await world.migrate();
            assert.equal(exportedAgain.status, 0, describeRun(exportedAgain));
            assert.equal(importedAgain.status, 0, describeRun(importedAgain));
            assert.deepEqual((await fullFingerprint(targetDb, "mattermost")).tables, (await fullFingerprint(services.cluster, SOURCE_DB)).tables);
        });
    }

    test("a standalone host that cannot take the move: the bundled host gives up at once and serves", async () => {
        rmSync(world.sandbox.path("standalone-started"));
        const [exported, imported] = await world.migrate();
        assert.notEqual(imported.status, 0, describeRun(imported));
        assert.match(imported.stderr, /Mattermost on this host does not answer/);
        assert.notEqual(exported.status, 0, describeRun(exported));
        assert.match(exported.stderr, /the standalone host (cannot take the move|gave up before taking run \S+): Mattermost on this host does not answer/, describeRun(exported));
        assert.ok(world.bundledServing());
        assert.ok(["", "stop mattermost,start mattermost"].includes(world.gitlabCtl().join(",")), world.gitlabCtl().join(","));
    });

    test("an export nobody takes: the bundled Mattermost serves again after the pick-up time", async () => {
        const exported = await world.start("export", { MIGRATION_PICKUP_SECONDS: "2" }).done;
        assert.notEqual(exported.status, 0, describeRun(exported));
        assert.match(exported.stderr, /did not take run \S+ within 2s/);
        await world.assertBundledServingIntact(true);
    });

    for (const signal of ["SIGTERM", "SIGHUP"] as const) {
        test(`the export ended by ${signal} while it copies starts the bundled Mattermost again; a re-run completes`, async () => {
            world.wrapBundled("pg_dump", `touch ${sh(world.signal("copying"))}; sleep 30`);
            const exporting = world.start("export");
            await waitForFile(world.signal("copying"), 60_000);
            // To the script alone, as sshd would send it.
            exporting.signal(signal, "script");
            const exported = await exporting.done;
            assert.notEqual(exported.status, 0, describeRun(exported));
            assert.match(exported.stderr, new RegExp(`FAILED \\(ended by ${signal}\\)`), describeRun(exported));
            await world.assertBundledServingIntact(true);
            world.repair();
            const [again, imported] = await world.migrate();
            assert.equal(again.status, 0, describeRun(again));
            assert.equal(imported.status, 0, describeRun(imported));
        });
    }

    test("a copy killed outright (SIGKILL): the re-run starts the bundled Mattermost again first, then completes", async () => {
        world.wrapBundled("pg_dump", `touch ${sh(world.signal("copying"))}; sleep 30`);
        const exporting = world.start("export");
        await waitForFile(world.signal("copying"), 60_000);
        // The whole group, as a lost host would end it.
        exporting.signal("SIGKILL");
        await exporting.done;
        assert.ok(!world.bundledServing(), "nothing can run after SIGKILL: Mattermost is still stopped");
        world.repair();
        const [again, imported] = await world.migrate();
        assert.equal(again.status, 0, describeRun(again));
        assert.equal(imported.status, 0, describeRun(imported));
        assert.match(again.stdout, /an earlier run stopped Mattermost/);
        assert.deepEqual(world.gitlabCtl(), ["stop mattermost", "start mattermost", "stop mattermost"]);
        assert.deepEqual((await fullFingerprint(targetDb, "mattermost")).tables, (await fullFingerprint(services.cluster, SOURCE_DB)).tables);
    });

    test("an import killed outright while it loads: the re-run builds the database again from nothing", async () => {
        world.wrapImport("zstd", `touch ${sh(world.signal("loading"))}; "$REAL" "$@" | head -c 20000; sleep 30`);
        const exporting = world.start("export");
        const importing = world.start("import");
        await waitForFile(world.signal("loading"), 60_000);
        importing.signal("SIGKILL");
        await importing.done;
        assert.ok((await world.targetDatabases()).includes("mattermost_migrating"), "the kill left a half-loaded database beside");
        world.repair();
        const imported = await world.start("import").done;
        const exported = await exporting.done;
        assert.equal(imported.status, 0, describeRun(imported));
        assert.equal(exported.status, 0, describeRun(exported));
        assert.deepEqual(await world.targetDatabases(), ["mattermost"]);
        assert.deepEqual((await fullFingerprint(targetDb, "mattermost")).tables, (await fullFingerprint(services.cluster, SOURCE_DB)).tables);
    });

    test("a full disk on the standalone host: refused when it is too small, rolled back on ENOSPC, and a re-run completes", { skip: !AS_ROOT && "mounting a small filesystem needs root" }, async () => {
        // Too small from the start: the pre-flight refuses.
        await world.mountStandaloneData("300k");
        const [exported, imported] = await world.migrate();
        assert.notEqual(imported.status, 0, describeRun(imported));
        assert.match(imported.stderr, /bytes free; the folders need/, describeRun(imported));
        assert.notEqual(exported.status, 0);
        await world.assertBundledServingIntact(true);

        // Room at the pre-flight, then something fills the disk: tar hits a real ENOSPC.
        await world.mountStandaloneData("4m");
        world.fillStandaloneDataOnStop();
        const [exported2, imported2] = await world.migrate();
        assert.notEqual(imported2.status, 0, describeRun(imported2));
        assert.match(imported2.stderr, /No space left on device/, describeRun(imported2));
        assert.notEqual(exported2.status, 0);
        await world.assertBundledServingIntact(true);
        assert.ok(world.standaloneServing());
        assert.ok(!existsSync(world.standalonePath(".migrating")), "the half-unpacked folders are gone");

        world.repair();
        const [exported3, imported3] = await world.migrate();
        assert.equal(imported3.status, 0, describeRun(imported3));
        assert.equal(exported3.status, 0, describeRun(exported3));
        assert.equal(fileTreeHash(world.standalonePath("data")), fileTreeHash(world.bundledPath("data")));
    });
});

/** Both hosts of one test, in one sandbox, with their own stack folder in the bucket. */
class World {
    exportVersion = VERSION;
    private checkedCalls = 0;
    private readonly repairs: (() => void)[] = [];
    private readonly mounts: string[] = [];
    private constructor(
        readonly sandbox: Sandbox,
        readonly stack: string,
        private readonly bundledPing: PingServer,
        private readonly standalonePing: PingServer,
    ) {}

    static async create(): Promise<World> {
        const sandbox = new Sandbox();
        // The database's account runs PostgreSQL's programs from here (wrappers included).
        chmodSync(sandbox.root, 0o711);
        mkdirSync(sandbox.path("signals"), { mode: 0o777 });
        chmodSync(sandbox.path("signals"), 0o777);
        const stack = `migration-${++stackCounter}`;
        const world = new World(sandbox, stack, await startPing(sandbox.path("bundled-started")), await startPing(sandbox.path("standalone-started")));
        writeFileSync(sandbox.path("bundled-started"), "");
        writeFileSync(sandbox.path("standalone-started"), "");
        sandbox.standIn("gitlab-ctl", gitlabCtlMattermostBody(sandbox.path("bundled-started"), sh));
        world.standaloneSystemctl();
        // The bundled host (Omnibus's paths below bundled/).
        const home = world.bundledPath();
        writeDataDirectory(join(home, "data"));
        writePluginDirectories(home);
        sandbox.write("bundled/var/opt/gitlab/mattermost/config.json", '{"ServiceSettings":{"SiteURL":"https://chat.example.com"},"TeamSettings":{"MaxUsersPerTeam":250}}\n', 0o600);
        sandbox.write("bundled/etc/gitlab/gitlab-secrets.json", JSON.stringify({ mattermost: { sql_at_rest_encrypt_key: AT_REST_KEY, gitlab_id: OAUTH_ID } }), 0o600);
        sandbox.write("bundled/etc/gitlab/gitlab.rb", "external_url 'https://gitlab.example.com'\n", 0o600);
        const env: Record<string, string> = {
            MM_SERVICESETTINGS_SITEURL: SITE_URL,
            MM_SERVICESETTINGS_LISTENADDRESS: "127.0.0.1:8065",
            MM_SERVICESETTINGS_ALLOWEDUNTRUSTEDINTERNALCONNECTIONS: "gitlab.example.com",
            MM_SERVICESETTINGS_ENABLEAPITEAMDELETION: "true",
            MM_TEAMSETTINGS_SITENAME: "GitLab Mattermost",
            MM_SQLSETTINGS_DRIVERNAME: "postgres",
            MM_SQLSETTINGS_DATASOURCE: "user=gitlab_mattermost host=/var/opt/gitlab/postgresql port=5432 dbname=mattermost_production",
            MM_SQLSETTINGS_ATRESTENCRYPTKEY: AT_REST_KEY,
            MM_LOGSETTINGS_FILELOCATION: "/var/log/gitlab/mattermost",
            MM_FILESETTINGS_DIRECTORY: "/var/opt/gitlab/mattermost/data",
            MM_GITLABSETTINGS_ENABLE: "true",
            MM_GITLABSETTINGS_ID: OAUTH_ID,
            MM_GITLABSETTINGS_SECRET: "oauth-secret",
            MM_PLUGINSETTINGS_DIRECTORY: "/var/opt/gitlab/mattermost/plugins",
            MM_PLUGINSETTINGS_CLIENTDIRECTORY: "/var/opt/gitlab/mattermost/client-plugins",
            MM_INSTALL_TYPE: "gitlab_omnibus",
            SSL_CERT_DIR: "/opt/gitlab/embedded/ssl/certs/",
            GODEBUG: "tlsmlkem=0",
            // runit drops trailing blanks; the rest of the first line is the value, whatever it holds.
            MM_FEATUREFLAGS_CUSTOM: 'a "quoted" $value with `ticks` \\ and trailing  \nsecond line, ignored\n',
            MM_EMPTY_UNSET: "",
        };
        for (const [name, value] of Object.entries(env)) {
            sandbox.write(`bundled/opt/gitlab/etc/mattermost/env/${name}`, value.endsWith("\n") || value === "" ? value : `${value}\n`, 0o600);
        }
        // The standalone host, installed and healthy with an empty Mattermost database of its own.
        for (const dir of ["data", "plugins", "client-plugins", "config"]) {
            mkdirSync(world.standalonePath(dir), { recursive: true });
        }
        sandbox.write("standalone/var/opt/mattermost/config/config.json", '{"ServiceSettings":{"SiteURL":""}}\n', 0o600);
        world.writeStandaloneEnv(OAUTH_ID);
        await targetDb.sql("postgres", "DROP DATABASE IF EXISTS mattermost WITH (FORCE); DROP DATABASE IF EXISTS mattermost_migrating WITH (FORCE); DROP DATABASE IF EXISTS mattermost_replaced WITH (FORCE);");
        await targetDb.sql("postgres", "CREATE DATABASE mattermost OWNER mmuser ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0;");
        await targetDb.sql("mattermost", "ALTER SCHEMA public OWNER TO mmuser; SET ROLE mmuser; CREATE TABLE systems (name varchar(64) PRIMARY KEY, value varchar(1024)); INSERT INTO systems VALUES ('Version', '10.11.20');");
        sandbox.write("backup.env", Object.entries({ BACKUP_REMOTE: services.s3.remote, BACKUP_STACK: stack, ...services.s3.remoteSettings() }).map(([k, v]) => `${k}=${v}`).join("\n") + "\n");
        return world;
    }

    /** A file a wrapper touches to say it got there; wrappers run as the database's account too. */
    signal(name: string): string {
        return this.sandbox.path("signals", name);
    }

    bundledPath(...parts: string[]): string {
        return this.sandbox.path("bundled/var/opt/gitlab/mattermost", ...parts);
    }
    standaloneRoot(...parts: string[]): string {
        return this.sandbox.path("standalone", ...parts);
    }
    standalonePath(...parts: string[]): string {
        return this.standaloneRoot("var/opt/mattermost", ...parts);
    }

    private common(): Record<string, string> {
        return {
            BACKUP_ENV_FILE: this.sandbox.path("backup.env"),
            ...services.s3.credentialEnv(),
            MM_PING_INTERVAL: "0.1",
            MM_PING_TIMEOUT: "5",
            MIGRATION_POLL_SECONDS: "0.2",
            MIGRATION_AWAIT_SECONDS: "60",
        };
    }

    /** The bundled host's settings, as its steps run with them. */
    exportEnv(): Record<string, string> {
        return {
            ...this.common(),
            ...services.cluster.scriptEnv(),
            MM_DB: SOURCE_DB,
            MM_HOME: this.bundledPath(),
            MM_ENV_DIR: this.sandbox.path("bundled/opt/gitlab/etc/mattermost/env"),
            GITLAB_ETC_DIR: this.sandbox.path("bundled/etc/gitlab"),
            MM_STOP_COMMAND: "gitlab-ctl stop mattermost",
            MM_START_COMMAND: "gitlab-ctl start mattermost",
            MM_BACKUP_COMMAND: `bash ${sh(join(HOST_SCRIPT_DIR, "tools", "mattermost-backup.sh"))}`,
            // The backup tool's own settings, as its env file gives them on the host.
            BACKUP_COMMON: join(HOST_SCRIPT_DIR, "tools", "backup-common.sh"),
            BACKUP_STATE_DIR: this.sandbox.path("bundled/var/lib/gitlab-mattermost"),
            BACKUP_KEEP_NEWEST: "5",
            BACKUP_EXPIRABLE_TAG: `${EXPIRABLE_TAG.key}=${EXPIRABLE_TAG.value}`,
            BACKUP_IMDS_URL: services.imds.url,
            MIGRATION_STATE_DIR: this.sandbox.path("bundled/var/lib/gitlab-mattermost"),
            MM_PING_URL: this.bundledPing.url,
            PATH: `${this.sandbox.path("bundled-bin")}:${this.sandbox.bin}:${process.env.PATH}`,
            ...this.exportOverrides,
        };
    }
    /** Settings a fault replaces on the bundled host. */
    private exportOverrides: Record<string, string> = {};

    private importEnv(): Record<string, string> {
        return {
            ...this.common(),
            ...targetDb.scriptEnv(),
            MATTERMOST_HOST_ROOT: this.standaloneRoot(),
            MM_OWNER: AS_ROOT ? "nobody:nogroup" : "",
            MIGRATION_STATE_DIR: this.standaloneRoot("var/lib/gitlab-mattermost"),
            MM_PING_URL: this.standalonePing.url,
            PATH: `${this.sandbox.path("import-bin")}:${this.sandbox.bin}:${process.env.PATH}`,
        };
    }

    /** Starts one half in its own process group, so a kill reaches its children too. */
    start(half: "export" | "import", extra: Record<string, string> = {}): RunningScript {
        const script = half === "export" ? "migration/export-bundled-mattermost.sh" : "migration/import-standalone-mattermost.sh";
        const version = half === "export" ? this.exportVersion : VERSION;
        return this.sandbox.start(script, [version], { env: { ...(half === "export" ? this.exportEnv() : this.importEnv()), ...extra }, timeoutMs: SCRIPT_TIMEOUT_MS });
    }

    /** Both halves at once, as `pulumi up` runs them. */
    migrate(): Promise<[RunResult, RunResult]> {
        return Promise.all([this.start("export").done, this.start("import").done]);
    }

    gitlabCtl(): string[] {
        return this.sandbox.calls("gitlab-ctl").map((call) => call.argv.join(" "));
    }
    bundledServing(): boolean {
        return existsSync(this.sandbox.path("bundled-started"));
    }
    standaloneServing(): boolean {
        return existsSync(this.sandbox.path("standalone-started"));
    }

    /** The bundled Mattermost serves (unless it did not before), and gitlab-ctl's calls since the last check stopped and started it, or left it alone. */
    async assertBundledServingIntact(wasStopped: boolean, serving = true): Promise<void> {
        assert.equal(this.bundledServing(), serving, "the bundled Mattermost serves as it did before");
        const calls = this.gitlabCtl();
        assert.deepEqual(calls.slice(this.checkedCalls), wasStopped ? ["stop mattermost", "start mattermost"] : [], "gitlab-ctl calls");
        this.checkedCalls = calls.length;
        assert.deepEqual((await fingerprint(services.cluster, SOURCE_DB)).tables, sourceFingerprint.tables, "the bundled database is intact");
        const fresh = this.sandbox.path("fresh-data");
        if (!existsSync(fresh)) writeDataDirectory(fresh);
        assert.equal(fileTreeHash(this.bundledPath("data")), fileTreeHash(fresh), "the bundled files are intact");
    }

    async targetDatabases(): Promise<string[]> {
        return (await targetDb.sql("postgres", "SELECT datname FROM pg_database WHERE datname LIKE 'mattermost%' ORDER BY 1;")).split("\n").filter((line) => line !== "");
    }

    async objects(folder: string): Promise<string[]> {
        const result = await services.s3.rclone(["lsf", "-R", "--files-only", services.s3.path(`${this.stack}/${folder}/`)]);
        return result.stdout.split("\n").filter((line) => line !== "");
    }
    async object(path: string): Promise<string> {
        const result = await services.s3.rclone(["cat", services.s3.path(`${this.stack}/${path}`)]);
        assert.equal(result.status, 0, describeRun(result));
        return result.stdout;
    }

    // --- the scenario's knobs ---

    removeBundledEnv(name: string): void {
        writeFileSync(this.sandbox.path("bundled/opt/gitlab/etc/mattermost/env", name), "");
    }

    writeStandaloneEnv(oauthId: string): void {
        const text = standaloneEnvironmentFile({
            version: parseVersion(VERSION)!,
            edition: "team",
            siteUrl: { scheme: "https", host: "chat.example.com", href: SITE_URL },
            gitlabUrl: { scheme: "https", host: "gitlab.example.com", href: "https://gitlab.example.com" },
            oauth: { clientId: oauthId, clientSecret: "oauth-secret" },
            databasePassword: "db-password",
            atRestEncryptKey: "a-key-the-new-host-generated-000000",
            siteName: "GitLab Mattermost",
            env: {},
        });
        this.sandbox.write("standalone/etc/mattermost/mattermost.env", text, 0o600);
        if (oauthId !== OAUTH_ID) this.repairs.push(() => this.writeStandaloneEnv(OAUTH_ID));
    }

    bundledDown(): void {
        const started = this.sandbox.path("bundled-started");
        if (existsSync(started)) rmSync(started);
        this.repairs.push(() => writeFileSync(started, ""));
    }

    failBackup(): void {
        this.sandbox.standIn("mattermost-backup", "exit 1");
        this.exportOverrides = { MM_BACKUP_COMMAND: "mattermost-backup" };
        this.repairs.push(() => (this.exportOverrides = {}));
    }

    /** Puts a wrapper for `program` first on the bundled host's PATH (or its PG_BIN): `body` runs, then the real one. */
    wrapBundled(program: string, body: string): void {
        this.wrap("bundled-bin", program, body);
        if (program === "pg_dump") {
            // The scripts take PostgreSQL's programs from PG_BIN: a directory with the wrapper and the real psql.
            const bin = this.sandbox.path("bundled-pg-bin");
            mkdirSync(bin, { recursive: true, mode: 0o755 });
            writeFileSync(join(bin, "psql"), `#!/usr/bin/env bash\nexec ${sh(join(services.cluster.bin, "psql"))} "$@"\n`, { mode: 0o755 });
            // Only the move's own dump (plain SQL); the backup tool's dump before it goes through.
            writeFileSync(join(bin, "pg_dump"), `#!/usr/bin/env bash\nREAL=${sh(join(services.cluster.bin, "pg_dump"))}\ncase " $* " in *" --format=plain "*)\n${body}\n;; esac\nexec "$REAL" "$@"\n`, { mode: 0o755 });
            this.exportOverrides = { PG_BIN: bin };
            this.repairs.push(() => (this.exportOverrides = {}));
        }
    }

    wrapImport(program: string, body: string): void {
        this.wrap("import-bin", program, body);
    }

    private wrap(dir: string, program: string, body: string): void {
        const real = execFileSync("bash", ["-c", `command -v ${program}`], { encoding: "utf8" }).trim();
        const file = this.sandbox.path(dir, program);
        mkdirSync(this.sandbox.path(dir), { recursive: true });
        writeFileSync(file, `#!/usr/bin/env bash\nREAL=${sh(real)}\n${body}\nexec "$REAL" "$@"\n`, { mode: 0o755 });
        this.repairs.push(() => rmSync(file, { force: true }));
    }

    /** The dump reaches the new host one posts row short. */
    dropRowOnImport(): void {
        this.wrapImport("zstd", `"$REAL" "$@" | awk 'BEGIN { dropped = 0 } /^COPY public\\.posts / { inposts = 1; print; next } inposts && !dropped && /^[0-9a-f]/ { dropped = 1; next } /^\\\\\\.$/ { inposts = 0 } { print }'; exit 0`);
    }

    private standaloneSystemctl(startsAllowed?: number): void {
        const started = this.sandbox.path("standalone-started");
        const filler = this.sandbox.path("fill-on-stop");
        this.sandbox.standIn(
            "systemctl",
            `case "$*" in
"stop mattermost") rm -f ${sh(started)}
    if [ -e ${sh(filler)} ]; then head -c 100000000 /dev/zero >"$(cat ${sh(filler)})/filler" 2>/dev/null || true; fi ;;
"start mattermost")
    ${startsAllowed === undefined ? "" : `n=$(grep -c . ${sh(this.sandbox.path("starts"))} 2>/dev/null || true); echo x >>${sh(this.sandbox.path("starts"))}; [ "$n" -lt ${startsAllowed} ] || exit 0`}
    touch ${sh(started)} ;;
daemon-reload) ;;
*) echo "systemctl stand-in: unexpected $*" >&2; exit 64 ;;
esac`,
        );
    }

    /** Mattermost here starts the first time (the rollback), not on the moved data. */
    standaloneStartsOnlyOnce(): void {
        writeFileSync(this.sandbox.path("starts"), "");
        this.standaloneSystemctl(0);
        // The first start (on the moved data) is refused; the rollback's start then works.
        const starts = this.sandbox.path("starts");
        this.sandbox.standIn(
            "systemctl",
            `case "$*" in
"stop mattermost") rm -f ${sh(this.sandbox.path("standalone-started"))} ;;
"start mattermost") n=$(wc -l <${sh(starts)}); echo x >>${sh(starts)}; [ "$n" -eq 0 ] || touch ${sh(this.sandbox.path("standalone-started"))} ;;
daemon-reload) ;;
*) exit 64 ;;
esac`,
        );
        this.repairs.push(() => this.standaloneSystemctl());
    }

    async mountStandaloneData(size: string): Promise<void> {
        const dir = this.standaloneRoot("var/opt/mattermost");
        if (this.mounts.includes(dir)) {
            await runProcess("umount", [dir]);
            this.mounts.splice(this.mounts.indexOf(dir), 1);
        }
        const result = await runProcess("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
        assert.equal(result.status, 0, describeRun(result));
        this.mounts.push(dir);
        for (const sub of ["data", "plugins", "client-plugins", "config"]) mkdirSync(join(dir, sub), { recursive: true });
        writeFileSync(join(dir, "config/config.json"), '{"ServiceSettings":{"SiteURL":""}}\n', { mode: 0o600 });
    }

    fillStandaloneDataOnStop(): void {
        const filler = this.sandbox.path("fill-on-stop");
        writeFileSync(filler, this.standalonePath());
        this.repairs.push(() => {
            rmSync(filler, { force: true });
            rmSync(this.standalonePath("filler"), { force: true });
        });
    }

    /** Takes every injected fault back. */
    repair(): void {
        for (const step of this.repairs.splice(0)) step();
        this.exportVersion = VERSION;
    }

    async close(): Promise<void> {
        await this.bundledPing.close();
        await this.standalonePing.close();
        for (const dir of this.mounts) await runProcess("umount", [dir]);
        this.sandbox.cleanup();
    }
}
