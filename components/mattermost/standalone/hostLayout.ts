// Where a standalone Mattermost host keeps everything. Releases sit side by side under /opt and
// /opt/mattermost links to the one in use, so an upgrade or a rollback is one rename; everything
// that outlives a release (data, plugins, config.json, logs) is outside them. The host scripts in
// host/standalone/ use the same paths. Pure module.

import { formatVersion, type Version } from "../../versions/versions";
import type { MattermostEdition } from "../../versions/mattermostReleases";

export const STANDALONE_LAYOUT = {
    /** The link to the release in use; the unit runs its bin/mattermost. */
    currentRelease: "/opt/mattermost",
    /** Data, plugins, client plugins and config.json, kept across releases. */
    dataRoot: "/var/opt/mattermost",
    filesDirectory: "/var/opt/mattermost/data/",
    pluginDirectory: "/var/opt/mattermost/plugins",
    clientPluginDirectory: "/var/opt/mattermost/client-plugins",
    configFile: "/var/opt/mattermost/config/config.json",
    logDirectory: "/var/log/mattermost",
    /** The EnvironmentFile of the unit: root-owned, 0600, holds the secrets. */
    environmentFile: "/etc/mattermost/mattermost.env",
    unitFile: "/etc/systemd/system/mattermost.service",
    /** Mattermost's default local-mode socket, which mmctl --local finds without options. */
    localModeSocket: "/var/tmp/mattermost_local.socket",
    /** Mattermost listens only on loopback; nginx is the only way in. */
    listenAddress: "127.0.0.1:8065",
    user: "mattermost",
    /** nginx's port 80 server (ACME challenges, redirect) and its TLS server, in conf.d. */
    nginxHttpSite: "/etc/nginx/conf.d/mattermost-http.conf",
    nginxHttpsSite: "/etc/nginx/conf.d/mattermost-https.conf",
    /** Where certbot's webroot challenge files go and nginx serves them from. */
    acmeWebroot: "/var/www/mattermost-acme",
    /** Certificates this program installs (selfSigned, provided). */
    tlsDirectory: "/etc/mattermost-tls",
} as const;

/** The local PostgreSQL database (Ubuntu's postgresql package), reached over loopback with a password. */
export const STANDALONE_DATABASE = {
    name: "mattermost",
    role: "mmuser",
    host: "127.0.0.1",
    port: 5432,
} as const;

/** The directory a release is unpacked into, named like its archive. */
export function releaseDirectory(version: Version, edition: MattermostEdition): string {
    return `/opt/${edition === "team" ? "mattermost-team" : "mattermost"}-${formatVersion(version)}`;
}
