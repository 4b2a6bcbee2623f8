// The check before a host's first remote command (ssh.access direct), against real loopback ports: one
// that listens, one that refuses, and one that stays silent as a security group's dropped port does.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createServer, type Server } from "node:net";
import { HostAccessError, awaitDirectSsh, probePort, type DirectCheckOptions } from "../../../components/aws/reachability";
import { silentPort, type SilentPort } from "../../support/silentPort";

function listen(port = 0): Promise<Server> {
    return new Promise((resolve) => {
        const server = createServer((socket) => {
            socket.on("error", () => undefined);
            socket.end("SSH-2.0-loopback\r\n");
        });
        server.listen({ host: "127.0.0.1", port }, () => resolve(server));
    });
}
const portOf = (server: Server) => (server.address() as { port: number }).port;
/** A port nothing listens on: refused. */
async function closedPort(): Promise<number> {
    const server = await listen();
    const port = portOf(server);
    await new Promise((resolve) => server.close(resolve));
    return port;
}

const options = (sshPort: number, witnessPort: number, bootBudgetMs = 1_500): DirectCheckOptions => ({
    bootBudgetMs,
    probeTimeoutMs: 400,
    retryDelayMs: 100,
    sshPort,
    witnessPort,
});

async function failure(check: Promise<void>): Promise<{ message: string; ms: number }> {
    const started = Date.now();
    try {
        await check;
    } catch (error) {
        assert.ok(error instanceof HostAccessError, `expected a HostAccessError, got ${String(error)}`);
        return { message: error.message, ms: Date.now() - started };
    }
    assert.fail("the check passed");
}

describe("probePort", () => {
    let silent: SilentPort;
    before(async () => (silent = await silentPort()));
    after(() => silent.close());

    it("tells a listening port, a refusing port and a silent port apart", async () => {
        const server = await listen();
        try {
            assert.equal(await probePort("127.0.0.1", portOf(server), 1_000), "open");
        } finally {
            server.close();
        }
        assert.equal(await probePort("127.0.0.1", await closedPort(), 1_000), "refused");
        const started = Date.now();
        assert.equal(await probePort("127.0.0.1", silent.port, 500), "silent");
        assert.ok(Date.now() - started >= 450, "a silent port is only known silent once the timeout has passed");
    });
});

describe("awaitDirectSsh", () => {
    let silent: SilentPort;
    let silentWitness: SilentPort;
    before(async () => {
        silent = await silentPort();
        silentWitness = await silentPort();
    });
    after(() => {
        silent.close();
        silentWitness.close();
    });

    it("passes at once when SSH answers", async () => {
        const server = await listen();
        try {
            await awaitDirectSsh("127.0.0.1", "gitlab", options(portOf(server), await closedPort()));
        } finally {
            server.close();
        }
    });

    it("waits for sshd to start on a booting host (refused first, then listening)", async () => {
        const port = await closedPort();
        const witness = await closedPort();
        let server: Server | undefined;
        const starting = new Promise<void>((resolve) => setTimeout(async () => ((server = await listen(port)), resolve()), 600));
        try {
            await awaitDirectSsh("127.0.0.1", "gitlab", options(port, witness, 5_000));
            await starting;
        } finally {
            server?.close();
        }
    });

    it("fails fast, naming ssh.allowedCidrs, when SSH is silent while the host answers HTTP (a refusal counts)", async () => {
        const { message, ms } = await failure(awaitDirectSsh("127.0.0.1", "gitlab", options(silent.port, await closedPort(), 60_000)));
        assert.match(message, /^The gitlab host \(127\.0\.0\.1\) answers on port \d+ but not on SSH port \d+: this machine's public address is not in gitlab-mattermost:ssh\.allowedCidrs/);
        assert.match(message, /pulumi config set --path 'ssh\.allowedCidrs\[1\]'/);
        assert.match(message, /pulumi config set --path ssh\.access ssm/);
        assert.ok(ms < 5_000, `took ${ms} ms with a boot budget of a minute: the silence was not recognised as a filter`);
    });

    it("fails fast the same way when HTTP is open", async () => {
        const web = await listen();
        try {
            const { message, ms } = await failure(awaitDirectSsh("127.0.0.1", "mattermost", options(silent.port, portOf(web), 60_000)));
            assert.match(message, /^The mattermost host .* not in gitlab-mattermost:ssh\.allowedCidrs/);
            assert.ok(ms < 5_000, `took ${ms} ms`);
        } finally {
            web.close();
        }
    });

    it("gives a host that answers nothing its boot budget, then says it does not come up", async () => {
        const { message, ms } = await failure(awaitDirectSsh("127.0.0.1", "gitlab", options(silent.port, silentWitness.port, 1_500)));
        assert.match(message, /answered neither SSH \(\d+\) nor HTTP \(\d+\) within 2 s: the instance is stopped or has not come up/);
        assert.ok(ms >= 1_500, `gave up after ${ms} ms, before the boot budget`);
    });

    it("says sshd does not listen when port 22 keeps refusing past the budget", async () => {
        const { message, ms } = await failure(awaitDirectSsh("127.0.0.1", "gitlab", options(await closedPort(), await closedPort(), 1_000)));
        assert.match(message, /refuses SSH on port \d+ after 1 s: it runs, but sshd does not listen/);
        assert.ok(ms >= 1_000);
    });
});
