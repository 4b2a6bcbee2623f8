// Mattermost's environment as gitlab.rb sets it (`mattermost['env']`). Environment variables override
// config.json and lock the setting in the System Console, so this is how settings stay declarative.
// Variable names follow Mattermost's rule: MM_ + SECTION + SETTING, upper case
// (EmailSettings.SMTPServer → MM_EMAILSETTINGS_SMTPSERVER). Pure module.

import { ConfigError } from "./configError";
import type { DeploymentSettings, MailSecurity, MailServer } from "./settings";
import { EMBEDDED_CERT_DIR, trustsPrivateCa } from "./tlsPlan";

/** A variable this program sets, and why, for the collision message. */
interface ProgramVariable {
    readonly value: string;
    readonly setBecause: string;
}

/** Mattermost's EmailSettings.ConnectionSecurity values. */
const CONNECTION_SECURITY: Record<MailSecurity, string> = { none: "", TLS: "TLS", STARTTLS: "STARTTLS" };

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
    set("the mmctl wrapper and the GitLab plugin step talk to Mattermost in local mode", { MM_SERVICESETTINGS_ENABLELOCALMODE: "true" });
    if (trustsPrivateCa(settings.tls)) {
        // Omnibus's default already points here, but it must not be lost: the private CA reaches
        // Mattermost's token calls to GitLab only through this directory.
        set(`tls.mode ${settings.tls.mode} makes Mattermost trust the stack's CA`, { SSL_CERT_DIR: EMBEDDED_CERT_DIR });
    }
    const mail = settings.mail;
    if (mail && mailServer) {
        const credentials: Record<string, string> =
            mailServer.username === undefined
                ? { MM_EMAILSETTINGS_ENABLESMTPAUTH: "false" }
                : {
                      MM_EMAILSETTINGS_ENABLESMTPAUTH: "true",
                      MM_EMAILSETTINGS_SMTPUSERNAME: mailServer.username,
                      MM_EMAILSETTINGS_SMTPPASSWORD: mailServer.password ?? "",
                  };
        set("mail is configured", {
            MM_EMAILSETTINGS_SENDEMAILNOTIFICATIONS: "true",
            MM_EMAILSETTINGS_SMTPSERVER: mailServer.address,
            // Mattermost keeps the port as a string.
            MM_EMAILSETTINGS_SMTPPORT: String(mailServer.port),
            MM_EMAILSETTINGS_CONNECTIONSECURITY: CONNECTION_SECURITY[mailServer.security],
            ...credentials,
            MM_EMAILSETTINGS_FEEDBACKEMAIL: mail.from,
            ...(mail.fromName === undefined ? {} : { MM_EMAILSETTINGS_FEEDBACKNAME: mail.fromName }),
            ...(mail.replyTo === undefined ? {} : { MM_EMAILSETTINGS_REPLYTOADDRESS: mail.replyTo }),
        });
    }
    const batching = settings.mattermost.emailBatching;
    if (batching) {
        set("mattermost.emailBatching is configured", {
            MM_EMAILSETTINGS_ENABLEEMAILBATCHING: String(batching.enabled),
            MM_EMAILSETTINGS_EMAILBATCHINGBUFFERSIZE: String(batching.bufferSize),
            MM_EMAILSETTINGS_EMAILBATCHINGINTERVAL: String(batching.intervalSeconds),
        });
    }
    return variables;
}

/** Mattermost's whole environment: the program's variables, then the administrator's. */
export function mattermostEnv(settings: DeploymentSettings, mailServer: MailServer | undefined): Readonly<Record<string, string>> {
    const own = Object.fromEntries(Object.entries(programEnv(settings, mailServer)).map(([name, variable]) => [name, variable.value]));
    return { ...own, ...settings.mattermost.env };
}

/** Stands in for the real server when only the variables' names matter. */
const ANY_MAIL_SERVER: MailServer = { address: "", port: 0, security: "STARTTLS", username: "", password: "" };

/** Refuses a mattermost.env entry that would override a variable this program sets, saying which. */
export function checkEnvCollisions(settings: DeploymentSettings): void {
    const own = programEnv(settings, ANY_MAIL_SERVER);
    for (const name of Object.keys(settings.mattermost.env)) {
        const variable = own[name];
        if (variable) {
            throw new ConfigError(`mattermost.env.${name}`, `collides with ${name}, which this program sets because ${variable.setBecause}. Remove it from mattermost.env.`);
        }
    }
}
