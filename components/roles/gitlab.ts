// gitlab.rb of the split topology's GitLab host. Nothing here enables Mattermost. Pure module.

import type { GitlabRbSection } from "../gitlabRb";
import type { DeploymentSettings } from "../settings";
import { gitlabMailSection, optional, rootAccountSection, tlsSection, type GitlabRbSecrets } from "./shared";

export function gitlabHostSections(settings: DeploymentSettings, secrets: GitlabRbSecrets): readonly GitlabRbSection[] {
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
        tlsSection(settings, { gitlab: true, mattermost: false }),
    ];
}
