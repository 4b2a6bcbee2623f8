// The Mattermost vhost's gate (signUpPolicy firstAdminGate), served by a real nginx on loopback in front
// of a stand-in Mattermost that records what reaches it, in each server block that carries it:
// - bundled: a server block laid out as Omnibus's Mattermost vhost (omnibus-gitlab
//   nginx-gitlab-mattermost.conf.erb @18.11: a WebSocket location, the ACME location, `location /`
//   proxying to Mattermost, then custom_gitlab_mattermost_server_config);
// - standalone: the standalone host's rendered TLS site, and its port 80 site that serves Mattermost
//   under tls.mode none, with only their ports and absolute paths moved.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { FIRST_ADMIN_FLAG, firstAdminGate } from "../../../components/mattermost/signUpPolicy";
import { certificatePaths, standaloneNginxSites } from "../../../components/mattermost/standalone/nginxSite";
import type { TlsSettings } from "../../../components/settings/settings";
import { TestPki } from "../../support/pki";
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

const TEMP_PATHS = (sandbox: Sandbox) => `client_body_temp_path ${sandbox.path("tmp")};
    proxy_temp_path ${sandbox.path("tmp")};
    fastcgi_temp_path ${sandbox.path("tmp")};
    uwsgi_temp_path ${sandbox.path("tmp")};
    scgi_temp_path ${sandbox.path("tmp")};
    access_log off;`;

/** One nginx configuration with the gate, ready to serve: the http block's body, its flag, how to reach it. */
interface GatedVhost {
    readonly http: string;
    readonly flag: string;
    /** Whether the ACME webroot is served by this server block. */
    readonly servesAcme: boolean;
    readonly tls?: { readonly ca: string };
}

type Layout = (sandbox: Sandbox, port: number, upstreamPort: number, pki: TestPki) => GatedVhost;

/** Omnibus's Mattermost vhost with the gate as gitlab.rb's custom server config. */
const bundled: Layout = (sandbox, port, upstreamPort) => {
    sandbox.write("www/.well-known/acme-challenge/token-1", "challenge answer\n");
    const flag = sandbox.path("lib/gitlab-mattermost/mattermost-first-admin");
    return {
        flag,
        servesAcme: true,
        http: `upstream gitlab_mattermost { server 127.0.0.1:${upstreamPort}; }
    server {
        listen 127.0.0.1:${port};
        server_name ${HOST};
        location ~ /api/v[0-9]+/(users/)?websocket$ { proxy_http_version 1.1; proxy_pass http://gitlab_mattermost; }
        location /.well-known/acme-challenge/ { root ${sandbox.path("www")}/; }
        location / { proxy_http_version 1.1; proxy_pass http://gitlab_mattermost; }
${firstAdminGate(flag)}
    }`,
    };
};

/** The standalone host's site that serves Mattermost under `tls`, its absolute paths moved into the sandbox. */
const standalone =
    (tls: TlsSettings): Layout =>
    (sandbox, port, upstreamPort, pki) => {
        const sites = standaloneNginxSites(tls, HOST);
        const site = sites.find((candidate) => candidate.needsCertificate) ?? sites[0]!;
        let ca: string | undefined;
        const certificate = certificatePaths(tls, HOST);
        if (certificate) {
            const root = pki.rootCa("ca");
            const leaf = pki.leaf("leaf", [HOST], root);
            sandbox.write(certificate.chain.slice(1), leaf.certificate);
            sandbox.write(certificate.key.slice(1), leaf.key);
            ca = root.certificate;
        }
        sandbox.write("var/www/mattermost-acme/.well-known/acme-challenge/token-1", "challenge answer\n");
        const content = site.content
            .replace(/(?<=\s)\/(etc|var)\//g, `${sandbox.root}/$1/`)
            .replace(/^ {4}listen \[::\]:\d+.*\n/gm, "")
            .replace(/listen (80|443)(?= |;)/, `listen 127.0.0.1:${port}`)
            .replace("server 127.0.0.1:8065;", `server 127.0.0.1:${upstreamPort};`);
        assert.notEqual(content, site.content);
        return { flag: sandbox.path(FIRST_ADMIN_FLAG.slice(1)), servesAcme: !certificate, http: content, ...(ca ? { tls: { ca } } : {}) };
    };

const LAYOUTS: Record<string, Layout> = {
    "bundled Mattermost vhost": bundled,
    "standalone TLS site": standalone({ mode: "provided", certificates: { gitlab: { chain: "", key: "" }, mattermost: { chain: "", key: "" } } }),
    "standalone port 80 site under tls.mode none": standalone({ mode: "none" }),
};

for (const [name, layout] of Object.entries(LAYOUTS)) {
    describe(`first administrator gate on the ${name}, served by a real nginx`, { skip }, () => {
        const sandbox = new Sandbox();
        const pki = new TestPki();
        const reached: string[] = [];
        const upstream = http.createServer((request, response) => {
            reached.push(`${request.method} ${request.url}`);
            response.end("mattermost");
        });
        let nginx: ChildProcess | undefined;
        let port = 0;
        let vhost: GatedVhost;

        before(async () => {
            await new Promise<void>((done) => upstream.listen(0, "127.0.0.1", done));
            const upstreamPort = (upstream.address() as net.AddressInfo).port;
            const probe = net.createServer();
            await new Promise<void>((done) => probe.listen(0, "127.0.0.1", done));
            port = (probe.address() as net.AddressInfo).port;
            await new Promise((done) => probe.close(done));
            vhost = layout(sandbox, port, upstreamPort, pki);
            const conf = sandbox.write(
                "nginx.conf",
                `pid ${sandbox.path("nginx.pid")};
events {}
http {
    ${TEMP_PATHS(sandbox)}
    ${vhost.http}
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
            pki.dispose();
        });

        const send = (method: string, path: string) =>
            new Promise<{ status?: number; body: string }>((done, failed) => {
                const options = { host: "127.0.0.1", port, method, path, headers: { Host: HOST } };
                const onResponse = (response: http.IncomingMessage) => {
                    let body = "";
                    response.on("data", (chunk) => (body += chunk)).on("end", () => done({ status: response.statusCode, body }));
                };
                const request = vhost.tls ? https.request({ ...options, servername: HOST, ca: vhost.tls.ca }, onResponse) : http.request(options, onResponse);
                request.on("error", failed);
                request.end(method === "POST" ? '{"username":"stranger"}' : undefined);
            });

        it("before the first administrator: refuses every account-creating request, and nothing of it reaches Mattermost", async () => {
            rmSync(vhost.flag, { force: true });
            reached.length = 0;
            for (const [method, path] of ACCOUNT_CREATING) {
                const response = await send(method, path);
                assert.equal(response.status, 503, `${method} ${path}`);
            }
            assert.deepEqual(reached, []);
        });

        it("before the first administrator: health checks, ACME challenges, password sign-in and the rest are served", async () => {
            rmSync(vhost.flag, { force: true });
            reached.length = 0;
            for (const [method, path] of OTHERS) {
                const response = await send(method, path);
                assert.equal(response.status, 200, `${method} ${path}`);
                assert.equal(response.body, "mattermost");
            }
            assert.equal(reached.length, OTHERS.length);
            if (vhost.servesAcme) {
                const challenge = await send("GET", "/.well-known/acme-challenge/token-1");
                assert.deepEqual(challenge, { status: 200, body: "challenge answer\n" });
            }
        });

        it("once the flag exists: every request reaches Mattermost", async () => {
            sandbox.write(vhost.flag.slice(sandbox.root.length + 1), "mmadmin is system administrator\n");
            reached.length = 0;
            for (const [method, path] of [...ACCOUNT_CREATING, ...OTHERS]) {
                const response = await send(method, path);
                assert.equal(response.status, 200, `${method} ${path}`);
            }
            assert.equal(reached.length, ACCOUNT_CREATING.length + OTHERS.length);
        });
    });
}
