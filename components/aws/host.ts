// One EC2 host: x86_64 Ubuntu, IMDSv2 only, an encrypted gp3 root volume, an Elastic IP, and
// registration with Systems Manager.

import * as aws from "@pulumi/aws";
import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { SshAccessMode } from "../settings/settings";
import { HOST_OS } from "../versions/versions";
import { hostAccess } from "./hostAccess";

export interface HostArgs {
    /** EC2 instance type; checked to be x86_64 before any resource is created. */
    instanceType: string;
    /** Root volume size in GiB: the system and the package; the data has a volume of its own. */
    volumeSizeGiB: number;
    /** AMI to boot, from `ubuntuAmi`. */
    amiId: pulumi.Input<string>;
    subnetId: pulumi.Input<string>;
    securityGroupId: pulumi.Input<string>;
    /** EC2 key pair for the SSH user. */
    keyName: pulumi.Input<string>;
    /** OpenSSH private key matching `keyName`; secret. */
    privateKey: pulumi.Input<string>;
    /** The host's AWS permissions (its backups): an instance profile and its role, to which the host adds Systems Manager's agent. */
    permissions: { instanceProfileName: pulumi.Input<string>; role: { name: pulumi.Input<string>; arn: pulumi.Input<string> } };
    /** How `pulumi up` reaches the host's SSH (ssh.access). */
    sshAccess: SshAccessMode;
    /**
     * A host kept only for the data it holds (a split stack's old Mattermost host after its bundled
     * Mattermost moved): no setting changes its instance any more. `removable`: what it held is gone,
     * and the next run that no longer declares the host may delete its instance.
     */
    keptAsIs?: { removable: boolean };
}

/** The newest Ubuntu 24.04 AMD64 image, from Canonical's account only. */
export function ubuntuAmi(opts?: pulumi.InvokeOptions): pulumi.Output<string> {
    return aws.ec2.getAmiOutput({
        mostRecent: true,
        owners: [HOST_OS.amiOwner],
        filters: [
            { name: "name", values: [HOST_OS.amiNamePattern] },
            { name: "architecture", values: ["x86_64"] },
            { name: "virtualization-type", values: ["hvm"] },
            { name: "root-device-type", values: ["ebs"] },
        ],
    }, opts).id;
}

export class Host extends pulumi.ComponentResource {
    readonly instanceId: pulumi.Output<string>;
    /** The Elastic IP: stable across instance replacement. */
    readonly publicIp: pulumi.Output<string>;
    /** SSH connection for remote commands; the private key inside stays secret. */
    readonly connection: command.types.input.remote.ConnectionArgs;
    /** What follows `ssh -i <key>` to log in to the host from an administrator's machine. */
    readonly sshDestination: pulumi.Output<string>;

    constructor(name: string, args: HostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:Host", name, {}, opts);

        // Ubuntu's AMIs run the Systems Manager agent (snap amazon-ssm-agent); with this AWS managed
        // policy it registers the instance (AWS Systems Manager User Guide, "Configure instance
        // permissions required for Systems Manager"). Attached whatever ssh.access says, so a switch to
        // ssm finds the hosts registered, and Session Manager is a way in when SSH is not.
        const agent = new aws.iam.RolePolicyAttachment(`${name}-ssm-agent`, {
            role: args.permissions.role.name,
            policyArn: pulumi.output(args.permissions.role.arn).apply((arn) => `arn:${arn.split(":")[1]}:iam::aws:policy/AmazonSSMManagedInstanceCore`),
        }, { parent: this });

        const instance = new aws.ec2.Instance(name, {
            ami: args.amiId,
            instanceType: args.instanceType,
            subnetId: args.subnetId,
            vpcSecurityGroupIds: [args.securityGroupId],
            keyName: args.keyName,
            iamInstanceProfile: args.permissions.instanceProfileName,
            metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
            rootBlockDevice: {
                volumeType: "gp3",
                volumeSize: args.volumeSizeGiB,
                encrypted: true,
                deleteOnTermination: true,
            },
            tags: { Name: name },
        }, {
            parent: this,
            // The AMI lookup follows Canonical's newest image; a new image must not replace a running host.
            // A host kept as it is ignores every input ("*", pulumi/pulumi#13005): the settings now describe another host.
            ignoreChanges: args.keptAsIs ? ["*"] : ["ami"],
            // Neither `pulumi destroy` nor a change that needs a new instance removes it unasked; the
            // README says how to let a replacement or a teardown through. Data lives on the data volume.
            protect: !args.keptAsIs?.removable,
            // Registered from its first boot, rather than once the agent retries.
            dependsOn: [agent],
        });
        const address = new aws.ec2.Eip(name, { domain: "vpc", instance: instance.id, tags: { Name: name } }, {
            parent: this,
            // Kept by `pulumi destroy`: allow-lists and caches may still point at it, and a released
            // address can go to someone else. docs/operations.md says how to release it.
            retainOnDelete: true,
        });

        this.instanceId = instance.id;
        this.publicIp = address.publicIp;
        const access = hostAccess(name, { access: args.sshAccess, instanceId: instance.id, publicIp: address.publicIp, privateKey: args.privateKey });
        this.connection = access.connection;
        this.sshDestination = access.sshDestination;
        this.registerOutputs({ instanceId: this.instanceId, publicIp: this.publicIp });
    }
}
