// gitlab.rb of the split topology's Mattermost host: the same package with GitLab's own services
// off. Pure module.

import type { GitlabRbSection } from "../gitlabRb";
import type { DeploymentSettings } from "../../settings/settings";
import { mattermostSection, tlsSection, type DeployTimeValues } from "./shared";

/** Services that a Mattermost-only host does not run. The PostgreSQL server stays: Mattermost uses it. */
const DISABLED_SERVICES = [
    "gitlab_rails",
    "redis",
    "postgres_exporter",
    // Only written for versions before 17.1; see KEY_LIFETIMES.
    "grafana",
    "prometheus_monitoring",
] as const;

export function mattermostHostSections(settings: DeploymentSettings, secrets: DeployTimeValues): readonly GitlabRbSection[] {
    return [
        {
            title: "URLs",
            note:
                "external_url is the Mattermost name too: Omnibus takes the certificate's name from it\n" +
                "(Let's Encrypt requests one for external_url's host). No GitLab runs here.",
            settings: [
                { key: "external_url", value: settings.mattermostExternalUrl.href },
                { key: "mattermost_external_url", value: settings.mattermostExternalUrl.href },
            ],
        },
        {
            title: "Services",
            note: "GitLab's own services are off on the Mattermost host",
            settings: DISABLED_SERVICES.map((service) => ({ key: `${service}['enable']`, value: false })),
        },
        tlsSection(settings, { gitlab: false, mattermost: true }),
        // GitLab is elsewhere: its endpoints cannot be derived from this host's external_url.
        mattermostSection(settings, secrets, { explicitEndpoints: true }),
    ];
}
