// The GitLab plugin and the operator tools, on Pulumi's mock runtime: the plugin's own OAuth
// application, its configuration step, and the wrappers installed on the Mattermost host.

import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { hostFile, scriptOfCommand } from "../../../components/omnibus/hostScripts";
import { generatedPlaceholder, runOffline, type OfflineRun, type RegisteredResource } from "../../../scripts/offlineRuntime";
import { stackConfig } from "../../support/stackConfig";

const PLUGIN = "com.github.manland.mattermost-plugin-gitlab";

const command = (run: OfflineRun, name: string): RegisteredResource => {
    const found = run.resources.find((r) => r.type === "command:remote:Command" && r.name === name);
    assert.ok(found, `no command ${name}`);
    return found;
};
const hostOf = (run: OfflineRun, name: string) => (command(run, name).inputs.connection as { host: string }).host;

for (const topology of ["single", "split"] as const) {
    describe(`mattermost.gitlabPlugin, ${topology} topology`, () => {
        let run: OfflineRun;
        const mattermostHost = topology === "single" ? "gitlab" : "mattermost";
        before(async () => {
            run = await runOffline(stackConfig(topology, { mattermost: { gitlabPlugin: { enabled: true } } }));
        });

        it("registers a second OAuth application on GitLab, for the plugin's callback with api and read_user", () => {
            const register = command(run, "gitlab-plugin-oauth-ahead-register");
            assert.equal(scriptOfCommand(String(register.inputs.create)), "ensure-oauth-application.sh");
            assert.equal(hostOf(run, "gitlab-plugin-oauth-register"), hostOf(run, "gitlab-gitlab-rb"));
            assert.deepEqual(JSON.parse(String(register.inputs.stdin)), {
                name: "GitLab Mattermost plugin",
                uid: generatedPlaceholder("gitlab-plugin-oauth-client-id", "result"),
                secret: generatedPlaceholder("gitlab-plugin-oauth-client-secret", "result"),
                redirect_uri: `https://mattermost.example.com/plugins/${PLUGIN}/oauth/complete`,
                scopes: "api read_user",
                revoke_others: false,
            });
            assert.ok(register.secretInputs.includes("stdin"));
            assert.ok(register.dependsOn.includes("gitlab-gitlab-rb"));
        });

        it("configures the plugin on the Mattermost host once Mattermost is healthy, secrets on stdin", () => {
            const configure = command(run, "gitlab-plugin-configure");
            assert.equal(scriptOfCommand(String(configure.inputs.create)), "configure-gitlab-plugin.sh");
            assert.ok(String(configure.inputs.create).includes(` configure-gitlab-plugin.sh ${PLUGIN} `));
            assert.equal(hostOf(run, "gitlab-plugin-configure"), hostOf(run, `${mattermostHost}-gitlab-rb`));
            for (const before of [`${mattermostHost}-gitlab-rb`, `${mattermostHost}-mattermost-health`, "gitlab-plugin-oauth-ahead-register"]) {
                assert.ok(configure.dependsOn.includes(before), `after ${before}`);
            }
            assert.ok(configure.secretInputs.includes("stdin"));
            const patch = JSON.parse(String(configure.inputs.stdin));
            assert.deepEqual(patch.PluginSettings.PluginStates, { [PLUGIN]: { Enable: true } });
            assert.deepEqual(patch.PluginSettings.Plugins[PLUGIN], {
                gitlaburl: "https://gitlab.example.com",
                gitlaboauthclientid: generatedPlaceholder("gitlab-plugin-oauth-client-id", "result"),
                gitlaboauthclientsecret: generatedPlaceholder("gitlab-plugin-oauth-client-secret", "result"),
                webhooksecret: generatedPlaceholder("gitlab-plugin-webhook-secret", "result"),
                encryptionkey: generatedPlaceholder("gitlab-plugin-encryption-key", "result"),
                usepreregisteredapplication: false,
            });
            assert.deepEqual(Object.keys(patch.PluginSettings), ["PluginStates", "Plugins"], "only the plugin's part of the configuration");
            const keys = run.resources.filter((r) => r.type === "random:index/randomPassword:RandomPassword" && r.name.startsWith("gitlab-plugin-"));
            assert.deepEqual(keys.map((k) => [k.name, k.inputs.length]).sort(), [
                ["gitlab-plugin-encryption-key", 32],
                ["gitlab-plugin-oauth-client-secret", 64],
                ["gitlab-plugin-webhook-secret", 32],
            ]);
        });
    });
}

describe("without the plugin", () => {
    it("registers only the sign-in application and configures no plugin", async () => {
        const run = await runOffline(stackConfig("split"));
        const names = run.resources.filter((r) => r.type === "command:remote:Command").map((r) => r.name);
        assert.ok(names.includes("oauth-register"));
        assert.ok(!names.some((name) => name.startsWith("gitlab-plugin")));
    });
});

describe("operator tools on the Mattermost host", () => {
    for (const topology of ["single", "split"] as const) {
        it(`installs mattermost-cli and mmctl 0755 on the host that runs Mattermost (${topology}) and exports how to run them`, async () => {
            const run = await runOffline(stackConfig(topology));
            const mattermostHost = topology === "single" ? "gitlab" : "mattermost";
            const tools = run.resources.filter((r) => r.type === "command:remote:Command" && r.name.startsWith(`${mattermostHost}-tools-`));
            const installed = Object.fromEntries(tools.map((t) => [String(t.inputs.create).split(" ").slice(-2).join(" "), t.inputs.stdin]));
            assert.deepEqual(installed, {
                "/usr/local/bin/mattermost-cli 0755": hostFile("tools/mattermost-cli.sh"),
                "/usr/local/bin/mmctl 0755": hostFile("tools/mmctl.sh"),
            });
            for (const tool of tools) {
                assert.ok(tool.dependsOn.includes(`${mattermostHost}-install`));
                assert.equal((tool.inputs.connection as { host: string }).host, hostOf(run, `${mattermostHost}-gitlab-rb`));
            }
            if (topology === "split") {
                assert.ok(!run.resources.some((r) => r.name.startsWith("gitlab-tools-")), "not on the GitLab host");
            }
            const ip = (run.outputs.hosts as Record<string, { publicIp: string }>)[mattermostHost].publicIp;
            assert.equal(run.outputs.mattermostCliCommand, `ssh -i gitlab-mattermost.key ubuntu@${ip} sudo mattermost-cli`);
            assert.equal(run.outputs.mmctlCommand, `ssh -i gitlab-mattermost.key ubuntu@${ip} sudo mmctl`);
            assert.equal(run.outputs.mattermostDatabaseCommand, `ssh -t -i gitlab-mattermost.key ubuntu@${ip} sudo gitlab-psql -d mattermost_production`);
        });
    }
});
