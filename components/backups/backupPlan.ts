// What each host needs for its backups: the tools, their settings file, the systemd service and
// timer that run them, and what its instance profile may do in the bucket. Pure module.

import { MIGRATION_FOLDER, type MattermostPlacement } from "../mattermost/migration/migrationPlan";
import { STANDALONE_DATABASE, STANDALONE_LAYOUT } from "../mattermost/standalone/hostLayout";
import { MATTERMOST_UNIT } from "../mattermost/standalone/mattermostUnit";
import type { BackupSettings } from "../settings/settings";
import { DEFAULTS } from "../settings/settings";
import { runsOmnibus, type HostPlan } from "../settings/topology";

/** The settings file the backup and restore tools read (KEY=value; no secrets: rclone uses the instance profile). */
export const BACKUP_ENV_FILE = "/etc/gitlab-mattermost/backup.env";

/** The rclone remote name the tools upload through, configured by RCLONE_CONFIG_<NAME>_* variables. */
const RCLONE_REMOTE = "backup";

/** One backup job: a tool in host/tools/, installed in /usr/local/sbin, run by a systemd timer. */
export interface BackupJob {
    /** The installed command, e.g. `mattermost-backup`; also the systemd unit's name. */
    readonly command: string;
    /** The script in host/tools/. */
    readonly source: string;
    /** The bucket prefix it writes under `<stack>/`, e.g. `mattermost`. */
    readonly prefix: string;
    /** What it backs up, for the unit's description. */
    readonly description: string;
}

const GITLAB_JOB: BackupJob = {
    // Not "gitlab-backup": that is Omnibus's own command, which this one runs.
    command: "gitlab-full-backup",
    source: "tools/gitlab-full-backup.sh",
    prefix: "gitlab-etc",
    description: "GitLab backup (gitlab-backup create, /etc/gitlab) to the stack's bucket",
};
const MATTERMOST_JOB: BackupJob = {
    command: "mattermost-backup",
    source: "tools/mattermost-backup.sh",
    prefix: "mattermost",
    description: "Mattermost backup (database, files, config.json, secrets) to the stack's bucket",
};

/** Mattermost's backup folder below the stack's, whichever host runs it. */
export const MATTERMOST_BACKUP_FOLDER = MATTERMOST_JOB.prefix;

/** The restore tool, installed beside the Mattermost backup. */
export const MATTERMOST_RESTORE = { command: "mattermost-restore", source: "tools/mattermost-restore.sh" } as const;

/** What the backup tools share (log, fail, reading the settings file), where they source it from. */
export const BACKUP_COMMON = { path: "/usr/local/lib/gitlab-mattermost/backup-common.sh", source: "tools/backup-common.sh" } as const;

/** Where the tools are installed. */
export const TOOL_DIR = "/usr/local/sbin";

/** The backup jobs of a host, by what it runs. */
export function backupJobs(plan: HostPlan): BackupJob[] {
    return [...(plan.runsGitlab ? [GITLAB_JOB] : []), ...(plan.runsMattermost ? [MATTERMOST_JOB] : [])];
}

/** What a job rewrites in its folder after each success (the timestamp, as text), besides the host's copy. */
const LAST_SUCCESS_OBJECT = "last-success.txt";

/** The bucket key of a job's record of its last success. */
export function lastSuccessKey(job: BackupJob, stack: string): string {
    return `${stack}/${job.prefix}/${LAST_SUCCESS_OBJECT}`;
}

/** The command that runs a job now, through its systemd unit (it waits; the log is in the journal). */
export function runNowCommand(job: BackupJob): string {
    return `sudo systemctl start ${job.command}.service`;
}

/**
 * GitLab's own archives (`<timestamp>_gitlab_backup.tar`) that Omnibus uploads without a DIRECTORY: at
 * the bucket's root. gitlab-full-backup puts its archive in its backup's folder; the database backup
 * Omnibus's package makes before an upgrade still lands here.
 */
export const GITLAB_ARCHIVE_PATTERN = "*_gitlab_backup.tar";

/**
 * The tag that lets the lifecycle rule expire an object. The tools put it on every object of a job's
 * backups beyond the newest `backup.keepNewest` complete ones, so the newest are never expired.
 */
export const EXPIRABLE_TAG = { key: "gitlab-mattermost-retention", value: "expirable" } as const;

/**
 * What the backup and restore tools need to know of the kind of host they run on. One copy of each
 * tool serves every host: where they differ is settings (load_mattermost_settings in
 * host/tools/backup-common.sh), whose defaults are Omnibus's.
 */
export interface BackupHostKind {
    /** The services a backup reads from: its unit is ordered after them. */
    readonly services: readonly string[];
    /** Settings for the tools, written into their settings file. */
    readonly toolSettings: Readonly<Record<string, string>>;
}

/** Omnibus runs PostgreSQL and Mattermost under runit, itself a systemd unit; the tools' defaults are its paths. */
const OMNIBUS_HOST: BackupHostKind = { services: ["gitlab-runsvdir.service"], toolSettings: {} };

const { environmentFile } = STANDALONE_LAYOUT;
const environmentDir = environmentFile.slice(0, environmentFile.lastIndexOf("/"));

/**
 * A standalone Mattermost host (hostLayout.ts): Ubuntu's PostgreSQL, reached as its `postgres`
 * account over the local socket (peer authentication, as setup-mattermost-database.sh does), whose
 * /usr/bin clients pick the installed server's version; Mattermost under systemd; the unit's
 * environment file holds the secrets the deployment writes (the at-rest key among them).
 */
const STANDALONE_HOST: BackupHostKind = {
    services: [MATTERMOST_UNIT, "postgresql.service"],
    toolSettings: {
        PG_BIN: "/usr/bin",
        PG_RUN_AS: "postgres",
        PG_HOST: "/var/run/postgresql",
        PG_USER: "postgres",
        PG_ADMIN_PSQL: "sudo -u postgres psql",
        MM_DB: STANDALONE_DATABASE.name,
        MM_DB_OWNER: STANDALONE_DATABASE.role,
        MM_DATA_DIR: STANDALONE_LAYOUT.filesDirectory.replace(/\/$/, ""),
        MM_CONFIG: STANDALONE_LAYOUT.configFile,
        MM_PLUGIN_DIR: STANDALONE_LAYOUT.pluginDirectory,
        MM_CLIENT_PLUGIN_DIR: STANDALONE_LAYOUT.clientPluginDirectory,
        MM_ETC_DIR: environmentDir,
        MM_ETC_FILES: environmentFile.slice(environmentDir.length + 1),
        MM_ETC_ARCHIVE: "mattermost-etc.tar.gz",
        MM_ETC_ADVICE: `compare it with ${environmentFile} (MM_SQLSETTINGS_ATRESTENCRYPTKEY is the at-rest key); pulumi up rewrites that file, so a value to keep goes into the stack configuration`,
        MM_STOP_COMMAND: `systemctl stop ${MATTERMOST_UNIT}`,
        MM_START_COMMAND: `systemctl start ${MATTERMOST_UNIT}`,
    },
};

/** The kind of host `plan` is, as the backup tools see it. */
export function backupHostKind(plan: HostPlan): BackupHostKind {
    return runsOmnibus(plan) ? OMNIBUS_HOST : STANDALONE_HOST;
}

/** The settings file both tools read, for the host `plan`. */
export function backupEnvFile(args: { plan: HostPlan; stack: string; bucket: string; region: string; keepNewest: number }): string {
    return [
        "# Written by gitlab-mattermost; read by the backup and restore tools and their systemd units.",
        `BACKUP_REMOTE=${RCLONE_REMOTE}:${args.bucket}`,
        `BACKUP_STACK=${args.stack}`,
        `BACKUP_KEEP_NEWEST=${args.keepNewest}`,
        `BACKUP_EXPIRABLE_TAG=${EXPIRABLE_TAG.key}=${EXPIRABLE_TAG.value}`,
        `RCLONE_CONFIG_${RCLONE_REMOTE.toUpperCase()}_TYPE=s3`,
        `RCLONE_CONFIG_${RCLONE_REMOTE.toUpperCase()}_PROVIDER=AWS`,
        // Credentials come from the instance profile, through IMDSv2.
        `RCLONE_CONFIG_${RCLONE_REMOTE.toUpperCase()}_ENV_AUTH=true`,
        `RCLONE_CONFIG_${RCLONE_REMOTE.toUpperCase()}_REGION=${args.region}`,
        // The profile may not create or inspect buckets, only write its prefix.
        `RCLONE_CONFIG_${RCLONE_REMOTE.toUpperCase()}_NO_CHECK_BUCKET=true`,
        // Nor list beyond its own prefixes, so S3 answers a look-up of a key not there yet with 403, not
        // 404, and rclone takes only 404 for "not there" (backend/s3 headObject). Every backup writes a
        // new folder, so nothing is to be gained by looking first.
        "RCLONE_NO_CHECK_DEST=true",
        ...Object.entries(backupHostKind(args.plan).toolSettings).map(([key, value]) => `${key}=${value}`),
        "",
    ].join("\n");
}

/** The systemd service and timer of a job on the host `plan`. */
export function backupUnits(job: BackupJob, backup: BackupSettings, plan: HostPlan): { service: string; timer: string } {
    return scheduledBackupUnits({
        name: job.command,
        description: job.description,
        after: backupHostKind(plan).services,
        environmentFile: BACKUP_ENV_FILE,
        execStart: `${TOOL_DIR}/${job.command}`,
        calendar: backup.schedule,
    });
}

/** What a scheduled backup's units say; the rest is the same for every backup on every host. */
export interface ScheduledBackup {
    /** The units' name, without .service or .timer. */
    readonly name: string;
    readonly description: string;
    /** The services it must start after, besides the network. */
    readonly after: readonly string[];
    readonly user?: string;
    readonly environmentFile?: string;
    readonly execStart: string;
    /** systemd's OnCalendar= expression. */
    readonly calendar: string;
}

/** A backup as a oneshot service, at low CPU and I/O priority, and its timer. */
export function scheduledBackupUnits(unit: ScheduledBackup): { service: string; timer: string } {
    return {
        service: [
            "[Unit]",
            `Description=${unit.description}`,
            "Wants=network-online.target",
            `After=${["network-online.target", ...unit.after].join(" ")}`,
            "",
            "[Service]",
            "Type=oneshot",
            ...(unit.user === undefined ? [] : [`User=${unit.user}`]),
            ...(unit.environmentFile === undefined ? [] : [`EnvironmentFile=${unit.environmentFile}`]),
            `ExecStart=${unit.execStart}`,
            // A backup may take long; it must never be cut short by the default start timeout.
            "TimeoutStartSec=infinity",
            "Nice=10",
            "IOSchedulingClass=best-effort",
            "IOSchedulingPriority=7",
            "",
        ].join("\n"),
        timer: [
            "[Unit]",
            `Description=Schedule of ${unit.name}`,
            "",
            "[Timer]",
            `OnCalendar=${unit.calendar}`,
            `RandomizedDelaySec=${DEFAULTS.backup.randomizedDelay}`,
            // A run missed while the host was off happens at the next boot.
            "Persistent=true",
            "",
            "[Install]",
            "WantedBy=timers.target",
            "",
        ].join("\n"),
    };
}

/** An IAM policy document, as AWS reads it. */
export interface IamPolicyDocument {
    readonly Version: "2012-10-17";
    readonly Statement: readonly IamStatement[];
}

export interface IamStatement {
    readonly Sid: string;
    readonly Effect: "Allow" | "Deny";
    readonly Principal?: "*";
    readonly Action: string | readonly string[];
    readonly Resource: string | readonly string[];
    readonly Condition?: Readonly<Record<string, Readonly<Record<string, string | readonly string[]>>>>;
}

/**
 * A host's own part of the bucket: its jobs' prefixes and, where GitLab runs, GitLab's archives at the
 * bucket's root. What it may write is what it may read: no host reads another host's backups (the
 * GitLab host's hold db_key_base, the root and SMTP passwords).
 */
export interface OwnBackupKeys {
    /** Object keys, with IAM wildcards. */
    readonly objects: readonly string[];
    /** `s3:prefix` values the host may list under (the tools list only their own folders). */
    readonly listPrefixes: readonly string[];
}

/**
 * `bundledData`: the host holding the bundled Mattermost's data (placeMattermost). While it moves,
 * both hosts meet in the migration folder; the host holding the data keeps that folder and Mattermost's
 * backup folder until the data is removed: the move starts with a backup, and the removal reads the
 * move's record and checks the standalone Mattermost's newest backup (on a `single` stack that became
 * `split`, its planned role no longer runs Mattermost). No host has the migration folder otherwise.
 */
export function ownBackupKeys(plan: HostPlan, stack: string, bundledData?: Pick<NonNullable<MattermostPlacement["bundledData"]>, "host" | "moving">): OwnBackupKeys {
    const standaloneSide = bundledData?.moving === true && plan.role === "mattermost-standalone";
    const bundledSide = bundledData !== undefined && plan.name === bundledData.host && runsOmnibus(plan);
    const jobs = bundledSide ? [...new Set([...backupJobs(plan), MATTERMOST_JOB])] : backupJobs(plan);
    const folders = [
        ...jobs.map((job) => `${stack}/${job.prefix}/*`),
        ...(standaloneSide || bundledSide ? [`${stack}/${MIGRATION_FOLDER}/*`] : []),
    ];
    return { objects: [...folders, ...(plan.runsGitlab ? [GITLAB_ARCHIVE_PATTERN] : [])], listPrefixes: folders };
}

/**
 * The instance profile's policy: write, read and list its own keys, and tag them expirable (with that
 * one tag only); no delete, so a compromised host cannot erase the history (versioning keeps what it
 * overwrites, and an expired object stays a noncurrent version for retentionDays more).
 */
export function hostBackupPolicy(bucketArn: string, own: OwnBackupKeys): IamPolicyDocument {
    const objects = own.objects.map((key) => `${bucketArn}/${key}`);
    return {
        Version: "2012-10-17",
        Statement: [
            { Sid: "WriteOwnBackups", Effect: "Allow", Action: ["s3:PutObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"], Resource: objects },
            { Sid: "ReadOwnBackups", Effect: "Allow", Action: ["s3:GetObject", "s3:GetObjectVersion"], Resource: objects },
            {
                Sid: "TagOwnBackupsExpirable",
                Effect: "Allow",
                Action: "s3:PutObjectTagging",
                Resource: objects,
                // The request's tag set may hold this tag and nothing else (S3 User Guide, "Tagging and access
                // control policies": s3:RequestObjectTag/<key> and s3:RequestObjectTagKeys apply to PutObjectTagging).
                Condition: {
                    StringEquals: { [`s3:RequestObjectTag/${EXPIRABLE_TAG.key}`]: EXPIRABLE_TAG.value },
                    "ForAllValues:StringEquals": { "s3:RequestObjectTagKeys": [EXPIRABLE_TAG.key] },
                },
            },
            { Sid: "ListOwnBackups", Effect: "Allow", Action: "s3:ListBucket", Resource: bucketArn, Condition: { StringLike: { "s3:prefix": own.listPrefixes } } },
            { Sid: "FindBucket", Effect: "Allow", Action: "s3:GetBucketLocation", Resource: bucketArn },
        ],
    };
}

/** A rule of the bucket's lifecycle configuration, as the provider's BucketLifecycleConfiguration takes it. */
export interface LifecycleRule {
    readonly id: string;
    readonly status: "Enabled";
    readonly filter: { readonly tag?: { readonly key: string; readonly value: string } };
    readonly expiration?: { readonly days?: number; readonly expiredObjectDeleteMarker?: boolean };
    readonly noncurrentVersionExpiration?: { readonly noncurrentDays: number };
    readonly abortIncompleteMultipartUpload?: { readonly daysAfterInitiation: number };
}

/** Days after which S3 aborts an upload that never completed, and removes its parts. */
const ABORT_INCOMPLETE_UPLOADS_DAYS = 7;

/**
 * The bucket's lifecycle (S3 User Guide, "Lifecycle configuration elements"):
 * - only objects tagged EXPIRABLE_TAG expire, retentionDays after they were written (Expiration counts
 *   from an object's creation, not from its tagging), so an untagged object (the newest complete
 *   backups, the last-success records) is never expired;
 * - replaced and expired versions go retentionDays after they stopped being current (versioning turns an
 *   expiration into a delete marker, so an expired backup stays restorable that long), and so do the
 *   delete markers left alone; unfinished uploads are aborted. S3 refuses AbortIncompleteMultipartUpload
 *   in a rule filtered by tags, and ExpiredObjectDeleteMarker beside Days, hence the second rule.
 */
export function backupLifecycleRules(retentionDays: number): LifecycleRule[] {
    return [
        {
            id: "expire-backups-beyond-the-newest",
            status: "Enabled",
            filter: { tag: { key: EXPIRABLE_TAG.key, value: EXPIRABLE_TAG.value } },
            expiration: { days: retentionDays },
        },
        {
            id: "expire-replaced-versions-and-unfinished-uploads",
            status: "Enabled",
            filter: {},
            expiration: { expiredObjectDeleteMarker: true },
            noncurrentVersionExpiration: { noncurrentDays: retentionDays },
            abortIncompleteMultipartUpload: { daysAfterInitiation: ABORT_INCOMPLETE_UPLOADS_DAYS },
        },
    ];
}

/** The bucket's policy: every request without TLS is refused, whoever makes it. */
export function tlsOnlyBucketPolicy(bucketArn: string): IamPolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [{
            Sid: "DenyInsecureTransport",
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: [bucketArn, `${bucketArn}/*`],
            Condition: { Bool: { "aws:SecureTransport": "false" } },
        }],
    };
}
