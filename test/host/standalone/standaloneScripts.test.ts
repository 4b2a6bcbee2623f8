// The standalone Mattermost host's scripts (host/standalone/), run against RECORDING STAND-INS for the
// tools of an Ubuntu host (apt-get, systemctl, curl, nginx, certbot, useradd, getent, the backup
// tool) in a sandbox that stands for the host's root (MATTERMOST_HOST_ROOT). Each script is also ended
// by signals mid-run, as a lost connection or a cancelled deployment would, and must roll back.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, unlinkSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { STANDALONE_LAYOUT } from "../../../components/mattermost/standalone/hostLayout";
import { standaloneCommand } from "../../../components/mattermost/standalone/standaloneMattermostHost";
import { HOST_SCRIPT_DIR } from "../../../components/omnibus/hostScripts";
import { interruptedDpkg } from "../../support/dpkg";
import { TestPki } from "../../support/pki";
import { Sandbox, runProcess, sh, withSandbox, type RunResult, waitForFile } from "../../support/standIns";

const SCRIPTS = readdirSync(join(HOST_SCRIPT_DIR, "standalone")).filter((name) => name.endsWith(".sh")).sort();

function describeRun(result: RunResult): string {
    return `status ${result.status} signal ${result.signal}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
}

/** Every file and link below `dir`, relative to it, sorted. */
function tree(dir: string): string[] {
    if (!existsSync(dir)) return [];
    return readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((entry) => !entry.isDirectory())
        .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
        .sort();
}

/** The scripts' own hidden records: a release's checksum, the data volume's release. */
const RECORDS = [".gitlab-mattermost-sha256", ".gitlab-mattermost-release"];

/** Hidden temporary files the scripts stage beside their targets. */
function leftovers(dir: string): string[] {
    return tree(dir).filter((path) => path.split("/").some((part) => part.startsWith(".") && !RECORDS.includes(part)));
}

describe("shellcheck on the standalone host scripts", () => {
    it("finds the scripts", () => {
        assert.deepEqual(SCRIPTS, ["apply-mattermost-settings.sh", "install-mattermost.sh", "issue-certificate.sh", "setup-mattermost-database.sh", "upgrade-mattermost.sh"]);
    });
    for (const script of SCRIPTS) {
        it(`shellcheck -x ${script} reports nothing`, async () => {
            const result = await runProcess("shellcheck", ["-x", join(HOST_SCRIPT_DIR, "standalone", script)]);
            assert.equal(result.stdout + result.stderr, "", describeRun(result));
        });
    }

    it("every script is strict and takes its traps from host/lib/step-common.sh, which traps every ending", () => {
        const library = readFileSync(join(HOST_SCRIPT_DIR, "lib", "step-common.sh"), "utf8");
        assert.match(library, /^for signal in HUP INT TERM PIPE; do$/m);
        assert.match(library, /^trap end_step EXIT$/m);
        for (const script of SCRIPTS) {
            const text = readFileSync(join(HOST_SCRIPT_DIR, "standalone", script), "utf8");
            assert.match(text, new RegExp(`^set -Eeuo pipefail\nlog\\(\\) \\{ printf '${script.replace(/\.sh$/, "")}: %s\\\\n' "\\$\\*"; \\}\n(#.*\n)+\\. "\\$\\(dirname "\\$\\{BASH_SOURCE\\[0\\]\\}"\\)/\\.\\./lib/step-common\\.sh"$`, "m"), script);
        }
    });

    it("use the paths the renderers write for (hostLayout.ts)", () => {
        const scripts = SCRIPTS.map((name) => readFileSync(join(HOST_SCRIPT_DIR, "standalone", name), "utf8")).join("\n");
        const { environmentFile, unitFile, nginxHttpSite, nginxHttpsSite, acmeWebroot, currentRelease, dataRoot, logDirectory, trustedCaFile, postgresqlDirectory } = STANDALONE_LAYOUT;
        for (const path of [environmentFile, unitFile, nginxHttpSite, nginxHttpsSite, acmeWebroot, currentRelease, dataRoot, logDirectory, trustedCaFile]) {
            assert.ok(scripts.includes(`$root${path}"`) || scripts.includes(`$root${path}\n`), path);
        }
        assert.ok(scripts.includes(`clusters="$data${postgresqlDirectory.slice(dataRoot.length)}"`), "PostgreSQL's clusters below the data root");
        assert.match(readFileSync(join(HOST_SCRIPT_DIR, "standalone", "apply-mattermost-settings.sh"), "utf8"), new RegExp(`ping_url=http://${STANDALONE_LAYOUT.listenAddress.replaceAll(".", "\\.")}/api/v4/system/ping`));
    });

    it("runs as the remote command carries it, with step-common.sh in place of its source line", async () => {
        await withSandbox(async (sandbox) => {
            const command = standaloneCommand("upgrade-mattermost.sh", ["1.2", "enterprise"]);
            const [, , , text, name, ...args] = await shellWords(command);
            assert.equal(name, "upgrade-mattermost.sh");
            const result = await sandbox.run("bash", ["-c", text!, name!, ...args]);
            assert.equal(result.status, 1, describeRun(result));
            assert.equal(result.stderr, "upgrade-mattermost: FAILED (exit status 1): not a version x.y.z: 1.2\n");
        });
    });
});

/** The words a POSIX shell makes of `command` (through bash itself). */
async function shellWords(command: string): Promise<string[]> {
    const result = await runProcess("bash", ["-c", `for word in ${command}; do printf '%s\\0' "$word"; done`]);
    assert.equal(result.status, 0, describeRun(result));
    return result.stdout.split("\0").slice(0, -1);
}

// ---------------------------------------------------------------------------------------------------
/** A release archive as Mattermost publishes it: everything under mattermost/. */
async function releaseArchive(sandbox: Sandbox, name: string): Promise<{ path: string; sha256: string }> {
    sandbox.write(`archive-src/${name}/mattermost/bin/mattermost`, "#!/bin/sh\necho mattermost\n", 0o755);
    sandbox.write(`archive-src/${name}/mattermost/prepackaged_plugins/README`, "plugins\n");
    const path = sandbox.path(`${name}.tar.gz`);
    const result = await runProcess("tar", ["-czf", path, "-C", sandbox.path(`archive-src/${name}`), "mattermost"]);
    assert.equal(result.status, 0, describeRun(result));
    return { path, sha256: createHash("sha256").update(readFileSync(path)).digest("hex") };
}

/** The Ubuntu host's tools for install-mattermost.sh; curl serves `archive`, or stalls if told to. */
function installStandIns(sandbox: Sandbox, archive: string): void {
    // The postgresql package brings server 16 (Ubuntu 24.04) and, as told, no cluster of its own.
    const createclusterConf = sandbox.path("host/etc/postgresql-common/createcluster.d/gitlab-mattermost.conf");
    // apt refuses everything while a killed dpkg run's journal is there, as the real one does.
    sandbox.standIn(
        "apt-get",
        `record_env
if [ -n "$(ls -A ${sh(sandbox.path("var/lib/dpkg/updates"))} 2>/dev/null)" ]; then echo "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem." >&2; exit 100; fi
case " $* " in *" install "*)
    [ ! -e ${sh(createclusterConf)} ] || cp ${sh(createclusterConf)} "$CALL_DIR/createcluster.conf"
    mkdir -p ${sh(sandbox.path("host/usr/lib/postgresql/16/bin"))} ;;
esac`,
    );
    sandbox.standIn("id", 'case "$2" in mattermost) echo 998 ;; postgres) echo 999 ;; *) exit 1 ;; esac');
    sandbox.standIn("systemctl", "exit 0");
    // Clusters registered in /etc/postgresql, as pg_createcluster records them.
    const registered = sandbox.path("host/etc/postgresql");
    sandbox.standIn("pg_lsclusters", `for dir in ${sh(registered)}/*/*; do [ -d "$dir" ] || continue; v=\${dir%/*}; printf '%s main 5432 online postgres %s\n' "\${v##*/}" "$(cat "$dir/data_directory")"; done`);
    sandbox.standIn(
        "pg_createcluster",
        `datadir=$2 major=$3
mkdir -p "$datadir" ${sh(registered)}/"$major"/main
[ -e "$datadir/PG_VERSION" ] || echo "$major" >"$datadir/PG_VERSION"
printf '%s' "$datadir" >${sh(registered)}/"$major"/main/data_directory`,
    );
    sandbox.standIn("getent", `[ -e ${sh(sandbox.path("user-created"))} ]`);
    sandbox.standIn("useradd", `touch ${sh(sandbox.path("user-created"))}`);
    // The mattermost account does not exist here: ownership is recorded, not applied.
    sandbox.standIn("chown", 'case "$*" in *mattermost*) exit 0 ;; esac; exec /bin/chown "$@"');
    sandbox.standIn("install", 'args=(); while [ $# -gt 0 ]; do case "$1" in -o|-g) shift ;; *) args+=("$1") ;; esac; shift; done; exec /usr/bin/install "${args[@]}"');
    sandbox.standIn(
        "curl",
        `while [ $# -gt 0 ]; do case "$1" in -o) out=$2; shift ;; esac; shift; done
if [ -e ${sh(sandbox.path("curl-stalls"))} ]; then touch ${sh(sandbox.path("curl-started"))}; printf partial >"$out"; sleep 30; fi
cp ${sh(archive)} "$out"`,
    );
}

describe("install-mattermost.sh", () => {
    const run = (sandbox: Sandbox, args: string[], env: Record<string, string> = {}) =>
        sandbox.runScript("standalone/install-mattermost.sh", args, { env: { MATTERMOST_HOST_ROOT: sandbox.path("host"), DPKG_ADMINDIR: sandbox.path("var/lib/dpkg"), ...env } });

    it("installs the packages, the user, the directories and the release, and links it on a fresh host", async () => {
        await withSandbox(async (sandbox) => {
            const archive = await releaseArchive(sandbox, "11.7.9");
            installStandIns(sandbox, archive.path);
            sandbox.write("host/etc/nginx/sites-enabled/default", "server {}\n");
            const result = await run(sandbox, ["11.7.9", "enterprise", archive.sha256]);
            assert.equal(result.status, 0, describeRun(result));
            const host = sandbox.path("host");
            assert.deepEqual(sandbox.calls("apt-get").map((call) => call.argv.filter((arg) => !arg.startsWith("-") && !arg.includes("="))), [["update"], ["install", "postgresql", "nginx"]]);
            assert.deepEqual(sandbox.calls("curl")[0]!.argv.at(-1), "https://releases.mattermost.com/11.7.9/mattermost-11.7.9-linux-amd64.tar.gz");
            assert.equal(sandbox.calls("useradd").length, 1);
            assert.equal(readlinkSync(join(host, "opt/mattermost")), "mattermost-11.7.9");
            assert.ok(statSync(join(host, "opt/mattermost/bin/mattermost")).mode & 0o100);
            assert.equal(readFileSync(join(host, "opt/mattermost-11.7.9/.gitlab-mattermost-sha256"), "utf8").trim(), archive.sha256);
            for (const dir of ["data", "plugins", "client-plugins", "config"]) assert.ok(statSync(join(host, "var/opt/mattermost", dir)).isDirectory(), dir);
            assert.ok(statSync(join(host, "var/www/mattermost-acme")).isDirectory());
            assert.equal(existsSync(join(host, "etc/nginx/sites-enabled/default")), false);
            // The release is handed to the mattermost user before it is renamed into place.
            assert.ok(sandbox.calls("chown").some((call) => call.argv[0] === "-R" && call.argv[1] === "mattermost:mattermost" && /\/opt\/\.mattermost-11\.7\.9\.[^/]+\/mattermost$/.test(call.argv[2]!)));
            assert.deepEqual(leftovers(join(host, "opt")), []);
            // PostgreSQL's cluster is made on the data volume, not by the package on the root volume.
            const aptInstall = sandbox.calls("apt-get").find((call) => call.argv.includes("install"))!;
            assert.match(readFileSync(join(aptInstall.dir, "createcluster.conf"), "utf8"), /^create_main_cluster = false$/m, "the package is told before it installs");
            const cluster = join(host, "var/opt/mattermost/postgresql/16/main");
            assert.deepEqual(sandbox.calls("pg_createcluster").map((call) => call.argv), [["--datadir", cluster, "16", "main"]]);
            assert.deepEqual(sandbox.calls("systemctl").map((call) => call.argv.join(" ")), ["enable postgresql.service", "start postgresql@16-main.service"]);
            assert.equal(statSync(join(host, "var/opt/mattermost")).mode & 0o777, 0o755, "PostgreSQL's account reaches its cluster below the data root");
            assert.deepEqual(leftovers(join(host, "etc")), []);
        });
    });

    it("installs the packages with the shared apt options, non-interactively, after finishing a killed dpkg run", async () => {
        await withSandbox(async (sandbox) => {
            const archive = await releaseArchive(sandbox, "11.7.9");
            installStandIns(sandbox, archive.path);
            interruptedDpkg(sandbox, { lockedFor: 1 });
            const result = await run(sandbox, ["11.7.9", "enterprise", archive.sha256], { DPKG_LOCK_POLL_SECONDS: "0.1" });
            assert.equal(result.status, 0, describeRun(result));
            assert.match(result.stdout, /dpkg was interrupted; resuming it with dpkg --configure -a/);
            assert.deepEqual(sandbox.sequence().filter((name) => name === "dpkg" || name === "apt-get"), ["dpkg", "dpkg", "apt-get", "apt-get"]);
            const options = ["-o", "DPkg::Lock::Timeout=900", "-o", "Acquire::Retries=5"];
            assert.deepEqual(sandbox.calls("apt-get").map((call) => call.argv), [[...options, "update", "-q"], [...options, "install", "-y", "-q", "postgresql", "nginx"]]);
            assert.equal(sandbox.calls("apt-get")[1]!.env?.DEBIAN_FRONTEND, "noninteractive");
            assert.equal(readlinkSync(sandbox.path("host/opt/mattermost")), "mattermost-11.7.9");
        });
    });

    it("a killed dpkg run that cannot be finished: FAILED with dpkg's words, no package installed, and a re-run recovers", async () => {
        await withSandbox(async (sandbox) => {
            const archive = await releaseArchive(sandbox, "11.7.9");
            installStandIns(sandbox, archive.path);
            interruptedDpkg(sandbox, { fails: true });
            const result = await run(sandbox, ["11.7.9", "enterprise", archive.sha256]);
            assert.equal(result.status, 1, describeRun(result));
            assert.match(result.stderr, /FAILED \(exit status 1\): dpkg --configure -a failed/);
            assert.match(result.stdout, /post-installation script returned error/);
            assert.deepEqual(sandbox.calls("apt-get"), []);
            interruptedDpkg(sandbox);
            const again = await run(sandbox, ["11.7.9", "enterprise", archive.sha256]);
            assert.equal(again.status, 0, describeRun(again));
            assert.equal(readlinkSync(sandbox.path("host/opt/mattermost")), "mattermost-11.7.9");
        });
    });

    it("a replaced instance takes the data volume's cluster and files as they are", async () => {
        await withSandbox(async (sandbox) => {
            const archive = await releaseArchive(sandbox, "11.7.9");
            installStandIns(sandbox, archive.path);
            // What the earlier instance left on the volume, owned by accounts this host numbers differently.
            sandbox.write("host/var/opt/mattermost/postgresql/16/main/PG_VERSION", "16\n");
            sandbox.write("host/var/opt/mattermost/postgresql/16/main/base/16384/1259", "rows");
            sandbox.write("host/var/opt/mattermost/data/teams/t1/file.png", "picture");
            const result = await run(sandbox, ["11.7.9", "enterprise", archive.sha256]);
            assert.equal(result.status, 0, describeRun(result));
            const host = sandbox.path("host");
            const cluster = join(host, "var/opt/mattermost/postgresql/16/main");
            assert.deepEqual(sandbox.calls("pg_createcluster").map((call) => call.argv), [["--datadir", cluster, "16", "main"]]);
            assert.match(result.stdout, /taking the data volume's PostgreSQL 16 cluster at .* into use/);
            assert.equal(readFileSync(join(cluster, "base/16384/1259"), "utf8"), "rows");
            assert.equal(readFileSync(join(host, "var/opt/mattermost/data/teams/t1/file.png"), "utf8"), "picture");
            const chowns = sandbox.calls("chown").map((call) => call.argv.join(" "));
            assert.ok(chowns.includes(`-R postgres:postgres ${join(host, "var/opt/mattermost/postgresql")}`), chowns.join("\n"));
            assert.ok(chowns.some((call) => call.startsWith("-R mattermost:mattermost ") && call.includes(join(host, "var/opt/mattermost/data"))), chowns.join("\n"));

            // Once configured, a re-run leaves the cluster alone.
            const again = await run(sandbox, ["11.7.9", "enterprise", archive.sha256]);
            assert.equal(again.status, 0, describeRun(again));
            assert.equal(sandbox.calls("pg_createcluster").length, 1);
            assert.match(again.stdout, /PostgreSQL 16's cluster is configured/);
        });
    });

    it("refuses a data volume whose cluster is of another PostgreSQL major version, creating none", async () => {
        await withSandbox(async (sandbox) => {
            const archive = await releaseArchive(sandbox, "11.7.9");
            installStandIns(sandbox, archive.path);
            sandbox.write("host/var/opt/mattermost/postgresql/15/main/PG_VERSION", "15\n");
            const result = await run(sandbox, ["11.7.9", "enterprise", archive.sha256]);
            assert.equal(result.status, 1, describeRun(result));
            assert.match(result.stderr, /FAILED \(exit status 1\): the data volume holds a PostgreSQL 15 cluster .* this host installed PostgreSQL 16: upgrade the cluster/);
            assert.deepEqual(sandbox.calls("pg_createcluster"), []);
            assert.equal(existsSync(sandbox.path("host/var/opt/mattermost/postgresql/16")), false);
        });
    });

    it("is idempotent: a re-run downloads nothing and keeps the link", async () => {
        await withSandbox(async (sandbox) => {
            const archive = await releaseArchive(sandbox, "11.7.9");
            installStandIns(sandbox, archive.path);
            assert.equal((await run(sandbox, ["11.7.9", "enterprise", archive.sha256])).status, 0);
            const again = await run(sandbox, ["11.7.9", "enterprise", archive.sha256]);
            assert.equal(again.status, 0, describeRun(again));
            assert.equal(sandbox.calls("curl").length, 1);
            assert.equal(sandbox.calls("useradd").length, 1);
            assert.match(again.stdout, /already unpacked/);
        });
    });

    it("refuses an archive whose checksum differs, unpacking nothing", async () => {
        await withSandbox(async (sandbox) => {
            const archive = await releaseArchive(sandbox, "11.7.9");
            installStandIns(sandbox, archive.path);
            const wrong = "0".repeat(64);
            const result = await run(sandbox, ["11.7.9", "enterprise", wrong]);
            assert.equal(result.status, 1, describeRun(result));
            assert.match(result.stderr, new RegExp(`FAILED \\(exit status 1\\): the archive's SHA-256 is ${archive.sha256}, not the expected ${wrong}`));
            assert.deepEqual(tree(sandbox.path("host/opt")), []);
        });
    });

    it("stages a newer release beside the one in use and leaves the switch to the upgrade", async () => {
        await withSandbox(async (sandbox) => {
            const old = await releaseArchive(sandbox, "10.11.20");
            installStandIns(sandbox, old.path);
            assert.equal((await run(sandbox, ["10.11.20", "team", old.sha256])).status, 0);
            const next = await releaseArchive(sandbox, "11.7.9");
            installStandIns(sandbox, next.path);
            const result = await run(sandbox, ["11.7.9", "enterprise", next.sha256]);
            assert.equal(result.status, 0, describeRun(result));
            assert.equal(readlinkSync(sandbox.path("host/opt/mattermost")), "mattermost-team-10.11.20");
            assert.ok(existsSync(sandbox.path("host/opt/mattermost-11.7.9/bin/mattermost")));
            assert.match(result.stdout, /upgrade-mattermost\.sh switches it/);
        });
    });

    it("records the release it links on the data volume; a replaced instance on that volume links it again", async () => {
        await withSandbox(async (sandbox) => {
            const archive = await releaseArchive(sandbox, "11.7.9");
            installStandIns(sandbox, archive.path);
            assert.equal((await run(sandbox, ["11.7.9", "enterprise", archive.sha256])).status, 0);
            assert.equal(readFileSync(sandbox.path("host/var/opt/mattermost/.gitlab-mattermost-release"), "utf8"), "mattermost-11.7.9\n");
            // A new instance: a new root volume (no release, no link), the same data volume.
            rmSync(sandbox.path("host/opt"), { recursive: true });
            const replaced = await run(sandbox, ["11.7.9", "enterprise", archive.sha256]);
            assert.equal(replaced.status, 0, describeRun(replaced));
            assert.equal(readlinkSync(sandbox.path("host/opt/mattermost")), "mattermost-11.7.9");
        });
    });

    it("a replaced instance on a data volume another release ran on: unpacks the release but links none, leaving it to the upgrade", async () => {
        await withSandbox(async (sandbox) => {
            const archive = await releaseArchive(sandbox, "11.7.9");
            installStandIns(sandbox, archive.path);
            sandbox.write("host/var/opt/mattermost/postgresql/16/main/PG_VERSION", "16\n");
            sandbox.write("host/var/opt/mattermost/.gitlab-mattermost-release", "mattermost-team-10.11.20\n");
            const result = await run(sandbox, ["11.7.9", "enterprise", archive.sha256]);
            assert.equal(result.status, 0, describeRun(result));
            assert.ok(existsSync(sandbox.path("host/opt/mattermost-11.7.9/bin/mattermost")));
            assert.equal(existsSync(sandbox.path("host/opt/mattermost")), false, "no release linked");
            assert.match(result.stdout, /upgrade-mattermost\.sh backs it up and links mattermost-11\.7\.9/);
            assert.equal(readFileSync(sandbox.path("host/var/opt/mattermost/.gitlab-mattermost-release"), "utf8"), "mattermost-team-10.11.20\n");
        });
    });

    it("refuses bad arguments before touching anything", async () => {
        await withSandbox(async (sandbox) => {
            installStandIns(sandbox, "/dev/null");
            for (const args of [["11.7", "enterprise", "a".repeat(64)], ["11.7.9", "entry", "a".repeat(64)], ["11.7.9", "enterprise", "A".repeat(64)], ["11.7.9"]]) {
                const result = await run(sandbox, args);
                assert.equal(result.status, 1, args.join(" "));
                assert.match(result.stderr, /FAILED \(exit status 1\): /);
            }
            assert.deepEqual(sandbox.sequence(), []);
        });
    });

    for (const signal of ["SIGHUP", "SIGTERM", "SIGINT", "SIGPIPE"] as const) {
        it(`${signal} during the download: FAILED, no partial release or temporary file, and a re-run completes`, async () => {
            await withSandbox(async (sandbox) => {
                const archive = await releaseArchive(sandbox, "11.7.9");
                installStandIns(sandbox, archive.path);
                sandbox.write("curl-stalls", "");
                const running = sandbox.start("standalone/install-mattermost.sh", ["11.7.9", "enterprise", archive.sha256], { env: { MATTERMOST_HOST_ROOT: sandbox.path("host"), DPKG_ADMINDIR: sandbox.path("var/lib/dpkg") } });
                await waitForFile(sandbox.path("curl-started"));
                running.signal(signal);
                const result = await running.done;
                assert.notEqual(result.status, 0, describeRun(result));
                assert.match(result.stderr, new RegExp(`FAILED \\(ended by ${signal}\\)`));
                assert.deepEqual(tree(sandbox.path("host/opt")), []);
                unlinkSync(sandbox.path("curl-stalls"));
                const again = await run(sandbox, ["11.7.9", "enterprise", archive.sha256]);
                assert.equal(again.status, 0, describeRun(again));
                assert.equal(readlinkSync(sandbox.path("host/opt/mattermost")), "mattermost-11.7.9");
            });
        });
    }
});

// ---------------------------------------------------------------------------------------------------
const ENV_V1 = 'MM_SERVICESETTINGS_SITEURL="https://chat.example.com"\nMM_SQLSETTINGS_DATASOURCE="postgres://a"\n';
const ENV_V2 = 'MM_SERVICESETTINGS_SITEURL="https://chat.example.com"\nMM_SQLSETTINGS_DATASOURCE="postgres://b"\n';

/** systemctl, nginx and Mattermost's ping as stand-ins; the ping fails while <sandbox>/ping-fails exists. */
function settingsStandIns(sandbox: Sandbox): void {
    sandbox.standIn("systemctl", "exit 0");
    sandbox.standIn("nginx", `[ ! -e ${sh(sandbox.path("nginx-rejects"))} ] || { echo "nginx: [emerg] unexpected }" >&2; exit 1; }`);
    sandbox.standIn(
        "curl",
        `touch ${sh(sandbox.path("ping-started"))}
[ ! -e ${sh(sandbox.path("ping-stalls"))} ] || sleep 30
[ ! -e ${sh(sandbox.path("ping-fails"))} ] || exit 7`,
    );
}

/** A host where Mattermost is installed: release link, unit and environment file. */
function installedHost(sandbox: Sandbox): void {
    sandbox.write("host/opt/mattermost-11.7.9/bin/mattermost", "#!/bin/sh\n", 0o755);
    symlinkSync("mattermost-11.7.9", sandbox.path("host/opt/mattermost"));
    sandbox.write("host/etc/systemd/system/mattermost.service", "[Service]\nExecStart=/opt/mattermost/bin/mattermost\n");
    sandbox.write("host/etc/mattermost/mattermost.env", ENV_V1, 0o600);
}

describe("apply-mattermost-settings.sh", () => {
    const env = (sandbox: Sandbox) => ({ MATTERMOST_HOST_ROOT: sandbox.path("host"), PING_POLL_SECONDS: "0" });
    const apply = (sandbox: Sandbox, kind: string, input: string, wait = "2") =>
        sandbox.runScript("standalone/apply-mattermost-settings.sh", [kind, wait], { input, env: env(sandbox) });
    const environmentFile = (sandbox: Sandbox) => sandbox.path("host/etc/mattermost/mattermost.env");
    const systemctlCalls = (sandbox: Sandbox) => sandbox.calls("systemctl").map((call) => call.argv.join(" "));

    it("installs the environment file 0600 and leaves Mattermost alone until it is installed", async () => {
        await withSandbox(async (sandbox) => {
            settingsStandIns(sandbox);
            const result = await apply(sandbox, "environment", ENV_V1);
            assert.equal(result.status, 0, describeRun(result));
            assert.equal(readFileSync(environmentFile(sandbox), "utf8"), ENV_V1);
            assert.equal(statSync(environmentFile(sandbox)).mode & 0o777, 0o600);
            assert.deepEqual(systemctlCalls(sandbox), []);
        });
    });

    it("restarts Mattermost on a changed file and waits for its ping; an unchanged file changes nothing", async () => {
        await withSandbox(async (sandbox) => {
            settingsStandIns(sandbox);
            installedHost(sandbox);
            const result = await apply(sandbox, "environment", ENV_V2);
            assert.equal(result.status, 0, describeRun(result));
            assert.equal(readFileSync(environmentFile(sandbox), "utf8"), ENV_V2);
            assert.deepEqual(systemctlCalls(sandbox), ["enable mattermost.service", "restart mattermost.service"]);
            assert.deepEqual(sandbox.sequence().slice(-1), ["curl"]);
            const again = await apply(sandbox, "environment", ENV_V2);
            assert.equal(again.status, 0);
            assert.match(again.stdout, /unchanged/);
            assert.equal(sandbox.calls("systemctl").length, 2);
            assert.deepEqual(leftovers(sandbox.path("host/etc")), []);
        });
    });

    it("reloads systemd for a new unit", async () => {
        await withSandbox(async (sandbox) => {
            settingsStandIns(sandbox);
            installedHost(sandbox);
            const result = await apply(sandbox, "unit", "[Service]\nExecStart=/opt/mattermost/bin/mattermost --config x\n");
            assert.equal(result.status, 0, describeRun(result));
            assert.deepEqual(systemctlCalls(sandbox), ["daemon-reload", "enable mattermost.service", "restart mattermost.service"]);
        });
    });

    it("puts the previous file back and restarts on it when Mattermost does not answer", async () => {
        await withSandbox(async (sandbox) => {
            settingsStandIns(sandbox);
            installedHost(sandbox);
            sandbox.write("ping-fails", "");
            const result = await apply(sandbox, "environment", ENV_V2, "1");
            assert.equal(result.status, 1, describeRun(result));
            assert.match(result.stderr, /FAILED \(exit status 1\): Mattermost did not answer .* within 1s/);
            assert.equal(readFileSync(environmentFile(sandbox), "utf8"), ENV_V1);
            assert.equal(systemctlCalls(sandbox).filter((call) => call === "restart mattermost.service").length, 2);
            assert.deepEqual(leftovers(sandbox.path("host/etc")), []);
        });
    });

    it("refuses an empty or incomplete environment file, keeping the old one", async () => {
        await withSandbox(async (sandbox) => {
            settingsStandIns(sandbox);
            installedHost(sandbox);
            for (const input of ["", 'MM_SERVICESETTINGS_SITEURL="x"\n']) {
                const result = await apply(sandbox, "environment", input);
                assert.equal(result.status, 1, describeRun(result));
                assert.match(result.stderr, /FAILED \(exit status 1\): /);
            }
            assert.equal(readFileSync(environmentFile(sandbox), "utf8"), ENV_V1);
            assert.deepEqual(systemctlCalls(sandbox), []);
            assert.deepEqual(leftovers(sandbox.path("host/etc")), []);
        });
    });

    it("nginx: checks with nginx -t, then reloads; a rejected file is taken back out", async () => {
        await withSandbox(async (sandbox) => {
            settingsStandIns(sandbox);
            const site = sandbox.path("host/etc/nginx/conf.d/mattermost-https.conf");
            const ok = await apply(sandbox, "nginx-https", "server {\n}\n");
            assert.equal(ok.status, 0, describeRun(ok));
            assert.deepEqual(sandbox.calls("nginx").map((call) => call.argv), [["-t", "-q"]]);
            assert.deepEqual(systemctlCalls(sandbox), ["reload-or-restart nginx.service"]);
            sandbox.write("nginx-rejects", "");
            const rejected = await apply(sandbox, "nginx-https", "server {\n listen 443 ssl;\n}\n");
            assert.equal(rejected.status, 1, describeRun(rejected));
            assert.match(rejected.stderr, /FAILED \(exit status 1\): nginx -t rejects the configuration/);
            assert.equal(readFileSync(site, "utf8"), "server {\n}\n");
            const fresh = await apply(sandbox, "nginx-http", "server {\n}\n");
            assert.equal(fresh.status, 1);
            assert.equal(existsSync(sandbox.path("host/etc/nginx/conf.d/mattermost-http.conf")), false);
            assert.deepEqual(leftovers(sandbox.path("host/etc")), []);
        });
    });

    it("trusted-ca: checks the certificate, updates the trust store and restarts Mattermost", async () => {
        await withSandbox(async (sandbox) => {
            settingsStandIns(sandbox);
            installedHost(sandbox);
            sandbox.standIn("update-ca-certificates", "exit 0");
            const pki = new TestPki();
            try {
                const ca = pki.rootCa("stack-ca");
                const result = await apply(sandbox, "trusted-ca", ca.certificate);
                assert.equal(result.status, 0, describeRun(result));
                assert.equal(readFileSync(sandbox.path("host/usr/local/share/ca-certificates/gitlab-mattermost-ca.crt"), "utf8"), ca.certificate);
                assert.deepEqual(sandbox.sequence(), ["update-ca-certificates", "systemctl", "systemctl", "curl"]);
                const broken = await apply(sandbox, "trusted-ca", "not a certificate\n");
                assert.equal(broken.status, 1);
                assert.match(broken.stderr, /FAILED \(exit status 1\): the trusted CA is not a PEM certificate/);
                assert.equal(readFileSync(sandbox.path("host/usr/local/share/ca-certificates/gitlab-mattermost-ca.crt"), "utf8"), ca.certificate);
            } finally {
                pki.dispose();
            }
        });
    });

    for (const signal of ["SIGTERM", "SIGHUP"] as const) {
        it(`${signal} while waiting for Mattermost: the previous file is back, Mattermost restarted on it, FAILED`, async () => {
            await withSandbox(async (sandbox) => {
                settingsStandIns(sandbox);
                installedHost(sandbox);
                sandbox.write("ping-stalls", "");
                const running = sandbox.start("standalone/apply-mattermost-settings.sh", ["environment", "60"], { input: ENV_V2, env: env(sandbox) });
                await waitForFile(sandbox.path("ping-started"));
                unlinkSync(sandbox.path("ping-stalls"));
                running.signal(signal);
                const result = await running.done;
                assert.notEqual(result.status, 0, describeRun(result));
                assert.match(result.stderr, new RegExp(`FAILED \\(ended by ${signal}\\)`));
                assert.equal(readFileSync(environmentFile(sandbox), "utf8"), ENV_V1);
                assert.deepEqual(systemctlCalls(sandbox).slice(-1), ["restart mattermost.service"]);
                assert.deepEqual(leftovers(sandbox.path("host/etc")), []);
            });
        });
    }
});

// ---------------------------------------------------------------------------------------------------
describe("upgrade-mattermost.sh", () => {
    const env = (sandbox: Sandbox) => ({ MATTERMOST_HOST_ROOT: sandbox.path("host"), PING_POLL_SECONDS: "0" });
    const link = (sandbox: Sandbox) => readlinkSync(sandbox.path("host/opt/mattermost"));

    /** Both releases unpacked, `running` linked, and a backup tool that succeeds unless told not to. */
    function upgradeHost(sandbox: Sandbox, running = "mattermost-team-10.11.20"): void {
        settingsStandIns(sandbox);
        installedHost(sandbox);
        sandbox.write("host/opt/mattermost-team-10.11.20/bin/mattermost", "#!/bin/sh\n", 0o755);
        unlinkSync(sandbox.path("host/opt/mattermost"));
        symlinkSync(running, sandbox.path("host/opt/mattermost"));
        sandbox.standIn("mattermost-backup", `record_env
[ ! -e ${sh(sandbox.path("backup-fails"))} ] || exit 1`);
        mkdirSync(sandbox.path("host/var/opt/mattermost"), { recursive: true });
    }

    it("backs up, then switches the link and restarts; a re-run changes nothing", async () => {
        await withSandbox(async (sandbox) => {
            upgradeHost(sandbox);
            const result = await sandbox.runScript("standalone/upgrade-mattermost.sh", ["11.7.9", "enterprise", "5"], { env: env(sandbox) });
            assert.equal(result.status, 0, describeRun(result));
            assert.equal(link(sandbox), "mattermost-11.7.9");
            assert.deepEqual(sandbox.sequence(), ["mattermost-backup", "systemctl", "curl"]);
            assert.deepEqual(sandbox.calls("systemctl").map((call) => call.argv.join(" ")), ["restart mattermost.service"]);
            assert.ok(lstatSync(sandbox.path("host/opt/mattermost")).isSymbolicLink());
            const again = await sandbox.runScript("standalone/upgrade-mattermost.sh", ["11.7.9", "enterprise"], { env: env(sandbox) });
            assert.equal(again.status, 0);
            assert.equal(sandbox.sequence().length, 3);
            assert.deepEqual(leftovers(sandbox.path("host/opt")), []);
        });
    });

    it("records the release it switched to on the data volume", async () => {
        await withSandbox(async (sandbox) => {
            upgradeHost(sandbox);
            const result = await sandbox.runScript("standalone/upgrade-mattermost.sh", ["11.7.9", "enterprise", "5"], { env: env(sandbox) });
            assert.equal(result.status, 0, describeRun(result));
            assert.equal(readFileSync(sandbox.path("host/var/opt/mattermost/.gitlab-mattermost-release"), "utf8"), "mattermost-11.7.9\n");
            assert.deepEqual(leftovers(sandbox.path("host/var")), []);
        });
    });

    /** A replaced instance: the new release unpacked, no link, and the data volume's record of what ran on it. */
    function replacedHost(sandbox: Sandbox, record: string | undefined): void {
        upgradeHost(sandbox);
        unlinkSync(sandbox.path("host/opt/mattermost"));
        if (record) sandbox.write("host/var/opt/mattermost/.gitlab-mattermost-release", record);
    }

    for (const record of ["mattermost-team-10.11.20\n", undefined]) {
        it(`a replaced instance with no link (${record ? "volume records an older release" : "volume records none"}) and its environment file: backs up, then links and starts the release`, async () => {
            await withSandbox(async (sandbox) => {
                replacedHost(sandbox, record);
                const result = await sandbox.runScript("standalone/upgrade-mattermost.sh", ["11.7.9", "enterprise", "5"], { env: env(sandbox) });
                assert.equal(result.status, 0, describeRun(result));
                assert.deepEqual(sandbox.sequence(), ["mattermost-backup", "systemctl", "curl"]);
                assert.equal(link(sandbox), "mattermost-11.7.9");
                assert.equal(readFileSync(sandbox.path("host/var/opt/mattermost/.gitlab-mattermost-release"), "utf8"), "mattermost-11.7.9\n");
            });
        });
    }

    it("a replaced instance before its settings step: backs up without the environment file, links and records the release, and leaves the start to that step", async () => {
        await withSandbox(async (sandbox) => {
            replacedHost(sandbox, "mattermost-team-10.11.20\n");
            unlinkSync(sandbox.path("host/etc/mattermost/mattermost.env"));
            const result = await sandbox.runScript("standalone/upgrade-mattermost.sh", ["11.7.9", "enterprise", "5"], { env: env(sandbox) });
            assert.equal(result.status, 0, describeRun(result));
            assert.deepEqual(sandbox.sequence(), ["mattermost-backup"], "Mattermost is not started without its environment file");
            assert.equal(sandbox.calls("mattermost-backup")[0]!.env!.BACKUP_ETC_MAY_BE_ABSENT, "yes");
            assert.equal(link(sandbox), "mattermost-11.7.9");
            assert.equal(readFileSync(sandbox.path("host/var/opt/mattermost/.gitlab-mattermost-release"), "utf8"), "mattermost-11.7.9\n");
            assert.match(result.stdout, /Mattermost starts once the settings step has installed .*\/etc\/mattermost\/mattermost\.env/);
            // The settings step that follows installs the file and starts the new release.
            const settings = await sandbox.runScript("standalone/apply-mattermost-settings.sh", ["environment", "5"], { input: ENV_V1, env: env(sandbox) });
            assert.equal(settings.status, 0, describeRun(settings));
            assert.deepEqual(sandbox.calls("systemctl").map((call) => call.argv.join(" ")), ["enable mattermost.service", "restart mattermost.service"]);
            assert.equal(sandbox.calls("curl").length, 1, "it waits for the ping");
        });
    });

    it("an instance that is not replaced backs up with its environment file, as every scheduled backup does", async () => {
        await withSandbox(async (sandbox) => {
            upgradeHost(sandbox);
            const result = await sandbox.runScript("standalone/upgrade-mattermost.sh", ["11.7.9", "enterprise", "5"], { env: env(sandbox) });
            assert.equal(result.status, 0, describeRun(result));
            assert.equal(sandbox.calls("mattermost-backup")[0]!.env!.BACKUP_ETC_MAY_BE_ABSENT, "no");
        });
    });

    it("a replaced instance with no link: a failed backup links nothing; a release that does not answer is unlinked and stopped", async () => {
        await withSandbox(async (sandbox) => {
            replacedHost(sandbox, "mattermost-team-10.11.20\n");
            sandbox.write("backup-fails", "");
            const noBackup = await sandbox.runScript("standalone/upgrade-mattermost.sh", ["11.7.9", "enterprise", "1"], { env: env(sandbox) });
            assert.equal(noBackup.status, 1, describeRun(noBackup));
            assert.match(noBackup.stderr, /the backup before the upgrade failed; nothing was changed/);
            assert.equal(existsSync(sandbox.path("host/opt/mattermost")), false);
            unlinkSync(sandbox.path("backup-fails"));
            sandbox.write("ping-fails", "");
            const noAnswer = await sandbox.runScript("standalone/upgrade-mattermost.sh", ["11.7.9", "enterprise", "1"], { env: env(sandbox) });
            assert.equal(noAnswer.status, 1, describeRun(noAnswer));
            assert.equal(existsSync(sandbox.path("host/opt/mattermost")), false, "the link is taken away again");
            assert.deepEqual(sandbox.calls("systemctl").map((call) => call.argv.join(" ")), ["restart mattermost.service", "stop mattermost.service"]);
            assert.equal(readFileSync(sandbox.path("host/var/opt/mattermost/.gitlab-mattermost-release"), "utf8"), "mattermost-team-10.11.20\n");
        });
    });

    it("a replaced instance with no link refuses a release older than the one the volume records", async () => {
        await withSandbox(async (sandbox) => {
            replacedHost(sandbox, "mattermost-11.8.0\n");
            const result = await sandbox.runScript("standalone/upgrade-mattermost.sh", ["11.7.9", "enterprise", "1"], { env: env(sandbox) });
            assert.equal(result.status, 1, describeRun(result));
            assert.match(result.stderr, /mattermost-11\.7\.9 is older than mattermost-11\.8\.0/);
            assert.deepEqual(sandbox.sequence(), []);
        });
    });

    it("switches back and restarts the previous release when the new one does not answer", async () => {
        await withSandbox(async (sandbox) => {
            upgradeHost(sandbox);
            sandbox.write("ping-fails", "");
            const result = await sandbox.runScript("standalone/upgrade-mattermost.sh", ["11.7.9", "enterprise", "1"], { env: env(sandbox) });
            assert.equal(result.status, 1, describeRun(result));
            assert.match(result.stderr, /FAILED \(exit status 1\): Mattermost 11\.7\.9 did not answer/);
            assert.match(result.stderr, /restore the backup/);
            assert.equal(link(sandbox), "mattermost-team-10.11.20");
            assert.equal(sandbox.calls("systemctl").length, 2);
        });
    });

    it("changes nothing when the backup fails", async () => {
        await withSandbox(async (sandbox) => {
            upgradeHost(sandbox);
            sandbox.write("backup-fails", "");
            const result = await sandbox.runScript("standalone/upgrade-mattermost.sh", ["11.7.9", "enterprise"], { env: env(sandbox) });
            assert.equal(result.status, 1, describeRun(result));
            assert.match(result.stderr, /FAILED \(exit status 1\): the backup before the upgrade failed; nothing was changed/);
            assert.equal(link(sandbox), "mattermost-team-10.11.20");
            assert.deepEqual(sandbox.calls("systemctl"), []);
        });
    });

    it("refuses a downgrade and a release that is not unpacked", async () => {
        await withSandbox(async (sandbox) => {
            upgradeHost(sandbox, "mattermost-11.7.9");
            const down = await sandbox.runScript("standalone/upgrade-mattermost.sh", ["10.11.20", "team"], { env: env(sandbox) });
            assert.equal(down.status, 1, describeRun(down));
            assert.match(down.stderr, /FAILED \(exit status 1\): .*does not support downgrades/);
            const missing = await sandbox.runScript("standalone/upgrade-mattermost.sh", ["11.10.0", "enterprise"], { env: env(sandbox) });
            assert.equal(missing.status, 1);
            assert.match(missing.stderr, /not unpacked; run install-mattermost\.sh 11\.10\.0 enterprise/);
            assert.equal(link(sandbox), "mattermost-11.7.9");
            assert.deepEqual(sandbox.sequence(), []);
        });
    });

    for (const signal of ["SIGTERM", "SIGHUP", "SIGINT"] as const) {
        it(`${signal} after the switch: the link goes back, Mattermost restarts on the previous release, FAILED`, async () => {
            await withSandbox(async (sandbox) => {
                upgradeHost(sandbox);
                sandbox.write("ping-stalls", "");
                const running = sandbox.start("standalone/upgrade-mattermost.sh", ["11.7.9", "enterprise", "60"], { env: env(sandbox) });
                await waitForFile(sandbox.path("ping-started"));
                running.signal(signal);
                const result = await running.done;
                assert.notEqual(result.status, 0, describeRun(result));
                assert.match(result.stderr, new RegExp(`FAILED \\(ended by ${signal}\\)`));
                assert.equal(link(sandbox), "mattermost-team-10.11.20");
                assert.deepEqual(sandbox.calls("systemctl").map((call) => call.argv.join(" ")), ["restart mattermost.service", "restart mattermost.service"]);
                assert.deepEqual(leftovers(sandbox.path("host/opt")), []);
            });
        });
    }
});

// ---------------------------------------------------------------------------------------------------
describe("issue-certificate.sh", () => {
    const env = (sandbox: Sandbox) => ({ MATTERMOST_HOST_ROOT: sandbox.path("host") });

    it("gets the certificate through the webroot, installs the nginx reload hook and enables certbot's timer", async () => {
        await withSandbox(async (sandbox) => {
            sandbox.standIn("certbot", "exit 0");
            sandbox.standIn("systemctl", "exit 0");
            sandbox.standIn("apt-get", "exit 0");
            const result = await sandbox.runScript("standalone/issue-certificate.sh", ["chat.example.com", "ops@example.com"], { env: env(sandbox) });
            assert.equal(result.status, 0, describeRun(result));
            assert.deepEqual(sandbox.calls("apt-get"), [], "certbot is already there");
            assert.deepEqual(sandbox.calls("certbot")[0]!.argv, [
                "certonly", "--non-interactive", "--agree-tos", "--email", "ops@example.com",
                "--webroot", "--webroot-path", sandbox.path("host/var/www/mattermost-acme"),
                "--domain", "chat.example.com", "--cert-name", "chat.example.com", "--keep-until-expiring",
            ]);
            const hook = sandbox.path("host/etc/letsencrypt/renewal-hooks/deploy/reload-nginx");
            assert.match(readFileSync(hook, "utf8"), /^exec systemctl reload nginx\.service$/m);
            assert.equal(statSync(hook).mode & 0o777, 0o755);
            assert.deepEqual(sandbox.calls("systemctl").map((call) => call.argv.join(" ")), ["enable --now certbot.timer"]);
            assert.deepEqual(leftovers(sandbox.path("host/etc")), []);
        });
    });

    it("registers without an e-mail when none is given, and says FAILED when certbot fails", async () => {
        await withSandbox(async (sandbox) => {
            sandbox.standIn("certbot", "exit 1");
            sandbox.standIn("systemctl", "exit 0");
            const result = await sandbox.runScript("standalone/issue-certificate.sh", ["chat.example.com"], { env: env(sandbox) });
            assert.equal(result.status, 1, describeRun(result));
            assert.ok(sandbox.calls("certbot")[0]!.argv.includes("--register-unsafely-without-email"));
            assert.match(result.stderr, /FAILED \(exit status 1\): .*certbot/);
            assert.deepEqual(sandbox.calls("systemctl"), []);
        });
    });
});
