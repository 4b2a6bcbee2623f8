// A host's data on an EBS volume of its own, which outlives the instance: encrypted gp3, in the hosts'
// zone, attached under a fixed device name. Replacing the instance, or `pulumi destroy`, never deletes
// it; Amazon Data Lifecycle Manager snapshots every data volume of the stack daily.

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { DataVolumeSettings } from "../settings/dataVolume";

/** The device name the attachment asks for. On Nitro instances it is only a hint: the host finds the volume by its id. */
export const DATA_VOLUME_DEVICE = "/dev/sdf";

/** The tag that marks a stack's data volumes; the snapshot policy targets it, with the stack's name as value. */
export const DATA_VOLUME_TAG = "gitlab-mattermost-data";

export interface DataVolumeArgs {
    /** The hosts' availability zone. */
    availabilityZone: pulumi.Input<string>;
    /** The instance the volume is attached to; a new instance gets the same volume. */
    instanceId: pulumi.Input<string>;
    settings: DataVolumeSettings;
    /**
     * A volume kept only for the data it holds (see HostArgs.keptAsIs): no setting changes it any more.
     * `removable`: the next run that no longer declares it drops it from the stack (it stays in the account).
     */
    keptAsIs?: { removable: boolean };
}

export class DataVolume extends pulumi.ComponentResource {
    readonly volumeId: pulumi.Output<string>;
    /** The attachment; the host's mount step waits for it. */
    readonly attachment: aws.ec2.VolumeAttachment;

    constructor(name: string, args: DataVolumeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:DataVolume", name, {}, opts);
        const { settings } = args;
        const volume = new aws.ebs.Volume(`${name}-data`, {
            availabilityZone: args.availabilityZone,
            type: "gp3",
            encrypted: true,
            size: settings.sizeGiB,
            iops: settings.iops,
            throughput: settings.throughputMiBps,
            ...(settings.snapshotId === undefined ? {} : { snapshotId: settings.snapshotId }),
            tags: { Name: `${name}-data`, [DATA_VOLUME_TAG]: pulumi.getStack() },
        }, {
            parent: this,
            // The data must survive whatever replaces or deletes the resource: `pulumi destroy` keeps the
            // volume, and a plan that would delete or replace it stops instead.
            protect: !args.keptAsIs?.removable,
            retainOnDelete: true,
            // A snapshot is read when the volume is created; naming one later must not replace the volume.
            ignoreChanges: args.keptAsIs ? ["*"] : ["snapshotId"],
        });
        this.attachment = new aws.ec2.VolumeAttachment(`${name}-data`, {
            volumeId: volume.id,
            instanceId: args.instanceId,
            deviceName: DATA_VOLUME_DEVICE,
            // The old instance is stopped first, so its filesystem is cleanly unmounted before the volume leaves.
            stopInstanceBeforeDetaching: true,
        }, {
            parent: this,
            // A new instance changes instanceId, which replaces the attachment. The volume is attached to
            // one instance at a time, so the old attachment goes before the new one is made.
            deleteBeforeReplace: true,
        });
        this.volumeId = volume.id;
        this.registerOutputs({ volumeId: this.volumeId });
    }
}

export interface DataVolumeSnapshotsArgs {
    /** Days each daily snapshot is kept (backup.retentionDays). */
    retentionDays: number;
}

/**
 * Daily snapshots of the stack's data volumes (those tagged DATA_VOLUME_TAG with the stack's name),
 * each kept `retentionDays`. They complement the backups in S3: a whole volume, restorable in minutes.
 */
export class DataVolumeSnapshots extends pulumi.ComponentResource {
    readonly policyArn: pulumi.Output<string>;

    constructor(name: string, args: DataVolumeSnapshotsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:DataVolumeSnapshots", name, {}, opts);
        const parent = { parent: this };
        const role = new aws.iam.Role(name, {
            assumeRolePolicy: aws.iam.getPolicyDocumentOutput({
                statements: [{ effect: "Allow", actions: ["sts:AssumeRole"], principals: [{ type: "Service", identifiers: ["dlm.amazonaws.com"] }] }],
            }, parent).json,
        }, parent);
        // AWS's managed policy for snapshot policies (DLM User Guide, "AWS managed policies").
        const access = new aws.iam.RolePolicyAttachment(name, {
            role: role.name,
            policyArn: "arn:aws:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole",
        }, parent);
        const policy = new aws.dlm.LifecyclePolicy(name, {
            description: `Daily snapshots of the data volumes of stack ${pulumi.getStack()}`,
            executionRoleArn: role.arn,
            state: "ENABLED",
            policyDetails: {
                policyType: "EBS_SNAPSHOT_MANAGEMENT",
                resourceTypes: ["VOLUME"],
                targetTags: { [DATA_VOLUME_TAG]: pulumi.getStack() },
                schedules: [{
                    name: "daily",
                    // Every 24 hours from 03:00 UTC, within DLM's one-hour window.
                    createRule: { interval: 24, intervalUnit: "HOURS", times: "03:00" },
                    // Age-based retention: each snapshot is deleted once it is retentionDays old.
                    retainRule: { interval: args.retentionDays, intervalUnit: "DAYS" },
                    copyTags: true,
                }],
            },
            tags: { Name: name },
        }, { parent: this, dependsOn: [access] });
        this.policyArn = policy.arn;
        this.registerOutputs({ policyArn: this.policyArn });
    }
}
