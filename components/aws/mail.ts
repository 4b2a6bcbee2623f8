// Amazon SES for the stack's mail: a domain identity for dnsZone with its verification and DKIM
// records, and an IAM user that may only send, whose access key yields the SMTP credentials.

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULTS, type MailServer } from "../settings/settings";

export interface SesMailArgs {
    /** The domain to verify: dnsZone. */
    domain: string;
    /** Route 53 zone that holds `domain`. */
    zoneId: pulumi.Input<string>;
}

/** SES publishes three DKIM tokens per domain identity. */
const DKIM_TOKEN_COUNT = 3;

export class SesMail extends pulumi.ComponentResource {
    /** The SMTP server and credentials; the password is secret. */
    readonly server: pulumi.Output<MailServer>;

    constructor(name: string, args: SesMailArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:SesMail", name, {}, opts);
        const parent = { parent: this };

        const identity = new aws.ses.DomainIdentity(name, { domain: args.domain }, parent);
        new aws.route53.Record(`${name}-verification`, {
            zoneId: args.zoneId,
            name: `_amazonses.${args.domain}`,
            type: aws.route53.RecordType.TXT,
            ttl: 600,
            records: [identity.verificationToken],
        }, parent);
        const dkim = new aws.ses.DomainDkim(name, { domain: identity.domain }, parent);
        for (let i = 0; i < DKIM_TOKEN_COUNT; i++) {
            const token = dkim.dkimTokens.apply((tokens) => tokens[i]);
            new aws.route53.Record(`${name}-dkim-${i + 1}`, {
                zoneId: args.zoneId,
                name: pulumi.interpolate`${token}._domainkey.${args.domain}`,
                type: aws.route53.RecordType.CNAME,
                ttl: 600,
                records: [pulumi.interpolate`${token}.dkim.amazonses.com`],
            }, parent);
        }

        const sender = new aws.iam.User(`${name}-smtp`, { path: "/gitlab-mattermost/" }, parent);
        new aws.iam.UserPolicy(`${name}-smtp`, {
            user: sender.name,
            policy: aws.iam.getPolicyDocumentOutput({
                statements: [{ effect: "Allow", actions: ["ses:SendRawEmail"], resources: [identity.arn] }],
            }, parent).json,
        }, parent);
        const key = new aws.iam.AccessKey(`${name}-smtp`, { user: sender.name }, { ...parent, additionalSecretOutputs: ["secret", "sesSmtpPasswordV4"] });

        // The SMTP password is derived for the provider's region, so the endpoint is that region's.
        const region = aws.getRegionOutput({}, parent).region;
        this.server = pulumi.secret(
            pulumi.all([region, key.id, key.sesSmtpPasswordV4]).apply(([regionName, username, password]) => ({
                address: `email-smtp.${regionName}.amazonaws.com`,
                port: DEFAULTS.mail.sesPort,
                security: "STARTTLS" as const,
                username,
                password,
            })),
        );
        this.registerOutputs({});
    }
}
