// Puts a host's data directories on its data volume before anything is installed: moves data a host
// already holds on its root volume there once, then mounts the volume by UUID through /etc/fstab, with
// the configuration directories kept on it.
// Reusable by any host kind: the mount point and filesystem label are inputs.

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { hostCommand } from "./hostScripts";

/**
 * Where Omnibus keeps all of GitLab's and Mattermost's data, the label of its filesystem, and the
 * configuration kept on the volume with it: /etc/gitlab holds gitlab-secrets.json, the keys to the
 * encrypted database columns (CI variables, two-factor secrets, tokens) and Mattermost's at-rest key,
 * which a reconfigure on a new instance would otherwise generate anew. GitLab's own container image keeps
 * /etc/gitlab on a volume of its own the same way.
 */
export const OMNIBUS_DATA = { mountPoint: "/var/opt/gitlab", label: "gitlab-data", keptDirs: ["/etc/gitlab"] } as const;

export interface DataVolumeMountArgs {
    /** SSH connection to the host. */
    connection: command.types.input.remote.ConnectionArgs;
    /** The instance; a new instance mounts the volume again. */
    instanceId: pulumi.Input<string>;
    volumeId: pulumi.Input<string>;
    /** The volume's attachment; the steps wait for it. */
    attachment: pulumi.Resource;
    /** Absolute path the volume is mounted at. */
    mountPoint: string;
    /** Label of the filesystem made on a blank volume (at most 16 characters, ext4's limit). */
    label: string;
    /** Directories outside the mount point kept on the volume too, bind-mounted in place (host/mount-data-volume.sh). */
    keptDirs?: readonly string[];
}

export class DataVolumeMount extends pulumi.ComponentResource {
    /** The mount step; the package install waits for it. */
    readonly step: command.remote.Command;

    constructor(name: string, args: DataVolumeMountArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:DataVolumeMount", name, {}, opts);
        const scriptArgs = (volumeId: string) => [volumeId, args.mountPoint, args.label];
        // On a host that ran before it had a data volume, its data moves over once (GitLab stops meanwhile);
        // on any other host this step finds nothing to move.
        const move = new command.remote.Command(`${name}-move-to-data-volume`, {
            connection: args.connection,
            create: pulumi.output(args.volumeId).apply((id) => hostCommand("move-to-data-volume.sh", scriptArgs(id))),
            triggers: [args.instanceId],
            addPreviousOutputInEnv: false,
        }, { parent: this, dependsOn: [args.attachment], customTimeouts: { create: "6h", update: "6h" } });
        this.step = new command.remote.Command(`${name}-mount-data-volume`, {
            connection: args.connection,
            create: pulumi.output(args.volumeId).apply((id) => hostCommand("mount-data-volume.sh", [...scriptArgs(id), ...(args.keptDirs ?? [])])),
            triggers: [args.instanceId],
            addPreviousOutputInEnv: false,
        }, { parent: this, dependsOn: [args.attachment, move] });
        this.registerOutputs({});
    }
}
