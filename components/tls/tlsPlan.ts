// Where certificates live on a host and what each host must trust. Pure module.
// The layout follows Omnibus's defaults (/etc/gitlab/ssl/<host>.crt|.key for each vhost), so gitlab.rb
// never needs nginx['ssl_certificate'] or mattermost_nginx['ssl_certificate'] overrides.

import type { DeploymentSettings, ServiceName, TlsSettings } from "../settings/settings";
import type { HostPlan } from "../settings/topology";

/** Omnibus's certificate directory. */
export const SSL_DIR = "/etc/gitlab/ssl";

/** Certificates placed here are linked into /opt/gitlab/embedded/ssl/certs on reconfigure, which is
 * Mattermost's SSL_CERT_DIR and GitLab's embedded OpenSSL trust store. */
export const TRUSTED_CERTS_DIR = "/etc/gitlab/trusted-certs";

/** The stack's private CA on every host, when the hosts' certificates are not publicly trusted. */
export const PRIVATE_CA_PATH = `${TRUSTED_CERTS_DIR}/gitlab-mattermost-ca.crt`;

/** Where Omnibus's embedded OpenSSL (and Mattermost, through SSL_CERT_DIR) finds trusted certificates. */
export const EMBEDDED_CERT_DIR = "/opt/gitlab/embedded/ssl/certs/";

/** Whether this program puts certificates on the hosts (rather than Let's Encrypt or none). */
export function installsCertificates(tls: TlsSettings): boolean {
    return tls.mode === "selfSigned" || tls.mode === "provided";
}

/** Whether the hosts must trust a private CA to reach each other over https. */
export function trustsPrivateCa(tls: TlsSettings): boolean {
    return tls.mode === "selfSigned" || (tls.mode === "provided" && tls.caCertificate !== undefined);
}

/** One file of TLS material on a host. */
export interface TlsFile {
    readonly path: string;
    readonly mode: "0644" | "0600";
    /** What goes into it: a name's certificate chain or key, or the private CA. */
    readonly content: { readonly kind: "certificate" | "key"; readonly name: ServiceName } | { readonly kind: "ca" };
}

/** The names a host serves, as certificate entries, with their hostnames. */
export function servedNames(settings: DeploymentSettings, plan: HostPlan): { name: ServiceName; hostname: string }[] {
    return [
        ...(plan.runsGitlab ? [{ name: "gitlab" as const, hostname: settings.externalUrl.host }] : []),
        ...(plan.runsMattermost ? [{ name: "mattermost" as const, hostname: settings.mattermostExternalUrl.host }] : []),
    ];
}

/** Where the certificate chain and the key of a name go: Omnibus's default for that name's vhost. */
function leafPaths(hostname: string): { certificate: string; key: string } {
    return { certificate: `${SSL_DIR}/${hostname}.crt`, key: `${SSL_DIR}/${hostname}.key` };
}

/** The TLS files a host gets; none with Let's Encrypt or http. */
export function tlsFiles(settings: DeploymentSettings, plan: HostPlan): TlsFile[] {
    if (!installsCertificates(settings.tls)) {
        return [];
    }
    const leaves = servedNames(settings, plan).flatMap(({ name, hostname }): TlsFile[] => [
        { path: leafPaths(hostname).certificate, mode: "0644", content: { kind: "certificate", name } },
        { path: leafPaths(hostname).key, mode: "0600", content: { kind: "key", name } },
    ]);
    return trustsPrivateCa(settings.tls) ? [...leaves, { path: PRIVATE_CA_PATH, mode: "0644", content: { kind: "ca" } }] : leaves;
}

/**
 * The TLS files another mode would have put on this host that the current mode does not use; they are
 * removed before the reconfigure. A certificate left at `<mattermost host>.crt` would keep Omnibus's
 * Let's Encrypt helper from adding the Mattermost name, and nginx would go on serving it.
 */
export function retiredTlsFiles(settings: DeploymentSettings, plan: HostPlan): string[] {
    const used = new Set(tlsFiles(settings, plan).map((file) => file.path));
    const possible = [...servedNames(settings, plan).flatMap(({ hostname }) => Object.values(leafPaths(hostname))), PRIVATE_CA_PATH];
    return possible.filter((path) => !used.has(path));
}
