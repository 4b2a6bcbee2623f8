// GitLab version facts the program depends on, kept as data.
// Sources: omnibus-gitlab tags and commits, as cited on each entry.
// Pure module: no cloud SDK, no Pulumi runtime.

/** A GitLab package version, x.y.z. */
export interface Version {
    readonly major: number;
    readonly minor: number;
    readonly patch: number;
}

const VERSION_PATTERN = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

/** Parses `x.y.z`; returns undefined for anything else. */
export function parseVersion(text: string): Version | undefined {
    const match = VERSION_PATTERN.exec(text);
    if (!match) {
        return undefined;
    }
    return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) };
}

/** Parses a version written in this module's own data; a typo there is a programming error. */
function known(text: string): Version {
    const version = parseVersion(text.split(".").length === 2 ? `${text}.0` : text);
    if (!version) {
        throw new Error(`invalid version in version data: ${text}`);
    }
    return version;
}

export function formatVersion(v: Version): string {
    return `${v.major}.${v.minor}.${v.patch}`;
}

/** Negative, zero or positive, like a sort comparator. */
export function compareVersions(a: Version, b: Version): number {
    return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/** The Debian package version string for an edition, e.g. `18.11.11-ee.0`. */
export function packageVersion(version: Version, edition: "ee" | "ce"): string {
    return `${formatVersion(version)}-${edition}.0`;
}

/**
 * Bundled Mattermost was removed from the Linux package in 19.0
 * (omnibus commit 48713b99, "Drop bundled Mattermost from Linux package", first tag 19.0.0).
 */
export const MATTERMOST_REMOVED_IN = known("19.0.0");

/** 18.11 is the last release line that bundles Mattermost (10.11 ESR). */
export const LAST_BUNDLING_LINE = "18.11";

/**
 * The host image: Ubuntu 24.04 LTS. GitLab publishes packages for it from 17.1 on
 * (gitlab doc/install/package/_index.md, supported platforms).
 */
export const HOST_OS = {
    name: "Ubuntu 24.04 LTS",
    codename: "noble",
    firstGitlab: known("17.1.0"),
    /** Canonical's AWS account, the only owner the AMI lookup trusts. */
    amiOwner: "099720109477",
    amiNamePattern: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*",
    sshUser: "ubuntu",
} as const;

/**
 * GitLab's apt repository and the key that signs it
 * (omnibus doc/update/package_signatures.md; key expiry extended to 2028-02-06).
 */
export const PACKAGE_REPOSITORY = {
    baseUrl: "https://packages.gitlab.com/gitlab",
    keyUrl: "https://packages.gitlab.com/gpgkey/gpg.key",
    keyFingerprint: "F6403F6544A38863DAA0B6E03F01618A51312F3F",
} as const;

/** When a gitlab.rb key exists: `since` inclusive, `until` exclusive. Absent bounds are open. */
export interface KeyLifetime {
    readonly since?: Version;
    readonly until?: Version;
    /** Where the fact comes from. */
    readonly source: string;
}

/**
 * gitlab.rb keys whose existence depends on the version. Every key the program writes and that is
 * not listed here exists in every version from 14.0 to 18.11 (omnibus gitlab.rb.template).
 */
export const KEY_LIFETIMES: Readonly<Record<string, KeyLifetime>> = {
    "grafana['enable']": {
        until: known("17.1.0"),
        source: "omnibus 2bb9ea5d removed attribute('grafana'); any grafana[...] line aborts reconfigure from 17.1",
    },
    "mattermost['register_as_oauth_app']": {
        since: known("15.4.0"),
        source: "omnibus mattermost/attributes/default.rb, added in 15.4",
    },
};

/** Whether `version` reads the gitlab.rb key `key` (written like `grafana['enable']`). */
export function keyExists(key: string, version: Version): boolean {
    const lifetime = KEY_LIFETIMES[key];
    if (!lifetime) {
        return true;
    }
    const afterStart = !lifetime.since || compareVersions(version, lifetime.since) >= 0;
    const beforeEnd = !lifetime.until || compareVersions(version, lifetime.until) < 0;
    return afterStart && beforeEnd;
}
