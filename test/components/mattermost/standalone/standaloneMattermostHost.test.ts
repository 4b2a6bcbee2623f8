// StandaloneMattermostHost on Pulumi's mock runtime: which host scripts run, in which order, with
// which arguments, and that secrets travel only on stdin; in every tls.mode.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StandaloneMattermostHost, type StandaloneMattermostHostArgs } from "../../../../components/mattermost/standalone/standaloneMattermostHost";
import { tarballSha256, type MattermostEdition } from "../../../../components/versions/mattermostReleases";
import { scriptOfCommand } from "../../../../components/omnibus/hostScripts";
import type { ExternalUrl, TlsSettings } from "../../../../components/settings/settings";
import { parseVersion } from "../../../../components/versions/versions";
import { OfflineProgramError, generatedPlaceholder, runProgramOffline, type OfflineRun, type RegisteredResource } from "../../../../scripts/offlineRuntime";
import { parseSystemdEnvironmentFile } from "../../../support/systemdEnvironmentFile";

/** A release from the version data, with its published checksum. */
function standaloneRelease(text: string, edition: MattermostEdition) {
    const version = parseVersion(text)!;
    return { version, edition, sha256: tarballSha256(version, edition)! };
}

const url = (host: string): ExternalUrl => ({ scheme: "https", host, href: `https://${host}` });
const CLIENT_SECRET = "oauth-client-secret-value";

function hostArgs(tls: TlsSettings, overrides: Partial<StandaloneMattermostHostArgs> = {}): StandaloneMattermostHostArgs {
    return {
        connection: { host: "192.0.2.20", user: "ubuntu", privateKey: "key" },
        instanceId: "i-mattermost",
        release: standaloneRelease("11.7.9", "enterprise"),
        settings: { siteUrl: url("chat.example.com"), gitlabUrl: url("gitlab.example.com"), env: { HTTP_PROXY: "http://proxy:3128" } },
        oauth: { clientId: "oauth-client-id", clientSecret: CLIENT_SECRET },
        mail: {
            settings: { provider: "ses", from: "chat@example.com" },
            server: { address: "email-smtp.eu-west-1.amazonaws.com", port: 587, security: "STARTTLS", username: "AKIA", password: "smtp-password-value" },
        },
        tls,
        ...(tls.mode === "selfSigned" || tls.mode === "provided" ? { certificate: { chain: "CHAIN PEM", key: "KEY PEM" } } : {}),
        after: [],
        ...overrides,
    };
}

function deploy(args: StandaloneMattermostHostArgs): Promise<OfflineRun> {
    return runProgramOffline(async () => {
        new StandaloneMattermostHost("mm", args);
        return {};
    }, {});
}

const commands = (run: OfflineRun) => run.resources.filter((r) => r.type === "command:remote:Command");
function step(run: OfflineRun, name: string): RegisteredResource {
    const found = commands(run).find((r) => r.name === name);
    assert.ok(found, `no step ${name}; have ${commands(run).map((r) => r.name).join(", ")}`);
    return found;
}
const argsOf = (resource: RegisteredResource) => String(resource.inputs.create).split(`' ${scriptOfCommand(String(resource.inputs.create))} `)[1] ?? "";

const MODES: Record<string, TlsSettings> = {
    letsencrypt: { mode: "letsencrypt", contactEmail: "ops@example.com" },
    selfSigned: { mode: "selfSigned", validityDays: 365, earlyRenewalDays: 30 },
    provided: { mode: "provided", certificates: { gitlab: { chain: "", key: "" }, mattermost: { chain: "", key: "" } } },
    none: { mode: "none" },
};

for (const [mode, tls] of Object.entries(MODES)) {
    describe(`StandaloneMattermostHost, tls.mode ${mode}`, () => {
        it("installs, sets up the database, the unit, the release and the settings in that order", async () => {
            const run = await deploy(hostArgs(tls));
            const scripts = Object.fromEntries(commands(run).map((r) => [r.name, scriptOfCommand(String(r.inputs.create))]));
            assert.equal(scripts["mm-install"], "install-mattermost.sh");
            assert.equal(argsOf(step(run, "mm-install")), `11.7.9 enterprise a22e631ae4a1f704c2bcf45ad8dcc377184081c50954a9269b7f62bd663a7a04`);
            assert.equal(scripts["mm-database"], "setup-mattermost-database.sh");
            assert.equal(argsOf(step(run, "mm-unit")), "unit 900");
            assert.equal(argsOf(step(run, "mm-upgrade")), "11.7.9 enterprise 900");
            assert.equal(argsOf(step(run, "mm-environment")), "environment 900");
            for (const [later, earlier] of [["mm-database", "mm-install"], ["mm-unit", "mm-database"], ["mm-upgrade", "mm-unit"], ["mm-environment", "mm-upgrade"], ["mm-nginx-http", "mm-install"]]) {
                assert.ok(step(run, later!).dependsOn.includes(earlier!), `${later} after ${earlier}`);
            }
            for (const resource of commands(run).filter((r) => r.name !== "mm-health")) assert.deepEqual(resource.inputs.triggers, ["i-mattermost"], resource.name);
            // Last: Mattermost answers at its URL through nginx.
            const health = step(run, "mm-health");
            assert.equal(scriptOfCommand(String(health.inputs.create)), "health-gate.sh");
            assert.equal(argsOf(health), "mattermost-standalone https://chat.example.com 900");
            for (const earlier of ["mm-environment", "mm-nginx-http", ...(tls.mode === "none" ? [] : ["mm-nginx-https"])]) {
                assert.ok(health.dependsOn.includes(earlier), `mm-health after ${earlier}`);
            }
        });

        it("passes the database password and the settings on stdin only, as secrets", async () => {
            const run = await deploy(hostArgs(tls));
            const password = generatedPlaceholder("mm-database-password", "result");
            const database = step(run, "mm-database");
            assert.equal(database.inputs.stdin, password);
            assert.ok(database.secretInputs.includes("stdin"));
            const environment = step(run, "mm-environment");
            assert.ok(environment.secretInputs.includes("stdin"));
            const variables = parseSystemdEnvironmentFile(String(environment.inputs.stdin));
            assert.equal(decodeURIComponent(new URL(variables.MM_SQLSETTINGS_DATASOURCE!).password), password);
            assert.equal(variables.MM_SQLSETTINGS_ATRESTENCRYPTKEY, generatedPlaceholder("mm-at-rest-key", "result"));
            assert.equal(variables.MM_GITLABSETTINGS_SECRET, CLIENT_SECRET);
            assert.equal(variables.MM_EMAILSETTINGS_SMTPPASSWORD, "smtp-password-value");
            assert.equal(variables.HTTP_PROXY, "http://proxy:3128");
            for (const resource of commands(run)) {
                for (const secret of [password, CLIENT_SECRET, "smtp-password-value", "KEY PEM"]) {
                    assert.ok(!String(resource.inputs.create).includes(secret), `${resource.name}'s command holds a secret`);
                }
            }
        });

        it("serves Mattermost through nginx with this mode's certificate", async () => {
            const run = await deploy(hostArgs(tls));
            const http = String(step(run, "mm-nginx-http").inputs.stdin);
            if (tls.mode === "none") {
                assert.match(http, /proxy_pass http:\/\/mattermost_backend;/);
                assert.ok(!commands(run).some((r) => r.name === "mm-nginx-https"));
                return;
            }
            assert.match(http, /return 301 https:\/\/chat\.example\.com\$request_uri;/);
            const https = step(run, "mm-nginx-https");
            if (tls.mode === "letsencrypt") {
                const certificate = step(run, "mm-certificate");
                assert.equal(scriptOfCommand(String(certificate.inputs.create)), "issue-certificate.sh");
                assert.equal(argsOf(certificate), "chat.example.com ops@example.com");
                assert.ok(certificate.dependsOn.includes("mm-nginx-http"), "the challenge needs the port 80 site");
                assert.ok(https.dependsOn.includes("mm-certificate"));
                assert.match(String(https.inputs.stdin), /ssl_certificate \/etc\/letsencrypt\/live\/chat\.example\.com\/fullchain\.pem;/);
            } else {
                const files = commands(run).filter((r) => scriptOfCommand(String(r.inputs.create)) === "install-file.sh");
                assert.deepEqual(files.map((r) => argsOf(r)).sort(), ["/etc/mattermost-tls/chat.example.com.crt 0644", "/etc/mattermost-tls/chat.example.com.key 0600"]);
                const key = files.find((r) => argsOf(r).endsWith(".key 0600"))!;
                assert.ok(key.secretInputs.includes("stdin"));
                for (const file of files) assert.ok(https.dependsOn.includes(file.name), `nginx-https after ${file.name}`);
                assert.match(String(https.inputs.stdin), /# certificate files [0-9a-f]{64}\n$/);
            }
        });
    });
}

describe("StandaloneMattermostHost, changes", () => {
    it("a changed setting, release or site runs the health gate again; the same ones do not", async () => {
        const triggers = async (args: StandaloneMattermostHostArgs) => JSON.stringify(step(await deploy(args), "mm-health").inputs.triggers);
        const base = await triggers(hostArgs(MODES.letsencrypt!));
        assert.equal(await triggers(hostArgs(MODES.letsencrypt!)), base);
        const otherEnv = await triggers(hostArgs(MODES.letsencrypt!, { settings: { siteUrl: url("chat.example.com"), gitlabUrl: url("gitlab.example.com"), env: { HTTP_PROXY: "http://other:3128" } } }));
        assert.notEqual(otherEnv, base, "new settings");
        assert.notEqual(await triggers(hostArgs(MODES.letsencrypt!, { release: standaloneRelease("11.7.8", "enterprise") })), base, "another release");
        assert.notEqual(await triggers(hostArgs(MODES.none!)), base, "another site");
    });

    it("with Let's Encrypt, asks for the certificate once the name resolves to the host", async () => {
        const run = await deploy(hostArgs(MODES.letsencrypt!, { awaitDns: { address: "192.0.2.20", names: ["chat.example.com"], records: [] } }));
        const dns = step(run, "mm-dns-ready");
        assert.equal(scriptOfCommand(String(dns.inputs.create)), "wait-for-dns.sh");
        assert.equal(argsOf(dns), "192.0.2.20 900 chat.example.com");
        assert.ok(step(run, "mm-certificate").dependsOn.includes("mm-dns-ready"));
    });

    it("a new certificate changes the TLS site, so nginx reloads it", async () => {
        const site = async (chain: string) => String(step(await deploy(hostArgs(MODES.selfSigned!, { certificate: { chain, key: "KEY PEM" } })), "mm-nginx-https").inputs.stdin);
        assert.notEqual(await site("CHAIN ONE"), await site("CHAIN TWO"));
    });

    it("installs the stack's CA into the system's trust store before Mattermost starts, when given", async () => {
        const run = await deploy(hostArgs(MODES.selfSigned!, { trustedCa: "CA PEM" }));
        const trust = step(run, "mm-trusted-ca");
        assert.equal(argsOf(trust), "trusted-ca 900");
        assert.equal(trust.inputs.stdin, "CA PEM");
        assert.ok(step(run, "mm-environment").dependsOn.includes("mm-trusted-ca"));
        assert.ok(!commands(await deploy(hostArgs(MODES.letsencrypt!))).some((r) => r.name === "mm-trusted-ca"));
    });

    it("keeps a given at-rest key instead of generating one", async () => {
        const run = await deploy(hostArgs(MODES.none!, { atRestEncryptKey: "f".repeat(32) }));
        assert.equal(parseSystemdEnvironmentFile(String(step(run, "mm-environment").inputs.stdin)).MM_SQLSETTINGS_ATRESTENCRYPTKEY, "f".repeat(32));
        assert.ok(!run.resources.some((r) => r.name === "mm-at-rest-key"));
    });

    it("refuses settings Mattermost would reject before registering anything", async () => {
        const bad = hostArgs(MODES.none!, { settings: { siteUrl: url("chat.example.com"), gitlabUrl: url("gitlab.example.com"), env: {}, emailBatching: { enabled: true, bufferSize: 10, intervalSeconds: 10 } } });
        await assert.rejects(deploy(bad), (error: unknown) => error instanceof OfflineProgramError && /mattermost\.emailBatching\.intervalSeconds/.test(error.message) && error.resources.length === 0);
        const team11 = hostArgs(MODES.none!, { release: { ...standaloneRelease("10.11.20", "team"), version: parseVersion("11.7.9")! } });
        await assert.rejects(deploy(team11), (error: unknown) => error instanceof OfflineProgramError && /mattermost\.edition/.test(error.message) && error.resources.length === 0);
    });
});
