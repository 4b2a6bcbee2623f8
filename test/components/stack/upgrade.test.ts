// In-place upgrades: the plan a run makes from the recorded version (pure), and the remote steps it
// adds, their order, and what a version bump changes (the program on Pulumi's mock runtime).

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../../components/stack/config";
import { scriptOfCommand } from "../../../components/omnibus/hostScripts";
import { planVersion } from "../../../components/stack/upgrade";
import { formatVersion } from "../../../components/versions/versions";
import { runOffline, type OfflineRun } from "../../../scripts/offlineRuntime";
import { parseConfig, stackConfig } from "../../support/stackConfig";
import { version } from "../../support/versions";


describe("planVersion", () => {
    const settings = (version = "18.11.11", edition = "ee", topology: "single" | "split" = "split") =>
        parseConfig(stackConfig(topology, { gitlab: { version, edition } }));

    it("plans a fresh install when nothing was deployed", () => {
        const plan = planVersion(settings(), undefined);
        assert.equal(plan.path, undefined);
        assert.equal(plan.summary, "fresh install of gitlab-ee 18.11.11");
    });

    it("plans nothing when the deployed package is the configured one", () => {
        const plan = planVersion(settings(), { edition: "ee", version: version("18.11.11") });
        assert.equal(plan.path, undefined);
        assert.match(plan.summary, /nothing to install/);
    });

    it("walks every required stop at its latest patch", () => {
        const plan = planVersion(settings(), { edition: "ee", version: version("17.11.7") });
        assert.deepEqual(plan.path?.steps.map((step) => formatVersion(step.version)), ["18.2.8", "18.5.7", "18.8.11", "18.11.11"]);
        assert.equal(plan.summary, "18.2.8 (required stop) → 18.5.7 (required stop) → 18.8.11 (required stop) → 18.11.11");
    });

    const refusals: [string, () => unknown, string, RegExp][] = [
        ["a downgrade", () => planVersion(settings("18.8.11"), { edition: "ee", version: version("18.11.11") }), "gitlab.version", /cannot be downgraded/],
        ["an EE to CE switch", () => planVersion(settings("18.11.11", "ce"), { edition: "ee", version: version("18.11.11") }), "gitlab.edition", /cannot switch from EE to CE/],
        ["an unknown installed line", () => planVersion(settings(), { edition: "ee", version: version("18.12.0") }), "gitlab.version", /no upgrade data/],
    ];
    for (const [title, run, key, message] of refusals) {
        it(`refuses ${title}, naming the key`, () => {
            assert.throws(run, (error: unknown) => error instanceof ConfigError && error.key === key && message.test(error.message));
        });
    }

    it("refuses a walk that the current gitlab.rb would abort, naming the key", () => {
        // A Mattermost host rendered for 16.11 holds grafana['enable'], which 17.1 refuses.
        assert.throws(
            () => planVersion(settings("17.3.7"), { edition: "ee", version: version("16.11.10") }),
            (error: unknown) =>
                error instanceof ConfigError && error.key === "gitlab.version" && /mattermost host's gitlab\.rb sets grafana\['enable'\], which GitLab 17\.1\.0 refuses/.test(error.message),
        );
    });
});

const commands = (run: OfflineRun) =>
    Object.fromEntries(
        run.resources
            .filter((r) => r.type === "command:remote:Command")
            .map((c) => [c.name, { create: String(c.inputs.create), dependsOn: c.dependsOn, key: JSON.stringify([c.inputs.create, c.inputs.stdin, c.inputs.triggers]) }]),
    );

describe("upgrade steps in the program", () => {
    it("walks each host after its install and a backup, before its gitlab.rb and health gate, GitLab's host first", async () => {
        const run = await runOffline(stackConfig("split"), { deployed: { gitlabEdition: "ee", gitlabVersion: "18.2.8" } });
        const all = commands(run);
        assert.match(all["gitlab-upgrade"].create, /' upgrade-gitlab\.sh ee 21600 18\.5\.7 18\.8\.11 18\.11\.11$/);
        assert.match(all["mattermost-upgrade"].create, /' upgrade-gitlab\.sh ee none 18\.5\.7 18\.8\.11 18\.11\.11$/, "no GitLab database to wait on");
        assert.equal(all["gitlab-backup-before-upgrade"].create, "sudo systemctl start gitlab-full-backup.service");
        assert.equal(all["mattermost-backup-before-upgrade"].create, "sudo systemctl start mattermost-backup.service");
        for (const host of ["gitlab", "mattermost"]) {
            assert.equal(scriptOfCommand(all[`${host}-upgrade`].create), "upgrade-gitlab.sh");
            assert.ok(all[`${host}-upgrade`].dependsOn.includes(`${host}-backup-before-upgrade`), "backed up first");
            assert.ok(all[`${host}-backup-before-upgrade`].dependsOn.includes(`${host}-backup-timers`), "with the backup tools in place");
            assert.ok(all[`${host}-upgrade`].dependsOn.includes(`${host}-install`));
            assert.ok(all[`${host}-gitlab-rb`].dependsOn.includes(`${host}-upgrade`));
            assert.ok(all[`${host}-dns-ready`].dependsOn.includes(`${host}-upgrade`));
        }
        assert.ok(all["mattermost-upgrade"].dependsOn.includes("gitlab-gitlab-health"), "the Mattermost host waits for GitLab to be healthy on the new version");
        assert.equal(run.outputs.versionPlan, "18.5.7 (required stop) → 18.8.11 (required stop) → 18.11.11");
        assert.equal(run.outputs.gitlabVersion, "18.11.11");
        assert.equal(run.outputs.mattermostVersion, "10.11.20");
    });

    it("adds no upgrade step for a fresh install or an unchanged version", async () => {
        for (const deployed of [undefined, { gitlabEdition: "ee", gitlabVersion: "18.11.11" }]) {
            const run = await runOffline(stackConfig("single"), { deployed });
            assert.ok(!Object.keys(commands(run)).some((name) => name.endsWith("-upgrade")));
        }
    });

    it("changes only what a version bump must run: install (no-op), the walk, the health gates", async () => {
        const config = (version: string) => stackConfig("split", { gitlab: { version } });
        const before = commands(await runOffline(config("18.8.11"), { deployed: { gitlabEdition: "ee", gitlabVersion: "18.8.11" } }));
        const after = commands(await runOffline(config("18.11.11"), { deployed: { gitlabEdition: "ee", gitlabVersion: "18.8.11" } }));
        const added = Object.keys(after).filter((name) => !(name in before)).sort();
        const changed = Object.keys(after).filter((name) => name in before && before[name].key !== after[name].key).sort();
        assert.deepEqual(added, ["gitlab-backup-before-upgrade", "gitlab-upgrade", "mattermost-backup-before-upgrade", "mattermost-upgrade"]);
        assert.deepEqual(changed, ["gitlab-gitlab-health", "gitlab-install", "mattermost-install", "mattermost-mattermost-health"]);
    });
});
