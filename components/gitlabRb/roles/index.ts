// Dispatches a host role to the module that knows its gitlab.rb. Pure module.

import { renderGitlabRb } from "../gitlabRb";
import { keyExists } from "../../versions/versions";
import type { DeploymentSettings } from "../../settings/settings";
import type { OmnibusRole } from "../../settings/topology";
import { gitlabHostSections } from "./gitlab";
import { mattermostHostSections } from "./mattermost";
import type { DeployTimeValues } from "./shared";
import { singleHostSections } from "./single";

export type { DeployTimeValues } from "./shared";

const SECTIONS_BY_ROLE = {
    single: singleHostSections,
    gitlab: gitlabHostSections,
    mattermost: mattermostHostSections,
} as const;

/** Secrets do not decide which keys a file holds; these stand in when only the keys matter. */
const KEYS_ONLY: DeployTimeValues = { oauthClientId: "", oauthClientSecret: "", rootPassword: "" };

/** The keys a host of `role` writes for the configured version, e.g. `mattermost['gitlab_id']`. */
export function gitlabRbKeys(role: OmnibusRole, settings: DeploymentSettings): string[] {
    return SECTIONS_BY_ROLE[role](settings, KEYS_ONLY)
        .flatMap((section) => section.settings.map((setting) => setting.key))
        .filter((key) => keyExists(key, settings.gitlab.version));
}

/** The exact gitlab.rb that a host of `role` gets. */
export function gitlabRbFor(role: OmnibusRole, settings: DeploymentSettings, secrets: DeployTimeValues, origin: string): string {
    return renderGitlabRb({
        origin,
        version: settings.gitlab.version,
        sections: SECTIONS_BY_ROLE[role](settings, secrets),
    });
}
