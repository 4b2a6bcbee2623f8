// gitlab-mattermost: GitLab Omnibus with bundled Mattermost on AWS, one `pulumi up` per stack.
// The configuration is checked completely before the first resource is created.

import { Deployment } from "./components/stack/deployment";
import { DEPLOYED_OUTPUTS, readDeployedState } from "./components/stack/deployedState";
import { checkHostArchitectures, chooseHostZone, planVersionOrFail, readStackSettings } from "./components/stack/stackConfig";
import { bundledMattermost, formatBundledMattermost, formatVersion } from "./components/versions/versions";

export = async () => {
    const settings = readStackSettings();
    await checkHostArchitectures(settings);
    const deployed = await readDeployedState();
    const availabilityZone = await chooseHostZone(settings, deployed.availabilityZone);
    const versionPlan = planVersionOrFail(settings, deployed.gitlabPackage);
    const deployment = new Deployment("gitlab-mattermost", { settings, versionPlan, availabilityZone });
    const mattermost = bundledMattermost(settings.gitlab.version);
    return {
        topology: settings.topology,
        // The deployed package is also the record the next run plans its upgrade from.
        [DEPLOYED_OUTPUTS.edition]: settings.gitlab.edition,
        [DEPLOYED_OUTPUTS.version]: formatVersion(settings.gitlab.version),
        // The zone the hosts' subnet is in; later runs keep the hosts there.
        [DEPLOYED_OUTPUTS.availabilityZone]: deployment.availabilityZone,
        mattermostVersion: mattermost ? formatBundledMattermost(mattermost) : "unknown",
        versionPlan: versionPlan.summary,
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
        mattermostRestoreCommand: deployment.mattermostRestoreCommand,
        lastSuccessfulBackups: deployment.lastSuccessfulBackups,
        ...(deployment.caCertificate ? { caCertificate: deployment.caCertificate } : {}),
    };
};
