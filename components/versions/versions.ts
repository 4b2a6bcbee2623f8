// GitLab version facts the program depends on, kept as data.
// Sources: omnibus-gitlab tags and commits, as cited on each entry.
// Pure module: no cloud SDK, no Pulumi runtime.

/**
 * The date up to which this data was checked: omnibus-gitlab as of master 440b1f83 (2026-08-21),
 * 18-11-stable 9c5567be (2026-08-17), newest tag 19.3.0. A release after this date is unknown here.
 */
export const VERSION_DATA_CHECKED = "2026-08-21";

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
    /** Ubuntu's own PostgreSQL (postgresql-16 in noble), which the standalone Mattermost host runs. */
    postgresqlMajor: 16,
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

/** What Omnibus does with a gitlab.rb key from the version on that no longer reads it. */
export type RemovedKeyEffect =
    /** Reconfigure, and the package's pre-install check-config, abort: the key must leave the file first. */
    | "aborts"
    /** The key is still accepted, but nothing reads it: the setting silently stops having an effect. */
    | "ignored";

/** The end of a key's life, when it has one. */
type KeyEnd =
    | {
          /** First version that no longer reads the key (exclusive end of its life). */
          readonly until: Version;
          /** What that version and later ones do with a file that still sets the key. */
          readonly afterUntil: RemovedKeyEffect;
      }
    | {
          /** The key is still read by the newest version the data knows. */
          readonly until?: undefined;
          /** Nothing happens to a key that is still read. */
          readonly afterUntil?: undefined;
      };

/** When a gitlab.rb key exists: `since` inclusive, `until` exclusive. Absent bounds are open. */
export type KeyLifetime = KeyEnd & {
    /** First version that reads the key; absent when every version in the data reads it. */
    readonly since?: Version;
    /** Release that deprecated the key: it still works there, and reconfigure warns about it. */
    readonly deprecatedIn?: Version;
    /** Where the fact comes from. */
    readonly source: string;
};

/** Written in KEY_LIFETIMES after a block name, a rule for every attribute of that block. */
const WHOLE_BLOCK = "[...]";

/**
 * gitlab.rb keys whose existence depends on the version, written as the renderer writes them
 * (`mattermost['gitlab_id']`, `external_url`), or as `block[...]` for every attribute of a block.
 * A key is read by a version only if every rule that applies to it (its own and its block's) says so.
 * Every key the program writes and that is not covered here exists in every version from 14.0 to 18.11
 * (omnibus gitlab.rb.template). This one table serves both the renderer and the upgrade guard.
 */
export const KEY_LIFETIMES: Readonly<Record<string, KeyLifetime>> = {
    "grafana[...]": {
        until: known("17.1.0"),
        afterUntil: "aborts",
        deprecatedIn: known("16.0.0"),
        source:
            "omnibus 5d11d3de deprecated bundled Grafana in 16.0; 2bb9ea5d removed attribute('grafana'), so from 17.1 " +
            "any grafana[...] line aborts reconfigure with UnknownConfigOptionError",
    },
    "mattermost[...]": {
        until: MATTERMOST_REMOVED_IN,
        afterUntil: "aborts",
        source:
            "omnibus 48713b99 dropped bundled Mattermost in 19.0; package/libraries/deprecations.rb reports mattermost[...] " +
            "as a removal in 19.0 (any non-empty block in 19.0-19.2, an enabled one from 19.3), which aborts reconfigure " +
            "and, through preinst check-config, the package upgrade",
    },
    "mattermost_nginx[...]": {
        until: MATTERMOST_REMOVED_IN,
        afterUntil: "ignored",
        source: "omnibus 48713b99 removed the Mattermost vhost in 19.0; attribute('mattermost_nginx') stays registered, so the keys are accepted and ignored",
    },
    mattermost_external_url: {
        deprecatedIn: MATTERMOST_REMOVED_IN,
        source:
            "omnibus package/libraries/deprecations.rb at 19.0: deprecated, removal planned for 20.0; from 19.0 it enables " +
            "nothing and is only a fallback for gitlab.yml's mattermost.host",
    },
    "mattermost['register_as_oauth_app']": {
        since: known("15.4.0"),
        source: "omnibus mattermost/attributes/default.rb, added in 15.4",
    },
};

/** The rules that apply to `key`: its own entry and its block's. */
function lifetimesOf(key: string): KeyLifetime[] {
    const bracket = key.indexOf("[");
    const block = bracket > 0 ? KEY_LIFETIMES[key.slice(0, bracket) + WHOLE_BLOCK] : undefined;
    return [KEY_LIFETIMES[key], block].filter((rule): rule is KeyLifetime => rule !== undefined);
}

/** Whether `version` reads the gitlab.rb key `key` (written like `grafana['enable']`). */
export function keyExists(key: string, version: Version): boolean {
    return lifetimesOf(key).every((lifetime) => {
        const afterStart = !lifetime.since || compareVersions(version, lifetime.since) >= 0;
        const beforeEnd = !lifetime.until || compareVersions(version, lifetime.until) < 0;
        return afterStart && beforeEnd;
    });
}

/** How an upgrade changes what GitLab makes of one key in the current gitlab.rb. */
export interface KeyChange {
    /** The key, as written in the file. */
    readonly key: string;
    /**
     * `aborts`: from `version` on, the file is refused (the upgrade must not start while the key is there);
     * `ignored`: from `version` on, the key has no effect; `deprecated`: it works, with a warning.
     */
    readonly change: RemovedKeyEffect | "deprecated";
    /** The first version of the walk that shows the change. */
    readonly version: Version;
    /** Where the fact comes from. */
    readonly source: string;
}

/**
 * What an upgrade from `from` to `to` does to the keys of the current gitlab.rb (`keysInFile`, which
 * `from` reads): every removal or deprecation that takes effect after `from` and at or before `to`.
 * Because lifetimes are intervals, this covers every intermediate stop of the walk too. Ordered by
 * version, then key. A key that `from` does not read is not reported: the renderer never writes one.
 */
export function keyChangesBetween(from: Version, to: Version, keysInFile: Iterable<string>): KeyChange[] {
    const within = (v: Version) => compareVersions(from, v) < 0 && compareVersions(v, to) <= 0;
    const changes: KeyChange[] = [];
    for (const key of new Set(keysInFile)) {
        if (!keyExists(key, from)) {
            continue;
        }
        for (const lifetime of lifetimesOf(key)) {
            if (lifetime.deprecatedIn && within(lifetime.deprecatedIn)) {
                changes.push({ key, change: "deprecated", version: lifetime.deprecatedIn, source: lifetime.source });
            }
            if (lifetime.until !== undefined && within(lifetime.until)) {
                changes.push({ key, change: lifetime.afterUntil, version: lifetime.until, source: lifetime.source });
            }
        }
    }
    return changes.sort((a, b) => compareVersions(a.version, b.version) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

// ---- Release lines, required upgrade stops and bundled Mattermost --------------------------------

/** A release line, x.y: the x.y.0 release and its patch releases. A Version is also a ReleaseLine. */
export interface ReleaseLine {
    readonly major: number;
    readonly minor: number;
}

/** Negative, zero or positive, like a sort comparator; the patch of a Version is ignored. */
export function compareLines(a: ReleaseLine, b: ReleaseLine): number {
    return a.major - b.major || a.minor - b.minor;
}

export function formatLine(line: ReleaseLine): string {
    return `${line.major}.${line.minor}`;
}

/**
 * The release lines the data covers, as each major's last minor: 13.12, 14.10, 15.11, 16.11, 17.11 and
 * 18.11 are the last stop of their major in gitlab config/upgrade_path.yml, and the Mattermost table
 * below has every minor from 14.0 to 18.11 (omnibus tags). For 19.x, the newest line as of
 * VERSION_DATA_CHECKED is 19.3 (GITLAB_19_LINES); 19.x runs only beside a standalone Mattermost.
 */
export const LAST_MINOR_OF_MAJOR: Readonly<Record<number, number>> = { 13: 12, 14: 10, 15: 11, 16: 11, 17: 11, 18: 11, 19: 3 };

/** Whether `line` is a GitLab release line this data knows. */
export function isKnownLine(line: ReleaseLine): boolean {
    const lastMinor = LAST_MINOR_OF_MAJOR[line.major];
    return lastMinor !== undefined && line.minor <= lastMinor;
}

/** A required upgrade stop: an upgrade that crosses its line must install its latest patch first. */
export interface UpgradeStop {
    /** The version to install at this stop: the latest patch of its line, which GitLab asks for. */
    readonly latestPatch: Version;
    /** Absent for a stop every instance must make; for a conditional stop, the instances that must. */
    readonly condition?: string;
    /** Where the stop and its latest patch come from. */
    readonly source: string;
}

const GITLAB_19_STOPS_SOURCE =
    "gitlab doc/update/versions/gitlab_19_changes.md @55eb439f (required stops 19.2, 19.5, 19.8, 19.11); latest patch from the omnibus CHANGELOG and tags";
const UPGRADE_PATH_YML = "gitlab config/upgrade_path.yml; latest patch from omnibus tags";
const UPGRADE_PATHS_DOC = "gitlab doc/update/upgrade_paths.md (conditional, not in upgrade_path.yml); latest patch from omnibus tags";

function requiredStop(latestPatch: string): UpgradeStop {
    return { latestPatch: known(latestPatch), source: UPGRADE_PATH_YML };
}

function conditionalStop(latestPatch: string, condition: string, source: string): UpgradeStop {
    return { latestPatch: known(latestPatch), condition, source };
}

/**
 * GitLab's required upgrade stops from 13.0 to 18.11, oldest first, each at its latest patch.
 * The package enforces only the newest stop before it (preinst MIN_VERSION), so an upgrade has to walk
 * every stop itself, letting background migrations finish at each (doc/update/upgrade_paths.md).
 */
export const UPGRADE_STOPS: readonly UpgradeStop[] = [
    requiredStop("13.0.14"),
    requiredStop("13.1.11"),
    requiredStop("13.8.8"),
    requiredStop("13.12.15"),
    requiredStop("14.0.12"),
    requiredStop("14.3.6"),
    requiredStop("14.9.5"),
    requiredStop("14.10.5"),
    requiredStop("15.0.5"),
    conditionalStop("15.1.6", "instances with more than one web node", UPGRADE_PATHS_DOC),
    requiredStop("15.4.6"),
    requiredStop("15.11.13"),
    conditionalStop("16.0.10", "instances with many users or a large history of pipeline variables", UPGRADE_PATHS_DOC),
    conditionalStop("16.1.8", "instances with NPM packages in the package registry", UPGRADE_PATHS_DOC),
    conditionalStop("16.2.11", "instances with a large history of pipeline variables", UPGRADE_PATHS_DOC),
    requiredStop("16.3.9"),
    requiredStop("16.7.10"),
    requiredStop("16.11.10"),
    conditionalStop("17.1.8", "instances with a large ci_pipeline_messages table", `${UPGRADE_PATH_YML} (marked conditional there)`),
    requiredStop("17.3.7"),
    requiredStop("17.5.5"),
    requiredStop("17.8.7"),
    requiredStop("17.11.7"),
    requiredStop("18.2.8"),
    requiredStop("18.5.7"),
    requiredStop("18.8.11"),
    requiredStop("18.11.11"),
    { latestPatch: known("19.2.4"), source: GITLAB_19_STOPS_SOURCE },
];

/** The Mattermost version a GitLab release line bundles. */
export interface MattermostBundle {
    /** The GitLab release line. */
    readonly line: ReleaseLine;
    /** Mattermost version in the line's x.y.0 release. */
    readonly first: string;
    /** Mattermost version in the line's last patch release the data knows. */
    readonly last: string;
    /** The line's newest GitLab patch release, as of VERSION_DATA_CHECKED. */
    readonly lastPatch: Version;
}

function bundle(lastPatch: string, first: string, last: string = first): MattermostBundle {
    const patch = known(lastPatch);
    return { line: { major: patch.major, minor: patch.minor }, first, last, lastPatch: patch };
}

/**
 * Each GitLab line from 14.0 to 18.11, written as its newest patch (the newest omnibus `+ce.0` tag of the
 * line; 18.11.10 has a changelog entry but no tag and lies below 18.11.11), with the Mattermost it bundles:
 * omnibus config/software/mattermost.rb `default_version` at the first and last patch tag of each line
 * (CE and EE alike). Where GitLab's Mattermost doc disagrees (it gives 10.4 for 17.9), the tags win:
 * 17.9.x ships 10.2.3. Omnibus's 18-11-stable has no Mattermost bump after 10.11.20 up to
 * VERSION_DATA_CHECKED; a later 18.11 patch with a newer Mattermost is not in this data.
 */
export const BUNDLED_MATTERMOST: readonly MattermostBundle[] = [
    bundle("14.0.12", "5.35.3", "5.35.4"),
    bundle("14.1.8", "5.36.1"),
    bundle("14.2.7", "5.37.1"),
    bundle("14.3.6", "5.38.2", "5.38.4"),
    bundle("14.4.5", "5.39.0", "5.39.2"),
    bundle("14.5.4", "5.39.1", "5.39.3"),
    bundle("14.6.7", "6.1.0", "6.1.3"),
    bundle("14.7.7", "6.2.1", "6.2.5"),
    bundle("14.8.6", "6.3.3", "6.3.5"),
    bundle("14.9.5", "6.4.0", "6.4.3"),
    bundle("14.10.5", "6.5.0", "6.5.1"),
    bundle("15.0.5", "6.6.1"),
    bundle("15.1.6", "6.7.0", "6.7.1"),
    bundle("15.2.5", "7.0.1", "7.0.2"),
    bundle("15.3.5", "7.1.2", "7.1.3"),
    bundle("15.4.6", "7.2.0"),
    bundle("15.5.9", "7.3.0", "7.3.1"),
    bundle("15.6.8", "7.4.0", "7.4.1"),
    bundle("15.7.9", "7.5.1", "7.5.2"),
    bundle("15.8.6", "7.5.2"),
    bundle("15.9.8", "7.7.1", "7.7.4"),
    bundle("15.10.8", "7.8.1", "7.8.4"),
    bundle("15.11.13", "7.9.1", "7.9.4"),
    bundle("16.0.10", "7.10.0", "7.10.4"),
    bundle("16.1.8", "7.10.2", "7.10.5"),
    bundle("16.2.11", "7.10.3", "7.10.5"),
    bundle("16.3.9", "8.0.1", "8.0.3"),
    bundle("16.4.7", "8.1.0", "8.1.6"),
    bundle("16.5.10", "9.0.0", "9.0.4"),
    bundle("16.6.10", "9.1.0", "9.1.3"),
    bundle("16.7.10", "9.3.0", "9.3.2"),
    bundle("16.8.10", "9.3.0", "9.3.2"),
    bundle("16.9.11", "9.4.2", "9.4.3"),
    bundle("16.10.10", "9.5.1", "9.5.4"),
    bundle("16.11.10", "9.6.1", "9.6.2"),
    bundle("17.0.8", "9.7.1", "9.7.2"),
    bundle("17.1.8", "9.8.0", "9.8.2"),
    bundle("17.2.9", "9.9.0", "9.9.3"),
    bundle("17.3.7", "9.10.0", "9.10.3"),
    bundle("17.4.6", "9.11.0", "9.11.4"),
    bundle("17.5.5", "10.0.1", "10.0.2"),
    bundle("17.6.5", "10.1.2", "10.1.7"),
    bundle("17.7.7", "10.2.0", "10.2.3"),
    bundle("17.8.7", "10.2.0", "10.2.3"),
    bundle("17.9.8", "10.2.3"),
    bundle("17.10.8", "10.4.2", "10.4.5"),
    bundle("17.11.7", "10.6.1", "10.6.3"),
    bundle("18.0.6", "10.7.1"),
    bundle("18.1.6", "10.8.1"),
    bundle("18.2.8", "10.9.1"),
    bundle("18.3.6", "10.10.1", "10.10.2"),
    bundle("18.4.6", "10.10.2"),
    bundle("18.5.7", "10.10.2"),
    bundle("18.6.8", "10.11.5", "10.11.10"),
    bundle("18.7.7", "10.11.8", "10.11.12"),
    bundle("18.8.11", "10.11.8", "10.11.12"),
    bundle("18.9.8", "10.11.10", "10.11.17"),
    bundle("18.10.8", "10.11.12", "10.11.19"),
    bundle("18.11.11", "10.11.13", "10.11.20"),
];

/** What one GitLab version bundles, as precisely as the data tells. */
export type BundledMattermost =
    | {
          /** The version is a line's first or last known patch, or the whole line bundles one Mattermost. */
          readonly kind: "exact";
          /** The Mattermost version. */
          readonly version: string;
      }
    | {
          /** A patch between the line's first and last known patch: somewhere in this inclusive range. */
          readonly kind: "range";
          /** Mattermost in the line's x.y.0. */
          readonly lowest: string;
          /** Mattermost in the line's last known patch. */
          readonly highest: string;
      }
    | {
          /** A patch newer than the line's last known patch: that patch's Mattermost or newer. */
          readonly kind: "at-least";
          /** Mattermost in the line's last known patch. */
          readonly lowest: string;
      }
    | {
          /** GitLab 19.0 and later ship no Mattermost. */
          readonly kind: "none";
      };

/**
 * The Mattermost that GitLab `version` bundles, or undefined for a line the data does not cover
 * (before 14.0). Patch releases only ever move Mattermost forward, so a line whose first and last patch
 * bundle the same Mattermost bundles it in every patch.
 */
export function bundledMattermost(version: Version): BundledMattermost | undefined {
    if (compareVersions(version, MATTERMOST_REMOVED_IN) >= 0) {
        return { kind: "none" };
    }
    const entry = BUNDLED_MATTERMOST.find((candidate) => compareLines(candidate.line, version) === 0);
    if (!entry) {
        return undefined;
    }
    const lastPatch = entry.lastPatch;
    if (compareVersions(version, lastPatch) > 0) {
        return { kind: "at-least", lowest: entry.last };
    }
    if (version.patch === 0 || entry.first === entry.last) {
        return { kind: "exact", version: entry.first };
    }
    if (compareVersions(version, lastPatch) === 0) {
        return { kind: "exact", version: entry.last };
    }
    return { kind: "range", lowest: entry.first, highest: entry.last };
}

/** A BundledMattermost as a stack output shows it, e.g. `10.11.20` or `10.11.13 to 10.11.20`. */
export function formatBundledMattermost(bundled: BundledMattermost): string {
    switch (bundled.kind) {
        case "exact":
            return bundled.version;
        case "range":
            return `${bundled.lowest} to ${bundled.highest}`;
        case "at-least":
            return `${bundled.lowest} or later`;
        case "none":
            return `none (GitLab ${formatLine(MATTERMOST_REMOVED_IN)} removed bundled Mattermost)`;
    }
}

/**
 * The 19.x lines as of VERSION_DATA_CHECKED, each as its newest patch with a public tag (19.0.7, 19.1.5
 * and 19.2.3 are in the omnibus CHANGELOG but were never tagged publicly), from the omnibus CHANGELOG
 * headings and tags (mirror HEAD 440b1f83), corroborated by endoflife-date release-data @f626bdef.
 * Required stops of 19.x: 19.2, 19.5, 19.8 and 19.11 (REQUIRED_STOP_LINES_19); only 19.2 lies in the data.
 */
export const GITLAB_19_LINES: readonly Version[] = [known("19.0.8"), known("19.1.6"), known("19.2.4"), known("19.3.0")];

/** GitLab's required upgrade stops of major 19 (gitlab_19_changes.md); later ones than the data knows are listed for the docs. */
export const REQUIRED_STOP_LINES_19: readonly ReleaseLine[] = [known("19.2"), known("19.5"), known("19.8"), known("19.11")];

/** The newest known patch of every line, 14.0 and later. */
function newestPatches(): readonly Version[] {
    return [...BUNDLED_MATTERMOST.map((entry) => entry.lastPatch), ...GITLAB_19_LINES];
}

/** Whether GitLab released `version`, as far as the data knows: a known line, at or below its newest patch. */
export function isReleased(version: Version): boolean {
    const newest = newestPatchOf(version);
    return newest !== undefined && compareVersions(version, newest) <= 0;
}

/** The newest patch of `version`'s line, if the data knows the line. */
export function newestPatchOf(line: ReleaseLine): Version | undefined {
    return newestPatches().find((candidate) => compareLines(candidate, line) === 0);
}

/** The newest GitLab release the data knows. */
export function newestGitlab(): Version {
    return GITLAB_19_LINES[GITLAB_19_LINES.length - 1];
}

/**
 * The oldest installed version each package accepts: the preinst's MIN_VERSION (omnibus
 * config/templates/package-scripts/preinst.erb at the tags): 18.11 for 19.0.0 to 19.2.4, 19.2 for 19.3.0.
 * The walk through the stops satisfies it; the table lets a test prove that.
 */
export const PACKAGE_MINIMUM: readonly { readonly packagesFrom: Version; readonly needsInstalled: ReleaseLine }[] = [
    { packagesFrom: known("19.0.0"), needsInstalled: known("18.11") },
    { packagesFrom: known("19.3.0"), needsInstalled: known("19.2") },
];

/**
 * The PostgreSQL major each package needs running before it installs: 19.0.0 to 19.3.0 preinst
 * `pg_check` has PG_MIN_VERSION=17 and exits 1 below it, while 18.11 runs 16.14 by default (omnibus
 * config/software/postgresql*.rb at 18.11.11; `gitlab-ctl pg-upgrade -V 17` moves it, doc/settings/database.md).
 */
export const GITLAB_POSTGRESQL_MINIMUM: readonly { readonly packagesFrom: Version; readonly major: number; readonly source: string }[] = [
    { packagesFrom: known("19.0.0"), major: 17, source: "omnibus preinst.erb PG_MIN_VERSION=17 at 19.0.0, 19.2.4 and 19.3.0" },
];

/** The PostgreSQL major the package `version` needs, if it needs more than earlier versions ran. */
export function postgresqlNeededBy(version: Version): number | undefined {
    return [...GITLAB_POSTGRESQL_MINIMUM].reverse().find((rule) => compareVersions(version, rule.packagesFrom) >= 0)?.major;
}

/** A released patch that must not be installed, and why. */
export interface KnownBadPatch {
    readonly version: Version;
    readonly reason: string;
    readonly source: string;
}

/** Patches of the bundling lines that break a deployment like this one's. */
export const KNOWN_BAD_PATCHES: readonly KnownBadPatch[] = [
    {
        version: known("18.11.7"),
        reason:
            "its check for GitLab 19 counts any leftover mattermost[...] setting as a removal, even where Mattermost is off, " +
            "so the package upgrade out of 18.11 is refused on the hosts that have ever had a Mattermost setting",
        source: "omnibus 04634a75 (backport of the 19.0 deprecation entries, first in 18.11.7); fixed by MR !9594 (e240dfbc) in 18.11.8",
    },
    {
        version: known("18.11.8"),
        reason:
            "reconfigure enables bundled Mattermost by accident wherever gitlab.rb leaves mattermost['enable'] unset: its " +
            "deprecation check creates an empty, truthy entry, so the GitLab host of topology split starts a Mattermost of its own",
        source: "omnibus eb4afadb \"Do not enable Mattermost by accident\" (MR !9650), the fix released in 18.11.9",
    },
];

/** The known-bad entry for `version`, if it is one. */
export function knownBadPatch(version: Version): KnownBadPatch | undefined {
    return KNOWN_BAD_PATCHES.find((bad) => compareVersions(bad.version, version) === 0);
}

// ---- The GitLab plugin Mattermost prepackages ------------------------------------------------------

/** The GitLab plugin (com.github.manland.mattermost-plugin-gitlab) in Mattermost from `mattermostFrom` on. */
export interface PrepackagedGitlabPlugin {
    /** First Mattermost version that ships `plugin`; it ships it until the next entry's version. */
    readonly mattermostFrom: Version;
    readonly plugin: Version;
    readonly source: string;
}

/**
 * Prepackaged plugin versions, oldest first, for the Mattermost versions GitLab bundles (up to 10.11 ESR).
 * Mattermost 11 is never bundled, so its plugins (1.11.0 in 11.1, 1.12.0 in 11.5) are not listed.
 */
export const PREPACKAGED_GITLAB_PLUGIN: readonly PrepackagedGitlabPlugin[] = [
    {
        mattermostFrom: known("5.35.3"),
        plugin: known("1.10.0"),
        source:
            "1.10.0 or older: 1.11.0 was first prepackaged in 11.1 (mattermost PR #33867, 2025-09-10), so no bundled " +
            "Mattermost before the 10.11.14 backport ships a 1.11 or 1.12 plugin",
    },
    { mattermostFrom: known("10.11.14"), plugin: known("1.12.1"), source: "Mattermost v10.11.14 changelog (prepackaged GitLab plugin v1.12.1; mattermost PR #35595)" },
    { mattermostFrom: known("10.11.18"), plugin: known("1.12.2"), source: "Mattermost v10.11.18 changelog; 10.11.18 to 10.11.20 ship 1.12.2" },
    { mattermostFrom: known("10.11.21"), plugin: known("1.12.3"), source: "Mattermost v10.11.21 changelog" },
];

/**
 * Plugin versions that read the OAuth client id and secret only from the instances `/gitlab instance
 * install` stores, ignoring the settings this program writes. 1.12.1 reads the settings again when no
 * instance is stored (mattermost-plugin-gitlab v1.12.1, resolveOAuthCredentials).
 */
export const GITLAB_PLUGIN_IGNORING_SETTINGS: readonly Version[] = [known("1.12.0")];

/** The plugin versions GitLab `version`'s bundled Mattermost may ship, as precisely as the data tells. */
export function prepackagedGitlabPlugins(version: Version): Version[] {
    const bundled = bundledMattermost(version);
    if (bundled === undefined || bundled.kind === "none") {
        return [];
    }
    const [lowest, highest] = bundled.kind === "exact" ? [bundled.version, bundled.version] : bundled.kind === "range" ? [bundled.lowest, bundled.highest] : [bundled.lowest, undefined];
    const from = known(lowest);
    const to = highest === undefined ? undefined : known(highest);
    return PREPACKAGED_GITLAB_PLUGIN.filter((entry, index) => {
        const next = PREPACKAGED_GITLAB_PLUGIN[index + 1]?.mattermostFrom;
        const startsInTime = to === undefined || compareVersions(entry.mattermostFrom, to) <= 0;
        const lastsLongEnough = next === undefined || compareVersions(next, from) > 0;
        return startsInTime && lastsLongEnough;
    }).map((entry) => entry.plugin);
}

/** The first plugin `version`'s Mattermost may ship that ignores the settings this program writes. */
export function gitlabPluginIgnoringSettings(version: Version): Version | undefined {
    return prepackagedGitlabPlugins(version).find((plugin) => GITLAB_PLUGIN_IGNORING_SETTINGS.some((ignoring) => compareVersions(ignoring, plugin) === 0));
}
