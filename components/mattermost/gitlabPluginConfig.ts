// The GitLab plugin's part of Mattermost's configuration, as a patch for `mmctl --local config
// patch`: Mattermost merges it into its configuration, so other plugins' states and settings stay
// as they are (unlike MM_PLUGINSETTINGS_PLUGINS, which replaces every plugin's settings).
// Pure module.

import { GITLAB_PLUGIN_ID } from "./oauthApplication";
import type { DeploymentSettings } from "../settings/settings";

/** Values generated at deploy time for the plugin; all secret but the client id. */
export interface GitlabPluginSecrets {
    readonly clientId: string;
    readonly clientSecret: string;
    /** Shared with the GitLab webhooks that post to the plugin. */
    readonly webhookSecret: string;
    /** AES key the plugin encrypts users' GitLab tokens with (32 characters). */
    readonly encryptionKey: string;
}

/**
 * The configuration patch. Setting keys are the lower-case keys of the plugin's settings schema,
 * as Mattermost stores plugin settings.
 */
export function gitlabPluginConfigPatch(settings: DeploymentSettings, secrets: GitlabPluginSecrets): object {
    return {
        PluginSettings: {
            PluginStates: { [GITLAB_PLUGIN_ID]: { Enable: true } },
            Plugins: {
                [GITLAB_PLUGIN_ID]: {
                    gitlaburl: settings.externalUrl.href,
                    gitlaboauthclientid: secrets.clientId,
                    gitlaboauthclientsecret: secrets.clientSecret,
                    webhooksecret: secrets.webhookSecret,
                    encryptionkey: secrets.encryptionKey,
                    usepreregisteredapplication: false,
                },
            },
        },
    };
}
