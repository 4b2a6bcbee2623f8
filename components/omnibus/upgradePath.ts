// The path an in-place upgrade walks: from the version a host has installed to the configured one,
// through every required upgrade stop at its latest patch, or a refusal that says why and what to do.
// Pure module: no cloud SDK, no Pulumi runtime. The data comes from versions.ts.

import type { Edition, MattermostMode } from "../settings/settings";
import {
    LAST_BUNDLING_LINE,
    MATTERMOST_REMOVED_IN,
    UPGRADE_STOPS,
    compareLines,
    compareVersions,
    formatLine,
    formatVersion,
    isKnownLine,
    newestGitlab,
    postgresqlNeededBy,
    type Version,
} from "../versions/versions";

/** A GitLab package: its edition and exact version. */
export interface GitlabPackage {
    /** `ee` for gitlab-ee, `ce` for gitlab-ce. */
    readonly edition: Edition;
    /** The package version, x.y.z. */
    readonly version: Version;
}

/** How the walk treats the conditional stops (17.1, and the documented 15.1, 16.0, 16.1, 16.2). */
export type ConditionalStops =
    /**
     * Walk them. The default: whether a condition holds (table sizes, registry contents, web nodes)
     * cannot be known before the upgrade, and an extra stop costs time, never correctness.
     */
    | "include"
    /** Skip them, once an administrator has checked that none of their conditions applies. */
    | "skip";

/** Choices that change the path. */
export interface UpgradeOptions {
    /** Whether conditional stops are walked; default `include`. */
    readonly conditionalStops?: ConditionalStops;
    /**
     * Where the deployment's Mattermost runs; default `bundled`. Only `standalone` (no Mattermost in the
     * package) can go to GitLab 19.0 or later.
     */
    readonly mattermost?: MattermostMode;
}

/** Why a version is installed on the way. */
export type StepReason =
    /** The same version in the other edition: GitLab's CE to EE conversion, made before any upgrade. */
    | "edition-conversion"
    /** A stop every instance must make. */
    | "required-stop"
    /** A stop only some instances must make; see `condition`. */
    | "conditional-stop"
    /** The configured version, the end of the walk. */
    | "target"
    /**
     * `gitlab-ctl pg-upgrade -V <postgresqlMajor>` on the version before it (`version`): the next package
     * refuses to install on an older PostgreSQL.
     */
    | "postgresql-upgrade";

/** One package installation of the walk. */
export interface UpgradeStep {
    /** The exact version installed at this step. */
    readonly version: Version;
    /** Why this version is installed. */
    readonly reason: StepReason;
    /** For a conditional stop, the instances that must make it. */
    readonly condition?: string;
    /** For a PostgreSQL upgrade, the major it moves GitLab's database to. */
    readonly postgresqlMajor?: number;
}

/** The walk to make; `steps` is empty when the host already runs the target. */
export interface UpgradePath {
    readonly kind: "path";
    /** The edition every step installs (the target's). */
    readonly edition: Edition;
    /** Versions to install, in order, each newer than the one before; the last is the target. */
    readonly steps: readonly UpgradeStep[];
}

/** What makes an upgrade impossible. */
export type RefusalReason = "unknown-version" | "mattermost-removed" | "downgrade" | "edition-switch";

/** An upgrade this program will not make. */
export interface UpgradeRefusal {
    readonly kind: "refused";
    /** The kind of problem, for code that reacts to it. */
    readonly reason: RefusalReason;
    /** What is wrong, in a sentence for the administrator. */
    readonly problem: string;
    /** What to do instead. */
    readonly remedy: string;
}

export type UpgradePlan = UpgradePath | UpgradeRefusal;

/**
 * The path from the `installed` package to the `target` package.
 *
 * The walk visits, in order, every upgrade stop whose latest patch is newer than `installed` and whose
 * line is older than the target's line, installing that latest patch (GitLab asks for the latest patch
 * of each stop), and ends at exactly `target`. So a host on a stop's line below its latest patch moves
 * to that patch first, and a target on a stop's line is installed as given. A patch newer than the data
 * knows is accepted, on either side; a line the data does not know is refused.
 *
 * Editions: CE to EE is GitLab's supported conversion (install the EE package of the installed
 * version), so it becomes the walk's first step, and the rest is walked in EE. EE to CE is refused:
 * the package cannot do it in place.
 */
export function planUpgrade(installed: GitlabPackage, target: GitlabPackage, options: UpgradeOptions = {}): UpgradePlan {
    const from = installed.version;
    const to = target.version;
    if (!isKnownLine(from)) {
        return unknownVersion("installed", from);
    }
    if (compareVersions(to, MATTERMOST_REMOVED_IN) >= 0 && (options.mattermost ?? "bundled") === "bundled") {
        return {
            kind: "refused",
            reason: "mattermost-removed",
            problem:
                `GitLab ${formatVersion(to)} cannot be installed here: GitLab ${formatLine(MATTERMOST_REMOVED_IN)} removed the bundled Mattermost ` +
                `that this deployment runs, and the upgrade to it is refused while Mattermost is enabled. ` +
                `${LAST_BUNDLING_LINE} is the last release line with bundled Mattermost.`,
            remedy: `Stay on ${LAST_BUNDLING_LINE}.x. Moving GitLab past it means migrating Mattermost to a standalone installation first (docs/upgrading-past-18.11.md).`,
        };
    }
    if (!isKnownLine(to)) {
        return unknownVersion("target", to);
    }
    if (compareVersions(to, from) < 0) {
        return {
            kind: "refused",
            reason: "downgrade",
            problem: `GitLab ${formatVersion(from)} is installed and ${formatVersion(to)} is older: GitLab packages cannot be downgraded in place (database migrations only run forward).`,
            remedy: `Set gitlab.version to ${formatVersion(from)} or newer. Going back means restoring a backup taken on the older version.`,
        };
    }
    if (installed.edition === "ee" && target.edition === "ce") {
        return {
            kind: "refused",
            reason: "edition-switch",
            problem: "The host runs GitLab EE and the configuration asks for CE: the package cannot switch from EE to CE in place.",
            remedy: "Keep gitlab.edition ee (without a license, EE offers the same features as CE), or follow GitLab's documented EE to CE downgrade by hand.",
        };
    }

    const conversion: UpgradeStep[] = installed.edition === target.edition ? [] : [{ version: from, reason: "edition-conversion" }];
    const walkConditional = (options.conditionalStops ?? "include") === "include";
    const stops: UpgradeStep[] = UPGRADE_STOPS.filter(
        (stop) =>
            compareVersions(stop.latestPatch, from) > 0 &&
            compareLines(stop.latestPatch, to) < 0 &&
            (walkConditional || stop.condition === undefined),
    ).map((stop) =>
        stop.condition === undefined
            ? { version: stop.latestPatch, reason: "required-stop" }
            : { version: stop.latestPatch, reason: "conditional-stop", condition: stop.condition },
    );
    const last: UpgradeStep[] = compareVersions(to, from) > 0 ? [{ version: to, reason: "target" }] : [];
    return { kind: "path", edition: target.edition, steps: withPostgresqlUpgrades(from, [...conversion, ...stops, ...last]) };
}

/**
 * Inserts, before the first package that needs a newer PostgreSQL than the packages before it, the
 * PostgreSQL upgrade to that major, made on the version installed then. The host skips it when its
 * database already runs that major.
 */
function withPostgresqlUpgrades(from: Version, steps: readonly UpgradeStep[]): UpgradeStep[] {
    const walked: UpgradeStep[] = [];
    let installed = from;
    for (const step of steps) {
        const needed = postgresqlNeededBy(step.version);
        if (needed !== undefined && needed !== postgresqlNeededBy(installed)) {
            walked.push({ version: installed, reason: "postgresql-upgrade", postgresqlMajor: needed });
        }
        walked.push(step);
        installed = step.version;
    }
    return walked;
}

function unknownVersion(which: "installed" | "target", version: Version): UpgradeRefusal {
    const text = formatVersion(version);
    return {
        kind: "refused",
        reason: "unknown-version",
        problem:
            which === "installed"
                ? `The host runs GitLab ${text}, a release line this program has no upgrade data for.`
                : `GitLab ${text} is not a release line this program has upgrade data for.`,
        remedy:
            which === "installed"
                ? "Bring the host to a known release by hand, along GitLab's upgrade path, then run pulumi up again."
                : `Choose a released version up to ${formatVersion(newestGitlab())}, the newest this program's data knows.`,
    };
}

/**
 * The arguments of host/upgrade-gitlab.sh for a path: the edition, how long to wait for background
 * migrations after each step (seconds, or `none` on a host without GitLab's database, such as the split
 * topology's Mattermost host), then the steps in order: versions, and `postgresql-<major>` for a
 * PostgreSQL upgrade.
 */
export function upgradeScriptArgs(path: UpgradePath, migrationWait: number | "none"): string[] {
    if (migrationWait !== "none" && !(Number.isSafeInteger(migrationWait) && migrationWait >= 0)) {
        throw new Error(`the migration wait must be a whole number of seconds or "none", got ${migrationWait}`);
    }
    return [path.edition, String(migrationWait), ...path.steps.map((step) => (step.reason === "postgresql-upgrade" ? `postgresql-${step.postgresqlMajor}` : formatVersion(step.version)))];
}

/**
 * One line for a preview: `18.2.8 (required stop) → 18.5.7 (required stop) → 18.11.11`, or the refusal,
 * or that nothing is to be installed.
 */
export function describeUpgradePlan(plan: UpgradePlan): string {
    if (plan.kind === "refused") {
        return `${plan.problem} ${plan.remedy}`;
    }
    if (plan.steps.length === 0) {
        return "nothing to install: the host runs the configured version";
    }
    return plan.steps
        .map((step) => (step.reason === "postgresql-upgrade" ? `PostgreSQL ${step.postgresqlMajor} (gitlab-ctl pg-upgrade on ${formatVersion(step.version)})` : `${formatVersion(step.version)}${stepLabel(step, plan.edition)}`))
        .join(" → ");
}

function stepLabel(step: UpgradeStep, edition: Edition): string {
    switch (step.reason) {
        case "edition-conversion":
            return ` (conversion to ${edition.toUpperCase()})`;
        case "required-stop":
            return " (required stop)";
        case "conditional-stop":
            return ` (conditional stop, for ${step.condition})`;
        case "target":
        case "postgresql-upgrade":
            return "";
    }
}
