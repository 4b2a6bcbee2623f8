// Moves a running host along the planned upgrade path: a backup first, then one package after the
// other, each checked against gitlab.rb and given time for its background migrations.

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { hostCommand } from "./hostScripts";
import { upgradeScriptArgs, type UpgradePath } from "./upgradePath";

export interface OmnibusUpgradeArgs {
    /** SSH connection to the host. */
    connection: command.types.input.remote.ConnectionArgs;
    /** The instance; a new instance has nothing to upgrade, but the step must not be reused for it. */
    instanceId: pulumi.Input<string>;
    /** The versions to install, in order. */
    path: UpgradePath;
    /** Seconds to wait for batched background migrations after each version; `none` without GitLab's database. */
    migrationWait: number | "none";
    /** Steps that must finish first: the install step (it configures the repository), the backup. */
    after: pulumi.Input<pulumi.Resource>[];
}

export class OmnibusUpgrade extends pulumi.ComponentResource {
    readonly step: command.remote.Command;

    constructor(name: string, args: OmnibusUpgradeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:OmnibusUpgrade", name, {}, opts);
        this.step = new command.remote.Command(`${name}-upgrade`, {
            connection: args.connection,
            create: hostCommand("upgrade-gitlab.sh", upgradeScriptArgs(args.path, args.migrationWait)),
            triggers: [args.instanceId],
            addPreviousOutputInEnv: false,
        }, { parent: this, dependsOn: args.after, customTimeouts: { create: "12h", update: "12h" } });
        this.registerOutputs({});
    }
}
