// Mattermost's first system administrator, decided by the program: a password account with a
// generated password (a secret output), created in local mode once Mattermost answers healthy. Until it
// exists, Mattermost's vhost lets no request create an account (signUpPolicy FIRST_ADMIN_FLAG), so nobody
// else can take the first account. Works on any host that runs Mattermost with local mode on.

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { hostCommand } from "../omnibus/hostScripts";
import { HEALTH_TIMEOUT_SECONDS, type DeploymentSettings } from "../settings/settings";
import { adminEmail, FIRST_ADMIN_FLAG } from "./signUpPolicy";

export interface FirstAdminArgs {
    settings: DeploymentSettings;
    /** SSH connection to the host that runs Mattermost. */
    connection: command.types.input.remote.ConnectionArgs;
    /** That host's instance; a new instance checks the account again. */
    instanceId: pulumi.Input<string>;
    /** Mattermost answering healthy, and the mmctl wrapper installed. */
    after: pulumi.Input<pulumi.Resource>[];
    /** A standalone host's mmctl binary, run in local mode as the mattermost user; the installed wrapper otherwise. */
    mmctl?: string;
}

export class FirstAdmin extends pulumi.ComponentResource {
    readonly username: string;
    readonly password: pulumi.Output<string>;
    readonly step: command.remote.Command;

    constructor(name: string, args: FirstAdminArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:FirstAdmin", name, {}, opts);
        const { settings } = args;
        this.username = settings.mattermost.adminUsername;
        // Letters, digits and one of each kind, so it meets any PasswordSettings an administrator turns
        // on (Mattermost counts "-_.+=" among its symbols); no character a JSON string would escape.
        const password = new random.RandomPassword(`${name}-password`, {
            length: 32,
            minLower: 1,
            minUpper: 1,
            minNumeric: 1,
            minSpecial: 1,
            overrideSpecial: "-_.+=",
        }, { parent: this });
        this.password = pulumi.secret(password.result);
        this.step = new command.remote.Command(`${name}-ensure`, {
            connection: args.connection,
            create: hostCommand("ensure-mattermost-admin.sh", [this.username, adminEmail(this.username, settings.dnsZone), String(HEALTH_TIMEOUT_SECONDS), FIRST_ADMIN_FLAG, ...(args.mmctl ? [args.mmctl] : [])]),
            stdin: pulumi.secret(pulumi.interpolate`${password.result}\n`),
            // A new password runs the step again through stdin; a new instance checks the account again.
            triggers: [args.instanceId],
            addPreviousOutputInEnv: false,
        }, { parent: this, dependsOn: args.after, customTimeouts: { create: "20m", update: "20m" } });
        this.registerOutputs({});
    }
}
