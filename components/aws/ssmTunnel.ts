// SSH to a host through AWS Systems Manager Session Manager, for ssh.access ssm: a loopback port on this
// machine whose every connection becomes one `aws ssm start-session` with the AWS-StartSSHSession
// document, the session's stdin and stdout carrying the SSH stream (AWS Systems Manager User Guide,
// "Allow and control permissions for SSH connections through Session Manager"; the AWS CLI reference,
// `aws ssm start-session`). The remote commands then dial 127.0.0.1 as they would dial the host.
// Needs the AWS CLI and the Session Manager plugin on this machine; the checks below say so when not.
// Pure module: no cloud SDK, no Pulumi runtime (Node's processes and sockets only).

import { spawn } from "node:child_process";
import { createServer, connect, type Server, type Socket } from "node:net";
import { HostAccessError, sleep } from "./reachability";

export const LOOPBACK = "127.0.0.1";

/** Which AWS account and region the CLI talks to; unset fields are left to the CLI's own environment. */
export interface AwsCliTarget {
    readonly region?: string;
    readonly profile?: string;
}

function cliOptions(target: AwsCliTarget): string[] {
    return [...(target.region ? ["--region", target.region] : []), ...(target.profile ? ["--profile", target.profile] : [])];
}

/** The command whose stdin and stdout are an SSH connection to the instance's port 22. */
export function sshSessionCommand(instanceId: string, target: AwsCliTarget): string[] {
    return ["aws", "ssm", "start-session", "--target", instanceId, "--document-name", "AWS-StartSSHSession", "--parameters", "portNumber=22", ...cliOptions(target)];
}

interface Run {
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
    /** The program is not on PATH. */
    readonly missing: boolean;
}

function run(argv: readonly string[], timeoutMs: number): Promise<Run> {
    return new Promise((resolve) => {
        const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.once("error", (error: NodeJS.ErrnoException) => resolve({ status: null, stdout, stderr: error.message, missing: error.code === "ENOENT" }));
        child.once("close", (status) => resolve({ status, stdout, stderr, missing: false }));
    });
}

const INSTALL_HINT = "Install the AWS CLI v2 and the Session Manager plugin for it on the machine that runs pulumi up (AWS Systems Manager User Guide, \"Install the Session Manager plugin for the AWS CLI\"), or set ssh.access to direct.";

/** Fails at once when the AWS CLI or the Session Manager plugin is missing here. */
export async function checkSsmClient(): Promise<void> {
    for (const [program, what] of [["aws", "the AWS CLI (aws)"], ["session-manager-plugin", "the Session Manager plugin (session-manager-plugin)"]] as const) {
        const result = await run([program, "--version"], 30_000);
        if (result.missing) {
            throw new HostAccessError(`gitlab-mattermost:ssh.access is ssm, but ${what} is not on this machine's PATH. ${INSTALL_HINT}`);
        }
    }
}

export interface SsmCheckOptions {
    /** How long an instance may take to register with Systems Manager (a new instance boots first). */
    readonly registrationBudgetMs: number;
    readonly retryDelayMs: number;
    /** How long the SSH server may take to greet through the session. */
    readonly bannerTimeoutMs: number;
}

/** The AWS CLI's refusals that no waiting cures: the deployer's own credentials or rights. */
const DEPLOYER_PROBLEM = /AccessDenied|UnauthorizedOperation|not authorized|ExpiredToken|InvalidClientTokenId|UnrecognizedClient|Unable to locate credentials|could not be found|You must specify a region/i;

/** Waits until Systems Manager reports the instance's agent Online, or says why it will not. */
export async function awaitSsmRegistration(instanceId: string, label: string, target: AwsCliTarget, options: SsmCheckOptions): Promise<void> {
    const deadline = Date.now() + options.registrationBudgetMs;
    const argv = [
        "aws", "ssm", "describe-instance-information",
        "--filters", `Key=InstanceIds,Values=${instanceId}`,
        "--query", "InstanceInformationList[0].PingStatus",
        "--output", "text",
        ...cliOptions(target),
    ];
    let last = "";
    for (;;) {
        const result = await run(argv, 60_000);
        const status = result.stdout.trim();
        if (result.status === 0 && status === "Online") {
            return;
        }
        if (result.status !== 0 && DEPLOYER_PROBLEM.test(result.stderr)) {
            throw new HostAccessError(
                `Systems Manager refused this machine's request about the ${label} host (${instanceId}): ${result.stderr.trim()}. ` +
                    "The credentials pulumi up runs with need ssm:DescribeInstanceInformation and ssm:StartSession (on the instance and on the AWS-StartSSHSession document), and the region must be the stack's.",
            );
        }
        last = result.status === 0 ? `its status is ${status === "None" || status === "" ? "unknown to Systems Manager" : status}` : result.stderr.trim();
        if (Date.now() >= deadline) {
            throw new HostAccessError(
                `The ${label} host (${instanceId}) is not registered with Systems Manager after ${Math.round(options.registrationBudgetMs / 1000)} s (${last}). ` +
                    "Its agent (snap amazon-ssm-agent, part of Ubuntu's AMIs) needs the instance profile's AmazonSSMManagedInstanceCore policy and HTTPS to ssm, ssmmessages and ec2messages in the region. " +
                    "Check the instance in the Systems Manager console (Fleet Manager), or reboot it, then run pulumi up again.",
            );
        }
        await sleep(options.retryDelayMs);
    }
}

/** A loopback listener that hands each connection to a new session; stops with the program. */
export class SshTunnel {
    private readonly server: Server;
    /** The newest session's error output, for messages when the SSH server does not greet. */
    private lastError = "";

    private constructor(server: Server, readonly port: number) {
        this.server = server;
    }

    /** Listens on 127.0.0.1:`port`; each connection runs `command` with the connection as its stdin and stdout. */
    static open(port: number, command: readonly string[], label: string): Promise<SshTunnel> {
        return new Promise((resolve, reject) => {
            const server = createServer();
            const tunnel = new SshTunnel(server, port);
            server.on("connection", (socket) => tunnel.carry(socket, command));
            server.once("error", (error: NodeJS.ErrnoException) =>
                reject(
                    new HostAccessError(
                        error.code === "EADDRINUSE"
                            ? `The ${label} host's tunnel needs port ${port} on 127.0.0.1, but something else listens there (another pulumi up of this stack?). Stop it, then run pulumi up again.`
                            : `The ${label} host's tunnel could not listen on 127.0.0.1:${port}: ${error.message}`,
                    ),
                ),
            );
            server.listen({ host: LOOPBACK, port }, () => {
                // The program ends when its resources are done, not when the last connection is.
                server.unref();
                resolve(tunnel);
            });
        });
    }

    private carry(socket: Socket, command: readonly string[]): void {
        const session = spawn(command[0], command.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
        let errors = "";
        session.stderr.on("data", (chunk: Buffer) => {
            errors = (errors + chunk.toString()).slice(-2000);
            this.lastError = errors;
        });
        session.once("error", (error) => {
            this.lastError = error.message;
            socket.destroy();
        });
        socket.pipe(session.stdin);
        session.stdout.pipe(socket);
        // Either side ending ends the other: a closed SSH connection ends its session and back.
        socket.once("close", () => session.kill("SIGTERM"));
        session.once("close", () => socket.destroy());
        socket.on("error", () => session.kill("SIGTERM"));
        session.stdin.on("error", () => socket.destroy());
    }

    /** Resolves once an SSH server greets through the tunnel ("SSH-" version line, RFC 4253 4.2). */
    async awaitBanner(label: string, timeoutMs: number): Promise<void> {
        const greeted = await new Promise<boolean>((resolve) => {
            const socket = connect({ host: LOOPBACK, port: this.port });
            let seen = "";
            const finish = (ok: boolean) => {
                socket.destroy();
                resolve(ok);
            };
            socket.setTimeout(timeoutMs, () => finish(false));
            socket.on("data", (chunk: Buffer) => {
                // Lines before the version line are allowed, e.g. the plugin's own notice.
                seen = (seen + chunk.toString("latin1")).slice(-4096);
                if (/(^|\n)SSH-/.test(seen)) finish(true);
            });
            socket.once("error", () => finish(false));
            socket.once("close", () => finish(false));
        });
        if (!greeted) {
            const detail = this.lastError.trim();
            throw new HostAccessError(
                `No SSH server answered through the Systems Manager session to the ${label} host within ${Math.round(timeoutMs / 1000)} s` +
                    `${detail ? ` (the session said: ${detail})` : ""}. Check that sshd runs on the host (Session Manager's shell: aws ssm start-session --target <instance id>), then run pulumi up again.`,
            );
        }
    }

    close(): void {
        this.server.close();
    }
}
