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

export interface MattermostMigrationArgs {
    /** The move this run makes (planMattermostMigration). */
    readonly plan: Extract<MigrationPlan, { kind: "migrate" }>;
    /** The host that runs the bundled Mattermost, with its backup tools and settings file in place. */
    readonly bundled: {
        readonly connection: command.types.input.remote.ConnectionArgs;
        readonly instanceId: pulumi.Input<string>;
        /** Its backup tool (mattermost-backup) and backup settings file installed; IAM access to the migration folder. */
        readonly after: pulumi.Input<pulumi.Resource>[];
    };
    /** The standalone host: installed, its settings applied, Mattermost answering, backup settings file in place. */
    readonly standalone: {
        readonly connection: command.types.input.remote.ConnectionArgs;
        readonly instanceId: pulumi.Input<string>;
        readonly after: pulumi.Input<pulumi.Resource>[];
    };
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
        const version = args.plan.targetVersion;
        // Neither depends on the other: the export waits for the import's verdict, the import for the
        // export. Both wait until both hosts are ready, so the bundled Mattermost stops only when the
        // standalone host can take the copy.
        const bothReady = [...args.bundled.after, ...args.standalone.after];
        this.exportStep = new command.remote.Command(`${name}-export`, {
            connection: args.bundled.connection,
            create: hostScriptCommand("migration/export-bundled-mattermost.sh", [version]),
            triggers: [args.bundled.instanceId, args.standalone.instanceId],
            addPreviousOutputInEnv: false,
        }, { parent: this, dependsOn: bothReady, customTimeouts: { create: MIGRATION_TIMEOUT, update: MIGRATION_TIMEOUT } });
        this.importStep = new command.remote.Command(`${name}-import`, {
            connection: args.standalone.connection,
            create: hostScriptCommand("migration/import-standalone-mattermost.sh", [version]),
            triggers: [args.bundled.instanceId, args.standalone.instanceId],
            addPreviousOutputInEnv: false,
        }, { parent: this, dependsOn: bothReady, customTimeouts: { create: MIGRATION_TIMEOUT, update: MIGRATION_TIMEOUT } });
        this.verified = [this.exportStep, this.importStep];
        this.retireStep = new command.remote.Command(`${name}-retire`, {
            connection: args.bundled.connection,
            create: hostScriptCommand("migration/retire-bundled-mattermost.sh"),
            triggers: [args.bundled.instanceId, args.standalone.instanceId],
            addPreviousOutputInEnv: false,
        }, { parent: this, dependsOn: this.verified });
        this.name = name;
        this.registerOutputs({});
    }

    /**
     * The cut-over's last check, once the GitLab host's gitlab.rb has lost its Mattermost lines (`after`):
     * `gitlab-ctl check-config` for the first release line without the bundle, which the next upgrade walks to.
     */
    checkGitlabConfig(gitlab: { connection: command.types.input.remote.ConnectionArgs; instanceId: pulumi.Input<string> }, line: string, after: pulumi.Input<pulumi.Resource>[]): command.remote.Command {
        return new command.remote.Command(`${this.name}-check-gitlab-config`, {
            connection: gitlab.connection,
            create: hostScriptCommand("migration/check-gitlab-config.sh", [line]),
            triggers: [gitlab.instanceId],
            addPreviousOutputInEnv: false,
        }, { parent: this, dependsOn: after });
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
