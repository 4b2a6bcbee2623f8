import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { deployedFromFlag, readDeployedFromLocalState, readStackConfig, render, stackRegion, writeOutput } from "../../scripts/render";
import { encryptedStack } from "../support/stackSecrets";

const root = join(__dirname, "..", "..");
const stacksDir = join(root, "stacks");
const scratch = mkdtempSync(join(tmpdir(), "render-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe("render", () => {
    it("prints the single host's gitlab.rb from the shipped stack file", async () => {
        const text = await render({ stack: "single", json: false, showSecrets: false, stacksDir });
        assert.match(text, /^# ==> GitLab version: fresh install of gitlab-ee 18\.11\.11\n# ==> gitlab host: \/etc\/gitlab\/gitlab\.rb\n# Managed by gitlab-mattermost \(stack single, gitlab host\)/);
        assert.match(text, /^external_url "https:\/\/gitlab\.example\.com"$/m);
        assert.match(text, /^mattermost_external_url "https:\/\/mattermost\.example\.com"$/m);
        assert.equal(text.match(/^# ==> \w+ host/gm)?.length, 1);
    });

    it("prints both hosts of the split stack, or one with --host", async () => {
        const both = await render({ stack: "split", json: false, showSecrets: false, stacksDir });
        assert.deepEqual(both.match(/^# ==> \w+ host/gm), ["# ==> gitlab host", "# ==> mattermost host"]);
        const one = await render({ stack: "split", host: "mattermost", json: false, showSecrets: false, stacksDir });
        assert.deepEqual(one.match(/^# ==> \w+ host/gm), ["# ==> mattermost host"]);
        assert.match(one, /^mattermost\['env'\] = \{ "MM_EMAILSETTINGS_ENABLESIGNUPWITHEMAIL" => "false", .* "MM_SERVICESETTINGS_ENABLELOCALMODE" => "true", "TZ" => "Europe\/Berlin" \}$/m);
        assert.match(one, /^mattermost\['gitlab_token_endpoint'\] = "https:\/\/gitlab\.example\.com\/oauth\/token"$/m);
    });

    it("prints the standalone stack's GitLab 19.x host without Mattermost keys, on the mock runtime", async () => {
        const text = await render({ stack: "standalone", host: "gitlab", json: false, showSecrets: false, stacksDir });
        assert.match(text, /^# ==> GitLab version: fresh install of gitlab-ee 19\.3\.0\n# ==> gitlab host: \/etc\/gitlab\/gitlab\.rb\n/);
        assert.match(text, /^gitlab_rails\['mattermost_host'\] = "https:\/\/chat\.example\.com"$/m);
        assert.doesNotMatch(text, /mattermost_external_url|mattermost\[|mattermost_nginx\[/);
    });

    it("prints the standalone Mattermost host's files and its steps in order, with secret values masked", async () => {
        const text = await render({ stack: "standalone", host: "mattermost", json: false, showSecrets: false, stacksDir });
        const sections = text.match(/^# ==> mattermost host: .*$/gm)?.map((line) => line.slice("# ==> mattermost host: ".length));
        assert.deepEqual(sections?.sort(), [
            "/etc/mattermost/mattermost.env",
            "/etc/nginx/conf.d/mattermost-http.conf",
            "/etc/nginx/conf.d/mattermost-https.conf",
            "/etc/systemd/system/mattermost.service",
            "steps, in order",
        ]);
        assert.doesNotMatch(text, /gitlab\.rb/, "no Omnibus on the standalone host");
        assert.match(text, /^MM_SERVICESETTINGS_SITEURL="https:\/\/chat\.example\.com"$/m);
        assert.match(text, /^MM_GITLABSETTINGS_ID="<generated at deploy: oauth-client-id\.result>"$/m);
        for (const secret of ["MM_SQLSETTINGS_DATASOURCE", "MM_SQLSETTINGS_ATRESTENCRYPTKEY", "MM_GITLABSETTINGS_SECRET"]) {
            assert.match(text, new RegExp(`^${secret}="\\[secret\\]"$`, "m"), secret);
        }
        assert.match(text, /^ExecStart=\/opt\/mattermost\/bin\/mattermost --config /m);
        assert.match(text, /^    server_name chat\.example\.com;$/m);
        const steps = text.slice(text.indexOf("# ==> mattermost host: steps, in order\n")).split("\n").slice(1, -1);
        const position = (name: string) => steps.findIndex((line) => line.startsWith(`${name}: `));
        assert.match(steps[position("mattermost-install")]!, /: install-mattermost\.sh 11\.7\.9 enterprise [0-9a-f]{64}$/);
        for (const [earlier, later] of [
            ["mattermost-mount-data-volume", "mattermost-install"],
            ["mattermost-install", "mattermost-database"],
            ["mattermost-dns-ready", "mattermost-certificate"],
            ["mattermost-environment", "mattermost-health"],
            ["mattermost-health", "mattermost-admin-ensure"],
        ]) {
            assert.ok(position(earlier) >= 0 && position(earlier) < position(later), `${earlier} before ${later}:\n${steps.join("\n")}`);
        }

        const shown = await render({ stack: "standalone", host: "mattermost", json: false, showSecrets: true, stacksDir });
        assert.match(shown, /^MM_GITLABSETTINGS_SECRET="<generated at deploy: oauth-client-secret\.result>"$/m);
        const json = JSON.parse(await render({ stack: "standalone", json: true, showSecrets: false, stacksDir }));
        assert.equal(json.hosts.mattermost.files["/etc/mattermost/mattermost.env"], "[secret]");
        assert.match(json.hosts.mattermost.files["/etc/systemd/system/mattermost.service"], /^\[Service\]$/m);
        assert.deepEqual(json.hosts.mattermost.steps, steps);
        assert.equal(json.hosts.gitlab.steps, undefined, "a host with a gitlab.rb shows that instead");
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
        assert.equal(`# ==> GitLab version: fresh install of gitlab-ee 18.11.11\n# ==> gitlab host: /etc/gitlab/gitlab.rb\n${shown.hosts.gitlab.files["/etc/gitlab/gitlab.rb"]}`, plainText);
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
        assert.equal(pkg.scripts.render, "node --require esbuild-register scripts/render.ts");
    });

    it("prints gitlab.rb from the command line", () => {
        const out = execFileSync(process.execPath, ["--require", "esbuild-register", "scripts/render.ts", "--stack", "split", "--host", "gitlab"], { cwd: root, encoding: "utf8" });
        assert.match(out, /^gitlab_rails\['mattermost_host'\] = "https:\/\/chat\.example\.com"$/m);
    });

    it("writes --output whole, relative to where npm run was started", () => {
        const folder = mkdtempSync(join(scratch, "output-"));
        writeFileSync(join(folder, "render-split.json"), "an older render");
        assert.equal(writeOutput("render-split.json", "{}\n", { INIT_CWD: folder }), join(folder, "render-split.json"));
        assert.equal(readFileSync(join(folder, "render-split.json"), "utf8"), "{}\n");
        assert.throws(() => writeOutput("missing/render.json", "{}\n", { INIT_CWD: folder }), /ENOENT/);
        assert.deepEqual(readdirSync(folder), ["render-split.json"], "no temporary file is left behind");

        const result = spawnSync(process.execPath, ["--import", "tsx", "scripts/render.ts", "--stack", "single", "--json", "--output", "render-single.json"], {
            cwd: root,
            encoding: "utf8",
            env: { ...process.env, INIT_CWD: folder },
        });
        assert.equal(result.status, 0, result.stderr);
        assert.equal(result.stdout, "");
        assert.equal(result.stderr, `render: wrote ${join(folder, "render-single.json")}\n`);
        assert.equal(JSON.parse(readFileSync(join(folder, "render-single.json"), "utf8")).stack, "single");
    });

    it("exits 1 with a one-line error and no stack trace", () => {
        const result = spawnSync(process.execPath, ["--require", "esbuild-register", "scripts/render.ts", "--stack", "no-such-stack"], { cwd: root, encoding: "utf8" });
        assert.equal(result.status, 1);
        assert.match(result.stderr, /^render: no stack file .*Pulumi\.no-such-stack\.yaml/);
        assert.doesNotMatch(result.stderr, /\n\s+at /);
    });

    it("reports bad configuration with the key, as pulumi up would", async () => {
        writeFileSync(join(scratch, "Pulumi.bad.yaml"), "config:\n  aws:region: eu-west-1\n  gitlab-mattermost:externalUrl: https://gitlab.example.com/sub\n");
        await assert.rejects(render({ stack: "bad", json: false, showSecrets: false, stacksDir: scratch }), /^OfflineProgramError: gitlab-mattermost:externalUrl must not have a path/);
    });
});

describe("render: the GitLab versions a run would walk", () => {
    it("shows the stops from the version last deployed", async () => {
        const text = await render({ stack: "split", json: false, showSecrets: false, stacksDir, deployed: deployedFromFlag("18.2.8") });
        assert.match(text, /^# ==> GitLab version: 18\.5\.7 \(required stop\) → 18\.8\.11 \(required stop\) → 18\.11\.11\n/);
    });

    it("shows GitLab's CE to EE conversion as the first step", async () => {
        const text = await render({ stack: "split", json: false, showSecrets: false, stacksDir, deployed: deployedFromFlag("ce-18.11.11") });
        assert.match(text, /^# ==> GitLab version: 18\.11\.11 \(conversion to EE\)\n/);
    });

    it("refuses a downgrade as pulumi up would", async () => {
        await assert.rejects(render({ stack: "split", json: false, showSecrets: false, stacksDir, deployed: deployedFromFlag("ee-18.11.12") }), /cannot be downgraded/);
    });

    it("shows the move of a deployed bundled Mattermost, and the new host's steps beside the old one's", async () => {
        // The shipped split stack switched to standalone with the Mattermost its 18.11.11 bundles.
        const shipped = readFileSync(join(stacksDir, "Pulumi.split.yaml"), "utf8");
        const moving = shipped.replace(/^  gitlab-mattermost:mattermost:\n/m, "  gitlab-mattermost:mattermost:\n    mode: standalone\n    version: 10.11.20\n");
        assert.notEqual(moving, shipped);
        writeFileSync(join(scratch, "Pulumi.moving.yaml"), moving);
        const deployed = { ...deployedFromFlag("18.11.11"), mattermostVersion: "10.11.20", topology: "split" };
        const text = await render({ stack: "moving", json: false, showSecrets: false, stacksDir: scratch, deployed });
        assert.match(text, /^# ==> GitLab version: GitLab stays at 18\.11\.11; Mattermost moves from the bundle \(10\.11\.20\) to a standalone host \(10\.11\.20\)\n# ==> Mattermost move:\n#     Mattermost moves out of GitLab's package: bundled 10\.11\.20 on the present Mattermost host/);
        const hosts = [...new Set(text.match(/^# ==> [\w-]+ host/gm))].sort();
        assert.deepEqual(hosts, ["# ==> gitlab host", "# ==> mattermost host", "# ==> mattermost-standalone host"]);
        const oldHostSteps = text.slice(text.indexOf("# ==> mattermost host: steps, in order\n")).split("\n").slice(1).filter((line) => /^[\w-]+: /.test(line));
        assert.deepEqual(oldHostSteps.map((line) => line.slice(0, line.indexOf(":"))), ["mattermost-migration-export", "mattermost-migration-retire"]);
    });

    it("reads --deployed-version as [ee-|ce-]x.y.z", () => {
        assert.deepEqual(deployedFromFlag("18.2.8"), { gitlabEdition: "ee", gitlabVersion: "18.2.8" });
        assert.deepEqual(deployedFromFlag("ce-17.11.7"), { gitlabEdition: "ce", gitlabVersion: "17.11.7" });
        assert.throws(() => deployedFromFlag("18.2"), /must be x\.y\.z/);
    });

    it("reads the recorded version from a local file backend's state", () => {
        const root = join(scratch, "backend");
        mkdirSync(join(root, ".pulumi", "stacks", "gitlab-mattermost"), { recursive: true });
        const checkpoint = {
            version: 3,
            checkpoint: {
                stack: "organization/gitlab-mattermost/split",
                latest: {
                    resources: [
                        { urn: "urn:pulumi:split::gitlab-mattermost::pulumi:pulumi:Stack::gitlab-mattermost-split", type: "pulumi:pulumi:Stack", outputs: { gitlabEdition: "ee", gitlabVersion: "18.8.11", initialRootPassword: { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ciphertext: "v1:x" } } },
                    ],
                },
            },
        };
        writeFileSync(join(root, ".pulumi", "stacks", "gitlab-mattermost", "split.json"), JSON.stringify(checkpoint));
        assert.deepEqual(readDeployedFromLocalState("split", `file://${root}`), { gitlabEdition: "ee", gitlabVersion: "18.8.11" });
        assert.equal(readDeployedFromLocalState("single", `file://${root}`), undefined, "a stack never deployed");
        assert.equal(readDeployedFromLocalState("split", "s3://bucket/prefix"), undefined, "state elsewhere");
    });
});

describe("render: the stack's region", () => {
    /** The shipped split stack, moved to another region. */
    function stackIn(name: string, region: string | undefined): void {
        const shipped = readFileSync(join(stacksDir, "Pulumi.split.yaml"), "utf8");
        const moved = region === undefined ? shipped.replace(/^  aws:region: .*\n/m, "") : shipped.replace(/^  aws:region: .*$/m, `  aws:region: ${region}`);
        assert.notEqual(moved, shipped);
        writeFileSync(join(scratch, `Pulumi.${name}.yaml`), moved);
    }

    it("renders the bucket's region, zones and SES endpoint of the stack's aws:region", async () => {
        stackIn("ohio", "us-east-2");
        const json = JSON.parse(await render({ stack: "ohio", json: true, showSecrets: true, stacksDir: scratch, environment: {} }));
        const gitlabRb = json.hosts.gitlab.files["/etc/gitlab/gitlab.rb"] as string;
        assert.match(gitlabRb, /^gitlab_rails\['backup_upload_connection'\] = \{ "provider" => "AWS", "region" => "us-east-2", "use_iam_profile" => true \}$/m);
        const backupEnvironments = json.resources
            .map((r: { inputs: { stdin?: unknown } }) => String(r.inputs.stdin ?? ""))
            .filter((stdin: string) => /^RCLONE_CONFIG_\w+_REGION=/m.test(stdin));
        assert.ok(backupEnvironments.length > 0, "the backup tools' settings are rendered");
        for (const stdin of backupEnvironments) {
            assert.match(stdin, /^RCLONE_CONFIG_\w+_REGION=us-east-2$/m);
        }
        const subnet = json.resources.find((r: { type: string }) => r.type === "aws:ec2/subnet:Subnet");
        assert.equal(subnet.inputs.availabilityZone, "us-east-2a");
        assert.ok(!JSON.stringify(json).includes("eu-west-1"), "nothing of another region");

        const withSes = readFileSync(join(scratch, "Pulumi.ohio.yaml"), "utf8") + "  gitlab-mattermost:mail:\n    provider: ses\n    from: gitlab@example.com\n";
        writeFileSync(join(scratch, "Pulumi.ohio-ses.yaml"), withSes);
        const ses = JSON.parse(await render({ stack: "ohio-ses", json: true, showSecrets: true, stacksDir: scratch, environment: {} }));
        assert.match(ses.hosts.gitlab.files["/etc/gitlab/gitlab.rb"], /^gitlab_rails\['smtp_address'\] = "email-smtp\.us-east-2\.amazonaws\.com"$/m);
        const policy = JSON.parse(ses.resources.find((r: { type: string }) => r.type === "aws:iam/userPolicy:UserPolicy").inputs.policy);
        assert.deepEqual(policy.Statement[0].resources, ["arn:aws:ses:us-east-2:000000000000:identity/example.com"]);
    });

    it("takes the region from AWS_REGION or AWS_DEFAULT_REGION when the stack sets none, as the provider does", async () => {
        stackIn("unset", undefined);
        const text = await render({ stack: "unset", host: "gitlab", json: false, showSecrets: false, stacksDir: scratch, environment: { AWS_DEFAULT_REGION: "ap-southeast-2" } });
        assert.match(text, /"region" => "ap-southeast-2"/);
        assert.equal(stackRegion("s", { "aws:region": "us-east-2" }, { AWS_REGION: "eu-north-1" }), "us-east-2", "the stack's setting wins");
        assert.equal(stackRegion("s", {}, { AWS_REGION: "eu-north-1", AWS_DEFAULT_REGION: "ap-southeast-2" }), "eu-north-1");
    });

    it("refuses a stack with no region anywhere, naming the key", async () => {
        stackIn("unset", undefined);
        await assert.rejects(
            render({ stack: "unset", json: false, showSecrets: false, stacksDir: scratch, environment: {} }),
            /^Error: stack unset sets no aws:region and neither AWS_REGION nor AWS_DEFAULT_REGION is set; set it with `pulumi config set aws:region <region> --stack unset`$/,
        );
    });
});
