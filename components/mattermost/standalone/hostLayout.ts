// Where a standalone Mattermost host keeps everything. Releases sit side by side under /opt and
// /opt/mattermost links to the one in use, so an upgrade or a rollback is one rename; everything
// that outlives a release (data, plugins, config.json, logs) is outside them. The host scripts in
// host/standalone/ use the same paths. Pure module.

import { formatVersion, type Version } from "../../versions/versions";
import type { MattermostEdition } from "../../versions/mattermostReleases";

export const STANDALONE_LAYOUT = {
    /** The link to the release in use; the unit runs its bin/mattermost. */
    currentRelease: "/opt/mattermost",
    /** Data, plugins, client plugins and config.json, kept across releases: the data volume's mount point. */
    dataRoot: "/var/opt/mattermost",
    /** PostgreSQL's clusters, on the data volume too: `<major>/main` below it. */
    postgresqlDirectory: "/var/opt/mattermost/postgresql",
    filesDirectory: "/var/opt/mattermost/data/",
    pluginDirectory: "/var/opt/mattermost/plugins",
    clientPluginDirectory: "/var/opt/mattermost/client-plugins",
    configFile: "/var/opt/mattermost/config/config.json",
    logDirectory: "/var/log/mattermost",
    /** The EnvironmentFile of the unit: root-owned, 0600, holds the secrets. */
    environmentFile: "/etc/mattermost/mattermost.env",
    unitFile: "/etc/systemd/system/mattermost.service",
    /** The release's mmctl, run as the mattermost user in local mode. */
    mmctl: "/opt/mattermost/bin/mmctl",
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
    /** The stack's private CA in the system's trust store, when GitLab's certificate chains to it. */
    trustedCaFile: "/usr/local/share/ca-certificates/gitlab-mattermost-ca.crt",
    /** Certificates this program installs (selfSigned, provided). */
    tlsDirectory: "/etc/mattermost-tls",
} as const;

/** The files apply-mattermost-settings.sh installs, by the kind it is given, and where each goes. */
export const SETTINGS_FILES = {
    environment: STANDALONE_LAYOUT.environmentFile,
    unit: STANDALONE_LAYOUT.unitFile,
    "nginx-http": STANDALONE_LAYOUT.nginxHttpSite,
    "nginx-https": STANDALONE_LAYOUT.nginxHttpsSite,
    "trusted-ca": STANDALONE_LAYOUT.trustedCaFile,
} as const;

export type SettingsFileKind = keyof typeof SETTINGS_FILES;

/** The data volume: mounted at the data root before anything is installed; holds the database too. */
export const STANDALONE_DATA_VOLUME = { mountPoint: STANDALONE_LAYOUT.dataRoot, label: "mattermost-data" } as const;

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

/** psql on Mattermost's database, as PostgreSQL's superuser (peer authentication on the socket). */
export const STANDALONE_DATABASE_COMMAND = `sudo -iu postgres psql -d ${STANDALONE_DATABASE.name}`;
