// A real, throw-away PostgreSQL cluster for the backup tests and the backup benchmark: Debian's
// `postgresql` package (binaries under /usr/lib/postgresql/<major>/bin), initdb + pg_ctl in a temp
// directory, listening only on a Unix socket in that directory, with peer authentication, as on an
// Omnibus host (where gitlab-psql connects through /var/opt/gitlab/postgresql).
//
// PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` account the package
// creates, and every client (the tests' and the scripts', through PG_RUN_AS) connects as that account;
// as any other user it runs as that user.

import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { runProcess, type RunResult } from "./standIns";

const POSTGRESQL_LIB = "/usr/lib/postgresql";

/** The bin directory of the newest PostgreSQL installed from Debian's packages, if any. */
export function postgresBinDir(): string | undefined {
    if (!existsSync(POSTGRESQL_LIB)) {
        return undefined;
    }
    const majors = readdirSync(POSTGRESQL_LIB)
        .filter((entry) => /^\d+$/.test(entry) && existsSync(join(POSTGRESQL_LIB, entry, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a));
    return majors.length > 0 ? join(POSTGRESQL_LIB, majors[0]!, "bin") : undefined;
}

function describe(result: RunResult): string {
    return `status ${result.status}\n${result.stdout}${result.stderr}`;
}

export interface ClusterOptions {
    /** postgresql.conf settings given to the server on its command line. */
    readonly settings?: Record<string, string>;
}

export class PostgresCluster {
    /** Directory holding the data directory, the socket and the server log. */
    readonly root: string;
    readonly bin: string;
    /** OS account the server and every client run as. */
    readonly osUser: string;
    /** The superuser role, named after osUser (initdb's default), reached by peer authentication. */
    readonly superuser: string;
    readonly port = 5432;
    private settings: Record<string, string>;

    private constructor(root: string, bin: string, osUser: string, settings: Record<string, string>) {
        this.root = root;
        this.bin = bin;
        this.osUser = osUser;
        this.superuser = osUser;
        this.settings = settings;
    }

    /** Creates and starts a cluster; throws when PostgreSQL is not installed. */
    static async create(options: ClusterOptions = {}): Promise<PostgresCluster> {
        const bin = postgresBinDir();
        if (bin === undefined) {
            throw new Error(`no PostgreSQL under ${POSTGRESQL_LIB}; install Debian's postgresql package`);
        }
        const asRoot = process.getuid?.() === 0;
        // /tmp, not a TMPDIR that may sit in root's home: the postgres account must reach the socket.
        const root = mkdtempSync(join(asRoot ? "/tmp" : tmpdir(), "mm-postgres-"));
        const osUser = asRoot ? "postgres" : userInfo().username;
        if (asRoot) {
            const ids = await runProcess("id", ["-u", osUser]);
            const group = await runProcess("id", ["-g", osUser]);
            if (ids.status !== 0 || group.status !== 0) {
                throw new Error(`the ${osUser} account is missing; install Debian's postgresql package`);
            }
            chownSync(root, Number(ids.stdout.trim()), Number(group.stdout.trim()));
        }
        const cluster = new PostgresCluster(root, bin, osUser, options.settings ?? {});
        await cluster.runAsOwner(join(bin, "initdb"), [
            "--pgdata", cluster.dataDir,
            "--auth=peer",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]);
        await cluster.start();
        return cluster;
    }

    get dataDir(): string {
        return join(this.root, "data");
    }

    /** The socket directory, what PG_HOST / PGHOST name. */
    get socketDir(): string {
        return this.root;
    }

    /** The settings the host scripts read to reach this cluster. */
    scriptEnv(): Record<string, string> {
        return {
            PG_BIN: this.bin,
            PG_HOST: this.socketDir,
            PG_PORT: String(this.port),
            PG_USER: this.superuser,
            PG_RUN_AS: process.getuid?.() === 0 ? this.osUser : "",
        };
    }

    /** The server's log file. */
    get logFile(): string {
        return join(this.root, "server.log");
    }

    /** The options pg_ctl gives the server (`--options`): the socket, no TCP, and the cluster's settings. */
    serverOptions(): string {
        return [
            "-c listen_addresses=''",
            `-c unix_socket_directories='${this.socketDir}'`,
            `-c port=${this.port}`,
            ...Object.entries(this.settings).map(([key, value]) => `-c ${key}='${value}'`),
        ].join(" ");
    }

    async start(): Promise<void> {
        await this.runAsOwner(join(this.bin, "pg_ctl"), ["--pgdata", this.dataDir, "--log", this.logFile, "--options", this.serverOptions(), "--wait", "start"]);
    }

    /** Stops the server and starts it again with `settings` in place of the ones it had. */
    async restartWith(settings: Record<string, string>): Promise<void> {
        await this.stop();
        this.settings = settings;
        await this.start();
    }

    async stop(): Promise<void> {
        await this.runAsOwner(join(this.bin, "pg_ctl"), ["--pgdata", this.dataDir, "--mode=fast", "--wait", "stop"]);
    }

    /** Stops the server if it runs and removes everything. */
    async destroy(): Promise<void> {
        if (existsSync(join(this.dataDir, "postmaster.pid"))) {
            await this.stop();
        }
        rmSync(this.root, { recursive: true, force: true });
    }

    /** Runs SQL (ON_ERROR_STOP) in `database` and returns psql's unaligned, tuples-only output. */
    async sql(database: string, sql: string, timeoutMs = 30_000): Promise<string> {
        const result = await this.tryRun(
            join(this.bin, "psql"),
            ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", this.socketDir, "-p", String(this.port), "-U", this.superuser, "-d", database],
            sql,
            timeoutMs,
        );
        if (result.status !== 0) {
            throw new Error(`psql on ${database} failed: ${describe(result)}`);
        }
        return result.stdout;
    }

    /** Names of the databases whose name starts with `prefix`, sorted. */
    async databasesStartingWith(prefix: string): Promise<string[]> {
        const out = await this.sql("postgres", `SELECT datname FROM pg_database WHERE starts_with(datname, '${prefix}') ORDER BY 1`);
        return out.split("\n").filter((line) => line !== "");
    }

    /** Runs a client program as the cluster's account, connected to this cluster, and returns its result. */
    tryRun(program: string, args: readonly string[], input = "", timeoutMs = 30_000): Promise<RunResult> {
        const env = { ...(process.env as Record<string, string>), PGHOST: this.socketDir, PGPORT: String(this.port), PGUSER: this.superuser };
        const [command, commandArgs] =
            process.getuid?.() === 0 ? ["runuser", ["-u", this.osUser, "--", program, ...args]] : [program, [...args]];
        return runProcess(command, commandArgs, { env, input, timeoutMs, cwd: "/" });
    }

    private async runAsOwner(program: string, args: readonly string[]): Promise<void> {
        const result = await this.tryRun(program, args, "", 120_000);
        if (result.status !== 0) {
            throw new Error(`${program} ${args.join(" ")} failed: ${describe(result)}`);
        }
    }
}
