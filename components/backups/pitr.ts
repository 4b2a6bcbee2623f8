// Point-in-time recovery of the standalone Mattermost host's PostgreSQL, with pgBackRest from
// Ubuntu's packages: its configuration (a repository in the stack's bucket), the systemd units of the
// periodic physical backups, what the host's instance profile may do in the bucket, and what a point
// in time for backup.restoreFrom is. PostgreSQL archives every WAL segment to the repository as it
// completes (archive_command), and at least every archiveTimeoutSeconds while anything is written.
// Pure module.

import { scheduledBackupUnits, type IamStatement } from "./backupPlan";
import { STANDALONE_LAYOUT } from "../mattermost/standalone/hostLayout";

export const PITR = {
    /** pgBackRest's name for the cluster it backs up. */
    stanza: "mattermost",
    /** pgBackRest's own default location; every command is still given it explicitly. */
    configFile: "/etc/pgbackrest/pgbackrest.conf",
    /** The repository's folder in the bucket, under `<stack>/`. */
    bucketFolder: "mattermost-pitr",
    /** The restore tool, installed in /usr/local/sbin beside the dump tools. */
    restoreTool: { command: "mattermost-pitr-restore", source: "tools/mattermost-pitr-restore.sh" },
    /**
     * PostgreSQL's archive_timeout, in seconds: at most this long passes between a write and the switch
     * to a new WAL segment, which is then archived. PostgreSQL's documentation (runtime-config-wal,
     * archive_timeout) calls "a minute or so" reasonable: a segment closed early is still 16 MiB, so a
     * shorter timeout bloats the archive (pgBackRest compresses the mostly empty segments). One minute
     * plus the upload keeps the writes a dead host loses well under five minutes.
     */
    archiveTimeoutSeconds: 60,
    /** systemd calendar events: a full backup each Sunday, a differential one on the other days. */
    fullSchedule: "Sun *-*-* 01:30:00",
    diffSchedule: "Mon..Sat *-*-* 01:30:00",
    /** The OS account pgBackRest runs as: the cluster's owner (Ubuntu's postgresql package). */
    osUser: "postgres",
    logPath: "/var/log/pgbackrest",
    lockPath: "/tmp/pgbackrest",
} as const;

/** The standalone host's cluster `main` of a PostgreSQL major (Ubuntu's package, its data on the data volume): where its data and its socket are. */
export function ubuntuCluster(major: number): { dataDirectory: string; socketDirectory: string; port: number } {
    return { dataDirectory: `${STANDALONE_LAYOUT.postgresqlDirectory}/${major}/main`, socketDirectory: "/var/run/postgresql", port: 5432 };
}

/** The repository: the stack's bucket, as the instance profile reaches it. */
export interface PitrRepository {
    readonly bucket: string;
    readonly region: string;
    readonly stack: string;
    /**
     * An S3-compatible server in place of AWS's regional endpoint (the tests' loopback server): reached
     * by path-style URIs, over TLS checked against caFile.
     */
    readonly endpoint?: { readonly host: string; readonly port: number; readonly caFile: string };
    /** Keys written into the file instead of the instance profile's: only for a server whose keys are public (s3rver's). */
    readonly publicKeys?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export interface PitrConfigInput {
    readonly repository: PitrRepository;
    /** backup.retentionDays: any moment this many days back can be restored. */
    readonly retentionDays: number;
    readonly cluster: { readonly dataDirectory: string; readonly socketDirectory: string; readonly port: number };
    /** Where pgBackRest logs and locks (default PITR.logPath, PITR.lockPath). */
    readonly logPath?: string;
    readonly lockPath?: string;
}

/** pgBackRest's range for repo1-retention-full (its option parser: "out of range" outside it). */
const RETENTION_RANGE = { min: 1, max: 9_999_999 } as const;
/** Pulumi's stack names, and so folder names in the bucket. */
const STACK_NAME = /^[A-Za-z0-9_.-]+$/;
/** S3's bucket naming rules (S3 User Guide, "Bucket naming rules"), in short. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

/** The repository's path in the bucket: pgBackRest requires it to begin with a slash (repo1-path). */
export function repositoryPath(stack: string): string {
    return `/${stack}/${PITR.bucketFolder}`;
}

/** /etc/pgbackrest/pgbackrest.conf (pgBackRest's configuration reference: section global, stanza section). */
export function pgbackrestConfig(input: PitrConfigInput): string {
    const { repository, retentionDays, cluster } = input;
    if (!Number.isInteger(retentionDays) || retentionDays < RETENTION_RANGE.min || retentionDays > RETENTION_RANGE.max) {
        throw new Error(`pgBackRest keeps full backups ${RETENTION_RANGE.min} to ${RETENTION_RANGE.max} days (repo1-retention-full), got ${retentionDays}`);
    }
    if (!STACK_NAME.test(repository.stack)) {
        throw new Error(`the stack name ${JSON.stringify(repository.stack)} cannot name a folder of the bucket`);
    }
    if (!BUCKET_NAME.test(repository.bucket)) {
        throw new Error(`${JSON.stringify(repository.bucket)} is not an S3 bucket name`);
    }
    if (!REGION.test(repository.region)) {
        throw new Error(`${JSON.stringify(repository.region)} is not an AWS region`);
    }
    for (const [name, path] of [["dataDirectory", cluster.dataDirectory], ["socketDirectory", cluster.socketDirectory], ["logPath", input.logPath], ["lockPath", input.lockPath]] as const) {
        if (path !== undefined && !/^\/[^\s]*$/.test(path)) {
            throw new Error(`${name} must be an absolute path without spaces, got ${JSON.stringify(path)}`);
        }
    }
    const endpoint = repository.endpoint;
    const lines = [
        "# Written by gitlab-mattermost: point-in-time recovery of Mattermost's database.",
        "[global]",
        "repo1-type=s3",
        `repo1-s3-bucket=${repository.bucket}`,
        `repo1-s3-region=${repository.region}`,
        ...(endpoint === undefined
            ? [`repo1-s3-endpoint=s3.${repository.region}.amazonaws.com`]
            : [`repo1-s3-endpoint=${endpoint.host}`, `repo1-storage-port=${endpoint.port}`, `repo1-storage-ca-file=${endpoint.caFile}`, "repo1-s3-uri-style=path"]),
        // Temporary credentials of the instance profile, renewed by pgBackRest before they expire.
        ...(repository.publicKeys === undefined
            ? ["repo1-s3-key-type=auto"]
            : ["repo1-s3-key-type=shared", `repo1-s3-key=${repository.publicKeys.accessKeyId}`, `repo1-s3-key-secret=${repository.publicKeys.secretAccessKey}`]),
        `repo1-path=${repositoryPath(repository.stack)}`,
        // Days, not a count: pgBackRest keeps the newest full backup older than this, so every moment
        // of the window stays restorable; WAL older than the oldest full backup kept expires with it.
        "repo1-retention-full-type=time",
        `repo1-retention-full=${retentionDays}`,
        "compress-type=zst",
        "start-fast=y",
        "process-max=2",
        `log-path=${input.logPath ?? PITR.logPath}`,
        `lock-path=${input.lockPath ?? PITR.lockPath}`,
        "log-level-console=info",
        "log-level-file=detail",
        "",
        `[${PITR.stanza}]`,
        `pg1-path=${cluster.dataDirectory}`,
        `pg1-socket-path=${cluster.socketDirectory}`,
        `pg1-port=${cluster.port}`,
        "",
    ];
    return lines.join("\n");
}

/** The kinds of periodic backup, each a systemd service and timer. */
export type PhysicalBackupType = "full" | "diff";

/** The unit name of a kind of periodic backup. */
export function backupUnitName(type: PhysicalBackupType): string {
    return `pgbackrest-${PITR.stanza}-${type}`;
}

/** The systemd service and timer of the periodic full and differential backups. */
export function physicalBackupUnits(type: PhysicalBackupType): { service: string; timer: string } {
    return scheduledBackupUnits({
        name: backupUnitName(type),
        description: `pgBackRest ${type === "full" ? "full" : "differential"} backup of Mattermost's database to the stack's bucket`,
        after: ["postgresql.service"],
        user: PITR.osUser,
        execStart: `/usr/bin/pgbackrest --config=${PITR.configFile} --stanza=${PITR.stanza} --type=${type} backup`,
        calendar: type === "full" ? PITR.fullSchedule : PITR.diffSchedule,
    });
}

/**
 * What the Mattermost host's instance profile may do in the repository's folder, beside its dump
 * backups: pgBackRest writes, reads and lists it, and deletes what its retention expires (the bucket's
 * versioning keeps a deleted object as a noncurrent version for retentionDays more).
 */
export function pitrBucketStatements(bucketArn: string, stack: string): IamStatement[] {
    const folder = `${stack}/${PITR.bucketFolder}`;
    return [
        { Sid: "PitrRepositoryObjects", Effect: "Allow", Action: ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"], Resource: `${bucketArn}/${folder}/*` },
        { Sid: "PitrRepositoryList", Effect: "Allow", Action: "s3:ListBucket", Resource: bucketArn, Condition: { StringLike: { "s3:prefix": [folder, `${folder}/*`] } } },
    ];
}

/** A point in time as backup.restoreFrom takes it: ISO 8601 in UTC, to the second. */
const POINT_IN_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;

/** The moment `text` names, when it is a point in time that exists; undefined otherwise. */
export function readPointInTime(text: string): Date | undefined {
    const match = POINT_IN_TIME.exec(text);
    if (!match) {
        return undefined;
    }
    const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number];
    const time = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
    // Date.UTC rolls over (February 31 becomes March 3): a moment that exists reads back unchanged.
    return time.toISOString().replace(".000Z", "Z") === text ? time : undefined;
}

const DAY_MS = 86_400_000;

/** Why `time` cannot be restored to now, or undefined: it must lie inside the retention window. */
export function pointInTimeProblem(time: Date, now: Date, retentionDays: number): string | undefined {
    if (time.getTime() > now.getTime()) {
        return `is in the future (now is ${isoSeconds(now)})`;
    }
    const oldest = new Date(now.getTime() - retentionDays * DAY_MS);
    if (time.getTime() < oldest.getTime()) {
        return `is before the retention window of backup.retentionDays (${retentionDays} days): the oldest restorable moment is ${isoSeconds(oldest)}`;
    }
    return undefined;
}

function isoSeconds(time: Date): string {
    return `${time.toISOString().slice(0, 19)}Z`;
}
