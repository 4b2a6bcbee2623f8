// The standalone host's nginx configuration, checked by Debian's nginx with `nginx -t` (which parses
// every file and loads every certificate and key, but binds no port), in every tls.mode, and served
// once by a real nginx on loopback ports in front of a stand-in Mattermost. The files are the ones
// rendered for the host; only their absolute paths (and, when served, their ports) are moved.

import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as net from "node:net";
import { dirname } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { certificatePaths, standaloneNginxSites, type NginxSiteFile } from "../../../../components/mattermost/standalone/nginxSite";
import type { TlsSettings } from "../../../../components/settings/settings";
import { TestPki, type Issued } from "../../../support/pki";
import { Sandbox, runProcess } from "../../../support/standIns";

const NGINX = "/usr/sbin/nginx";
const HOST = "chat.example.com";
const skip = !existsSync(NGINX) && "nginx is not installed (scripts/setup-and-test.sh installs it)";

const MODES: Record<string, TlsSettings> = {
    letsencrypt: { mode: "letsencrypt", contactEmail: "ops@example.com" },
    selfSigned: { mode: "selfSigned", validityDays: 365, earlyRenewalDays: 30 },
    provided: { mode: "provided", certificates: { gitlab: { chain: "", key: "" }, mattermost: { chain: "", key: "" } } },
    none: { mode: "none" },
};

/** Moves every absolute /etc or /var path in the file into the sandbox. */
function relocated(sandbox: Sandbox, text: string): string {
    return text.replace(/(?<=\s)\/(etc|var)\//g, `${sandbox.root}/$1/`);
}

/** Writes the sites and a main nginx.conf that includes them, runs `nginx -t`, returns its result. */
async function nginxTest(sandbox: Sandbox, sites: readonly NginxSiteFile[]) {
    for (const site of sites) sandbox.write(site.path.slice(1), relocated(sandbox, site.content));
    const conf = sandbox.write(
        "etc/nginx/nginx.conf",
        `pid ${sandbox.path("nginx.pid")};
events {}
http {
    client_body_temp_path ${sandbox.path("tmp")};
    proxy_temp_path ${sandbox.path("tmp")};
    fastcgi_temp_path ${sandbox.path("tmp")};
    uwsgi_temp_path ${sandbox.path("tmp")};
    scgi_temp_path ${sandbox.path("tmp")};
    access_log off;
    include ${sandbox.path("etc/nginx/conf.d")}/*.conf;
}
`,
    );
    return runProcess(NGINX, ["-t", "-q", "-e", "stderr", "-p", sandbox.root, "-c", conf]);
}

function installCertificate(sandbox: Sandbox, tls: TlsSettings, leaf: Issued, key: Issued = leaf) {
    const paths = certificatePaths(tls, HOST)!;
    for (const [from, to] of [[leaf.certificatePath, paths.chain], [key.keyPath, paths.key]] as const) {
        const target = sandbox.path(to.slice(1));
        mkdirSync(dirname(target), { recursive: true });
        copyFileSync(from, target);
    }
}

describe("standalone nginx sites under nginx -t", { skip }, () => {
    let pki: TestPki;
    let leaf: Issued;
    let other: Issued;
    before(() => {
        pki = new TestPki();
        const ca = pki.rootCa("ca");
        leaf = pki.leaf("leaf", [HOST], ca);
        other = pki.leaf("other", [HOST], ca);
    });
    after(() => pki.dispose());

    for (const [name, tls] of Object.entries(MODES)) {
        it(`${name}: the sites pass nginx -t`, async () => {
            const sandbox = new Sandbox();
            try {
                const sites = standaloneNginxSites(tls, HOST);
                assert.equal(sites.length, tls.mode === "none" ? 1 : 2);
                if (tls.mode !== "none") installCertificate(sandbox, tls, leaf);
                mkdirSync(sandbox.path("var/www/mattermost-acme"), { recursive: true });
                const result = await nginxTest(sandbox, sites);
                assert.equal(result.status, 0, result.stderr);
            } finally {
                sandbox.cleanup();
            }
        });
    }

    it("letsencrypt: the port 80 site alone passes before any certificate exists", async () => {
        const sandbox = new Sandbox();
        try {
            const sites = standaloneNginxSites(MODES.letsencrypt!, HOST);
            const result = await nginxTest(sandbox, sites.filter((site) => !site.needsCertificate));
            assert.equal(result.status, 0, result.stderr);
            const withTls = await nginxTest(sandbox, sites);
            assert.notEqual(withTls.status, 0, "the TLS site needs its certificate");
            assert.match(withTls.stderr, /fullchain\.pem/);
        } finally {
            sandbox.cleanup();
        }
    });

    it("a key that does not belong to the certificate fails nginx -t", async () => {
        const sandbox = new Sandbox();
        try {
            installCertificate(sandbox, MODES.provided!, leaf, other);
            const result = await nginxTest(sandbox, standaloneNginxSites(MODES.provided!, HOST));
            assert.notEqual(result.status, 0);
            assert.match(result.stderr, /key values mismatch/);
        } finally {
            sandbox.cleanup();
        }
    });
});

describe("standalone nginx sites: what they do", () => {
    const [http, https] = standaloneNginxSites(MODES.selfSigned!, HOST);

    it("serves ACME challenges on port 80 and redirects everything else to https on the same name", () => {
        assert.match(http!.content, /location \^~ \/\.well-known\/acme-challenge\/ \{\s+root \/var\/www\/mattermost-acme;/);
        assert.match(http!.content, /return 301 https:\/\/chat\.example\.com\$request_uri;/);
        assert.doesNotMatch(http!.content, /proxy_pass/);
    });

    it("proxies WebSockets with an upgrade and everything else over a keepalive upstream on loopback", () => {
        assert.match(https!.content, /upstream mattermost_backend \{\s+server 127\.0\.0\.1:8065;\s+keepalive 32;/);
        const websocket = /location ~ \/api\/v\[0-9\]\+\/\(users\/\)\?websocket\$ \{([^}]*)\}/.exec(https!.content)?.[1] ?? "";
        assert.match(websocket, /proxy_set_header Upgrade \$http_upgrade;/);
        assert.match(websocket, /proxy_set_header Connection "upgrade";/);
        assert.match(websocket, /client_max_body_size 50M;/);
        const root = /location \/ \{([^}]*)\}/.exec(https!.content)?.[1] ?? "";
        assert.match(root, /proxy_set_header Connection "";/);
        assert.match(root, /client_max_body_size 100M;/);
        assert.match(root, /proxy_read_timeout 600s;/);
        assert.match(https!.content, /ssl_certificate \/etc\/mattermost-tls\/chat\.example\.com\.crt;/);
        assert.match(https!.content, /ssl_protocols TLSv1\.2 TLSv1\.3;/);
    });

    it("puts each mode's certificate where its source keeps it", () => {
        assert.deepEqual(certificatePaths(MODES.letsencrypt!, HOST), {
            chain: "/etc/letsencrypt/live/chat.example.com/fullchain.pem",
            key: "/etc/letsencrypt/live/chat.example.com/privkey.pem",
        });
        assert.equal(certificatePaths(MODES.none!, HOST), undefined);
    });

    it("refuses a hostname that nginx would not read as one word", () => {
        assert.throws(() => standaloneNginxSites(MODES.none!, "chat.example.com; include /etc/passwd"), /hostname/);
    });
});

// ---------------------------------------------------------------------------------------------------
/** A free TCP port on loopback. */
async function freePort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((done) => server.close(done));
    return port;
}

describe("standalone nginx sites, served on loopback by a real nginx", { skip }, () => {
    it("redirects to https, serves ACME challenges, and proxies requests and WebSockets with Mattermost's headers", async () => {
        const pki = new TestPki();
        const sandbox = new Sandbox();
        const seen: http.IncomingHttpHeaders[] = [];
        // Stands in for Mattermost on loopback: answers with the headers it received.
        const upstream = http.createServer((request, response) => {
            seen.push(request.headers);
            response.end(JSON.stringify(request.headers));
        });
        upstream.on("upgrade", (request, socket) => {
            socket.end(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n${JSON.stringify(request.headers)}`);
        });
        let nginx: ChildProcess | undefined;
        try {
            const ca = pki.rootCa("ca");
            const leaf = pki.leaf("leaf", [HOST], ca);
            await new Promise<void>((done) => upstream.listen(0, "127.0.0.1", done));
            const upstreamPort = (upstream.address() as net.AddressInfo).port;
            const [httpPort, httpsPort] = [await freePort(), await freePort()];
            installCertificate(sandbox, MODES.provided!, leaf);
            sandbox.write("var/www/mattermost-acme/.well-known/acme-challenge/token-1", "challenge answer\n");
            // The rendered sites, with only their ports moved to loopback.
            const sites = standaloneNginxSites(MODES.provided!, HOST).map((site) => ({
                ...site,
                content: site.content
                    .replace(/^ {4}listen \[::\]:\d+.*\n/gm, "")
                    .replace("listen 80;", `listen 127.0.0.1:${httpPort};`)
                    .replace("listen 443 ssl http2;", `listen 127.0.0.1:${httpsPort} ssl http2;`)
                    .replace("server 127.0.0.1:8065;", `server 127.0.0.1:${upstreamPort};`),
            }));
            const check = await nginxTest(sandbox, sites);
            assert.equal(check.status, 0, check.stderr);
            nginx = spawn(NGINX, ["-e", "stderr", "-p", sandbox.root, "-c", sandbox.path("etc/nginx/nginx.conf"), "-g", "daemon off; master_process off;"], { stdio: "inherit" });
            const deadline = Date.now() + 10_000;
            while (!(await new Promise<boolean>((done) => net.connect(httpsPort, "127.0.0.1").on("connect", function (this: net.Socket) { this.destroy(); done(true); }).on("error", () => done(false))))) {
                assert.ok(Date.now() < deadline, "nginx did not start listening");
                await delay(50);
            }

            const plain = (path: string) =>
                new Promise<http.IncomingMessage & { body: string }>((done, failed) => {
                    http.get({ host: "127.0.0.1", port: httpPort, path, headers: { Host: HOST } }, (response) => {
                        let body = "";
                        response.on("data", (chunk) => (body += chunk)).on("end", () => done(Object.assign(response, { body })));
                    }).on("error", failed);
                });
            const redirect = await plain("/login?x=1");
            assert.equal(redirect.statusCode, 301);
            assert.equal(redirect.headers.location, `https://${HOST}/login?x=1`);
            const challenge = await plain("/.well-known/acme-challenge/token-1");
            assert.equal(challenge.statusCode, 200);
            assert.equal(challenge.body, "challenge answer\n");

            const tls = { host: "127.0.0.1", port: httpsPort, servername: HOST, ca: ca.certificate };
            const proxied = await new Promise<{ status?: number; body: string }>((done, failed) => {
                https.get({ ...tls, path: "/api/v4/system/ping", headers: { Host: HOST } }, (response) => {
                    let body = "";
                    response.on("data", (chunk) => (body += chunk)).on("end", () => done({ status: response.statusCode, body }));
                }).on("error", failed);
            });
            assert.equal(proxied.status, 200);
            const headers = JSON.parse(proxied.body) as Record<string, string>;
            assert.equal(headers.host, HOST);
            assert.equal(headers["x-real-ip"], "127.0.0.1");
            assert.equal(headers["x-forwarded-proto"], "https");
            assert.equal(headers["x-frame-options"], "SAMEORIGIN");

            const upgraded = await new Promise<string>((done, failed) => {
                const request = https.request({ ...tls, path: "/api/v4/websocket", headers: { Host: HOST, Connection: "Upgrade", Upgrade: "websocket" } });
                request.on("upgrade", (_response, socket, head) => {
                    let body = head.toString();
                    socket.on("data", (chunk) => (body += chunk)).on("end", () => done(body)).on("error", failed);
                });
                request.on("response", (response) => failed(new Error(`no upgrade: ${response.statusCode}`)));
                request.on("error", failed);
                request.end();
            });
            const websocketHeaders = JSON.parse(upgraded) as Record<string, string>;
            assert.equal(websocketHeaders.upgrade, "websocket");
            assert.equal(websocketHeaders.connection, "upgrade");
        } finally {
            nginx?.kill("SIGTERM");
            if (nginx && nginx.exitCode === null) await new Promise((done) => nginx!.on("exit", done));
            await new Promise((done) => upstream.close(done));
            sandbox.cleanup();
            pki.dispose();
        }
    });
});
