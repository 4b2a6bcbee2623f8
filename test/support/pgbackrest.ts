// Point-in-time recovery around a test cluster, for the tests and the backup benchmark: a pgBackRest
// repository in its own loopback S3 server over TLS (pgBackRest speaks S3 only over TLS; the server's
// certificate comes from a throw-away CA), pgbackrest.conf rendered by components/backups/pitr.ts with
// that server's endpoint, CA and public keys, and RECORDING STAND-INS in the sandbox for PostgreSQL's
// service commands (pg-restart, pg-stop, pg-start: pg_ctl on the cluster, with its own options).

import { chownSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PITR, pgbackrestConfig } from "../../components/backups/pitr";
import { HOST_SCRIPT_DIR } from "../../components/omnibus/hostScripts";
import { TestPki } from "./pki";
import type { PostgresCluster } from "./postgres";
import { LoopbackS3, TEST_KEYS } from "./s3";
import { runProcess, sh, type Sandbox } from "./standIns";

export class LoopbackPitr {
    private constructor(
        private readonly pki: TestPki,
        readonly s3: LoopbackS3,
        /** pgbackrest.conf, readable by the cluster's account. */
        readonly config: string,
        private readonly cluster: PostgresCluster,
        private readonly sandbox: Sandbox,
    ) {}

    static async create(cluster: PostgresCluster, sandbox: Sandbox, stack: string): Promise<LoopbackPitr> {
        const pki = new TestPki();
        const ca = pki.rootCa("s3-ca");
        // pgBackRest checks the certificate against the endpoint's name, and reads only DNS names.
        const s3 = await LoopbackS3.start(pki.leaf("s3", ["localhost"], ca));
        // The cluster's account reads the configuration and the CA, and writes pgBackRest's logs and locks.
        const shared = join(cluster.root, "pitr");
        const [log, lock] = [join(shared, "log"), join(shared, "lock")];
        for (const dir of [shared, log, lock]) {
            mkdirSync(dir, { mode: 0o755 });
        }
        if (process.getuid?.() === 0) {
            const [uid, gid] = await Promise.all(["-u", "-g"].map(async (flag) => Number((await runProcess("id", [flag, cluster.osUser])).stdout.trim())));
            for (const dir of [log, lock]) {
                chownSync(dir, uid!, gid!);
            }
        }
        const caFile = join(shared, "s3-ca.crt");
        writeFileSync(caFile, ca.certificate, { mode: 0o644 });
        const config = join(shared, "pgbackrest.conf");
        // Root's file, 0600: enable-pitr.sh must open it to the cluster's account.
        writeFileSync(config, pgbackrestConfig({
            repository: { bucket: s3.bucket, region: "us-east-1", stack, endpoint: { host: "localhost", port: s3.port, caFile }, publicKeys: TEST_KEYS },
            retentionDays: 30,
            cluster: { dataDirectory: cluster.dataDir, socketDirectory: cluster.socketDir, port: cluster.port },
            logPath: log,
            lockPath: lock,
        }), { mode: 0o600 });

        const pgCtl = `${process.getuid?.() === 0 ? `runuser -u ${cluster.osUser} -- ` : ""}${sh(join(cluster.bin, "pg_ctl"))} --pgdata ${sh(cluster.dataDir)}`;
        sandbox.standIn("pg-restart", `exec ${pgCtl} --mode=fast --wait restart >/dev/null`);
        sandbox.standIn("pg-stop", `exec ${pgCtl} --mode=fast --wait stop >/dev/null`);
        sandbox.standIn("pg-start", `exec ${pgCtl} --log ${sh(cluster.logFile)} --options ${sh(cluster.serverOptions())} --wait start >/dev/null`);
        return new LoopbackPitr(pki, s3, config, cluster, sandbox);
    }

    /** enable-pitr.sh's arguments for this repository and the stanza's timers. */
    enableArgs(timers: readonly string[]): string[] {
        return [this.config, PITR.stanza, String(PITR.archiveTimeoutSeconds), ...timers];
    }

    /** What enable-pitr.sh needs to reach the cluster and restart it. */
    enableEnv(): Record<string, string> {
        return { ...this.cluster.scriptEnv(), PG_RESTART_COMMAND: this.sandbox.path("bin", "pg-restart") };
    }

    /** What mattermost-pitr-restore needs, besides Mattermost's commands, ping and database. */
    restoreEnv(): Record<string, string> {
        return {
            ...this.cluster.scriptEnv(),
            BACKUP_COMMON: join(HOST_SCRIPT_DIR, "tools", "backup-common.sh"),
            BACKUP_ENV_FILE: this.sandbox.path("no-env-file"),
            BACKUP_STATE_DIR: this.sandbox.path("pitr-state"),
            PGBACKREST_CONFIG: this.config,
            PITR_STANZA: PITR.stanza,
            PG_STOP_COMMAND: this.sandbox.path("bin", "pg-stop"),
            PG_START_COMMAND: this.sandbox.path("bin", "pg-start"),
            PG_SERVER_LOG: this.cluster.logFile,
        };
    }

    /**
     * Waits until the WAL segment holding everything committed so far is in the repository: switches
     * to a new segment and watches the archiver.
     */
    async archiveNow(): Promise<void> {
        const segment = (await this.cluster.sql("postgres", "SELECT pg_walfile_name(pg_switch_wal())")).trim();
        const deadline = Date.now() + 60_000;
        for (;;) {
            const archived = (await this.cluster.sql("postgres", "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")).trim();
            // The name's first 8 digits are the timeline: a later timeline's segments sort after.
            if (archived >= segment) {
                return;
            }
            if (Date.now() > deadline) {
                throw new Error(`segment ${segment} was not archived within 60 s (last archived: ${archived})`);
            }
            await new Promise((resolve) => setTimeout(resolve, 200));
        }
    }

    async close(): Promise<void> {
        await this.s3.close();
        this.pki.dispose();
    }
}
