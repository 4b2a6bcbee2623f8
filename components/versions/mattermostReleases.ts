// Mattermost server releases the standalone host can install, kept as data, and the path an upgrade
// walks between them. Pure module: no cloud SDK, no Pulumi runtime.
//
// Sources: [D] mattermost/docs @9dd1c713 (2026-08-21): product-overview/mattermost-server-releases.md,
// mattermost-v10-changelog.md, mattermost-v11-changelog.md, version-archive.rst and its git history
// (the SHA-256 of each tarball as published while it was the newest patch of its line);
// [M] mattermost/mattermost docs/main/product-overview/*.mdx (releases after 2026-08-21, no checksums).

import { compareLines, compareVersions, formatLine, formatVersion, parseVersion, type ReleaseLine, type Version } from "./versions";

/**
 * The date up to which this data was checked. A release after it is unknown here: install it with
 * `mattermost.checksum`, the SHA-256 Mattermost publishes for its tarball.
 */
export const MATTERMOST_DATA_CHECKED = "2026-09-16";

/** The two server builds. `enterprise` without a licence runs as Mattermost Entry. */
export type MattermostEdition = "enterprise" | "team";

/** One Mattermost server release the program knows. */
export interface MattermostRelease {
    readonly version: Version;
    /** Release day, YYYY-MM-DD. */
    readonly released: string;
    /** Whether its line is an Extended Support Release. */
    readonly esr: boolean;
    /** Last day of support of its line, YYYY-MM-DD; absent where no source gives it. */
    readonly supportEnds?: string;
    /** The GitLab plugin version it prepackages, where a changelog names it. */
    readonly gitlabPlugin?: Version;
    /** SHA-256 of the linux-amd64 tarball per edition, where Mattermost published it. */
    readonly sha256: Partial<Readonly<Record<MattermostEdition, string>>>;
    readonly source: string;
}

function version(text: string): Version {
    const parsed = parseVersion(text);
    if (!parsed) {
        throw new Error(`invalid version in Mattermost release data: ${text}`);
    }
    return parsed;
}

const ARCHIVE = "[D] version-archive.rst history (checksums), mattermost-server-releases.md (dates, support)";

function release(v: string, released: string, esr: boolean, supportEnds: string | undefined, sha256: MattermostRelease["sha256"], extra: { gitlabPlugin?: string; source?: string } = {}): MattermostRelease {
    return {
        version: version(v),
        released,
        esr,
        ...(supportEnds === undefined ? {} : { supportEnds }),
        ...(extra.gitlabPlugin === undefined ? {} : { gitlabPlugin: version(extra.gitlabPlugin) }),
        sha256,
        source: extra.source ?? ARCHIVE,
    };
}

const ESR_10_11_END = "2026-08-15";
const ESR_11_7_END = "2027-05-15";

/**
 * The releases a standalone host may run, oldest first: 10.11.20 (what GitLab 18.11.7 to 18.11.11
 * bundle, so a migrated stack can start from it) and 10.11.23 (the newest 10.11), every 11.7 ESR patch
 * from 11.7.3 (the first with the fix for the 10.11 upgrade bug), and the newest 11.x and 12.0 known.
 */
export const MATTERMOST_RELEASES: readonly MattermostRelease[] = [
    release("10.11.20", "2026-06-12", true, ESR_10_11_END, {
        enterprise: "6585822553c41544d84b73e6971930704d3de2e35c36dac0fd749ed8d7e4e41d",
        team: "e7ba5c4fafa874a3f6d612a25946fa05dc8c90ca519d727ef3245236984bf4a5",
    }, { gitlabPlugin: "1.12.2" }),
    release("10.11.23", "2026-08-13", true, ESR_10_11_END, {
        enterprise: "c1560b3ac30179ae02f28ee53c4ba9632a092a7923ad150cfaa0a76c5f2290a3",
        team: "c20528c64fc1378b866040b10a05ddacff336cb87dd797a2be9cddf1a201cbd0",
    }, { gitlabPlugin: "1.12.3" }),
    release("11.7.3", "2026-06-12", true, ESR_11_7_END, {
        enterprise: "b3e460c8e79d00eeb6c667a2e830bd9f3c123530c7a73e2caf4dd7c86ce2cc0a",
        team: "fadb2ac6db5ae974f9a2bccd9cc9b781bd583d7258b3a11ae8bbe5ab6159f5e6",
    }),
    release("11.7.4", "2026-06-17", true, ESR_11_7_END, {
        enterprise: "69b507e0490317a1fd2952287c88ef44f84e3d52cf2ce4e578a0969f8b32c702",
        team: "7bc23552f77e10fe3c6a2bbcb5adecfcdfa8394a43e50380d2c6708d82ce9228",
    }),
    release("11.7.5", "2026-06-18", true, ESR_11_7_END, {
        enterprise: "7a2490baad197f43f2a1fe5f9ef3b7355c0754f450a158ab63409f30205cfceb",
        team: "dae515358366a2ac610ae1c424bd40752a0898b971d1517a499898965aaf527d",
    }),
    release("11.7.6", "2026-06-26", true, ESR_11_7_END, {
        enterprise: "264fccda79d59d64874508ebe825cc2a59c1f68f1dae1d9bbee03525db3e3eda",
        team: "70aef239d1ab5c4503ecbc89329fb74256472bcca1ee656a50a102899e589c44",
    }),
    release("11.7.7", "2026-07-17", true, ESR_11_7_END, {
        enterprise: "e498312ed51ab0d91a1b0f79bc927ef6b0b0b6cbc7905d8c96a7f9d329ea6d7c",
        team: "8324eee1f979863883a9c8e71112f2ec127037da81f4efb90639b56187c6b0f7",
    }),
    release("11.7.8", "2026-07-31", true, ESR_11_7_END, {
        enterprise: "afb7573c5effc7be298cd498e2424320e33388e8d87d9e48291179c82e0e0401",
        team: "0fc1637ca6cec0a53fc7112a22f67651dba50fe3667e5ed957acf0d3bbb9da93",
    }),
    release("11.7.9", "2026-08-13", true, ESR_11_7_END, {
        enterprise: "a22e631ae4a1f704c2bcf45ad8dcc377184081c50954a9269b7f62bd663a7a04",
        team: "df9b76ee40212c1552162486befc80f52ba9eefbde1ac6a490bdda4188ba54f0",
    }),
    // Published after the checked copy of the version archive: no checksum in this data.
    release("11.7.11", "2026-09-07", true, ESR_11_7_END, {}, { source: "[M] PR mattermost/mattermost#38388 (dot release docs for v11.7.11)" }),
    release("11.10.0", "2026-08-14", false, "2026-11-15", {
        enterprise: "8ae404ed0c0fbab2b01c00c031b9d0f3e17c51007e3bb3401bebaf3e60da0c3e",
        team: "376f4be1fcd83bd65ab3f4dc580ba87684e4caed93d357e965b95703854f7c05",
    }),
    release("11.11.0", "2026-09-16", false, "2026-12-15", {}, { source: "[M] mattermost-server-releases.mdx @0935e2ef" }),
    release("12.0.0", "2026-10-16", false, undefined, {}, { gitlabPlugin: "2.0.0", source: "[M] mattermost-v12-changelog.mdx @facab8ea, @073f7264" }),
];

/**
 * The version messages suggest: the newest patch of the supported ESR line (11.7, to 2027-05-15) whose
 * published checksums the data has for both editions.
 */
export const SUGGESTED_MATTERMOST = "11.7.9";

/** The Extended Support Release lines, oldest first: the only supported stops of a long upgrade. */
export const MATTERMOST_ESR_LINES: readonly ReleaseLine[] = [
    { major: 10, minor: 11 },
    { major: 11, minor: 7 },
];

/** The release `v`, if the data knows it. */
export function mattermostRelease(v: Version): MattermostRelease | undefined {
    return MATTERMOST_RELEASES.find((candidate) => compareVersions(candidate.version, v) === 0);
}

/** The published SHA-256 of `v`'s tarball in `edition`, if the data has it. */
export function tarballSha256(v: Version, edition: MattermostEdition): string | undefined {
    return mattermostRelease(v)?.sha256[edition];
}

/** Where Mattermost publishes the linux-amd64 tarball of `v` (its `.sig` lies beside it). */
export function tarballUrl(v: Version, edition: MattermostEdition): string {
    const text = formatVersion(v);
    return `https://releases.mattermost.com/${text}/mattermost-${edition === "team" ? "team-" : ""}${text}-linux-amd64.tar.gz`;
}

/**
 * Mattermost 11.0 took GitLab sign-in out of Team Edition ([D] v11 changelog, "GitLab SSO deprecated
 * from Team Edition"; PR mattermost/mattermost#33848). The Enterprise build has it, licensed or as Entry.
 */
export const TEAM_EDITION_WITHOUT_GITLAB_SIGN_IN = version("11.0.0");

/** Entry (the Enterprise build without a licence) shows only this many of the newest channel messages. */
export const ENTRY_MESSAGE_HISTORY_LIMIT = 10_000;

/**
 * "Do not upgrade from >=10.11.17 to <=11.7.2": a bug with database migration numbers ([D] v10 changelog,
 * known issue of 10.11). Fixed in 11.6.5, 11.7.3, 11.8.1 and 11.9.0 ([D] v11 changelog); 11.0 to 11.5
 * have no fixed patch. So from 10.11.17 on, a target below 11.9.0 must be at or above its line's fix.
 */
export const UPGRADE_BUG = {
    affectedFrom: version("10.11.17"),
    /** Lines that got the fix, with the first fixed patch; any other line below `fixedFrom` is affected. */
    fixedPatches: [version("11.6.5"), version("11.7.3"), version("11.8.1")],
    /** Every release from here on has the fix. */
    fixedFrom: version("11.9.0"),
    source: "[D] mattermost-v10-changelog.md (10.11 known issue) and mattermost-v11-changelog.md (11.6.5, 11.7.3, 11.8.1, 11.9.0)",
} as const;

/** Whether upgrading from `from` to `to` runs into the documented migration-number bug. */
export function hitsUpgradeBug(from: Version, to: Version): boolean {
    if (from.major !== 10 || compareVersions(from, UPGRADE_BUG.affectedFrom) < 0 || to.major < 11 || compareVersions(to, UPGRADE_BUG.fixedFrom) >= 0) {
        return false;
    }
    const fix = UPGRADE_BUG.fixedPatches.find((patch) => compareLines(patch, to) === 0);
    return fix === undefined || compareVersions(to, fix) < 0;
}

/**
 * PostgreSQL major a Mattermost version needs at least, newest rule first: 12.0 needs 15 ([M] v12
 * changelog, "minimum PostgreSQL 15"); 10.11 and 11.x run on 13 and later ([D] software requirements).
 */
export const MATTERMOST_POSTGRESQL_MINIMUM: readonly { readonly from: Version; readonly major: number }[] = [
    { from: version("12.0.0"), major: 15 },
    { from: version("10.11.0"), major: 13 },
];

/** The oldest PostgreSQL major `v` runs on. */
export function postgresqlNeeded(v: Version): number {
    return (MATTERMOST_POSTGRESQL_MINIMUM.find((rule) => compareVersions(v, rule.from) >= 0) ?? MATTERMOST_POSTGRESQL_MINIMUM[MATTERMOST_POSTGRESQL_MINIMUM.length - 1]).major;
}

/** Why a version is installed on the way. */
export type MattermostStepReason = "esr-stop" | "target";

export interface MattermostUpgradeStep {
    readonly version: Version;
    readonly reason: MattermostStepReason;
}

/** The walk, or a refusal that says why and what to do. */
export type MattermostUpgradePlan =
    | { readonly kind: "path"; readonly steps: readonly MattermostUpgradeStep[] }
    | { readonly kind: "refused"; readonly reason: "downgrade" | "upgrade-bug" | "no-esr-stop"; readonly problem: string; readonly remedy: string };

/**
 * The supported path from the installed Mattermost to the target: ESR to the next ESR is supported and
 * tested; skipping ESRs is "supported but not tested" ([D] common-esr-support-upgrade.md). So the walk
 * stops at the newest known patch (with a checksum in `edition`) of every ESR line strictly between the
 * two, then installs the target. Backing up before each step is the host's job.
 */
export function planMattermostUpgrade(from: Version, to: Version, edition: MattermostEdition): MattermostUpgradePlan {
    if (compareVersions(to, from) < 0) {
        return {
            kind: "refused",
            reason: "downgrade",
            problem: `Mattermost ${formatVersion(from)} is deployed and ${formatVersion(to)} is older: Mattermost does not support downgrades (database migrations run forward; from 11.0 on, passwords rehashed at sign-in lock users out of an older server).`,
            remedy: `Set mattermost.version to ${formatVersion(from)} or newer. Going back means restoring a backup taken on the older version.`,
        };
    }
    const stops: MattermostUpgradeStep[] = [];
    for (const line of MATTERMOST_ESR_LINES) {
        if (compareLines(line, from) <= 0 || compareLines(line, to) >= 0) {
            continue;
        }
        const newest = [...MATTERMOST_RELEASES].reverse().find((candidate) => compareLines(candidate.version, line) === 0 && candidate.sha256[edition] !== undefined);
        if (newest === undefined) {
            return {
                kind: "refused",
                reason: "no-esr-stop",
                problem: `the upgrade from ${formatVersion(from)} to ${formatVersion(to)} must stop at ESR ${formatLine(line)}, and no ${formatLine(line)} patch with a known checksum is in this program's data.`,
                remedy: `Upgrade to a ${formatLine(line)} patch first (with mattermost.checksum), then to ${formatVersion(to)}.`,
            };
        }
        stops.push({ version: newest.version, reason: "esr-stop" });
    }
    const route = [from, ...stops.map((stop) => stop.version), to];
    for (let i = 1; i < route.length; i++) {
        if (hitsUpgradeBug(route[i - 1], route[i])) {
            return {
                kind: "refused",
                reason: "upgrade-bug",
                problem: `Mattermost documents a bug in upgrades from ${formatVersion(UPGRADE_BUG.affectedFrom)} or later to 11.7.2 or older (wrong database migration numbers), and the walk from ${formatVersion(route[i - 1])} to ${formatVersion(route[i])} is one of them.`,
                remedy: `Choose a version with the fix: 11.7.3 or a later 11.7 patch (ESR), 11.8.1 or later, or 11.9.0 or later.`,
            };
        }
    }
    return { kind: "path", steps: compareVersions(to, from) === 0 ? stops : [...stops, { version: to, reason: "target" }] };
}
