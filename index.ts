// gitlab-mattermost: GitLab Omnibus with bundled Mattermost on AWS, one `pulumi up` per stack.
// The configuration is checked completely before the first resource is created.

import { Deployment } from "./components/deployment";
import { checkHostArchitectures, readStackSettings } from "./components/stackConfig";

export = async () => {
    const settings = readStackSettings();
    await checkHostArchitectures(settings);
    const deployment = new Deployment("gitlab-mattermost", { settings });
    return {
        topology: settings.topology,
        gitlabUrl: deployment.gitlabUrl,
        mattermostUrl: deployment.mattermostUrl,
        hosts: deployment.hosts,
        initialRootPassword: deployment.initialRootPassword,
        sshPrivateKey: deployment.sshPrivateKey,
        mattermostDatabaseCommand: deployment.mattermostDatabaseCommand,
        mattermostCliCommand: deployment.mattermostCliCommand,
        mmctlCommand: deployment.mmctlCommand,
        ...(deployment.caCertificate ? { caCertificate: deployment.caCertificate } : {}),
    };
};
