// Files this program puts on a host (certificates, keys, trusted CAs): each one written atomically
// by its own step, so a change rewrites only that file. Contents travel on stdin.

import { createHash } from "node:crypto";
import { basename } from "node:path";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { hostCommand } from "./hostScripts";

/** One file and what goes into it. Base names are unique per host (they name the steps). */
export interface HostFile {
    /** Absolute path on the host. */
    path: string;
    /** Octal mode, e.g. `0644`. */
    mode: string;
    /** Content; pass secrets as secret Outputs. */
    content: pulumi.Input<string>;
}

export interface HostFilesArgs {
    /** SSH connection to the host. */
    connection: command.types.input.remote.ConnectionArgs;
    /** The instance; a new instance writes every file again. */
    instanceId: pulumi.Input<string>;
    files: readonly HostFile[];
    /** Steps that must finish first. */
    after: pulumi.Input<pulumi.Resource>[];
}

export class HostFiles extends pulumi.ComponentResource {
    /** One step per file. */
    readonly steps: command.remote.Command[];
    /** Changes whenever any file's content changes; secret. */
    readonly digest: pulumi.Output<string>;

    constructor(name: string, args: HostFilesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:HostFiles", name, {}, opts);
        this.steps = args.files.map(
            (file) =>
                new command.remote.Command(`${name}-file-${basename(file.path)}`, {
                    connection: args.connection,
                    create: hostCommand("install-file.sh", [file.path, file.mode]),
                    // Secret contents (keys) stay secret; certificates need not be.
                    stdin: file.content,
                    triggers: [args.instanceId],
                    addPreviousOutputInEnv: false,
                }, { parent: this, dependsOn: args.after }),
        );
        this.digest = pulumi.secret(contentDigest(args.files));
        this.registerOutputs({});
    }
}

/** A sha256 over the files' paths and contents. */
export function contentDigest(files: readonly HostFile[]): pulumi.Output<string> {
    return pulumi
        .all(files.map((file) => pulumi.output(file.content)))
        .apply((contents) => {
            const hash = createHash("sha256");
            files.forEach((file, i) => hash.update(`${file.path}\0${file.mode}\0${contents[i]}\0`));
            return hash.digest("hex");
        });
}
