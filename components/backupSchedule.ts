// A host's backups: the tools, their settings file, and a systemd timer per job, enabled once the
// files are in place. On the host that runs Mattermost, also the restore tool, and the one-time
// restore that backup.restoreFrom asks for.

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { BACKUP_COMMON, BACKUP_ENV_FILE, MATTERMOST_RESTORE, TOOL_DIR, backupEnvFile, backupJobs, backupUnits } from "./backupPlan";
import { HostFiles, type HostFile } from "./hostFiles";
import { hostCommand, hostFile } from "./hostScripts";
import type { BackupSettings } from "./settings";
import type { HostPlan } from "./topology";

export interface BackupScheduleArgs {
    plan: HostPlan;
    backup: BackupSettings;
    /** SSH connection to the host. */
    connection: command.types.input.remote.ConnectionArgs;
    /** The instance; a new instance gets everything again. */
    instanceId: pulumi.Input<string>;
    bucketName: pulumi.Input<string>;
    region: pulumi.Input<string>;
    /** Steps that must finish first: the package install. */
    after: pulumi.Input<pulumi.Resource>[];
}

const SYSTEMD_DIR = "/etc/systemd/system";

export class BackupSchedule extends pulumi.ComponentResource {
    /** Enables the timers; backups can run once it has. */
    readonly enabled: command.remote.Command;
    /** `systemctl start` of each backup service, for the step that backs up before an upgrade. */
    readonly runNow: string;

    constructor(name: string, args: BackupScheduleArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:BackupSchedule", name, {}, opts);
        const jobs = backupJobs(args.plan);
        const env = pulumi.all([args.bucketName, args.region]).apply(([bucket, region]) => backupEnvFile({ stack: pulumi.getStack(), bucket, region }));
        const tools: HostFile[] = [
            { path: BACKUP_COMMON.path, mode: "0644", content: hostFile(BACKUP_COMMON.source) },
            ...jobs.map((job) => ({ path: `${TOOL_DIR}/${job.command}`, mode: "0755", content: hostFile(job.source) })),
            ...(args.plan.runsMattermost ? [{ path: `${TOOL_DIR}/${MATTERMOST_RESTORE.command}`, mode: "0755", content: hostFile(MATTERMOST_RESTORE.source) }] : []),
        ];
        const units: HostFile[] = jobs.flatMap((job) => {
            const { service, timer } = backupUnits(job, args.backup);
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
        this.enabled = new command.remote.Command(`${name}-timers`, {
            connection: args.connection,
            create: hostCommand("enable-backups.sh", timers),
            // New unit files or tools need a daemon-reload; the digest tells when.
            triggers: [args.instanceId, files.digest],
            addPreviousOutputInEnv: false,
        }, { parent: this, dependsOn: files.steps });
        this.runNow = `sudo systemctl start ${jobs.map((job) => `${job.command}.service`).join(" ")}`;
        this.registerOutputs({});
    }
}
