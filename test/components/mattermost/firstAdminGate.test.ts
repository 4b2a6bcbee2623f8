// The Mattermost vhost's gate (signUpPolicy firstAdminGate), served by a real nginx on loopback inside a
// server block laid out as Omnibus's Mattermost vhost (omnibus-gitlab
// nginx-gitlab-mattermost.conf.erb @18.11: a WebSocket location, the ACME location, `location /`
// proxying to Mattermost, then custom_gitlab_mattermost_server_config), in front of a stand-in
// Mattermost that records what reaches it.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { firstAdminGate } from "../../../components/mattermost/signUpPolicy";
import { Sandbox, runProcess } from "../../support/standIns";

const NGINX = "/usr/sbin/nginx";
const HOST = "mattermost.example.com";
const skip = !existsSync(NGINX) && "nginx is not installed (scripts/setup-and-test.sh installs it)";

/** Requests that could create an account: refused until the first administrator exists. */
const ACCOUNT_CREATING: readonly [string, string][] = [
    ["GET", "/oauth/gitlab/login"],
    ["GET", "/oauth/gitlab/signup?extra=x"],
    ["GET", "/oauth/gitlab/mobile_login"],
    ["GET", "/oauth/gitlab/complete?code=c&state=s"],
    ["GET", "/signup/gitlab/complete?code=c&state=s"],
    ["GET", "/login/gitlab/complete?code=c&state=s"],
    ["POST", "/api/v4/users"],
    ["POST", "/api/v4/users?t=token"],
    ["POST", "/api/v4/users/"],
    // Spellings nginx normalises into the paths above before the test ($uri).
    ["GET", "//oauth//gitlab/login"],
    ["GET", "/%6fauth/gitlab/login"],
    ["GET", "/OAuth/GitLab/login"],
    ["GET", "/x/../signup/gitlab/complete"],
];
/** Requests that create no account: always served. */
const OTHERS: readonly [string, string][] = [
    ["GET", "/api/v4/system/ping"],
    ["GET", "/"],
    ["GET", "/login"],
    ["POST", "/api/v4/users/login"],
    ["GET", "/api/v4/users/me"],
    ["GET", "/api/v4/websocket"],
];

describe("first administrator gate on the Mattermost vhost, served by a real nginx", { skip }, () => {
    const sandbox = new Sandbox();
    const flag = sandbox.path("lib/gitlab-mattermost/mattermost-first-admin");
    const reached: string[] = [];
    const upstream = http.createServer((request, response) => {
        reached.push(`${request.method} ${request.url}`);
        response.end("mattermost");
    });
    let nginx: ChildProcess | undefined;
    let port = 0;

    before(async () => {
        await new Promise<void>((done) => upstream.listen(0, "127.0.0.1", done));
        const upstreamPort = (upstream.address() as net.AddressInfo).port;
        const probe = net.createServer();
        await new Promise<void>((done) => probe.listen(0, "127.0.0.1", done));
        port = (probe.address() as net.AddressInfo).port;
        await new Promise((done) => probe.close(done));
        sandbox.write("www/.well-known/acme-challenge/token-1", "challenge answer\n");
        const conf = sandbox.write(
            "nginx.conf",
            `pid ${sandbox.path("nginx.pid")};
events {}
http {
    client_body_temp_path ${sandbox.path("tmp")};
    proxy_temp_path ${sandbox.path("tmp")};
    fastcgi_temp_path ${sandbox.path("tmp")};
    uwsgi_temp_path ${sandbox.path("tmp")};
    scgi_temp_path ${sandbox.path("tmp")};
    access_log off;
    upstream gitlab_mattermost { server 127.0.0.1:${upstreamPort}; }
    server {
        listen 127.0.0.1:${port};
        server_name ${HOST};
        location ~ /api/v[0-9]+/(users/)?websocket$ { proxy_http_version 1.1; proxy_pass http://gitlab_mattermost; }
        location /.well-known/acme-challenge/ { root ${sandbox.path("www")}/; }
        location / { proxy_http_version 1.1; proxy_pass http://gitlab_mattermost; }
${firstAdminGate(flag)}
    }
}
`,
        );
        const check = await runProcess(NGINX, ["-t", "-q", "-e", "stderr", "-p", sandbox.root, "-c", conf]);
        assert.equal(check.status, 0, check.stderr);
        nginx = spawn(NGINX, ["-e", "stderr", "-p", sandbox.root, "-c", conf, "-g", "daemon off; master_process off;"], { stdio: "inherit" });
        const deadline = Date.now() + 10_000;
        while (!(await new Promise<boolean>((done) => net.connect(port, "127.0.0.1").on("connect", function (this: net.Socket) { this.destroy(); done(true); }).on("error", () => done(false))))) {
            assert.ok(Date.now() < deadline, "nginx did not start listening");
            await delay(50);
        }
    });
    after(async () => {
        nginx?.kill("SIGTERM");
        if (nginx && nginx.exitCode === null) await new Promise((done) => nginx!.on("exit", done));
        await new Promise((done) => upstream.close(done));
        sandbox.cleanup();
    });

    const send = (method: string, path: string) =>
        new Promise<{ status?: number; body: string }>((done, failed) => {
            const request = http.request({ host: "127.0.0.1", port, method, path, headers: { Host: HOST } }, (response) => {
                let body = "";
                response.on("data", (chunk) => (body += chunk)).on("end", () => done({ status: response.statusCode, body }));
            });
            request.on("error", failed);
            request.end(method === "POST" ? '{"username":"stranger"}' : undefined);
        });

    it("before the first administrator: refuses every account-creating request, and nothing of it reaches Mattermost", async () => {
        rmSync(flag, { force: true });
        reached.length = 0;
        for (const [method, path] of ACCOUNT_CREATING) {
            const response = await send(method, path);
            assert.equal(response.status, 503, `${method} ${path}`);
        }
        assert.deepEqual(reached, []);
    });

    it("before the first administrator: health checks, ACME challenges, password sign-in and the rest are served", async () => {
        rmSync(flag, { force: true });
        reached.length = 0;
        for (const [method, path] of OTHERS) {
            const response = await send(method, path);
            assert.equal(response.status, 200, `${method} ${path}`);
            assert.equal(response.body, "mattermost");
        }
        assert.equal(reached.length, OTHERS.length);
        const challenge = await send("GET", "/.well-known/acme-challenge/token-1");
        assert.deepEqual(challenge, { status: 200, body: "challenge answer\n" });
    });

    it("once the flag exists: every request reaches Mattermost", async () => {
        sandbox.write("lib/gitlab-mattermost/mattermost-first-admin", "mmadmin is system administrator\n");
        reached.length = 0;
        for (const [method, path] of [...ACCOUNT_CREATING, ...OTHERS]) {
            const response = await send(method, path);
            assert.equal(response.status, 200, `${method} ${path}`);
        }
        assert.equal(reached.length, ACCOUNT_CREATING.length + OTHERS.length);
    });
});
