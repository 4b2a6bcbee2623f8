// Mattermost server releases a standalone Mattermost host can install, kept as data: where each
// release archive is and the SHA-256 Mattermost published for it.
// Source of the checksums: Mattermost's version archive page (mattermost/docs
// source/product-overview/version-archive.rst); the live page lists only the newest patch of each
// minor, so each older value is the one published while that patch was newest, read from the page's
// git history up to mattermost/docs@9dd1c713 (2026-08-21). `listed` names the commit and date.
// Pure module: no cloud SDK, no Pulumi runtime.

import { compareVersions, formatVersion, parseVersion, type Version } from "./versions";

/**
 * Which build: `enterprise` (mattermost-<v>-…, runs as Entry without a licence) or `team`
 * (mattermost-team-<v>-…, MIT-licensed; from 11.0 without GitLab sign-in).
 */
export type MattermostEdition = "enterprise" | "team";

/** A release archive and its published checksum. */
export interface MattermostRelease {
    readonly version: Version;
    readonly edition: MattermostEdition;
    /** The linux-amd64 release archive. */
    readonly url: string;
    /** Lower-case hex SHA-256 of the archive. */
    readonly sha256: string;
}

interface ChecksumEntry {
    readonly sha256: string;
    /** The version-archive commit and date that first listed this value. */
    readonly listed: string;
}

/**
 * The releases this program installs without an explicit checksum:
 * - 10.11.13, .18, .19, .20: the versions GitLab 18.11 bundles (18.11.0–.3, .4, .5–.6, .7–.11), so a
 *   bundled Mattermost can move to a host of its own at the same version (Team Edition as bundled, or
 *   Enterprise);
 * - 10.11.23: the last 10.11 ESR patch (support ended 2026-08-15);
 * - 11.7.9: the newest 11.7 ESR patch with a published checksum (ESR supported to 2027-05-15; 11.7.3
 *   and later fix the 10.11.17+ upgrade bug);
 * - 11.10.0: the newest release with a published checksum.
 * Team Edition 11.x is left out: it has no GitLab sign-in.
 */
const CHECKSUMS: Readonly<Record<MattermostEdition, Readonly<Record<string, ChecksumEntry>>>> = {
    enterprise: {
        "10.11.13": { sha256: "2f62e4a5c3770525e05f7c501376b2233e424827d2476ac345719e9725a89245", listed: "ea2c530e47a7 2026-03-16" },
        "10.11.18": { sha256: "7ab62744a51bb7169e82f252914ad6acf5d2f92c417acbadf85160144b7a764b", listed: "7ad96ee318db 2026-05-21" },
        "10.11.19": { sha256: "067b87f8d7a4cf46709b7d0283120c5029f09786c31c7cebd8e7f9acfb29a340", listed: "d74547f51ea0 2026-05-27" },
        "10.11.20": { sha256: "6585822553c41544d84b73e6971930704d3de2e35c36dac0fd749ed8d7e4e41d", listed: "d6870b7224b5 2026-06-12" },
        "10.11.23": { sha256: "c1560b3ac30179ae02f28ee53c4ba9632a092a7923ad150cfaa0a76c5f2290a3", listed: "91238417c78a 2026-08-13" },
        "11.7.9": { sha256: "a22e631ae4a1f704c2bcf45ad8dcc377184081c50954a9269b7f62bd663a7a04", listed: "91238417c78a 2026-08-13" },
        "11.10.0": { sha256: "8ae404ed0c0fbab2b01c00c031b9d0f3e17c51007e3bb3401bebaf3e60da0c3e", listed: "b8085fa2f3c5 2026-08-14" },
    },
    team: {
        "10.11.13": { sha256: "1b0d90b196f8c03fe6382d1b2affc8625a2e887ebd84a5423c77a124bbb8765b", listed: "ea2c530e47a7 2026-03-16" },
        "10.11.18": { sha256: "d26046f78b60b9029886f842610f02ef2de08d16e2d7f1a4f6dd70152ea78be9", listed: "7ad96ee318db 2026-05-21" },
        "10.11.19": { sha256: "012649d79f3c9bc12ffee74157a41de2dd1609b2ff6b5a7f69ac57aa6a55b4c5", listed: "d74547f51ea0 2026-05-27" },
        "10.11.20": { sha256: "e7ba5c4fafa874a3f6d612a25946fa05dc8c90ca519d727ef3245236984bf4a5", listed: "d6870b7224b5 2026-06-12" },
        "10.11.23": { sha256: "c20528c64fc1378b866040b10a05ddacff336cb87dd797a2be9cddf1a201cbd0", listed: "91238417c78a 2026-08-13" },
    },
};

/** Mattermost's release download location (version-archive.rst, deploy-tar.rst). */
export const MATTERMOST_RELEASES_BASE_URL = "https://releases.mattermost.com";

/** The release archive's URL for a version and edition. */
export function mattermostArchiveUrl(version: Version, edition: MattermostEdition): string {
    const v = formatVersion(version);
    const name = edition === "team" ? `mattermost-team-${v}` : `mattermost-${v}`;
    return `${MATTERMOST_RELEASES_BASE_URL}/${v}/${name}-linux-amd64.tar.gz`;
}

const SHA256 = /^[0-9a-f]{64}$/;

/** Whether text is a lower-case hex SHA-256, as the install script compares it. */
export function isSha256(text: string): boolean {
    return SHA256.test(text);
}

/** The published checksum of a release, if this data has one. */
export function publishedChecksum(version: Version, edition: MattermostEdition): string | undefined {
    return CHECKSUMS[edition][formatVersion(version)]?.sha256;
}

/** Every release in the data, oldest first per edition. */
export function knownMattermostReleases(): MattermostRelease[] {
    return (Object.keys(CHECKSUMS) as MattermostEdition[]).flatMap((edition) =>
        Object.entries(CHECKSUMS[edition]).map(([text, entry]) => {
            const version = parseVersion(text);
            if (!version || !isSha256(entry.sha256)) {
                throw new Error(`invalid Mattermost release data: ${edition} ${text}`);
            }
            return { version, edition, url: mattermostArchiveUrl(version, edition), sha256: entry.sha256 };
        }),
    );
}

/**
 * The database-migration numbering bug: Mattermost's v10 changelog (known issue at the top of 10.11)
 * says not to upgrade from 10.11.17 or later to 11.7.2 or earlier; the fix (a pre-migration step that
 * corrects the numbers) shipped in 11.6.5, 11.7.3, 11.8.1 and 11.9.0 (v11 changelog). 10.11.16 was
 * built identical to 10.11.17, so it counts as affected; 11.0 to 11.5 have no fix and count as
 * affected too.
 */
const MIGRATION_BUG = {
    /** Affected sources: 10.11.16 and later. */
    fromLine: { major: 10, minor: 11, firstPatch: 16 },
    /** The first fixed patch per 11.x minor; minors below the first listed have no fix, above the last are fixed from .0. */
    fixedIn: { 6: 5, 7: 3, 8: 1, 9: 0 } as Readonly<Record<number, number>>,
} as const;

/** Why Mattermost must not go from `from` to `to`, or undefined when the step is fine. */
export function mattermostUpgradeProblem(from: Version, to: Version): string | undefined {
    if (compareVersions(to, from) < 0) {
        return `${formatVersion(to)} is older than ${formatVersion(from)}: Mattermost does not support downgrades (from 11.0, users' passwords are rehashed at sign-in).`;
    }
    const { fromLine, fixedIn } = MIGRATION_BUG;
    const affectedSource = from.major === fromLine.major && from.minor === fromLine.minor && from.patch >= fromLine.firstPatch;
    if (!affectedSource || to.major !== 11) return undefined;
    const minors = Object.keys(fixedIn).map(Number);
    const firstFixed = to.minor > Math.max(...minors) ? 0 : fixedIn[to.minor];
    if (firstFixed === undefined || to.patch < firstFixed) {
        return `upgrading from ${formatVersion(from)} to ${formatVersion(to)} hits Mattermost's migration-numbering bug (fixed in 11.6.5, 11.7.3, 11.8.1 and 11.9.0). Choose 11.7.3 or later.`;
    }
    return undefined;
}
