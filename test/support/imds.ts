// A stand-in for EC2's instance metadata service (IMDSv2) on 127.0.0.1, serving an instance profile's
// credentials: the backup tools read them to sign S3 requests rclone cannot make. As on EC2, every
// read needs a session token from `PUT /latest/api/token`; a read without it is refused with 401.

import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ImdsCredentials {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
}

export class LoopbackImds {
    /** Requests served, as `METHOD path` (reads without a valid token included). */
    readonly requests: string[] = [];
    /** Whether a role is attached; without one, the credentials path answers 404 as on EC2. */
    hasRole = true;

    private constructor(
        private readonly server: Server,
        readonly url: string,
    ) {}

    static async start(credentials: ImdsCredentials, role = "gitlab-mattermost-backups-host"): Promise<LoopbackImds> {
        const tokens = new Set<string>();
        let imds: LoopbackImds | undefined;
        const server = createServer((request, response) => {
            const path = request.url ?? "";
            imds?.requests.push(`${request.method} ${path}`);
            if (request.method === "PUT" && path === "/latest/api/token") {
                if (request.headers["x-aws-ec2-metadata-token-ttl-seconds"] === undefined) {
                    response.writeHead(400).end();
                    return;
                }
                const token = randomBytes(24).toString("base64");
                tokens.add(token);
                response.writeHead(200, { "content-type": "text/plain" }).end(token);
                return;
            }
            const token = request.headers["x-aws-ec2-metadata-token"];
            if (request.method !== "GET" || typeof token !== "string" || !tokens.has(token)) {
                response.writeHead(401).end();
                return;
            }
            const prefix = "/latest/meta-data/iam/security-credentials/";
            if (!imds?.hasRole || !path.startsWith(prefix)) {
                response.writeHead(404).end();
            } else if (path === prefix) {
                response.writeHead(200, { "content-type": "text/plain" }).end(role);
            } else if (path === `${prefix}${role}`) {
                response.writeHead(200, { "content-type": "text/plain" }).end(
                    JSON.stringify(
                        {
                            Code: "Success",
                            LastUpdated: new Date().toISOString(),
                            Type: "AWS-HMAC",
                            AccessKeyId: credentials.accessKeyId,
                            SecretAccessKey: credentials.secretAccessKey,
                            Token: randomBytes(32).toString("base64"),
                            Expiration: new Date(Date.now() + 6 * 3600_000).toISOString(),
                        },
                        null,
                        2,
                    ),
                );
            } else {
                response.writeHead(404).end();
            }
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        imds = new LoopbackImds(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
        return imds;
    }

    async close(): Promise<void> {
        await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }
}
