// The standalone host's Mattermost settings, checked against the settings structure of the release in
// use: every MM_* variable in the rendered environment file (read back as systemd reads it) must name
// a setting of that release whose Go type takes the value, and the values must pass the parts of
// Mattermost's config check they meet.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { checkSettings, settingsStructureFor, type SettingType } from "../../../../components/mattermost/standalone/settingsStructure";
import {
    databaseDataSource,
    gitlabSignIn,
    standaloneEnvironmentFile,
    standaloneSettingValues,
    type StandaloneSettingsInput,
} from "../../../../components/mattermost/standalone/standaloneSettings";
import { ConfigError } from "../../../../components/settings/configError";
import type { ExternalUrl, MailServer, MailSettings } from "../../../../components/settings/settings";
import { parseVersion, type Version } from "../../../../components/versions/versions";
import type { MattermostEdition } from "../../../../components/versions/mattermostReleases";
import { parseSystemdEnvironmentFile } from "../../../support/systemdEnvironmentFile";

function url(host: string): ExternalUrl {
    return { scheme: "https", host, href: `https://${host}` };
}

function v(text: string): Version {
    return parseVersion(text)!;
}

const PASSWORD = `p@ss:w/rd?#&'"\\$x`;
const MAIL: { settings: MailSettings; server: MailServer } = {
    settings: { provider: "smtp", host: "smtp.example.com", port: 465, security: "TLS", username: "mm", password: PASSWORD, from: "chat@example.com", replyTo: "noreply@example.com", fromName: "Example Chat" },
    server: { address: "smtp.example.com", port: 465, security: "TLS", username: "mm", password: PASSWORD },
};

function input(overrides: Partial<StandaloneSettingsInput> = {}): StandaloneSettingsInput {
    return {
        version: v("11.7.9"),
        edition: "enterprise",
        siteUrl: url("chat.example.com"),
        gitlabUrl: url("gitlab.example.com"),
        oauth: { clientId: "client-id", clientSecret: "client-secret" },
        databasePassword: PASSWORD,
        atRestEncryptKey: "0123456789abcdef0123456789abcdef",
        env: {},
        ...overrides,
    };
}

/** Mattermost's rule, written out independently: MM_ + SECTION + _ + SETTING, upper case. */
function variableOf(path: string): string {
    const [section, setting] = path.split(".");
    return `MM_${section!.toUpperCase()}_${setting!.toUpperCase()}`;
}

/** Whether Mattermost decodes `text` from an environment variable into a Go `type`. */
function decodes(type: SettingType, text: string): boolean {
    switch (type) {
        case "*bool":
            return text === "true" || text === "false";
        case "*int":
            return /^-?(0|[1-9]\d*)$/.test(text) && Number.isSafeInteger(Number(text));
        case "map":
            try {
                const value: unknown = JSON.parse(text);
                return typeof value === "object" && value !== null && !Array.isArray(value);
            } catch {
                return false;
            }
        case "*string":
        case "[]string":
            return true;
    }
}

/** Variables that are not settings, and why they may be in the file. */
const NOT_SETTINGS = new Set(["MM_LICENSE"]);

const RELEASES: [string, MattermostEdition][] = [
    ["10.11.20", "team"],
    ["10.11.20", "enterprise"],
    ["10.11.23", "enterprise"],
    ["11.7.9", "enterprise"],
    ["11.10.0", "enterprise"],
];

describe("standalone Mattermost settings against the release's settings structure", () => {
    for (const [version, edition] of RELEASES) {
        for (const withMail of [false, true]) {
            it(`${version} ${edition}${withMail ? ", with mail and batching" : ""}: every variable is a setting of that release and its type takes the value`, () => {
                const structure = settingsStructureFor(v(version));
                const byVariable = new Map(Object.entries(structure.settings).map(([path, type]) => [variableOf(path), { path, type }]));
                const file = standaloneEnvironmentFile(
                    input({
                        version: v(version),
                        edition,
                        license: withMail ? "bGljZW5jZQ==" : undefined,
                        ...(withMail ? { mail: MAIL, emailBatching: { enabled: true, bufferSize: 256, intervalSeconds: 30 } } : {}),
                    }),
                );
                const variables = parseSystemdEnvironmentFile(file);
                assert.ok(Object.keys(variables).length > 20, "the file carries the settings");
                for (const [name, text] of Object.entries(variables)) {
                    if (NOT_SETTINGS.has(name)) continue;
                    const setting = byVariable.get(name);
                    assert.ok(setting, `${name} names no setting of Mattermost ${structure.line}`);
                    assert.ok(decodes(setting.type, text), `${name}=${JSON.stringify(text)} does not decode into ${setting.path} (${setting.type})`);
                }
                assert.equal(variables.MM_SERVICESETTINGS_SITEURL, "https://chat.example.com");
                assert.equal(variables.MM_SERVICESETTINGS_LISTENADDRESS, "127.0.0.1:8065");
                assert.equal(variables.MM_SERVICESETTINGS_ENABLELOCALMODE, "true");
                assert.equal(variables.MM_EMAILSETTINGS_ENABLESIGNUPWITHEMAIL, "false");
                assert.equal(variables.MM_TEAMSETTINGS_ENABLEOPENSERVER, "false");
                assert.equal(variables.MM_GITLABSETTINGS_ENABLE, "true");
                assert.equal(variables.MM_GITLABSETTINGS_SECRET, "client-secret");
                assert.equal(variables.MM_GITLABSETTINGS_TOKENENDPOINT, "https://gitlab.example.com/oauth/token");
                assert.equal(variables.MM_FILESETTINGS_DIRECTORY, "/var/opt/mattermost/data/");
                assert.equal(variables.MM_PLUGINSETTINGS_CLIENTDIRECTORY, "/var/opt/mattermost/client-plugins");
                const dsn = new URL(variables.MM_SQLSETTINGS_DATASOURCE!);
                assert.equal(decodeURIComponent(dsn.password), PASSWORD);
                assert.equal(`${dsn.username}@${dsn.host}${dsn.pathname}`, "mmuser@127.0.0.1:5432/mattermost");
                if (v(version).major >= 11) {
                    assert.equal(variables.MM_GITLABSETTINGS_DISCOVERYENDPOINT, "https://gitlab.example.com/.well-known/openid-configuration");
                    assert.match(variables.MM_GITLABSETTINGS_SCOPE!, /\bopenid\b/);
                } else {
                    assert.equal(variables.MM_GITLABSETTINGS_DISCOVERYENDPOINT, undefined);
                    assert.equal(variables.MM_GITLABSETTINGS_SCOPE, "");
                }
                if (withMail) {
                    assert.equal(variables.MM_EMAILSETTINGS_SMTPPASSWORD, PASSWORD);
                    assert.equal(variables.MM_EMAILSETTINGS_SMTPPORT, "465");
                    assert.equal(variables.MM_EMAILSETTINGS_CONNECTIONSECURITY, "TLS");
                    assert.equal(variables.MM_EMAILSETTINGS_EMAILBATCHINGINTERVAL, "30");
                    assert.equal(variables.MM_LICENSE, "bGljZW5jZQ==");
                }
            });
        }
    }

    it("passes mattermost.env through, after the program's settings", () => {
        const variables = parseSystemdEnvironmentFile(standaloneEnvironmentFile(input({ env: { HTTP_PROXY: "http://proxy:3128", NO_PROXY: "localhost,127.0.0.1" } })));
        assert.equal(variables.HTTP_PROXY, "http://proxy:3128");
        assert.equal(variables.NO_PROXY, "localhost,127.0.0.1");
    });

    it("refuses a mattermost.env entry that would override a setting of the program, naming it", () => {
        assert.throws(
            () => standaloneEnvironmentFile(input({ env: { MM_SQLSETTINGS_DATASOURCE: "postgres://elsewhere" } })),
            (error: unknown) => error instanceof ConfigError && /mattermost\.env\.MM_SQLSETTINGS_DATASOURCE/.test(error.message),
        );
    });

    it("refuses a mattermost.env value systemd cannot hold", () => {
        assert.throws(() => standaloneEnvironmentFile(input({ env: { HTTP_PROXY: "a\0b" } })), /mattermost\.env\.HTTP_PROXY.*NUL/s);
    });

    it("carries any database password through the DSN unchanged", () => {
        fc.assert(
            fc.property(fc.string({ minLength: 1, maxLength: 64 }), (password) => {
                assert.equal(decodeURIComponent(new URL(databaseDataSource(password)).password), password);
            }),
        );
    });
});

describe("Mattermost's config check, as far as our values meet it", () => {
    it("e-mail batching checks at most every 30 seconds (EmailSettings.isValid)", () => {
        const batching = (intervalSeconds: number) => () => standaloneSettingValues(input({ emailBatching: { enabled: true, bufferSize: 256, intervalSeconds } }));
        assert.doesNotThrow(batching(30));
        assert.throws(batching(29), (error: unknown) => error instanceof ConfigError && /mattermost\.emailBatching\.intervalSeconds/.test(error.message));
    });

    it("the buffer holds at least one notification", () => {
        assert.throws(
            () => standaloneSettingValues(input({ emailBatching: { enabled: true, bufferSize: 0, intervalSeconds: 30 } })),
            /mattermost\.emailBatching\.bufferSize/,
        );
    });

    it("the at-rest key has at least 32 characters (SqlSettings.isValid)", () => {
        assert.doesNotThrow(() => standaloneSettingValues(input({ atRestEncryptKey: "k".repeat(32) })));
        assert.throws(() => standaloneSettingValues(input({ atRestEncryptKey: "k".repeat(31) })), /mattermost\.atRestEncryptKey.*31 characters/s);
    });

    it("the listen address is host:port (net.SplitHostPort and a port up to 65535)", () => {
        const structure = settingsStructureFor(v("11.7.9"));
        for (const good of ["127.0.0.1:8065", ":8065", "localhost:0", "[::1]:8065"]) {
            assert.doesNotThrow(() => checkSettings(structure, { "ServiceSettings.ListenAddress": good }), good);
        }
        for (const bad of ["8065", "127.0.0.1:65536", "127.0.0.1:", "a b:80", "127.0.0.1:80:80"]) {
            assert.throws(() => checkSettings(structure, { "ServiceSettings.ListenAddress": bad }), ConfigError, bad);
        }
    });

    it("the site name has at most 30 characters", () => {
        assert.doesNotThrow(() => standaloneSettingValues(input({ siteName: "x".repeat(30) })));
        assert.throws(() => standaloneSettingValues(input({ siteName: "x".repeat(31) })), /mattermost\.siteName/);
    });

    it("refuses a setting the release does not have, and a value its type does not take", () => {
        const structure = settingsStructureFor(v("11.7.9"));
        assert.throws(() => checkSettings(structure, { "TeamSettings.ExperimentalViewArchivedChannels": true }), /has no setting/);
        assert.doesNotThrow(() => checkSettings(settingsStructureFor(v("10.11.20")), { "TeamSettings.ExperimentalViewArchivedChannels": true }));
        assert.throws(() => checkSettings(structure, { "EmailSettings.SMTPPort": 587 }), /\*string/);
        assert.throws(() => checkSettings(structure, { "EmailSettings.EmailBatchingInterval": "30" }), /\*int/);
        assert.throws(() => checkSettings(structure, { "PluginSettings.Plugins": "{}" }), /map/);
    });
});

describe("GitLab sign-in by release and edition", () => {
    it("is OAuth 2.0 on 10.11 in both editions and OpenID Connect on 11.x Enterprise", () => {
        assert.equal(gitlabSignIn(v("10.11.20"), "team"), "oauth2");
        assert.equal(gitlabSignIn(v("10.11.20"), "enterprise"), "oauth2");
        assert.equal(gitlabSignIn(v("11.7.9"), "enterprise"), "openid");
        assert.equal(gitlabSignIn(v("11.7.9"), "team"), undefined);
    });

    it("refuses Team Edition 11.x, which has no GitLab sign-in, naming mattermost.edition", () => {
        assert.throws(() => standaloneEnvironmentFile(input({ edition: "team" })), (error: unknown) => error instanceof ConfigError && /mattermost\.edition.*Team Edition/s.test(error.message));
    });

    it("refuses releases whose settings structure is not known, naming mattermost.version", () => {
        for (const version of ["12.0.0", "10.10.3", "9.11.1"]) {
            assert.throws(() => standaloneEnvironmentFile(input({ version: v(version) })), /mattermost\.version/, version);
        }
    });
});
