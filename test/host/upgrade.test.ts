// host/upgrade-gitlab.sh, run for real (`bash host/upgrade-gitlab.sh`) in a temp sandbox against
// RECORDING STAND-INS (test/support/standIns.ts) for the tools of a GitLab host: dpkg-query, apt-get,
// apt-mark, gitlab-ctl and gitlab-psql, plus gitlab-rake and gitlab-rails, which the script must not
// need. The stand-ins share a small fake dpkg database (one file per package, in dpkg-query's
// `${db:Status-Abbrev}|${Version}` form): the apt-get stand-in writes what it installs there, apt-mark
// sets or clears the hold, and dpkg-query reports it, so a re-run sees what the previous run left.
// The script's arguments come from components/omnibus/upgradePath.ts, as the program builds them.

import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { planUpgrade, upgradeScriptArgs, type UpgradePath } from "../../components/omnibus/upgradePath";
import type { Edition } from "../../components/settings/settings";
import { parseVersion } from "../../components/versions/versions";
import { spawn } from "node:child_process";
import { setTimeout as delay } from "node:timers/promises";
import { HOST_SCRIPT_DIR } from "../../components/omnibus/hostScripts";
import { sh, type RunResult, type Sandbox, withSandbox } from "../support/standIns";

const SCRIPT = "upgrade-gitlab.sh";
const APT = "apt-get -o DPkg::Lock::Timeout=900 -o Acquire::Retries=5";
const DPKG_QUERY = "dpkg-query -W -f=${db:Status-Abbrev}|${Version}";

/** What the stand-ins are told to do. */
interface Scenario {
    /** Installed packages: name → `<selection><status> |<version>`, e.g. `hi |18.2.8-ee.0` (held). */
    readonly packages: Readonly<Record<string, string>>;
    /** Release lines (x.y) for which `gitlab-ctl check-config --version=x.y` fails. */
    readonly checkConfigFails?: readonly string[];
    /** Versions whose install fails half-way, leaving the package half-configured (`iF`). */
    readonly installFails?: readonly string[];
    /** After each install, how many polls report unfinished migrations; `forever` never finishes. */
    readonly pendingPolls?: number | "forever";
    /** How many of the unfinished migrations are reported as failed. */
    readonly failedMigrations?: number;
    /** How many `gitlab-ctl status` calls report a service down; `forever` never comes up. */
    readonly servicesDownPolls?: number | "forever";
    /** Seconds each `gitlab-ctl status` call takes while a service is down, as on a loaded host. */
    readonly statusSeconds?: number;
    /** A dpkg run was killed: its journal (/var/lib/dpkg/updates) is not empty. */
    readonly dpkgInterrupted?: boolean;
    /** The administrator created /etc/gitlab/skip-auto-backup before the walk. */
    readonly skipAutoBackup?: boolean;
    /** An install that waits, after announcing itself, until the test releases it (signal tests). */
    readonly installWaitsFor?: string;
    /** The PostgreSQL major GitLab's database runs (SHOW server_version_num); 16, as on 18.11, unless set. */
    readonly postgresqlMajor?: number;
    /** `gitlab-ctl pg-upgrade` fails (and, as Omnibus does, leaves the old cluster running). */
    readonly pgUpgradeFails?: boolean;
    /** A pg-upgrade that waits, after announcing itself, until the test releases it (signal tests). */
    readonly pgUpgradeWaitsFor?: string;
}

/** A GitLab host made of stand-ins, with its fake dpkg database under <sandbox>/dpkg. */
function gitlabHost(sandbox: Sandbox, scenario: Scenario) {
    const dpkg = sandbox.path("dpkg");
    const control = sandbox.path("scenario");
    const etc = sandbox.path("etc/gitlab");
    const railsEtc = sandbox.path("var/opt/gitlab/gitlab-rails/etc");
    const skipBackup = join(etc, "skip-auto-backup");
    // dpkg's admin directory, where a killed dpkg leaves its journal.
    const dpkgAdmin = sandbox.path("var/lib/dpkg");
    const journal = join(dpkgAdmin, "updates");
    mkdirSync(journal, { recursive: true });
    mkdirSync(etc, { recursive: true });
    if (scenario.dpkgInterrupted) {
        writeFileSync(join(journal, "0001"), "Package: gitlab-ee\nStatus: install ok unpacked\n");
    }
    if (scenario.skipAutoBackup) {
        writeFileSync(skipBackup, "");
    }
    for (const [name, state] of Object.entries(scenario.packages)) {
        sandbox.write(join("dpkg", name), state);
    }
    sandbox.write("scenario/check-config-fails", (scenario.checkConfigFails ?? []).map((line) => `${line}\n`).join(""));
    sandbox.write("scenario/install-fails", (scenario.installFails ?? []).map((v) => `${v}\n`).join(""));
    sandbox.write("scenario/pending-polls", String(scenario.pendingPolls ?? 0));
    sandbox.write("scenario/postgresql-major", String(scenario.postgresqlMajor ?? 16));
    sandbox.write("scenario/pg-upgrade-fails", scenario.pgUpgradeFails ? "yes" : "no");
    sandbox.write("scenario/pg-upgrade-waits", scenario.pgUpgradeWaitsFor ?? "");
    sandbox.write("scenario/pending", "0");
    sandbox.write("scenario/failed", String(scenario.failedMigrations ?? 0));
    sandbox.write("scenario/services-down", String(scenario.servicesDownPolls ?? 0));

    sandbox.standIn("dpkg-query", `
package=\${!#}
if [ -f ${sh(dpkg)}/"$package" ]; then cat ${sh(dpkg)}/"$package"; else echo "dpkg-query: no packages found matching $package" >&2; exit 1; fi`);

    sandbox.standIn("apt-mark", `
action=$1
shift
for package in "$@"; do
    file=${sh(dpkg)}/"$package"
    if [ -f "$file" ]; then
        state=$(cat "$file")
        case "$action" in
        hold) printf 'h%s' "\${state:1}" >"$file" ;;
        unhold) printf 'i%s' "\${state:1}" >"$file" ;;
        esac
    fi
    echo "stand-in apt-mark: $action $package"
done`);

    // Like apt: refuses to change a held GitLab package, replaces the other edition (the packages
    // conflict), and leaves a half-configured package when the package's reconfigure fails.
    // A killed dpkg's journal makes apt refuse to install; --configure -a finishes what was unpacked.
    sandbox.standIn("dpkg", `
record_env
[ "$*" = "--configure -a" ] || { echo "stand-in dpkg: only --configure -a is expected" >&2; exit 2; }
for file in ${sh(dpkg)}/*; do
    state=$(cat "$file")
    case "\${state:1:1}" in U|F|H|W|t) printf '%si%s' "\${state:0:1}" "\${state:2}" >"$file" ;; esac
done
rm -f ${sh(journal)}/*
echo "stand-in dpkg: configured what was unpacked"`);

    sandbox.standIn("apt-get", `
record_env
case " $* " in *" update "*) echo "stand-in apt-get: update"; exit 0 ;; esac
if [ -n "$(ls -A ${sh(journal)})" ]; then
    echo "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem." >&2
    exit 100
fi
# What Omnibus's preinst would do: back up the database unless skip-auto-backup exists.
if [ -e ${sh(skipBackup)} ]; then echo skipped >"$CALL_DIR/preinst-backup"; else echo ran >"$CALL_DIR/preinst-backup"; fi
if [ -n ${sh(scenario.installWaitsFor ?? "")} ]; then
    touch ${sh(join(control, "installing"))}
    for _ in $(seq 200); do [ -e ${sh(scenario.installWaitsFor ?? "")} ] && break; sleep 0.05; done
fi
spec=\${!#}
package=\${spec%%=*} wanted=\${spec#*=}
for name in gitlab-ee gitlab-ce; do
    if [ -f ${sh(dpkg)}/"$name" ] && [ "$(head -c 1 ${sh(dpkg)}/"$name")" = h ]; then
        echo "E: stand-in apt-get: $name is held and would change" >&2
        exit 100
    fi
done
rm -f ${sh(dpkg)}/gitlab-ee ${sh(dpkg)}/gitlab-ce
if grep -qx "\${wanted%%-*}" ${sh(join(control, "install-fails"))}; then
    printf 'iF |%s' "$wanted" >${sh(dpkg)}/"$package"
    echo "stand-in apt-get: $package $wanted: the post-installation reconfigure failed" >&2
    exit 100
fi
printf 'ii |%s' "$wanted" >${sh(dpkg)}/"$package"
# The package's own reconfigure renders smtp_settings.rb as Omnibus does: 0644.
mkdir -p ${sh(railsEtc)}
printf 'production:\n' >${sh(join(railsEtc, "gitlab.yml"))}
printf 'password: "smtp-secret"\n' >${sh(join(railsEtc, "smtp_settings.rb"))}
chmod 0640 ${sh(join(railsEtc, "gitlab.yml"))}
chmod 0644 ${sh(join(railsEtc, "smtp_settings.rb"))}
cp ${sh(join(control, "pending-polls"))} ${sh(join(control, "pending"))}
printf '%s' "$EPOCHREALTIME" >"$CALL_DIR/finished-at"
echo "stand-in apt-get: installed $package $wanted"`);

    sandbox.standIn("gitlab-ctl", `
printf '%s' "$EPOCHREALTIME" >"$CALL_DIR/called-at"
if [ "$1" = status ]; then
    down=$(cat ${sh(join(control, "services-down"))})
    if [ "$down" = forever ] || [ "$down" -gt 0 ]; then
        sleep ${scenario.statusSeconds ?? 0}
        [ "$down" = forever ] || echo $((down - 1)) >${sh(join(control, "services-down"))}
        echo "down: run: puma: (pid 1) 1s"
        exit 3
    fi
    echo "run: puma: (pid 1) 60s"
    exit 0
fi
if [ "$1" = pg-upgrade ]; then
    [ "$2" = -V ] || { echo "stand-in gitlab-ctl: pg-upgrade without -V" >&2; exit 2; }
    wait_for=$(cat ${sh(join(control, "pg-upgrade-waits"))})
    if [ -n "$wait_for" ]; then
        touch ${sh(join(control, "pg-upgrading"))}
        for _ in $(seq 200); do [ -e "$wait_for" ] && break; sleep 0.05; done
        # Omnibus's pg-upgrade, interrupted, leaves the old cluster in place.
        exit 1
    fi
    if [ "$(cat ${sh(join(control, "pg-upgrade-fails"))})" = yes ]; then
        echo "stand-in pg-upgrade: not enough space to copy the database; reverted to the old cluster" >&2
        exit 1
    fi
    echo "$3" >${sh(join(control, "postgresql-major"))}
    echo "stand-in pg-upgrade: PostgreSQL $3 runs"
    exit 0
fi
[ "$1" = check-config ] || { echo "stand-in gitlab-ctl: only check-config, pg-upgrade and status are expected" >&2; exit 2; }
line=\${2#--version=}
if grep -qx "$line" ${sh(join(control, "check-config-fails"))}; then
    echo "stand-in check-config: gitlab.rb sets a key that GitLab $line refuses"
    exit 1
fi
echo "stand-in check-config: gitlab.rb is fine for GitLab $line"`);

    sandbox.standIn("gitlab-psql", `
if [ "$3" = "SHOW server_version_num" ]; then echo "$(( $(cat ${sh(join(control, "postgresql-major"))}) * 10000 + 5 ))"; exit 0; fi
pending=$(cat ${sh(join(control, "pending"))})
failed=$(cat ${sh(join(control, "failed"))})
if [ "$pending" = forever ]; then echo "3|$failed"; exit 0; fi
if [ "$pending" -gt 0 ]; then
    echo "$pending|$failed"
    echo $((pending - 1)) >${sh(join(control, "pending"))}
else
    echo "0|0"
fi`);

    for (const unused of ["gitlab-rake", "gitlab-rails"]) {
        sandbox.standIn(unused, `echo "stand-in ${unused}: not expected to be called" >&2; exit 1`);
    }

    const scriptEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
        // Set on purpose: the package's maintainer scripts must not see them.
        EXTERNAL_URL: "https://gitlab.example.com",
        GITLAB_ROOT_PASSWORD: "stand-in",
        MIGRATION_POLL_SECONDS: "0",
        // A limit no test reaches unless it means to, so a slow machine cannot make a test flake.
        SERVICE_WAIT_SECONDS: "3600",
        GITLAB_ETC_DIR: etc,
        DPKG_ADMINDIR: dpkgAdmin,
        GITLAB_RAILS_ETC_DIR: railsEtc,
        MATTERMOST_ENV_DIR: sandbox.path("opt/gitlab/etc/mattermost/env"),
        ...extra,
    });

    return {
        /** dpkg-query's answer for `name` now, or undefined when it is not installed. */
        dpkgState: (name: string) => (existsSync(join(dpkg, name)) ? readFileSync(join(dpkg, name), "utf8") : undefined),
        /** Changes what check-config refuses, e.g. after the administrator fixed gitlab.rb. */
        setCheckConfigFails: (lines: readonly string[]) => writeFileSync(join(control, "check-config-fails"), lines.map((l) => `${l}\n`).join("")),
        /** Changes which installs fail. */
        setInstallFails: (versions: readonly string[]) => writeFileSync(join(control, "install-fails"), versions.map((v) => `${v}\n`).join("")),
        /** Sets the migrations the host has right now (e.g. finished later, by GitLab). */
        setPending: (polls: number | "forever") => writeFileSync(join(control, "pending"), String(polls)),
        /** Makes pg-upgrade succeed or fail from now on. */
        setPgUpgradeFails: (fails: boolean) => writeFileSync(join(control, "pg-upgrade-fails"), fails ? "yes" : "no"),
        /** The PostgreSQL major the database runs now. */
        postgresqlMajor: () => Number(readFileSync(join(control, "postgresql-major"), "utf8").trim()),
        skipBackup,
        railsEtc,
        /** Lets pg-upgrade run through from now on. */
        stopPgUpgradeWaiting: () => writeFileSync(join(control, "pg-upgrade-waits"), ""),
        /** Whether the walk is inside the pg-upgrade stand-in, waiting for the test to release it. */
        pgUpgrading: () => existsSync(join(control, "pg-upgrading")),
        /** Whether the walk is inside the apt-get stand-in, waiting for the test to release it. */
        installing: () => existsSync(join(control, "installing")),
        env: scriptEnv,
        upgrade: (args: readonly string[], options: { serviceWait?: number } = {}) =>
            sandbox.runScript(SCRIPT, args, { env: scriptEnv(options.serviceWait === undefined ? {} : { SERVICE_WAIT_SECONDS: String(options.serviceWait) }) }),
    };
}

/** The program's path from `from` to `to` (past 18.11, as a stack with a standalone Mattermost walks it). */
function path(from: string, to: string, fromEdition: Edition = "ee", toEdition: Edition = "ee"): UpgradePath {
    const plan = planUpgrade(
        { edition: fromEdition, version: parseVersion(from)! },
        { edition: toEdition, version: parseVersion(to)! },
        { mattermost: parseVersion(to)!.major >= 19 ? "standalone" : "bundled" },
    );
    assert.equal(plan.kind, "path");
    return plan as UpgradePath;
}

/** Every stand-in call in order, as `name arg arg ...`; the migration query is shown as <query>. */
function commands(sandbox: Sandbox): string[] {
    const seen: Record<string, number> = {};
    return sandbox.sequence().map((name) => {
        const index = seen[name] ?? 0;
        seen[name] = index + 1;
        const argv = sandbox.calls(name)[index]!.argv;
        if (name === "gitlab-psql") {
            assert.deepEqual(argv.slice(0, 2), ["-At", "-c"]);
            return argv[2] === "SHOW server_version_num" ? `${name} -At -c ${argv[2]}` : `${name} -At -c <query>`;
        }
        return [name, ...argv].join(" ");
    });
}

/** Commands of one step: check, unhold, install, hold, services up; then `polls` migration queries. */
function stepCommands(version: string, polls: number, edition: Edition = "ee", unhold = `gitlab-${edition}`): string[] {
    const line = version.split(".").slice(0, 2).join(".");
    return [
        `gitlab-ctl check-config --version=${line}`,
        `apt-mark unhold ${unhold}`,
        `${APT} install -y -q gitlab-${edition}=${version}-${edition}.0`,
        `apt-mark hold gitlab-${edition}`,
        "gitlab-ctl status",
        ...Array.from({ length: polls }, () => "gitlab-psql -At -c <query>"),
    ];
}

function describeRun(result: RunResult): string {
    return `status ${result.status}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;
}

/** Versions the apt-get stand-in was asked to install, in order. */
function installed(sandbox: Sandbox): string[] {
    return sandbox
        .calls("apt-get")
        .map((call) => call.argv.at(-1)!)
        .filter((word) => word.includes("="));
}

describe("upgrade-gitlab.sh", () => {
    test("walks 18.2.8 → 18.5.7 → 18.8.11 → 18.11.11: exactly these commands, the package held at the end", () =>
        withSandbox(async (sandbox) => {
            const host = gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |18.2.8-ee.0" }, pendingPolls: 2 });
            const args = upgradeScriptArgs(path("18.2.8", "18.11.11"), 3600);
            assert.deepEqual(args, ["ee", "3600", "18.5.7", "18.8.11", "18.11.11"]);
            const result = await host.upgrade(args);
            assert.equal(result.status, 0, describeRun(result));

            assert.deepEqual(commands(sandbox), [
                `${DPKG_QUERY} gitlab-ee`,
                // Migrations of an earlier upgrade must have finished before anything is installed.
                "gitlab-psql -At -c <query>",
                `${APT} update -q`,
                // Two polls report unfinished migrations after each install, the third that they finished.
                ...stepCommands("18.5.7", 3),
                ...stepCommands("18.8.11", 3),
                ...stepCommands("18.11.11", 3),
            ]);
            assert.equal(host.dpkgState("gitlab-ee"), "hi |18.11.11-ee.0", "18.11.11 is installed and held");
            assert.equal(statSync(join(host.railsEtc, "smtp_settings.rb")).mode & 0o777, 0o640, "the package's reconfigure left smtp_settings.rb world-readable");

            const query = sandbox.calls("gitlab-psql")[0]!.argv[2]!;
            assert.match(query, /FROM batched_background_migrations WHERE status NOT IN \(3, 6\)/);
            assert.match(query, /FILTER \(WHERE status = 4\)/);
            for (const install of sandbox.calls("apt-get").filter((call) => call.argv.includes("install"))) {
                assert.equal(install.env?.EXTERNAL_URL, undefined, "EXTERNAL_URL reached apt-get");
                assert.equal(install.env?.GITLAB_ROOT_PASSWORD, undefined, "GITLAB_ROOT_PASSWORD reached apt-get");
                assert.equal(install.env?.DEBIAN_FRONTEND, "noninteractive");
            }
            assert.match(result.stdout, /18\.5\.7: 2 batched background migrations unfinished; waited \d+s of 3600s/);
            assert.match(result.stdout, /18\.11\.11: background migrations have finished/);
            assert.match(result.stdout, /done: gitlab-ee 18\.11\.11 is installed and held/);
        }));

    test("a failed check-config stops the walk before that version: a clear message, nothing further installed, held", () =>
        withSandbox(async (sandbox) => {
            const host = gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |18.2.8-ee.0" }, checkConfigFails: ["18.8"] });
            const result = await host.upgrade(upgradeScriptArgs(path("18.2.8", "18.11.11"), 3600));
            assert.equal(result.status, 1, describeRun(result));
            assert.match(
                result.stderr,
                /gitlab-ctl check-config --version=18\.8 failed: .*Nothing was installed for 18\.8\.11; gitlab-ee 18\.5\.7 stays installed and held\. .*resumes at 18\.8\.11/,
            );
            assert.match(result.stdout, /stand-in check-config: gitlab\.rb sets a key that GitLab 18\.8 refuses/, "check-config's own output is shown");
            assert.deepEqual(installed(sandbox), ["gitlab-ee=18.5.7-ee.0"]);
            assert.equal(commands(sandbox).at(-2), "gitlab-ctl check-config --version=18.8");
            assert.equal(commands(sandbox).at(-1), "apt-mark hold gitlab-ee", "held again when the walk stops");
            assert.equal(host.dpkgState("gitlab-ee"), "hi |18.5.7-ee.0");
        }));

    test("a migration timeout stops the walk after that version: a clear message naming it and how to resume", () =>
        withSandbox(async (sandbox) => {
            const host = gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |18.2.8-ee.0" }, pendingPolls: "forever" });
            const result = await host.upgrade(upgradeScriptArgs(path("18.2.8", "18.11.11"), 0));
            assert.equal(result.status, 1, describeRun(result));
            assert.match(
                result.stderr,
                /18\.5\.7: background migrations did not finish within 0s \(3 batched background migrations unfinished\)\. GitLab 18\.5\.7 is installed and held\. .*run the upgrade again: it resumes after 18\.5\.7\./,
            );
            assert.deepEqual(installed(sandbox), ["gitlab-ee=18.5.7-ee.0"]);
            assert.deepEqual(sandbox.calls("gitlab-ctl").map((c) => c.argv[0]), ["check-config", "status"], "no check-config for the next version");
            assert.equal(host.dpkgState("gitlab-ee"), "hi |18.5.7-ee.0");
        }));

    test("waits for every service after an install, and stops the walk when one stays down", () =>
        withSandbox(async (sandbox) => {
            const slow = gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |18.8.11-ee.0" }, servicesDownPolls: 2 });
            const ok = await slow.upgrade(upgradeScriptArgs(path("18.8.11", "18.11.11"), 3600));
            assert.equal(ok.status, 0, describeRun(ok));
            assert.equal(sandbox.calls("gitlab-ctl").filter((c) => c.argv[0] === "status").length, 3, "two polls down, the third up");
            assert.match(ok.stdout, /18\.11\.11: every service is running/);
        }));

    test("a service that stays down stops the walk after that version, held, with how to resume", () =>
        withSandbox(async (sandbox) => {
            const host = gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |18.2.8-ee.0" }, servicesDownPolls: "forever" });
            const result = await host.upgrade(upgradeScriptArgs(path("18.2.8", "18.11.11"), 3600), { serviceWait: 1 });
            assert.equal(result.status, 1, describeRun(result));
            assert.match(result.stderr, /18\.5\.7: not every GitLab service is running after 1s .*GitLab 18\.5\.7 is installed and held; .*resumes after 18\.5\.7\./);
            assert.match(result.stderr, /down: run: puma/, "gitlab-ctl status is shown");
            assert.deepEqual(installed(sandbox), ["gitlab-ee=18.5.7-ee.0"]);
            assert.equal(host.dpkgState("gitlab-ee"), "hi |18.5.7-ee.0");
        }));

    test("a slow host (each down poll takes 0.6s) still passes: only a test about the limit reaches it", () =>
        withSandbox(async (sandbox) => {
            const slow = gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |18.8.11-ee.0" }, servicesDownPolls: 2, statusSeconds: 0.6 });
            const ok = await slow.upgrade(upgradeScriptArgs(path("18.8.11", "18.11.11"), 3600));
            assert.equal(ok.status, 0, describeRun(ok));
            assert.equal(sandbox.calls("gitlab-ctl").filter((c) => c.argv[0] === "status").length, 3);
        }));

    test("a 1-second service limit is reached only after a whole second, not at the next tick of a seconds counter", () =>
        withSandbox(async (sandbox) => {
            const host = gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |18.8.11-ee.0" }, servicesDownPolls: "forever" });
            const result = await host.upgrade(upgradeScriptArgs(path("18.8.11", "18.11.11"), 3600), { serviceWait: 1 });
            assert.equal(result.status, 1, describeRun(result));
            assert.match(result.stderr, /not every GitLab service is running after 1s/);
            // The wait starts after the install's stand-in has finished; the last `gitlab-ctl status`
            // (the one shown with the failure) comes after the script gave up.
            const at = (call: { dir: string }, file: string) => Number(readFileSync(join(call.dir, file), "utf8")) * 1000;
            const installedAt = at(sandbox.calls("apt-get").find((call) => call.argv.includes("install"))!, "finished-at");
            const gaveUpBy = at(sandbox.calls("gitlab-ctl").at(-1)!, "called-at");
            assert.ok(gaveUpBy - installedAt >= 1000, `gave up ${Math.round(gaveUpBy - installedAt)}ms after the install, before the 1s limit`);
        }));

    test("a failed background migration stops the walk at once, without waiting out the timeout", () =>
        withSandbox(async (sandbox) => {
            const host = gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |18.2.8-ee.0" }, pendingPolls: "forever", failedMigrations: 1 });
            const result = await host.upgrade(upgradeScriptArgs(path("18.2.8", "18.11.11"), 3600));
            assert.equal(result.status, 1, describeRun(result));
            assert.match(result.stderr, /18\.5\.7: 1 batched background migrations failed, so waiting cannot help\..*resumes after 18\.5\.7/);
            assert.equal(sandbox.calls("gitlab-psql").length, 2, "one query before the walk, one after 18.5.7");
            assert.deepEqual(installed(sandbox), ["gitlab-ee=18.5.7-ee.0"]);
        }));

    test("unfinished migrations from an earlier upgrade stop the walk before anything is installed", () =>
        withSandbox(async (sandbox) => {
            const host = gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |18.2.8-ee.0" } });
            host.setPending("forever");
            const result = await host.upgrade(upgradeScriptArgs(path("18.2.8", "18.11.11"), 0));
            assert.equal(result.status, 1, describeRun(result));
            assert.match(result.stderr, /18\.2\.8: background migrations did not finish within 0s.*resumes after 18\.2\.8/);
            assert.deepEqual(installed(sandbox), []);
            assert.equal(host.dpkgState("gitlab-ee"), "hi |18.2.8-ee.0");
        }));

    test("a re-run after a failed check-config resumes from the version dpkg reports", () =>
        withSandbox(async (sandbox) => {
            const host = gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |18.2.8-ee.0" }, checkConfigFails: ["18.8"] });
            const args = upgradeScriptArgs(path("18.2.8", "18.11.11"), 3600);
            assert.equal((await host.upgrade(args)).status, 1);
            host.setCheckConfigFails([]);
            const rerun = await host.upgrade(args);
            assert.equal(rerun.status, 0, describeRun(rerun));
            assert.match(rerun.stdout, /starting from gitlab-ee 18\.5\.7; installing in turn: 18\.8\.11 18\.11\.11/);
            assert.deepEqual(installed(sandbox), ["gitlab-ee=18.5.7-ee.0", "gitlab-ee=18.8.11-ee.0", "gitlab-ee=18.11.11-ee.0"], "18.5.7 is not installed twice");
            assert.equal(host.dpkgState("gitlab-ee"), "hi |18.11.11-ee.0");
        }));

    test("a re-run after a failed install repeats that version, which dpkg reports half-configured", () =>
        withSandbox(async (sandbox) => {
            const host = gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |18.2.8-ee.0" }, installFails: ["18.8.11"] });
            const args = upgradeScriptArgs(path("18.2.8", "18.11.11"), 3600);
            const failed = await host.upgrade(args);
            assert.equal(failed.status, 1, describeRun(failed));
            assert.match(failed.stderr, /installing gitlab-ee 18\.8\.11 failed .*The package is held again/);
            assert.equal(host.dpkgState("gitlab-ee"), "hF |18.8.11-ee.0", "half-configured and held");

            host.setInstallFails([]);
            const rerun = await host.upgrade(args);
            assert.equal(rerun.status, 0, describeRun(rerun));
            assert.deepEqual(installed(sandbox), ["gitlab-ee=18.5.7-ee.0", "gitlab-ee=18.8.11-ee.0", "gitlab-ee=18.8.11-ee.0", "gitlab-ee=18.11.11-ee.0"]);
            assert.equal(host.dpkgState("gitlab-ee"), "hi |18.11.11-ee.0");
        }));

    test("at the target already: holds the package and installs nothing", () =>
        withSandbox(async (sandbox) => {
            const host = gitlabHost(sandbox, { packages: { "gitlab-ee": "ii |18.11.11-ee.0" } });
            const result = await host.upgrade(upgradeScriptArgs(path("18.2.8", "18.11.11"), 3600));
            assert.equal(result.status, 0, describeRun(result));
            assert.deepEqual(commands(sandbox), [`${DPKG_QUERY} gitlab-ee`, "apt-mark hold gitlab-ee"]);
            assert.equal(host.dpkgState("gitlab-ee"), "hi |18.11.11-ee.0");
        }));

    test("a host without GitLab's database (none) does not wait for migrations", () =>
        withSandbox(async (sandbox) => {
            const host = gitlabHost(sandbox, { packages: { "gitlab-ce": "hi |18.5.7-ce.0" }, pendingPolls: "forever" });
            const result = await host.upgrade(upgradeScriptArgs(path("18.5.7", "18.11.11", "ce", "ce"), "none"));
            assert.equal(result.status, 0, describeRun(result));
            assert.deepEqual(commands(sandbox), [`${DPKG_QUERY} gitlab-ce`, `${APT} update -q`, ...stepCommands("18.8.11", 0, "ce"), ...stepCommands("18.11.11", 0, "ce")]);
        }));

    test("CE → EE: installs gitlab-ee of the installed version first, replacing gitlab-ce, then walks in EE", () =>
        withSandbox(async (sandbox) => {
            const host = gitlabHost(sandbox, { packages: { "gitlab-ce": "hi |18.8.11-ce.0" } });
            const args = upgradeScriptArgs(path("18.8.11", "18.11.11", "ce", "ee"), 3600);
            assert.deepEqual(args, ["ee", "3600", "18.8.11", "18.11.11"]);
            const result = await host.upgrade(args);
            assert.equal(result.status, 0, describeRun(result));
            assert.deepEqual(commands(sandbox), [
                `${DPKG_QUERY} gitlab-ee`,
                `${DPKG_QUERY} gitlab-ce`,
                "gitlab-psql -At -c <query>",
                `${APT} update -q`,
                // gitlab-ce is unheld too, so that apt may replace it.
                ...stepCommands("18.8.11", 1, "ee", "gitlab-ee gitlab-ce"),
                ...stepCommands("18.11.11", 1),
            ]);
            assert.equal(host.dpkgState("gitlab-ce"), undefined);
            assert.equal(host.dpkgState("gitlab-ee"), "hi |18.11.11-ee.0");
        }));

    test("CE → EE that fails holds gitlab-ce again", () =>
        withSandbox(async (sandbox) => {
            const host = gitlabHost(sandbox, { packages: { "gitlab-ce": "hi |18.8.11-ce.0" }, checkConfigFails: ["18.8"] });
            const result = await host.upgrade(upgradeScriptArgs(path("18.8.11", "18.11.11", "ce", "ee"), 3600));
            assert.equal(result.status, 1, describeRun(result));
            assert.match(result.stderr, /Nothing was installed for 18\.8\.11; gitlab-ce 18\.8\.11 stays installed and held/);
            assert.equal(commands(sandbox).at(-1), "apt-mark hold gitlab-ee gitlab-ce");
            assert.equal(host.dpkgState("gitlab-ce"), "hi |18.8.11-ce.0");
        }));

    test("a killed dpkg (\"dpkg was interrupted\") is resumed with dpkg --configure -a before anything else", () =>
        withSandbox(async (sandbox) => {
            const host = gitlabHost(sandbox, { packages: { "gitlab-ee": "hU |18.5.7-ee.0" }, dpkgInterrupted: true });
            const result = await host.upgrade(upgradeScriptArgs(path("18.2.8", "18.11.11"), 3600));
            assert.equal(result.status, 0, describeRun(result));
            assert.equal(commands(sandbox)[0], "dpkg --configure -a");
            const configure = sandbox.calls("dpkg")[0]!;
            assert.equal(configure.env?.EXTERNAL_URL, undefined, "EXTERNAL_URL reached dpkg");
            assert.equal(configure.env?.DEBIAN_FRONTEND, "noninteractive");
            assert.match(result.stdout, /dpkg was interrupted; resuming it with dpkg --configure -a/);
            assert.match(result.stdout, /starting from gitlab-ee 18\.5\.7; installing in turn: 18\.8\.11 18\.11\.11/);
            assert.deepEqual(installed(sandbox), ["gitlab-ee=18.8.11-ee.0", "gitlab-ee=18.11.11-ee.0"]);
            assert.equal(host.dpkgState("gitlab-ee"), "hi |18.11.11-ee.0");
        }));

    test("without an interrupted dpkg, dpkg --configure -a is not run", () =>
        withSandbox(async (sandbox) => {
            const host = gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |18.8.11-ee.0" } });
            const result = await host.upgrade(upgradeScriptArgs(path("18.8.11", "18.11.11"), 3600));
            assert.equal(result.status, 0, describeRun(result));
            assert.deepEqual(sandbox.calls("dpkg"), []);
        }));

    test("Omnibus's pre-install database backup is skipped during the walk, and skip-auto-backup removed after", () =>
        withSandbox(async (sandbox) => {
            const host = gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |18.2.8-ee.0" }, checkConfigFails: ["18.11"] });
            const result = await host.upgrade(upgradeScriptArgs(path("18.2.8", "18.11.11"), 3600));
            assert.equal(result.status, 1, describeRun(result));
            const installs = sandbox.calls("apt-get").filter((call) => call.argv.includes("install"));
            assert.equal(installs.length, 2);
            for (const install of installs) {
                assert.equal(readFileSync(join(install.dir, "preinst-backup"), "utf8").trim(), "skipped");
            }
            assert.equal(existsSync(host.skipBackup), false, "the walk's skip-auto-backup outlived it");
        }));

    test("a skip-auto-backup left by a killed walk is removed by the next one", () =>
        withSandbox(async (sandbox) => {
            const host = gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |18.8.11-ee.0" } });
            // What a killed walk leaves: the file as the walk writes it.
            writeFileSync(host.skipBackup, "created by upgrade-gitlab.sh for the duration of an upgrade walk\n");
            const result = await host.upgrade(upgradeScriptArgs(path("18.8.11", "18.11.11"), 3600));
            assert.equal(result.status, 0, describeRun(result));
            assert.equal(existsSync(host.skipBackup), false);
        }));

    test("an administrator's own skip-auto-backup is kept", () =>
        withSandbox(async (sandbox) => {
            const host = gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |18.8.11-ee.0" }, skipAutoBackup: true });
            const result = await host.upgrade(upgradeScriptArgs(path("18.8.11", "18.11.11"), 3600));
            assert.equal(result.status, 0, describeRun(result));
            assert.equal(existsSync(host.skipBackup), true);
        }));

    for (const signal of ["SIGTERM", "SIGHUP", "SIGINT", "SIGPIPE"] as const) {
        test(`${signal} during the package install: the package is held again and the run says FAILED`, () =>
            withSandbox(async (sandbox) => {
                const release = sandbox.path("release-install");
                const host = gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |18.8.11-ee.0" }, installWaitsFor: release });
                const child = spawn("bash", [join(HOST_SCRIPT_DIR, SCRIPT), ...upgradeScriptArgs(path("18.8.11", "18.11.11"), 3600)], {
                    env: sandbox.env(host.env()),
                    stdio: ["ignore", "pipe", "pipe"],
                });
                let stdout = "";
                let stderr = "";
                child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
                child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
                const closed = new Promise<number | null>((resolve) => child.on("close", (status) => resolve(status)));
                for (let i = 0; i < 400 && !host.installing(); i++) {
                    await delay(25);
                }
                assert.ok(host.installing(), `the install never started\n${stdout}${stderr}`);
                assert.equal(host.dpkgState("gitlab-ee"), "ii |18.8.11-ee.0", "unheld for the install");
                child.kill(signal);
                // bash runs the trap once the install (its foreground child) returns.
                writeFileSync(release, "");
                const status = await closed;
                const describe = `status ${status}\n--- stdout\n${stdout}--- stderr\n${stderr}`;
                assert.notEqual(status, 0, describe);
                assert.match(stderr, new RegExp(`^upgrade-gitlab: FAILED \\(ended by ${signal}\\): stopped before the walk finished; run the upgrade again`, "m"), describe);
                assert.equal(host.dpkgState("gitlab-ee")?.[0], "h", `held again\n${describe}`);
                assert.equal(existsSync(host.skipBackup), false);
            }));
    }

    const REFUSALS: readonly [string, Record<string, string>, readonly string[], RegExp][] = [
        ["a host newer than the target", { "gitlab-ee": "hi |18.11.11-ee.0" }, ["ee", "3600", "18.5.7", "18.8.11"], /gitlab-ee 18\.11\.11 is installed, newer than the target 18\.8\.11/],
        ["EE installed, CE asked for", { "gitlab-ee": "hi |18.8.11-ee.0" }, ["ce", "3600", "18.11.11"], /gitlab-ee 18\.8\.11 is installed; GitLab's package cannot switch from EE to CE/],
        ["a conversion that does not start at the installed version", { "gitlab-ce": "hi |18.5.7-ce.0" }, ["ee", "3600", "18.8.11"], /converting to gitlab-ee installs gitlab-ee 18\.5\.7 first/],
        ["no GitLab installed", {}, ["ee", "3600", "18.11.11"], /neither gitlab-ee nor gitlab-ce is installed/],
    ];
    for (const [name, packages, args, message] of REFUSALS) {
        test(`refuses ${name}, installing nothing`, () =>
            withSandbox(async (sandbox) => {
                const host = gitlabHost(sandbox, { packages });
                const result = await host.upgrade(args);
                assert.equal(result.status, 1, describeRun(result));
                assert.match(result.stderr, message);
                assert.deepEqual(installed(sandbox), []);
                assert.equal(sandbox.calls("gitlab-ctl").length, 0);
                for (const [pkg, state] of Object.entries(packages)) {
                    assert.equal(host.dpkgState(pkg), state, `${pkg} is unchanged`);
                }
            }));
    }

    const USAGE: readonly [string, readonly string[], RegExp][] = [
        ["no arguments", [], /expected an edition and a migration wait/],
        ["an unknown edition", ["oss", "3600", "18.11.11"], /unknown edition: oss/],
        ["a wait that is not a number", ["ee", "1h", "18.11.11"], /whole number of seconds or none/],
        ["a wait with a leading zero", ["ee", "0900", "18.11.11"], /whole number of seconds or none/],
        ["a version that is not x.y.z", ["ee", "3600", "18.11"], /not a version x\.y\.z: 18\.11/],
        ["versions out of order", ["ee", "3600", "18.8.11", "18.5.7"], /oldest first.*18\.8\.11, then 18\.5\.7/],
        ["a version given twice", ["ee", "3600", "18.8.11", "18.8.11"], /oldest first/],
    ];
    for (const [name, args, message] of USAGE) {
        test(`usage error for ${name}: exit 2 before calling anything`, () =>
            withSandbox(async (sandbox) => {
                gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |18.2.8-ee.0" } });
                const result = await sandbox.runScript(SCRIPT, args);
                assert.equal(result.status, 2, describeRun(result));
                assert.match(result.stderr, message);
                assert.deepEqual(sandbox.sequence(), []);
            }));
    }

    describe("PostgreSQL before GitLab 19", () => {
        const toNineteen = () => upgradeScriptArgs(path("18.11.11", "19.3.0"), 3600);

        test("the program's walk 18.11.11 → 19.3.0 upgrades PostgreSQL to 17 on 18.11.11, then installs 19.2.4 and 19.3.0", () =>
            withSandbox(async (sandbox) => {
                const host = gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |18.11.11-ee.0" } });
                assert.deepEqual(toNineteen(), ["ee", "3600", "postgresql-17", "19.2.4", "19.3.0"]);
                const result = await host.upgrade(toNineteen());
                assert.equal(result.status, 0, describeRun(result));
                assert.deepEqual(commands(sandbox), [
                    `${DPKG_QUERY} gitlab-ee`,
                    "gitlab-psql -At -c <query>",
                    `${APT} update -q`,
                    "gitlab-psql -At -c SHOW server_version_num",
                    "gitlab-ctl pg-upgrade -V 17",
                    "gitlab-ctl status",
                    ...stepCommands("19.2.4", 1),
                    ...stepCommands("19.3.0", 1),
                ]);
                assert.equal(host.postgresqlMajor(), 17);
                assert.equal(host.dpkgState("gitlab-ee"), "hi |19.3.0-ee.0");
                assert.match(result.stdout, /upgrading GitLab's PostgreSQL from 16 to 17/);
            }));

        test("a database already on 17 is not upgraded again", () =>
            withSandbox(async (sandbox) => {
                const host = gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |18.11.11-ee.0" }, postgresqlMajor: 17 });
                const result = await host.upgrade(toNineteen());
                assert.equal(result.status, 0, describeRun(result));
                assert.ok(!commands(sandbox).some((command) => command.startsWith("gitlab-ctl pg-upgrade")), "pg-upgrade ran on PostgreSQL 17");
                assert.deepEqual(installed(sandbox), ["gitlab-ee=19.2.4-ee.0", "gitlab-ee=19.3.0-ee.0"]);
                assert.match(result.stdout, /already runs 17, at least 17/);
            }));

        test("a failed pg-upgrade stops the walk before the 19.x package, held; a re-run upgrades PostgreSQL and goes on", () =>
            withSandbox(async (sandbox) => {
                const host = gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |18.11.11-ee.0" }, pgUpgradeFails: true });
                const failed = await host.upgrade(toNineteen());
                assert.equal(failed.status, 1, describeRun(failed));
                assert.match(failed.stderr, /FAILED \(exit status 1\): gitlab-ctl pg-upgrade -V 17 failed .*gitlab-ee 18\.11\.11 stays installed and held on its old PostgreSQL/);
                assert.deepEqual(installed(sandbox), []);
                assert.equal(host.dpkgState("gitlab-ee"), "hi |18.11.11-ee.0");
                assert.equal(host.postgresqlMajor(), 16);

                host.setPgUpgradeFails(false);
                const rerun = await host.upgrade(toNineteen());
                assert.equal(rerun.status, 0, describeRun(rerun));
                assert.equal(host.postgresqlMajor(), 17);
                assert.deepEqual(installed(sandbox), ["gitlab-ee=19.2.4-ee.0", "gitlab-ee=19.3.0-ee.0"]);
            }));

        test("a re-run with 19.2.4 already installed skips the PostgreSQL step without asking the database", () =>
            withSandbox(async (sandbox) => {
                const host = gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |19.2.4-ee.0" }, postgresqlMajor: 17 });
                const result = await host.upgrade(toNineteen());
                assert.equal(result.status, 0, describeRun(result));
                assert.ok(!commands(sandbox).includes("gitlab-psql -At -c SHOW server_version_num"));
                assert.deepEqual(installed(sandbox), ["gitlab-ee=19.3.0-ee.0"]);
            }));

        test("SIGTERM during pg-upgrade: FAILED, nothing of 19.x installed, held; a re-run goes on", () =>
            withSandbox(async (sandbox) => {
                const release = sandbox.path("release-pg-upgrade");
                const host = gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |18.11.11-ee.0" }, pgUpgradeWaitsFor: release });
                const child = spawn("bash", [join(HOST_SCRIPT_DIR, SCRIPT), ...toNineteen()], { env: sandbox.env(host.env()), stdio: ["ignore", "pipe", "pipe"] });
                let output = "";
                child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
                child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
                const closed = new Promise<number | null>((resolve) => child.on("close", (status) => resolve(status)));
                for (let i = 0; i < 400 && !host.pgUpgrading(); i++) {
                    await delay(25);
                }
                assert.ok(host.pgUpgrading(), `pg-upgrade never started\n${output}`);
                child.kill("SIGTERM");
                writeFileSync(release, "");
                const status = await closed;
                assert.notEqual(status, 0, output);
                assert.match(output, /FAILED \(ended by SIGTERM\)/);
                assert.deepEqual(installed(sandbox), []);
                assert.equal(host.dpkgState("gitlab-ee"), "hi |18.11.11-ee.0");

                host.stopPgUpgradeWaiting();
                const rerun = await host.upgrade(toNineteen());
                assert.equal(rerun.status, 0, describeRun(rerun));
                assert.equal(host.postgresqlMajor(), 17);
                assert.deepEqual(installed(sandbox), ["gitlab-ee=19.2.4-ee.0", "gitlab-ee=19.3.0-ee.0"]);
            }));

        test("a PostgreSQL step that no version follows is a usage error", () =>
            withSandbox(async (sandbox) => {
                gitlabHost(sandbox, { packages: { "gitlab-ee": "hi |18.11.11-ee.0" } });
                const result = await sandbox.runScript(SCRIPT, ["ee", "3600", "19.2.4", "postgresql-17"]);
                assert.equal(result.status, 2, describeRun(result));
                assert.match(result.stderr, /postgresql-17 must be followed by the version that needs it/);
                assert.deepEqual(sandbox.sequence(), []);
            }));
    });
});
