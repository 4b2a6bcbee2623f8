// The standalone host's nginx configuration, checked by Debian's nginx with `nginx -t` (which parses
// every file and loads every certificate and key, but binds no port), in every tls.mode. The files
// are the ones rendered for the host; only their absolute paths are moved into a sandbox.

import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { after, before, describe, it } from "node:test";
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
