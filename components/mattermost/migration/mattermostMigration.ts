// The move of a deployed bundled Mattermost to the standalone host, as remote commands: the export on
// the host that runs the bundle and the import on the standalone host run at the same time and meet
// in the stack's backup bucket (host/migration/). The export waits for the import's verdict and
// starts the bundled Mattermost again on anything but `verified`, so both succeed together or fail
// together; the cut-over (DNS, the GitLab host's gitlab.rb) must depend on `verified`.
// No secret travels through the program: the settings, the at-rest key among them, go from host to
// host through the bucket, which already holds them in every backup.

import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { hostScriptCommand } from "../../omnibus/hostScripts";
import type { MigrationPlan } from "./migrationPlan";

/** How long each half may take: the backup, the dump and the copy of a large Mattermost. */
const MIGRATION_TIMEOUT = "4h";

/** A host a step of the move runs on. */
interface MoveHost {
    readonly connection: command.types.input.remote.ConnectionArgs;
    readonly instanceId: pulumi.Input<string>;
}

export interface MattermostMigrationArgs {
    /** The move this run makes (planMattermostMigration). */
    readonly plan: Extract<MigrationPlan, { kind: "migrate" }>;
    /** The host that runs the bundled Mattermost; `after`: its backup tool (mattermost-backup) and backup settings file installed, IAM access to the migration folder. */
    readonly bundled: MoveHost & { readonly after: pulumi.Input<pulumi.Resource>[] };
    /** The standalone host; `after`: installed, its settings applied, Mattermost answering, backup settings file in place. */
    readonly standalone: MoveHost & { readonly after: pulumi.Input<pulumi.Resource>[] };
}

export class MattermostMigration extends pulumi.ComponentResource {
    readonly exportStep: command.remote.Command;
    readonly importStep: command.remote.Command;
    /** What the cut-over depends on: both halves done, the standalone host verified and serving. */
    readonly verified: pulumi.Resource[];
    /** After the verdict: the bundle stays stopped on its host, its backup timer off (retire-bundled-mattermost.sh). */
    readonly retireStep: command.remote.Command;
    private readonly name: string;

    constructor(name: string, args: MattermostMigrationArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:MattermostMigration", name, {}, opts);
        this.name = name;
        const version = args.plan.targetVersion;
        // A new instance on either side runs the move's steps again (they do nothing once it is complete).
        const triggers = [args.bundled.instanceId, args.standalone.instanceId];
        // Neither depends on the other: the export waits for the import's verdict, the import for the
        // export. Both wait until both hosts are ready, so the bundled Mattermost stops only when the
        // standalone host can take the copy.
        const bothReady = [...args.bundled.after, ...args.standalone.after];
        this.exportStep = this.step("export", args.bundled, "export-bundled-mattermost.sh", [version], { triggers, after: bothReady, timeout: MIGRATION_TIMEOUT });
        this.importStep = this.step("import", args.standalone, "import-standalone-mattermost.sh", [version], { triggers, after: bothReady, timeout: MIGRATION_TIMEOUT });
        this.verified = [this.exportStep, this.importStep];
        this.retireStep = this.step("retire", args.bundled, "retire-bundled-mattermost.sh", [], { triggers, after: this.verified });
        this.registerOutputs({});
    }

    /**
     * The cut-over's last check, once the GitLab host's gitlab.rb has lost its Mattermost lines (`after`):
     * `gitlab-ctl check-config` for the first release line without the bundle, which the next upgrade walks to.
     */
    checkGitlabConfig(gitlab: MoveHost, line: string, after: pulumi.Input<pulumi.Resource>[]): command.remote.Command {
        return this.step("check-gitlab-config", gitlab, "check-gitlab-config.sh", [line], { triggers: [gitlab.instanceId], after });
    }

    /** A host/migration/ script as one of the move's steps. */
    private step(
        suffix: string,
        host: MoveHost,
        script: string,
        scriptArgs: readonly string[],
        options: { triggers: pulumi.Input<string>[]; after: pulumi.Input<pulumi.Resource>[]; timeout?: string },
    ): command.remote.Command {
        const timeouts = options.timeout === undefined ? {} : { customTimeouts: { create: options.timeout, update: options.timeout } };
        return new command.remote.Command(`${this.name}-${suffix}`, {
            connection: host.connection,
            create: hostScriptCommand(`migration/${script}`, scriptArgs),
            triggers: options.triggers,
            addPreviousOutputInEnv: false,
        }, { parent: this, dependsOn: options.after, ...timeouts });
    }
}

export interface BundledDataRemovalArgs {
    /** The host that ran the bundled Mattermost, while the program still has it. */
    readonly connection: command.types.input.remote.ConnectionArgs;
    readonly instanceId: pulumi.Input<string>;
    /** The standalone backups' folder below the stack's folder in the bucket (where last-success.txt is). */
    readonly standaloneBackupFolder: string;
    readonly after?: pulumi.Input<pulumi.Resource>[];
}

/**
 * mattermost.removeBundledData on a stack that has moved: removes the bundled database and folders,
 * which the host script does only after the move is complete and a newer complete backup of the
 * standalone Mattermost exists (else it fails and removes nothing).
 */
export class BundledDataRemoval extends pulumi.ComponentResource {
    readonly step: command.remote.Command;

    constructor(name: string, args: BundledDataRemovalArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:BundledDataRemoval", name, {}, opts);
        this.step = new command.remote.Command(`${name}-remove`, {
            connection: args.connection,
            create: hostScriptCommand("migration/remove-bundled-mattermost-data.sh", [args.standaloneBackupFolder]),
            triggers: [args.instanceId],
            addPreviousOutputInEnv: false,
        }, { parent: this, dependsOn: args.after ?? [] });
        this.registerOutputs({});
    }
}
