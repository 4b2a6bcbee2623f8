// What `pulumi up` does about the GitLab version: nothing, a fresh install, or a walk along the
// required upgrade stops from the deployed package, refused up front when it cannot be done.
// Pure module: no cloud SDK, no Pulumi runtime.

import { ConfigError } from "../settings/configError";
import { gitlabRbKeys } from "../gitlabRb/roles";
import type { DeploymentSettings } from "../settings/settings";
import { planHosts } from "../settings/topology";
import { describeUpgradePlan, planUpgrade, type GitlabPackage, type UpgradePath } from "../omnibus/upgradePath";
import { formatVersion, keyChangesBetween } from "../versions/versions";

/** The version decision for this run. */
export interface VersionPlan {
    /** The package the stack recorded after its last successful deployment; undefined before the first. */
    readonly deployed?: GitlabPackage;
    /** The walk to make; undefined when nothing is installed yet (a fresh install) or nothing changes. */
    readonly path?: UpgradePath;
    /** One line for the preview and the stack outputs. */
    readonly summary: string;
}

/**
 * Plans the move from the deployed package to the configured one. Refusals (downgrade, EE to CE,
 * 19.0 or later, an unknown line, a key the walk would abort on) are ConfigErrors on gitlab.version
 * or gitlab.edition, raised before any resource is created.
 */
export function planVersion(settings: DeploymentSettings, deployed: GitlabPackage | undefined): VersionPlan {
    const target: GitlabPackage = { edition: settings.gitlab.edition, version: settings.gitlab.version };
    if (deployed === undefined) {
        return { summary: `fresh install of gitlab-${target.edition} ${formatVersion(target.version)}` };
    }
    const plan = planUpgrade(deployed, target);
    if (plan.kind === "refused") {
        throw new ConfigError(plan.reason === "edition-switch" ? "gitlab.edition" : "gitlab.version", `cannot be applied: ${plan.problem} ${plan.remedy}`);
    }
    if (plan.steps.length === 0) {
        return { deployed, summary: describeUpgradePlan(plan) };
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
    for (const host of planHosts(settings)) {
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
    return { deployed, path: plan, summary: describeUpgradePlan(plan) };
}
