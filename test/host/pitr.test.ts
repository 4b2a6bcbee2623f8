// Point-in-time recovery end to end: a real PostgreSQL cluster archives its WAL with the real
// pgBackRest to the loopback S3 server (s3rver over TLS, its certificate from a throw-away CA), set up
// by host/enable-pitr.sh with the configuration components/backups/pitr.ts renders; then
// host/tools/mattermost-pitr-restore.sh restores it to a moment between two writes. systemctl,
// Mattermost's start and stop, and PostgreSQL's service commands are recording stand-ins (the last
// run pg_ctl on the test cluster); Mattermost's ping is a loopback HTTP server.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { PITR, backupUnitName } from "../../components/backups/pitr";
import { HOST_SCRIPT_DIR } from "../../components/omnibus/hostScripts";
import { startPing, type PingServer } from "../support/mattermostPing";
import { LoopbackPitr } from "../support/pgbackrest";
import { PostgresCluster } from "../support/postgres";
import { runProcess, Sandbox, sh, type RunResult } from "../support/standIns";

const STACK = "pitr-test";
const DATABASE = "mattermost";

/** Now, as a UTC moment to the second (the form backup.restoreFrom takes). */
function moment(time: Date): string {
    return `${time.toISOString().slice(0, 19)}Z`;
}

describe("point-in-time recovery with pgBackRest, PostgreSQL and loopback S3 over TLS", { timeout: 600_000 }, () => {
    let pitr: LoopbackPitr;
    let cluster: PostgresCluster;
    let sandbox: Sandbox;
    let ping: PingServer;
    let startedFile: string;

    before(async () => {
        cluster = await PostgresCluster.create();
        sandbox = new Sandbox();
        // The restore's trial server, running as the cluster's account, keeps its socket in the tool's work directory.
        chmodSync(sandbox.root, 0o711);
        chmodSync(sandbox.tmp, 0o711);
        pitr = await LoopbackPitr.create(cluster, sandbox, STACK);
        await cluster.sql("postgres", `CREATE DATABASE ${DATABASE}`);
        await cluster.sql(DATABASE, "CREATE TABLE posts (id integer PRIMARY KEY, message text NOT NULL)");
        startedFile = sandbox.path("mattermost-started");
        writeFileSync(startedFile, "");
        sandbox.standIn("mattermost-ctl", `case "$1" in stop) rm -f ${sh(startedFile)} ;; start) touch ${sh(startedFile)} ;; esac`);
        sandbox.standIn("systemctl", "");
        sandbox.standIn("apt-get", "echo 'apt-get must not run: pgbackrest is installed' >&2; exit 1");
        ping = await startPing(startedFile);
    });

    after(async () => {
        await ping?.close();
        await cluster?.destroy();
        await pitr?.close();
        sandbox?.cleanup();
    });

    const enable = () =>
        sandbox.runScript("enable-pitr.sh", pitr.enableArgs([`${backupUnitName("full")}.timer`, `${backupUnitName("diff")}.timer`]), { env: pitr.enableEnv(), timeoutMs: 300_000 });

    function restoreEnv(extra: Record<string, string> = {}): Record<string, string> {
        return sandbox.env({
            ...pitr.restoreEnv(),
            MM_DB: DATABASE,
            MM_STOP_COMMAND: `${sandbox.path("bin", "mattermost-ctl")} stop`,
            MM_START_COMMAND: `${sandbox.path("bin", "mattermost-ctl")} start`,
            MM_PING_URL: ping.url,
            MM_PING_INTERVAL: "0.2",
            ...extra,
        });
    }
    const restore = (to: string, extra: Record<string, string> = {}): Promise<RunResult> =>
        runProcess("bash", [join(HOST_SCRIPT_DIR, "tools", "mattermost-pitr-restore.sh"), to], { env: restoreEnv(extra), timeoutMs: 300_000, cwd: "/" });

    /** Inserts a post and waits until the WAL segment holding it is in the repository. */
    async function writeAndArchive(id: number): Promise<void> {
        await cluster.sql(DATABASE, `INSERT INTO posts VALUES (${id}, 'post ${id}')`);
        await pitr.archiveNow();
    }

    const posts = async () => (await cluster.sql(DATABASE, "SELECT id FROM posts ORDER BY id")).trim().split("\n").filter((line) => line !== "").map(Number);
    const siblings = (suffix: string) => readdirSync(dirname(cluster.dataDir)).filter((name) => name.startsWith(`data.${suffix}`));
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

    /** A moment strictly between what was written before and what is written after it. */
    async function momentBetween(): Promise<string> {
        await pause(1100);
        const at = moment(new Date());
        await pause(1100);
        return at;
    }

    it("enable-pitr turns on archiving once (one restart), makes the first full backup and enables the timers; a re-run changes nothing", async () => {
        const first = await enable();
        assert.equal(first.status, 0, first.stdout + first.stderr);
        assert.equal((await cluster.sql("postgres", "SHOW archive_mode")).trim(), "on");
        assert.equal((await cluster.sql("postgres", "SHOW archive_timeout")).trim(), "1min");
        assert.match((await cluster.sql("postgres", "SHOW archive_command")).trim(), /^pgbackrest --config=\S+ --stanza=mattermost archive-push %p$/);
        assert.equal(sandbox.calls("pg-restart").length, 1, "archive_mode needs one restart");
        assert.match(first.stdout, /making the first full backup/);
        const info = await cluster.tryRun("pgbackrest", [`--config=${pitr.config}`, `--stanza=${PITR.stanza}`, "info"]);
        assert.match(info.stdout, /^ +full backup: \d{8}-\d{6}F$/m, `a full backup is in the bucket:\n${info.stdout}${info.stderr}`);
        assert.deepEqual(sandbox.calls("systemctl").map((call) => call.argv), [
            ["daemon-reload"],
            ["enable", "--now", "pgbackrest-mattermost-full.timer"],
            ["enable", "--now", "pgbackrest-mattermost-diff.timer"],
        ]);

        const again = await enable();
        assert.equal(again.status, 0, again.stdout + again.stderr);
        assert.equal(sandbox.calls("pg-restart").length, 1, "no second restart");
        assert.match(again.stdout, /the repository has a full backup already/);
        assert.equal(sandbox.calls("apt-get").length, 0);
    });

    it("restores to a moment between two writes: exactly the first is there, and the previous directory is kept", async () => {
        await writeAndArchive(1);
        const between = await momentBetween();
        await writeAndArchive(2);
        assert.deepEqual(await posts(), [1, 2]);
        const stopsBefore = sandbox.calls("mattermost-ctl").length;

        const result = await restore(between);
        assert.equal(result.status, 0, result.stdout + result.stderr);
        assert.deepEqual(await posts(), [1], "the restored database holds the post written before the moment, not the one after");
        assert.match(result.stdout, /the restored cluster reached .* paused there, and answers: database mattermost with 1 tables/);
        assert.deepEqual(sandbox.calls("mattermost-ctl").slice(stopsBefore).map((call) => call.argv[0]), ["stop", "start"]);
        assert.equal(siblings("pitr-").length, 0, "no restore directory is left");
        assert.equal(siblings("before-pitr-").length, 1, "the previous data directory is kept");
        assert.ok(existsSync(join(dirname(cluster.dataDir), siblings("before-pitr-")[0]!, "PG_VERSION")));
        // The restored cluster archives again, on its new timeline.
        await writeAndArchive(3);
        assert.deepEqual(await posts(), [1, 3]);
    });

    it("refuses a moment in the future or before the oldest backup, changing nothing", async () => {
        const future = await restore(moment(new Date(Date.now() + 3_600_000)));
        assert.equal(future.status, 1);
        assert.match(future.stderr, /is in the future/);
        const tooOld = await restore("2001-01-01T00:00:00Z");
        assert.equal(tooOld.status, 1);
        assert.match(tooOld.stderr, /is before the end of the oldest backup/);
        const impossible = await restore("2026-02-30T10:00:00Z");
        assert.equal(impossible.status, 1);
        assert.match(impossible.stderr, /is not a moment that exists/);
        assert.deepEqual(await posts(), [1, 3]);
    });

    it("SIGTERM during the restore: the live cluster keeps serving, nothing is left behind, and a re-run restores", async () => {
        await writeAndArchive(4);
        const between = await momentBetween();
        await writeAndArchive(5);
        const stopsBefore = sandbox.calls("mattermost-ctl").length;

        const child = spawn("bash", [join(HOST_SCRIPT_DIR, "tools", "mattermost-pitr-restore.sh"), between], { env: restoreEnv(), cwd: "/", stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
        const ended = new Promise<number | null>((resolve) => child.on("close", resolve));
        child.stdout.on("data", (chunk: Buffer) => {
            stdout += chunk.toString("utf8");
            if (/restoring to .* while Mattermost keeps serving/.test(stdout) && !child.killed) {
                child.kill("SIGTERM");
            }
        });
        const status = await ended;
        assert.equal(status, 143, stdout + stderr);
        assert.match(stderr, /FAILED \(ended by SIGTERM\)/);
        assert.match(stderr, /before anything live was changed/);
        assert.deepEqual(await posts(), [1, 3, 4, 5], "the live cluster kept serving, with every post");
        assert.equal(sandbox.calls("mattermost-ctl").length, stopsBefore, "Mattermost was never stopped");
        assert.equal(siblings("pitr-").length, 0, "the partial restore directory was removed");
        assert.equal(siblings("before-pitr-").length, 1, "the earlier previous directory is untouched");

        const rerun = await restore(between);
        assert.equal(rerun.status, 0, rerun.stdout + rerun.stderr);
        assert.deepEqual(await posts(), [1, 3, 4]);
    });

    it("a failure after the swap puts the previous directory back and starts everything on it", async () => {
        await writeAndArchive(6);
        const between = await momentBetween();
        await writeAndArchive(7);
        // Mattermost never answers its ping: the last step fails after the swap.
        const silentStart = sandbox.standIn("mattermost-start-silently", "");
        const result = await restore(between, { MM_START_COMMAND: silentStart, MM_PING_TIMEOUT: "1" });
        assert.equal(result.status, 1, result.stdout + result.stderr);
        assert.match(result.stderr, /FAILED after the swap began/);
        assert.deepEqual(await posts(), [1, 3, 4, 6, 7], "the previous data is live again");
        assert.equal(siblings("failed-pitr-").length, 1, "the restored directory is kept for inspection");
        assert.equal(siblings("pitr-").length, 0);
        assert.equal(sandbox.calls("mattermost-start-silently").length, 2, "Mattermost was started on the restored data, then again on the previous data");
    });
});

describe("enable-pitr.sh ended by a signal during its first full backup", { timeout: 600_000 }, () => {
    it("stops the backup, puts the archive settings back (restarting PostgreSQL), says FAILED, and a re-run turns archiving on", async () => {
        const cluster = await PostgresCluster.create();
        const sandbox = new Sandbox();
        const pitr = await LoopbackPitr.create(cluster, sandbox, "signal-test");
        try {
            sandbox.standIn("systemctl", "");
            const run = () => spawn("bash", [join(HOST_SCRIPT_DIR, "enable-pitr.sh"), ...pitr.enableArgs([])], { env: sandbox.env(pitr.enableEnv()), cwd: "/", stdio: ["ignore", "pipe", "pipe"] });
            const child = run();
            let output = "";
            const collect = (chunk: Buffer) => {
                output += chunk.toString("utf8");
                if (output.includes("INFO: backup command begin") && !child.killed) {
                    child.kill("SIGTERM");
                }
            };
            child.stdout.on("data", collect);
            child.stderr.on("data", collect);
            const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
            assert.equal(status, 143, output);
            assert.match(output, /stopped the unfinished full backup/);
            assert.match(output, /archive settings put back as they were/);
            assert.match(output, /enable-pitr: FAILED \(ended by SIGTERM\)$/m);
            assert.equal((await cluster.sql("postgres", "SHOW archive_mode")).trim(), "off", "archiving is off again: no WAL kept for an archive");
            assert.equal(sandbox.calls("pg-restart").length, 2, "restarted to turn archiving on, and again to turn it off");
            const info = await cluster.tryRun("pgbackrest", [`--config=${pitr.config}`, `--stanza=${PITR.stanza}`, "info"]);
            assert.doesNotMatch(info.stdout, /full backup: \d{8}-\d{6}F$/m, "no complete full backup");

            const again = await sandbox.runScript("enable-pitr.sh", pitr.enableArgs([]), { env: pitr.enableEnv(), timeoutMs: 300_000 });
            assert.equal(again.status, 0, again.stdout + again.stderr);
            assert.equal((await cluster.sql("postgres", "SHOW archive_mode")).trim(), "on");
            const after = await cluster.tryRun("pgbackrest", [`--config=${pitr.config}`, `--stanza=${PITR.stanza}`, "info"]);
            assert.match(after.stdout, /full backup: \d{8}-\d{6}F$/m);
        } finally {
            await cluster.destroy();
            await pitr.close();
            sandbox.cleanup();
        }
    });
});
