import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { readStackConfig, render } from "../../scripts/render";
import { encryptedStack } from "../support/stackSecrets";

const root = join(__dirname, "..", "..");
const stacksDir = join(root, "stacks");
const scratch = mkdtempSync(join(tmpdir(), "render-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe("render", () => {
    it("prints the single host's gitlab.rb from the shipped stack file", async () => {
        const text = await render({ stack: "single", json: false, showSecrets: false, stacksDir });
        assert.match(text, /^# ==> gitlab host: \/etc\/gitlab\/gitlab\.rb\n# Managed by gitlab-mattermost \(stack single, gitlab host\)/);
        assert.match(text, /^external_url "https:\/\/gitlab\.example\.com"$/m);
        assert.match(text, /^mattermost_external_url "https:\/\/mattermost\.example\.com"$/m);
        assert.equal(text.match(/^# ==> /gm)?.length, 1);
    });

    it("prints both hosts of the split stack, or one with --host", async () => {
        const both = await render({ stack: "split", json: false, showSecrets: false, stacksDir });
        assert.deepEqual(both.match(/^# ==> \w+ host/gm), ["# ==> gitlab host", "# ==> mattermost host"]);
        const one = await render({ stack: "split", host: "mattermost", json: false, showSecrets: false, stacksDir });
        assert.deepEqual(one.match(/^# ==> \w+ host/gm), ["# ==> mattermost host"]);
        assert.match(one, /^mattermost\['env'\] = \{ "MM_SERVICESETTINGS_ENABLELOCALMODE" => "true", "TZ" => "Europe\/Berlin" \}$/m);
        assert.match(one, /^mattermost\['gitlab_token_endpoint'\] = "https:\/\/gitlab\.example\.com\/oauth\/token"$/m);
    });

    it("refuses a host the topology does not have", async () => {
        await assert.rejects(render({ stack: "single", host: "mattermost", json: false, showSecrets: false, stacksDir }), /no mattermost host; its hosts are: gitlab/);
    });

    it("masks secret inputs in --json unless --show-secrets", async () => {
        const masked = JSON.parse(await render({ stack: "split", json: true, showSecrets: false, stacksDir }));
        const apply = masked.resources.find((r: { name: string }) => r.name === "gitlab-gitlab-rb");
        assert.equal(apply.inputs.stdin, "[secret]");
        assert.equal(apply.inputs.connection, "[secret]");
        assert.equal(masked.hosts.gitlab.files["/etc/gitlab/gitlab.rb"], "[secret]");
        assert.equal(masked.outputs.initialRootPassword, "[secret]");
        assert.ok(masked.resources.some((r: { type: string }) => r.type === "aws:ec2/instance:Instance"));

        const shown = JSON.parse(await render({ stack: "split", json: true, showSecrets: true, stacksDir }));
        const plainText = await render({ stack: "split", host: "gitlab", json: false, showSecrets: false, stacksDir });
        assert.equal(`# ==> gitlab host: /etc/gitlab/gitlab.rb\n${shown.hosts.gitlab.files["/etc/gitlab/gitlab.rb"]}`, plainText);
        assert.equal(shown.resources.find((r: { name: string }) => r.name === "gitlab-gitlab-rb").inputs.stdin, shown.hosts.gitlab.files["/etc/gitlab/gitlab.rb"]);
        assert.match(shown.outputs.initialRootPassword, /generated at deploy/);
    });

    it("decrypts encrypted config with the stack's passphrase, and marks those keys secret", async () => {
        writeFileSync(join(scratch, "Pulumi.enc.yaml"), encryptedStack({ HTTPS_PROXY: "http://user:pa55@proxy.internal:3128" }));
        const { config, secretKeys } = readStackConfig(scratch, "enc", "password");
        assert.equal((config["gitlab-mattermost:mattermost"] as { env: Record<string, string> }).env.HTTPS_PROXY, "http://user:pa55@proxy.internal:3128");
        assert.deepEqual(secretKeys, ["gitlab-mattermost:mattermost"]);

        const text = await render({ stack: "enc", host: "mattermost", json: false, showSecrets: false, stacksDir: scratch, passphrase: "password" });
        assert.match(text, /"HTTPS_PROXY" => "http:\/\/user:pa55@proxy\.internal:3128"/);
        const json = JSON.parse(await render({ stack: "enc", json: true, showSecrets: false, stacksDir: scratch, passphrase: "password" }));
        assert.equal(json.hosts.mattermost.files["/etc/gitlab/gitlab.rb"], "[secret]");
        assert.ok(!JSON.stringify(json).includes("pa55"), "nothing from the encrypted value leaks without --show-secrets");
    });

    it("asks for the passphrase, or refuses a wrong one", () => {
        writeFileSync(join(scratch, "Pulumi.enc.yaml"), encryptedStack({ HTTPS_PROXY: "x" }));
        assert.throws(() => readStackConfig(scratch, "enc", undefined), /holds encrypted values \(gitlab-mattermost:mattermost\.env\.HTTPS_PROXY\); set PULUMI_CONFIG_PASSPHRASE/);
        assert.throws(() => readStackConfig(scratch, "enc", "not-the-passphrase"), /incorrect passphrase/);
    });
});

describe("npm run render", () => {
    it("is the script package.json names", () => {
        const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
        assert.equal(pkg.scripts.render, "node --import tsx scripts/render.ts");
    });

    it("prints gitlab.rb from the command line", () => {
        const out = execFileSync(process.execPath, ["--import", "tsx", "scripts/render.ts", "--stack", "split", "--host", "gitlab"], { cwd: root, encoding: "utf8" });
        assert.match(out, /^gitlab_rails\['mattermost_host'\] = "https:\/\/chat\.example\.com"$/m);
    });

    it("exits 1 with a one-line error and no stack trace", () => {
        const result = spawnSync(process.execPath, ["--import", "tsx", "scripts/render.ts", "--stack", "no-such-stack"], { cwd: root, encoding: "utf8" });
        assert.equal(result.status, 1);
        assert.match(result.stderr, /^render: no stack file .*Pulumi\.no-such-stack\.yaml/);
        assert.doesNotMatch(result.stderr, /\n\s+at /);
    });

    it("reports bad configuration with the key, as pulumi up would", async () => {
        writeFileSync(join(scratch, "Pulumi.bad.yaml"), "config:\n  gitlab-mattermost:externalUrl: https://gitlab.example.com/sub\n");
        await assert.rejects(render({ stack: "bad", json: false, showSecrets: false, stacksDir: scratch }), /^OfflineProgramError: gitlab-mattermost:externalUrl must not have a path/);
    });
});
