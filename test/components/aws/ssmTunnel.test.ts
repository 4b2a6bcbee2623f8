// The Systems Manager path (ssh.access ssm) with RECORDING STAND-INS for `aws` and
// `session-manager-plugin`: the stand-in `aws ssm start-session` carries its stdin and stdout to a
// loopback "sshd" (a Node server that greets and echoes), as the real session carries them to the
// instance's port 22. What cannot be tested here: the real AWS CLI, plugin, agent and AWS.

import assert from "node:assert/strict";
import { after, afterEach, beforeEach, describe, it } from "node:test";
import { connect, createServer, type Server, type Socket } from "node:net";
import { HostAccessError } from "../../../components/aws/reachability";
import { SshTunnel, awaitSsmRegistration, checkSsmClient, sshSessionCommand } from "../../../components/aws/ssmTunnel";
import { Sandbox } from "../../support/standIns";

const ORIGINAL_PATH = process.env.PATH;
const BANNER = "SSH-2.0-OpenSSH_9.6p1 loopback\r\n";

/** A loopback server that greets like sshd and echoes what follows. */
function fakeSshd(): Promise<Server> {
    return new Promise((resolve) => {
        const server = createServer((socket) => {
            socket.on("error", () => undefined);
            socket.write(BANNER);
            socket.pipe(socket);
        });
        server.listen({ host: "127.0.0.1", port: 0 }, () => resolve(server));
    });
}
const portOf = (server: Server) => (server.address() as { port: number }).port;
async function freePort(): Promise<number> {
    const server = await fakeSshd();
    const port = portOf(server);
    await new Promise((resolve) => server.close(resolve));
    return port;
}

/** `aws` stand-in: start-session bridges to STANDIN_SSHD_PORT; describe-instance-information answers from STANDIN_PING (one word per call, the last repeats). */
const AWS_STAND_IN = `
case "$2" in
    start-session)
        echo "$$" >"$CALL_DIR/pid"
        if [ -n "\${STANDIN_SESSION_ERROR:-}" ]; then echo "$STANDIN_SESSION_ERROR" >&2; exit 254; fi
        exec node -e 'const s = require("net").connect(Number(process.env.STANDIN_SSHD_PORT), "127.0.0.1"); process.stdin.pipe(s); s.pipe(process.stdout); s.on("close", () => process.exit(0)); s.on("error", () => process.exit(1));'
        ;;
    describe-instance-information)
        if [ -n "\${STANDIN_DESCRIBE_ERROR:-}" ]; then echo "$STANDIN_DESCRIBE_ERROR" >&2; exit 254; fi
        read -r -a answers <<<"$STANDIN_PING"
        index=$(( CALL_NUMBER <= \${#answers[@]} ? CALL_NUMBER - 1 : \${#answers[@]} - 1 ))
        echo "\${answers[$index]}"
        ;;
    *) echo "stand-in aws: unexpected call: $*" >&2; exit 2 ;;
esac
`;

function withPath(dirs: string): void {
    process.env.PATH = dirs;
}

describe("sshSessionCommand", () => {
    it("opens an SSH session to port 22 of the instance, in the provider's region and profile when they are set", () => {
        assert.deepEqual(sshSessionCommand("i-0abc", {}), ["aws", "ssm", "start-session", "--target", "i-0abc", "--document-name", "AWS-StartSSHSession", "--parameters", "portNumber=22"]);
        assert.deepEqual(sshSessionCommand("i-0abc", { region: "eu-west-1", profile: "ops" }).slice(-4), ["--region", "eu-west-1", "--profile", "ops"]);
    });
});

describe("Systems Manager client and registration", () => {
    let sandbox: Sandbox;
    beforeEach(() => {
        sandbox = new Sandbox();
        sandbox.standIn("aws", AWS_STAND_IN);
        sandbox.standIn("session-manager-plugin", 'echo "1.2.0.0"');
        withPath(`${sandbox.bin}:${ORIGINAL_PATH}`);
    });
    afterEach(() => {
        process.env.PATH = ORIGINAL_PATH;
        delete process.env.STANDIN_PING;
        delete process.env.STANDIN_DESCRIBE_ERROR;
    });

    it("accepts a machine with both tools", async () => {
        await checkSsmClient();
        assert.deepEqual(sandbox.calls("session-manager-plugin").map((call) => call.argv), [["--version"]]);
    });

    it("names the missing AWS CLI", async () => {
        withPath(sandbox.path("empty"));
        await assert.rejects(checkSsmClient(), (error: Error) => error instanceof HostAccessError && /ssh\.access is ssm, but the AWS CLI \(aws\) is not on this machine's PATH.*Session Manager plugin/.test(error.message));
    });

    it("names the missing Session Manager plugin", async () => {
        sandbox.write("only-aws/aws", "#!/bin/bash\nexit 0\n", 0o755);
        withPath(sandbox.path("only-aws"));
        await assert.rejects(checkSsmClient(), (error: Error) => error instanceof HostAccessError && /but the Session Manager plugin \(session-manager-plugin\) is not on this machine's PATH/.test(error.message));
    });

    it("waits for a new instance's agent to come Online", async () => {
        process.env.STANDIN_PING = "None ConnectionLost Online";
        await awaitSsmRegistration("i-0abc", "gitlab", { region: "eu-west-1" }, { registrationBudgetMs: 10_000, retryDelayMs: 50, bannerTimeoutMs: 1_000 });
        const calls = sandbox.calls("aws");
        assert.equal(calls.length, 3);
        assert.deepEqual(calls[0].argv, [
            "ssm", "describe-instance-information", "--filters", "Key=InstanceIds,Values=i-0abc",
            "--query", "InstanceInformationList[0].PingStatus", "--output", "text", "--region", "eu-west-1",
        ]);
    });

    it("fails at once, naming the permissions, when the deployer's credentials are refused", async () => {
        process.env.STANDIN_DESCRIBE_ERROR = "An error occurred (AccessDeniedException) when calling the DescribeInstanceInformation operation: User: arn:aws:sts::1:assumed-role/ci is not authorized";
        await assert.rejects(
            awaitSsmRegistration("i-0abc", "gitlab", {}, { registrationBudgetMs: 60_000, retryDelayMs: 50, bannerTimeoutMs: 1_000 }),
            (error: Error) => error instanceof HostAccessError && /refused this machine's request about the gitlab host \(i-0abc\): An error occurred \(AccessDeniedException\).*need ssm:DescribeInstanceInformation and ssm:StartSession/.test(error.message),
        );
        assert.equal(sandbox.calls("aws").length, 1, "a refusal is not retried");
    });

    it("gives up after its budget on an instance that never registers, naming the agent's needs", async () => {
        process.env.STANDIN_PING = "None";
        const started = Date.now();
        await assert.rejects(
            awaitSsmRegistration("i-0abc", "mattermost", {}, { registrationBudgetMs: 500, retryDelayMs: 50, bannerTimeoutMs: 1_000 }),
            (error: Error) => error instanceof HostAccessError && /mattermost host \(i-0abc\) is not registered with Systems Manager after 1 s \(its status is unknown to Systems Manager\).*AmazonSSMManagedInstanceCore/.test(error.message),
        );
        assert.ok(Date.now() - started >= 500);
    });
});

describe("SshTunnel", () => {
    let sandbox: Sandbox;
    let sshd: Server;
    const tunnels: SshTunnel[] = [];
    beforeEach(async () => {
        sandbox = new Sandbox();
        sandbox.standIn("aws", AWS_STAND_IN);
        withPath(`${sandbox.bin}:${ORIGINAL_PATH}`);
        sshd = await fakeSshd();
        process.env.STANDIN_SSHD_PORT = String(portOf(sshd));
    });
    afterEach(() => {
        process.env.PATH = ORIGINAL_PATH;
        delete process.env.STANDIN_SESSION_ERROR;
        tunnels.splice(0).forEach((tunnel) => tunnel.close());
        sshd.close();
    });
    after(() => delete process.env.STANDIN_SSHD_PORT);

    const open = async (label = "gitlab") => {
        const tunnel = await SshTunnel.open(await freePort(), sshSessionCommand("i-0abc", { region: "eu-west-1" }), label);
        tunnels.push(tunnel);
        return tunnel;
    };
    /** Connects through the tunnel, sends `line`, and returns everything read until `until` shows up. */
    const exchange = (port: number, line: string, until: string) =>
        new Promise<string>((resolve, reject) => {
            const socket: Socket = connect({ host: "127.0.0.1", port });
            let seen = "";
            socket.on("data", (chunk: Buffer) => {
                seen += chunk.toString();
                if (seen.includes(until)) {
                    socket.destroy();
                    resolve(seen);
                }
            });
            socket.once("connect", () => socket.write(line));
            socket.once("error", reject);
            socket.setTimeout(10_000, () => reject(new Error(`no ${JSON.stringify(until)} through the tunnel; got ${JSON.stringify(seen)}`)));
        });

    it("carries each connection through its own session to the host's port 22", async () => {
        const tunnel = await open();
        const [first, second] = await Promise.all([exchange(tunnel.port, "hello\n", "hello\n"), exchange(tunnel.port, "again\n", "again\n")]);
        assert.equal(first, `${BANNER}hello\n`);
        assert.equal(second, `${BANNER}again\n`);
        const sessions = sandbox.calls("aws");
        assert.equal(sessions.length, 2);
        for (const session of sessions) {
            assert.deepEqual(session.argv, ["ssm", "start-session", "--target", "i-0abc", "--document-name", "AWS-StartSSHSession", "--parameters", "portNumber=22", "--region", "eu-west-1"]);
        }
    });

    it("ends a session when its connection closes", async () => {
        const tunnel = await open();
        await exchange(tunnel.port, "x\n", "x\n");
        const { readFileSync } = await import("node:fs");
        const pid = Number(readFileSync(`${sandbox.calls("aws")[0].dir}/pid`, "utf8"));
        const deadline = Date.now() + 5_000;
        const alive = () => {
            try {
                process.kill(pid, 0);
                return true;
            } catch {
                return false;
            }
        };
        while (alive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
        assert.equal(alive(), false, "the session outlived its connection");
    });

    it("passes the banner check when sshd greets through the session", async () => {
        const tunnel = await open();
        await tunnel.awaitBanner("gitlab", 10_000);
    });

    it("fails the banner check with what the session said when it cannot start", async () => {
        process.env.STANDIN_SESSION_ERROR = "An error occurred (TargetNotConnected) when calling the StartSession operation: i-0abc is not connected.";
        const tunnel = await open("mattermost");
        await assert.rejects(
            tunnel.awaitBanner("mattermost", 5_000),
            (error: Error) => error instanceof HostAccessError && /No SSH server answered through the Systems Manager session to the mattermost host .*the session said: An error occurred \(TargetNotConnected\)/.test(error.message),
        );
    });

    it("says which port is taken when another listener holds it", async () => {
        const holder = await fakeSshd();
        try {
            await assert.rejects(
                SshTunnel.open(portOf(holder), ["aws"], "gitlab"),
                (error: Error) => error instanceof HostAccessError && new RegExp(`needs port ${portOf(holder)} on 127\\.0\\.0\\.1, but something else listens there`).test(error.message),
            );
        } finally {
            holder.close();
        }
    });
});
