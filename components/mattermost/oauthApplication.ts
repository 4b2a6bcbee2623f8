// The OAuth application through which Mattermost signs users in with GitLab. Pure module.
// It mirrors what Omnibus registers on a single host (mattermost_helper.rb, 18.11), so that the
// application Omnibus creates and the one this program ensures are the same row.

import type { DeploymentSettings } from "../settings/settings";

/** What GitLab must hold for Mattermost's sign-in to work. */
export interface OauthApplication {
    /** Omnibus's name for the application; applications of this name are owned by this program. */
    readonly name: string;
    /** Both callback URLs, joined by CR LF as Omnibus stores them. */
    readonly redirectUri: string;
    /** Requested scopes; empty, as Omnibus registers it, so GitLab's defaults apply. */
    readonly scopes: string;
}

export const OAUTH_APPLICATION_NAME = "GitLab Mattermost";

/** The GitLab plugin bundled with Mattermost (mattermost-plugin-gitlab's plugin.json id). */
export const GITLAB_PLUGIN_ID = "com.github.manland.mattermost-plugin-gitlab";

export function mattermostOauthApplication(settings: DeploymentSettings): OauthApplication {
    const mm = settings.mattermostExternalUrl.href;
    return {
        name: OAUTH_APPLICATION_NAME,
        redirectUri: `${mm}/signup/gitlab/complete\r\n${mm}/login/gitlab/complete`,
        scopes: "",
    };
}

/**
 * The GitLab plugin's own application: the plugin acts for each user on GitLab's API, so it needs
 * `api` and cannot share the sign-in application.
 */
export function gitlabPluginOauthApplication(settings: DeploymentSettings): OauthApplication {
    return {
        name: `${OAUTH_APPLICATION_NAME} plugin`,
        redirectUri: `${settings.mattermostExternalUrl.href}/plugins/${GITLAB_PLUGIN_ID}/oauth/complete`,
        scopes: "api read_user",
    };
}

/** GitLab's OAuth endpoints, as Mattermost calls them. */
export function gitlabOauthEndpoints(settings: DeploymentSettings) {
    const gitlab = settings.externalUrl.href;
    return {
        auth: `${gitlab}/oauth/authorize`,
        token: `${gitlab}/oauth/token`,
        userApi: `${gitlab}/api/v4/user`,
    };
}
