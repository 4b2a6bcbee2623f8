// Mattermost settings this program sets, by their config.json path (`EmailSettings.SMTPServer`),
// with typed values, and the environment variable each one becomes. The bundled Mattermost (through
// gitlab.rb's `mattermost['env']`) and the standalone host (through systemd's EnvironmentFile) take
// them from here. A setting set by environment overrides config.json and is read-only in the System
// Console (Mattermost docs, configure/environment-variables.rst). Pure module.

import type { EmailBatchingSettings, MailSecurity, MailServer, MailSettings } from "../settings/settings";

/** A setting's value as config.json would hold it: string, boolean, whole number, or a JSON object. */
export type SettingValue = string | boolean | number | { readonly [key: string]: unknown };

/** Settings by config.json path, `Section.Setting`. */
export type SettingValues = Readonly<Record<string, SettingValue>>;

/**
 * The environment variable for a setting: MM_ + section + setting, upper case, joined by `_`
 * (EmailSettings.SMTPServer → MM_EMAILSETTINGS_SMTPSERVER; environment-variables.rst).
 */
export function settingVariable(path: string): string {
    return `MM_${path.split(".").join("_").toUpperCase()}`;
}

/** A setting's value as its environment variable carries it: JSON for objects, decimal for numbers. */
export function variableValue(value: SettingValue): string {
    if (typeof value === "string") return value;
    if (typeof value === "boolean" || typeof value === "number") return String(value);
    return JSON.stringify(value);
}

/** Settings as environment variables, in the settings' order. */
export function settingVariables(values: SettingValues): Record<string, string> {
    return Object.fromEntries(Object.entries(values).map(([path, value]) => [settingVariable(path), variableValue(value)]));
}

/** Mattermost's EmailSettings.ConnectionSecurity values. */
const CONNECTION_SECURITY: Record<MailSecurity, string> = { none: "", TLS: "TLS", STARTTLS: "STARTTLS" };

/** Local mode: a socket only the mattermost user can use, which mmctl --local talks to. */
export const LOCAL_MODE: SettingValues = { "ServiceSettings.EnableLocalMode": true };

/** Outgoing mail through `server`, with the identity from `mail`. */
export function mailSettingValues(mail: MailSettings, server: MailServer): SettingValues {
    const credentials: SettingValues =
        server.username === undefined
            ? { "EmailSettings.EnableSMTPAuth": false }
            : {
                  "EmailSettings.EnableSMTPAuth": true,
                  "EmailSettings.SMTPUsername": server.username,
                  "EmailSettings.SMTPPassword": server.password ?? "",
              };
    return {
        "EmailSettings.SendEmailNotifications": true,
        "EmailSettings.SMTPServer": server.address,
        // Mattermost keeps the port as a string (model.EmailSettings.SMTPPort is *string).
        "EmailSettings.SMTPPort": String(server.port),
        "EmailSettings.ConnectionSecurity": CONNECTION_SECURITY[server.security],
        ...credentials,
        "EmailSettings.FeedbackEmail": mail.from,
        ...(mail.fromName === undefined ? {} : { "EmailSettings.FeedbackName": mail.fromName }),
        // Mattermost's own default Reply-To is test@example.com (EmailSettings.ReplyToAddress).
        "EmailSettings.ReplyToAddress": mail.replyTo ?? mail.from,
    };
}

/** E-mail batching. */
export function emailBatchingSettingValues(batching: EmailBatchingSettings): SettingValues {
    return {
        "EmailSettings.EnableEmailBatching": batching.enabled,
        "EmailSettings.EmailBatchingBufferSize": batching.bufferSize,
        "EmailSettings.EmailBatchingInterval": batching.intervalSeconds,
    };
}
