// The rules behind the policies, as pure functions over plain values: no Pulumi types, no I/O.
// policies.ts reads resource properties and hands them here; the tests call these directly too.
// SSH ranges are judged by the program's own pure module (components/settings/cidr.ts), so the pack and the
// configuration check cannot disagree; the pack runs in place, from the project.

import { gunzipSync } from "node:zlib";
import { parseCidr, tooWideTogether, type Cidr } from "../components/settings/cidr";
import { PITR } from "../components/backups/pitr";

// --- Architecture ----------------------------------------------------------------------------------

/**
 * Instance families built on AWS Graviton (arm64): `a1`, and every family whose generation digit is
 * followed by a `g` (t4g, m7g, c7gn, r8gd, im4gn). The program refuses the same pattern when it
 * reads its configuration (components/stack/config.ts, ARM_FAMILY) and then asks EC2 for each type's
 * supported architectures; the policy pack sees only the type's name.
 */
export const GRAVITON_FAMILY = /^(a1|[a-z]+\d+g[a-z]*)$/;

/** The Graviton family of an instance type such as `m7g.large`, or undefined for other families. */
export function gravitonFamily(instanceType: string): string | undefined {
    const family = instanceType.split(".")[0];
    return GRAVITON_FAMILY.test(family) ? family : undefined;
}

// --- Instance metadata -----------------------------------------------------------------------------

export interface MetadataOptions {
    readonly httpEndpoint?: string;
    readonly httpTokens?: string;
}

/**
 * True when the instance metadata service would answer a request without a session token (IMDSv1).
 * EC2's default is `optional`, so leaving `httpTokens` out allows IMDSv1; a disabled endpoint
 * answers nothing at all.
 */
export function allowsImdsV1(options: MetadataOptions | undefined): boolean {
    if (options?.httpEndpoint === "disabled") {
        return false;
    }
    return options?.httpTokens !== "required";
}

// --- SSH exposure ----------------------------------------------------------------------------------

const SSH_PORT = 22;

/** One ingress permission in any of the shapes AWS accepts: protocol, port range, source ranges. */
export interface IngressPermission {
    /** `tcp`, `udp`, `icmp`, a protocol number (`6` is TCP), or `-1`/`all` for every protocol. */
    readonly protocol?: string;
    readonly fromPort?: number;
    readonly toPort?: number;
    /** IPv4 and IPv6 source CIDRs together. */
    readonly cidrs: readonly string[];
}

/** Whether TCP port 22 is inside the permission; every protocol means every port. */
function letsSshThrough(permission: IngressPermission): boolean {
    const protocol = String(permission.protocol ?? "").toLowerCase();
    if (protocol === "-1" || protocol === "all") {
        return true;
    }
    if (protocol !== "tcp" && protocol !== "6") {
        return false;
    }
    const { fromPort, toPort } = permission;
    return fromPort !== undefined && toPort !== undefined && fromPort <= SSH_PORT && SSH_PORT <= toPort;
}

/**
 * Why the ranges that `permissions` let reach TCP port 22 admit too much of the internet, judged on
 * their union with the program's own configuration check (components/settings/cidr.ts); empty if they do not.
 * A range AWS could not read is left to AWS, which refuses it.
 */
export function sshSourceProblems(permissions: readonly IngressPermission[]): string[] {
    return tooWideTogether(sshRanges(permissions));
}

function sshRanges(permissions: readonly IngressPermission[]): Cidr[] {
    const ranges = permissions.filter(letsSshThrough).flatMap((permission) => permission.cidrs.map((text) => parseCidr(text.trim())));
    return ranges.filter((range): range is Cidr => typeof range !== "string");
}

/**
 * For SSH ranges spread over several resources of one security group (each given as its
 * permissions): the problems of their union in each address family where no one resource is too
 * wide alone (those are judged resource by resource).
 */
export function sshProblemsAcross(resources: readonly (readonly IngressPermission[])[]): string[] {
    const ranges = resources.map(sshRanges);
    return ([4, 6] as const).flatMap((family) => {
        const ofFamily = (list: readonly Cidr[]) => list.filter((range) => range.family === family);
        return ranges.some((list) => tooWideTogether(ofFamily(list)).length > 0) ? [] : tooWideTogether(ofFamily(ranges.flat()));
    });
}

// --- IPv4 only -------------------------------------------------------------------------------------

/**
 * The IPv6 blocks among a rule's ranges, as written, whichever field holds them (the family is the
 * shared parser's verdict). Text that is no block is left to AWS, which refuses it.
 */
export function ipv6Ranges(ranges: readonly string[]): string[] {
    return ranges.filter((text) => {
        const range = parseCidr(text.trim());
        return typeof range !== "string" && range.family === 6;
    });
}

/** The inputs of an aws.ec2.Vpc that give it an IPv6 CIDR block, as far as they are known. */
export interface VpcIpv6Inputs {
    readonly assignGeneratedIpv6CidrBlock?: unknown;
    readonly ipv6CidrBlock?: unknown;
    readonly ipv6IpamPoolId?: unknown;
}

/** Which of a VPC's inputs give it an IPv6 CIDR block (Amazon's, one of the account's own, or an IPAM pool's); empty when none does. */
export function vpcIpv6Inputs(vpc: VpcIpv6Inputs): string[] {
    const given: string[] = vpc.assignGeneratedIpv6CidrBlock === true ? ["assignGeneratedIpv6CidrBlock"] : [];
    for (const key of ["ipv6CidrBlock", "ipv6IpamPoolId"] as const) {
        if (typeof vpc[key] === "string" && vpc[key] !== "") {
            given.push(key);
        }
    }
    return given;
}

// --- Backup bucket ---------------------------------------------------------------------------------

/** What the companion resources of one bucket say, as far as the bucket policy cares. */
export interface BucketProtection {
    /** `versioningConfiguration.status` of each aws.s3.BucketVersioning of the bucket. */
    readonly versioningStatuses: readonly (string | undefined)[];
    /** Per aws.s3.BucketServerSideEncryptionConfiguration of the bucket: the default algorithm of each rule. */
    readonly encryptionAlgorithms: readonly (readonly (string | undefined)[])[];
    /** Per aws.s3.BucketPublicAccessBlock of the bucket: its four flags. */
    readonly publicAccessBlocks: readonly PublicAccessBlockFlags[];
    /** Per aws.s3.BucketPolicy of the bucket: whether it refuses requests without TLS; undefined while its document is not known. */
    readonly tlsOnlyPolicies: readonly (boolean | undefined)[];
}

export interface PublicAccessBlockFlags {
    readonly blockPublicAcls?: boolean;
    readonly blockPublicPolicy?: boolean;
    readonly ignorePublicAcls?: boolean;
    readonly restrictPublicBuckets?: boolean;
}

const PUBLIC_ACCESS_FLAGS = ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"] as const;

/** What a bucket lacks, one sentence per gap; empty when it is versioned, encrypted and private. */
export function bucketProtectionGaps(protection: BucketProtection): string[] {
    const gaps: string[] = [];
    if (!protection.versioningStatuses.includes("Enabled")) {
        gaps.push(`has no versioning: add an aws.s3.BucketVersioning for it with versioningConfiguration.status "Enabled"`);
    }
    if (!protection.encryptionAlgorithms.some((rules) => rules.some((algorithm) => typeof algorithm === "string" && algorithm !== ""))) {
        gaps.push("has no default encryption: add an aws.s3.BucketServerSideEncryptionConfiguration for it with a rule's applyServerSideEncryptionByDefault.sseAlgorithm");
    }
    if (!protection.publicAccessBlocks.some((flags) => PUBLIC_ACCESS_FLAGS.every((flag) => flags[flag] === true))) {
        gaps.push(`has no complete public access block: add an aws.s3.BucketPublicAccessBlock for it with ${PUBLIC_ACCESS_FLAGS.join(", ")} all true`);
    }
    if (!protection.tlsOnlyPolicies.some((tlsOnly) => tlsOnly !== false)) {
        gaps.push(`accepts requests without TLS: add an aws.s3.BucketPolicy for it that denies s3:* to every principal on the bucket and its objects when aws:SecureTransport is "false"`);
    }
    return gaps;
}

// --- IAM policy documents --------------------------------------------------------------------------

/** One statement of an IAM policy document, as far as these rules read it. */
interface Statement {
    readonly Effect?: unknown;
    readonly Principal?: unknown;
    readonly Action?: unknown;
    readonly NotAction?: unknown;
    readonly Resource?: unknown;
    readonly NotResource?: unknown;
    readonly Condition?: unknown;
}

/** The statements of a policy document given as JSON text or as an object; none when it is neither. */
export function statementsOf(document: unknown): Statement[] {
    let parsed = document;
    if (typeof document === "string") {
        try {
            parsed = JSON.parse(document);
        } catch {
            return [];
        }
    }
    const statement = (parsed as { Statement?: unknown } | null)?.Statement;
    return [statement ?? []].flat().filter((item): item is Statement => typeof item === "object" && item !== null);
}

/** A policy element that may be one string or a list of them. */
const listOf = (value: unknown): string[] => [value ?? []].flat().filter((item): item is string => typeof item === "string");

/** IAM's wildcards: `*` any run of characters, `?` one. Actions compare without case, resources with. */
function iamMatch(pattern: string, value: string, ignoreCase: boolean): boolean {
    const source = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
    return new RegExp(`^${source}$`, ignoreCase ? "i" : "").test(value);
}

const grantsAction = (statement: Statement, action: string) => listOf(statement.Action).some((pattern) => iamMatch(pattern, action, true));

/** The value a condition gives `key` under `operator`, keys compared without case as IAM does; undefined if absent. */
function conditionValues(statement: Statement, operators: readonly string[], key: string): string[] | undefined {
    const condition = statement.Condition;
    if (typeof condition !== "object" || condition === null) {
        return undefined;
    }
    for (const [operator, entries] of Object.entries(condition)) {
        if (!operators.includes(operator) || typeof entries !== "object" || entries === null) {
            continue;
        }
        const found = Object.entries(entries).find(([name]) => name.toLowerCase() === key.toLowerCase());
        if (found !== undefined) {
            return listOf(found[1]);
        }
    }
    return undefined;
}

/**
 * Whether a bucket policy refuses every request made without TLS: a Deny of `s3:*` (or `*`) to every
 * principal, on the bucket and its objects, when `aws:SecureTransport` is false. When the bucket's
 * ARN is not known yet, any resource pair `X` and `X/*` is taken for it.
 */
export function deniesInsecureTransport(document: unknown, bucketArn: string | undefined): boolean {
    return statementsOf(document).some((statement) => {
        const principal = statement.Principal;
        const everyone = principal === "*" || listOf((principal as { AWS?: unknown } | undefined)?.AWS).includes("*");
        const resources = listOf(statement.Resource);
        const covers = (arn: string) => resources.includes("*") || (resources.includes(arn) && resources.includes(`${arn}/*`));
        return (
            statement.Effect === "Deny" &&
            everyone &&
            statement.Condition !== undefined &&
            listOf(statement.Action).some((action) => action === "*" || action.toLowerCase() === "s3:*") &&
            (conditionValues(statement, ["Bool"], "aws:SecureTransport") ?? []).some((value) => value.toLowerCase() === "false") &&
            (bucketArn !== undefined ? covers(bucketArn) : resources.some((arn) => covers(arn)))
        );
    });
}

/**
 * Actions that erase backups: deleting an object or a version, the bucket, or setting a lifecycle
 * rule, which is a delete with a delay.
 */
const ERASING_ACTIONS = ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:DeleteBucket", "s3:PutLifecycleConfiguration"] as const;
/** The key of an object in a stack's point-in-time repository (components/backups/pitr.ts). */
const PITR_REPOSITORY_KEY = new RegExp(`^[^/*]+/${PITR.bucketFolder}/\\*$`);
const READ_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion"] as const;
/** A tag can make the bucket's lifecycle expire an object, so tagging is held to a host's own keys. */
const TAGGING_ACTIONS = ["s3:PutObjectTagging", "s3:PutObjectVersionTagging"] as const;

/** The object-key part of an S3 object ARN (`arn:aws:s3:::bucket/key`), or `*` for a resource that names every object. */
function objectKeyOf(resource: string): string | undefined {
    if (resource === "*") {
        return "*";
    }
    const match = /^arn:[^:]+:s3:::[^/]*\/(.*)$/.exec(resource);
    return match?.[1] ?? (/^arn:[^:]+:s3:::\*$/.test(resource) ? "*" : undefined);
}

/**
 * What a host role's policy grants beyond its own backups, one sentence each; empty when nothing.
 * A host may not erase anything (ERASING_ACTIONS); it may read and tag only keys it may also write,
 * never every object of a bucket; it may list a bucket only under its own keys (an `s3:prefix`
 * condition). NotAction and NotResource grant everything they do not name, so they are refused.
 */
export function hostRoleGaps(document: unknown): string[] {
    const allows = statementsOf(document).filter((statement) => statement.Effect === "Allow");
    const gaps: string[] = [];
    if (allows.some((statement) => statement.NotAction !== undefined || statement.NotResource !== undefined)) {
        gaps.push("allows by NotAction or NotResource, which grants everything it does not name");
    }
    const resourcesFor = (actions: readonly string[]) => [
        ...new Set(allows.filter((statement) => actions.some((action) => grantsAction(statement, action))).flatMap((statement) => listOf(statement.Resource))),
    ];
    const writable = resourcesFor(["s3:PutObject"]);
    // pgBackRest expires its own old backups and WAL in the point-in-time repository, so a host may delete
    // there, and only there, in a folder it writes; the bucket's versioning keeps what it deletes.
    const expiresOwnRepository = (statement: Statement, action: string) =>
        action === "s3:DeleteObject" &&
        listOf(statement.Resource).every((resource) => writable.includes(resource) && PITR_REPOSITORY_KEY.test(objectKeyOf(resource) ?? ""));
    const erasing = ERASING_ACTIONS.filter((action) => allows.some((statement) => grantsAction(statement, action) && !expiresOwnRepository(statement, action)));
    if (erasing.length > 0) {
        gaps.push(`may erase backups (${erasing.join(", ")})`);
    }
    for (const resource of resourcesFor(READ_ACTIONS)) {
        if (objectKeyOf(resource) === "*") {
            gaps.push(`may read every object of ${resource === "*" ? "every bucket" : resource.replace(/\/\*$/, "")}`);
        } else if (!writable.includes(resource)) {
            gaps.push(`may read ${resource}, which it does not write: a host reads only its own backups`);
        }
    }
    for (const resource of resourcesFor(TAGGING_ACTIONS).filter((candidate) => !writable.includes(candidate))) {
        gaps.push(`may tag ${resource}, which it does not write: a tag can make the lifecycle expire another host's backups`);
    }
    const ownKeys = writable.map(objectKeyOf).filter((key): key is string => key !== undefined);
    // s3:ListBucket acts on a bucket's ARN; granted on object ARNs (by a wildcard action) it grants nothing.
    const isBucketLevel = (resource: string) => resource === "*" || /^arn:[^:]+:s3:::[^/]+$/.test(resource);
    for (const statement of allows.filter((candidate) => grantsAction(candidate, "s3:ListBucket") && listOf(candidate.Resource).some(isBucketLevel))) {
        const prefixes = conditionValues(statement, ["StringLike", "StringEquals"], "s3:prefix");
        if (prefixes === undefined) {
            gaps.push(`may list every key of ${listOf(statement.Resource).filter(isBucketLevel).join(", ")}: add a StringLike condition on s3:prefix with the host's own folders`);
        } else {
            // A folder's own name (`a/b` for `a/b/*`) lists only what is in it, as its tools list it.
            const isOwn = (candidate: string) => ownKeys.some((own) => iamMatch(own, candidate.replace(/\*$/, ""), false) || own === `${candidate}/*`);
            for (const prefix of prefixes.filter((candidate) => !isOwn(candidate))) {
                gaps.push(`may list under "${prefix}", which it does not write`);
            }
        }
    }
    return gaps;
}

// --- Secrets in user data --------------------------------------------------------------------------

/** The armour line of a PEM private key of any kind: PKCS#8, RSA, EC, OpenSSH, encrypted. */
export const PEM_PRIVATE_KEY = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/;

/** An AWS access key id, long-term (AKIA) or temporary (ASIA): the visible half of a credential. */
const AWS_ACCESS_KEY_ID = /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/;

/** Words that name a credential. In user data any of them is refused, whatever follows it. */
const CREDENTIAL_WORD = /password|passwd|passphrase|secret|token|private[_-]?key|api[_-]?key/i;

/**
 * What makes user data look secret, or undefined when nothing does. The rule is by form, strict on
 * purpose: this program puts nothing in user data (hosts are configured over SSH, secrets on stdin),
 * EC2 serves user data to every process on the host, and @pulumi/aws 7 keeps it in clear text in
 * the state. So a private key, an access key id, or merely a credential's name is refused.
 */
export function secretMaterialInUserData(text: string): string | undefined {
    if (PEM_PRIVATE_KEY.test(text)) {
        return "a PEM private key";
    }
    if (AWS_ACCESS_KEY_ID.test(text)) {
        return "an AWS access key id";
    }
    const word = CREDENTIAL_WORD.exec(text);
    return word ? `the credential word "${word[0]}"` : undefined;
}

/** The text of `userDataBase64`, gunzipped when it is gzip (cloud-init accepts both). */
export function decodeUserDataBase64(encoded: string): string {
    const bytes = Buffer.from(encoded, "base64");
    const gzip = bytes.length > 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
    return (gzip ? gunzipSync(bytes) : bytes).toString("utf8");
}

// --- Secrets in remote command strings -------------------------------------------------------------

/**
 * Values shorter than this are not looked for in command strings: they would match ordinary words
 * of the host scripts. Every secret this program generates is 32 or 64 characters long.
 */
export const MIN_SECRET_LENGTH = 8;

/** A value the stack holds as secret, and where it comes from (for the violation message). */
export interface SecretValue {
    readonly value: string;
    readonly source: string;
}

/**
 * Double-quoted values assigned to credential-named keys, in the three notations this program's
 * stdin payloads use: gitlab.rb (`gitlab_rails['smtp_password'] = "..."`), Ruby hashes
 * (`"MM_EMAILSETTINGS_SMTPPASSWORD" => "..."`) and JSON (`"secret":"..."`).
 */
const QUOTED_ASSIGNMENT = /["']?([A-Za-z0-9_.-]+)["']?\]?\s*(?:=>|=|:)\s*"((?:[^"\\\n]|\\.)*)"/g;

/** Key names that hold a credential: ...password, ...secret, ...token, ...key of a secret kind. */
const CREDENTIAL_KEY = /(?:pass(?:word|wd|phrase)|secret|token|(?:private|encryption|api|signing)[_-]?key)$/i;

/** The credential values written in `text`, unescaped, with their key names. */
export function credentialAssignments(text: string): { key: string; value: string }[] {
    const found: { key: string; value: string }[] = [];
    for (const match of text.matchAll(QUOTED_ASSIGNMENT)) {
        const [, key, literal] = match;
        if (CREDENTIAL_KEY.test(key)) {
            found.push({ key, value: unescapeQuoted(literal) });
        }
    }
    return found;
}

/** JSON and the escaped Ruby literals gitlab.rb is rendered with share their escapes for ASCII. */
function unescapeQuoted(literal: string): string {
    try {
        return JSON.parse(`"${literal}"`) as string;
    } catch {
        return literal;
    }
}

/** What in a command string is secret: a PEM private key, or any of `secrets`, by source. */
export function secretsInCommandString(text: string, secrets: readonly SecretValue[]): string[] {
    const found = new Set<string>();
    if (PEM_PRIVATE_KEY.test(text)) {
        found.add("a PEM private key");
    }
    for (const secret of secrets) {
        if (secret.value.length >= MIN_SECRET_LENGTH && text.includes(secret.value)) {
            found.add(secret.source);
        }
    }
    return [...found];
}
