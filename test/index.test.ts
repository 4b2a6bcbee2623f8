// The whole program on Pulumi's mock runtime, for both topologies: the resource graph, the order of
// the remote steps, where secrets travel, and the stack outputs.

import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { scriptOfCommand } from "../components/omnibus/hostScripts";
import { OfflineProgramError, generatedPlaceholder, runOffline, type OfflineOptions, type OfflineRun, type RegisteredResource } from "../scripts/offlineRuntime";
import { stackConfig } from "./support/stackConfig";
import { TestPki } from "./support/pki";

const byType = (run: OfflineRun, type: string) => run.resources.filter((r) => r.type === type);
const named = (run: OfflineRun, name: string, type = "command:remote:Command"): RegisteredResource => {
    const found = run.resources.filter((r) => r.name === name && r.type === type);
    assert.equal(found.length, 1, `expected one ${type} named ${name}, found ${found.length}`);
    return found[0];
};
const commands = (run: OfflineRun) => byType(run, "command:remote:Command");

/** Whether `later` waits for `earlier`, directly or through other commands. */
function waitsFor(run: OfflineRun, later: string, earlier: string, seen = new Set<string>()): boolean {
    if (seen.has(later)) return false;
    seen.add(later);
    const deps = named(run, later).dependsOn;
    const commandNames = new Set(commands(run).map((c) => c.name));
    return deps.includes(earlier) || deps.filter((d) => commandNames.has(d)).some((d) => waitsFor(run, d, earlier, seen));
}

const connectionHost = (command: RegisteredResource) => (command.inputs.connection as { host: string }).host;
const eipOf = (run: OfflineRun, host: string) => String(named(run, host, "aws:ec2/eip:Eip").outputs.publicIp);

/** Every value the mock providers generated; none may appear in a command string. */
const GENERATED_SECRETS = [
    generatedPlaceholder("oauth-client-secret", "result"),
    generatedPlaceholder("root-password", "result"),
    generatedPlaceholder("mattermost-admin-password", "result"),
    generatedPlaceholder("ssh-key", "privateKeyOpenssh"),
];

for (const topology of ["single", "split"] as const) {
    describe(`program, ${topology} topology`, () => {
        let run: OfflineRun;
        before(async () => {
            run = await runOffline(stackConfig(topology));
        });

        const hostNames = topology === "single" ? ["gitlab"] : ["gitlab", "mattermost"];

        it("checks each host's instance type with EC2 before creating anything", () => {
            const checked = run.invokes.filter((i) => i.token === "aws:ec2/getInstanceType:getInstanceType").map((i) => i.inputs.instanceType);
            assert.deepEqual(checked, topology === "single" ? ["c6a.xlarge"] : ["c6a.xlarge", "c6a.large"]);
        });

        it("puts the hosts' subnet in the region's first zone that offers every host's instance type", async () => {
            const types = topology === "single" ? ["c6a.xlarge"] : ["c6a.xlarge", "c6a.large"];
            const asked = run.invokes.find((i) => i.token === "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings");
            assert.equal(asked?.inputs.locationType, "availability-zone");
            assert.deepEqual(asked?.inputs.filters, [{ name: "instance-type", values: types }]);
            assert.equal(named(run, "network-public", "aws:ec2/subnet:Subnet").inputs.availabilityZone, "eu-west-1a");

            const offerings = Object.fromEntries(types.map((type, index) => [type, index === 0 ? ["eu-west-1b", "eu-west-1c"] : ["eu-west-1a", "eu-west-1c"]]));
            const constrained = await runOffline(stackConfig(topology), { offerings });
            assert.equal(named(constrained, "network-public", "aws:ec2/subnet:Subnet").inputs.availabilityZone, topology === "single" ? "eu-west-1b" : "eu-west-1c");
        });

        it("records the hosts' zone, and keeps them there on later runs", async () => {
            assert.equal(run.outputs.availabilityZone, "eu-west-1a");
            const subnet = named(run, "network-public", "aws:ec2/subnet:Subnet");
            assert.deepEqual(subnet.ignoreChanges, ["availabilityZone"], "a subnet in another zone would replace every host");
            const later = await runOffline(stackConfig(topology), { deployed: { availabilityZone: "eu-west-1c" } });
            assert.equal(named(later, "network-public", "aws:ec2/subnet:Subnet").inputs.availabilityZone, "eu-west-1c");
            assert.equal(later.outputs.availabilityZone, "eu-west-1c");
        });

        it("boots x86_64 Ubuntu from Canonical's account only", () => {
            const ami = run.invokes.find((i) => i.token === "aws:ec2/getAmi:getAmi");
            assert.ok(ami);
            assert.deepEqual(ami.inputs.owners, ["099720109477"]);
            const filters = ami.inputs.filters as { name: string; values: string[] }[];
            assert.deepEqual(filters.find((f) => f.name === "architecture")?.values, ["x86_64"]);
            assert.match(filters.find((f) => f.name === "name")?.values[0] ?? "", /ubuntu-noble-24\.04-amd64/);
        });

        it("creates one hardened instance and one Elastic IP per host", () => {
            const instances = byType(run, "aws:ec2/instance:Instance");
            assert.deepEqual(instances.map((i) => i.name).sort(), hostNames);
            for (const instance of instances) {
                assert.deepEqual(instance.inputs.metadataOptions, { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 });
                const disk = instance.inputs.rootBlockDevice as Record<string, unknown>;
                assert.equal(disk.encrypted, true);
                assert.equal(disk.volumeType, "gp3");
                assert.equal(instance.inputs.userData, undefined, "nothing goes into user data");
            }
            assert.equal((named(run, "gitlab", "aws:ec2/instance:Instance").inputs.rootBlockDevice as Record<string, unknown>).volumeSize, 100);
            assert.deepEqual(byType(run, "aws:ec2/eip:Eip").map((e) => e.name).sort(), hostNames);
            assert.ok(byType(run, "aws:ec2/eip:Eip").every((e) => e.retainOnDelete), "Elastic IPs outlive pulumi destroy");
        });

        it("opens 80 and 443 to all of IPv4 and 22 only to ssh.allowedCidrs, with no IPv6 rule in or out", () => {
            const [group] = byType(run, "aws:ec2/securityGroup:SecurityGroup");
            type Rule = { fromPort: number; toPort: number; cidrBlocks: string[]; ipv6CidrBlocks?: string[] };
            const ingress = group.inputs.ingress as Rule[];
            assert.deepEqual(ingress.map((r) => r.fromPort).sort((a, b) => a - b), [22, 80, 443]);
            for (const rule of ingress) {
                assert.equal(rule.fromPort, rule.toPort);
                assert.deepEqual(rule.cidrBlocks, rule.fromPort === 22 ? ["203.0.113.0/24"] : ["0.0.0.0/0"]);
            }
            const egress = group.inputs.egress as Rule[];
            assert.deepEqual(egress.map((rule) => rule.cidrBlocks), [["0.0.0.0/0"]]);
            for (const rule of [...ingress, ...egress]) {
                assert.deepEqual(rule.ipv6CidrBlocks ?? [], [], `rule ${rule.fromPort}`);
            }
        });

        it("gives the VPC, subnet and routes no IPv6, as the security group has none", () => {
            const [vpc] = byType(run, "aws:ec2/vpc:Vpc");
            assert.ok(vpc && !vpc.inputs.assignGeneratedIpv6CidrBlock && vpc.inputs.ipv6CidrBlock === undefined && vpc.inputs.ipv6IpamPoolId === undefined);
            const [subnet] = byType(run, "aws:ec2/subnet:Subnet");
            assert.ok(subnet && subnet.inputs.ipv6CidrBlock === undefined && !subnet.inputs.assignIpv6AddressOnCreation);
            const [routes] = byType(run, "aws:ec2/routeTable:RouteTable");
            assert.deepEqual((routes.inputs.routes as Record<string, unknown>[]).map((route) => route.cidrBlock), ["0.0.0.0/0"]);
            assert.deepEqual(byType(run, "aws:ec2/vpcIpv6CidrBlockAssociation:VpcIpv6CidrBlockAssociation"), []);
        });

        it("points each DNS name at the host that serves it", () => {
            const records = Object.fromEntries(
                byType(run, "aws:route53/record:Record").map((r) => [r.inputs.name, { type: r.inputs.type, records: r.inputs.records, dependsOn: r.dependsOn }]),
            );
            assert.deepEqual(Object.keys(records).sort(), ["gitlab.example.com", "mattermost.example.com"]);
            assert.equal(records["gitlab.example.com"].type, "A");
            assert.equal(records["mattermost.example.com"].type, "A");
            assert.ok(!byType(run, "aws:route53/record:Record").some((record) => record.inputs.type === "AAAA"), "no AAAA record: the hosts have no IPv6 address");
            const mattermostHost = topology === "single" ? "gitlab" : "mattermost";
            assert.ok(records["gitlab.example.com"].dependsOn.includes("gitlab"));
            assert.ok(records["mattermost.example.com"].dependsOn.includes(mattermostHost));
            assert.deepEqual(records["gitlab.example.com"].records, [run.outputs.hosts && (run.outputs.hosts as Record<string, { publicIp: string }>).gitlab.publicIp]);
            assert.deepEqual(records["mattermost.example.com"].records, [(run.outputs.hosts as Record<string, { publicIp: string }>)[mattermostHost].publicIp]);
        });

        it("runs each host's steps in order: install, DNS, gitlab.rb and reconfigure, health", () => {
            for (const host of hostNames) {
                assert.equal(scriptOfCommand(String(named(run, `${host}-install`).inputs.create)), "install-omnibus.sh");
                assert.ok(waitsFor(run, `${host}-dns-ready`, `${host}-install`));
                assert.ok(waitsFor(run, `${host}-gitlab-rb`, `${host}-dns-ready`));
                assert.ok(waitsFor(run, `${host}-gitlab-rb`, `${host}-install`));
                assert.equal(scriptOfCommand(String(named(run, `${host}-gitlab-rb`).inputs.create)), "apply-gitlab-rb.sh");
            }
            const gates = commands(run).filter((c) => scriptOfCommand(String(c.inputs.create)) === "health-gate.sh");
            const gated = gates.map((g) => `${g.parent}:${String(g.inputs.create).split(" ").slice(-3, -1).join(" ")}`).sort();
            assert.deepEqual(
                gated,
                topology === "single"
                    ? ["gitlab:gitlab https://gitlab.example.com", "gitlab:mattermost https://mattermost.example.com"]
                    : ["gitlab:gitlab https://gitlab.example.com", "mattermost:mattermost https://mattermost.example.com"],
            );
            for (const gate of gates) {
                assert.ok(waitsFor(run, gate.name, `${gate.parent}-gitlab-rb`));
            }
        });

        it("waits for the DNS records of the names each host serves before its first reconfigure, so Let's Encrypt can validate", () => {
            const served: Record<string, string[]> =
                topology === "single" ? { gitlab: ["gitlab.example.com", "mattermost.example.com"] } : { gitlab: ["gitlab.example.com"], mattermost: ["mattermost.example.com"] };
            for (const host of hostNames) {
                const records = named(run, `${host}-dns-ready`).dependsOn.filter((dependency) => dependency.startsWith("dns-"));
                assert.deepEqual(records.sort(), served[host]!.map((name) => `dns-${name}`));
            }
        });

        it("registers the OAuth application on the GitLab host after GitLab is configured", () => {
            const register = named(run, "oauth-register");
            assert.equal(scriptOfCommand(String(register.inputs.create)), "ensure-oauth-application.sh");
            assert.equal(connectionHost(register), eipOf(run, "gitlab"));
            assert.ok(waitsFor(run, "oauth-register", "gitlab-gitlab-rb"));
            const wanted = JSON.parse(String(register.inputs.stdin));
            assert.deepEqual(wanted, {
                name: "GitLab Mattermost",
                uid: generatedPlaceholder("oauth-client-id", "result"),
                secret: generatedPlaceholder("oauth-client-secret", "result"),
                redirect_uri: "https://mattermost.example.com/signup/gitlab/complete\r\nhttps://mattermost.example.com/login/gitlab/complete",
                scopes: "",
            });
            if (topology === "split") {
                assert.ok(waitsFor(run, "mattermost-gitlab-rb", "oauth-ahead-register"), "the Mattermost host reconfigures only after the application exists");
                assert.equal(connectionHost(named(run, "mattermost-gitlab-rb")), eipOf(run, "mattermost"));
            }
        });

        it("rotates sign-in credentials without a gap: register the new application, reconfigure Mattermost, then revoke the old (oauth.rotation)", () => {
            const mattermostHost = topology === "single" ? "gitlab" : "mattermost";
            const reconfigure = `${mattermostHost}-gitlab-rb`;
            const healthy = `${mattermostHost}-mattermost-health`;
            const ahead = named(run, "oauth-ahead-register");
            const revoking = named(run, "oauth-register");
            assert.equal(connectionHost(ahead), eipOf(run, "gitlab"));
            // 1. The new application is added, and nothing revoked, before Mattermost gets its credentials.
            assert.ok(waitsFor(run, reconfigure, "oauth-ahead-register"), "Mattermost gets credentials whose application may not exist yet");
            const wanted = JSON.parse(String(ahead.inputs.stdin));
            assert.equal(wanted.uid, JSON.parse(String(revoking.inputs.stdin)).uid);
            assert.equal(wanted.revoke_others, false, "the credentials Mattermost still uses would be revoked");
            assert.ok(ahead.secretInputs.includes("stdin"));
            if (topology === "single") {
                assert.ok(String(ahead.inputs.create).endsWith(" --if-running"), "a host before its first reconfigure has no GitLab to register with");
            } else {
                assert.ok(waitsFor(run, "oauth-ahead-register", "gitlab-gitlab-rb"), "GitLab runs when the Mattermost host's registration is made");
                assert.ok(!String(ahead.inputs.create).endsWith(" --if-running"), "split registers with a running GitLab: a failure must show");
            }
            // 2. The old applications are revoked only once Mattermost answers on the new credentials.
            assert.ok(waitsFor(run, "oauth-register", reconfigure) && waitsFor(run, "oauth-register", healthy), "the old application is revoked while Mattermost still uses it");
            assert.ok(!waitsFor(run, reconfigure, "oauth-register"));
            assert.equal(JSON.parse(String(revoking.inputs.stdin)).revoke_others, undefined, "the last registration revokes the replaced applications");
        });

        it("rotates the GitLab plugin's credentials the same way: register, configure the plugin, then revoke", async () => {
            const withPlugin = await runOffline(stackConfig(topology, { mattermost: { ...(topology === "split" ? { instanceType: "c6a.large" } : {}), gitlabPlugin: { enabled: true } } }));
            const ahead = named(withPlugin, "gitlab-plugin-oauth-ahead-register");
            const revoking = named(withPlugin, "gitlab-plugin-oauth-register");
            assert.equal(JSON.parse(String(ahead.inputs.stdin)).revoke_others, false);
            assert.equal(JSON.parse(String(ahead.inputs.stdin)).uid, JSON.parse(String(revoking.inputs.stdin)).uid);
            assert.equal(JSON.parse(String(revoking.inputs.stdin)).revoke_others, undefined);
            assert.ok(waitsFor(withPlugin, "gitlab-plugin-oauth-ahead-register", "gitlab-gitlab-rb"));
            assert.ok(waitsFor(withPlugin, "gitlab-plugin-configure", "gitlab-plugin-oauth-ahead-register"), "the plugin gets credentials whose application may not exist yet");
            assert.ok(waitsFor(withPlugin, "gitlab-plugin-oauth-register", "gitlab-plugin-configure"), "the plugin's old application is revoked while the plugin still uses it");
            assert.ok(!waitsFor(withPlugin, "gitlab-plugin-configure", "gitlab-plugin-oauth-register"));
        });

        it("sends secrets only on stdin, marked secret, never in a command string", () => {
            for (const command of commands(run)) {
                assert.ok(command.secretInputs.includes("connection"), `${command.name}: the SSH connection is secret`);
                for (const secret of GENERATED_SECRETS) {
                    assert.ok(!String(command.inputs.create).includes(secret), `${command.name}: create holds a secret`);
                }
                if (GENERATED_SECRETS.some((secret) => String(command.inputs.stdin ?? "").includes(secret))) {
                    assert.ok(command.secretInputs.includes("stdin"), `${command.name}: stdin carries a secret, so it is secret`);
                }
                assert.equal(command.inputs.environment, undefined, `${command.name}: no SSH environment (sshd refuses it)`);
            }
            const gitlabRb = String(named(run, "gitlab-gitlab-rb").inputs.stdin);
            assert.ok(gitlabRb.includes(generatedPlaceholder("root-password", "result")), "the root password reaches gitlab.rb through stdin");
        });

        it("writes the Mattermost settings only on the host that runs Mattermost", () => {
            const gitlabRb = String(named(run, "gitlab-gitlab-rb").inputs.stdin);
            if (topology === "single") {
                assert.match(gitlabRb, /^mattermost_external_url "https:\/\/mattermost\.example\.com"$/m);
                assert.match(gitlabRb, /^mattermost\['gitlab_secret'\] = /m);
            } else {
                assert.doesNotMatch(gitlabRb, /mattermost_external_url|mattermost\[|mattermost_nginx\[/);
                assert.match(gitlabRb, /^gitlab_rails\['mattermost_host'\] = "https:\/\/mattermost\.example\.com"$/m);
                const mattermostRb = String(named(run, "mattermost-gitlab-rb").inputs.stdin);
                assert.match(mattermostRb, /^gitlab_rails\['enable'\] = false$/m);
                assert.match(
                    mattermostRb,
                    /^mattermost\['env'\] = \{ "MM_EMAILSETTINGS_ENABLESIGNUPWITHEMAIL" => "false", "MM_TEAMSETTINGS_ENABLEOPENSERVER" => "false", "MM_EMAILSETTINGS_ENABLESIGNINWITHEMAIL" => "false", "MM_EMAILSETTINGS_ENABLESIGNINWITHUSERNAME" => "true", "MM_SERVICESETTINGS_ENABLELOCALMODE" => "true", "HTTP_PROXY" => "http:\/\/proxy\.internal:3128" \}$/m,
                );
                assert.doesNotMatch(mattermostRb, /grafana/);
            }
        });

        it("exports URLs, addresses, SSH commands, the root password as a secret and the database command", () => {
            const outputs = run.outputs as Record<string, unknown>;
            assert.equal(outputs.gitlabUrl, "https://gitlab.example.com");
            assert.equal(outputs.mattermostUrl, "https://mattermost.example.com");
            const hosts = outputs.hosts as Record<string, { publicIp: string; sshCommand: string }>;
            assert.deepEqual(Object.keys(hosts).sort(), hostNames);
            for (const name of hostNames) {
                assert.equal(hosts[name].publicIp, eipOf(run, name));
                assert.equal(hosts[name].sshCommand, `ssh -i gitlab-mattermost.key ubuntu@${eipOf(run, name)}`);
            }
            assert.deepEqual(outputs.initialRootPassword, { secret: generatedPlaceholder("root-password", "result") });
            assert.deepEqual(outputs.sshPrivateKey, { secret: generatedPlaceholder("ssh-key", "privateKeyOpenssh") });
            const mattermostHost = topology === "single" ? "gitlab" : "mattermost";
            // psql's prompt needs a terminal, which ssh gives a command only with -t.
            assert.equal(outputs.mattermostDatabaseCommand, `ssh -t -i gitlab-mattermost.key ubuntu@${eipOf(run, mattermostHost)} sudo gitlab-psql -d mattermost_production`);
        });
    });
}

describe("program: determinism and change scope", () => {
    const commandInputs = (run: OfflineRun) =>
        Object.fromEntries(commands(run).map((c) => [c.name, JSON.stringify({ create: c.inputs.create, stdin: c.inputs.stdin, triggers: c.inputs.triggers })]));

    it("gives identical command inputs for the same configuration", async () => {
        const first = commandInputs(await runOffline(stackConfig("split")));
        const second = commandInputs(await runOffline(stackConfig("split")));
        assert.ok(Object.keys(first).length >= 8);
        assert.deepEqual(second, first);
    });

    it("changes only the Mattermost host's commands for a Mattermost-only change", async () => {
        const before = commandInputs(await runOffline(stackConfig("split")));
        const after = commandInputs(
            await runOffline(stackConfig("split", { mattermost: { instanceType: "c6a.large", env: { HTTP_PROXY: "http://other-proxy:3128" } } })),
        );
        const changed = Object.keys(before).filter((name) => before[name] !== after[name]).sort();
        assert.deepEqual(changed, ["mattermost-gitlab-rb", "mattermost-mattermost-health"]);
    });

    it("re-authorizes Mattermost when oauth.rotation is raised", async () => {
        const run = await runOffline(stackConfig("split", { oauth: { rotation: 1 } }));
        const keepers = ["oauth-client-id", "oauth-client-secret"].map((name) => {
            const resource = run.resources.find((r) => r.name === name && r.type.startsWith("random:"));
            return resource?.inputs.keepers;
        });
        assert.deepEqual(keepers, [{ rotation: "1" }, { rotation: "1" }]);
    });
});

describe("program: bad input stops it before any resource exists", () => {
    async function failure(config: Record<string, unknown>, answers: OfflineOptions = {}) {
        try {
            await runOffline(config, answers);
        } catch (error) {
            assert.ok(error instanceof OfflineProgramError, String(error));
            return error;
        }
        assert.fail("the program accepted the configuration");
    }

    it("refuses an instance type that EC2 reports as ARM, though its name looks like x86", async () => {
        const error = await failure(stackConfig("split", { mattermost: { instanceType: "m99.large" } }), { architectures: { "m99.large": ["arm64"] } });
        assert.match(error.message, /^gitlab-mattermost:mattermost\.instanceType is m99\.large, which supports only arm64/);
        assert.ok(error.cause instanceof pulumi.RunError, "reported without a stack trace");
        assert.deepEqual(error.resources, []);
    });

    it("refuses instance types that no availability zone offers together", async () => {
        const error = await failure(stackConfig("split", { gitlab: { instanceType: "c6a.xlarge" }, mattermost: { instanceType: "m7i.large" } }), {
            offerings: { "c6a.xlarge": ["eu-west-1a"], "m7i.large": ["eu-west-1b", "eu-west-1c"] },
        });
        assert.match(error.message, /^gitlab-mattermost:gitlab\.instanceType is c6a\.xlarge, offered only in eu-west-1a; mattermost\.instanceType is m7i\.large, offered only in eu-west-1b, eu-west-1c\./);
        assert.ok(error.cause instanceof pulumi.RunError, "reported without a stack trace");
        assert.deepEqual(error.resources, []);
    });

    it("refuses an instance type the deployed hosts' zone does not offer, rather than move the hosts", async () => {
        const error = await failure(stackConfig("split", { mattermost: { instanceType: "m7i.large" } }), { deployed: { availabilityZone: "eu-west-1a" }, offerings: { "m7i.large": ["eu-west-1b"] } });
        assert.match(error.message, /^gitlab-mattermost:mattermost\.instanceType is m7i\.large, which eu-west-1a, the zone the hosts are in, does not offer/);
        assert.deepEqual(error.resources, []);
    });

    it("refuses a 19.x version", async () => {
        const error = await failure(stackConfig("single", { gitlab: { version: "19.0.1" } }));
        assert.match(error.message, /gitlab-mattermost:gitlab\.version .*removed bundled Mattermost/);
        assert.deepEqual(error.resources, []);
    });
});

describe("program, split topology with a standalone Mattermost", () => {
    const standaloneConfig = (mattermost: Record<string, unknown> = {}, gitlabVersion = "19.3.0") =>
        stackConfig("split", { gitlab: { edition: "ee", version: gitlabVersion }, mattermost: { mode: "standalone", version: "11.7.9", env: { HTTP_PROXY: "http://proxy.internal:3128" }, ...mattermost } });
    let run: OfflineRun;
    before(async () => {
        run = await runOffline(standaloneConfig());
    });

    it("creates both hosts and points the Mattermost name at the Mattermost host", () => {
        assert.deepEqual(byType(run, "aws:ec2/instance:Instance").map((i) => i.name).sort(), ["gitlab", "mattermost"]);
        const record = byType(run, "aws:route53/record:Record").find((r) => r.inputs.name === "mattermost.example.com");
        assert.ok(record?.dependsOn.includes("mattermost"));
        assert.deepEqual(record?.inputs.records, [eipOf(run, "mattermost")]);
    });

    /** Every remote step on the Mattermost host, by name. */
    const onMattermostHost = (result: OfflineRun) => commands(result).filter((command) => connectionHost(command) === eipOf(result, "mattermost"));
    /** The host script a standalone step runs (host/ or host/standalone/), and its arguments. */
    const scriptCall = (command: RegisteredResource) => /^sudo bash -c '(?:[^']|'\\'')*' ([a-z-]+\.sh)(.*)$/s.exec(String(command.inputs.create))?.slice(1, 3) ?? [];

    it("runs no Omnibus step on the Mattermost host: no gitlab.rb, no Omnibus install, upgrade or reconfigure", () => {
        const scripts = onMattermostHost(run).map((command) => scriptCall(command)[0]);
        for (const omnibus of ["install-omnibus.sh", "apply-gitlab-rb.sh", "upgrade-gitlab.sh", "reload-nginx.sh", "configure-gitlab-plugin.sh"]) {
            assert.ok(!scripts.includes(omnibus), omnibus);
        }
        const omnibusComponents = run.resources.filter((r) => /:(OmnibusInstall|OmnibusUpgrade|GitlabConfig)$/.test(r.type)).map((r) => r.name);
        assert.deepEqual(omnibusComponents.sort(), ["gitlab", "gitlab"], "only the GitLab host has Omnibus's install and gitlab.rb");
        assert.equal(scriptOfCommand(String(named(run, "gitlab-install").inputs.create)), "install-omnibus.sh");
        assert.equal(named(run, "mattermost", "gitlab-mattermost:index:StandaloneMattermostHost").name, "mattermost");
    });

    it("installs exactly mattermost.version on the Mattermost host, with its published checksum", () => {
        const install = named(run, "mattermost-install");
        assert.equal(connectionHost(install), eipOf(run, "mattermost"));
        assert.deepEqual(scriptCall(install), ["install-mattermost.sh", " 11.7.9 enterprise a22e631ae4a1f704c2bcf45ad8dcc377184081c50954a9269b7f62bd663a7a04"]);
        assert.deepEqual(scriptCall(named(run, "mattermost-upgrade")), ["upgrade-mattermost.sh", " 11.7.9 enterprise 900"]);
    });

    it("attaches the Mattermost host's data volume and mounts it at /var/opt/mattermost before anything installs", () => {
        const attachment = named(run, "mattermost-data", "aws:ec2/volumeAttachment:VolumeAttachment");
        assert.equal(attachment.inputs.instanceId, "mattermost-id", "the mock runtime's id of the Mattermost instance");
        assert.ok(attachment.dependsOn.includes("mattermost-data"));
        const volume = named(run, "mattermost-data", "aws:ebs/volume:Volume");
        assert.equal(volume.inputs.encrypted, true);
        assert.ok(volume.protect && volume.retainOnDelete, "the data outlives the instance");
        assert.deepEqual(scriptCall(named(run, "mattermost-mount-data-volume")), ["mount-data-volume.sh", " mattermost-data-id /var/opt/mattermost mattermost-data"]);
        assert.ok(waitsFor(run, "mattermost-install", "mattermost-mount-data-volume"));
        for (const command of onMattermostHost(run).filter((c) => !/-data-volume$/.test(c.name))) {
            assert.ok(waitsFor(run, command.name, "mattermost-mount-data-volume"), `${command.name} waits for the mount`);
        }
    });

    it("signs in with the client id GitLab registered: the same id on both sides, the secret only on stdin", () => {
        const wanted = JSON.parse(String(named(run, "oauth-register").inputs.stdin));
        const environment = named(run, "mattermost-environment");
        assert.ok(environment.secretInputs.includes("stdin"));
        const file = String(environment.inputs.stdin);
        assert.match(file, new RegExp(`^MM_GITLABSETTINGS_ID="${wanted.uid}"$`, "m"));
        assert.match(file, new RegExp(`^MM_GITLABSETTINGS_SECRET="${generatedPlaceholder("oauth-client-secret", "result")}"$`, "m"));
        assert.match(file, /^MM_GITLABSETTINGS_AUTHENDPOINT="https:\/\/gitlab\.example\.com\/oauth\/authorize"$/m);
        assert.match(file, /^MM_SERVICESETTINGS_SITEURL="https:\/\/mattermost\.example\.com"$/m);
        assert.match(file, /^MM_SERVICESETTINGS_ENABLELOCALMODE="true"$/m);
        assert.match(file, /^HTTP_PROXY="http:\/\/proxy\.internal:3128"$/m, "mattermost.env");
        // Registered ahead (nothing revoked) before Mattermost gets the credentials; the old ones are
        // revoked only once Mattermost answers healthy with the new ones.
        assert.ok(waitsFor(run, "mattermost-environment", "oauth-ahead-register"));
        assert.equal(JSON.parse(String(named(run, "oauth-ahead-register").inputs.stdin)).revoke_others, false);
        assert.ok(waitsFor(run, "oauth-register", "mattermost-health"));
    });

    it("starts with the stack's sign-up policy: accounts from GitLab only", () => {
        const file = String(named(run, "mattermost-environment").inputs.stdin);
        for (const line of ['MM_EMAILSETTINGS_ENABLESIGNUPWITHEMAIL="false"', 'MM_TEAMSETTINGS_ENABLEOPENSERVER="false"', 'MM_EMAILSETTINGS_ENABLESIGNINWITHEMAIL="false"', 'MM_EMAILSETTINGS_ENABLESIGNINWITHUSERNAME="true"']) {
            assert.ok(file.split("\n").includes(line), line);
        }
    });

    it("gates on Mattermost's health behind nginx, then creates the first administrator with the release's mmctl, then backups", () => {
        assert.deepEqual(scriptCall(named(run, "mattermost-health")), ["health-gate.sh", " mattermost-standalone https://mattermost.example.com 900"]);
        for (const step of ["mattermost-environment", "mattermost-nginx-https"]) assert.ok(waitsFor(run, "mattermost-health", step), step);
        const admin = named(run, "mattermost-admin-ensure");
        assert.equal(connectionHost(admin), eipOf(run, "mattermost"));
        assert.deepEqual(scriptCall(admin), ["ensure-mattermost-admin.sh", " mmadmin mmadmin@example.com 900 /var/lib/gitlab-mattermost/mattermost-first-admin /opt/mattermost/bin/mmctl"]);
        assert.ok(waitsFor(run, "mattermost-admin-ensure", "mattermost-health"));
        assert.ok(waitsFor(run, "mattermost-backup-timers", "mattermost-health"));
        assert.deepEqual(scriptCall(named(run, "mattermost-backup-timers")), ["enable-backups.sh", " mattermost-backup.timer"]);
    });

    it("installs the backup tools once the database exists, and upgrades only after them (the upgrade backs up with them first)", () => {
        assert.ok(waitsFor(run, "mattermost-upgrade", "mattermost-backup-tools-ready"), "the upgrade waits for the backup tools");
        assert.ok(waitsFor(run, "mattermost-backup-tools-ready", "mattermost-database"));
        assert.deepEqual(scriptCall(named(run, "mattermost-backup-tools-ready")), ["enable-backups.sh", ""], "tools and rclone, no timer yet");
        assert.ok(!waitsFor(run, "mattermost-backup-tools-ready", "mattermost-health"));
        assert.ok(waitsFor(run, "mattermost-backup-timers", "mattermost-health"), "scheduled backups wait for the health gate");
    });

    it("with backup.restoreFrom: the timers wait for the restore, and the upgrade still waits for the tools", async () => {
        const restoring = await runOffline({ ...standaloneConfig(), backup: { restoreFrom: "20261120T031500Z" } });
        assert.ok(waitsFor(restoring, "mattermost-backup-timers", "mattermost-restore"));
        assert.ok(waitsFor(restoring, "mattermost-restore", "mattermost-backup-tools-ready"));
        assert.ok(waitsFor(restoring, "mattermost-upgrade", "mattermost-backup-tools-ready"));
        assert.equal(commands(restoring).filter((command) => command.name === "mattermost-backup-timers").length, 1);
    });

    it("configures the GitLab plugin with the release's mmctl, around its own application on GitLab", async () => {
        const withPlugin = await runOffline(standaloneConfig({ gitlabPlugin: { enabled: true } }));
        const configure = named(withPlugin, "gitlab-plugin-configure");
        assert.equal(connectionHost(configure), eipOf(withPlugin, "mattermost"));
        assert.deepEqual(scriptCall(configure), ["configure-gitlab-plugin.sh", " com.github.manland.mattermost-plugin-gitlab 900 /opt/mattermost/bin/mmctl"]);
        assert.ok(configure.secretInputs.includes("stdin"));
        for (const earlier of ["mattermost-health", "mattermost-admin-ensure", "gitlab-plugin-oauth-ahead-register"]) assert.ok(waitsFor(withPlugin, "gitlab-plugin-configure", earlier), earlier);
        assert.ok(waitsFor(withPlugin, "gitlab-plugin-oauth-register", "gitlab-plugin-configure"), "the plugin's old application is revoked only once the plugin uses the new one");
    });

    it("asks Let's Encrypt for the certificate only once the name resolves to the host", () => {
        assert.deepEqual(scriptCall(named(run, "mattermost-dns-ready")), ["wait-for-dns.sh", ` ${eipOf(run, "mattermost")} 900 mattermost.example.com`]);
        assert.ok(waitsFor(run, "mattermost-certificate", "mattermost-dns-ready"));
        assert.ok(waitsFor(run, "mattermost-nginx-https", "mattermost-certificate"));
    });

    for (const mode of ["selfSigned", "provided"] as const) {
        it(`tls.mode ${mode}: installs the stack's certificate for nginx and makes Mattermost trust the CA GitLab's certificate chains to`, async () => {
            const pki = new TestPki();
            try {
                const root = pki.rootCa("root");
                const leaf = (name: string) => {
                    const issued = pki.leaf(name, [name], root);
                    return { certificate: issued.certificate, key: issued.key };
                };
                const tls = mode === "provided"
                    ? { mode, caCertificate: root.certificate, certificates: { gitlab: leaf("gitlab.example.com"), mattermost: leaf("mattermost.example.com") } }
                    : { mode };
                const tlsRun = await runOffline(stackConfig("split", { gitlab: { edition: "ee", version: "19.3.0" }, mattermost: { mode: "standalone", version: "11.7.9" }, tls }));
                const names = onMattermostHost(tlsRun).map((command) => command.name);
                assert.ok(!names.includes("mattermost-dns-ready") && !names.includes("mattermost-certificate"), "no Let's Encrypt");
                const files = onMattermostHost(tlsRun).filter((command) => scriptCall(command)[0] === "install-file.sh" && command.name.startsWith("mattermost-tls"));
                assert.deepEqual(files.map((command) => scriptCall(command)[1]).sort(), [" /etc/mattermost-tls/mattermost.example.com.crt 0644", " /etc/mattermost-tls/mattermost.example.com.key 0600"]);
                for (const file of files) assert.ok(waitsFor(tlsRun, "mattermost-nginx-https", file.name));
                const trust = String(named(tlsRun, "mattermost-trusted-ca").inputs.stdin);
                if (mode === "provided") assert.equal(trust, root.certificate);
                else assert.ok(trust.startsWith(generatedPlaceholder("tls-ca", "certPem")), trust);
                assert.ok(waitsFor(tlsRun, "mattermost-environment", "mattermost-trusted-ca"));
                assert.match(scriptCall(named(tlsRun, "mattermost-health"))[1] ?? "", / \/usr\/local\/share\/ca-certificates\/gitlab-mattermost-ca\.crt$/);
            } finally {
                pki.dispose();
            }
        });
    }

    it("sends mail through SES and a licence, with their secrets only on stdin", async () => {
        const licensed = await runOffline(stackConfig("split", {
            gitlab: { edition: "ee", version: "19.3.0" },
            mattermost: { mode: "standalone", version: "11.7.9", license: "LICENCE-TEXT-0123" },
            mail: { provider: "ses", from: "chat@example.com" },
        }));
        const file = String(named(licensed, "mattermost-environment").inputs.stdin);
        assert.match(file, /^MM_EMAILSETTINGS_SMTPSERVER="email-smtp\.eu-west-1\.amazonaws\.com"$/m);
        assert.match(file, /^MM_EMAILSETTINGS_FEEDBACKEMAIL="chat@example\.com"$/m);
        assert.match(file, /^MM_EMAILSETTINGS_SMTPPASSWORD=".+"$/m);
        assert.match(file, /^MM_LICENSE="LICENCE-TEXT-0123"$/m);
        const smtpPassword = /^MM_EMAILSETTINGS_SMTPPASSWORD="(.+)"$/m.exec(file)![1]!;
        for (const command of commands(licensed)) {
            for (const secret of ["LICENCE-TEXT-0123", smtpPassword, generatedPlaceholder("mattermost-database-password", "result")]) {
                assert.ok(!String(command.inputs.create).includes(secret), `${command.name}: create holds a secret`);
            }
        }
    });

    it("puts no secret on any command line", () => {
        const secrets = [...GENERATED_SECRETS, generatedPlaceholder("mattermost-database-password", "result"), generatedPlaceholder("mattermost-at-rest-key", "result")];
        for (const command of commands(run)) {
            assert.ok(command.secretInputs.includes("connection"), command.name);
            for (const secret of secrets) assert.ok(!String(command.inputs.create).includes(secret), `${command.name}: create holds a secret`);
            if (secrets.some((secret) => String(command.inputs.stdin ?? "").includes(secret))) {
                assert.ok(command.secretInputs.includes("stdin"), `${command.name}: stdin carries a secret, so it is secret`);
            }
        }
        assert.ok(String(named(run, "mattermost-database").inputs.stdin).includes(generatedPlaceholder("mattermost-database-password", "result")));
    });

    it("writes GitLab 19.x's gitlab.rb without Mattermost keys, keeping mattermost_host", () => {
        const gitlabRb = String(named(run, "gitlab-gitlab-rb").inputs.stdin);
        assert.doesNotMatch(gitlabRb, /mattermost_external_url|mattermost\[|mattermost_nginx\[/);
        assert.match(gitlabRb, /^gitlab_rails\['mattermost_host'\] = "https:\/\/mattermost\.example\.com"$/m);
    });

    it("registers the OAuth application as split does: same name, both redirect URIs, the generated client id", () => {
        const register = named(run, "oauth-register");
        assert.equal(connectionHost(register), eipOf(run, "gitlab"));
        assert.ok(waitsFor(run, "oauth-register", "gitlab-gitlab-rb"));
        const wanted = JSON.parse(String(register.inputs.stdin));
        assert.equal(wanted.name, "GitLab Mattermost");
        assert.equal(wanted.uid, generatedPlaceholder("oauth-client-id", "result"));
        assert.equal(wanted.redirect_uri, "https://mattermost.example.com/signup/gitlab/complete\r\nhttps://mattermost.example.com/login/gitlab/complete");
        assert.ok(register.secretInputs.includes("stdin"));
    });

    it("archives its database's WAL once Mattermost and the backup tools are in place, to a folder its role alone reaches", () => {
        assert.equal(scriptOfCommand(String(named(run, "mattermost-pitr-enable").inputs.create)), "enable-pitr.sh");
        assert.ok(waitsFor(run, "mattermost-pitr-enable", "mattermost-health"));
        assert.ok(waitsFor(run, "mattermost-pitr-enable", "mattermost-backup-tools-ready"), "the restore tool sources the backup tools' common file");
        const policy = (host: string) => String(named(run, `${host}-backup-access`, "aws:iam/rolePolicy:RolePolicy").inputs.policy);
        assert.match(policy("mattermost"), /\/mattermost-pitr\//);
        assert.doesNotMatch(policy("gitlab"), /mattermost-pitr/, "the GitLab host's role does not reach the repository");
        assert.equal(run.resources.filter((r) => r.name === "mattermost-pitr-restore").length, 0, "no restore without backup.restoreFrom");
    });

    it("restores a point in time with point-in-time recovery, not the dump tool, before the backup timers and the first administrator", async () => {
        const moment = new Date(Date.now() - 3_600_000).toISOString().replace(/\.\d+Z$/, "Z");
        const restored = await runOffline({ ...standaloneConfig(), backup: { restoreFrom: moment } });
        assert.match(String(named(restored, "mattermost-pitr-restore").inputs.create), new RegExp(`mattermost-pitr-restore ${moment}$`));
        assert.equal(named(restored, "mattermost-pitr-restore").inputs.update, "true", "a changed connection restores nothing again");
        assert.equal(restored.resources.filter((r) => r.name === "mattermost-restore").length, 0);
        assert.ok(waitsFor(restored, "mattermost-backup-timers", "mattermost-pitr-restore"));
        assert.ok(waitsFor(restored, "mattermost-admin-ensure", "mattermost-pitr-restore"));
    });

    it("exports the mode, the exact Mattermost version, which edition gives GitLab sign-in, and the host's tools", () => {
        const outputs = run.outputs as Record<string, unknown>;
        assert.equal(outputs.mattermostMode, "standalone");
        assert.equal(outputs.mattermostVersion, "11.7.9");
        assert.equal(outputs.mattermostEdition, "enterprise");
        assert.match(String(outputs.mattermostSignIn), /running as Mattermost Entry: GitLab sign-in works/);
        const ssh = `ssh -i gitlab-mattermost.key ubuntu@${eipOf(run, "mattermost")}`;
        assert.equal(outputs.mmctlCommand, `${ssh} sudo mmctl`);
        assert.equal(outputs.mattermostDatabaseCommand, `ssh -t -i gitlab-mattermost.key ubuntu@${eipOf(run, "mattermost")} sudo -iu postgres psql -d mattermost`);
        assert.equal(outputs.mattermostCliCommand, `${ssh} sudo mattermost-cli`);
        assert.equal(outputs.mattermostRestoreCommand, `${ssh} sudo mattermost-restore latest`);
        assert.match(String(named(run, "mattermost-tools-file-mmctl").inputs.stdin), /exec runuser -u "\$user" -- "\$release\/bin\/mmctl" --local/, "the standalone host's mmctl is installed");
        assert.deepEqual(Object.keys(outputs.backupCommands as object), ["gitlab-full-backup", "mattermost-backup"]);
    });

    it("walks a standalone stack from 18.11.11 to 19.3.0 with PostgreSQL 17 first", async () => {
        const walked = await runOffline(standaloneConfig(), { deployed: { gitlabEdition: "ee", gitlabVersion: "18.11.11", mattermostMode: "standalone", mattermostVersion: "11.7.9" } });
        assert.match(String(named(walked, "gitlab-upgrade").inputs.create), /' upgrade-gitlab\.sh ee 21600 postgresql-17 19\.2\.4 19\.3\.0$/);
        assert.match(String(walked.outputs.versionPlan), /^PostgreSQL 17 \(gitlab-ctl pg-upgrade on 18\.11\.11\) → 19\.2\.4 \(required stop\) → 19\.3\.0$/);
    });

    it("shows a Mattermost upgrade in the version plan, along the supported ESR path", async () => {
        const upgraded = await runOffline(standaloneConfig({ version: "11.11.0", checksum: "a".repeat(64) }), {
            deployed: { gitlabEdition: "ee", gitlabVersion: "19.3.0", mattermostMode: "standalone", mattermostVersion: "10.11.23" },
        });
        assert.equal(upgraded.outputs.versionPlan, "nothing to install: the host runs the configured version; Mattermost: 11.7.9 (ESR stop) → 11.11.0");
    });

    it("refuses, before any resource, a Mattermost release whose settings the program does not know", async () => {
        const message = await refusal(standaloneConfig({ version: "12.0.0", checksum: "a".repeat(64) }), {});
        assert.match(message, /^gitlab-mattermost:mattermost\.version 12\.0\.0 is outside the Mattermost releases whose settings this program knows/);
    });

    async function refusal(config: Record<string, unknown>, deployed: Record<string, string>) {
        try {
            await runOffline(config, { deployed });
        } catch (error) {
            assert.ok(error instanceof OfflineProgramError, String(error));
            assert.deepEqual(error.resources, [], "refused before any resource");
            return error.message;
        }
        return assert.fail("the program accepted the configuration");
    }

    it("refuses the move together with a GitLab upgrade, and to another Mattermost version, naming the key", async () => {
        const deployed = { gitlabEdition: "ee", gitlabVersion: "18.11.11", mattermostVersion: "10.11.20" };
        assert.match(await refusal(standaloneConfig({ version: "10.11.20" }, "19.3.0"), deployed), /^gitlab-mattermost:gitlab\.version is 19\.3\.0, but the stack runs GitLab 18\.11\.11 with the bundled Mattermost/);
        assert.match(await refusal(standaloneConfig({}, "18.11.11"), deployed), /^gitlab-mattermost:mattermost\.version is 11\.7\.9, but GitLab 18\.11\.11 \(gitlab\.version\) bundles Mattermost 10\.11\.20/);
    });

    it("refuses a Mattermost downgrade against the recorded version", async () => {
        const message = await refusal(standaloneConfig({ version: "11.7.8" }), { gitlabEdition: "ee", gitlabVersion: "19.3.0", mattermostMode: "standalone", mattermostVersion: "11.7.9" });
        assert.match(message, /^gitlab-mattermost:mattermost\.version cannot be applied: Mattermost 11\.7\.9 is deployed and 11\.7\.8 is older/);
    });

    it("refuses an upgrade into Mattermost's documented 10.11 upgrade bug", async () => {
        const message = await refusal(standaloneConfig({ version: "11.7.2", checksum: "a".repeat(64) }), { gitlabEdition: "ee", gitlabVersion: "19.3.0", mattermostMode: "standalone", mattermostVersion: "10.11.20" });
        assert.match(message, /^gitlab-mattermost:mattermost\.version cannot be applied: .*10\.11\.17 or later to 11\.7\.2 or older.*11\.7\.3/);
    });

    it("refuses going back to bundled once standalone", async () => {
        const message = await refusal(stackConfig("split"), { gitlabEdition: "ee", gitlabVersion: "18.11.11", mattermostMode: "standalone", mattermostVersion: "11.7.9" });
        assert.match(message, /^gitlab-mattermost:mattermost\.mode is bundled, but this stack runs a standalone Mattermost/);
    });
});

describe("program, moving a deployed bundled Mattermost to a standalone host", () => {
    const movedConfig = (mattermost: Record<string, unknown> = {}) =>
        stackConfig("split", { gitlab: { edition: "ee", version: "18.11.11" }, mattermost: { mode: "standalone", version: "10.11.20", ...mattermost } });
    const bundledRecord = (topology: string) => ({ gitlabEdition: "ee", gitlabVersion: "18.11.11", mattermostVersion: "10.11.20", topology });
    const policy = (run: OfflineRun, host: string) => String(named(run, `${host}-backup-access`, "aws:iam/rolePolicy:RolePolicy").inputs.policy);
    const commandsOn = (run: OfflineRun, host: string) => commands(run).filter((command) => connectionHost(command) === eipOf(run, host)).map((command) => command.name).sort();

    for (const [topology, bundledHost, standaloneHost] of [["single", "gitlab", "mattermost"], ["split", "mattermost", "mattermost-standalone"]] as const) {
        describe(`from a ${topology} stack`, () => {
            let run: OfflineRun;
            before(async () => {
                run = await runOffline(movedConfig(), { deployed: bundledRecord(topology) });
            });
            const verified = ["mattermost-migration-export", "mattermost-migration-import"];

            it("shows the plan in the preview and the outputs", () => {
                const plan = (run.outputs.mattermostMigration as string[]).join("\n");
                assert.match(plan, topology === "single" ? /bundled 10\.11\.20 on the GitLab host → standalone 10\.11\.20/ : /bundled 10\.11\.20 on the present Mattermost host → standalone 10\.11\.20/);
                assert.match(String(run.outputs.versionPlan), /^GitLab stays at 18\.11\.11; Mattermost moves from the bundle \(10\.11\.20\) to a standalone host \(10\.11\.20\)$/);
            });

            it(`creates the standalone host as ${standaloneHost}, keeping the host that runs the bundle and its data volume`, () => {
                const instances = byType(run, "aws:ec2/instance:Instance").map((instance) => instance.name).sort();
                assert.deepEqual(instances, topology === "single" ? ["gitlab", "mattermost"] : ["gitlab", "mattermost", "mattermost-standalone"]);
                const volumes = byType(run, "aws:ebs/volume:Volume").map((volume) => volume.name).sort();
                assert.deepEqual(volumes, topology === "single" ? ["gitlab-data", "mattermost-data"] : ["gitlab-data", "mattermost-data", "mattermost-standalone-data"]);
                assert.ok(byType(run, "aws:ebs/volume:Volume").every((volume) => volume.protect), "every data volume stays protected");
                assert.equal(scriptOfCommand(String(named(run, `${standaloneHost}-install`).inputs.create)), "install-mattermost.sh");
                assert.equal(connectionHost(named(run, `${standaloneHost}-install`)), eipOf(run, standaloneHost));
                if (topology === "split") {
                    // The old host is no longer configured: only the move's own steps reach it, and the
                    // settings, which now describe the new host (its instance type, its volume's size), leave it as it is.
                    assert.deepEqual(commandsOn(run, "mattermost"), ["mattermost-migration-export", "mattermost-migration-retire"]);
                    assert.deepEqual(named(run, "mattermost", "aws:ec2/instance:Instance").ignoreChanges, ["*"]);
                    assert.deepEqual(named(run, "mattermost-data", "aws:ebs/volume:Volume").ignoreChanges, ["*"]);
                    assert.deepEqual(named(run, "mattermost-standalone", "aws:ec2/instance:Instance").ignoreChanges, ["ami"]);
                    assert.equal(named(run, "mattermost", "aws:ec2/instance:Instance").protect, true);
                }
            });

            it("exports on the bundled host and imports on the standalone one, once it runs with its settings and backup tools, before its health gate", () => {
                assert.equal(connectionHost(named(run, "mattermost-migration-export")), eipOf(run, bundledHost));
                assert.equal(connectionHost(named(run, "mattermost-migration-import")), eipOf(run, standaloneHost));
                for (const half of verified) {
                    assert.ok(waitsFor(run, half, `${standaloneHost}-environment`));
                    assert.ok(waitsFor(run, half, `${standaloneHost}-backup-tools-ready`));
                    assert.ok(!waitsFor(run, half, `${standaloneHost}-health`));
                    assert.ok(named(run, half).dependsOn.includes(`${bundledHost}-backup-access`), "the migration folder is granted first");
                }
                assert.match(String(named(run, "mattermost-migration-export").inputs.create), /' export-bundled-mattermost\.sh 10\.11\.20$/);
                assert.match(policy(run, bundledHost), /\/mattermost-migration\/\*/);
                assert.match(policy(run, standaloneHost), /\/mattermost-migration\/\*/);
            });

            it("moves the Mattermost name to the standalone host only once the move is verified", () => {
                const record = byType(run, "aws:route53/record:Record").find((r) => r.inputs.name === "mattermost.example.com");
                assert.deepEqual(record?.inputs.records, [eipOf(run, standaloneHost)]);
                for (const half of verified) {
                    assert.ok(record?.dependsOn.includes(half), `the record waits for ${half}`);
                }
                if (topology === "single") {
                    const gitlabRecord = byType(run, "aws:route53/record:Record").find((r) => r.inputs.name === "gitlab.example.com");
                    assert.ok(!verified.some((half) => gitlabRecord?.dependsOn.includes(half)), "GitLab's name does not wait");
                }
            });

            it("rewrites the GitLab host's gitlab.rb and backups after the move, then checks gitlab.rb against 19.0", () => {
                for (const half of verified) {
                    assert.ok(waitsFor(run, "gitlab-gitlab-rb", half));
                    assert.ok(waitsFor(run, "gitlab-backup-timers", half));
                }
                const gitlabRb = String(named(run, "gitlab-gitlab-rb").inputs.stdin);
                assert.doesNotMatch(gitlabRb, /mattermost_external_url|mattermost\[|mattermost_nginx\[/);
                assert.match(gitlabRb, /^gitlab_rails\['mattermost_host'\] = "https:\/\/mattermost\.example\.com"$/m);
                const check = named(run, "mattermost-migration-check-gitlab-config");
                assert.match(String(check.inputs.create), /' check-gitlab-config\.sh 19\.0$/);
                assert.equal(connectionHost(check), eipOf(run, "gitlab"));
                assert.ok(waitsFor(run, "mattermost-migration-check-gitlab-config", "gitlab-gitlab-rb"));
                assert.ok(waitsFor(run, "oauth-ahead-register", "gitlab-install") && !waitsFor(run, "oauth-ahead-register", "gitlab-gitlab-rb"), "the sign-in application is there before the standalone host's settings");
            });

            it("starts the standalone host's health gate, certificate, first administrator, backups and archiving only on the moved data", () => {
                for (const later of [`${standaloneHost}-health`, "mattermost-admin-ensure", `${standaloneHost}-backup-timers`, `${standaloneHost}-pitr-enable`]) {
                    for (const half of verified) assert.ok(waitsFor(run, later, half), `${later} waits for ${half}`);
                }
                // Let's Encrypt: the certificate is asked for once the moved name (which waits for the move) points here.
                assert.ok(named(run, `${standaloneHost}-dns-ready`).dependsOn.includes("dns-mattermost.example.com"));
                assert.ok(waitsFor(run, `${standaloneHost}-certificate`, `${standaloneHost}-dns-ready`));
            });

            it("keeps the bundle stopped on its host once verified", () => {
                const retire = named(run, "mattermost-migration-retire");
                assert.equal(connectionHost(retire), eipOf(run, bundledHost));
                for (const half of verified) assert.ok(retire.dependsOn.includes(half));
            });

            it("records the move, and where the bundled data stays", () => {
                assert.equal(run.outputs.mattermostMode, "standalone");
                assert.equal(run.outputs.topology, "split");
                assert.equal(run.outputs.mattermostHostName, standaloneHost);
                assert.equal(run.outputs.bundledMattermostDataOn, bundledHost);
                assert.deepEqual(Object.keys(run.outputs.hosts as object).sort(), topology === "single" ? ["gitlab", "mattermost"] : ["gitlab", "mattermost", "mattermost-standalone"]);
            });
        });

        describe(`after a move from a ${topology} stack`, () => {
            const moved = { ...bundledRecord(topology), topology: "split", mattermostMode: "standalone", mattermostHostName: standaloneHost, bundledMattermostDataOn: bundledHost };
            let run: OfflineRun;
            before(async () => {
                run = await runOffline(movedConfig(), { deployed: moved });
            });

            it("runs no move again, keeps the standalone host's name, and keeps the bundled data's host", () => {
                assert.deepEqual(commands(run).filter((command) => command.name.startsWith("mattermost-migration")), []);
                assert.deepEqual(byType(run, "aws:ec2/instance:Instance").map((instance) => instance.name).sort(), topology === "single" ? ["gitlab", "mattermost"] : ["gitlab", "mattermost", "mattermost-standalone"]);
                assert.ok(byType(run, "aws:ec2/instance:Instance").every((instance) => instance.protect));
                if (topology === "split") assert.deepEqual(commandsOn(run, "mattermost"), [], "the old host is configured no more");
                assert.match(policy(run, bundledHost), /\/mattermost-migration\/\*/, "the removal reads the move's record");
                assert.doesNotMatch(policy(run, standaloneHost), /mattermost-migration/);
                assert.equal(run.outputs.bundledMattermostDataOn, bundledHost);
            });

            it("removes the bundled data with mattermost.removeBundledData once the standalone host is healthy, and records it", async () => {
                const removing = await runOffline(movedConfig({ removeBundledData: true }), { deployed: moved });
                const removal = named(removing, "mattermost-bundled-data-remove");
                assert.equal(connectionHost(removal), eipOf(removing, bundledHost));
                assert.match(String(removal.inputs.create), /' remove-bundled-mattermost-data\.sh mattermost$/);
                assert.ok(waitsFor(removing, "mattermost-bundled-data-remove", `${standaloneHost}-health`));
                assert.match(policy(removing, bundledHost), /\/mattermost\/\*/, "it reads the standalone host's newest backup");
                assert.equal(removing.outputs.bundledMattermostDataOn, "none");
                if (topology === "split") {
                    // The next run may delete the emptied host; its volume only leaves the stack.
                    assert.equal(named(removing, "mattermost", "aws:ec2/instance:Instance").protect, false);
                    assert.equal(named(removing, "mattermost-data", "aws:ebs/volume:Volume").protect, false);
                    assert.equal(named(removing, "mattermost-data", "aws:ebs/volume:Volume").retainOnDelete, true);
                    const after = await runOffline(movedConfig({ removeBundledData: true }), { deployed: { ...moved, bundledMattermostDataOn: "none" } });
                    assert.deepEqual(byType(after, "aws:ec2/instance:Instance").map((instance) => instance.name).sort(), ["gitlab", "mattermost-standalone"]);
                }
            });
        });
    }

    it("refuses a restore in the run that moves, naming the key", async () => {
        try {
            await runOffline({ ...movedConfig(), backup: { restoreFrom: "latest" } }, { deployed: bundledRecord("split") });
        } catch (error) {
            assert.ok(error instanceof OfflineProgramError, String(error));
            assert.deepEqual(error.resources, []);
            assert.match(error.message, /^gitlab-mattermost:backup\.restoreFrom is set while this run moves the bundled Mattermost/);
            return;
        }
        assert.fail("accepted");
    });
});
