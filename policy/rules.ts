// The rules behind the policies, as pure functions over plain values: no Pulumi types, no I/O.
// policies.ts reads resource properties and hands them here; the tests call these directly too.

import { gunzipSync } from "node:zlib";

// --- Architecture ----------------------------------------------------------------------------------

/**
 * Instance families built on AWS Graviton (arm64): `a1`, and every family whose generation digit is
 * followed by a `g` (t4g, m7g, c7gn, r8gd, im4gn). The program refuses the same pattern when it
 * reads its configuration (components/config.ts, ARM_FAMILY) and then asks EC2 for each type's
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

/** A CIDR of prefix length 0 covers its whole address family: 0.0.0.0/0, ::/0 and their spellings. */
function coversEveryAddress(cidr: string): boolean {
    return /\/0+$/.test(cidr.trim());
}

/** The source ranges through which `permission` opens SSH to the whole internet; empty if none. */
export function worldOpenSshSources(permission: IngressPermission): string[] {
    return letsSshThrough(permission) ? permission.cidrs.filter(coversEveryAddress) : [];
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
