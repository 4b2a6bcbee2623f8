// How the remote commands reach a host's SSH (ssh.access), and the check that runs before the first of
// them: a deployer who cannot reach a host learns why within a minute, not after the commands' retries.
//   direct: the host's Elastic IP, port 22, which the security group opens to ssh.allowedCidrs.
//   ssm:    a loopback tunnel through Systems Manager Session Manager (ssmTunnel.ts); no inbound port.

import { createHash } from "node:crypto";
import * as aws from "@pulumi/aws";
import type * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { SshAccessMode } from "../settings/settings";
import type { HostPlan } from "../settings/topology";
import { PROJECT } from "../settings/configError";
import { HOST_OS } from "../versions/versions";
import { HostAccessError, awaitDirectSsh } from "./reachability";
import { LOOPBACK, SshTunnel, awaitSsmRegistration, checkSsmClient, sshSessionCommand, type AwsCliTarget } from "./ssmTunnel";

export const HOST_ACCESS = {
    /**
     * Every remote command gives up after this many failed dials of at most this many seconds each
     * (@pulumi/command's connection fields; its defaults, 10 and 15, and the 100 used before, let a
     * blocked deploy retry for 25 minutes). The check below has already waited out a new instance's boot.
     */
    dialErrorLimit: 5,
    perDialTimeoutSeconds: 10,
    /** A new Ubuntu instance brings up its network and sshd within a minute or two of running. */
    direct: { bootBudgetMs: 240_000, probeTimeoutMs: 5_000, retryDelayMs: 3_000, sshPort: 22, witnessPort: 80 },
    /** Its agent then registers with Systems Manager, which takes a little longer. */
    ssm: { registrationBudgetMs: 360_000, retryDelayMs: 10_000, bannerTimeoutMs: 60_000 },
    /** Tunnel ports: below Linux's ephemeral range (32768-60999), so outgoing connections do not take them. */
    tunnelPorts: { first: 20_000, count: 10_000 },
} as const;

/**
 * The order in which a stack's hosts take their tunnel ports: each takes the port its name hashes to,
 * or, when an earlier host has that one, the next free one. A host added later (the standalone host of
 * a split stack's move) never moves the port of a host already there.
 */
const TUNNEL_PORT_ORDER: readonly HostPlan["name"][] = ["gitlab", "mattermost", "mattermost-standalone"];

function hashedTunnelPort(stack: string, host: string): number {
    const digest = createHash("sha256").update(`${PROJECT}/${stack}/${host}`).digest();
    return HOST_ACCESS.tunnelPorts.first + (digest.readUInt32BE(0) % HOST_ACCESS.tunnelPorts.count);
}

/**
 * The loopback port of a host's tunnel: the same for a stack and host on every run, because the port is
 * part of every remote command's connection, and a changed connection runs each command again. No two
 * hosts of a stack share one; a host keeps the port its name hashes to unless an earlier host has it.
 */
export function tunnelPort(stack: string, host: string): number {
    const { first, count } = HOST_ACCESS.tunnelPorts;
    const taken = new Set<number>();
    for (const name of TUNNEL_PORT_ORDER) {
        let port = hashedTunnelPort(stack, name);
        while (taken.has(port)) {
            port = first + ((port - first + 1) % count);
        }
        if (name === host) {
            return port;
        }
        taken.add(port);
    }
    throw new Error(`no tunnel port for host ${host}: the hosts are ${TUNNEL_PORT_ORDER.join(", ")}`);
}

/** What runs before a host's first remote command; resolves when SSH works, throws HostAccessError when it will not. */
export interface HostAccessChecks {
    direct(address: string, label: string): Promise<void>;
    ssm(instanceId: string, label: string, tunnelPort: number): Promise<void>;
}

/** The AWS account and region of the stack's AWS provider, for the AWS CLI. */
function providerTarget(): AwsCliTarget {
    return { region: aws.config.region, profile: aws.config.profile };
}

export const DEPLOY_CHECKS: HostAccessChecks = {
    direct: (address, label) => awaitDirectSsh(address, label, HOST_ACCESS.direct),
    async ssm(instanceId, label, port) {
        const target = providerTarget();
        await checkSsmClient();
        await awaitSsmRegistration(instanceId, label, target, HOST_ACCESS.ssm);
        const tunnel = await SshTunnel.open(port, sshSessionCommand(instanceId, target), label);
        await tunnel.awaitBanner(label, HOST_ACCESS.ssm.bannerTimeoutMs);
    },
};

/**
 * The checks run in a deployment the Pulumi engine runs (`pulumi up`); a preview dials nothing, and
 * neither do the offline render and the tests, which run the program on the mock runtime without the
 * engine (the engine's language host sets PULUMI_NODEJS_MONITOR, @pulumi/pulumi cmd/run).
 */
export function deploymentChecks(): HostAccessChecks | undefined {
    return !pulumi.runtime.isDryRun() && process.env.PULUMI_NODEJS_MONITOR ? DEPLOY_CHECKS : undefined;
}

export interface HostAccessArgs {
    readonly access: SshAccessMode;
    readonly instanceId: pulumi.Input<string>;
    readonly publicIp: pulumi.Input<string>;
    /** OpenSSH private key; secret. */
    readonly privateKey: pulumi.Input<string>;
}

export interface HostAccess {
    /** SSH connection for remote commands; known only once the check has passed. */
    readonly connection: command.types.input.remote.ConnectionArgs;
    /** What follows `ssh -i <key>` on an administrator's machine to log in to the host. */
    readonly sshDestination: pulumi.Output<string>;
}

/**
 * A failed check fails the registration of every remote command of the host, so none is sent; its
 * message also goes to the engine's log as an error of its own, where it reads without the wrapping
 * of a failed registration.
 */
async function runCheck(check: Promise<void> | undefined): Promise<void> {
    try {
        await check;
    } catch (error) {
        if (error instanceof HostAccessError) {
            await pulumi.log.error(error.message);
        }
        throw error;
    }
}

/** How the remote commands and the administrator reach the host `label` (a host plan's name). */
export function hostAccess(label: string, args: HostAccessArgs, checks: HostAccessChecks | undefined = deploymentChecks()): HostAccess {
    const common = {
        user: HOST_OS.sshUser,
        privateKey: args.privateKey,
        dialErrorLimit: HOST_ACCESS.dialErrorLimit,
        perDialTimeout: HOST_ACCESS.perDialTimeoutSeconds,
    };
    const instanceId = pulumi.output(args.instanceId);
    if (args.access === "direct") {
        const address = pulumi.output(args.publicIp);
        return {
            connection: { ...common, port: 22, host: address.apply(async (ip) => (await runCheck(checks?.direct(ip, label)), ip)) },
            sshDestination: pulumi.interpolate`${HOST_OS.sshUser}@${address}`,
        };
    }
    const port = tunnelPort(pulumi.getStack(), label);
    const target = providerTarget();
    // ssh fills in %p, the port; the instance id stands where a host name would.
    const proxy = (id: string) => sshSessionCommand(id, target).map((word) => (word === "portNumber=22" ? "portNumber=%p" : word)).join(" ");
    return {
        connection: { ...common, port, host: instanceId.apply(async (id) => (await runCheck(checks?.ssm(id, label, port)), LOOPBACK)) },
        sshDestination: instanceId.apply((id) => `-o ProxyCommand='${proxy(id)}' ${HOST_OS.sshUser}@${id}`),
    };
}
