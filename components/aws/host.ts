// One EC2 host: x86_64 Ubuntu, IMDSv2 only, an encrypted gp3 root volume and an Elastic IP.

import * as aws from "@pulumi/aws";
import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { HOST_OS } from "../versions/versions";

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
    /** Instance profile: the host's AWS permissions (its backups). */
    instanceProfile: pulumi.Input<string>;
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

    constructor(name: string, args: HostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:Host", name, {}, opts);

        const instance = new aws.ec2.Instance(name, {
            ami: args.amiId,
            instanceType: args.instanceType,
            subnetId: args.subnetId,
            vpcSecurityGroupIds: [args.securityGroupId],
            keyName: args.keyName,
            iamInstanceProfile: args.instanceProfile,
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
            ignoreChanges: ["ami"],
            // Neither `pulumi destroy` nor a change that needs a new instance removes it unasked; the
            // README says how to let a replacement or a teardown through. Data lives on the data volume.
            protect: true,
        });
        const address = new aws.ec2.Eip(name, { domain: "vpc", instance: instance.id, tags: { Name: name } }, {
            parent: this,
            // Kept by `pulumi destroy`: allow-lists and caches may still point at it, and a released
            // address can go to someone else. docs/operations.md says how to release it.
            retainOnDelete: true,
        });

        this.instanceId = instance.id;
        this.publicIp = address.publicIp;
        this.connection = {
            host: address.publicIp,
            user: HOST_OS.sshUser,
            privateKey: args.privateKey,
            // A new instance needs minutes before sshd answers; keep dialling rather than fail.
            dialErrorLimit: 100,
            perDialTimeout: 15,
        };
        this.registerOutputs({ instanceId: this.instanceId, publicIp: this.publicIp });
    }
}
