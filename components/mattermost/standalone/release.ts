// Which Mattermost archive a standalone host installs, and the checksum it must have. Releases in the
// program's data carry Mattermost's published SHA-256; any other release needs the administrator to
// give the checksum (`mattermost.checksum`), read from Mattermost's version archive. Pure module.

import { ConfigError } from "../../settings/configError";
import { isSha256, mattermostArchiveUrl, publishedChecksum, type MattermostEdition, type MattermostRelease } from "../../versions/mattermostReleases";
import { formatVersion, type Version } from "../../versions/versions";

/**
 * The archive for `version` and `edition`, with its checksum: `checksum` when given (it must then
 * agree with the data where the data has one), else the published one.
 */
export function standaloneRelease(version: Version, edition: MattermostEdition, checksum?: string): MattermostRelease {
    const url = mattermostArchiveUrl(version, edition);
    const published = publishedChecksum(version, edition);
    if (checksum !== undefined) {
        if (!isSha256(checksum)) {
            throw new ConfigError("mattermost.checksum", `is not a SHA-256: give the 64 lower-case hex digits Mattermost publishes for ${url}.`);
        }
        if (published !== undefined && published !== checksum) {
            throw new ConfigError("mattermost.checksum", `differs from the SHA-256 Mattermost published for ${url} (${published}). Remove mattermost.checksum, or check where yours came from.`);
        }
        return { version, edition, url, sha256: checksum };
    }
    if (published === undefined) {
        throw new ConfigError(
            "mattermost.checksum",
            `is needed for Mattermost ${formatVersion(version)} (${edition}), whose checksum this program does not carry: set it to the SHA-256 listed for ${url} on Mattermost's version archive page.`,
        );
    }
    return { version, edition, url, sha256: published };
}
