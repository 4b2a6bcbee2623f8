// A loopback TCP port that never answers, as a security group's dropped port looks from outside: a
// listener (in Ruby, since Node accepts every connection itself) with a backlog of one that is already
// taken, so the kernel drops every further SYN and connection attempts time out. Needs `ruby` on PATH.

import { spawn, type ChildProcess } from "node:child_process";
import { connect, type Socket } from "node:net";

export interface SilentPort {
    readonly port: number;
    close(): void;
}

const LISTENER = `
require "socket"
server = Socket.new(:INET, :STREAM)
server.bind(Addrinfo.tcp("127.0.0.1", 0))
server.listen(0)
STDOUT.puts server.local_address.ip_port
STDOUT.flush
STDIN.read
`;

export async function silentPort(): Promise<SilentPort> {
    const listener: ChildProcess = spawn("ruby", ["-e", LISTENER], { stdio: ["pipe", "pipe", "inherit"] });
    const port = await new Promise<number>((resolve, reject) => {
        listener.once("error", reject);
        listener.stdout?.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    });
    // Fills the one place in the accept queue; nobody ever accepts it.
    const filler: Socket = await new Promise((resolve, reject) => {
        const socket = connect({ host: "127.0.0.1", port }, () => resolve(socket));
        socket.once("error", reject);
    });
    return {
        port,
        close() {
            filler.destroy();
            listener.stdin?.end();
            listener.kill();
        },
    };
}
