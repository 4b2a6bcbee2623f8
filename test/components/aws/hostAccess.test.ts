// How remote commands reach a host, on Pulumi's mock runtime: the connection each mode gives them, and
// that no command is sent to the engine before the host's check has passed, nor at all when it fails.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import fc from "fast-check";
import { HOST_ACCESS, DEPLOY_CHECKS, deploymentChecks, hostAccess, tunnelPort, type HostAccessChecks } from "../../../components/aws/hostAccess";
import { HostAccessError } from "../../../components/aws/reachability";
import { PROJECT } from "../../../components/settings/configError";
import { unwrapSecrets } from "../../../scripts/offlineRuntime";

/** What happened, in order: checks finishing and resources reaching the (mock) engine. */
const events: string[] = [];

before(async () => {
    await pulumi.runtime.setMocks(
        {
            newResource: (args) => {
                events.push(`registered ${args.name}`);
                return { id: `${args.name}-id`, state: { ...args.inputs, stdout: "", stderr: "" } };
            },
            call: () => ({}),
        },
        "gitlab-mattermost",
        "test",
        false,
    );
});

const promiseOf = <T>(output: pulumi.Output<T>) => new Promise<T>((resolve) => output.apply(resolve));

/** Checks that take a moment, note when they end, and fail for the hosts in `failing`. */
function slowChecks(failing: readonly string[] = []): HostAccessChecks {
    const finish = async (label: string, detail: string) => {
        await new Promise((resolve) => setTimeout(resolve, 150));
        events.push(`checked ${label} ${detail}`);
        if (failing.includes(label)) throw new HostAccessError(`The ${label} host answers on port 80 but not on SSH port 22: this machine's public address is not in gitlab-mattermost:ssh.allowedCidrs`);
    };
    return { direct: (address, label) => finish(label, address), ssm: (instanceId, label, port) => finish(label, `${instanceId}:${port}`) };
}

const SECRET_KEY = pulumi.secret("<private key>");

describe("hostAccess on the mock runtime", () => {
    it("direct: the Elastic IP on port 22, with a short dial budget, checked before the first command", async () => {
        events.length = 0;
        const access = hostAccess("gitlab", { access: "direct", instanceId: "i-0abc", publicIp: pulumi.output("198.51.100.7"), privateKey: SECRET_KEY }, slowChecks());
        const step = new command.remote.Command("gitlab-first-step", { connection: access.connection, create: "true" });
        await promiseOf(step.urn);
        await promiseOf(step.stdout);
        assert.deepEqual(events, ["checked gitlab 198.51.100.7", "registered gitlab-first-step"]);
        const connection = unwrapSecrets(await promiseOf(pulumi.output(access.connection)), "", []);
        assert.deepEqual(connection, {
            host: "198.51.100.7",
            port: 22,
            user: "ubuntu",
            privateKey: "<private key>",
            dialErrorLimit: HOST_ACCESS.dialErrorLimit,
            perDialTimeout: HOST_ACCESS.perDialTimeoutSeconds,
        });
        assert.ok(HOST_ACCESS.dialErrorLimit * HOST_ACCESS.perDialTimeoutSeconds <= 60, "a command's own dial attempts end within a minute");
        assert.equal(await promiseOf(access.sshDestination), "ubuntu@198.51.100.7");
    });

    it("ssm: the host's tunnel port on 127.0.0.1, checked (and opened) before the first command", async () => {
        events.length = 0;
        const access = hostAccess("mattermost", { access: "ssm", instanceId: pulumi.output("i-0def"), publicIp: "198.51.100.8", privateKey: SECRET_KEY }, slowChecks());
        const step = new command.remote.Command("mattermost-first-step", { connection: access.connection, create: "true" });
        await promiseOf(step.stdout);
        const port = tunnelPort("test", "mattermost");
        assert.deepEqual(events, [`checked mattermost i-0def:${port}`, "registered mattermost-first-step"]);
        const connection = (await promiseOf(pulumi.output(access.connection))) as { host: string; port: number; dialErrorLimit: number };
        assert.equal(connection.host, "127.0.0.1");
        assert.equal(connection.port, port);
        assert.equal(connection.dialErrorLimit, HOST_ACCESS.dialErrorLimit);
        assert.equal(
            await promiseOf(access.sshDestination),
            "-o ProxyCommand='aws ssm start-session --target i-0def --document-name AWS-StartSSHSession --parameters portNumber=%p' ubuntu@i-0def",
        );
    });

    it("a failed check sends no command, and fails the run with its message", async () => {
        events.length = 0;
        const access = hostAccess("gitlab", { access: "direct", instanceId: "i-0abc", publicIp: "198.51.100.9", privateKey: SECRET_KEY }, slowChecks(["gitlab"]));
        // A registration that fails ends a Pulumi program through an unhandled rejection (the engine's
        // runner reports it); here it is caught instead of the test runner's own handler.
        const runnerHandlers = process.rawListeners("unhandledRejection") as ((...args: unknown[]) => void)[];
        process.removeAllListeners("unhandledRejection");
        try {
            const rejections: Error[] = [];
            process.on("unhandledRejection", (reason) => rejections.push(reason as Error));
            new command.remote.Command("gitlab-blocked-step", { connection: access.connection, create: "true" });
            // The check takes 150 ms; what fails because of it has failed well within a second.
            await new Promise((resolve) => setTimeout(resolve, 1_000));
            assert.ok(rejections.length > 0, "the run did not fail");
            for (const error of rejections) {
                assert.match(error.message, /The gitlab host answers on port 80 but not on SSH port 22: .*not in gitlab-mattermost:ssh\.allowedCidrs/);
            }
            process.removeAllListeners("unhandledRejection");
        } finally {
            runnerHandlers.forEach((handler) => process.on("unhandledRejection", handler));
        }
        assert.deepEqual(events, ["checked gitlab 198.51.100.9"]);
    });
});

describe("tunnelPort", () => {
    const HOSTS = ["gitlab", "mattermost", "mattermost-standalone"] as const;
    /** The port a host's name hashes to: every host's port unless an earlier host of the stack has it. */
    const hashed = (stack: string, host: string) =>
        HOST_ACCESS.tunnelPorts.first + (createHash("sha256").update(`${PROJECT}/${stack}/${host}`).digest().readUInt32BE(0) % HOST_ACCESS.tunnelPorts.count);
    const collide = (stack: string) => new Set(HOSTS.map((host) => hashed(stack, host))).size < HOSTS.length;

    it("is the same on every run, below Linux's ephemeral range, and differs between a stack's hosts", () => {
        fc.assert(
            fc.property(fc.string({ minLength: 1, maxLength: 40 }), (stack) => {
                const ports = HOSTS.map((host) => tunnelPort(stack, host));
                assert.deepEqual(HOSTS.map((host) => tunnelPort(stack, host)), ports);
                assert.equal(new Set(ports).size, HOSTS.length, `${stack}: ${ports.join(" ")}`);
                for (const port of ports) {
                    assert.ok(port >= 20_000 && port < 30_000, `port ${port}`);
                }
            }),
        );
    });

    it("is the port the host's name hashes to wherever no two hosts of the stack hash alike, as before", () => {
        fc.assert(
            fc.property(fc.string({ minLength: 1, maxLength: 40 }), (stack) => {
                fc.pre(!collide(stack));
                assert.deepEqual(HOSTS.map((host) => tunnelPort(stack, host)), HOSTS.map((host) => hashed(stack, host)));
            }),
        );
    });

    it("gives a later host the next free port when its name hashes to an earlier host's", () => {
        const colliding = Array.from({ length: 20_000 }, (_, n) => `stack-${n}`).filter(collide);
        assert.ok(colliding.length > 0, "some stack names make two hosts hash alike");
        for (const stack of colliding) {
            const ports = HOSTS.map((host) => tunnelPort(stack, host));
            assert.equal(new Set(ports).size, HOSTS.length, `${stack}: ${ports.join(" ")}`);
            assert.equal(ports[0], hashed(stack, "gitlab"), "the first host keeps its port");
            HOSTS.forEach((host, index) => {
                const taken = ports.slice(0, index);
                if (!taken.includes(hashed(stack, host))) {
                    assert.equal(ports[index], hashed(stack, host), `${stack}: ${host} keeps the port its name hashes to`);
                }
            });
        }
    });

    it("refuses a host the stacks do not have", () => {
        assert.throws(() => tunnelPort("prod", "runner"), /no tunnel port for host runner: the hosts are gitlab, mattermost, mattermost-standalone/);
    });
});

describe("deploymentChecks", () => {
    const saved = process.env.PULUMI_NODEJS_MONITOR;
    after(() => {
        if (saved === undefined) delete process.env.PULUMI_NODEJS_MONITOR;
        else process.env.PULUMI_NODEJS_MONITOR = saved;
    });

    it("checks only in a deployment the engine runs: not on the mock runtime, not in a preview", () => {
        delete process.env.PULUMI_NODEJS_MONITOR;
        assert.equal(deploymentChecks(), undefined);
        process.env.PULUMI_NODEJS_MONITOR = "127.0.0.1:12345";
        assert.equal(deploymentChecks(), DEPLOY_CHECKS);
        const settings = require("@pulumi/pulumi/runtime/settings") as { _setIsDryRun: (value: boolean) => void };
        settings._setIsDryRun(true);
        try {
            assert.equal(deploymentChecks(), undefined);
        } finally {
            settings._setIsDryRun(false);
        }
    });
});
