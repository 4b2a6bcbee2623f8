// gitlab-mattermost: GitLab Omnibus with bundled Mattermost on AWS, one `pulumi up` per stack.
// The configuration is checked completely before the first resource is created.

import { Deployment } from "./components/stack/deployment";
import { DEPLOYED_OUTPUTS, readDeployedState } from "./components/stack/deployedState";
import { checkHostArchitectures, chooseHostZone, planVersionOrFail, readStackSettings } from "./components/stack/stackConfig";
import * as pulumi from "@pulumi/pulumi";
import { describeSignIn } from "./components/mattermost/standaloneRelease";
import { bundledMattermost, formatBundledMattermost, formatVersion } from "./components/versions/versions";
import { placeMattermost } from "./components/mattermost/migration/migrationPlan";

export = async () => {
    const settings = readStackSettings();
    await checkHostArchitectures(settings);
    const deployed = await readDeployedState();
    const availabilityZone = await chooseHostZone(settings, deployed.availabilityZone);
    const versionPlan = planVersionOrFail(settings, deployed.gitlabPackage, deployed.mattermost);
    const standalone = settings.mattermost.standalone;
    const signIn = describeSignIn(settings.mattermost.mode, standalone);
    if (signIn.warning !== undefined) {
        pulumi.log.warn(signIn.warning);
    }
    if (versionPlan.mattermostMigration !== undefined) {
        pulumi.log.info(versionPlan.mattermostMigration.text.join("\n"));
    }
    const placement = placeMattermost(settings, versionPlan.mattermostMigration, deployed.mattermost ?? {});
    const deployment = new Deployment("gitlab-mattermost", { settings, versionPlan, availabilityZone, placement });
    const mattermost = bundledMattermost(settings.gitlab.version);
    const bundledData = placement.bundledData;
    // Where Mattermost runs is recorded once a move or removal in this run is complete.
    const recorded = deployment.recorded;
    return {
        [DEPLOYED_OUTPUTS.topology]: recorded(settings.topology),
        // The deployed package is also the record the next run plans its upgrade from.
        [DEPLOYED_OUTPUTS.edition]: settings.gitlab.edition,
        [DEPLOYED_OUTPUTS.version]: formatVersion(settings.gitlab.version),
        // The zone the hosts' subnet is in; later runs keep the hosts there.
        [DEPLOYED_OUTPUTS.availabilityZone]: deployment.availabilityZone,
        [DEPLOYED_OUTPUTS.mattermostMode]: recorded(settings.mattermost.mode),
        [DEPLOYED_OUTPUTS.mattermostVersion]: recorded(standalone ? formatVersion(standalone.version) : mattermost ? formatBundledMattermost(mattermost) : "unknown"),
        ...(standalone
            ? {
                  [DEPLOYED_OUTPUTS.standaloneHost]: recorded(placement.standaloneHost),
                  [DEPLOYED_OUTPUTS.bundledDataOn]: recorded(bundledData === undefined || bundledData.removing ? "none" : bundledData.host),
              }
            : {}),
        ...(standalone ? { mattermostEdition: standalone.edition } : {}),
        mattermostSignIn: signIn.signIn,
        versionPlan: versionPlan.summary,
        ...(versionPlan.mattermostMigration ? { mattermostMigration: versionPlan.mattermostMigration.text } : {}),
        gitlabUrl: deployment.gitlabUrl,
        mattermostUrl: deployment.mattermostUrl,
        hosts: deployment.hosts,
        initialRootPassword: deployment.initialRootPassword,
        mattermostAdminUsername: deployment.mattermostAdminUsername,
        mattermostAdminPassword: deployment.mattermostAdminPassword,
        sshPrivateKey: deployment.sshPrivateKey,
        mattermostDatabaseCommand: deployment.mattermostDatabaseCommand,
        mattermostCliCommand: deployment.mattermostCliCommand,
        mmctlCommand: deployment.mmctlCommand,
        backupBucket: deployment.backupBucket,
        backupCommands: deployment.backupCommands,
        ...(deployment.mattermostRestoreCommand ? { mattermostRestoreCommand: deployment.mattermostRestoreCommand } : {}),
        lastSuccessfulBackups: deployment.lastSuccessfulBackups,
        ...(deployment.caCertificate ? { caCertificate: deployment.caCertificate } : {}),
    };
};
