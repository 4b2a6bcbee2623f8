// Tests for the policy pack (policy/): every policy over the resource graph of each shipped stack,
// as the mock runtime builds it, must report nothing; each deliberately bad resource must draw
// exactly one violation, with its message. Policies run through test/policy/policyHarness.ts, which
// calls them as the pack's server would.

import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import { unknownValue } from "@pulumi/pulumi/runtime/rpc";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { ARM_FAMILY } from "../../components/stack/config";
import { hostBackupPolicy, tlsOnlyBucketPolicy } from "../../components/backups/backupPlan";
import { backupBucketProtected, noSecretsInRemoteCommands, policies, stackSecretValues, TYPE_TOKENS } from "../../policy/policies";
import {
    allowsImdsV1,
    credentialAssignments,
    decodeUserDataBase64,
    deniesInsecureTransport,
    GRAVITON_FAMILY,
    gravitonFamily,
    hostRoleGaps,
    ipv6Ranges,
    secretMaterialInUserData,
    sshSourceProblems,
    vpcIpv6Inputs,
} from "../../policy/rules";
import { runOffline } from "../../scripts/offlineRuntime";
import { readStackConfig } from "../../scripts/render";
import { fromRegistered, runPolicies, type FakeResource, type Violation } from "./policyHarness";
import { pitrBucketStatements } from "../../components/backups/pitr";

const typeOf = (resourceClass: unknown) => (resourceClass as { __pulumiType: string }).__pulumiType;

const STACKS_DIR = join(__dirname, "..", "..", "stacks");
const STACKS = readdirSync(STACKS_DIR)
    .map((file) => /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1])
    .filter((stack): stack is string => stack !== undefined)
    .sort();

const INSTANCE = typeOf(aws.ec2.Instance);
const SECURITY_GROUP = typeOf(aws.ec2.SecurityGroup);
const BUCKET = typeOf(aws.s3.Bucket);
const ROLE_POLICY = typeOf(aws.iam.RolePolicy);
const VPC = typeOf(aws.ec2.Vpc);
const RECORD = typeOf(aws.route53.Record);
const BUCKET_ARN = "arn:aws:s3:::gitlab-mattermost-backups-4f2a";
/** The Mattermost host's own keys, as the program gives them. */
const OWN_KEYS = { objects: ["dev/mattermost/*"], listPrefixes: ["dev/mattermost/*"] };

/** What the IPv4-only rule says of any IPv6 it finds, before the fix for each kind. */
const HALF_IPV6 =
    "the stack's network is IPv4 only (its VPC, subnet, hosts and DNS names have no IPv6), and IPv6 in one place without all the others only looks like support: " +
    "an IPv6 rule admits no one, an IPv6 VPC block reaches no host, an AAAA record sends IPv6 clients to no host of the stack, and whoever relies on them is locked out";
const ipv6Violation = (what: string, fix = "allow IPv4 ranges only"): Violation => ({ policy: "ipv4-only-network", message: `${what}: ${HALF_IPV6}; ${fix}` });

/** A password as random.RandomPassword generates them for this program: 32 letters and digits. */
const ROOT_PASSWORD = "q7Rj2LmX9vTz4KcW8nYb3HdF6sGa1UeP";
/** The SSH key a remote command logs in with. */
const SSH_PRIVATE_KEY = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
/** A private key given in the configuration, e.g. tls.certificates.gitlab.key. */
const TLS_PRIVATE_KEY = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "sec1", format: "pem" }).toString();

/**
 * A small stack that complies with every policy: a host, its IPv4-only VPC, security group and A
 * record, the backup bucket with its companions, a generated password, and the remote command that
 * sends it on stdin.
 */
function compliantStack(): FakeResource[] {
    return [
        {
            type: INSTANCE,
            name: "gitlab",
            inputs: {
                ami: "ami-0123456789abcdef0",
                instanceType: "c6a.xlarge",
                metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
                rootBlockDevice: { volumeType: "gp3", volumeSize: 100, encrypted: true },
            },
        },
        { type: VPC, name: "network-vpc", inputs: { cidrBlock: "10.42.0.0/16", enableDnsHostnames: true, enableDnsSupport: true, assignGeneratedIpv6CidrBlock: false } },
        {
            type: SECURITY_GROUP,
            name: "hosts",
            inputs: {
                ingress: [
                    { protocol: "tcp", fromPort: 80, toPort: 80, cidrBlocks: ["0.0.0.0/0"] },
                    { protocol: "tcp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"] },
                    { protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["203.0.113.0/24"] },
                ],
                egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }],
            },
        },
        { type: RECORD, name: "dns-gitlab.example.com", inputs: { zoneId: "Z0123456789ABC", name: "gitlab.example.com", type: "A", ttl: 300, records: ["192.0.2.10"] } },
        { type: BUCKET, name: "backups", inputs: {}, outputs: { bucket: "gitlab-mattermost-backups-4f2a", id: "gitlab-mattermost-backups-4f2a", arn: BUCKET_ARN } },
        ...bucketCompanions("backups", "gitlab-mattermost-backups-4f2a"),
        { type: ROLE_POLICY, name: "mattermost-backup-access", inputs: { role: "mattermost-backup-access-role", policy: JSON.stringify(hostBackupPolicy(BUCKET_ARN, OWN_KEYS)) } },
        { type: typeOf(aws.iam.Role), name: "mattermost-backup-access", inputs: { assumeRolePolicy: "{}" } },
        { type: typeOf(aws.iam.RolePolicyAttachment), name: "mattermost-ssm-agent", inputs: { role: "mattermost-backup-access-role", policyArn: "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore" } },
        { type: TYPE_TOKENS.randomPassword, name: "root-password", inputs: { length: 32, special: false }, outputs: { length: 32, special: false, result: ROOT_PASSWORD } },
        {
            type: TYPE_TOKENS.remoteCommand,
            name: "gitlab-gitlab-rb",
            inputs: {
                connection: { host: "192.0.2.10", user: "ubuntu", privateKey: SSH_PRIVATE_KEY },
                create: "sudo bash -c 'cat > /etc/gitlab/gitlab.rb' apply-gitlab-rb.sh",
                stdin: `external_url "https://gitlab.example.com"\ngitlab_rails['initial_root_password'] = "${ROOT_PASSWORD}"\n`,
            },
            propertyDependencies: { stdin: ["root-password"] },
        },
    ];
}

/** Versioning, default encryption, a public access block and a TLS-only policy for a bucket named `bucketName`. */
function bucketCompanions(bucket: string, bucketName: string): FakeResource[] {
    const of = { bucket: [bucket] };
    return [
        {
            type: typeOf(aws.s3.BucketVersioning),
            name: `${bucket}-versioning`,
            inputs: { bucket: bucketName, versioningConfiguration: { status: "Enabled" } },
            propertyDependencies: of,
        },
        {
            type: typeOf(aws.s3.BucketServerSideEncryptionConfiguration),
            name: `${bucket}-encryption`,
            inputs: { bucket: bucketName, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms" }, bucketKeyEnabled: true }] },
            propertyDependencies: of,
        },
        {
            type: typeOf(aws.s3.BucketPublicAccessBlock),
            name: `${bucket}-public-access`,
            inputs: { bucket: bucketName, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
            propertyDependencies: of,
        },
        {
            type: typeOf(aws.s3.BucketPolicy),
            name: `${bucket}-policy`,
            inputs: { bucket: bucketName, policy: JSON.stringify(tlsOnlyBucketPolicy(`arn:aws:s3:::${bucketName}`)) },
            propertyDependencies: of,
        },
    ];
}

/** The compliant host role policy with its document changed by `change`. */
function rolePolicyWith(change: (document: { Statement: Record<string, unknown>[] }) => void) {
    return (resource: FakeResource): FakeResource => {
        const document = JSON.parse(String(resource.inputs.policy)) as { Statement: Record<string, unknown>[] };
        change(document);
        return withInputs({ policy: JSON.stringify(document) })(resource);
    };
}
const statement = (document: { Statement: Record<string, unknown>[] }, sid: string) => {
    const found = document.Statement.find((candidate) => candidate.Sid === sid);
    assert.ok(found, sid);
    return found;
};

/** The compliant stack with one resource, found by name (and type, where names repeat), changed, or removed when `change` returns undefined. */
function changed(name: string, change: (resource: FakeResource) => FakeResource | undefined, type?: string): FakeResource[] {
    const stack = compliantStack();
    const index = stack.findIndex((resource) => resource.name === name && (type === undefined || resource.type === type));
    assert.ok(index >= 0, `the compliant stack has no ${name}`);
    const replacement = change(stack[index]);
    return replacement === undefined ? stack.toSpliced(index, 1) : stack.toSpliced(index, 1, replacement);
}

const withInputs = (extra: Record<string, unknown>) => (resource: FakeResource): FakeResource => ({ ...resource, inputs: { ...resource.inputs, ...extra } });

/** Replaces the security group's SSH rule with one open to the given ranges. */
function sshRuleOpenTo(ranges: { cidrBlocks: string[]; ipv6CidrBlocks: string[] }) {
    return (group: FakeResource): FakeResource => {
        const ingress = group.inputs.ingress as Record<string, unknown>[];
        return withInputs({ ingress: ingress.map((rule) => (rule.fromPort === 22 ? { ...rule, ...ranges } : rule)) })(group);
    };
}

async function violationsOf(resources: readonly FakeResource[]): Promise<Violation[]> {
    const run = await runPolicies(policies, resources);
    assert.deepEqual(run.notRunnable, [], "every value is known here, so every policy must run");
    return run.violations;
}

/** The resource graph of a shipped stack, as the mock runtime builds it. */
async function shippedGraph(stack: string): Promise<FakeResource[]> {
    const { config, secretKeys } = readStackConfig(STACKS_DIR, stack, undefined);
    return (await runOffline(config, { stack, secretKeys })).resources.map(fromRegistered);
}

/** The stack policy arguments the harness builds, captured through a policy that only records them. */
async function stackArgs(resources: readonly FakeResource[]) {
    let captured: Parameters<typeof noSecretsInRemoteCommands.validateStack>[0] | undefined;
    await runPolicies([{ name: "capture", description: "records its arguments", validateStack: (args) => void (captured = args) }], resources);
    assert.ok(captured);
    return captured;
}

// ---------------------------------------------------------------------------------------------------
describe("the policy pack", () => {
    test("has its eleven mandatory policies, each named once", () => {
        assert.deepEqual(
            policies.map((policy) => policy.name),
            [
                "ec2-x86-64-only",
                "ec2-imdsv2-required",
                "ebs-volumes-encrypted",
                "no-ssh-from-anywhere",
                "ssh-ranges-across-rules",
                "ipv4-only-network",
                "backup-bucket-protected",
                "host-roles-own-backups-only",
                "known-managed-policies-only",
                "no-secrets-in-user-data",
                "no-secrets-in-remote-commands",
            ],
        );
        assert.ok(policies.every((policy) => policy.enforcementLevel === "mandatory"));
        assert.ok(policies.every((policy) => policy.description.length > 40), "each policy says what it enforces");
    });

    test("spells the type tokens of other providers as their SDKs do", () => {
        assert.deepEqual(TYPE_TOKENS, {
            remoteCommand: typeOf(command.remote.Command),
            randomPassword: typeOf(random.RandomPassword),
            tlsPrivateKey: typeOf(tls.PrivateKey),
            iamAccessKey: typeOf(aws.iam.AccessKey),
        });
    });

    test("refuses the Graviton families the program refuses", () => {
        assert.equal(GRAVITON_FAMILY.source, ARM_FAMILY.source);
    });
});

// ---------------------------------------------------------------------------------------------------
describe("the shipped stacks", () => {
    test("are found in stacks/", () => {
        assert.ok(STACKS.includes("single") && STACKS.includes("split"), `stacks: ${STACKS.join(", ")}`);
    });

    for (const stack of STACKS) {
        test(`${stack}: no policy reports anything on the stack's resource graph`, async () => {
            const graph = await shippedGraph(stack);
            // The graph holds what the policies judge, so passing is not for want of resources.
            for (const type of [INSTANCE, VPC, SECURITY_GROUP, RECORD, BUCKET, ROLE_POLICY, typeOf(aws.s3.BucketPolicy), TYPE_TOKENS.remoteCommand, TYPE_TOKENS.randomPassword, TYPE_TOKENS.tlsPrivateKey]) {
                assert.ok(graph.some((resource) => resource.type === type), `the ${stack} graph has a ${type}`);
            }
            assert.deepEqual(await violationsOf(graph), []);
        });
    }

    test("single: the graph's secrets are found, and one of them in a command string is one violation", async () => {
        const graph = await shippedGraph("single");
        const { resources } = await stackArgs(graph);
        const sources = stackSecretValues(resources).map((secret) => secret.source);
        for (const expected of [
            "the result of root-password (random:index/randomPassword:RandomPassword)",
            "the privateKeyOpenssh of ssh-key (tls:index/privateKey:PrivateKey)",
            "the connection.privateKey of gitlab-install (command:remote:Command)",
            `the "initial_root_password" value in the stdin of gitlab-gitlab-rb`,
            `the "secret" value in the stdin of oauth-register`,
            `the "gitlab_secret" value in the stdin of gitlab-gitlab-rb`,
        ]) {
            assert.ok(sources.includes(expected), `found ${expected} among:\n${sources.join("\n")}`);
        }

        const password = graph.find((resource) => resource.name === "root-password");
        const install = graph.find((resource) => resource.name === "gitlab-install");
        assert.ok(password?.outputs && install?.outputs);
        const leaked = { ...install, outputs: { ...install.outputs, create: `${String(install.outputs.create)} ${String(password.outputs.result)}` } };
        assert.deepEqual(await violationsOf(graph.map((resource) => (resource === install ? leaked : resource))), [
            {
                policy: "no-secrets-in-remote-commands",
                message:
                    "create of remote command gitlab-install contains the result of root-password (random:index/randomPassword:RandomPassword) " +
                    `and the "initial_root_password" value in the stdin of gitlab-gitlab-rb; pass secrets on the command's stdin`,
            },
        ]);
    });

    test("split: the Mattermost host's role reading GitLab's backups is one violation", async () => {
        const graph = await shippedGraph("split");
        const role = graph.find((resource) => resource.type === ROLE_POLICY && resource.name === "mattermost-backup-access");
        assert.ok(role);
        const document = JSON.parse(String(role.inputs.policy)) as { Statement: { Sid: string; Resource: string[] }[] };
        const read = document.Statement.find((candidate) => candidate.Sid === "ReadOwnBackups");
        assert.ok(read);
        const gitlabEtc = read.Resource[0].replace("/mattermost/", "/gitlab-etc/");
        read.Resource.push(gitlabEtc);
        const widened = { ...role, inputs: { ...role.inputs, policy: JSON.stringify(document) } };
        assert.deepEqual(await violationsOf(graph.map((resource) => (resource === role ? widened : resource))), [
            {
                policy: "host-roles-own-backups-only",
                message: `role policy mattermost-backup-access may read ${gitlabEtc}, which it does not write: a host reads only its own backups`,
            },
        ]);
    });

    test("single: the security group opening 80 and 443 to ::/0 again, as it once did, is one violation", async () => {
        const graph = await shippedGraph("single");
        const group = graph.find((resource) => resource.type === SECURITY_GROUP);
        assert.ok(group);
        const ingress = (group.inputs.ingress as Record<string, unknown>[]).map((rule) => (rule.fromPort === 22 ? rule : { ...rule, ipv6CidrBlocks: ["::/0"] }));
        const reopened = { ...group, inputs: { ...group.inputs, ingress } };
        assert.deepEqual(await violationsOf(graph.map((resource) => (resource === group ? reopened : resource))), [ipv6Violation(`security group ${group.name} has IPv6 ranges (ingress ::/0)`)]);
    });

    test("split: an AAAA record beside the Mattermost name's A record is one violation", async () => {
        const graph = await shippedGraph("split");
        const record = graph.find((resource) => resource.type === RECORD && resource.inputs.type === "A" && String(resource.inputs.name).startsWith("chat."));
        assert.ok(record, "the split stack's Mattermost name has an A record");
        const aaaa = { ...record, name: `${record.name}-aaaa`, inputs: { ...record.inputs, type: "AAAA", records: ["2001:db8::10"] } };
        assert.deepEqual(await violationsOf([...graph, aaaa]), [
            ipv6Violation(`DNS record ${aaaa.name} is an AAAA record`, "point the name at the host's IPv4 address with an A record"),
        ]);
    });

    test("split: the backup bucket without its versioning is one violation", async () => {
        const graph = await shippedGraph("split");
        const versioning = graph.filter((resource) => resource.type === typeOf(aws.s3.BucketVersioning));
        const bucket = graph.find((resource) => resource.type === BUCKET);
        assert.equal(versioning.length, 1);
        assert.ok(bucket);
        assert.deepEqual(await violationsOf(graph.filter((resource) => resource !== versioning[0])), [
            {
                policy: "backup-bucket-protected",
                message: `bucket ${bucket.name} has no versioning: add an aws.s3.BucketVersioning for it with versioningConfiguration.status "Enabled"`,
            },
        ]);
    });
});

// ---------------------------------------------------------------------------------------------------
describe("deliberately bad resources draw exactly one violation each (and the IPv4-only rule's, where they use IPv6)", () => {
    test("the compliant stack draws none", async () => {
        assert.deepEqual(await violationsOf(compliantStack()), []);
    });

    const SSH_ADVICE = "allow SSH only from the administrators' networks (ssh.allowedCidrs), or open no SSH port and reach the hosts through Systems Manager (ssh.access ssm)";
    const TLS_GAP = "bucket backups accepts requests without TLS: add an aws.s3.BucketPolicy for it that denies s3:* to every principal on the bucket and its objects when aws:SecureTransport is \"false\"";
    /** `also`: what the IPv4-only rule reports besides, where a case judges IPv6 ranges for another rule. */
    const cases: { title: string; stack: () => FakeResource[]; expected: Violation; also?: Violation[] }[] = [
        {
            title: "an ARM (Graviton) instance type",
            stack: () => changed("gitlab", withInputs({ instanceType: "m7g.large" }), INSTANCE),
            expected: {
                policy: "ec2-x86-64-only",
                message: "instance gitlab has type m7g.large, of the Graviton (arm64) family m7g; choose an x86_64 type such as c6a.xlarge",
            },
        },
        {
            title: "httpTokens optional",
            stack: () => changed("gitlab", withInputs({ metadataOptions: { httpEndpoint: "enabled", httpTokens: "optional" } }), INSTANCE),
            expected: { policy: "ec2-imdsv2-required", message: `instance gitlab allows IMDSv1: set metadataOptions.httpTokens to "required"` },
        },
        {
            title: "no metadata options at all (EC2's default allows IMDSv1)",
            stack: () => changed("gitlab", withInputs({ metadataOptions: undefined }), INSTANCE),
            expected: { policy: "ec2-imdsv2-required", message: `instance gitlab allows IMDSv1: set metadataOptions.httpTokens to "required"` },
        },
        {
            title: "an unencrypted root volume",
            stack: () => changed("gitlab", withInputs({ rootBlockDevice: { volumeType: "gp3", volumeSize: 100, encrypted: false } }), INSTANCE),
            expected: { policy: "ebs-volumes-encrypted", message: "root volume of instance gitlab is not encrypted: set rootBlockDevice.encrypted to true" },
        },
        {
            title: "an unencrypted extra block device",
            stack: () => changed("gitlab", withInputs({ ebsBlockDevices: [{ deviceName: "/dev/sdf", volumeSize: 500 }] }), INSTANCE),
            expected: { policy: "ebs-volumes-encrypted", message: "EBS volume /dev/sdf of instance gitlab is not encrypted: set its encrypted to true" },
        },
        {
            title: "an unencrypted aws.ebs.Volume",
            stack: () => [...compliantStack(), { type: typeOf(aws.ebs.Volume), name: "repositories", inputs: { availabilityZone: "eu-west-1a", size: 500 } }],
            expected: { policy: "ebs-volumes-encrypted", message: "EBS volume repositories is not encrypted: set encrypted to true" },
        },
        {
            title: "port 22 open to 0.0.0.0/0 in a security group",
            stack: () => changed("hosts", sshRuleOpenTo({ cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: [] })),
            expected: { policy: "no-ssh-from-anywhere", message: `security group hosts opens SSH too widely: 0.0.0.0/0 covers every IPv4 address: that is the whole internet; ${SSH_ADVICE}` },
        },
        {
            title: "port 22 open to ::/0 in a security group",
            stack: () => changed("hosts", sshRuleOpenTo({ cidrBlocks: ["203.0.113.0/24"], ipv6CidrBlocks: ["::/0"] })),
            expected: { policy: "no-ssh-from-anywhere", message: `security group hosts opens SSH too widely: ::/0 covers every IPv6 address: that is the whole internet; ${SSH_ADVICE}` },
            also: [ipv6Violation("security group hosts has IPv6 ranges (ingress ::/0)")],
        },
        {
            title: "port 22 open to 0.0.0.0/1 and 128.0.0.0/1 in one rule",
            stack: () => changed("hosts", sshRuleOpenTo({ cidrBlocks: ["0.0.0.0/1", "128.0.0.0/1"], ipv6CidrBlocks: [] })),
            expected: {
                policy: "no-ssh-from-anywhere",
                message: `security group hosts opens SSH too widely: 0.0.0.0/1 + 128.0.0.0/1 together cover every IPv4 address: that is the whole internet; ${SSH_ADVICE}`,
            },
        },
        {
            title: "port 22 open to ::/1 in one rule and 8000::/1 in another, of the same group",
            stack: () =>
                changed("hosts", (group) => {
                    const ingress = group.inputs.ingress as Record<string, unknown>[];
                    return withInputs({
                        ingress: [
                            ...ingress.map((rule) => (rule.fromPort === 22 ? { ...rule, ipv6CidrBlocks: ["::/1"] } : rule)),
                            { protocol: "tcp", fromPort: 0, toPort: 1023, cidrBlocks: [], ipv6CidrBlocks: ["8000::/1"] },
                        ],
                    })(group);
                }),
            expected: {
                policy: "no-ssh-from-anywhere",
                message: `security group hosts opens SSH too widely: ::/1 + 8000::/1 together cover every IPv6 address: that is the whole internet; ${SSH_ADVICE}`,
            },
            also: [ipv6Violation("security group hosts has IPv6 ranges (ingress ::/1, 8000::/1)")],
        },
        {
            title: "port 22 open to two public /8s",
            stack: () => changed("hosts", sshRuleOpenTo({ cidrBlocks: ["203.0.113.0/24", "11.0.0.0/8", "12.0.0.0/8"], ipv6CidrBlocks: [] })),
            expected: {
                policy: "no-ssh-from-anywhere",
                message:
                    "security group hosts opens SSH too widely: 203.0.113.0/24 + 11.0.0.0/8 + 12.0.0.0/8 together cover more public IPv4 addresses than a /8, the block IANA " +
                    `gives a whole regional internet registry: that is a slice of the internet, not an organisation's networks; ${SSH_ADVICE}`,
            },
        },
        {
            title: "an aws.ec2.SecurityGroupRule whose port range covers 22, from 0.0.0.0/0",
            stack: () => [
                ...compliantStack(),
                {
                    type: typeOf(aws.ec2.SecurityGroupRule),
                    name: "admin-ports",
                    inputs: { type: "ingress", securityGroupId: "sg-1", protocol: "tcp", fromPort: 20, toPort: 25, cidrBlocks: ["0.0.0.0/0"] },
                },
            ],
            expected: { policy: "no-ssh-from-anywhere", message: `security group rule admin-ports opens SSH too widely: 0.0.0.0/0 covers every IPv4 address: that is the whole internet; ${SSH_ADVICE}` },
        },
        {
            title: "an aws.vpc.SecurityGroupIngressRule for every protocol, from ::/0",
            stack: () => [
                ...compliantStack(),
                { type: typeOf(aws.vpc.SecurityGroupIngressRule), name: "everything-v6", inputs: { securityGroupId: "sg-1", ipProtocol: "-1", cidrIpv6: "::/0" } },
            ],
            expected: { policy: "no-ssh-from-anywhere", message: `security group ingress rule everything-v6 opens SSH too widely: ::/0 covers every IPv6 address: that is the whole internet; ${SSH_ADVICE}` },
            also: [ipv6Violation("security group ingress rule everything-v6 has IPv6 ranges (::/0)")],
        },
        {
            title: "three public /9s in three aws.vpc.SecurityGroupIngressRule resources of the group, each fine alone",
            stack: () => [
                ...compliantStack(),
                ...["11.0.0.0/9", "11.128.0.0/9", "12.0.0.0/9"].map((cidrIpv4, index) => ({
                    type: typeOf(aws.vpc.SecurityGroupIngressRule),
                    name: `office-${index + 1}`,
                    inputs: { securityGroupId: "sg-0abc", ipProtocol: "tcp", fromPort: 22, toPort: 22, cidrIpv4 },
                    propertyDependencies: { securityGroupId: ["hosts"] },
                })),
            ],
            expected: {
                policy: "ssh-ranges-across-rules",
                message:
                    "security group hosts with its rules office-1, office-2, office-3 opens SSH too widely: 203.0.113.0/24 + 11.0.0.0/9 + 11.128.0.0/9 + 12.0.0.0/9 together " +
                    `cover more public IPv4 addresses than a /8, the block IANA gives a whole regional internet registry: that is a slice of the internet, not an organisation's networks; ${SSH_ADVICE}`,
            },
        },
        {
            title: "the group's own IPv6 /13 and an aws.ec2.SecurityGroupRule with two more, linked by the group's id",
            stack: () => [
                ...changed("hosts", (group) => {
                    const narrowed = sshRuleOpenTo({ cidrBlocks: ["203.0.113.0/24"], ipv6CidrBlocks: ["2000::/13"] })(group);
                    return { ...narrowed, outputs: { ...narrowed.inputs, id: "sg-0abc" } };
                }),
                {
                    type: typeOf(aws.ec2.SecurityGroupRule),
                    name: "partners",
                    inputs: { type: "ingress", securityGroupId: "sg-0abc", protocol: "-1", fromPort: 0, toPort: 0, ipv6CidrBlocks: ["2008::/13", "2010::/13"] },
                },
            ],
            expected: {
                policy: "ssh-ranges-across-rules",
                message:
                    "security group hosts with its rules partners opens SSH too widely: 2000::/13 + 2008::/13 + 2010::/13 together cover more public IPv6 addresses than a /12, " +
                    `the block IANA gives a whole regional internet registry: that is a slice of the internet, not an organisation's networks; ${SSH_ADVICE}`,
            },
            also: [ipv6Violation("security group hosts has IPv6 ranges (ingress 2000::/13)"), ipv6Violation("security group rule partners has IPv6 ranges (2008::/13, 2010::/13)")],
        },
        {
            title: "the security group as the program once built it: ::/0 on 80, 443 and all outbound",
            stack: () =>
                changed("hosts", (group) => {
                    const withV6 = (rule: Record<string, unknown>) => (rule.fromPort === 22 ? rule : { ...rule, ipv6CidrBlocks: ["::/0"] });
                    return withInputs({ ingress: (group.inputs.ingress as Record<string, unknown>[]).map(withV6), egress: (group.inputs.egress as Record<string, unknown>[]).map(withV6) })(group);
                }),
            expected: ipv6Violation("security group hosts has IPv6 ranges (ingress ::/0; egress ::/0)"),
        },
        {
            title: "an IPv6 SSH range the size of one office",
            stack: () => changed("hosts", sshRuleOpenTo({ cidrBlocks: ["203.0.113.0/24"], ipv6CidrBlocks: ["2001:db8:1234::/48"] })),
            expected: ipv6Violation("security group hosts has IPv6 ranges (ingress 2001:db8:1234::/48)"),
        },
        {
            title: "an IPv6 block written among a group's IPv4 blocks",
            stack: () => changed("hosts", sshRuleOpenTo({ cidrBlocks: ["203.0.113.0/24", "2001:db8::/32"], ipv6CidrBlocks: [] })),
            expected: ipv6Violation("security group hosts has IPv6 ranges (ingress 2001:db8::/32)"),
        },
        {
            title: "an aws.ec2.SecurityGroupRule letting everything out over IPv6",
            stack: () => [
                ...compliantStack(),
                {
                    type: typeOf(aws.ec2.SecurityGroupRule),
                    name: "all-out-v6",
                    inputs: { type: "egress", securityGroupId: "sg-1", protocol: "-1", fromPort: 0, toPort: 0, ipv6CidrBlocks: ["::/0"] },
                },
            ],
            expected: ipv6Violation("security group rule all-out-v6 has IPv6 ranges (::/0)"),
        },
        {
            title: "an aws.vpc.SecurityGroupIngressRule opening 443 to IPv6",
            stack: () => [
                ...compliantStack(),
                { type: typeOf(aws.vpc.SecurityGroupIngressRule), name: "https-v6", inputs: { securityGroupId: "sg-1", ipProtocol: "tcp", fromPort: 443, toPort: 443, cidrIpv6: "::/0" } },
            ],
            expected: ipv6Violation("security group ingress rule https-v6 has IPv6 ranges (::/0)"),
        },
        {
            title: "an aws.vpc.SecurityGroupEgressRule to IPv6",
            stack: () => [...compliantStack(), { type: typeOf(aws.vpc.SecurityGroupEgressRule), name: "out-v6", inputs: { securityGroupId: "sg-1", ipProtocol: "-1", cidrIpv6: "::/0" } }],
            expected: ipv6Violation("security group egress rule out-v6 has IPv6 ranges (::/0)"),
        },
        {
            title: "a VPC with an Amazon-provided IPv6 block",
            stack: () => changed("network-vpc", withInputs({ assignGeneratedIpv6CidrBlock: true })),
            expected: ipv6Violation("VPC network-vpc has an IPv6 CIDR block (assignGeneratedIpv6CidrBlock)", "leave the VPC IPv4 only"),
        },
        {
            title: "a VPC with an IPv6 block from an IPAM pool",
            stack: () => changed("network-vpc", withInputs({ ipv6CidrBlock: "2001:db8:100::/56", ipv6IpamPoolId: "ipam-pool-0123456789abcdef0" })),
            expected: ipv6Violation("VPC network-vpc has an IPv6 CIDR block (ipv6CidrBlock, ipv6IpamPoolId)", "leave the VPC IPv4 only"),
        },
        {
            title: "an IPv6 block associated with a VPC afterwards",
            stack: () => [
                ...compliantStack(),
                { type: typeOf(aws.ec2.VpcIpv6CidrBlockAssociation), name: "network-v6", inputs: { vpcId: "vpc-0abc", assignGeneratedIpv6CidrBlock: true } },
            ],
            expected: ipv6Violation("VPC IPv6 CIDR block association network-v6 gives a VPC an IPv6 CIDR block", "leave the VPC IPv4 only"),
        },
        {
            title: "an AAAA record",
            stack: () => changed("dns-gitlab.example.com", withInputs({ type: "AAAA", records: ["2001:db8::10"] })),
            expected: ipv6Violation("DNS record dns-gitlab.example.com is an AAAA record", "point the name at the host's IPv4 address with an A record"),
        },
        {
            title: "a bucket without versioning",
            stack: () => changed("backups-versioning", () => undefined),
            expected: {
                policy: "backup-bucket-protected",
                message: `bucket backups has no versioning: add an aws.s3.BucketVersioning for it with versioningConfiguration.status "Enabled"`,
            },
        },
        {
            title: "a bucket whose versioning is suspended",
            stack: () => changed("backups-versioning", withInputs({ versioningConfiguration: { status: "Suspended" } })),
            expected: {
                policy: "backup-bucket-protected",
                message: `bucket backups has no versioning: add an aws.s3.BucketVersioning for it with versioningConfiguration.status "Enabled"`,
            },
        },
        {
            title: "a bucket without default encryption",
            stack: () => changed("backups-encryption", () => undefined),
            expected: {
                policy: "backup-bucket-protected",
                message:
                    "bucket backups has no default encryption: add an aws.s3.BucketServerSideEncryptionConfiguration for it with a rule's applyServerSideEncryptionByDefault.sseAlgorithm",
            },
        },
        {
            title: "a bucket without a public access block",
            stack: () => changed("backups-public-access", () => undefined),
            expected: {
                policy: "backup-bucket-protected",
                message:
                    "bucket backups has no complete public access block: add an aws.s3.BucketPublicAccessBlock for it with blockPublicAcls, blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets all true",
            },
        },
        {
            title: "a public access block with one flag off",
            stack: () => changed("backups-public-access", withInputs({ restrictPublicBuckets: false })),
            expected: {
                policy: "backup-bucket-protected",
                message:
                    "bucket backups has no complete public access block: add an aws.s3.BucketPublicAccessBlock for it with blockPublicAcls, blockPublicPolicy, ignorePublicAcls, restrictPublicBuckets all true",
            },
        },
        {
            title: "versioning that configures another bucket",
            stack: () => changed("backups-versioning", (resource) => ({ ...withInputs({ bucket: "someone-elses-bucket" })(resource), propertyDependencies: {} })),
            expected: {
                policy: "backup-bucket-protected",
                message: `bucket backups has no versioning: add an aws.s3.BucketVersioning for it with versioningConfiguration.status "Enabled"`,
            },
        },
        {
            title: "a bucket without a bucket policy",
            stack: () => changed("backups-policy", () => undefined),
            expected: { policy: "backup-bucket-protected", message: TLS_GAP },
        },
        {
            title: "a bucket policy that denies plain HTTP only for objects, not the bucket",
            stack: () =>
                changed("backups-policy", (resource) => {
                    const document = JSON.parse(String(resource.inputs.policy));
                    document.Statement[0].Resource = `${BUCKET_ARN}/*`;
                    return withInputs({ policy: JSON.stringify(document) })(resource);
                }),
            expected: { policy: "backup-bucket-protected", message: TLS_GAP },
        },
        {
            title: "a bucket policy whose condition asks for TLS being true",
            stack: () =>
                changed("backups-policy", (resource) => {
                    const document = JSON.parse(String(resource.inputs.policy));
                    document.Statement[0].Condition = { Bool: { "aws:SecureTransport": "true" } };
                    return withInputs({ policy: JSON.stringify(document) })(resource);
                }),
            expected: { policy: "backup-bucket-protected", message: TLS_GAP },
        },
        {
            title: "a host role given an AWS managed policy other than Systems Manager's agent",
            stack: () => changed("mattermost-ssm-agent", withInputs({ policyArn: "arn:aws:iam::aws:policy/AmazonS3FullAccess" })),
            expected: {
                policy: "known-managed-policies-only",
                message: "role policy attachment mattermost-ssm-agent attaches arn:aws:iam::aws:policy/AmazonS3FullAccess; only AmazonSSMManagedInstanceCore and service-role/AWSDataLifecycleManagerServiceRole are allowed, since host-roles-own-backups-only cannot read a managed policy's rights",
            },
        },
        {
            title: "a role carrying a managed policy in managedPolicyArns",
            stack: () => changed("mattermost-backup-access", withInputs({ managedPolicyArns: ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore", "arn:aws:iam::aws:policy/AdministratorAccess"] }), "aws:iam/role:Role"),
            expected: {
                policy: "known-managed-policies-only",
                message: "role mattermost-backup-access carries the managed policy arn:aws:iam::aws:policy/AdministratorAccess; only AmazonSSMManagedInstanceCore and service-role/AWSDataLifecycleManagerServiceRole are allowed, since host-roles-own-backups-only cannot read a managed policy's rights",
            },
        },
        {
            title: "a host role that may delete objects",
            stack: () => changed("mattermost-backup-access", rolePolicyWith((document) => ((statement(document, "WriteOwnBackups").Action as string[]).push("s3:DeleteObject")))),
            expected: { policy: "host-roles-own-backups-only", message: "role policy mattermost-backup-access may erase backups (s3:DeleteObject)" },
        },
        {
            title: "a host role granted s3:* on its own prefix",
            stack: () => changed("mattermost-backup-access", rolePolicyWith((document) => void (statement(document, "WriteOwnBackups").Action = "s3:*"))),
            expected: {
                policy: "host-roles-own-backups-only",
                message: "role policy mattermost-backup-access may erase backups (s3:DeleteObject, s3:DeleteObjectVersion, s3:DeleteBucket, s3:PutLifecycleConfiguration)",
            },
        },
        {
            title: "a host role that reads the whole bucket",
            stack: () => changed("mattermost-backup-access", rolePolicyWith((document) => void (statement(document, "ReadOwnBackups").Resource = [`${BUCKET_ARN}/*`]))),
            expected: { policy: "host-roles-own-backups-only", message: `role policy mattermost-backup-access may read every object of ${BUCKET_ARN}` },
        },
        {
            title: "a host role that may tag every object of the bucket",
            stack: () => changed("mattermost-backup-access", rolePolicyWith((document) => void (statement(document, "TagOwnBackupsExpirable").Resource = [`${BUCKET_ARN}/*`]))),
            expected: {
                policy: "host-roles-own-backups-only",
                message: `role policy mattermost-backup-access may tag ${BUCKET_ARN}/*, which it does not write: a tag can make the lifecycle expire another host's backups`,
            },
        },
        {
            title: "a host role that lists the bucket without a prefix condition",
            stack: () => changed("mattermost-backup-access", rolePolicyWith((document) => void delete statement(document, "ListOwnBackups").Condition)),
            expected: {
                policy: "host-roles-own-backups-only",
                message: `role policy mattermost-backup-access may list every key of ${BUCKET_ARN}: add a StringLike condition on s3:prefix with the host's own folders`,
            },
        },
        {
            title: "a host role that lists under another host's folder",
            stack: () =>
                changed("mattermost-backup-access", rolePolicyWith((document) => void (statement(document, "ListOwnBackups").Condition = { StringLike: { "s3:prefix": ["dev/mattermost/*", "dev/*"] } }))),
            expected: { policy: "host-roles-own-backups-only", message: `role policy mattermost-backup-access may list under "dev/*", which it does not write` },
        },
        {
            title: "a role's inline policy that reads everything",
            stack: () => [
                ...compliantStack(),
                {
                    type: typeOf(aws.iam.Role),
                    name: "reader",
                    inputs: { inlinePolicies: [{ name: "read-all", policy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:Get*", Resource: "*" }] }) }] },
                },
            ],
            expected: { policy: "host-roles-own-backups-only", message: "inline policy read-all of role reader may read every object of every bucket" },
        },
        {
            title: "user data with a PEM private key",
            stack: () => changed("gitlab", withInputs({ userData: `#!/bin/sh\ncat > /root/.ssh/id_ed25519 <<'KEY'\n${SSH_PRIVATE_KEY}KEY\n` }), INSTANCE),
            expected: {
                policy: "no-secrets-in-user-data",
                message: "userData of instance gitlab contains a PEM private key; send secrets to the host over SSH, on a remote command's stdin",
            },
        },
        {
            title: "gzipped base64 user data naming a password",
            stack: () =>
                changed("gitlab", withInputs({ userDataBase64: gzipSync("#cloud-config\nwrite_files:\n  - path: /etc/app.env\n    content: DB_PASSWORD=hunter22\n").toString("base64") }), INSTANCE),
            expected: {
                policy: "no-secrets-in-user-data",
                message: `userDataBase64 of instance gitlab contains the credential word "PASSWORD"; send secrets to the host over SSH, on a remote command's stdin`,
            },
        },
        {
            title: "a command whose create contains a generated password",
            stack: () => changed("gitlab-gitlab-rb", withInputs({ create: `sudo gitlab-rake "gitlab:password:reset[root]" <<< ${ROOT_PASSWORD}` })),
            expected: {
                policy: "no-secrets-in-remote-commands",
                message:
                    "create of remote command gitlab-gitlab-rb contains the result of root-password (random:index/randomPassword:RandomPassword) " +
                    `and the "initial_root_password" value in the stdin of gitlab-gitlab-rb; pass secrets on the command's stdin`,
            },
        },
        {
            title: "a command whose update contains a configured private key",
            stack: () => changed("gitlab-gitlab-rb", withInputs({ update: `printf '%s' '${TLS_PRIVATE_KEY}' > /etc/gitlab/ssl/gitlab.example.com.key` })),
            expected: {
                policy: "no-secrets-in-remote-commands",
                message: "update of remote command gitlab-gitlab-rb contains a PEM private key; pass secrets on the command's stdin",
            },
        },
        {
            title: "a command whose delete contains a configured password another command gets on stdin",
            stack: () => [
                ...compliantStack(),
                {
                    type: TYPE_TOKENS.remoteCommand,
                    name: "mail-settings",
                    inputs: {
                        connection: { host: "192.0.2.10", user: "ubuntu", privateKey: SSH_PRIVATE_KEY },
                        create: "sudo bash -c 'cat > /etc/gitlab/mail.rb'",
                        delete: `sudo bash -c 'swaks --auth-user gitlab --auth-password "smtp pass phrase 2024" --quit-after AUTH'`,
                        stdin: `gitlab_rails['smtp_password'] = "smtp pass phrase 2024"\n`,
                    },
                },
            ],
            expected: {
                policy: "no-secrets-in-remote-commands",
                message: `delete of remote command mail-settings contains the "smtp_password" value in the stdin of mail-settings; pass secrets on the command's stdin`,
            },
        },
    ];

    for (const { title, stack, expected, also = [] } of cases) {
        test(title, async () => {
            assert.deepEqual(await violationsOf(stack()), [expected, ...also]);
        });
    }
});

// ---------------------------------------------------------------------------------------------------
describe("buckets under aws 7's deprecated V2 names", () => {
    test("a BucketV2 is held to the same rule, and companions under V2 names count", async () => {
        const bare: FakeResource = { type: typeOf(aws.s3.BucketV2), name: "old-backups", inputs: {}, outputs: { bucket: "old-backups-77" } };
        const gaps = (await runPolicies([backupBucketProtected], [bare])).violations.map((violation) => violation.message.split(":")[0]);
        assert.deepEqual(gaps, ["bucket old-backups has no versioning", "bucket old-backups has no default encryption", "bucket old-backups has no complete public access block", "bucket old-backups accepts requests without TLS"]);

        const [versioning, encryption, publicAccess, bucketPolicy] = bucketCompanions("old-backups", "old-backups-77");
        const renamed = [
            { ...versioning, type: typeOf(aws.s3.BucketVersioningV2), propertyDependencies: {} },
            { ...encryption, type: typeOf(aws.s3.BucketServerSideEncryptionConfigurationV2), propertyDependencies: {} },
            { ...publicAccess, propertyDependencies: {} },
            { ...bucketPolicy, propertyDependencies: {} },
        ];
        assert.deepEqual(await runPolicies([backupBucketProtected], [bare, ...renamed]), { violations: [], notRunnable: [] });
    });
});

// ---------------------------------------------------------------------------------------------------
describe("values not known during a preview", () => {
    test("companions are linked to their bucket by the dependency of their bucket input when no name is known yet", async () => {
        const bucketName = unknownValue;
        const stack = [
            { type: BUCKET, name: "backups", inputs: {}, outputs: { bucket: bucketName, id: bucketName } },
            ...bucketCompanions("backups", bucketName),
        ];
        const run = await runPolicies([backupBucketProtected], stack);
        assert.deepEqual(run, { violations: [], notRunnable: [] });

        const unlinked = stack.map((resource) => ({ ...resource, propertyDependencies: {} }));
        const gaps = (await runPolicies([backupBucketProtected], unlinked)).violations.map((violation) => violation.message.split(":")[0]);
        assert.deepEqual(gaps, ["bucket backups has no versioning", "bucket backups has no default encryption", "bucket backups has no complete public access block", "bucket backups accepts requests without TLS"]);
    });

    test("a bucket policy not known yet is not judged; a known one without TLS-only is", async () => {
        const withPolicy = (policy: unknown) => changed("backups-policy", withInputs({ policy }));
        assert.deepEqual(await runPolicies([backupBucketProtected], withPolicy(unknownValue)), { violations: [], notRunnable: [] });
        const open = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: `${BUCKET_ARN}/*` }] });
        assert.equal((await runPolicies([backupBucketProtected], withPolicy(open))).violations.length, 1);
    });

    test("a command string not known yet is skipped, and the other commands are still judged", async () => {
        const stack = changed("gitlab-gitlab-rb", withInputs({ create: unknownValue }));
        const leaking: FakeResource = {
            type: TYPE_TOKENS.remoteCommand,
            name: "leaks",
            inputs: { connection: { host: "192.0.2.10", user: "ubuntu" }, create: `echo ${ROOT_PASSWORD}` },
        };
        const run = await runPolicies([noSecretsInRemoteCommands], [...stack, leaking]);
        assert.deepEqual(run.notRunnable, []);
        assert.deepEqual(
            run.violations.map((violation) => violation.message.split(";")[0]),
            [`create of remote command leaks contains the result of root-password (random:index/randomPassword:RandomPassword) and the "initial_root_password" value in the stdin of gitlab-gitlab-rb`],
        );
    });

    test("a secret not known yet is not looked for", async () => {
        const stack = changed("root-password", (resource) => ({ ...resource, outputs: { ...resource.outputs, result: unknownValue } }));
        const { resources } = await stackArgs(stack);
        const sources = stackSecretValues(resources).map((secret) => secret.source);
        assert.ok(!sources.some((source) => source.includes("root-password")), sources.join("\n"));
        assert.ok(sources.includes("the connection.privateKey of gitlab-gitlab-rb (command:remote:Command)"));
    });
});

// ---------------------------------------------------------------------------------------------------
describe("the rules", () => {
    test("Graviton families by name; x86_64 families, GPU and Intel/AMD types pass", () => {
        for (const arm of ["a1.large", "t4g.small", "m7g.xlarge", "c7gn.large", "r8gd.2xlarge", "im4gn.large", "is4gen.xlarge", "x2gd.medium", "hpc7g.4xlarge"]) {
            assert.equal(gravitonFamily(arm), arm.split(".")[0], arm);
        }
        for (const x86 of ["c6a.xlarge", "m7i.large", "t3.medium", "g4dn.xlarge", "r6id.large", "m5zn.large", "c7i-flex.large"]) {
            assert.equal(gravitonFamily(x86), undefined, x86);
        }
    });

    test("IMDSv1 is allowed unless tokens are required or the endpoint is off", () => {
        assert.equal(allowsImdsV1(undefined), true);
        assert.equal(allowsImdsV1({ httpTokens: "optional" }), true);
        assert.equal(allowsImdsV1({ httpTokens: "required" }), false);
        assert.equal(allowsImdsV1({ httpEndpoint: "disabled", httpTokens: "optional" }), false);
    });

    test("SSH ranges are judged together, only where port 22 (or every protocol) is let through", () => {
        const world = ["0.0.0.0/0", "::/0"];
        const whole = (family: string) => new RegExp(`every ${family} address`);
        const [v4, v6, ...none] = sshSourceProblems([{ protocol: "tcp", fromPort: 22, toPort: 22, cidrs: world }]);
        assert.match(v4, whole("IPv4"));
        assert.match(v6, whole("IPv6"));
        assert.deepEqual(none, []);
        assert.equal(sshSourceProblems([{ protocol: "6", fromPort: 0, toPort: 65535, cidrs: ["0.0.0.0/0", "10.0.0.0/8"] }]).length, 1);
        assert.match(sshSourceProblems([{ protocol: "all", cidrs: ["::0/00"] }])[0], whole("IPv6"));
        // Halves in two permissions, one with a host bit set, which AWS would clear.
        assert.match(sshSourceProblems([{ protocol: "tcp", fromPort: 22, toPort: 22, cidrs: ["0.0.0.1/1"] }, { protocol: "-1", cidrs: ["128.0.0.0/1"] }])[0], whole("IPv4"));
        assert.deepEqual(sshSourceProblems([{ protocol: "tcp", fromPort: 22, toPort: 22, cidrs: ["0.0.0.0/1"] }, { protocol: "tcp", fromPort: 443, toPort: 443, cidrs: ["128.0.0.0/1"] }]).length, 1, "half is too wide, but not whole");
        assert.deepEqual(sshSourceProblems([{ protocol: "tcp", fromPort: 443, toPort: 443, cidrs: world }]), []);
        assert.deepEqual(sshSourceProblems([{ protocol: "tcp", fromPort: 23, toPort: 1024, cidrs: world }]), []);
        assert.deepEqual(sshSourceProblems([{ protocol: "udp", fromPort: 22, toPort: 22, cidrs: world }]), []);
        assert.deepEqual(sshSourceProblems([{ protocol: "tcp", fromPort: 22, toPort: 22, cidrs: ["203.0.113.0/24", "2001:db8::/32", "10.0.0.0/8", "fe80::%eth0/64", "nonsense"] }]), []);
    });

    test("IPv6 ranges are told by the address family, in whichever field they stand; VPCs by the inputs that give them IPv6", () => {
        assert.deepEqual(ipv6Ranges(["0.0.0.0/0", "::/0", "203.0.113.0/24", " 2001:db8::/32", "::ffff:203.0.113.0/120", "fe80::%eth0/64", "nonsense"]), [
            "::/0",
            " 2001:db8::/32",
            "::ffff:203.0.113.0/120",
        ]);
        assert.deepEqual(ipv6Ranges([]), []);
        assert.deepEqual(vpcIpv6Inputs({}), []);
        assert.deepEqual(vpcIpv6Inputs({ assignGeneratedIpv6CidrBlock: false, ipv6CidrBlock: "", ipv6IpamPoolId: undefined }), []);
        assert.deepEqual(vpcIpv6Inputs({ assignGeneratedIpv6CidrBlock: true }), ["assignGeneratedIpv6CidrBlock"]);
        assert.deepEqual(vpcIpv6Inputs({ ipv6IpamPoolId: "ipam-pool-0123456789abcdef0" }), ["ipv6IpamPoolId"]);
    });

    test("the TLS-only bucket policy: the program's passes; each missing part fails", () => {
        const arn = "arn:aws:s3:::b";
        const good = tlsOnlyBucketPolicy(arn);
        assert.equal(deniesInsecureTransport(JSON.stringify(good), arn), true);
        assert.equal(deniesInsecureTransport(good, undefined), true, "an object document, ARN unknown");
        const [only] = good.Statement;
        for (const broken of [
            { ...only, Effect: "Allow" },
            { ...only, Principal: { AWS: "arn:aws:iam::123456789012:root" } },
            { ...only, Action: "s3:GetObject" },
            { ...only, Resource: arn },
            { ...only, Condition: undefined },
            { ...only, Condition: { Bool: { "aws:SecureTransport": "true" } } },
        ]) {
            assert.equal(deniesInsecureTransport({ Statement: [broken] }, arn), false, JSON.stringify(broken));
        }
        assert.equal(deniesInsecureTransport({ Statement: [{ ...only, Resource: "*", Principal: { AWS: ["*"] }, Condition: { Bool: { "AWS:SecureTransport": ["false"] } } }] }, arn), true);
        assert.equal(deniesInsecureTransport("not json", arn), false);
    });

    test("host roles: the program's policy has no gaps; wildcards are read as IAM reads them", () => {
        assert.deepEqual(hostRoleGaps(JSON.stringify(hostBackupPolicy(BUCKET_ARN, OWN_KEYS))), []);
        const allow = (Action: unknown, Resource: unknown, extra: Record<string, unknown> = {}) => ({ Statement: [{ Effect: "Allow", Action, Resource, ...extra }] });
        assert.deepEqual(hostRoleGaps(allow("S3:delete*", `${BUCKET_ARN}/dev/*`)), ["may erase backups (s3:DeleteObject, s3:DeleteObjectVersion, s3:DeleteBucket)"]);
        assert.deepEqual(hostRoleGaps(allow("*", "*")).slice(0, 2), [
            "may erase backups (s3:DeleteObject, s3:DeleteObjectVersion, s3:DeleteBucket, s3:PutLifecycleConfiguration)",
            "may read every object of every bucket",
        ]);
        assert.deepEqual(hostRoleGaps(allow("s3:GetObject", "arn:aws:s3:::*")), ["may read every object of arn:aws:s3:::*"]);
        assert.deepEqual(hostRoleGaps(allow("s3:Get?bject", `${BUCKET_ARN}/dev/gitlab-etc/*`)), [`may read ${BUCKET_ARN}/dev/gitlab-etc/*, which it does not write: a host reads only its own backups`]);
        assert.deepEqual(hostRoleGaps({ Statement: [{ Effect: "Allow", NotAction: "s3:DeleteObject", Resource: `${BUCKET_ARN}/dev/*` }] }), ["allows by NotAction or NotResource, which grants everything it does not name"]);
        // pgBackRest expires its own repository: deleting there, in a folder the role writes, is no gap; elsewhere it is.
        const repository = pitrBucketStatements(BUCKET_ARN, "dev");
        assert.deepEqual(hostRoleGaps({ Statement: repository }), []);
        assert.deepEqual(hostRoleGaps({ Statement: [{ ...repository[0], Action: ["s3:GetObject", "s3:DeleteObject"] }] }), [
            "may erase backups (s3:DeleteObject)",
            `may read ${BUCKET_ARN}/dev/mattermost-pitr/*, which it does not write: a host reads only its own backups`,
        ]);
        assert.deepEqual(hostRoleGaps(allow(["s3:PutObject", "s3:DeleteObject"], `${BUCKET_ARN}/dev/mattermost/*`)), ["may erase backups (s3:DeleteObject)"]);
        assert.deepEqual(hostRoleGaps(allow(["s3:PutObject", "s3:DeleteObjectVersion"], `${BUCKET_ARN}/dev/mattermost-pitr/*`)), ["may erase backups (s3:DeleteObjectVersion)"]);
        // A Deny, and rights outside S3, are not the rule's business.
        assert.deepEqual(hostRoleGaps({ Statement: [{ Effect: "Deny", Action: "s3:*", Resource: "*" }, { Effect: "Allow", Action: "ses:SendRawEmail", Resource: "*" }] }), []);
    });

    test("user data: keys, access key ids and credential words are secret material; plain cloud-config is not", () => {
        assert.equal(secretMaterialInUserData(`write_files:\n  - content: |\n${TLS_PRIVATE_KEY}`), "a PEM private key");
        assert.equal(secretMaterialInUserData("export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE"), "an AWS access key id");
        assert.equal(secretMaterialInUserData("mattermost['gitlab_secret'] = 'x'"), `the credential word "secret"`);
        assert.equal(secretMaterialInUserData("#cloud-config\npackage_update: true\npackages: [nginx]\n"), undefined);
    });

    test("base64 user data is decoded, gzip or not", () => {
        const text = "#cloud-config\nruncmd: [echo hi]\n";
        assert.equal(decodeUserDataBase64(Buffer.from(text).toString("base64")), text);
        assert.equal(decodeUserDataBase64(gzipSync(text).toString("base64")), text);
    });

    test("credential values are read from gitlab.rb, Ruby hashes and JSON, unescaped; other keys are not", () => {
        const stdin = [
            `gitlab_rails['smtp_password'] = "with \\"quotes\\" and \\\\"`,
            `mattermost['env'] = { "MM_EMAILSETTINGS_SMTPPASSWORD" => "p4ss-word", "MM_EMAILSETTINGS_SMTPUSERNAME" => "gitlab" }`,
            `{"name":"GitLab Mattermost","uid":"client-id","secret":"s3cr3t-value","encryptionkey":"k3y"}`,
            `external_url "https://gitlab.example.com"`,
        ].join("\n");
        assert.deepEqual(credentialAssignments(stdin), [
            { key: "smtp_password", value: `with "quotes" and \\` },
            { key: "MM_EMAILSETTINGS_SMTPPASSWORD", value: "p4ss-word" },
            { key: "secret", value: "s3cr3t-value" },
            { key: "encryptionkey", value: "k3y" },
        ]);
    });
});
