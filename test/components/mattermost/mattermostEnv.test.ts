// Mail and e-mail batching in every host's gitlab.rb, for every combination of options in both
// topologies, evaluated by a real Ruby interpreter under the Omnibus stand-in.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSettings } from "../../../components/stack/config";
import { programDefaults, programEnv } from "../../../components/mattermost/mattermostEnv";
import { gitlabRbFor, type DeployTimeValues } from "../../../components/gitlabRb/roles";
import type { MailServer } from "../../../components/settings/settings";
import { planHosts, runsOmnibus } from "../../../components/settings/topology";
import { evaluateGitlabRb } from "../../support/ruby";
import { parseConfig, rawConfig, stackConfig } from "../../support/stackConfig";

const BASE_SECRETS = { oauthClientId: "id", oauthClientSecret: "secret", rootPassword: "root" };
const PASSWORD = `p"a'ss#{1}\\`;

/** Each mail option: its config, and the server the hosts get. */
const MAIL_OPTIONS: Record<string, { config?: Record<string, unknown>; server?: MailServer }> = {
    none: {},
    "smtp with credentials": {
        config: { host: "smtp.example.com", port: 465, security: "TLS", username: "gitlab", password: PASSWORD, from: "gitlab@example.com", replyTo: "noreply@example.com", fromName: "Example GitLab" },
        server: { address: "smtp.example.com", port: 465, security: "TLS", username: "gitlab", password: PASSWORD },
    },
    "smtp relay without credentials": {
        config: { host: "relay.internal.example.com", port: 25, security: "none", from: "gitlab@example.com" },
        server: { address: "relay.internal.example.com", port: 25, security: "none" },
    },
    ses: {
        config: { provider: "ses", from: "gitlab@example.com" },
        server: { address: "email-smtp.eu-west-1.amazonaws.com", port: 587, security: "STARTTLS", username: "AKIAEXAMPLE", password: PASSWORD },
    },
};

const BATCHING_OPTIONS: Record<string, Record<string, unknown> | undefined> = {
    "no batching config": undefined,
    "batching on": { enabled: true, bufferSize: 100, intervalSeconds: 60 },
    "batching off": { enabled: false },
};

for (const topology of ["single", "split"] as const) {
    for (const [mailName, mail] of Object.entries(MAIL_OPTIONS)) {
        for (const [batchingName, batching] of Object.entries(BATCHING_OPTIONS)) {
            if (batching?.enabled && !mail.config) continue; // refused by the configuration check
            describe(`${topology}, mail: ${mailName}, ${batchingName}`, () => {
                const settings = parseConfig(stackConfig(topology, { mail: mail.config, mattermost: { env: { TZ: "UTC" }, ...(batching ? { emailBatching: batching } : {}) } }));
                const secrets: DeployTimeValues = { ...BASE_SECRETS, mailServer: mail.server };
                const results = Object.fromEntries(
                    planHosts(settings).filter(runsOmnibus).map((plan) => [plan.name, { plan, result: evaluateGitlabRb(gitlabRbFor(plan.role, settings, secrets, "test"), "18.11.11") }]),
                );

                it("gives GitLab's host the SMTP settings, and no other host", () => {
                    for (const { plan, result } of Object.values(results)) {
                        const rails = (result.gitlab_rails ?? {}) as Record<string, unknown>;
                        if (!plan.runsGitlab || !mail.server || !mail.config) {
                            assert.equal(rails.smtp_enable, undefined, `${plan.name}: no SMTP settings`);
                            continue;
                        }
                        const server = mail.server;
                        assert.equal(rails.smtp_enable, true);
                        assert.equal(rails.smtp_address, server.address);
                        assert.equal(rails.smtp_port, server.port);
                        assert.equal(rails.smtp_user_name, server.username);
                        assert.equal(rails.smtp_password, server.password);
                        assert.equal(rails.smtp_authentication, server.username === undefined ? undefined : "login");
                        assert.equal(rails.smtp_enable_starttls_auto, server.security === "STARTTLS");
                        assert.equal(rails.smtp_tls, server.security === "TLS");
                        assert.equal(rails.gitlab_email_from, "gitlab@example.com");
                        assert.equal(rails.gitlab_email_reply_to, mail.config.replyTo);
                        assert.equal(rails.gitlab_email_display_name, mail.config.fromName);
                    }
                });

                it("gives Mattermost's host the same server through MM_EMAILSETTINGS_*, and batching as configured", () => {
                    const mattermostHost = Object.values(results).find(({ plan }) => plan.runsMattermost);
                    assert.ok(mattermostHost);
                    const env = (mattermostHost.result.mattermost as { env: Record<string, string> }).env;
                    assert.equal(env.TZ, "UTC", "the administrator's variables stay");
                    const server = mail.server;
                    if (server && mail.config) {
                        assert.equal(env.MM_EMAILSETTINGS_SENDEMAILNOTIFICATIONS, "true");
                        assert.equal(env.MM_EMAILSETTINGS_SMTPSERVER, server.address);
                        assert.equal(env.MM_EMAILSETTINGS_SMTPPORT, String(server.port));
                        assert.equal(env.MM_EMAILSETTINGS_CONNECTIONSECURITY, server.security === "none" ? "" : server.security);
                        assert.equal(env.MM_EMAILSETTINGS_ENABLESMTPAUTH, String(server.username !== undefined));
                        assert.equal(env.MM_EMAILSETTINGS_SMTPUSERNAME, server.username);
                        assert.equal(env.MM_EMAILSETTINGS_SMTPPASSWORD, server.password);
                        assert.equal(env.MM_EMAILSETTINGS_FEEDBACKEMAIL, "gitlab@example.com");
                        assert.equal(env.MM_EMAILSETTINGS_FEEDBACKNAME, mail.config.fromName);
                        // Mattermost would otherwise answer to its own default, test@example.com.
                        assert.equal(env.MM_EMAILSETTINGS_REPLYTOADDRESS, mail.config.replyTo ?? mail.config.from);
                    } else {
                        assert.ok(!Object.keys(env).some((name) => name.startsWith("MM_EMAILSETTINGS_SMTP")), "no mail settings");
                    }
                    if (batching) {
                        assert.equal(env.MM_EMAILSETTINGS_ENABLEEMAILBATCHING, String(batching.enabled));
                        assert.equal(env.MM_EMAILSETTINGS_EMAILBATCHINGBUFFERSIZE, String(batching.bufferSize ?? 256));
                        assert.equal(env.MM_EMAILSETTINGS_EMAILBATCHINGINTERVAL, String(batching.intervalSeconds ?? 30));
                    } else {
                        assert.equal(env.MM_EMAILSETTINGS_ENABLEEMAILBATCHING, undefined);
                    }
                });

                it("sets exactly the variables the program knows: its defaults and its own", () => {
                    const mattermostHost = Object.values(results).find(({ plan }) => plan.runsMattermost);
                    const env = (mattermostHost?.result.mattermost as { env: Record<string, string> }).env;
                    const known = [...Object.keys(programDefaults()), ...Object.keys(programEnv(settings, mail.server))];
                    assert.deepEqual(Object.keys(env).filter((name) => name !== "TZ").sort(), known.sort());
                });
            });
        }
    }
}

describe("variables named like Object.prototype members", () => {
    it("reach the Mattermost host's gitlab.rb as written, __proto__ included", () => {
        const raw = rawConfig(stackConfig("split"));
        raw.mattermost = '{"instanceType":"c6a.large","env":{"__proto__":"a","constructor":"b","toString":"c"}}';
        const settings = parseSettings(raw);
        const plan = planHosts(settings).filter(runsOmnibus).find((candidate) => candidate.runsMattermost);
        assert.ok(plan);
        const result = evaluateGitlabRb(gitlabRbFor(plan.role, settings, { ...BASE_SECRETS }, "test"), "18.11.11");
        const env = (result.mattermost as Record<string, Record<string, string>>).env;
        assert.equal(env.__proto__, "a");
        assert.equal(env.constructor, "b");
        assert.equal(env.toString, "c");
    });
});
