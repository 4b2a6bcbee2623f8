// Tests for the scripts in host/ and for the command strings components/omnibus/hostScripts.ts builds.
// The scripts run for real (`bash host/<script>`) in a temp sandbox. The tools that only exist on a
// GitLab host are RECORDING STAND-INS (test/support/standIns.ts): gitlab-ctl, Omnibus's embedded ruby
// (delegating to the real /usr/bin/ruby, so syntax checks are real), apt-get, apt-mark, dpkg-query,
// cloud-init, curl, gpg, getent and gitlab-rails (running the real ruby on a fake Doorkeeper,
// test/support/fake_doorkeeper.rb). The tests assert on what the scripts asked of them.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { basename, join, relative } from "node:path";
import { describe, test } from "node:test";
import fc from "fast-check";
import { HOST_SCRIPTS, HOST_SCRIPT_DIR, hostCommand, hostFile, scriptOfCommand, shellQuote, type HostScript } from "../../components/omnibus/hostScripts";
import { interruptedDpkg } from "../support/dpkg";
import { filesIn, runProcess, sh, signalWhenReady, type RunResult, type Sandbox, type SignalTarget, type StandInCall, withSandbox } from "../support/standIns";

const shellScriptsIn = (dir: string) =>
    existsSync(dir)
        ? readdirSync(dir)
              .filter((name) => name.endsWith(".sh"))
              .sort()
              .map((name) => join(dir, name))
        : [];

/** The scripts remote steps run (host/*.sh). */
const SHELL_SCRIPTS = shellScriptsIn(HOST_SCRIPT_DIR).map((path) => basename(path));

/** Every shell script of the project: remote steps, tools installed on hosts, set-up and CI. */
const REPOSITORY = join(HOST_SCRIPT_DIR, "..");
const SHELLCHECKED = [
    ...shellScriptsIn(HOST_SCRIPT_DIR),
    ...shellScriptsIn(join(HOST_SCRIPT_DIR, "lib")),
    ...shellScriptsIn(join(HOST_SCRIPT_DIR, "tools")),
    ...shellScriptsIn(join(REPOSITORY, "scripts")),
    join(REPOSITORY, ".ci", "run"),
].map((path) => relative(REPOSITORY, path));

function mode(file: string): number {
    return statSync(file).mode & 0o777;
}

/** The value that follows `flag` in an argv, e.g. the word after `--resolve`. */
function valueAfter(argv: readonly string[], flag: string): string | undefined {
    const index = argv.indexOf(flag);
    return index >= 0 ? argv[index + 1] : undefined;
}

function argvs(calls: readonly StandInCall[]): string[][] {
    return calls.map((call) => call.argv);
}

/** Shows the script's output when an assertion about its exit status fails. */
function describeRun(result: RunResult): string {
    return `status ${result.status}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;
}

// ---------------------------------------------------------------------------------------------------
describe("shellcheck on every shell script", () => {
    test("there are shell scripts to check", () => {
        assert.ok(SHELL_SCRIPTS.length > 0, `no *.sh in ${HOST_SCRIPT_DIR}`);
        assert.ok(SHELLCHECKED.includes("host/apply-gitlab-rb.sh"));
        assert.ok(SHELLCHECKED.includes(".ci/run"));
    });

    for (const script of SHELLCHECKED) {
        test(`shellcheck -x ${script} reports nothing`, async () => {
            const result = await runProcess("shellcheck", ["-x", script], { cwd: REPOSITORY });
            assert.equal(result.stdout + result.stderr, "", `shellcheck reported on ${script}`);
            assert.equal(result.status, 0, describeRun(result));
        });
    }
});

// ---------------------------------------------------------------------------------------------------
describe("apply-gitlab-rb.sh", () => {
    const OLD = "external_url 'https://old.example.com'\n";
    const NEW = "external_url 'https://gitlab.example.com'\nmattermost_external_url 'https://mm.example.com'\n";
    const BROKEN = "external_url 'https://gitlab.example.com\nmattermost['enable'] = true\n";

    /** Omnibus's layout with a ruby stand-in (real ruby underneath) and a gitlab-ctl stand-in. */
    function omnibus(sandbox: Sandbox, options: { reconfigureFailsOn?: number[]; existing?: string; reconfigureSeconds?: number } = {}) {
        const etc = sandbox.path("etc/gitlab");
        const opt = sandbox.path("opt/gitlab");
        const railsEtc = sandbox.path("var/opt/gitlab/gitlab-rails/etc");
        const mattermostEnv = sandbox.path("opt/gitlab/etc/mattermost/env");
        mkdirSync(etc, { recursive: true });
        if (options.existing !== undefined) {
            writeFileSync(join(etc, "gitlab.rb"), options.existing, { mode: 0o600 });
        }
        // Stand-in for chown: records the ownership asked for, so the tests also run without root.
        sandbox.standIn("chown", `:`);
        // Stand-in for Omnibus's embedded ruby: the real ruby, so `ruby -c` really checks the syntax.
        sandbox.standIn("embedded-ruby", `exec /usr/bin/ruby "$@"`, join(opt, "embedded/bin/ruby"));
        // Stand-in for gitlab-ctl: keeps the gitlab.rb it saw, prints a log, fails on the listed calls.
        const failOn = (options.reconfigureFailsOn ?? []).join(" ");
        sandbox.standIn("gitlab-ctl", `
cp ${sh(join(etc, "gitlab.rb"))} "$CALL_DIR/gitlab.rb.seen" 2>/dev/null || true
echo "stand-in reconfigure $CALL_NUMBER: Recipe: gitlab::default"
case " ${failOn} " in
*" $CALL_NUMBER "*)
    echo "stand-in reconfigure $CALL_NUMBER: Error executing action run on resource 'execute[migrate]'" >&2
    exit 1
    ;;
esac
sleep ${options.reconfigureSeconds ?? 0}
# Renders what Omnibus renders with the SMTP password, with Omnibus's modes.
mkdir -p ${sh(railsEtc)} ${sh(mattermostEnv)}
chmod 0755 ${sh(mattermostEnv)}
printf 'production:\n' >${sh(join(railsEtc, "gitlab.yml"))}
chmod 0640 ${sh(join(railsEtc, "gitlab.yml"))}
printf 'password: "smtp-secret"\n' >${sh(join(railsEtc, "smtp_settings.rb"))}
printf 'smtp-secret' >${sh(join(mattermostEnv, "MM_EMAILSETTINGS_SMTPPASSWORD"))}
chmod 0644 ${sh(join(railsEtc, "smtp_settings.rb"))} ${sh(join(mattermostEnv, "MM_EMAILSETTINGS_SMTPPASSWORD"))}
echo "stand-in reconfigure $CALL_NUMBER: Chef Infra Client finished"`, join(opt, "bin/gitlab-ctl"));
        const env = {
            GITLAB_ETC_DIR: etc,
            OMNIBUS_DIR: opt,
            GITLAB_MATTERMOST_LOG_DIR: sandbox.path("log/gitlab-mattermost"),
            GITLAB_RAILS_ETC_DIR: railsEtc,
            MATTERMOST_ENV_DIR: mattermostEnv,
        };
        return {
            etc,
            railsEtc,
            mattermostEnv,
            target: join(etc, "gitlab.rb"),
            previous: join(etc, "gitlab.rb.previous"),
            apply: (input: string, extraEnv: Record<string, string> = {}) => sandbox.runScript("apply-gitlab-rb.sh", [], { env: { ...env, ...extraEnv }, input }),
        };
    }

    test("a valid file replaces gitlab.rb (0600), keeps the old one as gitlab.rb.previous and reconfigures once", () =>
        withSandbox(async (sandbox) => {
            const host = omnibus(sandbox, { existing: OLD });
            const result = await host.apply(NEW);
            assert.equal(result.status, 0, describeRun(result));
            assert.equal(readFileSync(host.target, "utf8"), NEW);
            assert.equal(mode(host.target), 0o600);
            assert.equal(readFileSync(host.previous, "utf8"), OLD);

            const reconfigures = sandbox.calls("gitlab-ctl");
            assert.deepEqual(argvs(reconfigures), [["reconfigure"]]);
            assert.equal(readFileSync(join(reconfigures[0]!.dir, "gitlab.rb.seen"), "utf8"), NEW, "reconfigure ran on the new file");
            // The syntax check went through Omnibus's ruby, on a staged copy, not on gitlab.rb itself.
            const checks = argvs(sandbox.calls("embedded-ruby"));
            assert.equal(checks.length, 1);
            assert.equal(checks[0]![0], "-c");
            assert.notEqual(checks[0]![1], host.target);
            // root owns the file: asked of the staged copy, before it was renamed into place.
            assert.deepEqual(argvs(sandbox.calls("chown"))[0], ["0:0", checks[0]![1]!]);
            assert.ok(sandbox.sequence().indexOf("chown") < sandbox.sequence().indexOf("gitlab-ctl"));
            assert.deepEqual(filesIn(host.etc), ["gitlab.rb", "gitlab.rb.previous"], "no temporary file is left");
            assert.match(readFileSync(sandbox.path("log/gitlab-mattermost/reconfigure.log"), "utf8"), /Chef Infra Client finished/);
        }));

    test("the first file on a host (no gitlab.rb yet) is installed without a previous copy", () =>
        withSandbox(async (sandbox) => {
            const host = omnibus(sandbox);
            const result = await host.apply(NEW);
            assert.equal(result.status, 0, describeRun(result));
            assert.equal(readFileSync(host.target, "utf8"), NEW);
            assert.equal(mode(host.target), 0o600);
            assert.deepEqual(filesIn(host.etc), ["gitlab.rb"]);
            assert.equal(sandbox.calls("gitlab-ctl").length, 1);
        }));

    test("a file with a Ruby syntax error is refused: gitlab.rb untouched, no previous, no reconfigure", () =>
        withSandbox(async (sandbox) => {
            const host = omnibus(sandbox, { existing: OLD });
            const result = await host.apply(BROKEN);
            assert.notEqual(result.status, 0, describeRun(result));
            assert.match(result.stderr, /does not parse/);
            assert.equal(sandbox.calls("embedded-ruby").length, 1, "the syntax check ran");
            assert.equal(readFileSync(host.target, "utf8"), OLD);
            assert.equal(mode(host.target), 0o600);
            assert.equal(existsSync(host.previous), false);
            assert.equal(sandbox.calls("gitlab-ctl").length, 0);
            assert.deepEqual(filesIn(host.etc), ["gitlab.rb"], "no temporary file is left");
        }));

    test("empty stdin is refused the same way", () =>
        withSandbox(async (sandbox) => {
            const host = omnibus(sandbox, { existing: OLD });
            const result = await host.apply("");
            assert.notEqual(result.status, 0, describeRun(result));
            assert.match(result.stderr, /empty/);
            assert.equal(readFileSync(host.target, "utf8"), OLD);
            assert.equal(existsSync(host.previous), false);
            assert.equal(sandbox.calls("gitlab-ctl").length, 0);
            assert.deepEqual(filesIn(host.etc), ["gitlab.rb"], "no temporary file is left");
        }));

    test("re-applying identical content keeps the older gitlab.rb.previous and still reconfigures", () =>
        withSandbox(async (sandbox) => {
            const host = omnibus(sandbox, { existing: OLD });
            for (const run of [1, 2]) {
                const result = await host.apply(NEW);
                assert.equal(result.status, 0, `run ${run}: ${describeRun(result)}`);
            }
            assert.equal(readFileSync(host.target, "utf8"), NEW);
            assert.equal(readFileSync(host.previous, "utf8"), OLD, "previous still holds the older content");
            assert.deepEqual(argvs(sandbox.calls("gitlab-ctl")), [["reconfigure"], ["reconfigure"]]);
            assert.deepEqual(filesIn(host.etc), ["gitlab.rb", "gitlab.rb.previous"]);
        }));

    test("a re-run after a failed reconfigure reconfigures again and keeps the older previous", () =>
        withSandbox(async (sandbox) => {
            const host = omnibus(sandbox, { existing: OLD, reconfigureFailsOn: [1, 2] });
            const failed = await host.apply(NEW);
            assert.notEqual(failed.status, 0, describeRun(failed));
            const rerun = await host.apply(NEW);
            assert.equal(rerun.status, 0, describeRun(rerun));
            assert.equal(sandbox.calls("gitlab-ctl").length, 3);
            assert.equal(readFileSync(host.previous, "utf8"), OLD);
        }));

    test("reconfigure failing twice: non-zero exit, the log's tail and the rollback hint", () =>
        withSandbox(async (sandbox) => {
            const host = omnibus(sandbox, { existing: OLD, reconfigureFailsOn: [1, 2] });
            const result = await host.apply(NEW);
            assert.notEqual(result.status, 0, describeRun(result));
            assert.deepEqual(argvs(sandbox.calls("gitlab-ctl")), [["reconfigure"], ["reconfigure"]]);
            // The tail of the last attempt's log.
            assert.match(result.stderr, /stand-in reconfigure 2: Recipe: gitlab::default/);
            assert.match(result.stderr, /stand-in reconfigure 2: Error executing action run/);
            assert.ok(
                result.stderr.includes(`to go back: cp -p ${host.previous} ${host.target} && gitlab-ctl reconfigure`),
                result.stderr,
            );
            assert.equal(readFileSync(host.previous, "utf8"), OLD);
        }));

    test("after the reconfigure, the files Omnibus renders with the SMTP password are readable only by their readers", () =>
        withSandbox(async (sandbox) => {
            const host = omnibus(sandbox, { existing: OLD });
            const result = await host.apply(NEW);
            assert.equal(result.status, 0, describeRun(result));
            const smtp = join(host.railsEtc, "smtp_settings.rb");
            assert.equal(mode(smtp), 0o640, "smtp_settings.rb gets gitlab.yml's mode");
            assert.deepEqual(argvs(sandbox.calls("chown")).at(-1), [`--reference=${join(host.railsEtc, "gitlab.yml")}`, smtp], "and its owner and group");
            assert.equal(mode(host.mattermostEnv), 0o700);
            assert.equal(mode(join(host.mattermostEnv, "MM_EMAILSETTINGS_SMTPPASSWORD")), 0o600);
        }));

    test("a long reconfigure prints what it waits for and for how long, every PROGRESS_INTERVAL_SECONDS", () =>
        withSandbox(async (sandbox) => {
            const host = omnibus(sandbox, { existing: OLD, reconfigureSeconds: 1.2 });
            const result = await host.apply(NEW, { PROGRESS_INTERVAL_SECONDS: "0.3" });
            assert.equal(result.status, 0, describeRun(result));
            const progress = result.stdout.split("\n").filter((line) => line.includes("still waiting"));
            assert.ok(progress.length >= 2, `expected progress lines:\n${result.stdout}`);
            assert.match(progress.at(-1)!, /^apply-gitlab-rb: still waiting for gitlab-ctl reconfigure \(attempt 1, output in .*reconfigure\.log\): \d+s so far$/);
            assert.ok(result.stdout.indexOf("still waiting") < result.stdout.indexOf("reconfigured (attempt 1)"), "progress after the end");
            assert.doesNotMatch(result.stdout.slice(result.stdout.indexOf("reconfigured (attempt 1)")), /still waiting/, "the reporter outlived the reconfigure");
        }));

    test("reconfigure failing once then succeeding: exit 0 after two calls", () =>
        withSandbox(async (sandbox) => {
            const host = omnibus(sandbox, { existing: OLD, reconfigureFailsOn: [1] });
            const result = await host.apply(NEW);
            assert.equal(result.status, 0, describeRun(result));
            assert.equal(sandbox.calls("gitlab-ctl").length, 2);
            assert.match(result.stdout, /reconfigured \(attempt 2\)/);
        }));
});

// ---------------------------------------------------------------------------------------------------
describe("install-omnibus.sh", () => {
    const FPR = "F6403F6544A38863DAA0B6E03F01618A51312F3F";
    const OTHER_FPR = "0123456789ABCDEF0123456789ABCDEF01234567";
    const REPO = "https://packages.example.test/gitlab";
    const KEY_URL = "https://packages.example.test/gpgkey/gpg.key";
    const ARGS = ["ee", "18.11.11", "noble", REPO, KEY_URL, FPR];
    const WANTED = "18.11.11-ee.0";

    function fakeKey(fingerprint: string): string {
        return `-----BEGIN PGP PUBLIC KEY BLOCK-----\nstand-in key ${fingerprint}\n-----END PGP PUBLIC KEY BLOCK-----\n`;
    }

    /** A host with stand-ins for cloud-init, dpkg-query, apt-get, apt-mark, curl and gpg. */
    /** `installed`: a version (fully installed), or `status|version` as dpkg-query reports it. */
    function ubuntu(sandbox: Sandbox, options: { installed?: string; installedPackage?: string; servedFingerprint?: string; extraKey?: string } = {}) {
        const apt = sandbox.path("etc/apt");
        const etc = sandbox.path("etc/gitlab");
        const keyring = join(apt, "keyrings/gitlab-ee.asc");
        const list = join(apt, "sources.list.d/gitlab_gitlab-ee.list");
        const key = fakeKey(options.servedFingerprint ?? FPR);

        sandbox.standIn("cloud-init", `echo "status: done"`);
        // dpkg-query knows one package: gitlab-ee, or the package named in `installedPackage`.
        const known = options.installedPackage ?? "gitlab-ee";
        sandbox.standIn(
            "dpkg-query",
            options.installed === undefined
                ? `echo "dpkg-query: no packages found matching \${!#}" >&2; exit 1`
                : `if [ "\${!#}" != ${sh(known)} ]; then echo "dpkg-query: no packages found matching \${!#}" >&2; exit 1; fi
printf '%s' ${sh(options.installed.includes("|") ? options.installed : `ii |${options.installed}`)}`,
        );
        // apt-get records its environment and whether the keyring and gitlab.rb were in place.
        sandbox.standIn("apt-get", `
record_env
if [ -e ${sh(join(etc, "gitlab.rb"))} ]; then touch "$CALL_DIR/gitlab.rb-present"; fi
if [ -e ${sh(keyring)} ] && [ -e ${sh(list)} ]; then touch "$CALL_DIR/repository-present"; fi
echo "stand-in apt-get $*"`);
        sandbox.standIn("apt-mark", `echo "$2 set on hold."`);
        // curl writes a fake key to --output; the fingerprint it embeds is what gpg will report.
        sandbox.standIn("curl", `
out=""
while [ "$#" -gt 0 ]; do
    case "$1" in
    --output) out=$2; shift 2 ;;
    *) shift ;;
    esac
done
if [ -z "$out" ]; then echo "curl stand-in: no --output" >&2; exit 2; fi
printf '%s' ${sh(key)} >"$out"`);
        // gpg --show-keys --with-colons FILE prints the fingerprints of the fake key in FILE.
        sandbox.standIn("gpg", `
case " $* " in
*" --show-keys "*) ;;
*) echo "gpg stand-in: only --show-keys is expected" >&2; exit 2 ;;
esac
fpr=$(sed -n 's/^stand-in key //p' "\${!#}")
printf 'pub:-:4096:1:3F01618A51312F3F:1581292800:1833148800::-:::scSC::::::23::0:\\n'
printf 'fpr:::::::::%s:\\n' "$fpr"
printf 'uid:-::::1581292800::0000::GitLab B.V. (package repository signing key) <packages@gitlab.com>::::::::::0:\\n'
printf 'sub:-:4096:1:1193DC8C5FFF7061:1581292800:1833148800:::::e::::::23:\\n'
printf 'fpr:::::::::%s:\\n' 5A1B4C6E5F2F2D7C2B3A4E5D1193DC8C5FFF7061
${options.extraKey ? `printf 'pub:-:4096:1:0000000000000000:1581292800:1833148800::-:::scSC::::::23::0:\\n'\nprintf 'fpr:::::::::%s:\\n' ${options.extraKey}` : ""}`);

        return {
            apt,
            etc,
            keyring,
            list,
            key,
            install: (env: Record<string, string> = {}) =>
                sandbox.runScript("install-omnibus.sh", ARGS, {
                    env: {
                        APT_DIR: apt,
                        GITLAB_ETC_DIR: etc,
                        // Set for the script on purpose: the package's maintainer scripts must not see them.
                        EXTERNAL_URL: "https://gitlab.example.com",
                        GITLAB_ROOT_PASSWORD: "stand-in-root-password",
                        DPKG_ADMINDIR: sandbox.path("var/lib/dpkg"),
                        ...env,
                    },
                }),
        };
    }

    test("fresh host: key, repository, placeholder gitlab.rb, pinned install without EXTERNAL_URL, hold", () =>
        withSandbox(async (sandbox) => {
            const host = ubuntu(sandbox);
            const result = await host.install();
            assert.equal(result.status, 0, describeRun(result));

            assert.equal(readFileSync(host.keyring, "utf8"), host.key);
            assert.equal(mode(host.keyring), 0o644);
            assert.equal(
                readFileSync(host.list, "utf8"),
                `deb [signed-by=${host.keyring}] https://packages.example.test/gitlab/gitlab-ee/ubuntu/noble noble main\n`,
            );
            assert.equal(mode(host.list), 0o644);
            const gitlabRb = join(host.etc, "gitlab.rb");
            assert.match(readFileSync(gitlabRb, "utf8"), /^# Placeholder/);
            assert.equal(mode(gitlabRb), 0o600);

            assert.deepEqual(argvs(sandbox.calls("cloud-init")), [["status", "--wait"]]);
            const curl = sandbox.calls("curl");
            assert.equal(curl.length, 1);
            assert.equal(curl[0]!.argv.at(-1), KEY_URL);
            assert.ok(curl[0]!.argv.includes("--fail"));

            const aptGet = sandbox.calls("apt-get");
            assert.equal(aptGet.length, 2, JSON.stringify(argvs(aptGet)));
            assert.equal(aptGet[0]!.argv.at(-2), "update");
            const install = aptGet[1]!;
            assert.deepEqual(install.argv.slice(-4), ["install", "-y", "-q", `gitlab-ee=${WANTED}`]);
            const lockTimeout = install.argv.find((word, i) => install.argv[i - 1] === "-o" && word.startsWith("DPkg::Lock::Timeout="));
            assert.match(lockTimeout ?? "", /^DPkg::Lock::Timeout=\d+$/);
            assert.ok(install.env, "apt-get recorded its environment");
            assert.equal(install.env.EXTERNAL_URL, undefined, "EXTERNAL_URL reached apt-get");
            assert.equal(install.env.GITLAB_ROOT_PASSWORD, undefined, "GITLAB_ROOT_PASSWORD reached apt-get");
            assert.equal(install.env.DEBIAN_FRONTEND, "noninteractive");
            assert.ok(existsSync(join(install.dir, "gitlab.rb-present")), "gitlab.rb existed before the package was installed");
            assert.ok(existsSync(join(aptGet[0]!.dir, "repository-present")), "the repository was configured before apt-get update");

            assert.deepEqual(argvs(sandbox.calls("apt-mark")), [["hold", "gitlab-ee"]]);
            const order = sandbox.sequence();
            assert.equal(order[0], "cloud-init", "cloud-init was waited for first");
            assert.equal(order.at(-1), "apt-mark", "the hold comes after the install");

            assert.deepEqual(filesIn(join(host.apt, "keyrings")), ["gitlab-ee.asc"]);
            assert.deepEqual(filesIn(join(host.apt, "sources.list.d")), ["gitlab_gitlab-ee.list"]);
            assert.deepEqual(filesIn(host.etc), ["gitlab.rb"]);
            assert.deepEqual(filesIn(sandbox.tmp), [], "the downloaded key was removed");
        }));

    test("an existing gitlab.rb is not overwritten", () =>
        withSandbox(async (sandbox) => {
            const host = ubuntu(sandbox);
            const existing = "external_url 'https://gitlab.example.com'\n";
            mkdirSync(host.etc, { recursive: true });
            writeFileSync(join(host.etc, "gitlab.rb"), existing, { mode: 0o600 });
            const result = await host.install();
            assert.equal(result.status, 0, describeRun(result));
            assert.equal(readFileSync(join(host.etc, "gitlab.rb"), "utf8"), existing);
            assert.equal(sandbox.calls("apt-get").length, 2);
        }));

    test("a key with another fingerprint is refused: nothing installed, no keyring written", () =>
        withSandbox(async (sandbox) => {
            const host = ubuntu(sandbox, { servedFingerprint: OTHER_FPR });
            const result = await host.install();
            assert.notEqual(result.status, 0, describeRun(result));
            assert.match(result.stderr, new RegExp(`does not hold exactly the key with fingerprint ${FPR} \\(found: ${OTHER_FPR}\\)`));
            assert.equal(sandbox.calls("gpg").length, 1, "the key was checked");
            assert.equal(sandbox.calls("apt-get").length, 0);
            assert.equal(sandbox.calls("apt-mark").length, 0);
            assert.equal(existsSync(host.keyring), false);
            assert.equal(existsSync(host.list), false);
            assert.deepEqual(filesIn(join(host.apt, "keyrings")), []);
            assert.deepEqual(filesIn(sandbox.tmp), [], "the downloaded key was removed");
        }));

    test("a key file with an extra primary key is refused, though it holds the right one", () =>
        withSandbox(async (sandbox) => {
            const host = ubuntu(sandbox, { extraKey: OTHER_FPR });
            const result = await host.install();
            assert.notEqual(result.status, 0, describeRun(result));
            assert.match(result.stderr, new RegExp(`found: ${FPR} ${OTHER_FPR}`));
            assert.equal(sandbox.calls("apt-get").length, 0);
            assert.equal(existsSync(host.keyring), false);
        }));

    test("a removed package whose configuration remains counts as not installed", () =>
        withSandbox(async (sandbox) => {
            const host = ubuntu(sandbox, { installed: `rc |${WANTED}` });
            const result = await host.install();
            assert.equal(result.status, 0, describeRun(result));
            assert.ok(argvs(sandbox.calls("apt-get")).some((argv) => argv.includes(`gitlab-ee=${WANTED}`)), "it installs");
        }));

    test("already installed at the wanted version: no install, hold asserted, exit 0", () =>
        withSandbox(async (sandbox) => {
            const host = ubuntu(sandbox, { installed: WANTED });
            const result = await host.install();
            assert.equal(result.status, 0, describeRun(result));
            assert.deepEqual(sandbox.calls("dpkg-query").map((c) => c.argv.at(-1)), ["gitlab-ee", "gitlab-ce"]);
            assert.equal(sandbox.calls("apt-get").length, 0);
            assert.ok(existsSync(host.list), "the repository stays configured");
            assert.deepEqual(argvs(sandbox.calls("apt-mark")), [["hold", "gitlab-ee"]]);
        }));

    test("a held package (dpkg status hi) counts as installed", () =>
        withSandbox(async (sandbox) => {
            const host = ubuntu(sandbox, { installed: `hi |${WANTED}` });
            const result = await host.install();
            assert.equal(result.status, 0, describeRun(result));
            assert.equal(sandbox.calls("apt-get").length, 0);
        }));

    test("another installed version is left to the upgrade step: no install, exit 0", () =>
        withSandbox(async (sandbox) => {
            const host = ubuntu(sandbox, { installed: "18.10.3-ee.0" });
            const result = await host.install();
            assert.equal(result.status, 0, describeRun(result));
            assert.match(result.stdout, /gitlab-ee 18\.10\.3-ee\.0 is installed; the upgrade step takes it to gitlab-ee 18\.11\.11-ee\.0/);
            assert.equal(sandbox.calls("apt-get").length, 0);
            assert.equal(sandbox.calls("apt-mark").length, 0);
        }));

    test("another edition is left to the upgrade step, with the new edition's repository configured", () =>
        withSandbox(async (sandbox) => {
            const host = ubuntu(sandbox, { installed: "18.11.11-ce.0", installedPackage: "gitlab-ce" });
            const result = await host.install();
            assert.equal(result.status, 0, describeRun(result));
            assert.match(result.stdout, /gitlab-ce 18\.11\.11-ce\.0 is installed; the upgrade step takes it to gitlab-ee/);
            assert.match(readFileSync(host.list, "utf8"), /\/gitlab-ee\/ubuntu\/noble noble main/);
            assert.equal(sandbox.calls("apt-get").length, 0);
        }));
});

// ---------------------------------------------------------------------------------------------------
describe("health-gate.sh", () => {
    interface Answer {
        body: string;
        /** curl's exit status: 0, 7 (cannot connect), 22 (HTTP error with --fail), ... */
        exit?: number;
    }

    /** A curl stand-in that gives the listed answers in turn, repeating the last one. */
    function curlAnswers(sandbox: Sandbox, answers: readonly Answer[]): void {
        const branches = answers.map((answer, i) => {
            const pattern = i === answers.length - 1 ? "*" : String(i + 1);
            const exit = answer.exit ?? 0;
            const output = exit === 0 ? `printf '%s' ${sh(answer.body)}` : `printf '%s\\n' ${sh(answer.body)} >&2`;
            return `${pattern}) ${output}; exit ${exit} ;;`;
        });
        sandbox.standIn("curl", `case "$CALL_NUMBER" in\n${branches.join("\n")}\nesac`);
    }

    function gate(sandbox: Sandbox, args: string[], extraEnv: Record<string, string> = {}) {
        return sandbox.runScript("health-gate.sh", args, {
            env: { GITLAB_LOG_DIR: sandbox.path("log/gitlab"), HEALTH_INTERVAL_SECONDS: "0", ...extraEnv },
        });
    }

    test("gitlab healthy: asks /-/readiness through the host itself", () =>
        withSandbox(async (sandbox) => {
            curlAnswers(sandbox, [{ body: '{"status":"ok","master_check":[{"status":"ok"}]}' }]);
            const result = await gate(sandbox, ["gitlab", "https://gitlab.example.com", "60"]);
            assert.equal(result.status, 0, describeRun(result));
            const calls = sandbox.calls("curl");
            assert.equal(calls.length, 1);
            assert.equal(valueAfter(calls[0]!.argv, "--resolve"), "gitlab.example.com:443:127.0.0.1");
            assert.equal(calls[0]!.argv.at(-1), "https://gitlab.example.com/-/readiness");
            assert.ok(calls[0]!.argv.includes("--fail"));
            assert.match(result.stdout, /gitlab is healthy/);
        }));

    test("mattermost over http: asks /api/v4/system/ping on port 80", () =>
        withSandbox(async (sandbox) => {
            curlAnswers(sandbox, [{ body: '{"ActiveSearchBackend":"database","status":"OK"}' }]);
            const result = await gate(sandbox, ["mattermost", "http://mm.example.com", "60"]);
            assert.equal(result.status, 0, describeRun(result));
            const calls = sandbox.calls("curl");
            assert.equal(calls.length, 1);
            assert.equal(valueAfter(calls[0]!.argv, "--resolve"), "mm.example.com:80:127.0.0.1");
            assert.equal(calls[0]!.argv.at(-1), "http://mm.example.com/api/v4/system/ping");
        }));

    test("keeps asking until the answer is healthy", () =>
        withSandbox(async (sandbox) => {
            curlAnswers(sandbox, [
                { body: "curl: (7) Failed to connect to mm.example.com port 443", exit: 7 },
                { body: '{"status":"unhealthy"}' },
                { body: '{"status":"OK"}' },
            ]);
            const result = await gate(sandbox, ["mattermost", "https://mm.example.com", "60"]);
            assert.equal(result.status, 0, describeRun(result));
            assert.equal(sandbox.calls("curl").length, 3);
        }));

    test("while it waits, it prints what it waits for and for how long so far, every PROGRESS_INTERVAL_SECONDS", () =>
        withSandbox(async (sandbox) => {
            curlAnswers(sandbox, [
                { body: "curl: (7) Failed to connect", exit: 7 },
                { body: "curl: (7) Failed to connect", exit: 7 },
                { body: "curl: (7) Failed to connect", exit: 7 },
                { body: "curl: (7) Failed to connect", exit: 7 },
                { body: '{"status":"OK"}' },
            ]);
            const result = await gate(sandbox, ["mattermost", "https://mm.example.com", "900"], { HEALTH_INTERVAL_SECONDS: "0.3", PROGRESS_INTERVAL_SECONDS: "0.3" });
            assert.equal(result.status, 0, describeRun(result));
            assert.match(result.stdout, /^health-gate: still waiting for mattermost to answer healthy at https:\/\/mm\.example\.com\/api\/v4\/system\/ping: \d+s so far of 900s$/m);
            assert.ok(result.stdout.split("\n").filter((line) => line.includes("still waiting")).length >= 2, result.stdout);
        }));

    test("never healthy with timeout 0: exit 1 with the last answer and the services' log lines", () =>
        withSandbox(async (sandbox) => {
            curlAnswers(sandbox, [{ body: "curl: (22) The requested URL returned error: 502", exit: 22 }]);
            const lines = Array.from({ length: 40 }, (_, i) => `mattermost log line ${i + 1}`);
            const current = sandbox.write("log/gitlab/mattermost/current", lines.join("\n") + "\n");
            sandbox.write("log/gitlab/nginx/gitlab_mattermost_error.log", "nginx: upstream refused the connection\n");
            const result = await gate(sandbox, ["mattermost", "https://mm.example.com", "0"]);
            assert.equal(result.status, 1, describeRun(result));
            assert.equal(sandbox.calls("curl").length, 1);
            assert.match(result.stderr, /did not answer healthy at https:\/\/mm\.example\.com\/api\/v4\/system\/ping/);
            assert.match(result.stderr, /returned error: 502/);
            assert.ok(result.stderr.includes(`last lines of ${current}`), result.stderr);
            assert.match(result.stderr, /^mattermost log line 40$/m);
            assert.match(result.stderr, /^mattermost log line 11$/m);
            assert.doesNotMatch(result.stderr, /^mattermost log line 10$/m, "only the last 30 lines");
            assert.match(result.stderr, /upstream refused the connection/);
        }));

    test("a standalone Mattermost: the same ping, and its own log files when it never answers", () =>
        withSandbox(async (sandbox) => {
            curlAnswers(sandbox, [{ body: "curl: (22) The requested URL returned error: 502", exit: 22 }, { body: '{"status":"OK"}' }]);
            const healthy = await gate(sandbox, ["mattermost-standalone", "https://chat.example.com", "60"]);
            assert.equal(healthy.status, 0, describeRun(healthy));
            assert.equal(sandbox.calls("curl").at(-1)!.argv.at(-1), "https://chat.example.com/api/v4/system/ping");

            curlAnswers(sandbox, [{ body: "curl: (22) The requested URL returned error: 502", exit: 22 }]);
            const log = sandbox.write("log/mattermost/mattermost.log", '{"level":"error","msg":"database unreachable"}\n');
            sandbox.write("log/nginx/error.log", "connect() failed (111: Connection refused) while connecting to upstream\n");
            sandbox.write("log/gitlab/mattermost/current", "an Omnibus log this host does not have\n");
            const result = await gate(sandbox, ["mattermost-standalone", "https://chat.example.com", "0"], {
                STANDALONE_LOG_DIR: sandbox.path("log/mattermost"),
                NGINX_LOG_DIR: sandbox.path("log/nginx"),
            });
            assert.equal(result.status, 1, describeRun(result));
            assert.ok(result.stderr.includes(`last lines of ${log}`), result.stderr);
            assert.match(result.stderr, /database unreachable/);
            assert.match(result.stderr, /Connection refused\) while connecting to upstream/);
            assert.doesNotMatch(result.stderr, /Omnibus log/);
        }));

    test("an unknown service is an error and asks nothing", () =>
        withSandbox(async (sandbox) => {
            curlAnswers(sandbox, [{ body: "{}" }]);
            const result = await gate(sandbox, ["registry", "https://gitlab.example.com", "0"]);
            assert.equal(result.status, 2, describeRun(result));
            assert.equal(sandbox.calls("curl").length, 0);
        }));
});

// ---------------------------------------------------------------------------------------------------

/** getent ahostsv4 output for a name, as glibc prints it. */
function ahosts(address: string, name: string): string {
    return `${address}      STREAM ${name}\n${address}      DGRAM  \n${address}      RAW    \n`;
}

/** A getent stand-in answering `ahostsv4 NAME` from a table; unknown names are not found (exit 2). */
function getentAnswers(sandbox: Sandbox, table: Record<string, string>, resolvesFromCall = 1): void {
    const branches = Object.entries(table).map(([name, address]) => `${sh(name)}) printf '%s' ${sh(ahosts(address, name))} ;;`);
    sandbox.standIn("getent", `
if [ "$1" != ahostsv4 ] || [ "$#" -ne 2 ]; then echo "getent stand-in: unexpected call" >&2; exit 64; fi
if [ "$CALL_NUMBER" -lt ${resolvesFromCall} ]; then exit 2; fi
case "$2" in
${branches.join("\n")}
*) exit 2 ;;
esac`);
}

describe("wait-for-dns.sh", () => {
    const dns = (sandbox: Sandbox, args: string[], extraEnv: Record<string, string> = {}) =>
        sandbox.runScript("wait-for-dns.sh", args, { env: { DNS_INTERVAL_SECONDS: "0", ...extraEnv } });

    test("every name resolves to the address: exit 0", () =>
        withSandbox(async (sandbox) => {
            getentAnswers(sandbox, { "gitlab.example.com": "192.0.2.10", "mm.example.com": "192.0.2.10" });
            const result = await dns(sandbox, ["192.0.2.10", "60", "gitlab.example.com", "mm.example.com"]);
            assert.equal(result.status, 0, describeRun(result));
            assert.deepEqual(argvs(sandbox.calls("getent")), [
                ["ahostsv4", "gitlab.example.com"],
                ["ahostsv4", "mm.example.com"],
            ]);
            assert.match(result.stdout, /mm\.example\.com resolves to 192\.0\.2\.10/);
        }));

    test("a wrong address with timeout 0: exit 1 naming the name and both addresses", () =>
        withSandbox(async (sandbox) => {
            getentAnswers(sandbox, { "gitlab.example.com": "192.0.2.10", "mm.example.com": "198.51.100.7" });
            const result = await dns(sandbox, ["192.0.2.10", "0", "gitlab.example.com", "mm.example.com"]);
            assert.equal(result.status, 1, describeRun(result));
            assert.match(result.stderr, /mm\.example\.com resolves to "198\.51\.100\.7", not 192\.0\.2\.10/);
        }));

    test("a name that does not resolve yet is asked again until it does", () =>
        withSandbox(async (sandbox) => {
            getentAnswers(sandbox, { "gitlab.example.com": "192.0.2.10" }, 3);
            const result = await dns(sandbox, ["192.0.2.10", "60", "gitlab.example.com"]);
            assert.equal(result.status, 0, describeRun(result));
            assert.equal(sandbox.calls("getent").length, 3);
        }));

    test("while it waits, it prints which names it waits for and for how long so far, every PROGRESS_INTERVAL_SECONDS", () =>
        withSandbox(async (sandbox) => {
            getentAnswers(sandbox, { "gitlab.example.com": "192.0.2.10", "mm.example.com": "192.0.2.10" }, 5);
            const result = await dns(sandbox, ["192.0.2.10", "900", "gitlab.example.com", "mm.example.com"], { DNS_INTERVAL_SECONDS: "0.3", PROGRESS_INTERVAL_SECONDS: "0.3" });
            assert.equal(result.status, 0, describeRun(result));
            assert.match(result.stdout, /^wait-for-dns: still waiting for gitlab\.example\.com mm\.example\.com to resolve to 192\.0\.2\.10: \d+s so far of 900s$/m);
            assert.ok(result.stdout.split("\n").filter((line) => line.includes("still waiting")).length >= 2, result.stdout);
        }));

    test("a name that never resolves, timeout 0: exit 1", () =>
        withSandbox(async (sandbox) => {
            getentAnswers(sandbox, {});
            const result = await dns(sandbox, ["192.0.2.10", "0", "gitlab.example.com"]);
            assert.equal(result.status, 1, describeRun(result));
            assert.match(result.stderr, /gitlab\.example\.com resolves to "", not 192\.0\.2\.10/);
        }));
});

// ---------------------------------------------------------------------------------------------------
const FAKE_DOORKEEPER = join(__dirname, "..", "support", "fake_doorkeeper.rb");
const RUBY_PROGRAM = hostFile("ensure-oauth-application.rb");
const SECRET = "s1";
const WANTED_JSON = String.raw`{"name":"GitLab Mattermost","uid":"u1","secret":"s1","redirect_uri":"https://mm.example.com/signup/gitlab/complete\r\nhttps://mm.example.com/login/gitlab/complete","scopes":""}`;
const WANTED = JSON.parse(WANTED_JSON) as { name: string; uid: string; secret: string; redirect_uri: string; scopes: string };

/** A row of the fake Doorkeeper table; `secret` is the stored (digested) form. */
interface AppRow {
    uid: string;
    name: string;
    secret: string;
    redirect_uri: string;
    scopes: string;
}

/** How the fake stores a secret (test/support/fake_doorkeeper.rb, FakeSecretStrategy). */
function storedSecret(plain: string): string {
    return `sha256:${createHash("sha256").update(plain).digest("hex")}`;
}

/** Omnibus's gitlab-rails as a stand-in: the real ruby, with the fake Doorkeeper loaded first. */
function gitlabRails(sandbox: Sandbox, seed: AppRow[]) {
    const opt = sandbox.path("opt/gitlab");
    const state = sandbox.write("doorkeeper-state.json", JSON.stringify(seed));
    const dump = sandbox.path("doorkeeper-dump.json");
    sandbox.standIn("gitlab-rails", `
if [ "$#" -ne 4 ] || [ "$1" != runner ] || [ "$2" != -e ] || [ "$3" != production ]; then
    echo "gitlab-rails stand-in: expected runner -e production PROGRAM, got: $*" >&2
    exit 64
fi
record_stdin
exec /usr/bin/ruby -r ${sh(FAKE_DOORKEEPER)} -e "$4" <"$CALL_DIR/stdin"`, join(opt, "bin/gitlab-rails"));
    return {
        env: { OMNIBUS_DIR: opt, FAKE_DOORKEEPER_STATE: state, FAKE_DOORKEEPER_DUMP: dump },
        final: () => JSON.parse(readFileSync(dump, "utf8")) as { applications: AppRow[]; saves: string[]; destroyed: string[] },
    };
}

function assertNoSecret(result: RunResult): void {
    assert.ok(!result.stdout.includes(SECRET), `the secret appears on stdout: ${result.stdout}`);
    assert.ok(!result.stderr.includes(SECRET), `the secret appears on stderr: ${result.stderr}`);
}

describe("ensure-oauth-application.sh with ensure-oauth-application.rb", () => {
    const wantedRow: AppRow = { ...WANTED, secret: storedSecret(WANTED.secret) };
    const ensure = (sandbox: Sandbox, env: Record<string, string>) =>
        sandbox.runScript("ensure-oauth-application.sh", [RUBY_PROGRAM], { env, input: WANTED_JSON });

    test("absent: created with exactly the wanted values; the secret travels on stdin only", () =>
        withSandbox(async (sandbox) => {
            const rails = gitlabRails(sandbox, []);
            const result = await ensure(sandbox, rails.env);
            assert.equal(result.status, 0, describeRun(result));
            assert.match(result.stdout, /oauth application u1: created; revoked 0 other/);
            assertNoSecret(result);
            const final = rails.final();
            assert.deepEqual(final.applications, [wantedRow]);
            assert.equal(final.applications[0]!.redirect_uri.includes("\r\n"), true);
            assert.deepEqual(final.saves, ["u1"]);

            const [call] = sandbox.calls("gitlab-rails");
            assert.deepEqual(call!.argv, ["runner", "-e", "production", RUBY_PROGRAM]);
            assert.equal(call!.stdin, WANTED_JSON);
        }));

    test("present and identical: unchanged, nothing saved", () =>
        withSandbox(async (sandbox) => {
            const rails = gitlabRails(sandbox, [wantedRow]);
            const result = await ensure(sandbox, rails.env);
            assert.equal(result.status, 0, describeRun(result));
            assert.match(result.stdout, /oauth application u1: unchanged/);
            assertNoSecret(result);
            const final = rails.final();
            assert.deepEqual(final.saves, []);
            assert.deepEqual(final.destroyed, []);
            assert.deepEqual(final.applications, [wantedRow]);
        }));

    test("present with another secret and redirect URI: updated", () =>
        withSandbox(async (sandbox) => {
            const stale = { ...wantedRow, secret: storedSecret("old-secret"), redirect_uri: "https://old.example.com/signup/gitlab/complete" };
            const rails = gitlabRails(sandbox, [stale]);
            const result = await ensure(sandbox, rails.env);
            assert.equal(result.status, 0, describeRun(result));
            assert.match(result.stdout, /oauth application u1: updated/);
            assertNoSecret(result);
            const final = rails.final();
            assert.deepEqual(final.saves, ["u1"]);
            assert.deepEqual(final.applications, [wantedRow]);
        }));

    test("present with other scopes: updated to the wanted scopes", () =>
        withSandbox(async (sandbox) => {
            const rails = gitlabRails(sandbox, [{ ...wantedRow, scopes: "read_user openid" }]);
            const result = await ensure(sandbox, rails.env);
            assert.equal(result.status, 0, describeRun(result));
            assert.match(result.stdout, /oauth application u1: updated/);
            assert.deepEqual(rails.final().applications, [wantedRow]);
        }));

    test("rotation: other applications of that name are destroyed, other names survive", () =>
        withSandbox(async (sandbox) => {
            const previous: AppRow = { ...wantedRow, uid: "u0", secret: storedSecret("s0") };
            const unrelated: AppRow = { uid: "u7", name: "Other App", secret: storedSecret("s7"), redirect_uri: "https://other.example.com/cb", scopes: "api" };
            const rails = gitlabRails(sandbox, [previous, unrelated]);
            const result = await ensure(sandbox, rails.env);
            assert.equal(result.status, 0, describeRun(result));
            assert.match(result.stdout, /oauth application u1: created; revoked 1 other application\(s\) named "GitLab Mattermost"/);
            assertNoSecret(result);
            const final = rails.final();
            assert.deepEqual(final.destroyed, ["u0"]);
            assert.deepEqual(
                [...final.applications].sort((a, b) => a.uid.localeCompare(b.uid)),
                [wantedRow, unrelated],
            );
        }));

    test("--if-running before GitLab's first reconfigure: does nothing and succeeds", () =>
        withSandbox(async (sandbox) => {
            const rails = gitlabRails(sandbox, []);
            sandbox.standIn("gitlab-psql", `[ "$*" = "-d gitlabhq_production -Atc SELECT 1" ] || exit 64; echo "psql: error: connection to server on socket failed: No such file or directory" >&2; exit 2`, sandbox.path("opt/gitlab/bin/gitlab-psql"));
            const result = await sandbox.runScript("ensure-oauth-application.sh", [RUBY_PROGRAM, "--if-running"], { env: rails.env, input: WANTED_JSON });
            assert.equal(result.status, 0, describeRun(result));
            assert.match(result.stdout, /GitLab is not running yet/);
            assert.deepEqual(sandbox.calls("gitlab-rails"), []);
        }));

    test("ahead of a rotation (revoke_others false): the new application is added, the one in use survives", () =>
        withSandbox(async (sandbox) => {
            const previous: AppRow = { ...wantedRow, uid: "u0", secret: storedSecret("s0") };
            const rails = gitlabRails(sandbox, [previous]);
            sandbox.standIn("gitlab-psql", `[ "$*" = "-d gitlabhq_production -Atc SELECT 1" ] || exit 64; echo 1`, sandbox.path("opt/gitlab/bin/gitlab-psql"));
            const input = JSON.stringify({ ...WANTED, revoke_others: false });
            const result = await sandbox.runScript("ensure-oauth-application.sh", [RUBY_PROGRAM, "--if-running"], { env: rails.env, input });
            assert.equal(result.status, 0, describeRun(result));
            assert.match(result.stdout, /oauth application u1: created; revoked 0/);
            const final = rails.final();
            assert.deepEqual(final.destroyed, []);
            assert.deepEqual([...final.applications].map((a) => a.uid).sort(), ["u0", "u1"]);
        }));

    test("a second run after creating reports unchanged", () =>
        withSandbox(async (sandbox) => {
            const first = gitlabRails(sandbox, []);
            assert.equal((await ensure(sandbox, first.env)).status, 0);
            const second = gitlabRails(sandbox, first.final().applications);
            const result = await ensure(sandbox, second.env);
            assert.equal(result.status, 0, describeRun(result));
            assert.match(result.stdout, /u1: unchanged; revoked 0/);
            assert.deepEqual(second.final().saves, []);
        }));
});

// ---------------------------------------------------------------------------------------------------
describe("components/omnibus/hostScripts.ts", () => {
    const ALL_SCRIPTS: readonly HostScript[] = HOST_SCRIPTS;

    test("HostScript names exactly the shell scripts in host/", () => {
        assert.deepEqual([...ALL_SCRIPTS].sort(), SHELL_SCRIPTS);
    });

    test("a script that sources host/lib/ travels with that file in place of the line that sources it", () => {
        const command = hostCommand("upgrade-gitlab.sh", ["ee", "none", "18.11.11"]);
        assert.doesNotMatch(command, /lib\/step-common\.sh"$/m, "the source line is still there");
        assert.ok(command.includes("end_step() {"), "the library's functions are missing");
        assert.match(hostFile("upgrade-gitlab.sh"), /^\. "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/lib\/step-common\.sh"$/m);
    });

    test("scriptOfCommand(hostCommand(x, args)) is x for every script", () => {
        const argLists: string[][] = [[], ["plain"], ["two words", "it's", "", "$HOME `id` \"q\"\n"]];
        for (const script of ALL_SCRIPTS) {
            for (const args of argLists) {
                assert.equal(scriptOfCommand(hostCommand(script, args)), script, `${script} ${JSON.stringify(args)}`);
            }
        }
        assert.equal(scriptOfCommand("sudo bash -c 'echo hi' other-name"), undefined);
        assert.equal(scriptOfCommand("ls -l"), undefined);
    });

    test("shellQuote round-trips any string (without NUL) through a real bash as one word", async () => {
        const shellish = fc.constantFrom(..."'\"\\$`!*?[]{}()<>|&;~#% \t\n\r=-:,./@a");
        // Characters shellQuote may leave unquoted, plus the blank that must not be.
        const nearlySafe = fc.constantFrom(..."aZ09_@%+=:,./- ");
        await fc.assert(
            fc.asyncProperty(
                fc
                    .oneof(
                        fc.string({ unit: "binary" }),
                        fc.string({ unit: shellish }),
                        fc.string({ unit: nearlySafe }),
                        fc.string({ unit: "binary-ascii" }),
                    )
                    .filter((s) => !s.includes("\0")),
                async (word) => {
                    const command = `bash -c 'printf "%s:%s" "$#" "$1"' _ ${shellQuote(word)}`;
                    const result = await runProcess("bash", ["-c", command]);
                    assert.equal(result.status, 0, describeRun(result));
                    assert.equal(result.stdout, `1:${word}`);
                },
            ),
            { numRuns: 100, examples: [[""], ["a b"], ["it's"], ["-n"], ["~"], ["*"], ["a\nb"], ["$(id)"]] },
        );
    });

    for (const scenario of [
        { name: "resolving", table: { "gitlab.example.com": "192.0.2.10", "mm.example.com": "192.0.2.10" }, status: 0 },
        { name: "wrong address", table: { "gitlab.example.com": "192.0.2.10", "mm.example.com": "198.51.100.7" }, status: 1 },
    ]) {
        test(`the command hostCommand builds runs wait-for-dns.sh like the file (${scenario.name})`, async () => {
            const args = ["192.0.2.10", "0", "gitlab.example.com", "mm.example.com"];
            const command = hostCommand("wait-for-dns.sh", args);
            assert.ok(command.startsWith("sudo "));
            const env = { DNS_INTERVAL_SECONDS: "0" };
            const viaCommand = await withSandbox(async (sandbox) => {
                getentAnswers(sandbox, scenario.table);
                const result = await sandbox.run("bash", ["-c", command.slice("sudo ".length)], { env });
                return { result, getent: argvs(sandbox.calls("getent")) };
            });
            const viaFile = await withSandbox(async (sandbox) => {
                getentAnswers(sandbox, scenario.table);
                const result = await sandbox.runScript("wait-for-dns.sh", args, { env });
                return { result, getent: argvs(sandbox.calls("getent")) };
            });
            assert.equal(viaCommand.result.status, scenario.status, describeRun(viaCommand.result));
            assert.deepEqual(viaCommand, viaFile);
        });
    }

    test("the command oauth.ts builds hands the Ruby program to gitlab-rails intact and the JSON on stdin", () =>
        withSandbox(async (sandbox) => {
            const rails = gitlabRails(sandbox, []);
            const command = hostCommand("ensure-oauth-application.sh", [RUBY_PROGRAM]);
            assert.ok(!command.includes(SECRET), "the command carries no secret");
            const result = await sandbox.run("bash", ["-c", command.slice("sudo ".length)], { env: rails.env, input: WANTED_JSON });
            assert.equal(result.status, 0, describeRun(result));
            const [call] = sandbox.calls("gitlab-rails");
            assert.equal(call!.argv[3], RUBY_PROGRAM);
            assert.equal(call!.stdin, WANTED_JSON);
            assert.deepEqual(rails.final().applications, [{ ...WANTED, secret: storedSecret(SECRET) }]);
        }));
});

// ---------------------------------------------------------------------------------------------------
// Whatever ends a host script, it ends as a failure: bash would run the EXIT trap with $? = 0 after
// SIGHUP or SIGPIPE. A lost SSH connection hangs up the whole session (the process group: the script
// and what it runs); SIGTERM and SIGINT come to the script alone, which bash handles once the command
// it waits for returns. Each script is stopped for real while a stand-in it runs is busy.

/** A detached run (its own process group, as an SSH session's commands are), signalled once `started` exists. */
function runAndSignal(
    sandbox: Sandbox,
    [command, ...args]: readonly string[],
    options: { env: Record<string, string>; input?: string; signal: NodeJS.Signals; to: SignalTarget; started: string; release: string },
): Promise<RunResult> {
    const running = sandbox.startCommand(command!, args, { env: options.env, input: options.input, timeoutMs: 30_000 });
    return signalWhenReady(running, {
        ready: () => existsSync(options.started),
        signal: options.signal,
        to: options.to,
        // bash runs its trap once the command it waits for returns.
        afterSending: () => writeFileSync(options.release, ""),
    });
}

/** One host script, with stand-ins of which one holds the run until the test has sent its signal. */
interface SignalScenario {
    readonly script: HostScript;
    readonly args: readonly string[];
    readonly input?: string;
    /** Writes the stand-ins; `hold` is bash that blocks the first time, to put before a stand-in's answer. */
    readonly host: (sandbox: Sandbox, hold: string) => Record<string, string>;
    /** Files a run must not leave behind (temporary and staged files). */
    readonly leftovers: (sandbox: Sandbox) => string[];
    readonly signals: readonly NodeJS.Signals[];
}

const EVERY_SIGNAL = ["SIGHUP", "SIGPIPE", "SIGTERM", "SIGINT"] as const;
const SOME_SIGNALS = ["SIGHUP", "SIGTERM"] as const;
/** Where each signal comes from: a hangup or a broken pipe of the session, or a stop of the script. */
const SENT_TO: Record<string, SignalTarget> = { SIGHUP: "group", SIGPIPE: "group", SIGTERM: "script", SIGINT: "script" };

const SIGNAL_SCENARIOS: readonly SignalScenario[] = [
    {
        script: "apply-gitlab-rb.sh",
        args: [],
        input: "external_url 'https://gitlab.example.com'\n",
        signals: EVERY_SIGNAL,
        host: (sandbox, hold) => {
            const opt = sandbox.path("opt/gitlab");
            mkdirSync(sandbox.path("etc/gitlab"), { recursive: true });
            writeFileSync(sandbox.path("etc/gitlab/gitlab.rb"), "external_url 'https://old.example.com'\n", { mode: 0o600 });
            sandbox.standIn("chown", ":");
            sandbox.standIn("embedded-ruby", `exec /usr/bin/ruby "$@"`, join(opt, "embedded/bin/ruby"));
            sandbox.standIn("gitlab-ctl", `${hold}\necho "stand-in reconfigure"`, join(opt, "bin/gitlab-ctl"));
            return {
                GITLAB_ETC_DIR: sandbox.path("etc/gitlab"),
                OMNIBUS_DIR: opt,
                GITLAB_MATTERMOST_LOG_DIR: sandbox.path("log/gitlab-mattermost"),
                GITLAB_RAILS_ETC_DIR: sandbox.path("var/opt/gitlab/gitlab-rails/etc"),
                MATTERMOST_ENV_DIR: sandbox.path("opt/gitlab/etc/mattermost/env"),
                PROGRESS_INTERVAL_SECONDS: "0.2",
            };
        },
        leftovers: (sandbox) => filesIn(sandbox.path("etc/gitlab")).filter((name) => name.startsWith(".")),
    },
    {
        script: "health-gate.sh",
        args: ["gitlab", "https://gitlab.example.com", "60"],
        signals: EVERY_SIGNAL,
        host: (sandbox, hold) => {
            sandbox.standIn("curl", `${hold}\nprintf '%s' '{"status":"ok"}'`);
            return { GITLAB_LOG_DIR: sandbox.path("log/gitlab"), HEALTH_INTERVAL_SECONDS: "0", PROGRESS_INTERVAL_SECONDS: "0.2" };
        },
        leftovers: () => [],
    },
    {
        script: "wait-for-dns.sh",
        args: ["192.0.2.10", "60", "gitlab.example.com"],
        signals: EVERY_SIGNAL,
        host: (sandbox, hold) => {
            sandbox.standIn("getent", `${hold}\nprintf '%s' ${sh(ahosts("192.0.2.10", "gitlab.example.com"))}`);
            return { DNS_INTERVAL_SECONDS: "0", PROGRESS_INTERVAL_SECONDS: "0.2" };
        },
        leftovers: () => [],
    },
    {
        script: "ensure-oauth-application.sh",
        args: ["puts 'registered'"],
        input: WANTED_JSON,
        signals: SOME_SIGNALS,
        host: (sandbox, hold) => {
            const opt = sandbox.path("opt/gitlab");
            sandbox.standIn("gitlab-rails", `${hold}\necho registered`, join(opt, "bin/gitlab-rails"));
            return { OMNIBUS_DIR: opt };
        },
        leftovers: () => [],
    },
    {
        script: "configure-gitlab-plugin.sh",
        args: ["com.example.plugin", "60"],
        input: "{}",
        signals: SOME_SIGNALS,
        host: (sandbox, hold) => {
            const opt = sandbox.path("opt/gitlab");
            sandbox.standIn("chpst", `shift 2\nexec "$@"`, join(opt, "embedded/bin/chpst"));
            sandbox.standIn("mmctl", `case "$*" in
"--local plugin list") printf 'Listing enabled plugins\\ncom.example.plugin: Example\\nListing disabled plugins\\n' ;;
esac`, join(opt, "embedded/bin/mmctl"));
            sandbox.standIn("gitlab-ctl", `${hold}\necho restarted`, join(opt, "bin/gitlab-ctl"));
            sandbox.standIn("curl", `printf '%s' '{"status":"OK"}'`);
            sandbox.standIn("chown", ":");
            return { OMNIBUS_DIR: opt, HEALTH_INTERVAL_SECONDS: "0" };
        },
        leftovers: (sandbox) => filesIn(sandbox.tmp),
    },
    {
        script: "enable-backups.sh",
        args: ["mattermost-backup.timer"],
        signals: SOME_SIGNALS,
        host: (sandbox, hold) => {
            sandbox.standIn("rclone", "echo rclone");
            sandbox.standIn("systemctl", `case "$1" in
enable) ${hold} ;;
show) echo "Mon 2026-11-30 02:30:00 UTC" ;;
esac`);
            return {};
        },
        leftovers: () => [],
    },
    {
        script: "install-file.sh",
        args: [],
        input: "-----BEGIN CERTIFICATE-----\nstand-in\n-----END CERTIFICATE-----\n",
        signals: SOME_SIGNALS,
        host: (sandbox, hold) => {
            sandbox.standIn("openssl", hold);
            sandbox.standIn("chown", ":");
            return {};
        },
        leftovers: (sandbox) => filesIn(sandbox.path("etc/ssl")).filter((name) => name.startsWith(".")),
    },
    {
        script: "install-omnibus.sh",
        args: ["ee", "18.11.11", "noble", "https://packages.example.test/gitlab", "https://packages.example.test/gpgkey", "F6403F6544A38863DAA0B6E03F01618A51312F3F"],
        signals: SOME_SIGNALS,
        host: (sandbox, hold) => {
            sandbox.standIn("cloud-init", "echo 'status: done'");
            sandbox.standIn("dpkg-query", `if [ -e ${sh(sandbox.path("installed"))} ]; then printf 'ii |18.11.11-ee.0'; else exit 1; fi`);
            sandbox.standIn("apt-get", `case " $* " in *" install "*) ${hold}; touch ${sh(sandbox.path("installed"))} ;; esac`);
            sandbox.standIn("apt-mark", ":");
            sandbox.standIn("curl", `while [ "$1" != --output ]; do shift; done\necho key >"$2"`);
            sandbox.standIn("gpg", `printf 'pub:-:4096\\nfpr:::::::::%s:\\n' F6403F6544A38863DAA0B6E03F01618A51312F3F`);
            return { APT_DIR: sandbox.path("etc/apt"), GITLAB_ETC_DIR: sandbox.path("etc/gitlab") };
        },
        leftovers: (sandbox) => filesIn(sandbox.tmp),
    },
    {
        script: "reload-nginx.sh",
        args: [],
        signals: SOME_SIGNALS,
        host: (sandbox, hold) => {
            const opt = sandbox.path("opt/gitlab");
            sandbox.standIn("gitlab-ctl", `${hold}\necho "ok: run: nginx"`, join(opt, "bin/gitlab-ctl"));
            return { OMNIBUS_DIR: opt };
        },
        leftovers: () => [],
    },
];

describe("every host script: a signal is a failure that cleans up, says FAILED and why, and a re-run recovers", () => {
    test("every script of host/ has a signal scenario, except those whose own test file signals them", () => {
        // upgrade-gitlab.sh: test/host/upgrade.test.ts; ensure-mattermost-admin.sh: test/host/firstAdmin.test.ts;
        // mount- and move-to-data-volume.sh: test/host/dataVolume.test.ts; enable-pitr.sh: test/host/pitr.test.ts.
        const signalledElsewhere = ["upgrade-gitlab.sh", "ensure-mattermost-admin.sh", "mount-data-volume.sh", "move-to-data-volume.sh", "enable-pitr.sh"];
        assert.deepEqual(
            SIGNAL_SCENARIOS.map((scenario) => scenario.script).sort(),
            HOST_SCRIPTS.filter((script) => !signalledElsewhere.includes(script)).sort(),
        );
    });

    for (const scenario of SIGNAL_SCENARIOS) {
        for (const signal of scenario.signals) {
            const to = SENT_TO[signal]!;
            test(`${scenario.script}: ${signal} to the ${to}`, () =>
                withSandbox(async (sandbox) => {
                    const started = sandbox.path("held");
                    const release = sandbox.path("release");
                    const hold = `if [ ! -e ${sh(release)} ]; then touch ${sh(started)}; while [ ! -e ${sh(release)} ]; do sleep 0.05; done; fi`;
                    const env = scenario.host(sandbox, hold);
                    const args = scenario.script === "install-file.sh" ? [sandbox.path("etc/ssl/host.crt"), "0644"] : [...scenario.args];
                    const result = await runAndSignal(sandbox, ["bash", join(HOST_SCRIPT_DIR, scenario.script), ...args], {
                        env,
                        input: scenario.input,
                        signal,
                        to,
                        started,
                        release,
                    });
                    assert.ok(existsSync(started), `the run never reached the held step\n${describeRun(result)}`);
                    assert.equal(result.status, 128 + osConstants.signals[signal], describeRun(result));
                    const name = scenario.script.replace(/\.sh$/, "");
                    assert.match(result.stderr.trimEnd().split("\n").at(-1) ?? "", new RegExp(`^${name}: FAILED \\(ended by ${signal}\\)`), describeRun(result));
                    assert.deepEqual(scenario.leftovers(sandbox), [], "temporary files are removed");

                    const rerun = await sandbox.runScript(scenario.script, args, { env, input: scenario.input });
                    assert.equal(rerun.status, 0, `the re-run: ${describeRun(rerun)}`);
                    assert.doesNotMatch(rerun.stderr, /FAILED/);
                }));
        }
    }

    test("the command hostCommand builds ends the same way on a hangup", () =>
        withSandbox(async (sandbox) => {
            const started = sandbox.path("held");
            const release = sandbox.path("release");
            sandbox.standIn("getent", `touch ${sh(started)}; while [ ! -e ${sh(release)} ]; do sleep 0.05; done`);
            const command = hostCommand("wait-for-dns.sh", ["192.0.2.10", "60", "gitlab.example.com"]);
            const result = await runAndSignal(sandbox, ["bash", "-c", command.slice("sudo ".length)], { env: {}, signal: "SIGHUP", to: "group", started, release });
            assert.equal(result.status, 129, describeRun(result));
            assert.match(result.stderr, /^wait-for-dns: FAILED \(ended by SIGHUP\)$/m);
        }));

    test("an error names the command that failed on the FAILED line", () =>
        withSandbox(async (sandbox) => {
            const opt = sandbox.path("opt/gitlab");
            sandbox.standIn("gitlab-ctl", `echo "gitlab-ctl: nginx is not running" >&2; exit 3`, join(opt, "bin/gitlab-ctl"));
            const result = await sandbox.runScript("reload-nginx.sh", [], { env: { OMNIBUS_DIR: opt } });
            assert.equal(result.status, 3, describeRun(result));
            assert.match(result.stderr, /^reload-nginx: FAILED \(exit status 3\): `"\$omnibus\/bin\/gitlab-ctl" hup nginx` failed with status 3$/m);
        }));
});

// Bash 5.2 may run a pending trap while it parses a "$(...)" it is expanding, and then parses the
// trap's action as the inside of that substitution. A signal that comes while the first of two
// substitutions in one command runs is pending when bash parses the second: the case the trap
// actions' closing `)` line is for (trap_signals in both libraries).
const SIGNAL_LIBRARIES = [
    { library: "lib/step-common.sh", prelude: "log() { printf 'trap-test: %s\\n' \"$*\"; }", rollback: "rollback_steps" },
    { library: "tools/backup-common.sh", prelude: "tool=trap-test", rollback: "failure_steps" },
] as const;

describe("a signal while bash expands a command substitution is still a failure (bash 5.2)", () => {
    for (const { library, prelude, rollback } of SIGNAL_LIBRARIES) {
        for (const signal of EVERY_SIGNAL) {
            const to = SENT_TO[signal]!;
            test(`${library}: ${signal} to the ${to} during the first of two substitutions`, () =>
                withSandbox(async (sandbox) => {
                    const started = sandbox.path("held");
                    const release = sandbox.path("release");
                    sandbox.standIn("hold", `touch ${sh(started)}; while [ ! -e ${sh(release)} ]; do sleep 0.05; done; echo held`);
                    const script = sandbox.write(
                        "two-substitutions.sh",
                        `set -euo pipefail
${prelude}
. ${sh(join(HOST_SCRIPT_DIR, library))}
rolled_back() { echo "rolled back" >&2; }
${rollback}+=(rolled_back)
first=$(hold) second=$(printf second)
echo "went on after the signal: $first $second"
`,
                    );
                    const result = await runAndSignal(sandbox, ["bash", script], { env: { BACKUP_ENV_FILE: sandbox.path("no-settings") }, signal, to, started, release });
                    assert.equal(result.status, 128 + osConstants.signals[signal], describeRun(result));
                    assert.doesNotMatch(result.stderr, /unexpected EOF/, describeRun(result));
                    assert.match(result.stderr, /^rolled back$/m);
                    assert.match(result.stderr.trimEnd().split("\n").at(-1) ?? "", new RegExp(`^trap-test: FAILED \\(ended by ${signal}\\)`), describeRun(result));
                    assert.doesNotMatch(result.stdout, /went on/);
                }));
        }
    }

    test("every signal action of a shell script is set by trap_signals", () => {
        const everyScript = ["host", "scripts"]
            .flatMap((dir) => readdirSync(join(REPOSITORY, dir), { recursive: true, encoding: "utf8" }).map((name) => join(dir, name)))
            .filter((path) => path.endsWith(".sh"))
            .sort();
        assert.ok(everyScript.includes("host/migration/export-bundled-mattermost.sh"), "the listing reaches the folders below host/");
        const signalActions = everyScript.flatMap((script) =>
            readFileSync(join(REPOSITORY, script), "utf8")
                .split("\n")
                .filter((line) => /^\s*trap\s/.test(line))
                // Ignoring a signal or restoring its default parses no action; bash parses the EXIT
                // trap afresh (reset_parser in run_exit_trap) and runs ERR only after a command.
                .filter((line) => !/^\s*trap (''|-) /.test(line) && !/^\s*trap \w+ (EXIT|ERR)$/.test(line))
                .map((line) => `${script}: ${line.trim()}`),
        );
        assert.deepEqual(signalActions, ["host/lib/step-common.sh: trap -- \"$action\"$'\\n)' \"$@\"", "host/tools/backup-common.sh: trap -- \"$action\"$'\\n)' \"$@\"", "scripts/ssm-client.sh: trap -- \"$action\"$'\\n)' \"$@\""]);
    });
});

describe("enable-backups.sh", () => {
    /** Runs it with a PATH of the stand-ins and only the basic tools, so that rclone and zstd are missing unless stood in. */
    function enableBackups(sandbox: Sandbox, present: string[], env: Record<string, string> = {}): Promise<RunResult> {
        const basics = sandbox.path("basic-tools");
        mkdirSync(basics);
        for (const tool of ["bash", "env", "dirname", "mkdir", "find", "wc", "cat"]) {
            symlinkSync(`/usr/bin/${tool}`, join(basics, tool));
        }
        sandbox.standIn("apt-get", 'echo "apt-get stand-in: $*"');
        sandbox.standIn("systemctl", '[ "$1" != show ] || echo "Mon 2026-11-30 03:15:00 UTC"');
        for (const tool of present) {
            sandbox.standIn(tool, "exit 0");
        }
        return sandbox.run("/usr/bin/bash", [join(HOST_SCRIPT_DIR, "enable-backups.sh"), "mattermost-backup.timer"], {
            env: { PATH: `${sandbox.bin}:${basics}`, DPKG_ADMINDIR: sandbox.path("var/lib/dpkg"), ...env },
        });
    }

    test("installs rclone and zstd when they are missing, then enables the timers", () =>
        withSandbox(async (sandbox) => {
            const result = await enableBackups(sandbox, []);
            assert.equal(result.status, 0, describeRun(result));
            assert.deepEqual(argvs(sandbox.calls("apt-get")), [["-o", "DPkg::Lock::Timeout=900", "-o", "Acquire::Retries=5", "install", "-y", "-q", "rclone", "zstd"]]);
            assert.deepEqual(argvs(sandbox.calls("systemctl")).slice(0, 2), [["daemon-reload"], ["enable", "--now", "mattermost-backup.timer"]]);
        }));

    test("installs only what is missing, and nothing when both are there", () =>
        withSandbox(async (sandbox) => {
            const result = await enableBackups(sandbox, ["rclone"]);
            assert.equal(result.status, 0, describeRun(result));
            assert.deepEqual(argvs(sandbox.calls("apt-get")), [["-o", "DPkg::Lock::Timeout=900", "-o", "Acquire::Retries=5", "install", "-y", "-q", "zstd"]]);
            sandbox.standIn("zstd", "exit 0");
            const again = await sandbox.run("/usr/bin/bash", [join(HOST_SCRIPT_DIR, "enable-backups.sh")], { env: { PATH: `${sandbox.bin}:${sandbox.path("basic-tools")}` } });
            assert.equal(again.status, 0, describeRun(again));
            assert.equal(sandbox.calls("apt-get").length, 1, "no second install");
        }));

    test("finishes a killed dpkg run before it installs", () =>
        withSandbox(async (sandbox) => {
            interruptedDpkg(sandbox);
            const result = await enableBackups(sandbox, []);
            assert.equal(result.status, 0, describeRun(result));
            assert.deepEqual(sandbox.sequence().filter((name) => name === "dpkg" || name === "apt-get"), ["dpkg", "apt-get"]);
            assert.deepEqual(filesIn(sandbox.path("var/lib/dpkg/updates")), []);
        }));
});

describe("install-omnibus.sh after a killed install (host/lib/packages.sh)", () => {
    const ARGS = ["ee", "18.11.11", "noble", "https://packages.example.test/gitlab", "https://packages.example.test/gpgkey", "F6403F6544A38863DAA0B6E03F01618A51312F3F"];
    function host(sandbox: Sandbox) {
        sandbox.standIn("cloud-init", "echo 'status: done'");
        sandbox.standIn("dpkg-query", "exit 1");
        sandbox.standIn("apt-get", `if [ -n "$(ls -A ${sh(sandbox.path("var/lib/dpkg/updates"))})" ]; then echo "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem." >&2; exit 100; fi`);
        sandbox.standIn("apt-mark", ":");
        sandbox.standIn("curl", `while [ "$1" != --output ]; do shift; done\necho key >"$2"`);
        sandbox.standIn("gpg", `printf 'pub:-:4096\\nfpr:::::::::%s:\\n' F6403F6544A38863DAA0B6E03F01618A51312F3F`);
        return (env: Record<string, string> = {}) =>
            sandbox.runScript("install-omnibus.sh", ARGS, {
                env: {
                    APT_DIR: sandbox.path("etc/apt"),
                    GITLAB_ETC_DIR: sandbox.path("etc/gitlab"),
                    DPKG_ADMINDIR: sandbox.path("var/lib/dpkg"),
                    EXTERNAL_URL: "https://gitlab.example.com",
                    DPKG_LOCK_POLL_SECONDS: "0.1",
                    ...env,
                },
            });
    }
    const installs = (sandbox: Sandbox) => sandbox.calls("apt-get").filter((call) => call.argv.includes("install"));

    test("runs dpkg --configure -a first, without EXTERNAL_URL, then installs", () =>
        withSandbox(async (sandbox) => {
            interruptedDpkg(sandbox);
            const result = await host(sandbox)();
            assert.equal(result.status, 0, describeRun(result));
            assert.match(result.stdout, /dpkg was interrupted; resuming it with dpkg --configure -a/);
            assert.deepEqual(sandbox.sequence().filter((name) => name === "dpkg" || name === "apt-get"), ["dpkg", "apt-get", "apt-get"]);
            const configure = sandbox.calls("dpkg")[0]!;
            assert.equal(configure.env?.EXTERNAL_URL, undefined, "EXTERNAL_URL reached dpkg");
            assert.equal(configure.env?.DEBIAN_FRONTEND, "noninteractive");
            assert.equal(installs(sandbox).length, 1);
        }));

    test("waits while another process holds dpkg's lock, then resumes", () =>
        withSandbox(async (sandbox) => {
            interruptedDpkg(sandbox, { lockedFor: 2 });
            const result = await host(sandbox)();
            assert.equal(result.status, 0, describeRun(result));
            assert.equal(sandbox.calls("dpkg").length, 3);
            assert.match(result.stdout, /lock is held by another process; trying again/);
            assert.equal(installs(sandbox).length, 1);
        }));

    test("a lock held past the wait: FAILED naming it, nothing installed, and a re-run recovers", () =>
        withSandbox(async (sandbox) => {
            interruptedDpkg(sandbox, { lockedFor: 1_000_000 });
            const result = await host(sandbox)({ DPKG_LOCK_WAIT_SECONDS: "1" });
            assert.equal(result.status, 1, describeRun(result));
            assert.match(result.stderr, /FAILED \(exit status 1\): dpkg's lock stayed held by another process for 1s/);
            assert.equal(installs(sandbox).length, 0);
            interruptedDpkg(sandbox);
            const again = await host(sandbox)();
            assert.equal(again.status, 0, describeRun(again));
            assert.equal(installs(sandbox).length, 1);
        }));

    test("a dpkg failure other than the lock: FAILED at once, nothing installed", () =>
        withSandbox(async (sandbox) => {
            interruptedDpkg(sandbox, { fails: true });
            const result = await host(sandbox)();
            assert.equal(result.status, 1, describeRun(result));
            assert.match(result.stderr, /FAILED \(exit status 1\): dpkg --configure -a failed/);
            assert.match(result.stdout, /post-installation script returned error/, "dpkg's own words are shown");
            assert.equal(sandbox.calls("dpkg").length, 1);
            assert.equal(installs(sandbox).length, 0);
        }));
});
