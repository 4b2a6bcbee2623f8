// gitlab.rb of the split topology's GitLab host. Nothing here enables Mattermost. Pure module.

import type { GitlabRbSection } from "../gitlabRb";
import type { DeploymentSettings } from "../../settings/settings";
import { gitlabBackupSection, gitlabMailSection, optional, rootAccountSection, tlsSection, type DeployTimeValues } from "./shared";

export function gitlabHostSections(settings: DeploymentSettings, secrets: DeployTimeValues): readonly GitlabRbSection[] {
    return [
        {
            title: "URLs",
            note: "mattermost_host points GitLab's Mattermost integrations at the other host",
            settings: [
                { key: "external_url", value: settings.externalUrl.href },
                { key: "gitlab_rails['mattermost_host']", value: settings.mattermostExternalUrl.href },
            ],
        },
        rootAccountSection(secrets),
        ...optional(gitlabMailSection(settings, secrets)),
        ...optional(gitlabBackupSection(secrets)),
        tlsSection(settings, { gitlab: true, mattermost: false }),
    ];
}
