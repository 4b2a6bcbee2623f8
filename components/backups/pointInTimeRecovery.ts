// Point-in-time recovery on the standalone Mattermost host: pgbackrest.conf, the periodic backup units
// and the restore tool in place, then enable-pitr.sh (WAL archiving, the first full backup, the
// timers); and the one-time restore to the moment backup.restoreFrom names. The host's instance profile
// must reach the repository's folder first (HostBackupAccess with pointInTimeRecovery).

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { HostFiles, type HostFile } from "../omnibus/hostFiles";
import { hostCommand, hostFile } from "../omnibus/hostScripts";
import { HOST_OS } from "../versions/versions";
import { TOOL_DIR } from "./backupPlan";
import { PITR, backupUnitName, pgbackrestConfig, physicalBackupUnits, readPointInTime, ubuntuCluster, type PhysicalBackupType } from "./pitr";

export interface PointInTimeRecoveryArgs {
    /** SSH connection to the standalone Mattermost host. */
    connection: command.types.input.remote.ConnectionArgs;
    /** The instance; a new instance gets everything again. */
    instanceId: pulumi.Input<string>;
    bucketName: pulumi.Input<string>;
    region: pulumi.Input<string>;
    /** backup.retentionDays. */
    retentionDays: number;
    /**
     * Steps that must finish first: PostgreSQL installed with Mattermost's database, the instance
     * profile's access to the repository, and the backup tools (the restore tool sources their
     * backup-common.sh).
     */
    after: pulumi.Input<pulumi.Resource>[];
    /** backup.restoreFrom when it is a point in time, and what the restore waits for (Mattermost answering). */
    restore?: { to: string; after: pulumi.Input<pulumi.Resource>[]; dataVolumeId: pulumi.Input<string> };
}

const SYSTEMD_DIR = "/etc/systemd/system";
const TYPES: readonly PhysicalBackupType[] = ["full", "diff"];

export class PointInTimeRecovery extends pulumi.ComponentResource {
    /** Archiving is on, a full backup exists, the timers run. */
    readonly enabled: command.remote.Command;
    /** The restore to backup.restoreFrom, when it names a point in time. */
    readonly restore?: command.remote.Command;

    constructor(name: string, args: PointInTimeRecoveryArgs, opts?: pulumi.ComponentResourceOptions) {
        if (args.restore && readPointInTime(args.restore.to) === undefined) {
            throw new Error(`PointInTimeRecovery: ${JSON.stringify(args.restore.to)} is not a point in time (YYYY-MM-DDTHH:MM:SSZ)`);
        }
        super("gitlab-mattermost:index:PointInTimeRecovery", name, {}, opts);
        const parent = { parent: this };
        const config = pulumi.all([args.bucketName, args.region]).apply(([bucket, region]) =>
            pgbackrestConfig({ repository: { bucket, region, stack: pulumi.getStack() }, retentionDays: args.retentionDays, cluster: ubuntuCluster(HOST_OS.postgresqlMajor) }),
        );
        const units: HostFile[] = TYPES.flatMap((type) => {
            const { service, timer } = physicalBackupUnits(type);
            return [
                { path: `${SYSTEMD_DIR}/${backupUnitName(type)}.service`, mode: "0644", content: service },
                { path: `${SYSTEMD_DIR}/${backupUnitName(type)}.timer`, mode: "0644", content: timer },
            ];
        });
        const files = new HostFiles(name, {
            connection: args.connection,
            instanceId: args.instanceId,
            files: [
                { path: PITR.configFile, mode: "0644", content: config },
                { path: `${TOOL_DIR}/${PITR.restoreTool.command}`, mode: "0755", content: hostFile(PITR.restoreTool.source) },
                ...units,
            ],
            after: args.after,
        }, parent);
        const timers = TYPES.map((type) => `${backupUnitName(type)}.timer`);
        this.enabled = new command.remote.Command(`${name}-enable`, {
            connection: args.connection,
            create: hostCommand("enable-pitr.sh", [PITR.configFile, PITR.stanza, String(PITR.archiveTimeoutSeconds), ...timers]),
            // A new configuration, unit or tool runs it again; it changes only what differs.
            triggers: [args.instanceId, files.digest],
            addPreviousOutputInEnv: false,
        }, { ...parent, dependsOn: [...files.steps, ...args.after], customTimeouts: { create: "6h", update: "6h" } });
        if (args.restore) {
            this.restore = new command.remote.Command(`${name}-restore`, {
                connection: args.connection,
                create: `sudo ${TOOL_DIR}/${PITR.restoreTool.command} ${args.restore.to}`,
                // Once per moment asked for, and again only on a new, empty data volume.
                triggers: [args.restore.dataVolumeId, args.restore.to],
                // Any other change (its connection, the command's wording) is an update, which would run
                // `create` again and roll the database back to the moment once more: an update restores nothing.
                update: "true",
                addPreviousOutputInEnv: false,
            }, { ...parent, dependsOn: [this.enabled, ...args.restore.after], customTimeouts: { create: "6h" } });
        }
        this.registerOutputs({});
    }
}
