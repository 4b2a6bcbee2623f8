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
    /** The zone's id, for other records in it. */
    readonly zoneId: pulumi.Output<string>;
    private readonly byName = new Map<string, aws.route53.Record>();

    constructor(private readonly name: string, args: DnsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:Dns", name, {}, opts);
        this.zoneId = aws.route53.getZoneOutput({ name: args.zone, privateZone: false }, { parent: this }).zoneId;
        for (const record of args.records) {
            this.pointAt(record.name, record.address);
        }
        this.registerOutputs({});
    }

    /** Points `hostname` at `address`, once `after` has run (a record declared later: a name that moves to another host). */
    pointAt(hostname: string, address: pulumi.Input<string>, after: pulumi.Input<pulumi.Resource>[] = []): aws.route53.Record {
        const record = new aws.route53.Record(`${this.name}-${hostname}`, {
            zoneId: this.zoneId,
            name: hostname,
            type: aws.route53.RecordType.A,
            ttl: 300,
            records: [address],
        }, { parent: this, dependsOn: after });
        this.byName.set(hostname, record);
        return record;
    }

    /** The records of these names declared so far. */
    recordsFor(hostnames: readonly string[]): aws.route53.Record[] {
        return hostnames.flatMap((hostname) => this.byName.get(hostname) ?? []);
    }
}
