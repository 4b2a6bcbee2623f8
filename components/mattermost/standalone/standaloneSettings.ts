// Mattermost's settings on a standalone host, as the environment file its systemd unit reads. Every
// setting travels as an MM_* variable, so it overrides config.json and is read-only in the System
// Console, as with the bundle. Values are checked against the settings structure of the release in
// use before anything is rendered. Pure module.

import { ConfigError } from "../../settings/configError";
import type { DeploymentSettings, EmailBatchingSettings, ExternalUrl, MailServer, MailSettings } from "../../settings/settings";
import type { MattermostEdition } from "../../versions/mattermostReleases";
import { formatVersion, type Version } from "../../versions/versions";
import { LOCAL_MODE, emailBatchingSettingValues, mailSettingValues, settingVariable, variableValue, type SettingValues } from "../mattermostSettings";
import type { EnvOwner } from "../mattermostEnv";
import { SIGN_UP_DEFAULTS } from "../signUpPolicy";
import { renderEnvironmentFile, type EnvironmentEntry } from "./environmentFile";
import { STANDALONE_DATABASE, STANDALONE_LAYOUT } from "./hostLayout";
import { checkSettings, settingsStructureFor } from "./settingsStructure";

/** Everything the standalone host's settings are made of. */
export interface StandaloneSettingsInput {
    /** The Mattermost release on the host; selects the settings structure and the sign-in style. */
    readonly version: Version;
    readonly edition: MattermostEdition;
    /** Mattermost's URL (ServiceSettings.SiteURL). */
    readonly siteUrl: ExternalUrl;
    /** GitLab's URL; the sign-in endpoints are on it. */
    readonly gitlabUrl: ExternalUrl;
    /** The sign-in application's client id and secret (secret) on GitLab. */
    readonly oauth: { readonly clientId: string; readonly clientSecret: string };
    /** Password of the database role (secret), as generated for the host. */
    readonly databasePassword: string;
    /** SqlSettings.AtRestEncryptKey (secret): at least 32 characters; carried over on a migration. */
    readonly atRestEncryptKey: string;
    /** Outgoing mail: the identity, and the server as the host uses it. */
    readonly mail?: { readonly settings: MailSettings; readonly server: MailServer };
    readonly emailBatching?: EmailBatchingSettings;
    /** Contents of a Mattermost licence file (secret), passed as MM_LICENSE. */
    readonly license?: string;
    /** TeamSettings.SiteName, if not Mattermost's default. */
    readonly siteName?: string;
    /** mattermost.env: further variables, which may not override the program's. */
    readonly env: Readonly<Record<string, string>>;
}

/** How Mattermost signs users in with GitLab. */
export type GitlabSignIn = "oauth2" | "openid";

/**
 * The sign-in style a release and edition support: 10.11 signs in through the OAuth 2.0 endpoints in
 * every edition (as the bundle did); 11.x only in the Enterprise build (Entry or licensed), through
 * OpenID Connect; 11.0 removed GitLab sign-in from Team Edition (v11 changelog; sso-gitlab.rst).
 * Undefined when the combination has no GitLab sign-in.
 */
export function gitlabSignIn(version: Version, edition: MattermostEdition): GitlabSignIn | undefined {
    if (version.major < 11) return "oauth2";
    return edition === "enterprise" ? "openid" : undefined;
}

/** Scopes Mattermost asks GitLab for: none for OAuth 2.0 (GitLab's defaults, as Omnibus set it);
 * `openid` is required for OpenID Connect, `read_user` keeps GitLab's user API open to the token. */
const SCOPES: Record<GitlabSignIn, string> = { oauth2: "", openid: "openid profile email read_user" };

function gitlabSignInValues(input: StandaloneSettingsInput): SettingValues {
    const style = gitlabSignIn(input.version, input.edition);
    if (style === undefined) {
        throw new ConfigError(
            "mattermost.edition",
            `Mattermost ${formatVersion(input.version)} Team Edition has no GitLab sign-in (removed in 11.0). Use edition enterprise (free as Entry, or with mattermost.license) or stay on 10.11.`,
        );
    }
    const gitlab = input.gitlabUrl.href;
    return {
        "GitLabSettings.Enable": true,
        "GitLabSettings.Id": input.oauth.clientId,
        "GitLabSettings.Secret": input.oauth.clientSecret,
        "GitLabSettings.Scope": SCOPES[style],
        "GitLabSettings.AuthEndpoint": `${gitlab}/oauth/authorize`,
        "GitLabSettings.TokenEndpoint": `${gitlab}/oauth/token`,
        "GitLabSettings.UserAPIEndpoint": `${gitlab}/api/v4/user`,
        // Mattermost has no server default for it; the console's prefilled value is gitlab.com's.
        ...(style === "openid" ? { "GitLabSettings.DiscoveryEndpoint": `${gitlab}/.well-known/openid-configuration` } : {}),
    };
}

/** The DSN (SqlSettings.DataSource) of the local database, as deploy-ubuntu.rst writes it. */
export function databaseDataSource(password: string): string {
    const { role, host, port, name } = STANDALONE_DATABASE;
    return `postgres://${role}:${encodeURIComponent(password)}@${host}:${port}/${name}?sslmode=disable&connect_timeout=10`;
}

/**
 * The sign-up policy every Mattermost of the stack starts with (signUpPolicy.ts), as settings; a
 * variable mattermost.env sets replaces its default there.
 */
function signUpDefaults(env: Readonly<Record<string, string>>): SettingValues {
    return Object.fromEntries(
        Object.entries(SIGN_UP_DEFAULTS)
            .filter(([name]) => !Object.hasOwn(env, name))
            .map(([, policy]) => [policy.setting, policy.value === "true"]),
    );
}

/** The settings, by config.json path, checked against the release's structure and rules. */
export function standaloneSettingValues(input: StandaloneSettingsInput): SettingValues {
    const values: SettingValues = {
        "ServiceSettings.SiteURL": input.siteUrl.href,
        "ServiceSettings.ListenAddress": STANDALONE_LAYOUT.listenAddress,
        ...LOCAL_MODE,
        "ServiceSettings.LocalModeSocketLocation": STANDALONE_LAYOUT.localModeSocket,
        // nginx sets X-Real-IP from the connection; X-Forwarded-For could carry the client's own claims.
        "ServiceSettings.TrustedProxyIPHeader": "X-Real-IP",
        "SqlSettings.DriverName": "postgres",
        "SqlSettings.DataSource": databaseDataSource(input.databasePassword),
        "SqlSettings.AtRestEncryptKey": input.atRestEncryptKey,
        ...gitlabSignInValues(input),
        ...signUpDefaults(input.env),
        ...(input.siteName === undefined ? {} : { "TeamSettings.SiteName": input.siteName }),
        ...(input.mail ? mailSettingValues(input.mail.settings, input.mail.server) : {}),
        ...(input.emailBatching ? emailBatchingSettingValues(input.emailBatching) : {}),
        "FileSettings.DriverName": "local",
        "FileSettings.Directory": STANDALONE_LAYOUT.filesDirectory,
        "PluginSettings.Directory": STANDALONE_LAYOUT.pluginDirectory,
        "PluginSettings.ClientDirectory": STANDALONE_LAYOUT.clientPluginDirectory,
        "LogSettings.FileLocation": STANDALONE_LAYOUT.logDirectory,
    };
    checkSettings(settingsStructureFor(input.version), values);
    return values;
}

/** Which configuration key sets a setting, for errors about its rendered value. */
function configKeyOf(path: string): string {
    if (path.startsWith("EmailSettings.EmailBatching") || path === "EmailSettings.EnableEmailBatching") return "mattermost.emailBatching";
    if (path.startsWith("EmailSettings.")) return "mail";
    if (path.startsWith("GitLabSettings.")) return "oauth";
    if (path === "ServiceSettings.SiteURL") return "mattermostExternalUrl";
    if (path === "TeamSettings.SiteName") return "mattermost.siteName";
    return `mattermost (${path})`;
}

/** Variables whose values are secret (passwords, keys, the licence): a render shows them masked. */
export const SECRET_VARIABLES: readonly string[] = [
    "SqlSettings.DataSource",
    "SqlSettings.AtRestEncryptKey",
    "GitLabSettings.Secret",
    "EmailSettings.SMTPPassword",
].map(settingVariable).concat("MM_LICENSE");

/** The environment file's variables: the settings, the licence, then mattermost.env. */
export function standaloneEnvironment(input: StandaloneSettingsInput): EnvironmentEntry[] {
    return [
        ...Object.entries(standaloneSettingValues(input)).map(([path, value]) => ({ name: settingVariable(path), value: variableValue(value), configKey: configKeyOf(path) })),
        ...(input.license === undefined ? [] : [{ name: "MM_LICENSE", value: input.license.trim(), configKey: "mattermost.license" }]),
        ...Object.entries(input.env).map(([name, value]) => ({ name, value, configKey: `mattermost.env.${name}` })),
    ];
}

/** The text of /etc/mattermost/mattermost.env. Secret: it holds the database password and keys. */
export function standaloneEnvironmentFile(input: StandaloneSettingsInput): string {
    return renderEnvironmentFile(
        [
            "Mattermost's settings, written by gitlab-mattermost on every change; edits here are replaced.",
            "Read by mattermost.service (EnvironmentFile=). Variables override config.json and are locked in the System Console.",
        ],
        standaloneEnvironment(input),
    );
}

/**
 * Stand-ins for the values that exist only at deploy time (generated credentials, SES's server): they
 * change neither which settings are set nor their types, so checks before any resource can use them.
 */
export const DEPLOY_TIME_STAND_INS = {
    clientId: "client-id",
    clientSecret: "client-secret",
    databasePassword: "password",
    atRestEncryptKey: "k".repeat(32),
    mailServer: { address: "smtp.invalid", port: 587, security: "STARTTLS" },
    license: "licence",
} as const satisfies { mailServer: MailServer } & Record<string, unknown>;

/** Refuses, before any resource, settings the standalone host's Mattermost release would not take. */
export function checkStandaloneSettings(settings: DeploymentSettings): void {
    const input = checkInput(settings);
    if (input !== undefined) standaloneEnvironmentFile(input);
}

/**
 * What sets each variable of the standalone host's environment file other than mattermost.env, for
 * its collision message (checkEnvCollisions). The GitLab sign-in's whole section is the program's.
 */
export function standaloneEnvOwner(settings: DeploymentSettings): EnvOwner {
    const input = checkInput(settings);
    const owners = new Map(
        (input === undefined ? [] : standaloneEnvironment(input)).filter((entry) => !entry.configKey.startsWith("mattermost.env.")).map((entry) => [entry.name, entry.configKey]),
    );
    const file = STANDALONE_LAYOUT.environmentFile;
    return (name) => {
        const configKey = owners.get(name) ?? (name.startsWith(GITLAB_SETTINGS_PREFIX) ? "oauth: the sign-in through GitLab this program registers" : undefined);
        return configKey === undefined ? undefined : `the standalone Mattermost host's ${file} sets from ${configKey}`;
    };
}

const GITLAB_SETTINGS_PREFIX = "MM_GITLABSETTINGS_";

/** The renderer's input for the configuration check, with stand-ins for the deploy-time values. */
function checkInput(settings: DeploymentSettings): StandaloneSettingsInput | undefined {
    const release = settings.mattermost.standalone;
    if (release === undefined) return undefined;
    const standIns = DEPLOY_TIME_STAND_INS;
    return {
        version: release.version,
        edition: release.edition,
        siteUrl: settings.mattermostExternalUrl,
        gitlabUrl: settings.externalUrl,
        oauth: { clientId: standIns.clientId, clientSecret: standIns.clientSecret },
        databasePassword: standIns.databasePassword,
        atRestEncryptKey: standIns.atRestEncryptKey,
        ...(settings.mail ? { mail: { settings: settings.mail, server: standIns.mailServer } } : {}),
        ...(settings.mattermost.emailBatching ? { emailBatching: settings.mattermost.emailBatching } : {}),
        ...(release.license === undefined ? {} : { license: release.license }),
        env: settings.mattermost.env,
    };
}
