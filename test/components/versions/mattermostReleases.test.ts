// components/versions/mattermostReleases.ts: the release data (checked against the published values
// written out here from the research data) and the upgrade walk, as tables and properties.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
    MATTERMOST_DATA_CHECKED,
    MATTERMOST_ESR_LINES,
    MATTERMOST_RELEASES,
    hitsUpgradeBug,
    planMattermostUpgrade,
    postgresqlNeeded,
    tarballSha256,
    tarballUrl,
    type MattermostEdition,
    type MattermostUpgradePlan,
} from "../../../components/versions/mattermostReleases";
import { compareLines, compareVersions, formatVersion, type Version } from "../../../components/versions/versions";
import { version } from "../../support/versions";

function walk(plan: MattermostUpgradePlan): string[] {
    assert.equal(plan.kind, "path", plan.kind === "refused" ? `${plan.problem} ${plan.remedy}` : "");
    return plan.kind === "path" ? plan.steps.map((step) => `${formatVersion(step.version)}${step.reason === "esr-stop" ? " (ESR)" : ""}`) : [];
}

describe("Mattermost release data", () => {
    it("lists releases oldest first, each with a date, a source and lower-case hex checksums", () => {
        assert.match(MATTERMOST_DATA_CHECKED, /^\d{4}-\d{2}-\d{2}$/);
        for (const [i, release] of MATTERMOST_RELEASES.entries()) {
            assert.match(release.released, /^\d{4}-\d{2}-\d{2}$/);
            assert.ok(release.source.length > 0);
            for (const sha of Object.values(release.sha256)) {
                assert.match(sha!, /^[0-9a-f]{64}$/, formatVersion(release.version));
            }
            const before = MATTERMOST_RELEASES[i - 1];
            if (before) {
                assert.ok(compareVersions(before.version, release.version) < 0, `${formatVersion(before.version)} before ${formatVersion(release.version)}`);
            }
        }
    });

    it("has the published checksums of the versions a stack starts from or moves to", () => {
        // Values from Mattermost's version archive, as the research extracted them.
        assert.equal(tarballSha256(version("10.11.20"), "enterprise"), "6585822553c41544d84b73e6971930704d3de2e35c36dac0fd749ed8d7e4e41d");
        assert.equal(tarballSha256(version("11.7.3"), "enterprise"), "b3e460c8e79d00eeb6c667a2e830bd9f3c123530c7a73e2caf4dd7c86ce2cc0a");
        assert.equal(tarballSha256(version("11.7.9"), "team"), "df9b76ee40212c1552162486befc80f52ba9eefbde1ac6a490bdda4188ba54f0");
        assert.equal(tarballSha256(version("11.7.11"), "enterprise"), undefined, "published after the data's copy of the archive");
        assert.equal(tarballSha256(version("11.7.2"), "enterprise"), undefined, "not a version the program supports");
    });

    it("marks 10.11 and 11.7 as the ESR lines, with the end of their support", () => {
        assert.deepEqual(MATTERMOST_ESR_LINES.map((line) => `${line.major}.${line.minor}`), ["10.11", "11.7"]);
        for (const release of MATTERMOST_RELEASES) {
            const onEsr = MATTERMOST_ESR_LINES.some((line) => compareLines(line, release.version) === 0);
            assert.equal(release.esr, onEsr, formatVersion(release.version));
        }
        assert.equal(MATTERMOST_RELEASES.find((r) => formatVersion(r.version) === "11.7.9")?.supportEnds, "2027-05-15");
        assert.equal(MATTERMOST_RELEASES.find((r) => formatVersion(r.version) === "10.11.23")?.supportEnds, "2026-08-15");
    });

    it("names the tarball of each edition", () => {
        assert.equal(tarballUrl(version("11.7.9"), "enterprise"), "https://releases.mattermost.com/11.7.9/mattermost-11.7.9-linux-amd64.tar.gz");
        assert.equal(tarballUrl(version("11.7.9"), "team"), "https://releases.mattermost.com/11.7.9/mattermost-team-11.7.9-linux-amd64.tar.gz");
    });

    it("needs PostgreSQL 15 from 12.0 on, 13 before", () => {
        assert.equal(postgresqlNeeded(version("12.0.0")), 15);
        assert.equal(postgresqlNeeded(version("11.11.0")), 13);
        assert.equal(postgresqlNeeded(version("10.11.20")), 13);
    });
});

describe("the 10.11 upgrade bug", () => {
    const CASES: readonly [from: string, to: string, hits: boolean][] = [
        ["10.11.20", "11.7.2", true],
        ["10.11.17", "11.0.0", true],
        ["10.11.17", "11.5.9", true],
        ["10.11.20", "11.6.4", true],
        ["10.11.20", "11.8.0", true],
        ["10.11.20", "11.6.5", false],
        ["10.11.20", "11.7.3", false],
        ["10.11.20", "11.8.1", false],
        ["10.11.20", "11.9.0", false],
        ["10.11.20", "12.0.0", false],
        ["10.11.15", "11.7.2", false],
        ["11.7.1", "11.7.2", false],
    ];
    for (const [from, to, hits] of CASES) {
        it(`${from} → ${to}: ${hits ? "refused" : "fine"}`, () => {
            assert.equal(hitsUpgradeBug(version(from), version(to)), hits);
        });
    }
});

describe("planMattermostUpgrade", () => {
    const CASES: readonly [from: string, to: string, edition: MattermostEdition, expected: readonly string[]][] = [
        ["11.7.9", "11.7.9", "enterprise", []],
        ["11.7.3", "11.7.9", "enterprise", ["11.7.9"]],
        ["10.11.20", "11.7.9", "enterprise", ["11.7.9"]],
        ["10.11.20", "12.0.0", "enterprise", ["11.7.9 (ESR)", "12.0.0"]],
        ["10.11.23", "11.10.0", "team", ["11.7.9 (ESR)", "11.10.0"]],
        ["11.7.9", "12.0.0", "enterprise", ["12.0.0"]],
    ];
    for (const [from, to, edition, expected] of CASES) {
        it(`${from} → ${to} (${edition}): ${expected.join(" → ") || "nothing"}`, () => {
            assert.deepEqual(walk(planMattermostUpgrade(version(from), version(to), edition)), expected);
        });
    }

    it("refuses a downgrade, saying why and what to do", () => {
        const plan = planMattermostUpgrade(version("11.7.9"), version("11.7.8"), "enterprise");
        assert.equal(plan.kind, "refused");
        assert.equal(plan.kind === "refused" && plan.reason, "downgrade");
        assert.match(plan.kind === "refused" ? `${plan.problem} ${plan.remedy}` : "", /does not support downgrades.*11\.7\.9 or newer/);
    });

    it("refuses a target with the 10.11 upgrade bug, naming the fixed versions", () => {
        const plan = planMattermostUpgrade(version("10.11.20"), version("11.7.2"), "enterprise");
        assert.equal(plan.kind === "refused" && plan.reason, "upgrade-bug");
        assert.match(plan.kind === "refused" ? plan.remedy : "", /11\.7\.3.*11\.8\.1.*11\.9\.0/);
    });

    const known = fc.constantFrom(...MATTERMOST_RELEASES.map((release) => release.version));
    const edition = fc.constantFrom<MattermostEdition>("enterprise", "team");
    it("walks upward, ends at the target, stops at every ESR line between, and never into the bug", () => {
        fc.assert(
            fc.property(known, known, edition, (a: Version, b: Version, ed) => {
                const [from, to] = compareVersions(a, b) <= 0 ? [a, b] : [b, a];
                const plan = planMattermostUpgrade(from, to, ed);
                if (plan.kind === "refused") {
                    assert.equal(plan.reason, "upgrade-bug");
                    return;
                }
                const route = [from, ...plan.steps.map((step) => step.version)];
                for (let i = 1; i < route.length; i++) {
                    assert.ok(compareVersions(route[i - 1]!, route[i]!) < 0);
                    assert.equal(hitsUpgradeBug(route[i - 1]!, route[i]!), false);
                }
                assert.deepEqual(route.at(-1), to);
                for (const line of MATTERMOST_ESR_LINES) {
                    if (compareLines(line, from) > 0 && compareLines(line, to) < 0) {
                        assert.ok(plan.steps.some((step) => step.reason === "esr-stop" && compareLines(step.version, line) === 0 && tarballSha256(step.version, ed) !== undefined));
                    }
                }
            }),
        );
    });
});
