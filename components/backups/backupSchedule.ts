// A host's backups: the tools, their settings file, and a systemd timer per job, enabled once the
// files are in place. On the host that runs Mattermost, also the restore tool, and the one-time
// restore that backup.restoreFrom asks for.

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { BACKUP_COMMON, BACKUP_ENV_FILE, MATTERMOST_RESTORE, TOOL_DIR, backupEnvFile, backupJobs, backupUnits } from "./backupPlan";
import { HostFiles, type HostFile } from "../omnibus/hostFiles";
import { hostCommand, hostFile } from "../omnibus/hostScripts";
import type { BackupSettings } from "../settings/settings";
import type { HostPlan } from "../settings/topology";

export interface BackupScheduleArgs {
    plan: HostPlan;
    backup: BackupSettings;
    /** SSH connection to the host. */
    connection: command.types.input.remote.ConnectionArgs;
    /** The instance; a new instance gets everything again. */
    instanceId: pulumi.Input<string>;
    bucketName: pulumi.Input<string>;
    region: pulumi.Input<string>;
    /** Steps that must finish first: the package install, or a standalone Mattermost host's installation. */
    after: pulumi.Input<pulumi.Resource>[];
    /** When an upgrade follows, back up once first, after these steps. */
    beforeUpgrade?: { after: pulumi.Input<pulumi.Resource>[] };
    /**
     * The timers are enabled only by enableTimers, after what must come first: a restore on this host
     * (no backup may run before it: `latest` would find a backup of the Mattermost it is about to
     * replace), or the health gate of a host whose tools go in before it.
     */
    enableTimersLater?: boolean;
}

const SYSTEMD_DIR = "/etc/systemd/system";

export class BackupSchedule extends pulumi.ComponentResource {
    /** The tools, rclone and the units are in place: a restore or a backup can run. */
    readonly toolsReady: command.remote.Command;
    /** Enables the timers; backups can run once it has (with enableTimersLater, only once enableTimers ran). */
    enabled?: command.remote.Command;
    /** The backup run before an upgrade, when one follows. */
    readonly beforeUpgrade?: command.remote.Command;
    private readonly enableTimersWith: (after: pulumi.Input<pulumi.Resource>[]) => command.remote.Command;

    constructor(name: string, args: BackupScheduleArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:BackupSchedule", name, {}, opts);
        const jobs = backupJobs(args.plan);
        const env = pulumi.all([args.bucketName, args.region]).apply(([bucket, region]) => backupEnvFile({ plan: args.plan, stack: pulumi.getStack(), bucket, region, keepNewest: args.backup.keepNewest }));
        const tools: HostFile[] = [
            { path: BACKUP_COMMON.path, mode: "0644", content: hostFile(BACKUP_COMMON.source) },
            ...jobs.map((job) => ({ path: `${TOOL_DIR}/${job.command}`, mode: "0755", content: hostFile(job.source) })),
            ...(args.plan.runsMattermost ? [{ path: `${TOOL_DIR}/${MATTERMOST_RESTORE.command}`, mode: "0755", content: hostFile(MATTERMOST_RESTORE.source) }] : []),
        ];
        const units: HostFile[] = jobs.flatMap((job) => {
            const { service, timer } = backupUnits(job, args.backup, args.plan);
            return [
                { path: `${SYSTEMD_DIR}/${job.command}.service`, mode: "0644", content: service },
                { path: `${SYSTEMD_DIR}/${job.command}.timer`, mode: "0644", content: timer },
            ];
        });
        const files = new HostFiles(name, {
            connection: args.connection,
            instanceId: args.instanceId,
            files: [...tools, { path: BACKUP_ENV_FILE, mode: "0644", content: env }, ...units],
            after: args.after,
        }, { parent: this });

        const timers = jobs.map((job) => `${job.command}.timer`);
        this.enableTimersWith = (after) =>
            new command.remote.Command(`${name}-timers`, {
                connection: args.connection,
                create: hostCommand("enable-backups.sh", timers),
                // New unit files or tools need a daemon-reload; the digest tells when.
                triggers: [args.instanceId, files.digest],
                addPreviousOutputInEnv: false,
            }, { parent: this, dependsOn: [...files.steps, ...after] });
        if (args.enableTimersLater) {
            // rclone and a daemon-reload, without a timer.
            this.toolsReady = new command.remote.Command(`${name}-tools-ready`, {
                connection: args.connection,
                create: hostCommand("enable-backups.sh", []),
                triggers: [args.instanceId, files.digest],
                addPreviousOutputInEnv: false,
            }, { parent: this, dependsOn: files.steps });
        } else {
            this.enabled = this.enableTimersWith([]);
            this.toolsReady = this.enabled;
        }
        if (args.beforeUpgrade) {
            // The same units as the timers, so the same settings and the same journal.
            this.beforeUpgrade = new command.remote.Command(`${name}-before-upgrade`, {
                connection: args.connection,
                create: `sudo systemctl start ${jobs.map((job) => `${job.command}.service`).join(" ")}`,
                triggers: [args.instanceId],
                addPreviousOutputInEnv: false,
            }, { parent: this, dependsOn: [this.toolsReady, ...args.beforeUpgrade.after], customTimeouts: { create: "6h" } });
        }
        this.registerOutputs({});
    }

    /** With enableTimersLater: enables the timers after these steps (the restore, the health gate). */
    enableTimers(after: pulumi.Input<pulumi.Resource>[]): command.remote.Command {
        this.enabled ??= this.enableTimersWith(after);
        return this.enabled;
    }
}

export interface MattermostRestoreArgs {
    /** The backup to restore: its UTC timestamp, or `latest`. */
    backup: string;
    /** SSH connection to the host that runs Mattermost. */
    connection: command.types.input.remote.ConnectionArgs;
    /** The volume Mattermost's data lives on: only a new, empty one needs the restore again. */
    dataVolumeId: pulumi.Input<string>;
    /** Mattermost must be configured and healthy first. */
    after: pulumi.Input<pulumi.Resource>[];
}

/**
 * The one-time restore backup.restoreFrom asks for: it runs again only for a new value or a new data
 * volume. A replaced instance keeps its data volume, and with it the restored data.
 */
export class MattermostRestore extends pulumi.ComponentResource {
    readonly step: command.remote.Command;

    constructor(name: string, args: MattermostRestoreArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:MattermostRestore", name, {}, opts);
        this.step = new command.remote.Command(name, {
            connection: args.connection,
            create: `sudo ${TOOL_DIR}/${MATTERMOST_RESTORE.command} ${args.backup}`,
            triggers: [args.dataVolumeId, args.backup],
            // Any other change (its connection, the command's wording) is an update, which would run
            // `create` again and roll Mattermost back to the backup: an update restores nothing.
            update: "true",
            addPreviousOutputInEnv: false,
        }, { parent: this, dependsOn: args.after, customTimeouts: { create: "6h" } });
        this.registerOutputs({});
    }
}
