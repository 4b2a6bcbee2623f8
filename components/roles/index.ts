// Dispatches a host role to the module that knows its gitlab.rb. Pure module.

import { renderGitlabRb } from "../gitlabRb";
import type { DeploymentSettings } from "../settings";
import type { HostRole } from "../topology";
import { gitlabHostSections } from "./gitlab";
import { mattermostHostSections } from "./mattermost";
import type { GitlabRbSecrets } from "./shared";
import { singleHostSections } from "./single";

export type { GitlabRbSecrets } from "./shared";

const SECTIONS_BY_ROLE = {
    single: singleHostSections,
    gitlab: gitlabHostSections,
    mattermost: mattermostHostSections,
} as const;

/** The exact gitlab.rb that a host of `role` gets. */
export function gitlabRbFor(role: HostRole, settings: DeploymentSettings, secrets: GitlabRbSecrets, origin: string): string {
    return renderGitlabRb({
        origin,
        version: settings.gitlab.version,
        sections: SECTIONS_BY_ROLE[role](settings, secrets),
    });
}
