// Which archive the standalone host installs, and how its checksum is chosen or refused.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { standaloneRelease } from "../../../../components/mattermost/standalone/release";
import { ConfigError } from "../../../../components/settings/configError";
import { parseVersion } from "../../../../components/versions/versions";

const V11_7_9 = parseVersion("11.7.9")!;
const PUBLISHED = "a22e631ae4a1f704c2bcf45ad8dcc377184081c50954a9269b7f62bd663a7a04";

describe("standaloneRelease", () => {
    it("takes the published checksum of a release in the data", () => {
        assert.deepEqual(standaloneRelease(V11_7_9, "enterprise"), {
            version: V11_7_9,
            edition: "enterprise",
            url: "https://releases.mattermost.com/11.7.9/mattermost-11.7.9-linux-amd64.tar.gz",
            sha256: PUBLISHED,
        });
    });

    it("takes mattermost.checksum for a release outside the data", () => {
        const checksum = "b".repeat(64);
        assert.equal(standaloneRelease(parseVersion("11.7.11")!, "enterprise", checksum).sha256, checksum);
    });

    it("asks for mattermost.checksum when the data has none", () => {
        assert.throws(() => standaloneRelease(parseVersion("11.7.11")!, "enterprise"), (error: unknown) => error instanceof ConfigError && error.key === "mattermost.checksum" && /11\.7\.11/.test(error.message));
    });

    it("refuses a malformed checksum, and one that contradicts the published value", () => {
        for (const bad of ["B".repeat(64), "b".repeat(63), "sha256:" + "b".repeat(64)]) {
            assert.throws(() => standaloneRelease(parseVersion("11.7.11")!, "enterprise", bad), /mattermost\.checksum is not a SHA-256/);
        }
        assert.throws(() => standaloneRelease(V11_7_9, "enterprise", "c".repeat(64)), new RegExp(`differs from the SHA-256 Mattermost published .*${PUBLISHED}`));
        assert.equal(standaloneRelease(V11_7_9, "enterprise", PUBLISHED).sha256, PUBLISHED);
    });
});
