// What `pulumi up` does about the GitLab version: nothing, a fresh install, or a walk along the
// required upgrade stops from the deployed package, refused up front when it cannot be done.
// Pure module: no cloud SDK, no Pulumi runtime.

import { ConfigError } from "../settings/configError";
import { gitlabRbKeys } from "../gitlabRb/roles";
import type { DeploymentSettings } from "../settings/settings";
import type { MattermostMode } from "../settings/settings";
import { planHosts, runsOmnibus } from "../settings/topology";
import { describeUpgradePlan, planUpgrade, type GitlabPackage, type UpgradePath } from "../omnibus/upgradePath";
import { planMattermostUpgrade, type MattermostUpgradeStep } from "../versions/mattermostReleases";
import { formatVersion, keyChangesBetween, type Version } from "../versions/versions";
import { planMattermostMigration, type BundledHostName, type MigrationPlan } from "../mattermost/migration/migrationPlan";
import type { StandaloneHostName } from "../settings/topology";
import type { Topology } from "../settings/settings";

/** The Mattermost the stack recorded after its last successful deployment. */
export interface DeployedMattermost {
    /** Stacks deployed before the mode was recorded ran the bundled Mattermost. */
    readonly mode: MattermostMode;
    /** The exact version, when the record holds one (a bundled patch range does not). */
    readonly version?: Version;
    /** The topology the stack ran; undefined when its record predates it. */
    readonly topology?: Topology;
    /** The standalone host's name, once one exists. */
    readonly standaloneHost?: StandaloneHostName;
    /** The host still holding the bundled Mattermost's data after a move; undefined when none does. */
    readonly bundledDataOn?: BundledHostName;
}

/** The version decision for this run. */
export interface VersionPlan {
    /** The package the stack recorded after its last successful deployment; undefined before the first. */
    readonly deployed?: GitlabPackage;
    /** The walk to make; undefined when nothing is installed yet (a fresh install) or nothing changes. */
    readonly path?: UpgradePath;
    /** One line for the preview and the stack outputs. */
    readonly summary: string;
    /** The standalone Mattermost's walk from the deployed version; undefined when nothing is to do. */
    readonly mattermostSteps?: readonly MattermostUpgradeStep[];
    /** The move of a deployed bundled Mattermost to the standalone host, when this run makes it. */
    readonly mattermostMigration?: Extract<MigrationPlan, { kind: "migrate" }>;
}

/**
 * Plans the move from the deployed package to the configured one. Refusals (downgrade, EE to CE,
 * 19.0 or later, an unknown line, a key the walk would abort on) are ConfigErrors on gitlab.version
 * or gitlab.edition, raised before any resource is created.
 */
export function planVersion(settings: DeploymentSettings, deployed: GitlabPackage | undefined, deployedMattermost?: DeployedMattermost): VersionPlan {
    const target: GitlabPackage = { edition: settings.gitlab.edition, version: settings.gitlab.version };
    if (deployed === undefined) {
        return { summary: `fresh install of gitlab-${target.edition} ${formatVersion(target.version)}` };
    }
    const migration = planMattermostMigration(settings, {
        gitlabVersion: deployed.version,
        mattermostMode: deployedMattermost?.mode ?? "bundled",
        ...(deployedMattermost?.topology === undefined ? {} : { topology: deployedMattermost.topology }),
    });
    if (migration.kind === "migrate") {
        return { deployed, mattermostMigration: migration, summary: `GitLab stays at ${formatVersion(deployed.version)}; Mattermost moves from the bundle (${migration.bundledVersion}) to a standalone host (${migration.targetVersion})` };
    }
    const mattermostSteps = planStandaloneMattermost(settings, deployedMattermost ?? { mode: "bundled" });
    const mattermostWalk = mattermostSteps.map((step) => `${formatVersion(step.version)}${step.reason === "esr-stop" ? " (ESR stop)" : ""}`).join(" → ");
    const withMattermost = (plan: VersionPlan): VersionPlan =>
        mattermostSteps.length === 0 ? plan : { ...plan, mattermostSteps, summary: `${plan.summary}; Mattermost: ${mattermostWalk}` };
    const plan = planUpgrade(deployed, target, { mattermost: settings.mattermost.mode });
    if (plan.kind === "refused") {
        throw new ConfigError(plan.reason === "edition-switch" ? "gitlab.edition" : "gitlab.version", `cannot be applied: ${plan.problem} ${plan.remedy}`);
    }
    if (plan.steps.length === 0) {
        return withMattermost({ deployed, summary: describeUpgradePlan(plan) });
    }
    if (settings.backup.restoreFrom !== undefined) {
        // The walk backs Mattermost up first; that backup would come before the restore (and be its `latest`).
        throw new ConfigError(
            "backup.restoreFrom",
            `is set while an upgrade to ${formatVersion(target.version)} is pending. Upgrade first without it (pulumi config rm --path backup.restoreFrom), then set it to restore.`,
        );
    }
    // The package's own pre-install check reads the gitlab.rb in place, which was rendered for the
    // deployed version: a key some step no longer accepts would stop the walk half-way.
    for (const host of planHosts(settings).filter(runsOmnibus)) {
        const blocking = keyChangesBetween(deployed.version, target.version, gitlabRbKeys(host.role, { ...settings, gitlab: { ...settings.gitlab, version: deployed.version } })).find(
            (change) => change.change === "aborts",
        );
        if (blocking) {
            throw new ConfigError(
                "gitlab.version",
                `cannot be reached from ${formatVersion(deployed.version)} in one run: the ${host.name} host's gitlab.rb sets ${blocking.key}, which GitLab ${formatVersion(blocking.version)} refuses (${blocking.source}). Upgrade to a version before ${formatVersion(blocking.version)} first, then to ${formatVersion(target.version)}.`,
            );
        }
    }
    return withMattermost({ deployed, path: plan, summary: describeUpgradePlan(plan) });
}

/**
 * The standalone Mattermost's walk on a deployed standalone stack, or a ConfigError: a downgrade or an
 * upgrade into Mattermost's documented migration bug is refused. (A bundled stack switching to
 * standalone is the move planMattermostMigration plans.)
 */
function planStandaloneMattermost(settings: DeploymentSettings, deployed: DeployedMattermost): readonly MattermostUpgradeStep[] {
    const standalone = settings.mattermost.standalone;
    if (standalone === undefined) {
        if (deployed.mode === "standalone") {
            throw new ConfigError("mattermost.mode", "is bundled, but this stack runs a standalone Mattermost: its data lives on the standalone host, and GitLab 19 has no bundled Mattermost to go back to. Set mattermost.mode back to standalone.");
        }
        return [];
    }
    if (deployed.mode === "bundled" || deployed.version === undefined) {
        return [];
    }
    const plan = planMattermostUpgrade(deployed.version, standalone.version, standalone.edition);
    if (plan.kind === "refused") {
        throw new ConfigError("mattermost.version", `cannot be applied: ${plan.problem} ${plan.remedy}`);
    }
    return plan.steps;
}
