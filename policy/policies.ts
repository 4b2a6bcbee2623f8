// The policies of the gitlab-mattermost policy pack, all mandatory. index.ts puts them into the
// PolicyPack; tests import them from here, because constructing a PolicyPack starts its gRPC server.
//
// What CrossGuard hands a policy: a resource policy gets one resource's inputs before it is created
// or updated; a stack policy gets every resource's outputs after the preview or update. Secret
// values arrive unwrapped, with nothing telling that they were secret, and a value that is not
// known yet (a preview of something not created) throws UnknownValueError when it is read.

import * as aws from "@pulumi/aws";
import {
    UnknownValueError,
    validateResourceOfType,
    type PolicyResource,
    type ResourceValidationPolicy,
    type StackValidationPolicy,
} from "@pulumi/policy";
import {
    allowsImdsV1,
    bucketProtectionGaps,
    credentialAssignments,
    decodeUserDataBase64,
    deniesInsecureTransport,
    gravitonFamily,
    hostRoleGaps,
    ipv6Ranges,
    secretMaterialInUserData,
    secretsInCommandString,
    sshProblemsAcross,
    sshSourceProblems,
    type IngressPermission,
    type SecretValue,
    vpcIpv6Inputs,
} from "./rules";

/**
 * Type tokens of the resources the secret policies read, as the engine reports them. Most come from
 * providers this pack does not depend on, so they are spelled out (the tests check them against the
 * SDKs' classes).
 */
export const TYPE_TOKENS = {
    remoteCommand: "command:remote:Command",
    randomPassword: "random:index/randomPassword:RandomPassword",
    tlsPrivateKey: "tls:index/privateKey:PrivateKey",
    iamAccessKey: "aws:iam/accessKey:AccessKey",
} as const;

/** The command strings of a remote command: what runs on the host over SSH. */
const COMMAND_STRINGS = ["create", "update", "delete"] as const;

/**
 * The value at `path` in a resource's properties, or undefined where the path does not lead to a
 * value or the value is not known yet: a preview leaves generated values and ids unknown, and a
 * stack policy must still judge the rest of the stack. (@pulumi/policy exports UnknownValueError
 * from its index, but its type declarations leave the class out, so TypeScript types it `any`.)
 */
function knownValue(props: Record<string, unknown>, path: readonly string[]): unknown {
    try {
        let value: unknown = props;
        for (const key of path) {
            if (typeof value !== "object" || value === null) {
                return undefined;
            }
            value = (value as Record<string, unknown>)[key];
        }
        return value;
    } catch (error) {
        if (error instanceof UnknownValueError) {
            return undefined;
        }
        throw error;
    }
}

// --- Hosts -----------------------------------------------------------------------------------------

export const x86InstancesOnly: ResourceValidationPolicy = {
    name: "ec2-x86-64-only",
    description:
        "EC2 instances use x86_64 instance types: bundled Mattermost ships only for linux-amd64. This policy refuses " +
        "Graviton (arm64) families by name; the program also asks EC2 for each type's supported architectures " +
        "before it creates anything, and boots only x86_64 images.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.ec2.Instance, (instance, args, reportViolation) => {
        const family = instance.instanceType === undefined ? undefined : gravitonFamily(instance.instanceType);
        if (family !== undefined) {
            reportViolation(`instance ${args.name} has type ${instance.instanceType}, of the Graviton (arm64) family ${family}; choose an x86_64 type such as c6a.xlarge`);
        }
    }),
};

export const imdsV2Required: ResourceValidationPolicy = {
    name: "ec2-imdsv2-required",
    description:
        "EC2 instances require IMDSv2 session tokens (metadataOptions.httpTokens \"required\"), so a request forged " +
        "through a web application on the host cannot read the instance's metadata and credentials.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.ec2.Instance, (instance, args, reportViolation) => {
        if (allowsImdsV1(instance.metadataOptions)) {
            reportViolation(`instance ${args.name} allows IMDSv1: set metadataOptions.httpTokens to "required"`);
        }
    }),
};

export const encryptedVolumes: ResourceValidationPolicy = {
    name: "ebs-volumes-encrypted",
    description:
        "Every EBS volume is encrypted: an instance's root volume (rootBlockDevice.encrypted), its other block devices " +
        "(ebsBlockDevices[*].encrypted) and stand-alone aws.ebs.Volume resources. The volumes hold GitLab's " +
        "repositories, the databases and gitlab-secrets.json.",
    enforcementLevel: "mandatory",
    validateResource: [
        validateResourceOfType(aws.ec2.Instance, (instance, args, reportViolation) => {
            if (instance.rootBlockDevice?.encrypted !== true) {
                reportViolation(`root volume of instance ${args.name} is not encrypted: set rootBlockDevice.encrypted to true`);
            }
            for (const device of instance.ebsBlockDevices ?? []) {
                if (device.encrypted !== true) {
                    reportViolation(`EBS volume ${device.deviceName} of instance ${args.name} is not encrypted: set its encrypted to true`);
                }
            }
        }),
        validateResourceOfType(aws.ebs.Volume, (volume, args, reportViolation) => {
            if (volume.encrypted !== true) {
                reportViolation(`EBS volume ${args.name} is not encrypted: set encrypted to true`);
            }
        }),
    ],
};

// --- Network ---------------------------------------------------------------------------------------

const SSH_ADVICE = "allow SSH only from the administrators' networks (ssh.allowedCidrs), or open no SSH port and reach the hosts through Systems Manager (ssh.access ssm)";

/** Reports `what` when its permissions together let SSH in from too much of the internet. */
function reportWideSsh(reportViolation: (message: string) => void, what: string, permissions: readonly IngressPermission[]): void {
    for (const problem of sshSourceProblems(permissions)) {
        reportViolation(`${what} opens SSH too widely: ${problem}; ${SSH_ADVICE}`);
    }
}

/** The permissions of a security group's inline ingress (or egress); what is not known yet is left out. */
function inlineRules(props: Record<string, unknown>, direction: "ingress" | "egress" = "ingress"): IngressPermission[] {
    return Array.from({ length: knownLength(props, [direction]) }, (_, index) => permissionAt(props, [direction, String(index)], "protocol", ["cidrBlocks", "ipv6CidrBlocks"]));
}

/** The permission of a stand-alone rule resource (none for an egress rule), or undefined for other resources. */
function rulePermission(resource: { props: Record<string, unknown>; isType: PolicyResource["isType"] }): IngressPermission | undefined {
    if (resource.isType(aws.ec2.SecurityGroupRule)) {
        return knownValue(resource.props, ["type"]) === "ingress" ? permissionAt(resource.props, [], "protocol", ["cidrBlocks", "ipv6CidrBlocks"]) : { cidrs: [] };
    }
    if (resource.isType(aws.vpc.SecurityGroupIngressRule)) {
        return permissionAt(resource.props, [], "ipProtocol", ["cidrIpv4", "cidrIpv6"]);
    }
    return undefined;
}

function permissionAt(props: Record<string, unknown>, path: readonly string[], protocolKey: string, cidrKeys: readonly string[]): IngressPermission {
    const value = (key: string) => knownValue(props, [...path, key]);
    const port = (key: string) => (typeof value(key) === "number" ? (value(key) as number) : undefined);
    const cidrs = cidrKeys.flatMap((key) => {
        const found = value(key);
        return Array.isArray(found) ? Array.from({ length: found.length }, (_, index) => knownValue(props, [...path, key, String(index)])) : [found];
    });
    return {
        protocol: stringOrUndefined(value(protocolKey)),
        fromPort: port("fromPort"),
        toPort: port("toPort"),
        cidrs: cidrs.filter((cidr): cidr is string => typeof cidr === "string"),
    };
}

export const noSshFromAnywhere: ResourceValidationPolicy = {
    name: "no-ssh-from-anywhere",
    description:
        "No security group opens TCP port 22 to the whole internet, or to more of it than one organisation holds, " +
        "whether a rule names port 22, a port range that includes it, or every protocol. The ranges are judged " +
        "together, as the program's configuration check judges ssh.allowedCidrs: their union may not cover a whole " +
        "address family (0.0.0.0/0, or 0.0.0.0/1 with 128.0.0.0/1, and the same in IPv6), nor more public addresses " +
        "than a /8 of IPv4 or a /12 of IPv6 (private-use ranges do not count). Checked over all of a security group's " +
        "inline ingress, and in each aws.ec2.SecurityGroupRule and aws.vpc.SecurityGroupIngressRule, before it is created.",
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
        if (args.isType(aws.ec2.SecurityGroup)) {
            reportWideSsh(reportViolation, `security group ${args.name}`, inlineRules(args.props));
        }
        const rule = rulePermission(args);
        if (rule !== undefined) {
            const kind = args.isType(aws.ec2.SecurityGroupRule) ? "security group rule" : "security group ingress rule";
            reportWideSsh(reportViolation, `${kind} ${args.name}`, [rule]);
        }
    },
};

export const sshRangesAcrossRules: StackValidationPolicy = {
    name: "ssh-ranges-across-rules",
    description:
        "The SSH ranges of one security group are judged together, as no-ssh-from-anywhere judges them, also when they " +
        "are spread over the group's inline ingress and separate aws.ec2.SecurityGroupRule and " +
        "aws.vpc.SecurityGroupIngressRule resources (linked to the group by their securityGroupId), where no one of " +
        "them is too wide alone: 0.0.0.0/1 in one rule and 128.0.0.0/1 in another open SSH to the whole internet.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        const rules = args.resources.filter((resource) => rulePermission(resource) !== undefined);
        for (const group of args.resources.filter((resource) => resource.isType(aws.ec2.SecurityGroup))) {
            const groupId = knownValue(group.props, ["id"]);
            const own = rules.filter(
                (rule) =>
                    (rule.propertyDependencies.securityGroupId ?? []).some((dependency) => dependency.urn === group.urn) ||
                    (typeof groupId === "string" && knownValue(rule.props, ["securityGroupId"]) === groupId),
            );
            const problems = sshProblemsAcross([inlineRules(group.props), ...own.map((rule) => [rulePermission(rule) as IngressPermission])]);
            for (const problem of problems) {
                reportViolation(
                    `security group ${group.name} with its rules ${own.map((rule) => rule.name).join(", ")} opens SSH too widely: ${problem}; ${SSH_ADVICE}`,
                    group.urn,
                );
            }
        }
    },
};

/**
 * Why IPv6 anywhere in the stack is refused. The program keeps its network IPv4 only and refuses IPv6
 * blocks in ssh.allowedCidrs; IPv6 in one place without the others looks like support but is not.
 */
const HALF_IPV6 =
    "the stack's network is IPv4 only (its VPC, subnet, hosts and DNS names have no IPv6), and IPv6 in one place " +
    "without all the others only looks like support: an IPv6 rule admits no one, an IPv6 VPC block reaches no host, " +
    "an AAAA record sends IPv6 clients to no host of the stack, and whoever relies on them is locked out";

/** The stand-alone security group rule resources, ingress or egress, and where each keeps its ranges. */
const RULE_RESOURCES: readonly { ruleClass: ResourceClass; kind: string; protocolKey: string; cidrKeys: readonly string[] }[] = [
    { ruleClass: aws.ec2.SecurityGroupRule, kind: "security group rule", protocolKey: "protocol", cidrKeys: ["cidrBlocks", "ipv6CidrBlocks"] },
    { ruleClass: aws.vpc.SecurityGroupIngressRule, kind: "security group ingress rule", protocolKey: "ipProtocol", cidrKeys: ["cidrIpv4", "cidrIpv6"] },
    { ruleClass: aws.vpc.SecurityGroupEgressRule, kind: "security group egress rule", protocolKey: "ipProtocol", cidrKeys: ["cidrIpv4", "cidrIpv6"] },
];

export const ipv4OnlyNetwork: ResourceValidationPolicy = {
    name: "ipv4-only-network",
    description:
        "The network stays IPv4 only, as the program builds it: no IPv6 range in a security group (inline ingress or " +
        "egress of an aws.ec2.SecurityGroup, an aws.ec2.SecurityGroupRule, an aws.vpc.SecurityGroupIngressRule or " +
        "aws.vpc.SecurityGroupEgressRule), no IPv6 CIDR block on a VPC (assignGeneratedIpv6CidrBlock, ipv6CidrBlock, " +
        "ipv6IpamPoolId, or an aws.ec2.VpcIpv6CidrBlockAssociation), and no AAAA record. Half of IPv6 locks out an " +
        "IPv6-only administrator or user while it seems to let them in.",
    enforcementLevel: "mandatory",
    validateResource: (args, reportViolation) => {
        const report = (what: string, fix: string) => reportViolation(`${what}: ${HALF_IPV6}; ${fix}`);
        const rangesFix = "allow IPv4 ranges only";
        if (args.isType(aws.ec2.SecurityGroup)) {
            const found = (["ingress", "egress"] as const)
                .map((direction) => [direction, [...new Set(ipv6Ranges(inlineRules(args.props, direction).flatMap((rule) => rule.cidrs)))]] as const)
                .filter(([, ranges]) => ranges.length > 0);
            if (found.length > 0) {
                report(`security group ${args.name} has IPv6 ranges (${found.map(([direction, ranges]) => `${direction} ${ranges.join(", ")}`).join("; ")})`, rangesFix);
            }
        }
        for (const { kind, protocolKey, cidrKeys } of RULE_RESOURCES.filter((candidate) => args.isType(candidate.ruleClass))) {
            const ranges = ipv6Ranges(permissionAt(args.props, [], protocolKey, cidrKeys).cidrs);
            if (ranges.length > 0) {
                report(`${kind} ${args.name} has IPv6 ranges (${ranges.join(", ")})`, rangesFix);
            }
        }
        if (args.isType(aws.ec2.Vpc)) {
            const given = vpcIpv6Inputs({
                assignGeneratedIpv6CidrBlock: knownValue(args.props, ["assignGeneratedIpv6CidrBlock"]),
                ipv6CidrBlock: knownValue(args.props, ["ipv6CidrBlock"]),
                ipv6IpamPoolId: knownValue(args.props, ["ipv6IpamPoolId"]),
            });
            if (given.length > 0) {
                report(`VPC ${args.name} has an IPv6 CIDR block (${given.join(", ")})`, "leave the VPC IPv4 only");
            }
        }
        if (args.isType(aws.ec2.VpcIpv6CidrBlockAssociation)) {
            report(`VPC IPv6 CIDR block association ${args.name} gives a VPC an IPv6 CIDR block`, "leave the VPC IPv4 only");
        }
        if (args.isType(aws.route53.Record) && knownValue(args.props, ["type"]) === aws.route53.RecordType.AAAA) {
            report(`DNS record ${args.name} is an AAAA record`, "point the name at the host's IPv4 address with an A record");
        }
    },
};

// --- Backup bucket ---------------------------------------------------------------------------------

type ResourceClass = Parameters<PolicyResource["isType"]>[0];

// aws 7 still offers the deprecated V2 names under their own type tokens; a bucket created as a
// BucketV2 must not escape the policy, and its companions may use either name.
const BUCKETS: readonly ResourceClass[] = [aws.s3.Bucket, aws.s3.BucketV2];
const VERSIONINGS: readonly ResourceClass[] = [aws.s3.BucketVersioning, aws.s3.BucketVersioningV2];
const ENCRYPTIONS: readonly ResourceClass[] = [aws.s3.BucketServerSideEncryptionConfiguration, aws.s3.BucketServerSideEncryptionConfigurationV2];
const PUBLIC_ACCESS_BLOCKS: readonly ResourceClass[] = [aws.s3.BucketPublicAccessBlock];
const BUCKET_POLICIES: readonly ResourceClass[] = [aws.s3.BucketPolicy];

const isOneOf = (resource: PolicyResource, classes: readonly ResourceClass[]) => classes.some((cls) => resource.isType(cls));

/**
 * Whether a companion resource (versioning, encryption, public access block) configures `bucket`:
 * its `bucket` input was computed from the bucket (known even in a preview, where the bucket's name
 * may not be), or its `bucket` value is the bucket's name.
 */
function configures(companion: PolicyResource, bucket: PolicyResource): boolean {
    if ((companion.propertyDependencies.bucket ?? []).some((dependency) => dependency.urn === bucket.urn)) {
        return true;
    }
    const target = knownValue(companion.props, ["bucket"]);
    return typeof target === "string" && (target === knownValue(bucket.props, ["bucket"]) || target === knownValue(bucket.props, ["id"]));
}

export const backupBucketProtected: StackValidationPolicy = {
    name: "backup-bucket-protected",
    description:
        "Every S3 bucket of the stack (the program's is the backup bucket) is versioned, encrypted by default, " +
        "private and reachable only over TLS: an aws.s3.BucketVersioning with status \"Enabled\", an " +
        "aws.s3.BucketServerSideEncryptionConfiguration with a default algorithm, an aws.s3.BucketPublicAccessBlock " +
        "with all four flags true, and an aws.s3.BucketPolicy that denies s3:* to every principal on the bucket and its " +
        "objects when aws:SecureTransport is false, each configuring that bucket. The deprecated inline settings on the " +
        "bucket itself do not count; a bucket policy not known yet during a preview is not judged.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        const companions = args.resources.filter((resource) => isOneOf(resource, [...VERSIONINGS, ...ENCRYPTIONS, ...PUBLIC_ACCESS_BLOCKS, ...BUCKET_POLICIES]));
        for (const bucket of args.resources.filter((resource) => isOneOf(resource, BUCKETS))) {
            const own = companions.filter((companion) => configures(companion, bucket));
            const ofKind = (classes: readonly ResourceClass[]) => own.filter((companion) => isOneOf(companion, classes));
            const gaps = bucketProtectionGaps({
                versioningStatuses: ofKind(VERSIONINGS).map((versioning) => stringOrUndefined(knownValue(versioning.props, ["versioningConfiguration", "status"]))),
                encryptionAlgorithms: ofKind(ENCRYPTIONS).map((encryption) =>
                    Array.from({ length: knownLength(encryption.props, ["rules"]) }, (_, index) =>
                        stringOrUndefined(knownValue(encryption.props, ["rules", String(index), "applyServerSideEncryptionByDefault", "sseAlgorithm"])),
                    ),
                ),
                publicAccessBlocks: ofKind(PUBLIC_ACCESS_BLOCKS).map((block) => ({
                    blockPublicAcls: knownValue(block.props, ["blockPublicAcls"]) === true,
                    blockPublicPolicy: knownValue(block.props, ["blockPublicPolicy"]) === true,
                    ignorePublicAcls: knownValue(block.props, ["ignorePublicAcls"]) === true,
                    restrictPublicBuckets: knownValue(block.props, ["restrictPublicBuckets"]) === true,
                })),
                tlsOnlyPolicies: ofKind(BUCKET_POLICIES).map((bucketPolicy) => {
                    const document = knownValue(bucketPolicy.props, ["policy"]);
                    return document === undefined ? undefined : deniesInsecureTransport(document, stringOrUndefined(knownValue(bucket.props, ["arn"])));
                }),
            });
            for (const gap of gaps) {
                reportViolation(`bucket ${bucket.name} ${gap}`, bucket.urn);
            }
        }
    },
};

function stringOrUndefined(value: unknown): string | undefined {
    return typeof value === "string" ? value : undefined;
}

/** The length of the array at `path`, 0 when there is none; its items are read one by one, as each may be unknown. */
function knownLength(props: Record<string, unknown>, path: readonly string[]): number {
    const value = knownValue(props, path);
    return Array.isArray(value) ? value.length : 0;
}

export const hostRolesOwnBackupsOnly: ResourceValidationPolicy = {
    name: "host-roles-own-backups-only",
    description:
        "The S3 rights of IAM role policies (aws.iam.RolePolicy, and an aws.iam.Role's inline policies; this program's " +
        "roles are its hosts' instance profiles) stop at the host's own backups: no s3:DeleteObject (except in a " +
        "point-in-time repository folder the role writes, which pgBackRest expires; the bucket's versioning keeps what it deletes), " +
        "s3:DeleteObjectVersion, s3:DeleteBucket or s3:PutLifecycleConfiguration, by name or wildcard; reads " +
        "(s3:GetObject, s3:GetObjectVersion) and tagging (s3:PutObjectTagging, s3:PutObjectVersionTagging: a tag can " +
        "make the lifecycle expire an object) only of keys the role also writes (s3:PutObject), never every object of " +
        "a bucket; s3:ListBucket only with an s3:prefix condition under those keys; no NotAction or NotResource. A " +
        "compromised host then cannot erase the backups nor read another host's (GitLab's hold its secrets).",
    enforcementLevel: "mandatory",
    validateResource: [
        validateResourceOfType(aws.iam.RolePolicy, (rolePolicy, args, reportViolation) => {
            for (const gap of hostRoleGaps(rolePolicy.policy)) {
                reportViolation(`role policy ${args.name} ${gap}`);
            }
        }),
        validateResourceOfType(aws.iam.Role, (role, args, reportViolation) => {
            for (const inline of role.inlinePolicies ?? []) {
                for (const gap of hostRoleGaps(inline.policy)) {
                    reportViolation(`inline policy ${inline.name ?? ""} of role ${args.name} ${gap}`);
                }
            }
        }),
    ],
};

/**
 * The AWS managed policies the program attaches, none with S3 rights: the hosts' Systems Manager agent,
 * and Data Lifecycle Manager's service role, which snapshots the data volumes.
 */
const KNOWN_MANAGED_POLICIES = ["AmazonSSMManagedInstanceCore", "service-role/AWSDataLifecycleManagerServiceRole"];
const isKnownManagedPolicy = (arn: string) => KNOWN_MANAGED_POLICIES.some((name) => new RegExp(`^arn:[a-z-]+:iam::aws:policy/${name}$`).test(arn));
const MANAGED_ADVICE = `only ${KNOWN_MANAGED_POLICIES.join(" and ")} are allowed, since host-roles-own-backups-only cannot read a managed policy's rights`;

export const knownManagedPoliciesOnly: ResourceValidationPolicy = {
    name: "known-managed-policies-only",
    description:
        "Managed policies attached to IAM roles (aws.iam.RolePolicyAttachment, an aws.iam.Role's managedPolicyArns) are only " +
        `the ones the program uses, which grant no S3 right: ${KNOWN_MANAGED_POLICIES.join(" (the hosts' Systems Manager agent, ssh.access ssm) and ")} ` +
        "(the data volumes' snapshots). Any other would carry rights host-roles-own-backups-only never reads.",
    enforcementLevel: "mandatory",
    validateResource: [
        validateResourceOfType(aws.iam.RolePolicyAttachment, (_attachment, args, reportViolation) => {
            const arn = knownValue(args.props, ["policyArn"]);
            if (typeof arn === "string" && !isKnownManagedPolicy(arn)) {
                reportViolation(`role policy attachment ${args.name} attaches ${arn}; ${MANAGED_ADVICE}`);
            }
        }),
        validateResourceOfType(aws.iam.Role, (role, args, reportViolation) => {
            for (const arn of role.managedPolicyArns ?? []) {
                if (!isKnownManagedPolicy(arn)) {
                    reportViolation(`role ${args.name} carries the managed policy ${arn}; ${MANAGED_ADVICE}`);
                }
            }
        }),
    ],
};

// --- Secrets ---------------------------------------------------------------------------------------

export const noSecretsInUserData: ResourceValidationPolicy = {
    name: "no-secrets-in-user-data",
    description:
        "EC2 user data (userData, or userDataBase64 decoded and gunzipped) holds no PEM private key, no AWS access key " +
        "id and none of the words password, passwd, passphrase, secret, token, private_key or api_key (in any case, the " +
        "last two also with a hyphen or nothing between the words). User data is " +
        "readable by every process on the host and stored in clear text in the state; this program configures hosts " +
        "over SSH and sends secrets on stdin, so its user data is empty.",
    enforcementLevel: "mandatory",
    validateResource: validateResourceOfType(aws.ec2.Instance, (instance, args, reportViolation) => {
        const userData: [field: string, text: string | undefined][] = [
            ["userData", instance.userData],
            ["userDataBase64", instance.userDataBase64 === undefined ? undefined : decodeUserDataBase64(instance.userDataBase64)],
        ];
        for (const [field, text] of userData) {
            const found = text === undefined ? undefined : secretMaterialInUserData(text);
            if (found !== undefined) {
                reportViolation(`${field} of instance ${args.name} contains ${found}; send secrets to the host over SSH, on a remote command's stdin`);
            }
        }
    }),
};

/** Output properties the providers always keep secret, by resource type, as property paths. */
const SECRET_OUTPUTS: Readonly<Record<string, readonly (readonly string[])[]>> = {
    [TYPE_TOKENS.randomPassword]: [["result"], ["bcryptHash"]],
    [TYPE_TOKENS.tlsPrivateKey]: [["privateKeyPem"], ["privateKeyOpenssh"], ["privateKeyPemPkcs8"]],
    [TYPE_TOKENS.remoteCommand]: [["connection", "password"], ["connection", "privateKey"], ["connection", "privateKeyPassword"]],
    [TYPE_TOKENS.iamAccessKey]: [["secret"], ["sesSmtpPasswordV4"]],
};

/**
 * The values this stack holds as secret, as far as a policy can tell: CrossGuard unwraps secrets
 * and does not say which values were secret, so they are found by where they live. The secret
 * outputs of the resources that generate secrets (random passwords, TLS private keys, IAM access
 * keys), the SSH credentials of remote commands, and the credential values written in remote
 * commands' stdin, which is how this program sends gitlab.rb, the OAuth application and the
 * plugin's settings, including secrets from the stack's configuration. Values not known yet are
 * left out.
 */
export function stackSecretValues(resources: readonly PolicyResource[]): SecretValue[] {
    const secrets: SecretValue[] = [];
    for (const resource of resources) {
        for (const path of SECRET_OUTPUTS[resource.type] ?? []) {
            const value = knownValue(resource.props, path);
            if (typeof value === "string") {
                secrets.push({ value, source: `the ${path.join(".")} of ${resource.name} (${resource.type})` });
            }
        }
        if (resource.type === TYPE_TOKENS.remoteCommand) {
            const stdin = knownValue(resource.props, ["stdin"]);
            for (const { key, value } of typeof stdin === "string" ? credentialAssignments(stdin) : []) {
                secrets.push({ value, source: `the "${key}" value in the stdin of ${resource.name}` });
            }
        }
    }
    return secrets;
}

export const noSecretsInRemoteCommands: StackValidationPolicy = {
    name: "no-secrets-in-remote-commands",
    description:
        "The create, update and delete strings of remote commands (command:remote:Command) hold no PEM private key and " +
        "none of the stack's secret values: the secret outputs of random passwords, TLS private keys and IAM access keys, " +
        "the commands' SSH credentials, and the credential values in the commands' stdin. A command string shows up in " +
        "error messages, in the host's process list and in the state; secrets go on stdin.",
    enforcementLevel: "mandatory",
    validateStack: (args, reportViolation) => {
        const secrets = stackSecretValues(args.resources);
        for (const command of args.resources.filter((resource) => resource.type === TYPE_TOKENS.remoteCommand)) {
            for (const field of COMMAND_STRINGS) {
                const text = knownValue(command.props, [field]);
                const found = typeof text === "string" ? secretsInCommandString(text, secrets) : [];
                if (found.length > 0) {
                    reportViolation(`${field} of remote command ${command.name} contains ${found.join(" and ")}; pass secrets on the command's stdin`, command.urn);
                }
            }
        }
    },
};

/** Every policy of the pack, in the order the pack lists them. */
export const policies = [
    x86InstancesOnly,
    imdsV2Required,
    encryptedVolumes,
    noSshFromAnywhere,
    sshRangesAcrossRules,
    ipv4OnlyNetwork,
    backupBucketProtected,
    hostRolesOwnBackupsOnly,
    knownManagedPoliciesOnly,
    noSecretsInUserData,
    noSecretsInRemoteCommands,
];
