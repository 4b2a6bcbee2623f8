// Whether this machine can open SSH to a host, decided in seconds, with the cause and the fix when it
// cannot: the remote commands' own retries would otherwise take minutes and end in a bare dial error.
// Pure module: no cloud SDK, no Pulumi runtime (Node's sockets only).

import { connect } from "node:net";

/** How a TCP port answered: accepted, refused (RST: the host is up, nothing listens), nothing at all, or no route. */
export type PortAnswer = "open" | "refused" | "silent" | "unreachable";

/** A host this machine cannot use; the message names the cause and the fix. */
export class HostAccessError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "HostAccessError";
    }
}

/** One TCP connection attempt, closed at once. */
export function probePort(host: string, port: number, timeoutMs: number): Promise<PortAnswer> {
    return new Promise((resolve) => {
        const socket = connect({ host, port });
        const finish = (answer: PortAnswer) => {
            socket.destroy();
            resolve(answer);
        };
        socket.setTimeout(timeoutMs, () => finish("silent"));
        socket.once("connect", () => finish("open"));
        socket.once("error", (error: NodeJS.ErrnoException) => {
            if (error.code === "ECONNREFUSED") finish("refused");
            else if (error.code === "EHOSTUNREACH" || error.code === "ENETUNREACH") finish("unreachable");
            else finish("silent");
        });
    });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface DirectCheckOptions {
    /** How long a host may stay without SSH while it may still be booting (a new instance). */
    readonly bootBudgetMs: number;
    /** How long one connection attempt waits for an answer. */
    readonly probeTimeoutMs: number;
    /** Pause between rounds. */
    readonly retryDelayMs: number;
    readonly sshPort: number;
    /**
     * A port the security group opens to everyone (HTTP, 80): while SSH stays silent, an answer here
     * (even a refusal) shows the host is up and the silence is the security group filtering this machine.
     */
    readonly witnessPort: number;
}

const ALLOWED_CIDRS = "gitlab-mattermost:ssh.allowedCidrs";

/**
 * Waits until `address` accepts TCP on the SSH port, through a new instance's boot, and throws a
 * HostAccessError as soon as the answer shows it never will from here. A security group drops what it
 * does not allow, so a filtered port and a host still booting both stay silent; the witness port tells
 * them apart. `label` names the host in messages.
 */
export async function awaitDirectSsh(address: string, label: string, options: DirectCheckOptions): Promise<void> {
    const deadline = Date.now() + options.bootBudgetMs;
    const seconds = Math.round(options.bootBudgetMs / 1000);
    for (;;) {
        const [ssh, witness] = await Promise.all([
            probePort(address, options.sshPort, options.probeTimeoutMs),
            probePort(address, options.witnessPort, options.probeTimeoutMs),
        ]);
        if (ssh === "open") {
            return;
        }
        if (ssh === "unreachable") {
            throw new HostAccessError(`This machine has no route to the ${label} host (${address}): check its network connection, then run pulumi up again.`);
        }
        if (ssh === "silent" && (witness === "open" || witness === "refused")) {
            throw new HostAccessError(
                `The ${label} host (${address}) answers on port ${options.witnessPort} but not on SSH port ${options.sshPort}: ` +
                    `this machine's public address is not in ${ALLOWED_CIDRS} (or a firewall on this side blocks outgoing SSH). ` +
                    `Fix: add this network's block, e.g. pulumi config set --path 'ssh.allowedCidrs[1]' <this address>/32 ` +
                    `(curl https://checkip.amazonaws.com shows the address), then run pulumi up again; or deploy from a network in the list. ` +
                    `From a CI runner, whose address changes, use Systems Manager instead: pulumi config set --path ssh.access ssm (README, "Reaching the hosts").`,
            );
        }
        if (Date.now() >= deadline) {
            throw new HostAccessError(
                ssh === "refused"
                    ? `The ${label} host (${address}) refuses SSH on port ${options.sshPort} after ${seconds} s: it runs, but sshd does not listen. ` +
                          "Read the instance's system log (EC2 console: Actions > Monitor and troubleshoot > Get system log), reboot it, then run pulumi up again."
                    : `The ${label} host (${address}) answered neither SSH (${options.sshPort}) nor HTTP (${options.witnessPort}) within ${seconds} s: ` +
                          "the instance is stopped or has not come up, or this machine reaches nothing outside. " +
                          "Check the instance's state and status checks in the EC2 console and this machine's network, then run pulumi up again.",
            );
        }
        await sleep(options.retryDelayMs);
    }
}
