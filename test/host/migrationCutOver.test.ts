// The move's cut-over steps on real bash with recording stand-ins: retire-bundled-mattermost.sh (the
// bundle stays stopped, its backup timer off) and check-gitlab-config.sh (gitlab.rb against the first
// GitLab line without the bundle). systemctl and gitlab-ctl are RECORDING STAND-INS (test/support/standIns.ts).

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { sh, withSandbox, waitForFile, type Sandbox } from "../support/standIns";

const RETIRE = "migration/retire-bundled-mattermost.sh";
const CHECK = "migration/check-gitlab-config.sh";

/** systemctl as on a host that has (or lacks) the Mattermost backup timer; `disable` may fail or hang. */
function systemctl(sandbox: Sandbox, scenario: { timer: boolean; disable?: "fails" | "hangs" }): void {
    const started = sandbox.path("disable-started");
    sandbox.standIn(
        "systemctl",
        `case "$1" in
list-unit-files) ${scenario.timer ? `echo "mattermost-backup.timer enabled enabled"` : "true"} ;;
disable) ${scenario.disable === "fails" ? `echo "stand-in systemctl: disable failed" >&2; exit 1` : scenario.disable === "hangs" ? `touch ${sh(started)}; sleep 30` : "true"} ;;
*) echo "systemctl stand-in: unexpected $*" >&2; exit 64 ;;
esac`,
    );
}

function retireEnv(sandbox: Sandbox) {
    return { env: { MM_SERVICE_DIR: sandbox.path("sv/mattermost") } };
}

describe("retire-bundled-mattermost.sh", () => {
    it("turns the bundle's backup timer off and keeps runit from starting it; a re-run changes nothing", () =>
        withSandbox(async (sandbox) => {
            systemctl(sandbox, { timer: true });
            sandbox.write("sv/mattermost/run", "#!/bin/sh\n");
            for (const run of [1, 2]) {
                const result = await sandbox.runScript(RETIRE, [], retireEnv(sandbox));
                assert.equal(result.status, 0, result.stderr);
                assert.ok(existsSync(sandbox.path("sv/mattermost/down")), `run ${run}`);
                assert.ok(!existsSync(sandbox.path("sv/mattermost/down.new")));
            }
            const disables = sandbox.calls("systemctl").filter((call) => call.argv[0] === "disable").map((call) => call.argv.join(" "));
            assert.deepEqual(disables, ["disable --now mattermost-backup.timer", "disable --now mattermost-backup.timer"]);
        }));

    it("leaves systemd alone where the timer does not exist, and runit alone where the service does not", () =>
        withSandbox(async (sandbox) => {
            systemctl(sandbox, { timer: false });
            const result = await sandbox.runScript(RETIRE, [], retireEnv(sandbox));
            assert.equal(result.status, 0, result.stderr);
            assert.deepEqual(sandbox.calls("systemctl").map((call) => call.argv[0]), ["list-unit-files"]);
            assert.ok(!existsSync(sandbox.path("sv/mattermost")));
        }));

    it("fails saying which step, with nothing written, when the timer cannot be stopped", () =>
        withSandbox(async (sandbox) => {
            systemctl(sandbox, { timer: true, disable: "fails" });
            sandbox.write("sv/mattermost/run", "#!/bin/sh\n");
            const result = await sandbox.runScript(RETIRE, [], retireEnv(sandbox));
            assert.notEqual(result.status, 0);
            assert.match(result.stderr, /retire-bundled-mattermost: FAILED \(exit status 1\): stopping mattermost-backup\.timer$/m);
            assert.ok(!existsSync(sandbox.path("sv/mattermost/down")));
        }));

    for (const signal of ["SIGTERM", "SIGHUP", "SIGPIPE"] as const) {
        it(`fails on ${signal} (a cancelled run, a lost connection), and a re-run completes`, () =>
            withSandbox(async (sandbox) => {
                systemctl(sandbox, { timer: true, disable: "hangs" });
                sandbox.write("sv/mattermost/run", "#!/bin/sh\n");
                const running = sandbox.start(RETIRE, [], retireEnv(sandbox));
                await waitForFile(sandbox.path("disable-started"));
                running.signal(signal);
                const result = await running.done;
                assert.notEqual(result.status, 0);
                assert.match(result.stderr, new RegExp(`FAILED \\(ended by ${signal}\\)`));
                assert.ok(!existsSync(sandbox.path("sv/mattermost/down")));
                systemctl(sandbox, { timer: true });
                const again = await sandbox.runScript(RETIRE, [], retireEnv(sandbox));
                assert.equal(again.status, 0, again.stderr);
                assert.ok(existsSync(sandbox.path("sv/mattermost/down")));
            }));
    }
});

describe("check-gitlab-config.sh", () => {
    /** gitlab-ctl whose check-config refuses or accepts, or hangs. */
    const gitlabCtl = (sandbox: Sandbox, answer: "accepts" | "refuses" | "hangs") =>
        sandbox.standIn(
            "gitlab-ctl",
            `[ "$1" = check-config ] || { echo "stand-in gitlab-ctl: only check-config is expected" >&2; exit 64; }
${answer === "refuses" ? `echo "stand-in check-config: gitlab.rb sets mattermost['enable'], which GitLab \${2#--version=} removed"; exit 1` : answer === "hangs" ? `touch ${sh(sandbox.path("check-started"))}; sleep 30` : `echo "stand-in check-config: fine"`}`,
        );

    it("passes when gitlab-ctl accepts gitlab.rb for the line", () =>
        withSandbox(async (sandbox) => {
            gitlabCtl(sandbox, "accepts");
            const result = await sandbox.runScript(CHECK, ["19.0"]);
            assert.equal(result.status, 0, result.stderr);
            assert.deepEqual(sandbox.calls("gitlab-ctl").map((call) => call.argv.join(" ")), ["check-config --version=19.0"]);
            assert.match(result.stdout, /gitlab\.rb is ready for GitLab 19\.0/);
        }));

    it("fails naming gitlab.rb and what to do when gitlab-ctl refuses it", () =>
        withSandbox(async (sandbox) => {
            gitlabCtl(sandbox, "refuses");
            const result = await sandbox.runScript(CHECK, ["19.0"]);
            assert.notEqual(result.status, 0);
            assert.match(result.stdout, /mattermost\['enable'\], which GitLab 19\.0 removed/);
            assert.match(result.stderr, /FAILED \(exit status 1\): gitlab-ctl check-config --version=19\.0 failed: \/etc\/gitlab\/gitlab\.rb sets what GitLab 19\.0 refuses/);
        }));

    it("refuses a line that is not MAJOR.MINOR, before calling gitlab-ctl", () =>
        withSandbox(async (sandbox) => {
            gitlabCtl(sandbox, "accepts");
            const result = await sandbox.runScript(CHECK, ["19"]);
            assert.notEqual(result.status, 0);
            assert.match(result.stderr, /FAILED \(exit status 1\): the release line must be MAJOR\.MINOR, got 19$/m);
            assert.deepEqual(sandbox.calls("gitlab-ctl"), []);
        }));

    it("fails on SIGHUP while the check runs", () =>
        withSandbox(async (sandbox) => {
            gitlabCtl(sandbox, "hangs");
            const running = sandbox.start(CHECK, ["19.0"]);
            await waitForFile(sandbox.path("check-started"));
            running.signal("SIGHUP");
            const result = await running.done;
            assert.notEqual(result.status, 0);
            assert.match(result.stderr, /FAILED \(ended by SIGHUP\)/);
        }));
});
