// The program's own network: one VPC with one public subnet, and the security group every host uses.
// IPv4 only, everywhere: an IPv6 rule here would admit no one, since nothing else has IPv6.

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { NETWORK } from "../settings/settings";

export interface NetworkArgs {
    /** IPv4 CIDR blocks allowed to reach SSH on port 22 (the configuration refuses IPv6); empty: no SSH rule (ssh.access ssm). */
    sshAllowedCidrs: readonly string[];
    /** The availability zone of the hosts' subnet, from `chooseHostZone`. */
    availabilityZone: string;
}

/** One rule of the hosts' security group, as data, so its shape can be checked without AWS. */
export interface IngressRule {
    readonly description: string;
    readonly port: number;
    readonly cidrBlocks: string[];
}

const ANYWHERE = { cidrBlocks: ["0.0.0.0/0"] };

/**
 * HTTP and HTTPS from any IPv4 address (HTTP serves Let's Encrypt's challenge and the redirect); SSH
 * only from `sshAllowedCidrs`, and not at all without them: Systems Manager's sessions need no inbound port.
 */
export function ingressRules(sshAllowedCidrs: readonly string[]): IngressRule[] {
    return [
        { description: "HTTP", port: 80, ...ANYWHERE },
        { description: "HTTPS", port: 443, ...ANYWHERE },
        ...(sshAllowedCidrs.length === 0 ? [] : [{ description: "SSH from the administrators' networks", port: 22, cidrBlocks: [...sshAllowedCidrs] }]),
    ];
}

export class Network extends pulumi.ComponentResource {
    readonly vpcId: pulumi.Output<string>;
    readonly subnetId: pulumi.Output<string>;
    readonly securityGroupId: pulumi.Output<string>;
    /** The zone the subnet is in, which may predate this run's choice (see below). */
    readonly availabilityZone: pulumi.Output<string>;

    constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:Network", name, {}, opts);
        const parent = { parent: this };

        const vpc = new aws.ec2.Vpc(`${name}-vpc`, {
            cidrBlock: NETWORK.vpcCidr,
            enableDnsHostnames: true,
            enableDnsSupport: true,
            tags: { Name: name },
        }, parent);
        const gateway = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags: { Name: name } }, parent);
        const subnet = new aws.ec2.Subnet(`${name}-public`, {
            vpcId: vpc.id,
            cidrBlock: NETWORK.subnetCidr,
            availabilityZone: args.availabilityZone,
            // A public address from boot on, so cloud-init reaches the package mirrors before the Elastic IP is attached.
            mapPublicIpOnLaunch: true,
            tags: { Name: `${name}-public` },
            // A subnet in another zone is a new subnet, and every host in it a new host: the zone is
            // chosen once, when the subnet is created.
        }, { ...parent, ignoreChanges: ["availabilityZone"] });
        const routes = new aws.ec2.RouteTable(`${name}-public`, {
            vpcId: vpc.id,
            routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: gateway.id }],
            tags: { Name: `${name}-public` },
        }, parent);
        new aws.ec2.RouteTableAssociation(`${name}-public`, { subnetId: subnet.id, routeTableId: routes.id }, parent);

        const securityGroup = new aws.ec2.SecurityGroup(`${name}-hosts`, {
            vpcId: vpc.id,
            description: "GitLab and Mattermost hosts",
            ingress: ingressRules(args.sshAllowedCidrs).map((rule) => ({
                description: rule.description,
                protocol: "tcp",
                fromPort: rule.port,
                toPort: rule.port,
                cidrBlocks: rule.cidrBlocks,
            })),
            egress: [{ description: "All outbound", protocol: "-1", fromPort: 0, toPort: 0, ...ANYWHERE }],
            tags: { Name: `${name}-hosts` },
        }, parent);

        this.vpcId = vpc.id;
        this.subnetId = subnet.id;
        this.availabilityZone = subnet.availabilityZone;
        this.securityGroupId = securityGroup.id;
        this.registerOutputs({ vpcId: this.vpcId, subnetId: this.subnetId, securityGroupId: this.securityGroupId });
    }
}
