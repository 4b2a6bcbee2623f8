// components/omnibus/upgradePath.ts: the versions an in-place upgrade installs, checked against GitLab's upgrade
// path written out by hand (table tests) and against the package's own MIN_VERSION enforcement
// (properties over arbitrary pairs of known versions).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
    describeUpgradePlan,
    planUpgrade,
    upgradeScriptArgs,
    type ConditionalStops,
    type GitlabPackage,
    type UpgradePath,
    type UpgradePlan,
    type UpgradeRefusal,
} from "../../../components/omnibus/upgradePath";
import type { Edition } from "../../../components/settings/settings";
import {
    LAST_MINOR_OF_MAJOR,
    UPGRADE_STOPS,
    compareLines,
    compareVersions,
    formatVersion,
    isKnownLine,
    type ReleaseLine,
    type Version,
} from "../../../components/versions/versions";
import { version } from "../../support/versions";


function pkg(text: string, edition: Edition = "ee"): GitlabPackage {
    return { edition, version: version(text) };
}

function expectPath(plan: UpgradePlan): UpgradePath {
    assert.equal(plan.kind, "path", describeUpgradePlan(plan));
    return plan as UpgradePath;
}

function expectRefusal(plan: UpgradePlan): UpgradeRefusal {
    assert.equal(plan.kind, "refused", plan.kind === "path" ? `got a path: ${describeUpgradePlan(plan)}` : "");
    return plan as UpgradeRefusal;
}

// ---- Table: GitLab's upgrade path, written out from ops-facts.md §1 ---------------------------------

interface PathCase {
    readonly name: string;
    readonly from: string;
    readonly to: string;
    readonly fromEdition?: Edition;
    readonly toEdition?: Edition;
    readonly conditionalStops?: ConditionalStops;
    /** Set for walks into 19.x, which only a stack with a standalone Mattermost makes. */
    readonly mattermost?: "standalone";
    /**
     * Expected versions; a trailing `?` marks a conditional stop, a leading `=` the edition conversion,
     * `pg17@x.y.z` the PostgreSQL upgrade to 17 made on x.y.z.
     */
    readonly walk: readonly string[];
}

const FROM_16_3_TO_18_11 = ["16.3.9", "16.7.10", "16.11.10", "17.1.8?", "17.3.7", "17.5.5", "17.8.7", "17.11.7", "18.2.8", "18.5.7", "18.8.11", "18.11.11"];

const PATH_CASES: readonly PathCase[] = [
    { name: "same version: nothing to install", from: "18.11.11", to: "18.11.11", walk: [] },
    { name: "a patch bump within a line", from: "18.11.3", to: "18.11.11", walk: ["18.11.11"] },
    { name: "a patch bump within a stop's line stays on the line", from: "17.3.2", to: "17.3.5", walk: ["17.3.5"] },
    { name: "16.2 → 18.11, from below 16.2's latest patch", from: "16.2.4", to: "18.11.11", walk: ["16.2.11?", ...FROM_16_3_TO_18_11] },
    { name: "16.2 → 18.11, from 16.2's latest patch", from: "16.2.11", to: "18.11.11", walk: FROM_16_3_TO_18_11 },
    {
        name: "14.0 → 18.11",
        from: "14.0.0",
        to: "18.11.11",
        walk: ["14.0.12", "14.3.6", "14.9.5", "14.10.5", "15.0.5", "15.1.6?", "15.4.6", "15.11.13", "16.0.10?", "16.1.8?", "16.2.11?", ...FROM_16_3_TO_18_11],
    },
    {
        name: "14.0 → 18.11 without conditional stops",
        from: "14.0.0",
        to: "18.11.11",
        conditionalStops: "skip",
        walk: ["14.0.12", "14.3.6", "14.9.5", "14.10.5", "15.0.5", "15.4.6", "15.11.13", "16.3.9", "16.7.10", "16.11.10", "17.3.7", "17.5.5", "17.8.7", "17.11.7", "18.2.8", "18.5.7", "18.8.11", "18.11.11"],
    },
    { name: "a start exactly on a stop's latest patch goes on to the next stop", from: "17.3.7", to: "17.11.7", walk: ["17.5.5", "17.8.7", "17.11.7"] },
    { name: "a start on a stop's line below its latest patch takes that patch first", from: "17.3.2", to: "17.5.5", walk: ["17.3.7", "17.5.5"] },
    { name: "a target on a stop's line below its latest patch is installed as given", from: "17.1.8", to: "17.3.2", walk: ["17.3.2"] },
    { name: "a target between stops", from: "17.9.3", to: "18.1.2", walk: ["17.11.7", "18.1.2"] },
    { name: "the conditional 17.1 stop is walked by default", from: "16.11.10", to: "17.3.7", walk: ["17.1.8?", "17.3.7"] },
    { name: "the conditional 17.1 stop from 17.1.0, the oldest version this deployment installs", from: "17.1.0", to: "17.3.7", walk: ["17.1.8?", "17.3.7"] },
    { name: "the conditional 17.1 stop, skipped on request", from: "16.11.10", to: "17.3.7", conditionalStops: "skip", walk: ["17.3.7"] },
    { name: "a patch newer than the data's latest, as the target", from: "18.8.11", to: "18.11.14", walk: ["18.11.14"] },
    { name: "a patch newer than the data's latest, as the start", from: "17.3.9", to: "17.8.7", walk: ["17.5.5", "17.8.7"] },
    { name: "CE → EE converts at the installed version, then walks in EE", from: "17.3.7", to: "17.8.7", fromEdition: "ce", walk: ["=17.3.7", "17.5.5", "17.8.7"] },
    { name: "CE → EE at the same version is only the conversion", from: "18.11.11", to: "18.11.11", fromEdition: "ce", walk: ["=18.11.11"] },
    { name: "CE → CE walks in CE", from: "18.5.7", to: "18.11.11", fromEdition: "ce", toEdition: "ce", walk: ["18.8.11", "18.11.11"] },
    // GitLab 19.x: packages 19.0 to 19.2 need 18.11 and PostgreSQL 17; 19.3 needs 19.2 (standalone-facts §8).
    { name: "18.11 → newest 19.x: PostgreSQL 17 first, then the 19.2 stop", from: "18.11.11", to: "19.3.0", mattermost: "standalone", walk: ["pg17@18.11.11", "19.2.4", "19.3.0"] },
    { name: "18.11 below its latest patch → 19.2", from: "18.11.9", to: "19.2.4", mattermost: "standalone", walk: ["18.11.11", "pg17@18.11.11", "19.2.4"] },
    { name: "18.8 → 19.0 walks the 18.11 stop first", from: "18.8.11", to: "19.0.8", mattermost: "standalone", walk: ["18.11.11", "pg17@18.11.11", "19.0.8"] },
    { name: "19.0 → 19.3: PostgreSQL is already 17, the 19.2 stop remains", from: "19.0.8", to: "19.3.0", mattermost: "standalone", walk: ["19.2.4", "19.3.0"] },
    { name: "CE → EE into 19.x converts on 18.11 first", from: "18.11.11", to: "19.2.4", fromEdition: "ce", mattermost: "standalone", walk: ["=18.11.11", "pg17@18.11.11", "19.2.4"] },
];

describe("planUpgrade: paths", () => {
    for (const c of PATH_CASES) {
        it(`${c.name}: ${c.from} → ${c.to}`, () => {
            const toEdition = c.toEdition ?? "ee";
            const path = expectPath(
                planUpgrade(pkg(c.from, c.fromEdition ?? "ee"), pkg(c.to, toEdition), {
                    ...(c.conditionalStops ? { conditionalStops: c.conditionalStops } : {}),
                    ...(c.mattermost ? { mattermost: c.mattermost } : {}),
                }),
            );
            assert.equal(path.edition, toEdition);
            const written = path.steps.map((step) => {
                const text = formatVersion(step.version);
                if (step.reason === "postgresql-upgrade") {
                    return `pg${step.postgresqlMajor}@${text}`;
                }
                return step.reason === "conditional-stop" ? `${text}?` : step.reason === "edition-conversion" ? `=${text}` : text;
            });
            assert.deepEqual(written, c.walk);
            if (c.walk.length > 0) {
                assert.equal(formatVersion(path.steps.at(-1)!.version), c.to, "the walk ends at the target");
            }
        });
    }

    it("names the condition of a conditional stop and labels each step", () => {
        const path = expectPath(planUpgrade(pkg("16.11.10", "ce"), pkg("17.5.5")));
        assert.deepEqual(
            path.steps.map((step) => [step.reason, step.condition]),
            [
                ["edition-conversion", undefined],
                ["conditional-stop", "instances with a large ci_pipeline_messages table"],
                ["required-stop", undefined],
                ["target", undefined],
            ],
        );
        assert.equal(
            describeUpgradePlan(path),
            "16.11.10 (conversion to EE) → 17.1.8 (conditional stop, for instances with a large ci_pipeline_messages table) → 17.3.7 (required stop) → 17.5.5",
        );
    });

    it("describes the PostgreSQL step and gives it to the host script as postgresql-17", () => {
        const path = expectPath(planUpgrade(pkg("18.11.11"), pkg("19.3.0"), { mattermost: "standalone" }));
        assert.equal(describeUpgradePlan(path), "PostgreSQL 17 (gitlab-ctl pg-upgrade on 18.11.11) → 19.2.4 (required stop) → 19.3.0");
        assert.deepEqual(upgradeScriptArgs(path, 3600), ["ee", "3600", "postgresql-17", "19.2.4", "19.3.0"]);
    });

    it("describes an empty path and a refusal", () => {
        assert.equal(describeUpgradePlan(planUpgrade(pkg("18.11.11"), pkg("18.11.11"))), "nothing to install: the host runs the configured version");
        const refusal = expectRefusal(planUpgrade(pkg("18.11.11"), pkg("18.8.11")));
        assert.equal(describeUpgradePlan(refusal), `${refusal.problem} ${refusal.remedy}`);
    });
});

interface RefusalCase {
    readonly name: string;
    readonly from: GitlabPackage;
    readonly to: GitlabPackage;
    readonly reason: UpgradeRefusal["reason"];
    /** Must appear in the problem or the remedy. */
    readonly says: readonly RegExp[];
}

const REFUSAL_CASES: readonly RefusalCase[] = [
    { name: "a downgrade", from: pkg("18.11.11"), to: pkg("18.8.11"), reason: "downgrade", says: [/18\.11\.11/, /18\.8\.11/, /restor\w+ a backup/] },
    { name: "a patch downgrade", from: pkg("18.11.11"), to: pkg("18.11.10"), reason: "downgrade", says: [/cannot be downgraded/] },
    { name: "18.11 → 19.0", from: pkg("18.11.11"), to: pkg("19.0.0"), reason: "mattermost-removed", says: [/19\.0 removed the bundled Mattermost/, /18\.11 is the last/, /standalone/] },
    { name: "18.11 → 19.2.4", from: pkg("18.11.11"), to: pkg("19.2.4"), reason: "mattermost-removed", says: [/GitLab 19\.2\.4 cannot be installed/] },
    { name: "18.11 → 20.0", from: pkg("18.11.11"), to: pkg("20.0.0"), reason: "mattermost-removed", says: [/docs\/upgrading-past-18\.11\.md/] },
    { name: "EE → CE", from: pkg("18.8.11", "ee"), to: pkg("18.11.11", "ce"), reason: "edition-switch", says: [/EE to CE/, /gitlab\.edition ee/] },
    { name: "EE → CE at the same version", from: pkg("18.11.11", "ee"), to: pkg("18.11.11", "ce"), reason: "edition-switch", says: [/EE to CE/] },
    { name: "an unknown target minor", from: pkg("18.8.11"), to: pkg("18.12.0"), reason: "unknown-version", says: [/GitLab 18\.12\.0 is not a release line/, /up to 19\.3\.0/] },
    { name: "an unknown target minor inside a major", from: pkg("14.0.0"), to: pkg("14.11.0"), reason: "unknown-version", says: [/14\.11\.0/] },
    { name: "an installed version older than the data", from: pkg("12.10.14"), to: pkg("18.11.11"), reason: "unknown-version", says: [/runs GitLab 12\.10\.14/, /by hand/] },
    { name: "an installed version on an unknown minor", from: pkg("17.12.0"), to: pkg("18.11.11"), reason: "unknown-version", says: [/17\.12\.0/] },
];

describe("planUpgrade: refusals", () => {
    for (const c of REFUSAL_CASES) {
        it(`refuses ${c.name}, saying why and what to do`, () => {
            const refusal = expectRefusal(planUpgrade(c.from, c.to));
            assert.equal(refusal.reason, c.reason);
            assert.ok(refusal.problem.length > 0 && refusal.remedy.length > 0);
            for (const pattern of c.says) {
                assert.match(`${refusal.problem} ${refusal.remedy}`, pattern);
            }
        });
    }
});

describe("upgradeScriptArgs", () => {
    it("gives the edition, the migration wait, then the versions in order", () => {
        const path = expectPath(planUpgrade(pkg("17.11.7", "ce"), pkg("18.5.7", "ce")));
        assert.deepEqual(upgradeScriptArgs(path, 3600), ["ce", "3600", "18.2.8", "18.5.7"]);
        assert.deepEqual(upgradeScriptArgs(path, "none"), ["ce", "none", "18.2.8", "18.5.7"]);
    });

    it("refuses a wait that is not a whole number of seconds", () => {
        const path = expectPath(planUpgrade(pkg("18.8.11"), pkg("18.11.11")));
        for (const bad of [-1, 1.5, Number.NaN]) {
            assert.throws(() => upgradeScriptArgs(path, bad), /whole number of seconds/, String(bad));
        }
    });
});

// ---- Properties --------------------------------------------------------------------------------------

/**
 * The package's own guard, written independently of UPGRADE_STOPS: from each line on, preinst refuses
 * to upgrade a host whose installed line is older than MIN_VERSION (omnibus preinst.erb and
 * gitlab_ctl/upgrade_check.rb, values at the tags; ops-facts.md §1, standalone-facts.md §8). Known for 17.0 to 19.3.
 */
const MIN_VERSION: readonly (readonly [from: string, minimum: string])[] = [
    ["17.0", "16.11"],
    ["17.4", "17.3"],
    ["17.6", "17.5"],
    ["17.9", "17.8"],
    ["18.0", "17.11"],
    ["18.3", "18.2"],
    ["18.6", "18.5"],
    ["18.9", "18.8"],
    ["19.0", "18.11"],
    ["19.3", "19.2"],
];

function line(text: string): ReleaseLine {
    const [major, minor] = text.split(".").map(Number);
    return { major: major!, minor: minor! };
}

/** The MIN_VERSION the package of `target` enforces, if the table covers it. */
function minVersionFor(target: Version): ReleaseLine | undefined {
    const entry = MIN_VERSION.filter(([from]) => compareLines(line(from), target) <= 0).at(-1);
    return entry ? line(entry[1]) : undefined;
}

/** Every release line the data knows, oldest first. */
const KNOWN_LINES: readonly ReleaseLine[] = Object.entries(LAST_MINOR_OF_MAJOR).flatMap(([major, lastMinor]) =>
    Array.from({ length: lastMinor + 1 }, (_, minor) => ({ major: Number(major), minor })),
);

/** A known version: any known line with a patch up to a little past the newest patch of any stop. */
const knownVersion = fc
    .tuple(fc.constantFrom(...KNOWN_LINES), fc.nat({ max: 16 }))
    .map(([l, patch]): Version => ({ major: l.major, minor: l.minor, patch }));

/** Two known versions, older first, possibly equal. */
const orderedPair = fc.tuple(knownVersion, knownVersion).map(([a, b]): readonly [Version, Version] => (compareVersions(a, b) <= 0 ? [a, b] : [b, a]));

const editions = fc.constantFrom<readonly [Edition, Edition]>(["ee", "ee"], ["ce", "ce"], ["ce", "ee"]);
const conditional = fc.constantFrom<ConditionalStops>("include", "skip");

const RUNS = { numRuns: 500 };

/** Every known line can be walked to by a stack whose Mattermost is standalone. */
const STANDALONE = { mattermost: "standalone" } as const;

/** The package installs of a path, without the PostgreSQL upgrades made between them. */
function packageSteps(path: UpgradePath) {
    return path.steps.filter((step) => step.reason !== "postgresql-upgrade");
}

describe("planUpgrade: properties", () => {
    it("walks strictly upward from the installed version and ends exactly at the target", () => {
        fc.assert(
            fc.property(orderedPair, editions, conditional, ([from, to], [fromEdition, toEdition], conditionalStops) => {
                const path = expectPath(planUpgrade({ edition: fromEdition, version: from }, { edition: toEdition, version: to }, { conditionalStops, ...STANDALONE }));
                const steps = packageSteps(path).map((step) => step.version);
                const converting = fromEdition !== toEdition;
                // The conversion installs the installed version again, in the other edition; nothing else does.
                assert.equal(path.steps[0]?.reason === "edition-conversion", converting);
                if (converting) {
                    assert.deepEqual(steps[0], from);
                }
                const previous = [from, ...steps.slice(converting ? 1 : 0)];
                for (let i = 1; i < previous.length; i++) {
                    assert.ok(compareVersions(previous[i - 1]!, previous[i]!) < 0, `not increasing: ${previous.map(formatVersion).join(" → ")}`);
                }
                if (compareVersions(from, to) === 0 && !converting) {
                    assert.deepEqual(steps, []);
                } else {
                    assert.deepEqual(steps.at(-1), to);
                }
            }),
            RUNS,
        );
    });

    it("contains every stop after the installed version on a line before the target's", () => {
        fc.assert(
            fc.property(orderedPair, conditional, ([from, to], conditionalStops) => {
                const path = expectPath(planUpgrade({ edition: "ee", version: from }, { edition: "ee", version: to }, { conditionalStops, ...STANDALONE }));
                // The target may be a stop's latest patch itself; it is there as the target.
                const walked = new Set(path.steps.filter((step) => step.reason !== "target").map((step) => formatVersion(step.version)));
                for (const stop of UPGRADE_STOPS) {
                    const crossed = compareVersions(stop.latestPatch, from) > 0 && compareLines(stop.latestPatch, to) < 0;
                    const wanted = crossed && (conditionalStops === "include" || stop.condition === undefined);
                    assert.equal(walked.has(formatVersion(stop.latestPatch)), wanted, `stop ${formatVersion(stop.latestPatch)} on ${formatVersion(from)} → ${formatVersion(to)}`);
                }
            }),
            RUNS,
        );
    });

    it("never takes a step that the package's MIN_VERSION check would refuse, nor jumps over a stop's line", () => {
        fc.assert(
            fc.property(orderedPair, conditional, ([from, to], conditionalStops) => {
                const path = expectPath(planUpgrade({ edition: "ee", version: from }, { edition: "ee", version: to }, { conditionalStops, ...STANDALONE }));
                const route = [from, ...packageSteps(path).map((step) => step.version)];
                for (let i = 1; i < route.length; i++) {
                    const [before, next] = [route[i - 1]!, route[i]!];
                    const minimum = minVersionFor(next);
                    if (minimum) {
                        assert.ok(compareLines(before, minimum) >= 0, `${formatVersion(before)} → ${formatVersion(next)}: the package wants ${minimum.major}.${minimum.minor} first`);
                    }
                    // Leaving a stop's line, or crossing it, happens only from its latest patch or newer.
                    for (const stop of UPGRADE_STOPS) {
                        if (stop.condition !== undefined && conditionalStops === "skip") {
                            continue;
                        }
                        const leavesOrCrosses = compareLines(before, stop.latestPatch) <= 0 && compareLines(next, stop.latestPatch) > 0;
                        if (leavesOrCrosses) {
                            assert.ok(compareVersions(before, stop.latestPatch) >= 0, `${formatVersion(before)} → ${formatVersion(next)} skips stop ${formatVersion(stop.latestPatch)}`);
                        }
                    }
                }
            }),
            RUNS,
        );
    });

    it("upgrades PostgreSQL to 17 exactly when the walk enters 19.x, just before the first 19.x package, on the version before it", () => {
        fc.assert(
            fc.property(orderedPair, conditional, ([from, to], conditionalStops) => {
                const path = expectPath(planUpgrade({ edition: "ee", version: from }, { edition: "ee", version: to }, { conditionalStops, ...STANDALONE }));
                const upgrades = path.steps.flatMap((step, index) => (step.reason === "postgresql-upgrade" ? [index] : []));
                assert.equal(upgrades.length, from.major < 19 && to.major >= 19 ? 1 : 0, describeUpgradePlan(path));
                for (const index of upgrades) {
                    const [step, next] = [path.steps[index]!, path.steps[index + 1]!];
                    assert.equal(step.postgresqlMajor, 17);
                    assert.equal(next.version.major, 19, "the next package is the first 19.x");
                    assert.deepEqual(step.version, index === 0 ? from : path.steps[index - 1]!.version, "made on the version installed then");
                }
            }),
            RUNS,
        );
    });

    it("refuses every downgrade, every target from 19.0 on with a bundled Mattermost, and every line past the data", () => {
        const newer = fc.tuple(fc.integer({ min: 19, max: 25 }), fc.nat({ max: 12 }), fc.nat({ max: 20 }));
        fc.assert(
            fc.property(orderedPair, newer, ([older, newerKnown], [major, minor, patch]) => {
                if (compareVersions(older, newerKnown) < 0) {
                    assert.equal(expectRefusal(planUpgrade({ edition: "ee", version: newerKnown }, { edition: "ee", version: older }, STANDALONE)).reason, "downgrade");
                }
                if (!isKnownLine({ major, minor })) {
                    assert.equal(expectRefusal(planUpgrade({ edition: "ee", version: older }, { edition: "ee", version: { major, minor, patch } }, STANDALONE)).reason, "unknown-version");
                }
                const beyond = { major, minor, patch };
                assert.equal(expectRefusal(planUpgrade({ edition: "ee", version: older }, { edition: "ee", version: beyond })).reason, "mattermost-removed");
            }),
            RUNS,
        );
    });
});
