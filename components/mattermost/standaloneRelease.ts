// The Mattermost release a standalone host installs: its configuration keys checked against the
// release data (version, edition, licence, checksum, PostgreSQL), and which edition and licence give
// GitLab sign-in, for the preview. Pure module: no cloud SDK, no Pulumi runtime.

import { ConfigError } from "../settings/configError";
import { DEFAULTS, type MattermostMode, type StandaloneMattermost, type Topology } from "../settings/settings";
import {
    ENTRY_MESSAGE_HISTORY_LIMIT,
    MATTERMOST_DATA_CHECKED,
    SUGGESTED_MATTERMOST,
    TEAM_EDITION_WITHOUT_GITLAB_SIGN_IN,
    postgresqlNeeded,
    tarballSha256,
    tarballUrl,
    type MattermostEdition,
} from "../versions/mattermostReleases";
import { HOST_OS, compareVersions, formatVersion, parseVersion } from "../versions/versions";

/** The mattermost.* fields that only the standalone mode reads. */
export const STANDALONE_FIELDS = ["version", "edition", "license", "checksum", "removeBundledData"] as const;
/** The mattermost.* fields that only Omnibus reads (the bundled mode's account ids). */
export const BUNDLED_FIELDS = ["uid", "gid"] as const;

const MODES: readonly MattermostMode[] = ["bundled", "standalone"];
const EDITIONS: readonly MattermostEdition[] = ["enterprise", "team"];
const SHA256 = /^[0-9a-f]{64}$/;

/**
 * `mattermost.mode` as written, or undefined when absent (the default depends on gitlab.version).
 * `standalone` needs topology split: the standalone host is the split topology's second host.
 */
export function readMattermostMode(value: unknown, topology: Topology): MattermostMode | undefined {
    if (value === undefined) {
        return undefined;
    }
    if (!MODES.includes(value as MattermostMode)) {
        throw new ConfigError("mattermost.mode", `must be "bundled" (the Mattermost in GitLab's package, up to GitLab 18.11) or "standalone" (Mattermost's own release on a host of its own), got ${JSON.stringify(value)}.`);
    }
    if (value === "standalone" && topology !== "split") {
        throw new ConfigError(
            "mattermost.mode",
            `is standalone, which needs topology split (a host for GitLab and one for Mattermost), but topology is ${topology}. Set both: pulumi config set topology split, or keep mattermost.mode bundled.`,
        );
    }
    return value as MattermostMode;
}

/** Refuses fields of the other mode: set but never read, they would mislead. */
export function checkModeFields(mode: MattermostMode, fields: Readonly<Record<string, unknown>>): void {
    const foreign = mode === "standalone" ? BUNDLED_FIELDS : STANDALONE_FIELDS;
    const field = foreign.find((name) => fields[name] !== undefined);
    if (field === undefined) {
        return;
    }
    const why =
        mode === "standalone"
            ? "it sets the account ids of the Mattermost in GitLab's package (Omnibus's mattermost['uid'|'gid']), and the standalone host has no Omnibus"
            : "it describes the Mattermost release a standalone host installs, and mattermost.mode is bundled (Mattermost comes with GitLab's package)";
    throw new ConfigError(`mattermost.${field}`, `applies only to mattermost.mode ${mode === "standalone" ? "bundled" : "standalone"}: ${why}. Remove it (pulumi config rm --path mattermost.${field}), or change mattermost.mode.`);
}

/** The host's PostgreSQL major, from Ubuntu's own packages (noble ships postgresql-16). */
export const STANDALONE_POSTGRESQL_MAJOR = HOST_OS.postgresqlMajor;

/** Reads and checks the standalone release: `fields` is the mattermost object as configured. */
export function readStandaloneMattermost(fields: Readonly<Record<string, unknown>>, postgresqlMajor: number = STANDALONE_POSTGRESQL_MAJOR): StandaloneMattermost {
    const text = fields.version;
    if (text === undefined) {
        throw new ConfigError("mattermost.version", `is required with mattermost.mode standalone: the exact Mattermost server version to install, such as ${SUGGESTED_MATTERMOST}. Set it with: pulumi config set --path mattermost.version ${SUGGESTED_MATTERMOST}`);
    }
    const version = typeof text === "string" ? parseVersion(text) : undefined;
    if (version === undefined) {
        throw new ConfigError("mattermost.version", `must be an exact version x.y.z such as ${SUGGESTED_MATTERMOST}, got ${JSON.stringify(text)}.`);
    }
    const edition = (fields.edition ?? DEFAULTS.mattermost.edition) as MattermostEdition;
    if (!EDITIONS.includes(edition)) {
        throw new ConfigError("mattermost.edition", `must be "enterprise" (the Enterprise build: Mattermost Entry without a licence, or the plan of mattermost.license) or "team" (Team Edition), got ${JSON.stringify(fields.edition)}.`);
    }
    if (edition === "team" && compareVersions(version, TEAM_EDITION_WITHOUT_GITLAB_SIGN_IN) >= 0) {
        throw new ConfigError(
            "mattermost.edition",
            `is team, but Team Edition ${formatVersion(TEAM_EDITION_WITHOUT_GITLAB_SIGN_IN).replace(/\.0\.0$/, "")} and later has no GitLab sign-in, so nobody could sign in through GitLab on Mattermost ${formatVersion(version)}. Choose enterprise (free as Mattermost Entry without a licence, or licensed with mattermost.license), or remove mattermost.edition to get enterprise.`,
        );
    }
    const license = fields.license;
    if (license !== undefined && (typeof license !== "string" || license.trim() === "")) {
        throw new ConfigError("mattermost.license", "must be the contents of a Mattermost licence file. Set it as a secret: pulumi config set --secret --path mattermost.license \"$(cat mattermost.mattermost-license)\"");
    }
    if (license !== undefined && edition === "team") {
        throw new ConfigError("mattermost.license", "is set, but Team Edition cannot use a licence. Set mattermost.edition to enterprise, or remove mattermost.license.");
    }
    const published = tarballSha256(version, edition);
    const checksum = fields.checksum;
    if (checksum !== undefined && (typeof checksum !== "string" || !SHA256.test(checksum.toLowerCase()))) {
        throw new ConfigError("mattermost.checksum", `must be a SHA-256 in hex (64 characters), as Mattermost publishes it for the release tarball, got ${JSON.stringify(checksum)}.`);
    }
    if (checksum !== undefined && published !== undefined && checksum.toLowerCase() !== published) {
        throw new ConfigError(
            "mattermost.checksum",
            `is ${checksum}, but Mattermost published ${published} for ${tarballUrl(version, edition)}. Remove mattermost.checksum to use the published value.`,
        );
    }
    const sha256 = published ?? (checksum as string | undefined)?.toLowerCase();
    if (sha256 === undefined) {
        throw new ConfigError(
            "mattermost.checksum",
            `is required for Mattermost ${formatVersion(version)} (${edition}): this program knows no published checksum for it (release data checked up to ${MATTERMOST_DATA_CHECKED}), and the download is installed only once its SHA-256 matches. Copy the SHA-256 from Mattermost's version archive for ${tarballUrl(version, edition)}: pulumi config set --path mattermost.checksum <sha256>, or choose a version the data knows, such as ${SUGGESTED_MATTERMOST}.`,
        );
    }
    const needed = postgresqlNeeded(version);
    if (needed > postgresqlMajor) {
        throw new ConfigError(
            "mattermost.version",
            `is ${formatVersion(version)}, which needs PostgreSQL ${needed} or later, and the Mattermost host runs PostgreSQL ${postgresqlMajor} from ${HOST_OS.name}. Choose an older Mattermost version.`,
        );
    }
    const removeBundledData = fields.removeBundledData;
    if (removeBundledData !== undefined && typeof removeBundledData !== "boolean") {
        throw new ConfigError("mattermost.removeBundledData", `must be true or false, got ${JSON.stringify(removeBundledData)}. true removes the bundled Mattermost's database and folders from its old host once the move is complete and a newer backup of the standalone Mattermost exists.`);
    }
    return { version, edition, sha256, ...(license === undefined ? {} : { license }), ...(removeBundledData === true ? { removeBundledData } : {}) };
}

/** What the preview says about GitLab sign-in, and a warning when the choice has a cost. */
export interface SignInSummary {
    /** One line for the `mattermostSignIn` output. */
    readonly signIn: string;
    /** A warning for the preview, when the edition limits something. */
    readonly warning?: string;
}

/**
 * Which edition and licence provide GitLab sign-in. Entry (enterprise without a licence) shows only the
 * newest 10,000 channel messages ([D] editions-and-offerings: the limit is carried by the Entry licence).
 * `messageCount` is the number of messages in the database, when it is known (a migrated stack).
 */
export function describeSignIn(mode: MattermostMode, standalone: StandaloneMattermost | undefined, messageCount?: number): SignInSummary {
    if (mode === "bundled" || standalone === undefined) {
        return { signIn: "bundled Mattermost from GitLab's package: GitLab sign-in configured by Omnibus" };
    }
    const version = formatVersion(standalone.version);
    if (standalone.edition === "team") {
        return { signIn: `Team Edition ${version}: GitLab sign-in through OAuth 2.0 (Team Edition 11 and later no longer offers it)` };
    }
    if (standalone.license !== undefined) {
        return { signIn: `Enterprise build ${version} with the licence in mattermost.license: GitLab sign-in as the licensed plan provides it` };
    }
    const count = messageCount === undefined ? "the number of messages this stack holds is not known at preview (a fresh stack holds none)" : `this stack holds ${messageCount} messages`;
    const over = messageCount !== undefined && messageCount > ENTRY_MESSAGE_HISTORY_LIMIT;
    return {
        signIn: `Enterprise build ${version} without a licence, running as Mattermost Entry: GitLab sign-in works; only the newest ${ENTRY_MESSAGE_HISTORY_LIMIT} channel messages are shown`,
        warning:
            `mattermost.license is not set, so Mattermost ${version} runs as Entry: it shows and searches only the newest ${ENTRY_MESSAGE_HISTORY_LIMIT} channel messages across all channels (older ones stay in the database, hidden); ${count}.` +
            `${over ? " Older messages will be hidden." : ""} Set mattermost.license (a Professional licence or higher) to lift the limit.`,
    };
}
