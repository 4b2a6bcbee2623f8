// nginx in front of a standalone Mattermost: TLS ends here and requests go to Mattermost on loopback.
// Two files, so the port 80 server can run before any certificate exists (Let's Encrypt's webroot
// challenge needs it) and the TLS server joins once the certificate is there.
// Proxy settings follow Mattermost's nginx guide (deployment-guide/server/setup-nginx-proxy.rst): a
// keepalive upstream on 127.0.0.1:8065, a WebSocket location that upgrades the connection, body size
// limits and timeouts per location, and the forwarding headers. Written for nginx 1.22 to 1.24 (Debian
// bookworm, Ubuntu noble), where HTTP/2 is a `listen` parameter. Pure module.

import type { TlsSettings } from "../../settings/settings";
import { firstAdminGate } from "../signUpPolicy";
import { STANDALONE_LAYOUT } from "./hostLayout";

/** A certificate chain and its key, as files on the host. */
export interface CertificatePaths {
    readonly chain: string;
    readonly key: string;
}

/** What the port 80 server does besides answering ACME challenges. */
export type HttpRole =
    /** Redirect to https (every tls.mode but none). */
    | "redirect"
    /** Serve Mattermost over plain http (tls.mode none). */
    | "proxy";

export interface NginxHttpSiteInput {
    /** Mattermost's hostname (server_name). */
    readonly hostname: string;
    readonly role: HttpRole;
    /** Directory served at /.well-known/acme-challenge/. */
    readonly acmeWebroot: string;
    /** Mattermost's address, host:port. */
    readonly upstream: string;
}

export interface NginxHttpsSiteInput {
    readonly hostname: string;
    readonly certificate: CertificatePaths;
    readonly upstream: string;
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
/** Paths nginx reads as one bare word: no spaces, quotes, semicolons or braces. */
const PATH = /^\/[A-Za-z0-9._/-]+$/;
const UPSTREAM = /^[A-Za-z0-9.-]+:\d{1,5}$/;

function checked(kind: string, value: string, pattern: RegExp): string {
    if (!pattern.test(value)) throw new Error(`nginx site: ${kind} ${JSON.stringify(value)} cannot be written as one nginx word`);
    return value;
}

/** The upstream's name in nginx's configuration. */
const UPSTREAM_NAME = "mattermost_backend";

/** Where each tls.mode's certificate for `hostname` is on the host; none for tls.mode none. */
export function certificatePaths(tls: TlsSettings, hostname: string): CertificatePaths | undefined {
    switch (tls.mode) {
        case "none":
            return undefined;
        case "letsencrypt":
            // certbot keeps the current certificate under live/<first domain>/.
            return { chain: `/etc/letsencrypt/live/${hostname}/fullchain.pem`, key: `/etc/letsencrypt/live/${hostname}/privkey.pem` };
        case "selfSigned":
        case "provided":
            return { chain: `${STANDALONE_LAYOUT.tlsDirectory}/${hostname}.crt`, key: `${STANDALONE_LAYOUT.tlsDirectory}/${hostname}.key` };
    }
}

const FORWARDING_HEADERS = [
    "proxy_set_header Host $http_host;",
    "proxy_set_header X-Real-IP $remote_addr;",
    "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
    "proxy_set_header X-Forwarded-Proto $scheme;",
    "proxy_set_header X-Frame-Options SAMEORIGIN;",
];

function block(indent: string, lines: readonly string[]): string {
    return lines.map((line) => (line === "" ? "" : `${indent}${line}`)).join("\n");
}

/**
 * The first administrator gate (the bundled vhost's, signUpPolicy firstAdminGate), then the two
 * locations that proxy to Mattermost: every server block that reaches Mattermost carries the gate.
 */
function proxyLocations(): string {
    return block("    ", [
        ...firstAdminGate().split("\n"),
        "",
        "# WebSocket connections: upgraded, held open, and given Mattermost's longer send timeout.",
        "location ~ /api/v[0-9]+/(users/)?websocket$ {",
        ...[
            "proxy_set_header Upgrade $http_upgrade;",
            'proxy_set_header Connection "upgrade";',
            ...FORWARDING_HEADERS,
            "client_max_body_size 50M;",
            "client_body_timeout 60s;",
            "send_timeout 300s;",
            "lingering_timeout 5s;",
            "proxy_buffers 256 16k;",
            "proxy_buffer_size 16k;",
            "proxy_connect_timeout 90s;",
            "proxy_send_timeout 300s;",
            "proxy_read_timeout 90s;",
            "proxy_http_version 1.1;",
            `proxy_pass http://${UPSTREAM_NAME};`,
        ].map((line) => `    ${line}`),
        "}",
        "",
        "location / {",
        ...[
            // An empty Connection header lets the upstream keep its connections alive.
            'proxy_set_header Connection "";',
            ...FORWARDING_HEADERS,
            "client_max_body_size 100M;",
            "proxy_buffers 256 16k;",
            "proxy_buffer_size 16k;",
            "proxy_read_timeout 600s;",
            "proxy_http_version 1.1;",
            `proxy_pass http://${UPSTREAM_NAME};`,
        ].map((line) => `    ${line}`),
        "}",
    ]);
}

function upstream(address: string): string {
    return `upstream ${UPSTREAM_NAME} {
    server ${checked("upstream", address, UPSTREAM)};
    keepalive 32;
}
`;
}

const HEADER = "# Written by gitlab-mattermost; edits here are replaced.\n";

/**
 * The port 80 server: ACME challenges from the webroot, and either a redirect to https or, with
 * tls.mode none, Mattermost itself (then this file also holds the upstream).
 */
export function nginxHttpSite(input: NginxHttpSiteInput): string {
    const hostname = checked("hostname", input.hostname, HOSTNAME);
    const webroot = checked("ACME webroot", input.acmeWebroot, PATH);
    const rest =
        input.role === "redirect"
            ? block("    ", ["location / {", `    return 301 https://${hostname}$request_uri;`, "}"])
            : proxyLocations();
    return `${HEADER}${input.role === "proxy" ? `${upstream(input.upstream)}\n` : ""}server {
    listen 80;
    listen [::]:80;
    server_name ${hostname};

    # Let's Encrypt's http-01 challenge files, written by certbot --webroot.
    location ^~ /.well-known/acme-challenge/ {
        root ${webroot};
        default_type text/plain;
        try_files $uri =404;
    }

${rest}
}
`;
}

/** The TLS server: Mattermost over https, with HTTP/2, TLS 1.2 and 1.3. */
export function nginxHttpsSite(input: NginxHttpsSiteInput): string {
    const hostname = checked("hostname", input.hostname, HOSTNAME);
    return `${HEADER}${upstream(input.upstream)}
server {
    listen 443 ssl http2;
    listen [::]:443 ssl http2;
    server_name ${hostname};

    ssl_certificate ${checked("certificate path", input.certificate.chain, PATH)};
    ssl_certificate_key ${checked("key path", input.certificate.key, PATH)};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers off;
    ssl_session_timeout 1d;
    ssl_session_cache shared:mattermost_tls:10m;

${proxyLocations()}
}
`;
}

/** One nginx configuration file for the host. */
export interface NginxSiteFile {
    readonly path: string;
    readonly content: string;
    /** Whether its certificate must exist before it is installed (the TLS server). */
    readonly needsCertificate: boolean;
}

/** The nginx files for Mattermost at `hostname` under a tls.mode, at the host's paths. */
export function standaloneNginxSites(tls: TlsSettings, hostname: string): NginxSiteFile[] {
    const upstreamAddress = STANDALONE_LAYOUT.listenAddress;
    const certificate = certificatePaths(tls, hostname);
    const http: NginxSiteFile = {
        path: STANDALONE_LAYOUT.nginxHttpSite,
        content: nginxHttpSite({ hostname, role: certificate ? "redirect" : "proxy", acmeWebroot: STANDALONE_LAYOUT.acmeWebroot, upstream: upstreamAddress }),
        needsCertificate: false,
    };
    if (!certificate) return [http];
    return [http, { path: STANDALONE_LAYOUT.nginxHttpsSite, content: nginxHttpsSite({ hostname, certificate, upstream: upstreamAddress }), needsCertificate: true }];
}
