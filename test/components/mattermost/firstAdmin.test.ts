// Mattermost's first system administrator on Pulumi's mock runtime: where and when its step runs,
// what it is given, and how its password leaves the stack.

import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { scriptOfCommand } from "../../../components/omnibus/hostScripts";
import { FIRST_ADMIN_FLAG } from "../../../components/mattermost/signUpPolicy";
import { HEALTH_TIMEOUT_SECONDS } from "../../../components/settings/settings";
import { generatedPlaceholder, runOffline, type OfflineRun, type RegisteredResource } from "../../../scripts/offlineRuntime";
import { stackConfig } from "../../support/stackConfig";

const command = (run: OfflineRun, name: string): RegisteredResource => {
    const found = run.resources.find((r) => r.type === "command:remote:Command" && r.name === name);
    assert.ok(found, `no command ${name}`);
    return found;
};
const hostOf = (run: OfflineRun, name: string) => (command(run, name).inputs.connection as { host: string }).host;
const PASSWORD = generatedPlaceholder("mattermost-admin-password", "result");

for (const topology of ["single", "split"] as const) {
    describe(`first system administrator, ${topology} topology`, () => {
        const mattermostHost = topology === "single" ? "gitlab" : "mattermost";
        let run: OfflineRun;
        before(async () => {
            run = await runOffline(stackConfig(topology, { mattermost: { ...(topology === "split" ? { instanceType: "c6a.large" } : {}), gitlabPlugin: { enabled: true } } }));
        });

        it("runs on the Mattermost host once Mattermost is healthy and the mmctl wrapper is installed", () => {
            const step = command(run, "mattermost-admin-ensure");
            assert.equal(scriptOfCommand(String(step.inputs.create)), "ensure-mattermost-admin.sh");
            assert.equal(hostOf(run, "mattermost-admin-ensure"), hostOf(run, `${mattermostHost}-gitlab-rb`));
            for (const earlier of [`${mattermostHost}-gitlab-rb`, `${mattermostHost}-mattermost-health`, `${mattermostHost}-tools-file-mmctl`]) {
                assert.ok(step.dependsOn.includes(earlier), `after ${earlier}`);
            }
            // A new instance checks the account again, as it reconfigures (its first trigger is the instance).
            const instance = (command(run, `${mattermostHost}-gitlab-rb`).inputs.triggers as unknown[])[0];
            assert.deepEqual(step.inputs.triggers, [instance]);
        });

        it("keeps account creation closed on the Mattermost vhost, from its first start, until this step writes its flag", () => {
            const flag = String(command(run, "mattermost-admin-ensure").inputs.create).split(" ").at(-1);
            assert.equal(flag, "/var/lib/gitlab-mattermost/mattermost-first-admin");
            const gitlabRb = String(command(run, `${mattermostHost}-gitlab-rb`).inputs.stdin);
            const gate = /^mattermost_nginx\['custom_gitlab_mattermost_server_config'\] = (.*)$/m.exec(gitlabRb)?.[1] ?? "";
            assert.ok(gate.includes(`if (!-f ${flag})`), `the gate tests the flag the step writes: ${gate}`);
            assert.match(gate, /return 503/);
            if (topology === "split") {
                assert.doesNotMatch(String(command(run, "gitlab-gitlab-rb").inputs.stdin), /custom_gitlab_mattermost_server_config/, "the GitLab host serves no Mattermost");
            }
        });

        it("comes before the GitLab plugin step, which restarts Mattermost", () => {
            assert.ok(command(run, "gitlab-plugin-configure").dependsOn.includes("mattermost-admin-ensure"));
            assert.ok(!command(run, "mattermost-admin-ensure").dependsOn.includes("gitlab-plugin-configure"));
        });

        it("names the account in the command and sends its password only on stdin, as a secret", () => {
            const step = command(run, "mattermost-admin-ensure");
            const create = String(step.inputs.create);
            assert.ok(create.endsWith(` ensure-mattermost-admin.sh mmadmin mmadmin@example.com ${HEALTH_TIMEOUT_SECONDS} ${FIRST_ADMIN_FLAG}`), create.slice(-120));
            assert.ok(!create.includes(PASSWORD));
            assert.equal(step.inputs.stdin, `${PASSWORD}\n`);
            assert.ok(step.secretInputs.includes("stdin"));
        });

        it("generates a password any PasswordSettings accept and JSON carries as written", () => {
            const password = run.resources.find((r) => r.type === "random:index/randomPassword:RandomPassword" && r.name === "mattermost-admin-password");
            assert.ok(password);
            assert.equal(password.inputs.length, 32);
            for (const kind of ["minLower", "minUpper", "minNumeric", "minSpecial"]) {
                assert.ok(Number(password.inputs[kind]) >= 1, kind);
            }
            assert.doesNotMatch(String(password.inputs.overrideSpecial), /["\\]/);
        });

        it("exports the username and the password, the password as a secret", () => {
            const outputs = run.outputs as Record<string, unknown>;
            assert.equal(outputs.mattermostAdminUsername, "mmadmin");
            assert.deepEqual(outputs.mattermostAdminPassword, { secret: PASSWORD });
        });
    });
}

describe("first system administrator with a restore", () => {
    it("is ensured after the restore, which would replace the account", async () => {
        const run = await runOffline(stackConfig("split", { backup: { restoreFrom: "20261120T031500Z" } }));
        assert.ok(command(run, "mattermost-admin-ensure").dependsOn.includes("mattermost-restore"));
    });

    it("takes mattermost.adminUsername", async () => {
        const run = await runOffline(stackConfig("single", { mattermost: { adminUsername: "chatops" } }));
        assert.match(String(command(run, "mattermost-admin-ensure").inputs.create), / ensure-mattermost-admin\.sh chatops chatops@example\.com \d+ \/var\/lib\/gitlab-mattermost\/mattermost-first-admin$/);
        assert.equal((run.outputs as Record<string, unknown>).mattermostAdminUsername, "chatops");
    });
});
