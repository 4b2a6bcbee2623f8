// Installs the pinned GitLab Omnibus package on a host, from GitLab's signed apt repository.

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { hostCommand } from "./hostScripts";
import type { Edition } from "../settings/settings";
import { HOST_OS, PACKAGE_REPOSITORY, formatVersion, type Version } from "../versions/versions";

export interface OmnibusInstallArgs {
    /** SSH connection to the host. */
    connection: command.types.input.remote.ConnectionArgs;
    /** The instance; a new instance re-runs the install. */
    instanceId: pulumi.Input<string>;
    edition: Edition;
    version: Version;
    /** Steps the install waits for: the data volume's mount. */
    after: pulumi.Resource[];
}

export class OmnibusInstall extends pulumi.ComponentResource {
    /** The install step; later steps depend on it. */
    readonly step: command.remote.Command;

    constructor(name: string, args: OmnibusInstallArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:OmnibusInstall", name, {}, opts);
        this.step = new command.remote.Command(`${name}-install`, {
            connection: args.connection,
            create: hostCommand("install-omnibus.sh", [
                args.edition,
                formatVersion(args.version),
                HOST_OS.codename,
                PACKAGE_REPOSITORY.baseUrl,
                PACKAGE_REPOSITORY.keyUrl,
                PACKAGE_REPOSITORY.keyFingerprint,
            ]),
            triggers: [args.instanceId],
            addPreviousOutputInEnv: false,
        }, { parent: this, dependsOn: args.after, customTimeouts: { create: "40m", update: "40m" } });
        this.registerOutputs({});
    }
}
