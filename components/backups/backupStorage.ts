// The stack's backup bucket, and each host's permission to write its own part of it.

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { backupLifecycleRules, hostBackupPolicy, tlsOnlyBucketPolicy, type OwnBackupKeys } from "./backupPlan";
import { pitrBucketStatements } from "./pitr";

/** What the stack reports for a job before its first success is in the bucket (the record never expires). */
export const NO_RECORDED_BACKUP = "none in the bucket";

/**
 * The timestamp a backup job last recorded at `key` in the bucket, read when the program runs: the
 * stack output is as recent as the last `pulumi up` (or `preview`).
 */
export function lastRecordedBackup(bucket: pulumi.Input<string>, key: string, opts?: pulumi.InvokeOutputOptions): pulumi.Output<string> {
    // Listing first: reading a key that does not exist fails the run.
    return aws.s3.getObjectsOutput({ bucket, prefix: key }, opts).apply(
        (listing): pulumi.Output<string> =>
            listing.keys.includes(key) ? aws.s3.getObjectOutput({ bucket: listing.bucket, key }, opts).body.apply((body) => body.trim()) : pulumi.output(NO_RECORDED_BACKUP),
    );
}

export interface BackupStorageArgs {
    /** Days before a backup beyond the newest few (see backupLifecycleRules), or a replaced version, expires. */
    retentionDays: number;
}

/**
 * One private, versioned, encrypted bucket per stack, reachable only over TLS. It is kept when the
 * stack is destroyed: backups must outlive the hosts they came from.
 */
export class BackupStorage extends pulumi.ComponentResource {
    readonly bucketName: pulumi.Output<string>;
    readonly bucketArn: pulumi.Output<string>;
    /** The bucket's region, for the hosts' S3 clients. */
    readonly region: pulumi.Output<string>;

    constructor(name: string, args: BackupStorageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:BackupStorage", name, {}, opts);
        const parent = { parent: this };
        const bucket = new aws.s3.Bucket(name, { bucketPrefix: "gitlab-mattermost-backups-", forceDestroy: false }, { ...parent, retainOnDelete: true });
        const target = { bucket: bucket.id };

        new aws.s3.BucketOwnershipControls(name, { ...target, rule: { objectOwnership: "BucketOwnerEnforced" } }, parent);
        const publicAccess = new aws.s3.BucketPublicAccessBlock(name, {
            ...target,
            blockPublicAcls: true,
            blockPublicPolicy: true,
            ignorePublicAcls: true,
            restrictPublicBuckets: true,
        }, parent);
        new aws.s3.BucketVersioning(name, { ...target, versioningConfiguration: { status: "Enabled" } }, parent);
        new aws.s3.BucketServerSideEncryptionConfiguration(name, {
            ...target,
            rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }],
        }, parent);
        new aws.s3.BucketLifecycleConfiguration(name, {
            ...target,
            rules: backupLifecycleRules(args.retentionDays),
        }, parent);
        new aws.s3.BucketPolicy(name, {
            ...target,
            policy: bucket.arn.apply((arn) => JSON.stringify(tlsOnlyBucketPolicy(arn))),
        }, { ...parent, dependsOn: [publicAccess] });

        this.bucketName = bucket.bucket;
        this.bucketArn = bucket.arn;
        this.region = bucket.bucketRegion;
        this.registerOutputs({ bucketName: this.bucketName });
    }
}

export interface HostBackupAccessArgs {
    bucketArn: pulumi.Input<string>;
    /** The host's own keys: all it may write, read and list. */
    own: OwnBackupKeys;
    /** The host archives its PostgreSQL with pgBackRest (standalone Mattermost): it may also use the repository's folder. */
    pointInTimeRecovery?: boolean;
}

/** An instance profile for one host: its own part of the bucket (see hostBackupPolicy), and nothing else. */
export class HostBackupAccess extends pulumi.ComponentResource {
    readonly instanceProfileName: pulumi.Output<string>;
    /** The profile's role, which other permissions of the host may join. */
    readonly role: { name: pulumi.Output<string>; arn: pulumi.Output<string> };

    constructor(name: string, args: HostBackupAccessArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:HostBackupAccess", name, {}, opts);
        const parent = { parent: this };
        const role = new aws.iam.Role(name, {
            assumeRolePolicy: aws.iam.getPolicyDocumentOutput({
                statements: [{ effect: "Allow", actions: ["sts:AssumeRole"], principals: [{ type: "Service", identifiers: ["ec2.amazonaws.com"] }] }],
            }, parent).json,
        }, parent);
        new aws.iam.RolePolicy(name, {
            role: role.id,
            policy: pulumi.output(args.bucketArn).apply((arn) => {
                const policy = hostBackupPolicy(arn, args.own);
                const pitr = args.pointInTimeRecovery ? pitrBucketStatements(arn, pulumi.getStack()) : [];
                return JSON.stringify({ ...policy, Statement: [...policy.Statement, ...pitr] });
            }),
        }, parent);
        const profile = new aws.iam.InstanceProfile(name, { role: role.name }, parent);
        this.instanceProfileName = profile.name;
        this.role = { name: role.name, arn: role.arn };
        this.registerOutputs({ instanceProfileName: this.instanceProfileName });
    }
}
