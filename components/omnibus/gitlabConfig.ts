// Writes a host's /etc/gitlab/gitlab.rb and reconfigures, only when the rendered file changed;
// then holds `pulumi up` until the services on that host answer healthy.

import { createHash } from "node:crypto";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { hostCommand } from "./hostScripts";
import { HEALTH_TIMEOUT_SECONDS } from "../settings/settings";

/** A service whose health gates the deployment. */
export interface HealthCheck {
    service: "gitlab" | "mattermost";
    /** The service's external URL; the probe resolves its name to the host itself. */
    url: string;
}

export interface GitlabConfigArgs {
    /** SSH connection to the host. */
    connection: command.types.input.remote.ConnectionArgs;
    /** The instance; a new instance re-runs every step. */
    instanceId: pulumi.Input<string>;
    /** The rendered gitlab.rb; secret, sent on stdin only. */
    gitlabRb: pulumi.Input<string>;
    /** Wait until these names resolve to the host's address before reconfiguring (Let's Encrypt needs it). */
    awaitDns?: { address: pulumi.Input<string>; names: readonly string[] };
    /** Services that must answer healthy after the reconfigure. */
    healthChecks: readonly HealthCheck[];
    /** Steps that must finish first: the package install, DNS records, certificate files, the OAuth registration. */
    after: pulumi.Input<pulumi.Resource>[];
    /** Changes when the trusted CA changes; Omnibus links trusted certificates only on reconfigure. */
    trustDigest?: pulumi.Input<string>;
    /** Certificate files nginx serves: a change to them reloads nginx, without a reconfigure. */
    certificateFiles?: { steps: pulumi.Resource[]; digest: pulumi.Input<string> };
    /**
     * TLS files the current mode does not use, removed before the reconfigure. The step runs when it is
     * created (a mode switch, a new host, other names), before Let's Encrypt writes to the same paths.
     */
    retiredFiles?: readonly string[];
    /** The private CA file on the host, for health checks through a certificate it signed. */
    caFile?: string;
    /** The GitLab version the host runs once the steps before have finished; a new one re-runs the health gates. */
    installedVersion: string;
}

export class GitlabConfig extends pulumi.ComponentResource {
    /** The write-and-reconfigure step. */
    readonly apply: command.remote.Command;
    /** The health gates, one per checked service. */
    readonly healthGates: command.remote.Command[];

    constructor(name: string, args: GitlabConfigArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:GitlabConfig", name, {}, opts);
        const common = { connection: args.connection, triggers: [args.instanceId], addPreviousOutputInEnv: false };

        const before = [...args.after];
        if (args.awaitDns) {
            before.push(new command.remote.Command(`${name}-dns-ready`, {
                ...common,
                create: pulumi.output(args.awaitDns.address).apply((address) =>
                    hostCommand("wait-for-dns.sh", [address, String(HEALTH_TIMEOUT_SECONDS), ...(args.awaitDns?.names ?? [])]),
                ),
            }, { parent: this, dependsOn: args.after }));
        }

        if (args.retiredFiles && args.retiredFiles.length > 0) {
            before.push(new command.remote.Command(`${name}-retired-tls-files`, {
                ...common,
                create: hostCommand("install-file.sh", ["--remove", ...args.retiredFiles]),
            }, { parent: this, dependsOn: args.after }));
        }

        const gitlabRb = pulumi.secret(args.gitlabRb);
        this.apply = new command.remote.Command(`${name}-gitlab-rb`, {
            ...common,
            triggers: args.trustDigest === undefined ? common.triggers : [args.instanceId, args.trustDigest],
            create: hostCommand("apply-gitlab-rb.sh"),
            stdin: gitlabRb,
        }, { parent: this, dependsOn: before, customTimeouts: { create: "40m", update: "40m" } });

        if (args.certificateFiles) {
            // Rotation: the files were renamed into place, so nginx never pointed at a missing one;
            // a HUP makes it serve them.
            new command.remote.Command(`${name}-nginx-reload`, {
                connection: args.connection,
                create: hostCommand("reload-nginx.sh"),
                triggers: [args.instanceId, args.certificateFiles.digest],
                addPreviousOutputInEnv: false,
            }, { parent: this, dependsOn: [this.apply, ...args.certificateFiles.steps] });
        }

        // A new file or version replaces the gates, which makes them run again; otherwise nothing runs.
        const fileDigest = gitlabRb.apply((text) => createHash("sha256").update(text).digest("hex"));
        this.healthGates = args.healthChecks.map(
            (check) =>
                new command.remote.Command(`${name}-${check.service}-health`, {
                    connection: args.connection,
                    create: hostCommand("health-gate.sh", [check.service, check.url, String(HEALTH_TIMEOUT_SECONDS), ...(args.caFile ? [args.caFile] : [])]),
                    triggers: [args.instanceId, fileDigest, args.installedVersion],
                    addPreviousOutputInEnv: false,
                }, { parent: this, dependsOn: [this.apply], customTimeouts: { create: "20m", update: "20m" } }),
        );
        this.registerOutputs({});
    }
}
