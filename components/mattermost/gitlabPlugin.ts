// Mattermost's GitLab plugin, enabled and configured on the host that runs Mattermost, with an OAuth
// application of its own on GitLab and generated webhook and encryption secrets.

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { gitlabPluginConfigPatch } from "./gitlabPluginConfig";
import { hostCommand } from "../omnibus/hostScripts";
import type { OauthCredentials } from "./oauth";
import { GITLAB_PLUGIN_ID } from "./oauthApplication";
import { HEALTH_TIMEOUT_SECONDS, type DeploymentSettings } from "../settings/settings";

export interface GitlabPluginArgs {
    settings: DeploymentSettings;
    /** SSH connection to the host that runs Mattermost. */
    connection: command.types.input.remote.ConnectionArgs;
    /** That host's instance; a new instance configures the plugin again. */
    instanceId: pulumi.Input<string>;
    /** The plugin's OAuth application credentials, registered on GitLab by an OauthRegistration. */
    credentials: OauthCredentials;
    /** Mattermost must be configured and running first. */
    after: pulumi.Input<pulumi.Resource>[];
    /** A standalone host's mmctl binary (its Mattermost restarts through systemd); the bundle's otherwise. */
    mmctl?: string;
}

export class GitlabPlugin extends pulumi.ComponentResource {
    readonly step: command.remote.Command;

    constructor(name: string, args: GitlabPluginArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:GitlabPlugin", name, {}, opts);
        const parent = { parent: this };
        const webhookSecret = new random.RandomPassword(`${name}-webhook-secret`, { length: 32, special: false }, parent);
        const encryptionKey = new random.RandomPassword(`${name}-encryption-key`, { length: 32, special: false }, parent);
        const patch = pulumi
            .all([args.credentials.clientId, args.credentials.clientSecret, webhookSecret.result, encryptionKey.result])
            .apply(([clientId, clientSecret, webhook, encryption]) =>
                JSON.stringify(gitlabPluginConfigPatch(args.settings, { clientId, clientSecret, webhookSecret: webhook, encryptionKey: encryption })),
            );
        this.step = new command.remote.Command(`${name}-configure`, {
            connection: args.connection,
            create: hostCommand("configure-gitlab-plugin.sh", [GITLAB_PLUGIN_ID, String(HEALTH_TIMEOUT_SECONDS), ...(args.mmctl ? [args.mmctl] : [])]),
            stdin: pulumi.secret(patch),
            triggers: [args.instanceId],
            addPreviousOutputInEnv: false,
        }, { parent: this, dependsOn: args.after, customTimeouts: { create: "20m", update: "20m" } });
        this.registerOutputs({});
    }
}
