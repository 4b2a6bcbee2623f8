// Mattermost's /api/v4/system/ping as a small HTTP server on 127.0.0.1, for the restore tests and the
// benchmark: it answers "status":"OK" only while `startedFile` exists (the gitlab-ctl stand-in creates
// it on `start mattermost` and removes it on `stop mattermost`), 503 otherwise.

import { existsSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface PingServer {
    readonly url: string;
    /** For each request, whether Mattermost was started when it arrived. */
    readonly requests: boolean[];
    close(): Promise<void>;
}

export async function startPing(startedFile: string): Promise<PingServer> {
    const requests: boolean[] = [];
    const server = createServer((request, response) => {
        const started = existsSync(startedFile);
        requests.push(started);
        if (request.url === "/api/v4/system/ping" && started) {
            response.writeHead(200, { "content-type": "application/json" }).end('{"ActiveSearchBackend":"database","status":"OK"}');
        } else {
            response.writeHead(503).end('{"status":"UNHEALTHY"}');
        }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
        url: `http://127.0.0.1:${port}/api/v4/system/ping`,
        requests,
        close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
}

/** The body of a gitlab-ctl stand-in that starts and stops "Mattermost" by the file the ping reads. */
export function gitlabCtlMattermostBody(startedFile: string, quote: (word: string) => string): string {
    return `case "$*" in
"stop mattermost") rm -f ${quote(startedFile)} ;;
"start mattermost") touch ${quote(startedFile)} ;;
*) echo "gitlab-ctl stand-in: unexpected $*" >&2; exit 64 ;;
esac`;
}
