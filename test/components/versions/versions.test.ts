// components/versions/versions.ts: the version data is consistent with itself, bundledMattermost reads the
// Mattermost table as precisely as it allows, and one key-lifetime table drives both the renderer and
// the upgrade guard (keyChangesBetween).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { renderGitlabRb } from "../../../components/gitlabRb/gitlabRb";
import {
    BUNDLED_MATTERMOST,
    KEY_LIFETIMES,
    LAST_MINOR_OF_MAJOR,
    MATTERMOST_REMOVED_IN,
    UPGRADE_STOPS,
    bundledMattermost,
    compareLines,
    compareVersions,
    formatBundledMattermost,
    formatLine,
    formatVersion,
    GITLAB_PLUGIN_IGNORING_SETTINGS,
    HOST_OS,
    KNOWN_BAD_PATCHES,
    PREPACKAGED_GITLAB_PLUGIN,
    gitlabPluginIgnoringSettings,
    prepackagedGitlabPlugins,
    VERSION_DATA_CHECKED,
    isKnownLine,
    isReleased,
    keyChangesBetween,
    keyExists,
    GITLAB_19_LINES,
    PACKAGE_MINIMUM,
    REQUIRED_STOP_LINES_19,
    newestGitlab,
    newestPatchOf,
    postgresqlNeededBy,
    type BundledMattermost,
} from "../../../components/versions/versions";
import { version } from "../../support/versions";


describe("version data", () => {
    it("lists the upgrade stops oldest first, each on a known line, from 13.0 to 19.2", () => {
        for (let i = 1; i < UPGRADE_STOPS.length; i++) {
            assert.ok(compareLines(UPGRADE_STOPS[i - 1]!.latestPatch, UPGRADE_STOPS[i]!.latestPatch) < 0, `stop ${i} is out of order`);
        }
        assert.ok(UPGRADE_STOPS.every((stop) => isKnownLine(stop.latestPatch) && stop.source.length > 0));
        assert.equal(formatLine(UPGRADE_STOPS[0]!.latestPatch), "13.0");
        assert.equal(formatLine(UPGRADE_STOPS.at(-1)!.latestPatch), "19.2");
    });

    it("has every required 19.x stop the data's lines reach, at its newest patch, and none it does not", () => {
        const newest = GITLAB_19_LINES.at(-1)!;
        const reached = REQUIRED_STOP_LINES_19.filter((line) => compareLines(line, newest) <= 0).map(formatLine);
        assert.deepEqual(reached, ["19.2"]);
        assert.deepEqual(UPGRADE_STOPS.filter((stop) => stop.latestPatch.major === 19).map((stop) => formatVersion(stop.latestPatch)), ["19.2.4"]);
        assert.deepEqual(REQUIRED_STOP_LINES_19.map(formatLine), ["19.2", "19.5", "19.8", "19.11"]);
    });

    it("says which packages need PostgreSQL 17: every 19.x, no 18.x", () => {
        assert.equal(postgresqlNeededBy(version("18.11.11")), undefined);
        for (const patch of GITLAB_19_LINES) {
            assert.equal(postgresqlNeededBy(patch), 17, formatVersion(patch));
        }
    });

    it("records the packages' MIN_VERSION: 19.0 to 19.2 need 18.11, 19.3 needs 19.2", () => {
        assert.deepEqual(
            PACKAGE_MINIMUM.map((rule) => [formatLine(rule.packagesFrom), formatLine(rule.needsInstalled)]),
            [["19.0", "18.11"], ["19.3", "19.2"]],
        );
    });

    it("marks exactly 15.1, 16.0, 16.1, 16.2 and 17.1 as conditional, each with its condition", () => {
        const conditional = UPGRADE_STOPS.filter((stop) => stop.condition !== undefined);
        assert.deepEqual(conditional.map((stop) => formatLine(stop.latestPatch)), ["15.1", "16.0", "16.1", "16.2", "17.1"]);
        assert.ok(conditional.every((stop) => /^instances with /.test(stop.condition!)), "each condition names the instances it applies to");
    });

    it("ends each major the data has complete (before 19) with a stop on its last minor", () => {
        for (const [major, lastMinor] of Object.entries(LAST_MINOR_OF_MAJOR).filter(([major]) => Number(major) < 19)) {
            const last = UPGRADE_STOPS.filter((stop) => stop.latestPatch.major === Number(major)).at(-1);
            assert.equal(last?.latestPatch.minor, lastMinor, `major ${major}`);
        }
    });

    it("has the bundled Mattermost of every known line from 14.0 to 18.11, in order", () => {
        const known: string[] = [];
        for (const [major, lastMinor] of Object.entries(LAST_MINOR_OF_MAJOR)) {
            for (let minor = 0; minor <= lastMinor; minor++) {
                if (Number(major) >= 14 && Number(major) < 19) {
                    known.push(`${major}.${minor}`);
                }
            }
        }
        assert.deepEqual(BUNDLED_MATTERMOST.map((entry) => formatLine(entry.line)), known);
    });

    it("never has a line's last patch bundle an older Mattermost than its first, nor a line an older one than the line before", () => {
        for (const [i, entry] of BUNDLED_MATTERMOST.entries()) {
            const first = version(entry.first);
            const last = version(entry.last);
            assert.ok(compareVersions(first, last) <= 0, formatLine(entry.line));
            const before = BUNDLED_MATTERMOST[i - 1];
            if (before) {
                assert.ok(compareVersions(version(before.first), first) <= 0, `${formatLine(before.line)} → ${formatLine(entry.line)}`);
            }
        }
    });
});

describe("released versions", () => {
    it("agrees with the upgrade stops: each stop is its line's newest patch", () => {
        for (const stop of UPGRADE_STOPS.filter((candidate) => candidate.latestPatch.major >= 14)) {
            const newest = newestPatchOf(stop.latestPatch);
            assert.ok(newest, formatVersion(stop.latestPatch));
            assert.equal(formatVersion(newest), formatVersion(stop.latestPatch));
        }
    });
    it("knows 19.0.8, 19.1.6, 19.2.4 and 19.3.0 as the newest 19.x patches as of its date, and nothing after", () => {
        for (const text of ["19.0.0", "19.0.8", "19.1.6", "19.2.4", "19.3.0"]) {
            assert.ok(isReleased(version(text)), text);
        }
        for (const text of ["19.0.9", "19.2.5", "19.3.1", "19.4.0", "20.0.0"]) {
            assert.equal(isReleased(version(text)), false, text);
        }
        assert.equal(formatVersion(newestGitlab()), "19.3.0");
    });
    it("knows 18.11.0 to 18.11.11 and no 18.11 patch after, nor any 18.12", () => {
        assert.ok(isReleased(version("18.11.0")) && isReleased(version("18.11.11")) && isReleased(version("18.10.8")));
        for (const text of ["18.11.12", "18.11.99", "18.10.9", "18.10.99", "18.12.0", "13.12.15"]) {
            assert.equal(isReleased(version(text)), false, text);
        }
    });
    it("states the date it was checked up to, and a reason and source for each known-bad patch", () => {
        assert.match(VERSION_DATA_CHECKED, /^\d{4}-\d{2}-\d{2}$/);
        assert.deepEqual(KNOWN_BAD_PATCHES.map((bad) => formatVersion(bad.version)), ["18.11.7", "18.11.8"]);
        for (const bad of KNOWN_BAD_PATCHES) {
            assert.ok(isReleased(bad.version));
            assert.match(bad.source, /omnibus [0-9a-f]{8}/);
            assert.ok(bad.reason.length > 40);
        }
    });
});

describe("bundledMattermost", () => {
    const cases: readonly [string, BundledMattermost | undefined, string][] = [
        ["18.11.11", { kind: "exact", version: "10.11.20" }, "the last line's latest patch"],
        ["18.11.0", { kind: "exact", version: "10.11.13" }, "the last line's first release"],
        ["18.11.5", { kind: "range", lowest: "10.11.13", highest: "10.11.20" }, "a patch in between"],
        ["18.11.12", { kind: "at-least", lowest: "10.11.20" }, "a patch newer than the data"],
        ["17.3.7", { kind: "exact", version: "9.10.3" }, "a stop's latest patch"],
        ["17.6.3", { kind: "range", lowest: "10.1.2", highest: "10.1.7" }, "a patch of a line that is no stop"],
        ["17.9.4", { kind: "exact", version: "10.2.3" }, "a line with one Mattermost throughout (the tags, not the doc's 10.4)"],
        ["18.5.8", { kind: "at-least", lowest: "10.10.2" }, "a line with one Mattermost, past its latest known patch"],
        ["14.0.0", { kind: "exact", version: "5.35.3" }, "the first line of the table"],
        ["19.0.0", { kind: "none" }, "the first line without Mattermost"],
        ["20.1.3", { kind: "none" }, "a later major"],
        ["13.12.15", undefined, "a line before the table"],
        ["18.12.0", undefined, "a line that does not exist"],
    ];
    for (const [text, expected, what] of cases) {
        it(`${text}: ${what}`, () => {
            assert.deepEqual(bundledMattermost(version(text)), expected);
        });
    }

    it("formats each kind for a stack output", () => {
        assert.equal(formatBundledMattermost({ kind: "exact", version: "10.11.20" }), "10.11.20");
        assert.equal(formatBundledMattermost({ kind: "range", lowest: "10.11.13", highest: "10.11.20" }), "10.11.13 to 10.11.20");
        assert.equal(formatBundledMattermost({ kind: "at-least", lowest: "10.11.20" }), "10.11.20 or later");
        assert.match(formatBundledMattermost({ kind: "none" }), /^none \(GitLab 19\.0 removed bundled Mattermost\)$/);
    });
});

describe("key lifetimes", () => {
    const MATTERMOST_KEYS = ["mattermost['gitlab_id']", "mattermost['env']", "mattermost['register_as_oauth_app']", "mattermost_nginx['redirect_http_to_https']"];

    it("has a source for every rule, and an effect for every end", () => {
        for (const [key, lifetime] of Object.entries(KEY_LIFETIMES)) {
            assert.ok(lifetime.source.length > 0, key);
            assert.equal(lifetime.until === undefined, lifetime.afterUntil === undefined, key);
        }
    });

    it("keeps every Mattermost key through 18.11 and drops it in 19.0", () => {
        for (const key of MATTERMOST_KEYS) {
            assert.equal(keyExists(key, version("18.11.11")), true, key);
            assert.equal(keyExists(key, MATTERMOST_REMOVED_IN), false, key);
        }
    });

    it("combines a key's own rule with its block's: register_as_oauth_app exists from 15.4 until 19.0", () => {
        const key = "mattermost['register_as_oauth_app']";
        assert.deepEqual(
            ["15.3.5", "15.4.0", "18.11.11", "19.0.0"].map((v) => keyExists(key, version(v))),
            [false, true, true, false],
        );
    });

    it("applies a block rule to every attribute of the block and to no other block", () => {
        assert.equal(keyExists("grafana['any_attribute']", version("17.0.8")), true);
        assert.equal(keyExists("grafana['any_attribute']", version("17.1.0")), false);
        assert.equal(keyExists("gitlab_rails['mattermost_host']", version("19.3.0")), true);
        assert.equal(keyExists("external_url", version("19.3.0")), true);
    });

    it("keeps mattermost_external_url in 19.x, where it is only deprecated", () => {
        assert.equal(keyExists("mattermost_external_url", version("19.3.0")), true);
    });

    it("lets the renderer write the Mattermost keys up to 18.11 and none from 19.0", () => {
        const doc = (v: string) =>
            renderGitlabRb({
                origin: "test",
                version: version(v),
                sections: [{ title: "Mattermost", settings: MATTERMOST_KEYS.map((key) => ({ key, value: true })) }],
            });
        for (const key of MATTERMOST_KEYS) {
            assert.ok(doc("18.11.11").includes(`${key} = true`), key);
        }
        assert.doesNotMatch(doc("19.0.0"), /^mattermost/m);
    });
});

describe("keyChangesBetween", () => {
    const summary = (from: string, to: string, keys: readonly string[]) =>
        keyChangesBetween(version(from), version(to), keys).map((c) => `${formatVersion(c.version)} ${c.change} ${c.key}`);

    it("finds grafana rejected at 17.1 on the way from 16.11 to 18.11, and nothing else", () => {
        const keys = ["external_url", "grafana['enable']", "mattermost['gitlab_id']", "mattermost_nginx['redirect_http_to_https']", "mattermost_external_url"];
        assert.deepEqual(summary("16.11.10", "18.11.11", keys), ["17.1.0 aborts grafana['enable']"]);
    });

    it("includes the end of the walk and excludes its start", () => {
        assert.deepEqual(summary("16.11.10", "17.1.0", ["grafana['enable']"]), ["17.1.0 aborts grafana['enable']"]);
        assert.deepEqual(summary("16.11.10", "17.0.8", ["grafana['enable']"]), []);
    });

    it("reports a deprecation, then the removal, in version order", () => {
        assert.deepEqual(summary("15.11.13", "17.3.7", ["grafana['enable']"]), ["16.0.0 deprecated grafana['enable']", "17.1.0 aborts grafana['enable']"]);
    });

    it("names what 19.0 would do to a bundled-Mattermost file: refuse, ignore, or warn", () => {
        const keys = ["mattermost_nginx['redirect_http_to_https']", "mattermost['gitlab_id']", "mattermost_external_url", "external_url", "mattermost['gitlab_id']"];
        assert.deepEqual(summary("18.11.11", "19.0.0", keys), [
            "19.0.0 aborts mattermost['gitlab_id']",
            "19.0.0 deprecated mattermost_external_url",
            "19.0.0 ignored mattermost_nginx['redirect_http_to_https']",
        ]);
    });

    it("ignores keys the starting version does not read, since the renderer never writes them", () => {
        assert.deepEqual(summary("17.1.0", "18.11.11", ["grafana['enable']"]), []);
    });

    it("carries the rule's source", () => {
        const [change] = keyChangesBetween(version("17.0.8"), version("17.1.0"), ["grafana['enable']"]);
        assert.match(change?.source ?? "", /2bb9ea5d/);
    });
});

describe("the GitLab plugin each bundled Mattermost ships", () => {
    const cases: [string, string[]][] = [
        ["17.1.0", ["1.10.0"]],
        ["18.10.8", ["1.12.2"]],
        ["18.11.0", ["1.10.0"]],
        ["18.11.5", ["1.10.0", "1.12.1", "1.12.2"]],
        ["18.11.11", ["1.12.2"]],
        ["18.11.12", ["1.12.2", "1.12.3"]],
        ["19.0.0", []],
    ];
    for (const [gitlab, plugins] of cases) {
        it(`GitLab ${gitlab} ships ${plugins.join(", ") || "no plugin"}`, () => {
            assert.deepEqual(prepackagedGitlabPlugins(version(gitlab)).map(formatVersion), plugins);
        });
    }

    it("lists the plugin by Mattermost version, oldest first, each with a source", () => {
        for (let i = 1; i < PREPACKAGED_GITLAB_PLUGIN.length; i++) {
            assert.ok(compareVersions(PREPACKAGED_GITLAB_PLUGIN[i - 1].mattermostFrom, PREPACKAGED_GITLAB_PLUGIN[i].mattermostFrom) < 0);
            assert.ok(compareVersions(PREPACKAGED_GITLAB_PLUGIN[i - 1].plugin, PREPACKAGED_GITLAB_PLUGIN[i].plugin) < 0);
        }
        assert.ok(PREPACKAGED_GITLAB_PLUGIN.every((entry) => entry.source.length > 10));
        assert.deepEqual(GITLAB_PLUGIN_IGNORING_SETTINGS.map(formatVersion), ["1.12.0"]);
    });

    // The assumption the plugin step rests on: every GitLab the program can deploy bundles a plugin that
    // reads gitlaburl, gitlaboauthclientid and gitlaboauthclientsecret from its settings.
    it("has no deployable GitLab whose Mattermost ships a plugin that ignores those settings", () => {
        for (const entry of BUNDLED_MATTERMOST.filter((candidate) => compareLines(candidate.line, HOST_OS.firstGitlab) >= 0)) {
            for (let patch = 0; patch <= entry.lastPatch.patch; patch++) {
                const gitlab = { ...entry.line, patch };
                assert.equal(gitlabPluginIgnoringSettings(gitlab), undefined, formatVersion(gitlab));
            }
        }
    });
});
