// A records for the GitLab and Mattermost names in the existing public zone. A only, never AAAA:
// the hosts have no IPv6 address (the network is IPv4 only; see network.ts).

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface DnsArgs {
    /** Existing public Route53 zone. */
    zone: string;
    /** Hostname → the address its A record points at. */
    records: { name: string; address: pulumi.Input<string> }[];
}

export class Dns extends pulumi.ComponentResource {
    /** The record resources, in the order of `args.records`. */
    readonly records: aws.route53.Record[];
    /** The zone's id, for other records in it. */
    readonly zoneId: pulumi.Output<string>;

    constructor(name: string, args: DnsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:Dns", name, {}, opts);
        const zoneId = aws.route53.getZoneOutput({ name: args.zone, privateZone: false }, { parent: this }).zoneId;
        this.zoneId = zoneId;
        this.records = args.records.map(
            (record) =>
                new aws.route53.Record(`${name}-${record.name}`, {
                    zoneId,
                    name: record.name,
                    type: aws.route53.RecordType.A,
                    ttl: 300,
                    records: [record.address],
                }, { parent: this }),
        );
        this.registerOutputs({});
    }
}
