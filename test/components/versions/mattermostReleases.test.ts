// The Mattermost release data: archive names as Mattermost publishes them, well-formed checksums, and
// the releases a standalone host needs (the versions GitLab 18.11 bundles, the ESR lines' newest).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isSha256, knownMattermostReleases, mattermostArchiveUrl, mattermostUpgradeProblem, publishedChecksum } from "../../../components/versions/mattermostReleases";
import { formatVersion, parseVersion } from "../../../components/versions/versions";

describe("Mattermost release data", () => {
    it("names archives as the version archive does, per edition", () => {
        const version = parseVersion("10.11.20")!;
        assert.equal(mattermostArchiveUrl(version, "enterprise"), "https://releases.mattermost.com/10.11.20/mattermost-10.11.20-linux-amd64.tar.gz");
        assert.equal(mattermostArchiveUrl(version, "team"), "https://releases.mattermost.com/10.11.20/mattermost-team-10.11.20-linux-amd64.tar.gz");
    });

    it("holds a distinct, well-formed SHA-256 per archive", () => {
        const releases = knownMattermostReleases();
        assert.ok(releases.every((release) => isSha256(release.sha256)));
        assert.equal(new Set(releases.map((release) => release.sha256)).size, releases.length);
    });

    it("covers every Mattermost that GitLab 18.11 bundles, in both editions, and the newest ESR patches", () => {
        for (const version of ["10.11.13", "10.11.18", "10.11.19", "10.11.20", "10.11.23"]) {
            assert.ok(publishedChecksum(parseVersion(version)!, "team"), `team ${version}`);
            assert.ok(publishedChecksum(parseVersion(version)!, "enterprise"), `enterprise ${version}`);
        }
        assert.equal(publishedChecksum(parseVersion("11.7.9")!, "enterprise"), "a22e631ae4a1f704c2bcf45ad8dcc377184081c50954a9269b7f62bd663a7a04");
        assert.equal(publishedChecksum(parseVersion("11.7.9")!, "team"), undefined, "Team Edition 11 has no GitLab sign-in");
        assert.equal(publishedChecksum(parseVersion("10.11.16")!, "enterprise"), undefined);
    });

    it("accepts only lower-case 64-digit hex as a checksum", () => {
        assert.equal(isSha256("a".repeat(64)), true);
        for (const bad of ["A".repeat(64), "a".repeat(63), "g".repeat(64), ` ${"a".repeat(64)}`]) assert.equal(isSha256(bad), false, bad);
        assert.equal(formatVersion(knownMattermostReleases()[0]!.version).split(".").length, 3);
    });
});

describe("mattermostUpgradeProblem", () => {
    const problem = (from: string, to: string) => mattermostUpgradeProblem(parseVersion(from)!, parseVersion(to)!);

    it("refuses the targets of the migration-numbering bug from 10.11.16 and later", () => {
        for (const to of ["11.0.0", "11.5.9", "11.6.4", "11.7.0", "11.7.2", "11.8.0"]) {
            assert.match(problem("10.11.20", to) ?? "", /migration-numbering bug/, to);
            assert.match(problem("10.11.16", to) ?? "", /migration-numbering bug/, to);
        }
    });

    it("accepts the fixed patches, later minors, and every target from before 10.11.16", () => {
        for (const to of ["11.6.5", "11.7.3", "11.7.9", "11.8.1", "11.9.0", "11.10.0", "12.0.0"]) assert.equal(problem("10.11.20", to), undefined, to);
        assert.equal(problem("10.11.13", "11.7.0"), undefined);
    });

    it("refuses downgrades", () => {
        assert.match(problem("11.7.9", "10.11.23") ?? "", /does not support downgrades/);
        assert.match(problem("11.7.9", "11.7.8") ?? "", /does not support downgrades/);
        assert.equal(problem("11.7.9", "11.7.9"), undefined);
    });
});
