// The part of Mattermost's settings structure this program writes, per release line: each setting's
// config.json path and Go type, and the isValid rules of Mattermost's config check that the values we
// set depend on. A value is valid when the Mattermost release in use accepts it.
// Sources: Go types from mattermost/mattermost server/public/model/config.go @004a635ec62b (a 10.x
// development copy; these fields have had the same types since 8.x); presence per release from the
// published @mattermost/types lib/config.d.ts (AdminConfig) at 10.11.0, 11.8.0 and 11.9.0 (11.7 ESR
// lies between 11.4 and 11.8); 11.6 added GitLabSettings.UsePreferredUsername (v11 changelog); 11.0
// dropped TeamSettings.ExperimentalViewArchivedChannels. Rules from config.go's IsValid/isValid.
// Pure module.

import { ConfigError } from "../../settings/configError";
import { formatVersion, type Version } from "../../versions/versions";
import type { SettingValue, SettingValues } from "../mattermostSettings";

/** A Go field type as config.go declares it, reduced to what an environment variable can carry. */
export type SettingType = "*string" | "*bool" | "*int" | "[]string" | "map";

/** The settings of one release line that this program may set. */
export interface SettingsStructure {
    /** `10.11` or `11`. */
    readonly line: string;
    readonly settings: Readonly<Record<string, SettingType>>;
}

/** Settings present with the same type in 10.11 and 11.x. */
const COMMON: Readonly<Record<string, SettingType>> = {
    "ServiceSettings.SiteURL": "*string",
    "ServiceSettings.ListenAddress": "*string",
    "ServiceSettings.EnableLocalMode": "*bool",
    "ServiceSettings.LocalModeSocketLocation": "*string",
    "ServiceSettings.ConnectionSecurity": "*string",
    "ServiceSettings.TrustedProxyIPHeader": "[]string",
    "ServiceSettings.LicenseFileLocation": "*string",
    "ServiceSettings.AllowedUntrustedInternalConnections": "*string",
    "ServiceSettings.EnableAPITeamDeletion": "*bool",
    "SqlSettings.DriverName": "*string",
    "SqlSettings.DataSource": "*string",
    "SqlSettings.AtRestEncryptKey": "*string",
    "GitLabSettings.Enable": "*bool",
    "GitLabSettings.Id": "*string",
    "GitLabSettings.Secret": "*string",
    "GitLabSettings.Scope": "*string",
    "GitLabSettings.AuthEndpoint": "*string",
    "GitLabSettings.TokenEndpoint": "*string",
    "GitLabSettings.UserAPIEndpoint": "*string",
    "GitLabSettings.DiscoveryEndpoint": "*string",
    "EmailSettings.EnableSignUpWithEmail": "*bool",
    "EmailSettings.EnableSignInWithEmail": "*bool",
    "EmailSettings.EnableSignInWithUsername": "*bool",
    "EmailSettings.SendEmailNotifications": "*bool",
    "EmailSettings.EnableSMTPAuth": "*bool",
    "EmailSettings.EnableEmailBatching": "*bool",
    "EmailSettings.SMTPServer": "*string",
    "EmailSettings.SMTPPort": "*string",
    "EmailSettings.ConnectionSecurity": "*string",
    "EmailSettings.SMTPUsername": "*string",
    "EmailSettings.SMTPPassword": "*string",
    "EmailSettings.FeedbackEmail": "*string",
    "EmailSettings.FeedbackName": "*string",
    "EmailSettings.ReplyToAddress": "*string",
    "EmailSettings.EmailBatchingBufferSize": "*int",
    "EmailSettings.EmailBatchingInterval": "*int",
    "TeamSettings.SiteName": "*string",
    "TeamSettings.EnableUserCreation": "*bool",
    "TeamSettings.EnableOpenServer": "*bool",
    "FileSettings.DriverName": "*string",
    "FileSettings.Directory": "*string",
    "LogSettings.FileLocation": "*string",
    "PluginSettings.Enable": "*bool",
    "PluginSettings.Directory": "*string",
    "PluginSettings.ClientDirectory": "*string",
    "PluginSettings.Plugins": "map",
    "PluginSettings.PluginStates": "map",
};

/** Release lines with a known structure, oldest first. */
const STRUCTURES: readonly { readonly applies: (v: Version) => boolean; readonly structure: SettingsStructure }[] = [
    {
        applies: (v) => v.major === 10 && v.minor === 11,
        structure: { line: "10.11", settings: { ...COMMON, "TeamSettings.ExperimentalViewArchivedChannels": "*bool" } },
    },
    {
        applies: (v) => v.major === 11,
        structure: { line: "11", settings: { ...COMMON, "GitLabSettings.UsePreferredUsername": "*bool" } },
    },
];

/** The structure for a Mattermost version; a version outside the known lines is refused. */
export function settingsStructureFor(version: Version): SettingsStructure {
    const found = STRUCTURES.find((entry) => entry.applies(version));
    if (!found) {
        throw new ConfigError(
            "mattermost.version",
            `${formatVersion(version)} is outside the Mattermost releases whose settings this program knows (10.11.x and 11.x). Choose one of those.`,
        );
    }
    return found.structure;
}

/** Whether a Go field of `type` accepts `value` as Mattermost decodes it from its variable. */
export function typeAccepts(type: SettingType, value: SettingValue): boolean {
    switch (type) {
        case "*string":
            return typeof value === "string";
        case "*bool":
            return typeof value === "boolean";
        case "*int":
            // Go's int on amd64 is 64 bits; JavaScript's safe integers are within it.
            return typeof value === "number" && Number.isSafeInteger(value);
        case "[]string":
            // Mattermost splits a []string variable on spaces (environment-variables.rst).
            return typeof value === "string";
        case "map":
            return typeof value === "object" && value !== null && !Array.isArray(value);
    }
}

/** The configuration key an administrator sets to change a setting, for error messages. */
const CONFIG_KEY: Readonly<Record<string, string>> = {
    "ServiceSettings.SiteURL": "mattermostExternalUrl",
    "SqlSettings.AtRestEncryptKey": "mattermost.atRestEncryptKey",
    "EmailSettings.EmailBatchingInterval": "mattermost.emailBatching.intervalSeconds",
    "EmailSettings.EmailBatchingBufferSize": "mattermost.emailBatching.bufferSize",
    "TeamSettings.SiteName": "mattermost.siteName",
};

function refuse(path: string, message: string): never {
    throw new ConfigError(CONFIG_KEY[path] ?? `mattermost (${path})`, message);
}

/** Host and port as Go's net.SplitHostPort and Mattermost's ListenAddress check accept them. */
const LISTEN_ADDRESS = /^(?:|[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/;

/**
 * Refuses values that the structure does not have or that Mattermost's config check would reject,
 * so the server never refuses to start on them. Each rule cites config.go's isValid.
 */
export function checkSettings(structure: SettingsStructure, values: SettingValues): void {
    for (const [path, value] of Object.entries(values)) {
        const type = structure.settings[path];
        if (type === undefined) {
            refuse(path, `Mattermost ${structure.line} has no setting ${path}.`);
        }
        if (!typeAccepts(type, value)) {
            refuse(path, `${path} is a Go ${type} in Mattermost ${structure.line}; ${JSON.stringify(value)} does not fit it.`);
        }
    }
    const siteUrl = values["ServiceSettings.SiteURL"];
    // ServiceSettings.isValid: a non-empty SiteURL must parse as an absolute URL.
    if (typeof siteUrl === "string" && siteUrl !== "" && !URL.canParse(siteUrl)) {
        refuse("ServiceSettings.SiteURL", `${siteUrl} is not an absolute URL.`);
    }
    const listen = values["ServiceSettings.ListenAddress"];
    if (typeof listen === "string") {
        const match = LISTEN_ADDRESS.exec(listen);
        if (!match || Number(match[1]) > 65535) {
            refuse("ServiceSettings.ListenAddress", `${listen} is not host:port with a port from 0 to 65535.`);
        }
    }
    const key = values["SqlSettings.AtRestEncryptKey"];
    // SqlSettings.isValid: the at-rest key is empty or at least 32 characters.
    if (typeof key === "string" && key !== "" && key.length < 32) {
        refuse("SqlSettings.AtRestEncryptKey", `the at-rest encryption key has ${key.length} characters; Mattermost needs at least 32.`);
    }
    if (values["SqlSettings.DataSource"] === "") {
        refuse("SqlSettings.DataSource", "the database connection string is empty.");
    }
    const interval = values["EmailSettings.EmailBatchingInterval"];
    // EmailSettings.isValid: batching checks at most every 30 seconds, into a buffer of at least one.
    if (typeof interval === "number" && interval < 30) {
        refuse("EmailSettings.EmailBatchingInterval", `${interval} seconds is below Mattermost's minimum of 30.`);
    }
    const buffer = values["EmailSettings.EmailBatchingBufferSize"];
    if (typeof buffer === "number" && buffer <= 0) {
        refuse("EmailSettings.EmailBatchingBufferSize", `${buffer} is not a positive buffer size.`);
    }
    // Config.IsValid: batching needs a SiteURL.
    if (values["EmailSettings.EnableEmailBatching"] === true && !siteUrl) {
        refuse("ServiceSettings.SiteURL", "e-mail batching needs the site URL.");
    }
    const security = values["EmailSettings.ConnectionSecurity"];
    if (typeof security === "string" && !["", "TLS", "STARTTLS", "PLAIN"].includes(security)) {
        refuse("EmailSettings.ConnectionSecurity", `${security} is not one of "", TLS, STARTTLS, PLAIN.`);
    }
    const siteName = values["TeamSettings.SiteName"];
    // TeamSettings.isValid: SitenameMaxLength is 30.
    if (typeof siteName === "string" && [...siteName].length > 30) {
        refuse("TeamSettings.SiteName", `"${siteName}" is longer than Mattermost's 30 characters.`);
    }
    const driver = values["FileSettings.DriverName"];
    if (typeof driver === "string" && driver !== "local" && driver !== "amazons3") {
        refuse("FileSettings.DriverName", `${driver} is not local or amazons3.`);
    }
}
