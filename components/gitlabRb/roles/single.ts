// gitlab.rb of the single host, which serves GitLab and Mattermost. Pure module.

import type { GitlabRbSection } from "../gitlabRb";
import type { DeploymentSettings } from "../../settings/settings";
import { gitlabBackupSection, gitlabMailSection, mattermostSection, optional, rootAccountSection, tlsSection, type DeployTimeValues } from "./shared";

export function singleHostSections(settings: DeploymentSettings, secrets: DeployTimeValues): readonly GitlabRbSection[] {
    return [
        {
            title: "URLs",
            note: "setting mattermost_external_url enables the bundled Mattermost",
            settings: [
                { key: "external_url", value: settings.externalUrl.href },
                { key: "mattermost_external_url", value: settings.mattermostExternalUrl.href },
            ],
        },
        rootAccountSection(secrets),
        ...optional(gitlabMailSection(settings, secrets)),
        ...optional(gitlabBackupSection(secrets)),
        tlsSection(settings, { gitlab: true, mattermost: true }),
        // Omnibus registers the application itself here (GitLab runs on this host) and derives the
        // endpoints from external_url.
        mattermostSection(settings, secrets, { explicitEndpoints: false }),
    ];
}
