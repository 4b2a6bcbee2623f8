// components/mattermost/standaloneRelease.ts, through parseSettings (the program's only reader of the
// keys): mattermost.mode, version, edition, license and checksum, each bad combination refused naming
// its key; and the sign-in summary the preview shows.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../../components/stack/config";
import { describeSignIn, readStandaloneMattermost } from "../../../components/mattermost/standaloneRelease";
import { formatVersion } from "../../../components/versions/versions";
import { assertConfigRejected, parseConfig, stackConfig } from "../../support/stackConfig";
import { version } from "../../support/versions";

const STANDALONE = { mode: "standalone", version: "11.7.9" };
const PUBLISHED_11_7_9_EE = "a22e631ae4a1f704c2bcf45ad8dcc377184081c50954a9269b7f62bd663a7a04";

function standalone(mattermost: Record<string, unknown>, overrides: Record<string, unknown> = {}) {
    return stackConfig("split", { gitlab: { version: "19.3.0" }, mattermost, ...overrides });
}

describe("mattermost.mode", () => {
    it("defaults to bundled up to GitLab 18.11", () => {
        const settings = parseConfig(stackConfig("single"));
        assert.equal(settings.mattermost.mode, "bundled");
        assert.equal(settings.mattermost.standalone, undefined);
    });

    it("reads standalone beside GitLab 19.x with the enterprise edition by default and the published checksum", () => {
        const settings = parseConfig(standalone(STANDALONE));
        assert.equal(settings.mattermost.mode, "standalone");
        assert.equal(formatVersion(settings.gitlab.version), "19.3.0");
        const release = settings.mattermost.standalone!;
        assert.equal(formatVersion(release.version), "11.7.9");
        assert.equal(release.edition, "enterprise");
        assert.equal(release.sha256, PUBLISHED_11_7_9_EE);
        assert.equal(release.license, undefined);
    });

    it("accepts standalone beside GitLab 18.11 too", () => {
        assert.equal(parseConfig(standalone(STANDALONE, { gitlab: { version: "18.11.11" } })).mattermost.mode, "standalone");
    });

    it("refuses standalone with topology single, naming both keys", () => {
        assertConfigRejected(stackConfig("single", { gitlab: { version: "19.3.0" }, mattermost: STANDALONE }), "mattermost.mode", /needs topology split.*topology is single.*pulumi config set topology split/);
    });

    it("refuses an unknown mode with the choices", () => {
        assertConfigRejected(standalone({ mode: "external" }), "mattermost.mode", /"bundled".*"standalone".*"external"/);
    });
});

describe("mattermost.version, edition, license and checksum", () => {
    const CASES: readonly [string, Record<string, unknown>, string, RegExp][] = [
        ["no version", { mode: "standalone" }, "mattermost.version", /is required with mattermost\.mode standalone/],
        ["a version without a patch", { ...STANDALONE, version: "11.7" }, "mattermost.version", /exact version x\.y\.z/],
        ["an unknown edition", { ...STANDALONE, edition: "enterprise-advanced" }, "mattermost.edition", /"enterprise".*"team"/],
        ["Team Edition 11.x, which has no GitLab sign-in", { ...STANDALONE, edition: "team" }, "mattermost.edition", /Team Edition 11 and later has no GitLab sign-in.*Choose enterprise.*Entry/],
        ["Team Edition 12.0", { mode: "standalone", version: "12.0.0", edition: "team", checksum: "a".repeat(64) }, "mattermost.edition", /no GitLab sign-in/],
        ["a licence with Team Edition", { mode: "standalone", version: "10.11.23", edition: "team", license: "abc" }, "mattermost.license", /Team Edition cannot use a licence/],
        ["an empty licence", { ...STANDALONE, license: " " }, "mattermost.license", /contents of a Mattermost licence file.*--secret/],
        ["a version with no known checksum and none given", { mode: "standalone", version: "11.7.11" }, "mattermost.checksum", /is required for Mattermost 11\.7\.11.*no published checksum.*mattermost-11\.7\.11-linux-amd64\.tar\.gz/],
        ["a checksum that is not SHA-256", { ...STANDALONE, checksum: "abc" }, "mattermost.checksum", /SHA-256 in hex/],
        ["a checksum that differs from the published one", { ...STANDALONE, checksum: "0".repeat(64) }, "mattermost.checksum", /Mattermost published a22e631a/],
        ["removeBundledData that is not a boolean", { ...STANDALONE, removeBundledData: "yes" }, "mattermost.removeBundledData", /must be true or false.*newer backup of the standalone Mattermost/],
        ["Omnibus's account ids", { ...STANDALONE, uid: 2001 }, "mattermost.uid", /applies only to mattermost\.mode bundled.*no Omnibus/],
        ["Omnibus's group id", { ...STANDALONE, gid: 2001 }, "mattermost.gid", /applies only to mattermost\.mode bundled/],
    ];
    for (const [name, mattermost, key, message] of CASES) {
        it(`refuses ${name}, naming ${key}`, () => assertConfigRejected(standalone(mattermost), key, message));
    }

    it("refuses standalone-only fields with a bundled Mattermost", () => {
        for (const field of ["version", "edition", "license", "checksum", "removeBundledData"]) {
            assertConfigRejected(stackConfig("split", { mattermost: { [field]: "x" } }), `mattermost.${field}`, /applies only to mattermost\.mode standalone/);
        }
    });

    it("takes a restore (the tools work on the standalone host's paths)", () => {
        assert.equal(parseConfig(standalone(STANDALONE, { backup: { restoreFrom: "latest" } })).backup.restoreFrom, "latest");
    });

    it("takes the GitLab plugin with a standalone host", () => {
        assert.ok(parseConfig(standalone({ ...STANDALONE, gitlabPlugin: { enabled: true } })).mattermost.gitlabPlugin);
    });

    it("refuses a release whose settings structure the program does not know, before any resource", () => {
        assertConfigRejected(standalone({ mode: "standalone", version: "12.0.0", checksum: "ab".repeat(32) }), "mattermost.version", /12\.0\.0 is outside the Mattermost releases whose settings this program knows/);
    });

    it("takes removeBundledData true, and leaves it out when false", () => {
        assert.equal(parseConfig(standalone({ ...STANDALONE, removeBundledData: true })).mattermost.standalone?.removeBundledData, true);
        assert.equal(parseConfig(standalone({ ...STANDALONE, removeBundledData: false })).mattermost.standalone?.removeBundledData, undefined);
    });

    it("takes a checksum for a version outside the data, in lower case", () => {
        const settings = parseConfig(standalone({ mode: "standalone", version: "11.7.10", checksum: "AB".repeat(32) }));
        assert.equal(settings.mattermost.standalone?.sha256, "ab".repeat(32));
    });

    it("accepts Team Edition 10.11 (which still has GitLab sign-in) and a licence with enterprise", () => {
        assert.equal(parseConfig(standalone({ mode: "standalone", version: "10.11.23", edition: "team" })).mattermost.standalone?.edition, "team");
        assert.equal(parseConfig(standalone({ ...STANDALONE, license: "licence-file-contents" })).mattermost.standalone?.license, "licence-file-contents");
    });

    it("refuses a version whose PostgreSQL the host does not have, naming mattermost.version", () => {
        const fields = { version: "12.0.0", checksum: "a".repeat(64) };
        assert.equal(formatVersion(readStandaloneMattermost(fields, 15).version), "12.0.0");
        assert.throws(() => readStandaloneMattermost(fields, 14), (error: unknown) => error instanceof ConfigError && error.key === "mattermost.version" && /needs PostgreSQL 15 or later.*runs PostgreSQL 14/.test(error.message));
    });
});

describe("describeSignIn", () => {
    const release = (edition: "enterprise" | "team", license?: string) => ({ version: version("11.7.9"), edition, sha256: PUBLISHED_11_7_9_EE, ...(license ? { license } : {}) });

    it("Entry: sign-in works, with a warning about the 10,000-message limit and an unknown count", () => {
        const summary = describeSignIn("standalone", release("enterprise"));
        assert.match(summary.signIn, /without a licence, running as Mattermost Entry: GitLab sign-in works/);
        assert.match(summary.warning ?? "", /mattermost\.license is not set.*newest 10000 channel messages.*not known at preview/);
    });

    it("Entry with a known count above the limit says older messages will be hidden", () => {
        assert.match(describeSignIn("standalone", release("enterprise"), 25_000).warning ?? "", /holds 25000 messages\. Older messages will be hidden/);
        assert.doesNotMatch(describeSignIn("standalone", release("enterprise"), 500).warning ?? "", /will be hidden/);
    });

    it("a licence: sign-in from the licensed plan, no warning", () => {
        const summary = describeSignIn("standalone", release("enterprise", "x"));
        assert.match(summary.signIn, /with the licence in mattermost\.license/);
        assert.equal(summary.warning, undefined);
    });

    it("bundled: Omnibus configures it", () => {
        assert.match(describeSignIn("bundled", undefined).signIn, /bundled Mattermost/);
    });
});
