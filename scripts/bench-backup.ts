// Benchmark: the Omnibus guide's Mattermost backup and restore against ours, on the same data in the
// same run.  `npm run bench:backup [-- --min-gib 1]`
//
// It builds a Mattermost-like database of at least --min-gib GiB (pg_database_size, indexes included)
// in a throw-away PostgreSQL cluster (test/support/postgres.ts) configured as Omnibus configures its
// own (omnibusSettings), then times:
//   guide  backup:  pg_dump | gzip > dump.sql.gz, tar -zcf of data/ and config.json
//          restore: createdb, zcat dump.sql.gz | psql, tar -zxf (Mattermost is stopped throughout)
//   ours   backup:  host/tools/mattermost-backup.sh end to end (pg_dump -Z0 | zstd), uploading through
//                   rclone to an S3-protocol server on 127.0.0.1 (s3rver, in this process)
//          restore: host/tools/mattermost-restore.sh latest end to end: download, checks, the restored
//                   database built beside the live one, Mattermost's stop, the swap, its start and ping
//                   (recording stand-ins and a loopback HTTP server: there is no Mattermost here). The
//                   gitlab-ctl stand-in stamps when the stop returned and when the start was called:
//                   between the two, the database is unavailable to Mattermost (the downtime).
//   pg_restore's own schedule (--jobs=nproc) on our dump, against the tool's schedule.
//   the compressors alone, on the uncompressed dumps: the guide's gzip, ours as the backup printed
//                  it, and zstd -9: wall time, CPU time (what counts when other work shares the
//                  CPUs) and size.
//   point-in-time: the standalone host's pgBackRest archiving turned on (host/enable-pitr.sh,
//                  its first full backup to a second loopback S3 server, over TLS), then
//                  host/tools/mattermost-pitr-restore.sh to a moment before a later write, end to end.
// Each restore is checked against the original: every table's row count and content checksum, and
// the schema (owners, indexes, constraints, types). Last it rebuilds each index of the restored
// database alone, which gives two floors under any restore from a dump (every one rebuilds every
// index): the slowest build, because PostgreSQL before 18 builds a GIN index on one core, and all
// builds spread perfectly over the machine's CPUs. It prints the times, their ratios against the
// targets, the sizes, those floors and the machine. Run as root (PostgreSQL then runs as the postgres
// account) or as any user.

import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { HOST_SCRIPT_DIR } from "../components/omnibus/hostScripts";
import {
    baseSql,
    createMattermostSchema,
    ensureMattermostRole,
    fingerprint,
    MATTERMOST_DB_OWNER,
    postsSql,
    writeDataDirectory,
    type DatabaseFingerprint,
    type MattermostScale,
} from "../test/support/mattermostFixture";
import { gitlabCtlMattermostBody, startPing } from "../test/support/mattermostPing";
import { PostgresCluster } from "../test/support/postgres";
import { LoopbackPitr } from "../test/support/pgbackrest";
import { LoopbackS3 } from "../test/support/s3";
import { runProcess, Sandbox, sh } from "../test/support/standIns";

const DATABASE = "mattermost_production";
const GUIDE_DATABASE = "mattermost_guide_restore";
const DEFAULT_SCHEDULE_DATABASE = "mattermost_default_schedule";
const GIB = 1024 ** 3;
const SCALE: MattermostScale = { users: 5000, channels: 800, posts: 0, largePostEvery: 250 };

/**
 * The postgresql.conf values Omnibus 18.11 writes by default that bear on a dump or a restore
 * (its postgresql cookbook's attributes), for this machine's memory. Not statement_timeout (60 s
 * there): pg_dump, pg_restore and a plain dump's preamble all set it to 0 for their sessions.
 */
function omnibusSettings(): Record<string, string> {
    const memoryMiB = Math.floor(totalmem() / 1024 ** 2);
    return {
        shared_buffers: `${Math.floor(memoryMiB / 4)}MB`,
        effective_cache_size: `${Math.floor(memoryMiB / 2)}MB`,
        work_mem: "16MB",
        maintenance_work_mem: "16MB",
        wal_level: "minimal",
        max_wal_senders: "0",
        min_wal_size: "80MB",
        max_wal_size: "1GB",
        checkpoint_completion_target: "0.9",
        max_parallel_workers_per_gather: "0",
        random_page_cost: "2",
    };
}

function option(name: string, fallback: number): number {
    const index = process.argv.indexOf(`--${name}`);
    const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
    if (!Number.isFinite(value) || value <= 0) {
        throw new Error(`--${name} needs a positive number`);
    }
    return value;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;

/** Runs bash -c `script` and returns its duration; throws with its output if it fails. */
async function timed(label: string, script: string, env: Record<string, string>, lines?: (line: string, atMs: number) => void): Promise<number> {
    const started = performance.now();
    const output: string[] = [];
    const status = await new Promise<number | null>((resolve, reject) => {
        const child = spawn("bash", ["-c", script], { env, cwd: "/", stdio: ["ignore", "pipe", "pipe"] });
        for (const stream of [child.stdout, child.stderr]) {
            let pending = "";
            stream.on("data", (chunk: Buffer) => {
                pending += chunk.toString("utf8");
                const complete = pending.split("\n");
                pending = complete.pop()!;
                for (const line of complete) {
                    output.push(line);
                    lines?.(line, performance.now() - started);
                }
            });
        }
        child.on("error", reject);
        child.on("close", resolve);
    });
    const elapsed = performance.now() - started;
    if (status !== 0) {
        throw new Error(`${label} failed (status ${status}):\n${output.join("\n")}`);
    }
    return elapsed;
}

function assertSame(label: string, actual: DatabaseFingerprint, expected: DatabaseFingerprint): void {
    const differences = Object.keys(expected.tables).filter((table) => actual.tables[table] !== expected.tables[table]);
    if (differences.length > 0 || JSON.stringify(actual.schema) !== JSON.stringify(expected.schema)) {
        throw new Error(`${label}: restored data differs from the original (tables: ${differences.join(", ") || "none"}; schema ${JSON.stringify(actual.schema) === JSON.stringify(expected.schema) ? "same" : "differs"})`);
    }
}

async function databaseBytes(cluster: PostgresCluster, database: string): Promise<number> {
    return Number((await cluster.sql("postgres", `SELECT pg_database_size('${database}')`)).trim());
}

interface Phase {
    readonly atMs: number;
    readonly line: string;
}

/** When the first phase line starting with `prefix` was printed, in ms into the run. */
function phaseMs(phases: readonly Phase[], prefix: string): number | undefined {
    return phases.find((phase) => phase.line.startsWith(prefix))?.atMs;
}

interface IndexBuild {
    readonly index: string;
    readonly ms: number;
}

/** The session settings mattermost-restore built its database with, as its "restoring into" line says. */
interface BuildSettings {
    readonly jobs: number;
    readonly maintenanceWorkMem: string;
}

function buildSettings(phases: readonly Phase[]): BuildSettings {
    const line = phases.find((phase) => phase.line.startsWith("restoring into"))?.line ?? "";
    const match = /with (\d+) parallel jobs, maintenance_work_mem=(\d+[kMG]B),/.exec(line);
    if (!match) {
        throw new Error(`the restore did not say its build settings: ${JSON.stringify(line)}`);
    }
    return { jobs: Number(match[1]), maintenanceWorkMem: match[2]! };
}

interface Compression {
    readonly wallMs: number;
    /** User plus system time of every thread. */
    readonly cpuMs: number;
    readonly bytes: number;
}

/** Runs `compressor` (a bash command) from the file `input` to a scratch file, alone, and times it. */
async function compression(label: string, compressor: string, input: string, env: Record<string, string>): Promise<Compression> {
    const output = `${input}.compressed`;
    let cpuMs = NaN;
    const wallMs = await timed(label, `TIMEFORMAT='cpu %3U %3S'; time { ${compressor} <${sh(input)} >${sh(output)}; }`, env, (line) => {
        const match = /^cpu ([\d.]+) ([\d.]+)$/.exec(line);
        if (match) {
            cpuMs = (Number(match[1]) + Number(match[2])) * 1000;
        }
    });
    const bytes = statSync(output).size;
    rmSync(output);
    return { wallMs, cpuMs, bytes };
}

/**
 * Rebuilds every index of `database` one at a time, with the session settings the restore used, and
 * returns how long each took, slowest first.
 */
async function indexBuildTimes(cluster: PostgresCluster, database: string, settings: BuildSettings): Promise<IndexBuild[]> {
    const indexes = (await cluster.sql(database, "SELECT indexrelid::regclass FROM pg_index JOIN pg_class ON pg_class.oid = indrelid WHERE relnamespace = 'public'::regnamespace"))
        .split("\n")
        .filter((line) => line !== "");
    const builds: IndexBuild[] = [];
    for (const index of indexes) {
        const started = performance.now();
        await cluster.sql(database, `SET maintenance_work_mem = '${settings.maintenanceWorkMem}';\nREINDEX INDEX ${index};`, 3_600_000);
        builds.push({ index, ms: performance.now() - started });
    }
    return builds.sort((a, b) => b.ms - a.ms);
}

async function main(): Promise<void> {
    const minGiB = option("min-gib", 1);
    // Growing the database in steps of a quarter of the target keeps the overshoot small at any size.
    const postsPerBatch = Math.max(1000, Math.round(minGiB * 250_000));
    const cpuModel = cpus()[0]?.model ?? "unknown";
    const nproc = (await runProcess("nproc", [])).stdout.trim();
    console.log(`machine: ${nproc} CPUs (${cpuModel}), ${(totalmem() / GIB).toFixed(1)} GiB memory`);

    const sandbox = new Sandbox();
    chmodSync(sandbox.root, 0o711);
    const cluster = await PostgresCluster.create({ settings: omnibusSettings() });
    const s3 = await LoopbackS3.start();
    const startedFile = sandbox.path("mattermost-started");
    writeFileSync(startedFile, "");
    const ping = await startPing(startedFile);
    let pitr: LoopbackPitr | undefined;
    try {
        const version = (await cluster.sql("postgres", "SELECT version()")).trim();
        const settings = (
            await cluster.sql(
                "postgres",
                `SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM pg_settings WHERE name IN (${[...Object.keys(omnibusSettings()), "max_parallel_maintenance_workers", "fsync"].map((name) => `'${name}'`).join(", ")})`,
            )
        ).trim();
        const rclone = (await runProcess("rclone", ["version"])).stdout.split("\n")[0];
        console.log(`postgresql: ${version}\n  server settings (Omnibus's defaults for this memory): ${settings}\nuploader: ${rclone}, to s3rver on 127.0.0.1`);

        // --- the data -----------------------------------------------------------------------------------
        const buildStarted = performance.now();
        await ensureMattermostRole(cluster);
        await cluster.sql("postgres", `CREATE DATABASE ${DATABASE} OWNER ${MATTERMOST_DB_OWNER}`);
        await createMattermostSchema(cluster, DATABASE);
        await cluster.sql(DATABASE, `SET ROLE ${MATTERMOST_DB_OWNER};\n${baseSql(SCALE)}`);
        let posts = 0;
        while ((await databaseBytes(cluster, DATABASE)) < minGiB * GIB) {
            await cluster.sql(DATABASE, `SET ROLE ${MATTERMOST_DB_OWNER};\n${postsSql(SCALE, posts + 1, postsPerBatch)}`, 3_600_000);
            posts += postsPerBatch;
            process.stdout.write(`  building: ${posts} posts, ${mib(await databaseBytes(cluster, DATABASE))}\r`);
        }
        process.stdout.write("\n");
        await cluster.sql(DATABASE, "VACUUM ANALYZE", 3_600_000);
        await cluster.sql("postgres", "CHECKPOINT");
        const dbBytes = await databaseBytes(cluster, DATABASE);
        const original = await fingerprint(cluster, DATABASE);
        console.log(`database: ${posts} posts, ${original.tables.reactions?.split(",")[0]} reactions, ${mib(dbBytes)} (pg_database_size), built in ${seconds(performance.now() - buildStarted)}`);

        const home = sandbox.path("var/opt/gitlab/mattermost");
        writeDataDirectory(join(home, "data"));
        sandbox.write("var/opt/gitlab/mattermost/config.json", '{"ServiceSettings":{"SiteURL":"https://mm.example.com"}}\n', 0o600);
        sandbox.write("etc/gitlab/gitlab-secrets.json", '{"mattermost":{"sql_at_rest_encrypt_key":"k"}}\n', 0o600);
        sandbox.write("etc/gitlab/gitlab.rb", "external_url 'https://gitlab.example.com'\n", 0o600);

        const clientEnv: Record<string, string> = { ...(process.env as Record<string, string>), PGHOST: cluster.socketDir, PGPORT: String(cluster.port), PGUSER: cluster.superuser };
        const asPostgres = process.getuid?.() === 0 ? `runuser -u ${cluster.osUser} -- ` : "";
        const bin = (program: string) => `${asPostgres}${sh(join(cluster.bin, program))}`;

        // --- the guide's procedure ------------------------------------------------------------------------
        const guideDir = sandbox.path("guide");
        mkdirSync(guideDir);
        const guideDump = join(guideDir, "mattermost_dbdump.sql.gz");
        const guideFiles = join(guideDir, "mattermost_data.tar.gz");
        const guideBackupMs = await timed(
            "guide backup",
            `${bin("pg_dump")} ${DATABASE} | gzip > ${sh(guideDump)} && tar -zcf ${sh(guideFiles)} -C ${sh(home)} data config.json`,
            clientEnv,
        );
        const guideRestoreDir = sandbox.path("guide-restore");
        mkdirSync(guideRestoreDir);
        const guideRestoreMs = await timed(
            "guide restore",
            `${bin("createdb")} -O ${MATTERMOST_DB_OWNER} ${GUIDE_DATABASE} && zcat ${sh(guideDump)} | ${bin("psql")} -q -d ${GUIDE_DATABASE} >/dev/null && tar -zxf ${sh(guideFiles)} -C ${sh(guideRestoreDir)}`,
            clientEnv,
        );
        assertSame("guide restore", await fingerprint(cluster, GUIDE_DATABASE), original);
        await cluster.sql("postgres", `DROP DATABASE ${GUIDE_DATABASE}`);

        // --- ours ------------------------------------------------------------------------------------------
        // Not a recording stand-in (its recording would count as downtime): it stamps the moment its
        // stop is done and the moment its start is called.
        const stamps = sandbox.path("gitlab-ctl-stamps");
        const gitlabCtl = join(sandbox.bin, "gitlab-ctl");
        writeFileSync(
            gitlabCtl,
            `#!/usr/bin/env bash
# gitlab-ctl for the benchmark: starts and stops "Mattermost" by the file its ping reads.
set -euo pipefail
[ "$1" != start ] || echo "start $EPOCHREALTIME" >>${sh(stamps)}
${gitlabCtlMattermostBody(startedFile, sh)}
[ "$1" != stop ] || echo "stop $EPOCHREALTIME" >>${sh(stamps)}
`,
            { mode: 0o755 },
        );
        const ourEnv: Record<string, string> = {
            ...sandbox.env(),
            ...s3.credentialEnv(),
            ...s3.remoteSettings(),
            ...cluster.scriptEnv(),
            BACKUP_ENV_FILE: sandbox.path("no-env-file"),
            BACKUP_COMMON: join(HOST_SCRIPT_DIR, "tools", "backup-common.sh"),
            BACKUP_REMOTE: s3.remote,
            BACKUP_STACK: "bench",
            MM_DB: DATABASE,
            MM_HOME: home,
            MM_OWNER: "",
            GITLAB_ETC_DIR: sandbox.path("etc/gitlab"),
            BACKUP_STATE_DIR: sandbox.path("var/lib/gitlab-mattermost"),
            MM_STOP_COMMAND: `${gitlabCtl} stop mattermost`,
            MM_START_COMMAND: `${gitlabCtl} start mattermost`,
            MM_PING_URL: ping.url,
            MM_PING_INTERVAL: "0.2",
        };
        const backupPhases: Phase[] = [];
        const ourBackupMs = await timed("our backup", `bash ${sh(join(HOST_SCRIPT_DIR, "tools", "mattermost-backup.sh"))}`, ourEnv, (line, atMs) => {
            if (/dumping|archiving|uploading|complete:/.test(line)) {
                backupPhases.push({ atMs, line: line.replace(/^mattermost-backup: /, "") });
            }
        });
        // The tool says how it compresses the dump: "... | zstd <arguments>".
        const zstdArgs = /\| zstd (.+)$/.exec(backupPhases.find((phase) => phase.line.startsWith("dumping database"))?.line ?? "")?.[1];
        if (zstdArgs === undefined) {
            throw new Error(`our backup did not say how it compresses the dump: ${JSON.stringify(backupPhases)}`);
        }
        const sizes = await s3.rclone(["lsl", s3.path("bench/mattermost/")]);
        const objects = sizes.stdout
            .split("\n")
            .filter((line) => line.trim() !== "")
            .map((line) => {
                const fields = line.trim().split(/\s+/);
                return { size: Number(fields[0]), name: fields.at(-1)!.split("/").at(-1)! };
            });
        const ourDumpBytes = objects.find((object) => object.name === "mattermost.dump.zst")?.size ?? NaN;
        const ourTotalBytes = objects.reduce((sum, object) => sum + object.size, 0);

        const phases: Phase[] = [];
        const ourRestoreMs = await timed("our restore", `bash ${sh(join(HOST_SCRIPT_DIR, "tools", "mattermost-restore.sh"))} latest`, ourEnv, (line, atMs) => {
            if (/downloading|dump verified|backup verified|stopping|restoring into|restored database checked|database restored|database swapped|starting|complete;|posts newer|posts loaded/.test(line)) {
                phases.push({ atMs, line: line.replace(/^mattermost-restore: /, "") });
            }
        });
        assertSame("our restore", await fingerprint(cluster, DATABASE), original);
        const stamped = readFileSync(stamps, "utf8").trim().split("\n").map((line) => line.split(" "));
        if (stamped.length !== 2 || stamped[0]![0] !== "stop" || stamped[1]![0] !== "start") {
            throw new Error(`expected one stop, then one start of Mattermost; got: ${JSON.stringify(stamped)}`);
        }
        const downtimeMs = (Number(stamped[1]![1]!.replace(",", ".")) - Number(stamped[0]![1]!.replace(",", "."))) * 1000;
        const restoreSettings = buildSettings(phases);
        const buildMs = phaseMs(phases, "restoring into") === undefined ? NaN : phaseMs(phases, "database restored into")! - phaseMs(phases, "restoring into")!;

        // pg_restore's own schedule, on the same dump, with the restore's jobs and session settings.
        const dumpDir = sandbox.path("default-schedule");
        mkdirSync(dumpDir, { mode: 0o755 });
        chmodSync(dumpDir, 0o755);
        const fetched = await s3.rclone(["copy", "--include", "mattermost.dump.zst", s3.path("bench/mattermost/"), dumpDir]);
        if (fetched.status !== 0) {
            throw new Error(`downloading our dump failed: ${fetched.stderr}`);
        }
        const zstPath = (await runProcess("find", [dumpDir, "-name", "mattermost.dump.zst"])).stdout.trim();
        const dumpPath = join(dumpDir, "mattermost.dump");
        await timed("decompressing our dump", `zstd --quiet --decompress -o ${sh(dumpPath)} ${sh(zstPath)} && chmod 0644 ${sh(dumpPath)}`, clientEnv);
        const defaultScheduleMs = await timed(
            "pg_restore's default schedule",
            `${bin("createdb")} -O ${MATTERMOST_DB_OWNER} -T template0 ${DEFAULT_SCHEDULE_DATABASE} && PGOPTIONS='-c maintenance_work_mem=${restoreSettings.maintenanceWorkMem}' ${bin("pg_restore")} --jobs=${restoreSettings.jobs} --exit-on-error -d ${DEFAULT_SCHEDULE_DATABASE} ${sh(dumpPath)}`,
            clientEnv,
        );
        assertSame("pg_restore's default schedule", await fingerprint(cluster, DEFAULT_SCHEDULE_DATABASE), original);
        await cluster.sql("postgres", `DROP DATABASE ${DEFAULT_SCHEDULE_DATABASE}`);

        // The compressors alone, one after the other, each on the dump it compresses in its backup: the
        // guide's gzip (level 6, its default) on the plain dump, our zstd on the uncompressed custom one,
        // and zstd at level 9 (all CPUs, its own window) for comparison.
        const guidePlain = join(guideDir, "mattermost_dbdump.sql");
        await timed("decompressing the guide's dump", `zcat ${sh(guideDump)} >${sh(guidePlain)}`, clientEnv);
        const guideGzip = await compression("gzip", "gzip", guidePlain, clientEnv);
        rmSync(guidePlain);
        const ourZstd = await compression(`zstd ${zstdArgs}`, `zstd --quiet ${zstdArgs}`, dumpPath, clientEnv);
        const levelNine = await compression("zstd -T0 -9", "zstd --quiet -T0 -9", dumpPath, clientEnv);

        const builds = await indexBuildTimes(cluster, DATABASE, restoreSettings);
        const slowest = builds[0]!;

        // --- point-in-time recovery (the standalone host's) ---------------------------------------------
        // The same cluster and data, archiving as enable-pitr.sh sets it up (wal_level replica, not
        // Omnibus's minimal), with its first full backup to a second loopback S3 server (TLS, which
        // pgBackRest needs); then mattermost-pitr-restore end to end to a moment before a later write:
        // the new data directory beside the live one, replay and trial start, the swap, the promotion,
        // Mattermost's start and ping.
        await cluster.restartWith({ ...omnibusSettings(), wal_level: "replica" });
        pitr = await LoopbackPitr.create(cluster, sandbox, "bench");
        const pitrPhases: Phase[] = [];
        const pitrBackupMs = await timed("enable-pitr", `bash ${sh(join(HOST_SCRIPT_DIR, "enable-pitr.sh"))} ${pitr.enableArgs([]).map(sh).join(" ")}`, { ...ourEnv, ...pitr.enableEnv() });
        await pause(1100);
        const moment = `${new Date().toISOString().slice(0, 19)}Z`;
        await pause(1100);
        await cluster.sql(DATABASE, "CREATE TABLE written_after_the_moment ()");
        await pitr.archiveNow();
        const pitrRestoreMs = await timed("our point-in-time restore", `bash ${sh(join(HOST_SCRIPT_DIR, "tools", "mattermost-pitr-restore.sh"))} ${moment}`, { ...ourEnv, ...pitr.restoreEnv() }, (line, atMs) => {
            if (/restoring to|reached|stopping|swapped in|promoting|complete;/.test(line)) {
                pitrPhases.push({ atMs, line: line.replace(/^mattermost-pitr-restore: /, "") });
            }
        });
        assertSame("point-in-time restore", await fingerprint(cluster, DATABASE), original);
        if ((await cluster.sql(DATABASE, "SELECT to_regclass('written_after_the_moment')")).trim() !== "") {
            throw new Error("point-in-time restore: what was written after the moment is still there");
        }
        const pitrStamps = readFileSync(stamps, "utf8").trim().split("\n").map((line) => line.split(" ")).slice(2);
        if (pitrStamps.length !== 2 || pitrStamps[0]![0] !== "stop" || pitrStamps[1]![0] !== "start") {
            throw new Error(`expected one more stop, then one start of Mattermost; got: ${JSON.stringify(pitrStamps)}`);
        }
        const pitrDowntimeMs = (Number(pitrStamps[1]![1]!.replace(",", ".")) - Number(pitrStamps[0]![1]!.replace(",", "."))) * 1000;

        // --- results ---------------------------------------------------------------------------------------
        const guideDumpBytes = statSync(guideDump).size;
        const guideTotalBytes = guideDumpBytes + statSync(guideFiles).size;
        const rows = [
            ["", "guide (pg_dump | gzip, zcat | psql)", "ours (scripts, rclone to loopback S3)"],
            ["backup time", seconds(guideBackupMs), seconds(ourBackupMs)],
            ["restore time", seconds(guideRestoreMs), seconds(ourRestoreMs)],
            ["database dump size", mib(guideDumpBytes), mib(ourDumpBytes)],
            ["whole backup size", mib(guideTotalBytes), mib(ourTotalBytes)],
            ["integrity", "row counts, checksums, schema identical", "row counts, checksums, schema identical"],
        ];
        console.log("");
        for (const [label, guide, ours] of rows) {
            console.log(`${label!.padEnd(20)}${guide!.padEnd(42)}${ours}`);
        }
        console.log(`\nrestore: ours is ${(guideRestoreMs / ourRestoreMs).toFixed(2)}x as fast as the guide's (guide ${seconds(guideRestoreMs)} / ours ${seconds(ourRestoreMs)})`);
        console.log(`backup: ours takes ${(ourBackupMs / guideBackupMs).toFixed(2)}x the guide's time; dump size ours/guide ${(ourDumpBytes / guideDumpBytes).toFixed(3)}`);
        console.log(`point-in-time restore (pgBackRest, physical, to a moment): ${seconds(pitrRestoreMs)}, Mattermost down ${pitrDowntimeMs.toFixed(0)} ms; its first full backup (enable-pitr.sh, archiving on) ${seconds(pitrBackupMs)}`);
        console.log(`restore: point-in-time is ${(guideRestoreMs / pitrRestoreMs).toFixed(2)}x as fast as the guide's (guide ${seconds(guideRestoreMs)} / point-in-time ${seconds(pitrRestoreMs)}), ${(ourRestoreMs / pitrRestoreMs).toFixed(2)}x as fast as our dump restore (ours ${seconds(ourRestoreMs)} / point-in-time ${seconds(pitrRestoreMs)})`);
        console.log(`point-in-time restore, time into the run per phase:\n${pitrPhases.map((phase) => `    ${seconds(phase.atMs).padStart(8)}  ${phase.line}`).join("\n")}`);
        console.log(`our backup, time into the run per phase:\n${backupPhases.map((phase) => `    ${seconds(phase.atMs).padStart(8)}  ${phase.line}`).join("\n")}`);
        const compressed = (label: string, run: Compression) =>
            `    ${label.padEnd(38)}${seconds(run.wallMs).padStart(8)} wall, ${seconds(run.cpuMs).padStart(8)} CPU (${(run.cpuMs / guideGzip.cpuMs).toFixed(2)}x gzip's), ${mib(run.bytes).padStart(10)} (${(run.bytes / guideGzip.bytes).toFixed(3)}x gzip's)`;
        console.log(`compressors alone, one after the other on this run's dumps (CPU: user + system, all threads):`);
        console.log(compressed("gzip (the guide's)", guideGzip));
        console.log(compressed(`zstd ${zstdArgs} (ours)`, ourZstd));
        console.log(compressed("zstd -T0 -9", levelNine));
        console.log(`our restore, time into the run per phase:\n${phases.map((phase) => `    ${seconds(phase.atMs).padStart(8)}  ${phase.line}`).join("\n")}`);
        console.log(`\nour restore's build settings, as it printed them: --jobs=${restoreSettings.jobs} (RESTORE_JOBS default: nproc), maintenance_work_mem=${restoreSettings.maintenanceWorkMem} per session (RESTORE_MAINTENANCE_WORK_MEM default: an eighth of MemTotal shared among the jobs); pg_restore's own schedule and the index rebuilds below use the same`);
        console.log(`\nslowest index builds, each alone on the restored database (maintenance_work_mem=${restoreSettings.maintenanceWorkMem}, max_parallel_maintenance_workers as the server's):`);
        for (const build of builds.slice(0, 3)) {
            console.log(`    ${seconds(build.ms).padStart(8)}  ${build.index}`);
        }
        const allBuildsMs = builds.reduce((sum, build) => sum + build.ms, 0);
        const spreadMs = allBuildsMs / Number(nproc);
        console.log(`all ${builds.length} index builds: ${seconds(allBuildsMs)}, or ${seconds(spreadMs)} spread perfectly over ${nproc} CPUs`);
        console.log(`floor: no restore that rebuilds ${slowest.index} takes less than ${seconds(slowest.ms)}, so none is more than ${(guideRestoreMs / slowest.ms).toFixed(2)}x as fast as the guide's here (guide ${seconds(guideRestoreMs)} / ${seconds(slowest.ms)})`);
        console.log(`floor: no restore that rebuilds every index takes less than ${seconds(spreadMs)} on ${nproc} CPUs, so none is more than ${(guideRestoreMs / spreadMs).toFixed(2)}x as fast as the guide's here (guide ${seconds(guideRestoreMs)} / ${seconds(spreadMs)})`);

        // --- the targets ------------------------------------------------------------------------------------
        const verdict = (met: boolean) => (met ? "met" : "NOT met");
        const downtimeRatio = downtimeMs / guideRestoreMs;
        const wallRatio = ourRestoreMs / slowest.ms;
        const sizeRatio = ourDumpBytes / guideDumpBytes;
        const backupRatio = ourBackupMs / guideBackupMs;
        console.log("\ntargets, this run:");
        console.log(`downtime: ${downtimeMs.toFixed(0)} ms with the database unavailable to Mattermost (its stop returned to its start called), ${downtimeRatio.toFixed(4)}x the guide's whole restore (${seconds(guideRestoreMs)}); target <= 1000 ms: ${verdict(downtimeMs <= 1000)}`);
        console.log(`wall time: our whole restore ${seconds(ourRestoreMs)}, ${wallRatio.toFixed(2)}x the slowest index build (${slowest.index} ${seconds(slowest.ms)}); target <= 1.30x: ${verdict(wallRatio <= 1.3)}`);
        const postsLoadedMs = phaseMs(phases, "posts loaded");
        if (postsLoadedMs !== undefined) {
            const floorMs = postsLoadedMs + slowest.ms;
            console.log(`wall-time floor: the full-text index can start only once posts is loaded, ${seconds(postsLoadedMs)} into our restore (the manifest and the dump downloaded and checked by ${seconds(phaseMs(phases, "restoring into")!)}; the other files are checked and staged beside the build), so ours takes at least ${seconds(postsLoadedMs)} + ${seconds(slowest.ms)} = ${seconds(floorMs)}, ${(floorMs / slowest.ms).toFixed(2)}x the slowest index build`);
        }
        console.log(`backup size: our dump ${mib(ourDumpBytes)}, ${sizeRatio.toFixed(3)}x the guide's gzip dump (${mib(guideDumpBytes)}); target <= 0.65x: ${verdict(sizeRatio <= 0.65)}`);
        console.log(`backup time: ours ${seconds(ourBackupMs)}, ${backupRatio.toFixed(2)}x the guide's (${seconds(guideBackupMs)}); target <= 1.00x: ${verdict(backupRatio <= 1)}`);
        console.log(`schedule: our database build ${seconds(buildMs)} (from "restoring into" to "database restored"), pg_restore's own schedule ${seconds(defaultScheduleMs)} on the same dump with --jobs=${restoreSettings.jobs}: ${(buildMs / defaultScheduleMs).toFixed(2)}x`);
    } finally {
        await ping.close();
        await s3.close();
        // The cluster archives to the point-in-time repository until it stops: that server goes after it.
        await cluster.destroy();
        await pitr?.close();
        sandbox.cleanup();
    }
}

main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
});
