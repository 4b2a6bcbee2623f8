// Whether this run moves a deployed bundled Mattermost to the standalone host, refused up front when it
// cannot be done losing nothing, and the plan `pulumi preview` and `npm run render` show. The host
// scripts in host/migration/ do the moving. Pure module: no cloud SDK, no Pulumi runtime.

import { ConfigError } from "../../settings/configError";
import type { DeploymentSettings, MattermostMode, Topology } from "../../settings/settings";
import type { StandaloneHostName } from "../../settings/topology";
import { MATTERMOST_REMOVED_IN, bundledMattermost, compareVersions, formatBundledMattermost, formatVersion, parseVersion, type Version } from "../../versions/versions";
import { STANDALONE_DATABASE, STANDALONE_LAYOUT } from "../standalone/hostLayout";
import { ENTRY_MESSAGE_HISTORY_LIMIT } from "../../versions/mattermostReleases";

/** What the last successful `pulumi up` recorded (components/stack/deployedState.ts). */
export interface DeployedForMigration {
    /** The GitLab package version; undefined before the first run. */
    readonly gitlabVersion?: Version;
    readonly mattermostMode?: MattermostMode;
    /** Stacks that did not record it ran `single` or `split` as configured then; undefined: unknown. */
    readonly topology?: Topology;
    /** The standalone host's name, once one exists. */
    readonly standaloneHost?: StandaloneHostName;
    /** The host that still holds the bundled Mattermost's data after a move; undefined when none does. */
    readonly bundledDataOn?: BundledHostName;
}

/** The hosts that can run the bundled Mattermost. */
export type BundledHostName = "gitlab" | "mattermost";

/** Where a standalone Mattermost and what is left of the bundled one live, this run. */
export interface MattermostPlacement {
    readonly standaloneHost: StandaloneHostName;
    /** The host holding the bundled Mattermost's data: the move's source this run, or kept since a move. */
    readonly bundledData?: {
        readonly host: BundledHostName;
        /** This run moves it. */
        readonly moving: boolean;
        /** This run removes it (mattermost.removeBundledData, on a run after the move). */
        readonly removing: boolean;
    };
}

/** Where the bundled Mattermost kept everything on its host (Omnibus 18.11; standalone-facts §6). */
export const BUNDLED_LAYOUT = {
    database: "mattermost_production",
    databaseRole: "gitlab_mattermost",
    home: "/var/opt/gitlab/mattermost",
    envDirectory: "/opt/gitlab/etc/mattermost/env",
    secrets: "/etc/gitlab/gitlab-secrets.json",
} as const;

/** The GitLab release line the cut-over checks gitlab.rb against (check-config): the first without the bundle. */
export const FIRST_LINE_WITHOUT_BUNDLE = `${MATTERMOST_REMOVED_IN.major}.${MATTERMOST_REMOVED_IN.minor}`;

/** The bucket folder below the stack's own where the two hosts meet (host/migration/migration-common.sh). */
export const MIGRATION_FOLDER = "mattermost-migration";

export type MigrationPlan =
    | { readonly kind: "none" }
    | {
          readonly kind: "migrate";
          /** The host that runs the bundled Mattermost: the GitLab host of a `single` stack, else the old Mattermost host. */
          readonly bundledHost: BundledHostName;
          /** The Mattermost the bundle runs, as exactly as the version data knows it. */
          readonly bundledVersion: string;
          /** mattermost.version, which the host scripts check against the database's own record. */
          readonly targetVersion: string;
          /** The plan as `pulumi preview` shows it, one line per entry. */
          readonly text: readonly string[];
      };

/**
 * The decision for this run. A ConfigError names the key to change when the move cannot be done
 * losing nothing: another Mattermost version than the bundled one, or a GitLab version change in
 * the same run.
 */
export function planMattermostMigration(settings: DeploymentSettings, deployed: DeployedForMigration): MigrationPlan {
    const standalone = settings.mattermost.standalone;
    if (standalone === undefined || deployed.gitlabVersion === undefined || deployed.mattermostMode !== "bundled") {
        return { kind: "none" };
    }
    const deployedGitlab = formatVersion(deployed.gitlabVersion);
    if (settings.backup.restoreFrom !== undefined) {
        throw new ConfigError(
            "backup.restoreFrom",
            `is set while this run moves the bundled Mattermost to a standalone host. Move first without it (pulumi config rm --path backup.restoreFrom); restore on the standalone host in a later run.`,
        );
    }
    if (compareVersions(settings.gitlab.version, deployed.gitlabVersion) !== 0) {
        throw new ConfigError(
            "gitlab.version",
            `is ${formatVersion(settings.gitlab.version)}, but the stack runs GitLab ${deployedGitlab} with the bundled Mattermost, which this run moves to a standalone host. Keep gitlab.version at ${deployedGitlab} for the move (pulumi config set --path gitlab.version ${deployedGitlab}), then raise it in the next run.`,
        );
    }
    const bundled = bundledMattermost(deployed.gitlabVersion);
    const target = standalone.version;
    const targetText = formatVersion(target);
    const sameVersion = "The move needs the same Mattermost version on both sides, so that the database schema matches; upgrade Mattermost after the move, as its own change.";
    if (bundled === undefined || bundled.kind === "none") {
        throw new ConfigError("mattermost.mode", `is standalone, but the stack's GitLab ${deployedGitlab} has no bundled Mattermost the version data knows; nothing can be moved from it.`);
    }
    const bundledText = formatBundledMattermost(bundled);
    const withinBundled = (() => {
        switch (bundled.kind) {
            case "exact":
                return bundled.version === targetText;
            case "range":
                return compareVersions(target, parseVersion(bundled.lowest)!) >= 0 && compareVersions(target, parseVersion(bundled.highest)!) <= 0;
            case "at-least":
                return compareVersions(target, parseVersion(bundled.lowest)!) >= 0;
        }
    })();
    if (!withinBundled) {
        throw new ConfigError(
            "mattermost.version",
            `is ${targetText}, but GitLab ${deployedGitlab} (gitlab.version) bundles Mattermost ${bundledText}. ${sameVersion} Set it with: pulumi config set --path mattermost.version ${bundled.kind === "exact" ? bundled.version : "<the version in /var/opt/gitlab/mattermost/VERSION>"}`,
        );
    }
    if (deployed.topology === undefined) {
        // Which host runs the bundle decides which instance the move keeps: never guessed.
        throw new ConfigError(
            "mattermost.mode",
            `is standalone, but this stack's record does not say which host runs the bundled Mattermost (its last pulumi up predates the topology output). Set mattermost.mode back to bundled (pulumi config set --path mattermost.mode bundled), run pulumi up once to record the topology, then switch to standalone.`,
        );
    }
    const bundledHost = deployed.topology === "split" ? "mattermost" : "gitlab";
    const where = bundledHost === "gitlab" ? "the GitLab host" : "the present Mattermost host";
    const text = [
        `Mattermost moves out of GitLab's package: bundled ${bundledText} on ${where} → standalone ${targetText} (${standalone.edition}) on ${bundledHost === "gitlab" ? "a new Mattermost host (the stack becomes split)" : "a new Mattermost host, which replaces it"}.`,
        ...(standalone.edition === "enterprise" && standalone.license === undefined
            ? [`Without mattermost.license the standalone Mattermost runs as Entry: of the moved messages it shows and searches only the newest ${ENTRY_MESSAGE_HISTORY_LIMIT} across all channels; all of them stay in the database, and a licence shows them again.`]
            : []),
        ...(bundled.kind === "exact" ? [] : [`The version data knows only ${bundledText} for GitLab ${deployedGitlab}; the bundled host checks that its database records ${targetText} before anything stops.`]),
        "1. Pre-flight, changing nothing: the bundled Mattermost answers, there is room on both hosts, the standalone host is installed and answers with no data of its own.",
        "2. A full backup with mattermost-backup, uploaded, before anything stops.",
        `3. The bundled Mattermost stops. Copied through the backup bucket (${MIGRATION_FOLDER}/): database ${BUNDLED_LAYOUT.database} (the package's own pg_dump), the data, plugins and client-plugins folders, every MM_* setting of ${BUNDLED_LAYOUT.envDirectory} with the at-rest key (${BUNDLED_LAYOUT.secrets} when the directory lacks it), and config.json.`,
        `4. Loaded beside and verified before anything is swapped in: every table's row count and checksum, every file's sha256, the same OAuth application and Mattermost URL; then Mattermost starts on the standalone host and must answer.`,
        `5. Cut-over: the Mattermost DNS name moves to the standalone host; the GitLab host's gitlab.rb loses its Mattermost lines and keeps mattermost_host, and gitlab-ctl check-config --version=${FIRST_LINE_WITHOUT_BUNDLE} passes; the bundled Mattermost stays stopped, its backup timer off.`,
        "If any step before the cut-over fails, the bundled Mattermost starts again on its unchanged data and the run fails saying what failed; a re-run starts the copy again from the beginning.",
        `Kept where: messages and files in database ${STANDALONE_DATABASE.name} (role ${STANDALONE_DATABASE.role}) and ${STANDALONE_LAYOUT.dataRoot} on the standalone host; carried settings in /etc/mattermost/migrated.env; the bundled ${BUNDLED_LAYOUT.database} and ${BUNDLED_LAYOUT.home} stay untouched on ${where} until mattermost.removeBundledData is set (removed only after a newer verified backup of the standalone Mattermost exists)${bundledHost === "mattermost" ? "; the host is kept, and the run after the removal deletes it (its data volume stays in the account)" : ""}.`,
    ];
    return { kind: "migrate", bundledHost, bundledVersion: bundledText, targetVersion: targetText, text };
}

/**
 * Which host is the standalone one and which holds the bundled data: the move's source while it moves
 * and after, until a run with mattermost.removeBundledData has removed the data (`deployed.bundledDataOn`
 * then records none). A split stack's new host is `mattermost-standalone` from its move on, recorded so
 * that later runs keep it.
 */
export function placeMattermost(
    settings: DeploymentSettings,
    move: Extract<MigrationPlan, { kind: "migrate" }> | undefined,
    deployed: Pick<DeployedForMigration, "standaloneHost" | "bundledDataOn">,
): MattermostPlacement {
    const moving = move !== undefined;
    const bundledHost = move?.bundledHost ?? deployed.bundledDataOn;
    const standaloneHost = deployed.standaloneHost ?? (move?.bundledHost === "mattermost" ? "mattermost-standalone" : "mattermost");
    if (bundledHost === undefined || settings.mattermost.mode !== "standalone") return { standaloneHost };
    return { standaloneHost, bundledData: { host: bundledHost, moving, removing: !moving && settings.mattermost.standalone?.removeBundledData === true } };
}
