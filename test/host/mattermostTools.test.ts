// host/configure-gitlab-plugin.sh and the operator tools in host/tools/, run against RECORDING
// STAND-INS for Omnibus's chpst, mmctl, mattermost and gitlab-ctl (none exist off a GitLab host), and
// for a standalone host's runuser, systemd-run and release binaries.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { filesIn, type Sandbox, withSandbox } from "../support/standIns";
import { STANDALONE_LAYOUT } from "../../components/mattermost/standalone/hostLayout";
import { mattermostUnit } from "../../components/mattermost/standalone/mattermostUnit";
import { mattermostTools } from "../../components/mattermost/mattermostTools";
import { hostFile } from "../../components/omnibus/hostScripts";
import { planHosts } from "../../components/settings/topology";
import { parseConfig, stackConfig } from "../support/stackConfig";

const PLUGIN = "com.github.manland.mattermost-plugin-gitlab";
const PATCH = JSON.stringify({ PluginSettings: { Plugins: { [PLUGIN]: { gitlaboauthclientsecret: "s3cret" } } } });

/** An Omnibus tree of stand-ins. chpst records its arguments and runs the rest of its command line. */
function omnibus(sandbox: Sandbox, options: { pluginListed?: boolean; patchFails?: boolean } = {}) {
    const root = sandbox.path("opt/gitlab");
    sandbox.standIn(
        "chpst",
        `record_env
# Skip chpst's own options (-e DIR, -u/-U USER, -P) and run the program, as chpst would.
while [ "$#" -gt 0 ]; do
    case "$1" in
    -e | -u | -U) shift 2 ;;
    -P) shift ;;
    *) break ;;
    esac
done
pwd >"$CALL_DIR/cwd"
exec "$@"`,
        join(root, "embedded/bin/chpst"),
    );
    sandbox.standIn(
        "mmctl",
        `case "$*" in
"--local config patch "*) cp "\${!#}" "$CALL_DIR/patch"; stat -c '%a' "\${!#}" >"$CALL_DIR/mode"; ${options.patchFails ? 'echo "Error: invalid config" >&2; exit 1' : 'echo "Config patched successfully"'} ;;
"--local plugin list") printf 'Listing enabled plugins\\n%s\\nListing disabled plugins\\ncom.mattermost.calls: Calls\\n' ${options.pluginListed === false ? "''" : `'${PLUGIN}: GitLab, Version: 1.9.0'`} ;;
*) echo "mmctl stand-in: unexpected $*" >&2; exit 2 ;;
esac`,
        join(root, "embedded/bin/mmctl"),
    );
    sandbox.standIn("mattermost", `echo "stand-in mattermost $*"`, join(root, "embedded/bin/mattermost"));
    sandbox.standIn("gitlab-ctl", `echo "stand-in gitlab-ctl $*"`, join(root, "bin/gitlab-ctl"));
    sandbox.standIn("curl", `printf '%s' '{"status":"OK"}'`);
    sandbox.standIn("chown", `echo "stand-in chown $*"`);
    sandbox.write("opt/gitlab/embedded/service/mattermost/VERSION", "10.11.20\n");
    return root;
}

describe("configure-gitlab-plugin.sh", () => {
    const run = (sandbox: Sandbox, root: string) =>
        sandbox.runScript("configure-gitlab-plugin.sh", [PLUGIN, "30"], {
            input: PATCH,
            env: { OMNIBUS_DIR: root, HEALTH_INTERVAL_SECONDS: "0" },
        });

    test("patches the configuration as the mattermost user, restarts Mattermost, and checks the plugin is enabled", () =>
        withSandbox(async (sandbox) => {
            const root = omnibus(sandbox);
            const result = await run(sandbox, root);
            assert.equal(result.status, 0, result.stderr);
            assert.deepEqual(sandbox.sequence().filter((name) => name !== "chown"), ["chpst", "mmctl", "gitlab-ctl", "curl", "chpst", "mmctl"]);
            const [patchCall, listCall] = sandbox.calls("mmctl");
            assert.equal(patchCall.argv.slice(0, 3).join(" "), "--local config patch");
            assert.equal(readFileSync(join(patchCall.dir, "patch"), "utf8"), PATCH, "the patch reached mmctl whole");
            assert.equal(readFileSync(join(patchCall.dir, "mode"), "utf8").trim(), "600");
            assert.deepEqual(listCall.argv, ["--local", "plugin", "list"]);
            for (const call of sandbox.calls("chpst")) {
                assert.deepEqual(call.argv.slice(0, 2), ["-u", "mattermost:mattermost"]);
            }
            assert.ok(sandbox.calls("chown").some((c) => c.argv.join(" ").startsWith("mattermost:mattermost ")));
            assert.deepEqual(sandbox.calls("gitlab-ctl").map((c) => c.argv), [["restart", "mattermost"]]);
            assert.deepEqual(filesIn(sandbox.tmp), [], "the patch file is removed");
            assert.ok(!(result.stdout + result.stderr).includes("s3cret"), "the secret is never printed");
        }));

    test("on a standalone host: the release's mmctl as the mattermost user, and a restart through systemd", () =>
        withSandbox(async (sandbox) => {
            const root = omnibus(sandbox);
            const mmctl = join(root, "embedded/bin/mmctl");
            sandbox.standIn("runuser", 'while [ "$1" != -- ]; do shift; done; shift; exec "$@"');
            sandbox.standIn("systemctl", "exit 0");
            const result = await sandbox.runScript("configure-gitlab-plugin.sh", [PLUGIN, "30", mmctl], {
                input: PATCH,
                env: { OMNIBUS_DIR: sandbox.path("no-omnibus-here"), HEALTH_INTERVAL_SECONDS: "0" },
            });
            assert.equal(result.status, 0, result.stderr);
            assert.deepEqual(sandbox.sequence().filter((name) => name !== "chown"), ["runuser", "mmctl", "systemctl", "curl", "runuser", "mmctl"]);
            for (const call of sandbox.calls("runuser")) assert.deepEqual(call.argv.slice(0, 5), ["-u", "mattermost", "--", mmctl, "--local"]);
            assert.equal(readFileSync(join(sandbox.calls("mmctl")[0]!.dir, "patch"), "utf8"), PATCH);
            assert.deepEqual(sandbox.calls("systemctl").map((c) => c.argv), [["restart", "mattermost.service"]]);
            assert.equal(sandbox.calls("gitlab-ctl").length + sandbox.calls("chpst").length, 0, "no Omnibus tool");
            assert.deepEqual(filesIn(sandbox.tmp), []);
        }));

    test("fails when the plugin is not enabled after the restart", () =>
        withSandbox(async (sandbox) => {
            const result = await run(sandbox, omnibus(sandbox, { pluginListed: false }));
            assert.notEqual(result.status, 0);
            assert.match(result.stderr, new RegExp(`${PLUGIN.replace(/\./g, "\\.")} is not enabled after the restart`));
        }));

    test("stops before restarting when the patch is refused", () =>
        withSandbox(async (sandbox) => {
            const result = await run(sandbox, omnibus(sandbox, { patchFails: true }));
            assert.notEqual(result.status, 0);
            assert.equal(sandbox.calls("gitlab-ctl").length, 0);
            assert.deepEqual(filesIn(sandbox.tmp), []);
        }));
});

describe("tools/mattermost-cli.sh", () => {
    test("runs the bundled binary as mattermost, with Omnibus's env directory, from the install directory", () =>
        withSandbox(async (sandbox) => {
            const root = omnibus(sandbox);
            const result = await sandbox.runScript("tools/mattermost-cli.sh", ["version"], { env: { OMNIBUS_DIR: root } });
            assert.equal(result.status, 0, result.stderr);
            const [chpst] = sandbox.calls("chpst");
            assert.deepEqual(chpst.argv, [
                "-e", join(root, "etc/mattermost/env"), "-P", "-U", "mattermost:mattermost", "-u", "mattermost:mattermost",
                join(root, "embedded/bin/mattermost"), "--config", "/var/opt/gitlab/mattermost/config.json", "version",
            ]);
            assert.equal(readFileSync(join(chpst.dir, "cwd"), "utf8").trim(), join(root, "embedded/service/mattermost"));
            assert.deepEqual(sandbox.calls("mattermost").map((c) => c.argv), [["--config", "/var/opt/gitlab/mattermost/config.json", "version"]]);
        }));
});

describe("tools/mmctl.sh", () => {
    test("runs the bundled mmctl in local mode as mattermost", () =>
        withSandbox(async (sandbox) => {
            const root = omnibus(sandbox);
            const result = await sandbox.runScript("tools/mmctl.sh", ["plugin", "list"], { env: { OMNIBUS_DIR: root } });
            assert.equal(result.status, 0, result.stderr);
            assert.deepEqual(sandbox.calls("chpst")[0].argv, ["-u", "mattermost:mattermost", join(root, "embedded/bin/mmctl"), "--local", "plugin", "list"]);
            assert.deepEqual(sandbox.calls("mmctl").map((c) => c.argv), [["--local", "plugin", "list"]]);
        }));
});

describe("the tools on a standalone Mattermost host (tools/*-standalone.sh)", () => {
    /** A release under `opt/mattermost` of the sandbox with stand-ins for its binaries. */
    function release(sandbox: Sandbox): string {
        const dir = sandbox.path("opt/mattermost");
        sandbox.standIn("mmctl", `echo "stand-in mmctl $*"`, join(dir, "bin/mmctl"));
        sandbox.standIn("mattermost", `echo "stand-in mattermost $*"`, join(dir, "bin/mattermost"));
        return dir;
    }

    test("mmctl runs the release's mmctl in local mode as the mattermost user", () =>
        withSandbox(async (sandbox) => {
            const dir = release(sandbox);
            // runuser, as root runs it: drop to the user (recorded) and run the command after --.
            sandbox.standIn("runuser", 'while [ "$1" != -- ]; do shift; done; shift; exec "$@"');
            const result = await sandbox.runScript("tools/mmctl-standalone.sh", ["user", "list"], { env: { MATTERMOST_RELEASE: dir } });
            assert.equal(result.status, 0, result.stderr);
            assert.deepEqual(sandbox.calls("runuser").map((c) => c.argv), [["-u", STANDALONE_LAYOUT.user, "--", join(dir, "bin/mmctl"), "--local", "user", "list"]]);
            assert.equal(result.stdout, "stand-in mmctl --local user list\n");
        }));

    test("mattermost-cli runs the release's binary as the unit runs the server: its user, directory, environment file and config", () =>
        withSandbox(async (sandbox) => {
            sandbox.standIn("systemd-run", 'echo "stand-in systemd-run"');
            const result = await sandbox.runScript("tools/mattermost-cli-standalone.sh", ["version"]);
            assert.equal(result.status, 0, result.stderr);
            const [call] = sandbox.calls("systemd-run");
            const unit = mattermostUnit();
            const unitValue = (key: string) => new RegExp(`^${key}=(.*)$`, "m").exec(unit)![1]!;
            const command = call!.argv.slice(call!.argv.indexOf("--") + 1);
            assert.deepEqual(command, [...unitValue("ExecStart").split(" "), "version"], "the unit's ExecStart, with the arguments");
            const options = call!.argv.slice(0, call!.argv.indexOf("--"));
            for (const expected of [`--uid=${unitValue("User")}`, `--gid=${unitValue("Group")}`, `--working-directory=${unitValue("WorkingDirectory")}`, `--property=EnvironmentFile=${unitValue("EnvironmentFile")}`, "--pipe", "--wait"]) {
                assert.ok(options.includes(expected), `${expected} in ${options.join(" ")}`);
            }
        }));

    test("each kind of host gets its own script under the same two commands", () => {
        const split = planHosts(parseConfig(stackConfig("split")));
        const standalone = planHosts(parseConfig(stackConfig("split", { gitlab: { version: "19.3.0" }, mattermost: { mode: "standalone", version: "11.7.9" } })));
        const single = planHosts(parseConfig(stackConfig("single")));
        assert.deepEqual(mattermostTools(split[0]!), [], "the GitLab host of a split stack runs no Mattermost");
        assert.deepEqual(mattermostTools(single[0]!).map((tool) => tool.source), ["tools/mattermost-cli.sh", "tools/mmctl.sh"]);
        assert.deepEqual(mattermostTools(split[1]!), mattermostTools(single[0]!));
        assert.deepEqual(mattermostTools(standalone[1]!).map((tool) => [tool.path, tool.source]), [
            ["/usr/local/bin/mattermost-cli", "tools/mattermost-cli-standalone.sh"],
            ["/usr/local/bin/mmctl", "tools/mmctl-standalone.sh"],
        ]);
        for (const tool of mattermostTools(standalone[1]!)) assert.ok(hostFile(tool.source).startsWith("#!/usr/bin/env bash\n"), tool.source);
    });
});
