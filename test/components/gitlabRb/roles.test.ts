// components/gitlabRb/roles: each host's gitlab.rb, evaluated by a real Ruby interpreter under the Omnibus
// stand-in (test/support/omnibus_dsl.rb), means what the topology needs.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseSettings } from "../../../components/stack/config";
import { gitlabRbFor, type DeployTimeValues } from "../../../components/gitlabRb/roles";
import type { DeploymentSettings } from "../../../components/settings/settings";
import type { OmnibusRole as HostRole } from "../../../components/settings/topology";
import { formatVersion, parseVersion } from "../../../components/versions/versions";
import { firstAdminGate } from "../../../components/mattermost/signUpPolicy";
import { evaluateGitlabRb, evaluateGitlabRbError } from "../../support/ruby";

const GITLAB_URL = "https://gitlab.example.com";
const MATTERMOST_URL = "https://mattermost.example.com";
const CONTACT = "ops@example.com";
const ENV = { HTTP_PROXY: "http://p:3128" };
/** Variables the program always sets for Mattermost: the sign-up defaults, and local mode for the mmctl wrapper. */
const PROGRAM_ENV = {
    MM_EMAILSETTINGS_ENABLESIGNUPWITHEMAIL: "false",
    MM_TEAMSETTINGS_ENABLEOPENSERVER: "false",
    MM_EMAILSETTINGS_ENABLESIGNINWITHEMAIL: "false",
    MM_EMAILSETTINGS_ENABLESIGNINWITHUSERNAME: "true",
    MM_SERVICESETTINGS_ENABLELOCALMODE: "true",
};

/** The Mattermost vhost's gate: no account before the program's first administrator. */
const GATE = { custom_gitlab_mattermost_server_config: firstAdminGate() };

const SECRETS: DeployTimeValues = { oauthClientId: "id-1", oauthClientSecret: "s3cr3t'\"#{x}", rootPassword: "pw" };

function raw(topology: "single" | "split", overrides: Record<string, string> = {}): Record<string, string> {
    return {
        externalUrl: GITLAB_URL,
        mattermostExternalUrl: MATTERMOST_URL,
        dnsZone: "example.com",
        topology,
        ssh: JSON.stringify({ allowedCidrs: ["203.0.113.0/24"] }),
        gitlab: JSON.stringify({ version: "18.11.11" }),
        mattermost: JSON.stringify({ env: ENV, uid: 2000, gid: 2000 }),
        tls: JSON.stringify({ contactEmail: CONTACT }),
        ...overrides,
    };
}

/** parseSettings refuses versions before 17.1 (no Ubuntu 24.04 package), so older versions are set afterwards. */
function withVersion(settings: DeploymentSettings, text: string): DeploymentSettings {
    const version = parseVersion(text);
    assert.ok(version, `test version ${text} must parse`);
    return { ...settings, gitlab: { ...settings.gitlab, version } };
}

const VERSIONS = ["18.11.11", "16.11.10"] as const;
type TestVersion = (typeof VERSIONS)[number];

function settingsFor(topology: "single" | "split", versionText: TestVersion, overrides: Record<string, string> = {}): DeploymentSettings {
    return withVersion(parseSettings(raw(topology, overrides)), versionText);
}

function render(role: HostRole, settings: DeploymentSettings): string {
    return gitlabRbFor(role, settings, SECRETS, `stack test, ${role} host`);
}

function evaluate(role: HostRole, settings: DeploymentSettings): Record<string, unknown> {
    return evaluateGitlabRb(render(role, settings), formatVersion(settings.gitlab.version));
}

/** The result's attribute block `name`, or undefined. */
function block(result: Record<string, unknown>, name: string): Record<string, unknown> | undefined {
    return result[name] as Record<string, unknown> | undefined;
}

describe("every role's gitlab.rb is accepted by Omnibus's strict DSL", () => {
    for (const topology of ["single", "split"] as const) {
        for (const role of ["single", "gitlab", "mattermost"] as const) {
            for (const versionText of VERSIONS) {
                it(`${topology} settings, ${role} role, ${versionText}`, () => {
                    const result = evaluate(role, settingsFor(topology, versionText));
                    const expectedUrl = role === "mattermost" ? MATTERMOST_URL : GITLAB_URL;
                    assert.equal(result.external_url, expectedUrl);
                    assert.equal(block(result, "letsencrypt")?.enable, true);
                });
            }
        }
    }
});

describe("single host", () => {
    for (const versionText of VERSIONS) {
        it(`serves GitLab and Mattermost with GitLab sign-in (${versionText})`, () => {
            const result = evaluate("single", settingsFor("single", versionText));
            assert.deepEqual(result, {
                external_url: GITLAB_URL,
                mattermost_external_url: MATTERMOST_URL,
                gitlab_rails: { initial_root_password: "pw" },
                letsencrypt: { enable: true, contact_emails: [CONTACT] },
                nginx: { redirect_http_to_https: true },
                mattermost_nginx: { ...GATE, redirect_http_to_https: true },
                mattermost: {
                    uid: 2000,
                    gid: 2000,
                    env: { ...PROGRAM_ENV, ...ENV },
                    gitlab_enable: true,
                    gitlab_id: "id-1",
                    gitlab_secret: "s3cr3t'\"#{x}",
                    gitlab_scope: "",
                },
            });
            assert.notEqual(block(result, "gitlab_rails")?.enable, false, "GitLab is not disabled on the single host");
        });
    }

    it("leaves uid, gid and env to Omnibus when the configuration does not set them", () => {
        const settings = settingsFor("single", "18.11.11", { mattermost: JSON.stringify({}) });
        const mattermost = block(evaluate("single", settings), "mattermost");
        assert.deepEqual(mattermost, { env: PROGRAM_ENV, gitlab_enable: true, gitlab_id: "id-1", gitlab_secret: "s3cr3t'\"#{x}", gitlab_scope: "" });
    });
});

describe("split topology, GitLab host", () => {
    for (const versionText of VERSIONS) {
        it(`runs GitLab only and points it at the Mattermost host (${versionText})`, () => {
            const result = evaluate("gitlab", settingsFor("split", versionText));
            assert.equal(result.external_url, GITLAB_URL);
            assert.equal(block(result, "gitlab_rails")?.mattermost_host, MATTERMOST_URL);
            for (const absent of ["mattermost", "mattermost_nginx", "mattermost_external_url"]) {
                assert.ok(!(absent in result), `${absent} must not be set on the GitLab host`);
            }
            assert.deepEqual(result, {
                external_url: GITLAB_URL,
                gitlab_rails: { mattermost_host: MATTERMOST_URL, initial_root_password: "pw" },
                letsencrypt: { enable: true, contact_emails: [CONTACT] },
                nginx: { redirect_http_to_https: true },
            });
        });
    }
});

describe("split topology, Mattermost host", () => {
    for (const versionText of VERSIONS) {
        it(`runs Mattermost only, signing in through the GitLab host (${versionText})`, () => {
            const result = evaluate("mattermost", settingsFor("split", versionText));
            assert.equal(result.mattermost_external_url, MATTERMOST_URL);
            assert.equal(result.external_url, MATTERMOST_URL);
            assert.deepEqual(block(result, "gitlab_rails"), { enable: false }, "GitLab off, and no root password here");
            assert.deepEqual(block(result, "redis"), { enable: false });
            assert.deepEqual(block(result, "postgres_exporter"), { enable: false });
            assert.deepEqual(block(result, "prometheus_monitoring"), { enable: false });
            if (versionText === "16.11.10") {
                assert.deepEqual(block(result, "grafana"), { enable: false });
            } else {
                assert.ok(!("grafana" in result), "grafana is not written from 17.1 on");
            }
            assert.deepEqual(block(result, "letsencrypt"), { enable: true, contact_emails: [CONTACT] });
            assert.deepEqual(block(result, "mattermost_nginx"), { ...GATE, redirect_http_to_https: true });
            assert.deepEqual(block(result, "mattermost"), {
                uid: 2000,
                gid: 2000,
                env: { ...PROGRAM_ENV, ...ENV },
                gitlab_enable: true,
                gitlab_id: "id-1",
                gitlab_secret: "s3cr3t'\"#{x}",
                gitlab_scope: "",
                gitlab_auth_endpoint: `${GITLAB_URL}/oauth/authorize`,
                gitlab_token_endpoint: `${GITLAB_URL}/oauth/token`,
                gitlab_user_api_endpoint: `${GITLAB_URL}/api/v4/user`,
            });
            assert.deepEqual(
                Object.keys(result).sort(),
                [
                    "external_url",
                    "gitlab_rails",
                    ...(versionText === "16.11.10" ? ["grafana"] : []),
                    "letsencrypt",
                    "mattermost",
                    "mattermost_external_url",
                    "mattermost_nginx",
                    "postgres_exporter",
                    "prometheus_monitoring",
                    "redis",
                ].sort(),
            );
        });
    }
});

describe("http URLs", () => {
    const overrides = { externalUrl: "http://gitlab.example.com", mattermostExternalUrl: "http://mattermost.example.com", tls: JSON.stringify({}) };
    const cases: readonly [HostRole, "single" | "split"][] = [
        ["single", "single"],
        ["gitlab", "split"],
        ["mattermost", "split"],
    ];
    for (const [role, topology] of cases) {
        it(`${role} host: no certificate and no redirect to https`, () => {
            const settings = settingsFor(topology, "18.11.11", overrides);
            assert.equal(settings.tls.mode, "none");
            const result = evaluate(role, settings);
            assert.deepEqual(block(result, "letsencrypt"), { enable: false });
            assert.deepEqual(block(result, "mattermost_nginx"), role === "gitlab" ? undefined : GATE, "no mattermost_nginx['redirect_http_to_https']");
            assert.equal(result.external_url, role === "mattermost" ? "http://mattermost.example.com" : "http://gitlab.example.com");
            if (role !== "gitlab") {
                assert.equal(result.mattermost_external_url, "http://mattermost.example.com");
            }
            if (role === "mattermost") {
                assert.equal(block(result, "mattermost")?.gitlab_auth_endpoint, "http://gitlab.example.com/oauth/authorize");
            }
        });
    }
});

describe("determinism", () => {
    it("renders the same bytes twice for every role", () => {
        for (const [role, topology] of [["single", "single"], ["gitlab", "split"], ["mattermost", "split"]] as const) {
            const first = render(role, settingsFor(topology, "18.11.11"));
            const second = render(role, settingsFor(topology, "18.11.11"));
            assert.ok(first.length > 0);
            assert.equal(first, second, role);
        }
    });

    it("a change to mattermost.env changes the Mattermost host's file only", () => {
        const before = settingsFor("split", "18.11.11");
        const after = settingsFor("split", "18.11.11", {
            mattermost: JSON.stringify({ env: { ...ENV, NO_PROXY: "localhost,127.0.0.1" }, uid: 2000, gid: 2000 }),
        });
        assert.notEqual(render("mattermost", before), render("mattermost", after));
        assert.equal(render("gitlab", before), render("gitlab", after));
        assert.deepEqual(block(evaluate("mattermost", after), "mattermost")?.env, { ...PROGRAM_ENV, ...ENV, NO_PROXY: "localhost,127.0.0.1" });
    });

    it("env order in the configuration does not change the file", () => {
        const ab = settingsFor("split", "18.11.11", { mattermost: JSON.stringify({ env: { A: "1", B: "2" } }) });
        const ba = settingsFor("split", "18.11.11", { mattermost: JSON.stringify({ env: { B: "2", A: "1" } }) });
        assert.equal(render("mattermost", ab), render("mattermost", ba));
        assert.ok(render("mattermost", ab).includes(`mattermost['env'] = { "MM_EMAILSETTINGS_ENABLESIGNUPWITHEMAIL" => "false", "MM_TEAMSETTINGS_ENABLEOPENSERVER" => "false", "MM_EMAILSETTINGS_ENABLESIGNINWITHEMAIL" => "false", "MM_EMAILSETTINGS_ENABLESIGNINWITHUSERNAME" => "true", "MM_SERVICESETTINGS_ENABLELOCALMODE" => "true", "A" => "1", "B" => "2" }`));
    });
});

describe("certificates this program writes (tls.mode selfSigned, and provided with a CA)", () => {
    const tlsByMode = { selfSigned: JSON.stringify({ mode: "selfSigned" }) };

    for (const [topology, role, vhosts] of [
        ["single", "single", { nginx: true, mattermost_nginx: true }],
        ["split", "gitlab", { nginx: true, mattermost_nginx: false }],
        ["split", "mattermost", { nginx: false, mattermost_nginx: true }],
    ] as const) {
        it(`${role} host: Let's Encrypt off, HTTP redirected for the vhosts it serves, no certificate path overrides`, () => {
            const text = render(role, settingsFor(topology, "18.11.11", { tls: tlsByMode.selfSigned }));
            const result = evaluateGitlabRb(text, "18.11.11");
            assert.deepEqual(block(result, "letsencrypt"), { enable: false });
            assert.deepEqual(block(result, "nginx"), vhosts.nginx ? { redirect_http_to_https: true } : undefined);
            assert.deepEqual(block(result, "mattermost_nginx"), vhosts.mattermost_nginx ? { ...GATE, redirect_http_to_https: true } : undefined);
            assert.doesNotMatch(text, /ssl_certificate/, "the files sit at Omnibus's default paths");
        });
    }

    it("makes Mattermost keep the embedded trust store, where the stack's CA is linked", () => {
        for (const [topology, role] of [["single", "single"], ["split", "mattermost"]] as const) {
            const result = evaluate(role, settingsFor(topology, "18.11.11", { tls: tlsByMode.selfSigned }));
            assert.deepEqual((block(result, "mattermost")?.env as Record<string, string>).SSL_CERT_DIR, "/opt/gitlab/embedded/ssl/certs/");
            assert.deepEqual((block(result, "mattermost")?.env as Record<string, string>).HTTP_PROXY, ENV.HTTP_PROXY);
        }
    });

    it("leaves Mattermost's trust store alone with Let's Encrypt", () => {
        const result = evaluate("mattermost", settingsFor("split", "18.11.11"));
        assert.deepEqual(block(result, "mattermost")?.env, { ...PROGRAM_ENV, ...ENV });
    });
});

describe("GitLab 19.x beside a standalone Mattermost", () => {
    const standalone = () =>
        parseSettings(raw("split", { gitlab: JSON.stringify({ version: "19.3.0" }), mattermost: JSON.stringify({ mode: "standalone", version: "11.7.9" }) }));

    it("the GitLab host's gitlab.rb is accepted by 19.3.0, keeps mattermost_host and sets no Mattermost key", () => {
        const text = render("gitlab", standalone());
        const result = evaluate("gitlab", standalone());
        assert.equal(result.external_url, GITLAB_URL);
        assert.equal(block(result, "gitlab_rails")?.mattermost_host, MATTERMOST_URL);
        assert.ok(!("mattermost_external_url" in result) && !("mattermost" in result) && !("mattermost_nginx" in result));
        assert.doesNotMatch(text, /mattermost\[|mattermost_nginx\[|mattermost_external_url/);
    });

    it("19.x refuses a mattermost[...] line, so the renderer never writes one for 19.x", () => {
        assert.match(evaluateGitlabRbError("mattermost['enable'] = false\n", "19.3.0") ?? "", /unsupported config value mattermost/);
        assert.equal(evaluateGitlabRbError("mattermost['enable'] = false\n", "18.11.11"), undefined);
        // The single host's Mattermost section, rendered for 19.3.0, loses every key 19.x refuses.
        const single = withVersion(parseSettings(raw("single", { mattermost: JSON.stringify({ env: ENV }) })), "19.3.0");
        assert.doesNotMatch(render("single", single), /^mattermost\[/m);
        evaluate("single", single);
    });
});
