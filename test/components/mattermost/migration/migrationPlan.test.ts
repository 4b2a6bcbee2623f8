// planMattermostMigration: when a run moves the bundled Mattermost to the standalone host, what it
// refuses (naming the key), and the plan text a preview shows.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { placeMattermost, planMattermostMigration, type DeployedForMigration } from "../../../../components/mattermost/migration/migrationPlan";
import { ConfigError } from "../../../../components/settings/configError";
import { bundledMattermost, parseVersion } from "../../../../components/versions/versions";
import { parseConfig, stackConfig } from "../../../support/stackConfig";

const v = (text: string) => parseVersion(text)!;
/** A split standalone stack at GitLab `gitlab` asking for Mattermost `mattermost`. */
function standalone(mattermost: string, gitlab = "18.11.11") {
    const settings = (extra: Record<string, unknown>) =>
        parseConfig(stackConfig("split", { gitlab: { edition: "ee", version: gitlab }, mattermost: { mode: "standalone", version: mattermost, ...extra } }));
    try {
        return settings({});
    } catch (error) {
        // A release whose published checksum the version data lacks needs one configured.
        if (error instanceof ConfigError && error.key === "mattermost.checksum") return settings({ checksum: "a".repeat(64) });
        throw error;
    }
}
const BUNDLED_18_11_11: DeployedForMigration = { gitlabVersion: v("18.11.11"), mattermostMode: "bundled", topology: "single" };

function refusal(run: () => unknown): ConfigError {
    try {
        run();
    } catch (error) {
        assert.ok(error instanceof ConfigError, String(error));
        return error;
    }
    return assert.fail("accepted");
}

describe("planMattermostMigration", () => {
    it("moves a deployed bundled stack: the GitLab host's bundle on a single stack, the old Mattermost host's on a split one", () => {
        for (const [topology, host, where] of [["single", "gitlab", /the GitLab host/], ["split", "mattermost", /the present Mattermost host/]] as const) {
            const plan = planMattermostMigration(standalone("10.11.20"), { ...BUNDLED_18_11_11, topology });
            assert.equal(plan.kind, "migrate");
            if (plan.kind !== "migrate") return;
            assert.equal(plan.bundledHost, host);
            assert.equal(plan.bundledVersion, "10.11.20");
            assert.equal(plan.targetVersion, "10.11.20");
            assert.match(plan.text[0]!, where);
            const text = plan.text.join("\n");
            for (const kept of [/mattermost_production/, /at-rest key/, /plugins and client-plugins/, /row count and checksum/, /sha256/, /mattermost\.removeBundledData/, /starts again on its unchanged data/]) {
                assert.match(text, kept);
            }
        }
    });

    it("says when the moved messages meet Entry's history limit: the Enterprise build without a licence, not Team Edition", () => {
        const entry = planMattermostMigration(standalone("10.11.20"), BUNDLED_18_11_11);
        assert.match(entry.kind === "migrate" ? entry.text.join("\n") : "", /runs as Entry: of the moved messages it shows and searches only the newest 10000/);
        const team = parseConfig(stackConfig("split", { gitlab: { edition: "ee", version: "18.11.11" }, mattermost: { mode: "standalone", version: "10.11.20", edition: "team" } }));
        const teamPlan = planMattermostMigration(team, BUNDLED_18_11_11);
        assert.equal(teamPlan.kind, "migrate");
        assert.doesNotMatch(teamPlan.kind === "migrate" ? teamPlan.text.join("\n") : "", /Entry/);
    });

    it("plans nothing for a fresh stack, a bundled configuration, or a stack already standalone", () => {
        assert.deepEqual(planMattermostMigration(standalone("10.11.20"), {}), { kind: "none" });
        assert.deepEqual(planMattermostMigration(standalone("10.11.20"), { ...BUNDLED_18_11_11, mattermostMode: "standalone" }), { kind: "none" });
        assert.deepEqual(planMattermostMigration(parseConfig(stackConfig("split")), BUNDLED_18_11_11), { kind: "none" });
    });

    it("refuses any Mattermost version other than the bundled one, naming mattermost.version and the version to set", () => {
        fc.assert(
            fc.property(fc.integer({ min: 0, max: 40 }), (patch) => {
                fc.pre(patch !== 20);
                const error = refusal(() => planMattermostMigration(standalone(`10.11.${patch}`), BUNDLED_18_11_11));
                assert.equal(error.key, "mattermost.version");
                assert.match(error.message, /bundles Mattermost 10\.11\.20\. The move needs the same Mattermost version.*mattermost\.version 10\.11\.20$/);
            }),
            { numRuns: 20 },
        );
        const upgrade = refusal(() => planMattermostMigration(standalone("11.7.9"), BUNDLED_18_11_11));
        assert.match(upgrade.message, /upgrade Mattermost after the move, as its own change/);
    });

    it("accepts a version inside the range a middle 18.11 patch bundles, and says the host checks it exactly", () => {
        const bundled = bundledMattermost(v("18.11.5"));
        assert.equal(bundled?.kind, "range", "the version data knows 18.11.5 only as a range");
        const plan = planMattermostMigration(standalone("10.11.20", "18.11.5"), { ...BUNDLED_18_11_11, gitlabVersion: v("18.11.5") });
        assert.equal(plan.kind, "migrate");
        assert.match(plan.kind === "migrate" ? plan.text.join("\n") : "", /checks that its database records 10\.11\.20 before anything stops/);
    });

    it("refuses to guess which host runs the bundle when the stack's record predates the topology output", () => {
        const { topology: _unrecorded, ...record } = BUNDLED_18_11_11;
        const error = refusal(() => planMattermostMigration(standalone("10.11.20"), record));
        assert.equal(error.key, "mattermost.mode");
        assert.match(error.message, /run pulumi up once to record the topology, then switch to standalone\.$/);
    });

    it("refuses a GitLab version change in the same run, naming gitlab.version", () => {
        const error = refusal(() => planMattermostMigration(standalone("10.11.20", "19.3.0"), BUNDLED_18_11_11));
        assert.equal(error.key, "gitlab.version");
        assert.match(error.message, /Keep gitlab\.version at 18\.11\.11 for the move/);
    });
});

describe("placeMattermost", () => {
    const settings = standalone("10.11.20");
    const removing = parseConfig(stackConfig("split", { gitlab: { edition: "ee", version: "18.11.11" }, mattermost: { mode: "standalone", version: "10.11.20", removeBundledData: true } }));
    const move = (topology: "single" | "split") => {
        const plan = planMattermostMigration(settings, { ...BUNDLED_18_11_11, topology });
        assert.equal(plan.kind, "migrate");
        return plan.kind === "migrate" ? plan : undefined;
    };

    it("names the standalone host, and says which host holds the bundled data, for each moment of a move", () => {
        const table: [string, ReturnType<typeof placeMattermost>, ReturnType<typeof placeMattermost>][] = [
            ["fresh standalone stack", placeMattermost(settings, undefined, {}), { standaloneHost: "mattermost" }],
            ["single stack moving", placeMattermost(settings, move("single"), {}), { standaloneHost: "mattermost", bundledData: { host: "gitlab", moving: true, removing: false } }],
            ["split stack moving", placeMattermost(settings, move("split"), {}), { standaloneHost: "mattermost-standalone", bundledData: { host: "mattermost", moving: true, removing: false } }],
            ["moving with removeBundledData set: kept this run", placeMattermost(removing, move("split"), {}), { standaloneHost: "mattermost-standalone", bundledData: { host: "mattermost", moving: true, removing: false } }],
            ["split stack after the move", placeMattermost(settings, undefined, { standaloneHost: "mattermost-standalone", bundledDataOn: "mattermost" }), { standaloneHost: "mattermost-standalone", bundledData: { host: "mattermost", moving: false, removing: false } }],
            ["removing after the move", placeMattermost(removing, undefined, { standaloneHost: "mattermost-standalone", bundledDataOn: "mattermost" }), { standaloneHost: "mattermost-standalone", bundledData: { host: "mattermost", moving: false, removing: true } }],
            ["after the removal", placeMattermost(removing, undefined, { standaloneHost: "mattermost-standalone" }), { standaloneHost: "mattermost-standalone" }],
            ["single stack after the move", placeMattermost(settings, undefined, { standaloneHost: "mattermost", bundledDataOn: "gitlab" }), { standaloneHost: "mattermost", bundledData: { host: "gitlab", moving: false, removing: false } }],
        ];
        for (const [moment, placed, expected] of table) {
            assert.deepEqual(placed, expected, moment);
        }
    });

    it("keeps a recorded standalone host name whatever else is recorded", () => {
        fc.assert(
            fc.property(fc.constantFrom("mattermost", "mattermost-standalone" as const), fc.constantFrom(undefined, "gitlab", "mattermost" as const), (standaloneHost, bundledDataOn) => {
                const placed = placeMattermost(settings, undefined, { standaloneHost, ...(bundledDataOn === undefined ? {} : { bundledDataOn }) });
                assert.equal(placed.standaloneHost, standaloneHost);
                assert.equal(placed.bundledData?.host, bundledDataOn);
            }),
        );
    });

    it("refuses a restore in the run that moves, naming backup.restoreFrom", () => {
        const restoring = parseConfig({ ...stackConfig("split", { gitlab: { edition: "ee", version: "18.11.11" }, mattermost: { mode: "standalone", version: "10.11.20" } }), backup: { restoreFrom: "latest" } });
        assert.equal(refusal(() => planMattermostMigration(restoring, BUNDLED_18_11_11)).key, "backup.restoreFrom");
    });
});
