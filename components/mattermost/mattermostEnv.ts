// Mattermost's environment as gitlab.rb sets it (`mattermost['env']`). Environment variables override
// config.json and lock the setting in the System Console, so this is how settings stay declarative.
// The settings and their variable names come from mattermostSettings.ts, which the standalone host
// shares. Pure module.

import { ConfigError } from "../settings/configError";
import type { DeploymentSettings, MailServer } from "../settings/settings";
import { LOCAL_MODE, emailBatchingSettingValues, mailSettingValues, settingVariables } from "./mattermostSettings";
import { EMBEDDED_CERT_DIR, trustsPrivateCa } from "../tls/tlsPlan";
import { SIGN_UP_DEFAULTS, checkSignUpOverride } from "./signUpPolicy";

/** A variable this program sets, and why, for the collision message. */
interface ProgramVariable {
    readonly value: string;
    readonly setBecause: string;
}

/**
 * Variables this program sets. `mailServer` is the resolved server; to learn only the names (as the
 * configuration check does), any server will do.
 */
export function programEnv(settings: DeploymentSettings, mailServer: MailServer | undefined): Readonly<Record<string, ProgramVariable>> {
    const variables: Record<string, ProgramVariable> = {};
    const set = (setBecause: string, values: Record<string, string>) => {
        for (const [name, value] of Object.entries(values)) variables[name] = { value, setBecause };
    };

    // Local mode listens on a socket only the mattermost user can use (mmctl's default path).
    set("the mmctl wrapper, the first administrator's step and the GitLab plugin step talk to Mattermost in local mode", settingVariables(LOCAL_MODE));
    if (trustsPrivateCa(settings.tls)) {
        // Omnibus's default already points here, but it must not be lost: the private CA reaches
        // Mattermost's token calls to GitLab only through this directory.
        set(`tls.mode ${settings.tls.mode} makes Mattermost trust the stack's CA`, { SSL_CERT_DIR: EMBEDDED_CERT_DIR });
    }
    if (settings.mail && mailServer) {
        set("mail is configured", settingVariables(mailSettingValues(settings.mail, mailServer)));
    }
    const batching = settings.mattermost.emailBatching;
    if (batching) {
        set("mattermost.emailBatching is configured", settingVariables(emailBatchingSettingValues(batching)));
    }
    return variables;
}

/**
 * Variables the program sets unless mattermost.env sets them: defaults, where programEnv's are locks.
 * The administrator's value replaces the default.
 */
export function programDefaults(): Readonly<Record<string, string>> {
    return Object.fromEntries(Object.entries(SIGN_UP_DEFAULTS).map(([name, variable]) => [name, variable.value]));
}

/** Mattermost's whole environment: the program's defaults, its own variables, then the administrator's. */
export function mattermostEnv(settings: DeploymentSettings, mailServer: MailServer | undefined): Readonly<Record<string, string>> {
    const own = Object.fromEntries(Object.entries(programEnv(settings, mailServer)).map(([name, variable]) => [name, variable.value]));
    return { ...programDefaults(), ...own, ...settings.mattermost.env };
}

/** Stands in for the real server when only the variables' names matter. */
const ANY_MAIL_SERVER: MailServer = { address: "", port: 0, security: "STARTTLS", username: "", password: "" };

/**
 * Variables Omnibus computes from gitlab.rb and then lets `mattermost['env']` override, since it merges
 * the administrator's env last (omnibus 18.11.11 mattermost/libraries/mattermost_helper.rb
 * get_env_variables, merged in mattermost/recipes/enable.rb). Each names what owns the value.
 */
const OMNIBUS_ENV: Readonly<Record<string, string>> = {
    MM_SERVICESETTINGS_SITEURL: "mattermostExternalUrl (Omnibus's mattermost['service_site_url'])",
    MM_SERVICESETTINGS_LISTENADDRESS: "Omnibus's mattermost['service_address'] and ['service_port'], where its nginx proxies to",
    MM_SERVICESETTINGS_ALLOWEDUNTRUSTEDINTERNALCONNECTIONS: "Omnibus's mattermost['service_allowed_untrusted_internal_connections']",
    MM_SERVICESETTINGS_ENABLEAPITEAMDELETION: "Omnibus's mattermost['service_enable_api_team_deletion']",
    MM_TEAMSETTINGS_SITENAME: "Omnibus's mattermost['team_site_name']",
    MM_SQLSETTINGS_DRIVERNAME: "Omnibus's mattermost['sql_driver_name']",
    MM_SQLSETTINGS_DATASOURCE: "Omnibus's mattermost['sql_data_source'] (the bundled PostgreSQL)",
    MM_SQLSETTINGS_ATRESTENCRYPTKEY: "Omnibus's mattermost['sql_at_rest_encrypt_key'] in gitlab-secrets.json",
    MM_LOGSETTINGS_FILELOCATION: "Omnibus's mattermost['log_file_directory']",
    MM_FILESETTINGS_DIRECTORY: "Omnibus's mattermost['file_directory'], which the backups read",
    MM_PLUGINSETTINGS_DIRECTORY: "Omnibus's mattermost['plugin_directory']",
    MM_PLUGINSETTINGS_CLIENTDIRECTORY: "Omnibus's mattermost['plugin_client_directory']",
    MM_INSTALL_TYPE: "Omnibus (gitlab_omnibus)",
};

/** Prefixes of whole settings sections the program owns; every variable under them is refused. */
const OWNED_PREFIXES: Readonly<Record<string, string>> = {
    // mattermost['gitlab_enable'|'gitlab_id'|'gitlab_secret'|'gitlab_scope'|'gitlab_*_endpoint'].
    MM_GITLABSETTINGS_: "the sign-in through GitLab this program registers (Omnibus's mattermost['gitlab_*'] settings)",
};

/**
 * What already sets a variable, in the words of what runs Mattermost ("which <owner>"), or undefined
 * when mattermost.env may set it.
 */
export type EnvOwner = (name: string) => string | undefined;

/** The bundled Mattermost's owners: this program's gitlab.rb, and Omnibus. */
function bundledOwner(settings: DeploymentSettings): EnvOwner {
    const own = programEnv(settings, ANY_MAIL_SERVER);
    return (name) => {
        if (Object.hasOwn(own, name)) {
            return `this program sets because ${own[name].setBecause}`;
        }
        if (Object.hasOwn(OMNIBUS_ENV, name)) {
            return `Omnibus sets from ${OMNIBUS_ENV[name]}`;
        }
        const prefix = Object.keys(OWNED_PREFIXES).find((candidate) => name.startsWith(candidate));
        return prefix === undefined ? undefined : `Omnibus sets from ${OWNED_PREFIXES[prefix]}`;
    };
}

/**
 * Refuses a mattermost.env entry that would override a variable set elsewhere, saying what sets it
 * (`ownerOf`: the bundled Mattermost's owners unless another host's are given). A program default
 * (programDefaults) may be replaced, with a value Mattermost reads.
 */
export function checkEnvCollisions(settings: DeploymentSettings, ownerOf: EnvOwner = bundledOwner(settings)): void {
    for (const [name, value] of Object.entries(settings.mattermost.env)) {
        checkSignUpOverride(name, value);
        const owner = ownerOf(name);
        if (owner !== undefined) {
            throw new ConfigError(`mattermost.env.${name}`, `collides with ${name}, which ${owner}. Remove it from mattermost.env.`);
        }
    }
}

/**
 * Refuses a value that would reach Mattermost altered. Omnibus writes each variable to a file that
 * runit's `chpst -e` reads as envdir does: only the first line, spaces and tabs at its end removed,
 * NULs turned into newlines, and an empty file unsets the variable (daemontools envdir(8), which
 * runit's chpst(8) -e follows).
 */
export function checkEnvFileValue(key: string, value: string): void {
    const problem = value.includes("\n")
        ? "contains a line break; Mattermost would get only the first line"
        : value.includes("\0")
          ? "contains a NUL character, which Mattermost would get as a line break"
          : /[ \t]$/.test(value)
            ? "ends with a space or tab, which Mattermost would not get"
            : value === ""
              ? "is empty, which unsets the variable rather than setting it empty"
              : undefined;
    if (problem !== undefined) {
        throw new ConfigError(key, `${problem}: runit passes Mattermost's environment through one-line files. Use a value on one line without trailing blanks.`);
    }
}
