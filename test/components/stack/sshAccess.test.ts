// The program on Pulumi's mock runtime with each ssh.access: what the security group opens, the hosts'
// Systems Manager permissions, where every remote command connects, and the ssh commands it outputs.

import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { HOST_ACCESS, tunnelPort } from "../../../components/aws/hostAccess";
import { runOffline, type OfflineRun, type RegisteredResource } from "../../../scripts/offlineRuntime";
import { stackConfig } from "../../support/stackConfig";

const byType = (run: OfflineRun, type: string) => run.resources.filter((r) => r.type === type);
const commands = (run: OfflineRun) => byType(run, "command:remote:Command");
type Connection = { host: string; port: number; user: string; dialErrorLimit: number; perDialTimeout: number };
const connectionOf = (command: RegisteredResource) => command.inputs.connection as Connection;
/** The host a command runs on, from its name (gitlab-..., mattermost-..., or the OAuth steps on the GitLab host). */
const hostOfCommand = (hosts: readonly string[], command: RegisteredResource) => hosts.find((host) => command.name.startsWith(`${host}-`)) ?? "gitlab";
const ingressPorts = (run: OfflineRun) => (byType(run, "aws:ec2/securityGroup:SecurityGroup")[0].inputs.ingress as { fromPort: number }[]).map((rule) => rule.fromPort).sort((a, b) => a - b);

for (const topology of ["single", "split"] as const) {
    const hosts = topology === "single" ? ["gitlab"] : ["gitlab", "mattermost"];

    describe(`ssh.access ssm, ${topology} topology`, () => {
        let run: OfflineRun;
        before(async () => {
            run = await runOffline(stackConfig(topology, { ssh: { access: "ssm" } }), { stack: "prod" });
        });

        it("opens no SSH port: only HTTP and HTTPS", () => {
            assert.deepEqual(ingressPorts(run), [80, 443]);
        });

        it("connects every remote command to its host's tunnel on 127.0.0.1, with the short dial budget", () => {
            assert.ok(commands(run).length > 5);
            for (const command of commands(run)) {
                const connection = connectionOf(command);
                assert.equal(connection.host, "127.0.0.1", command.name);
                assert.equal(connection.port, tunnelPort("prod", hostOfCommand(hosts, command)), command.name);
                assert.equal(connection.dialErrorLimit, HOST_ACCESS.dialErrorLimit);
                assert.equal(connection.perDialTimeout, HOST_ACCESS.perDialTimeoutSeconds);
                assert.ok(command.secretInputs.includes("connection"), "the connection holds the private key");
            }
        });

        it("outputs ssh commands that go through Session Manager", () => {
            const outputs = run.outputs.hosts as Record<string, { sshCommand: string }>;
            for (const host of hosts) {
                assert.equal(
                    outputs[host].sshCommand,
                    `ssh -i gitlab-mattermost.key -o ProxyCommand='aws ssm start-session --target ${host}-id --document-name AWS-StartSSHSession --parameters portNumber=%p' ubuntu@${host}-id`,
                );
            }
        });
    });

    describe(`ssh.access direct, ${topology} topology`, () => {
        let run: OfflineRun;
        before(async () => {
            run = await runOffline(stackConfig(topology));
        });

        it("opens SSH to ssh.allowedCidrs", () => {
            assert.deepEqual(ingressPorts(run), [22, 80, 443]);
        });

        it("connects every remote command to its host's Elastic IP on port 22, with the short dial budget", () => {
            const eips = Object.fromEntries(byType(run, "aws:ec2/eip:Eip").map((eip) => [eip.name, eip.outputs.publicIp]));
            for (const command of commands(run)) {
                const connection = connectionOf(command);
                assert.equal(connection.host, eips[hostOfCommand(hosts, command)], command.name);
                assert.equal(connection.port, 22);
                assert.equal(connection.dialErrorLimit, HOST_ACCESS.dialErrorLimit);
                assert.equal(connection.perDialTimeout, HOST_ACCESS.perDialTimeoutSeconds);
            }
        });
    });

    describe(`Systems Manager registration, ${topology} topology`, () => {
        for (const access of ["direct", "ssm"] as const) {
            it(`gives every host's role AmazonSSMManagedInstanceCore before the instance boots (ssh.access ${access})`, async () => {
                const run = await runOffline(stackConfig(topology, access === "ssm" ? { ssh: { access } } : {}));
                const attachments = byType(run, "aws:iam/rolePolicyAttachment:RolePolicyAttachment").filter((a) => a.name.endsWith("-ssm-agent"));
                assert.deepEqual(attachments.map((a) => a.name).sort(), hosts.map((host) => `${host}-ssm-agent`));
                for (const host of hosts) {
                    const attachment = attachments.find((a) => a.name === `${host}-ssm-agent`) as RegisteredResource;
                    assert.equal(attachment.inputs.policyArn, "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore");
                    assert.equal(attachment.inputs.role, `${host}-backup-access-standin`, "the role of the host's own instance profile");
                    const instance = byType(run, "aws:ec2/instance:Instance").find((i) => i.name === host) as RegisteredResource;
                    assert.equal(instance.inputs.iamInstanceProfile, `${host}-backup-access-standin`);
                    assert.ok(instance.dependsOn.includes(`${host}-ssm-agent`), "the agent registers from the first boot");
                }
            });
        }
    });
}
