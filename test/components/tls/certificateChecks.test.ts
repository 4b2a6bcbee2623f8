// Provided certificates, checked with real certificates that openssl makes for each case.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { assertConfigRejected, parseConfig, stackConfig } from "../../support/stackConfig";
import { TestPki, type Issued } from "../../support/pki";

const GITLAB = "gitlab.example.com";
const MATTERMOST = "mattermost.example.com";

let pki: TestPki;
let root: Issued;
let intermediate: Issued;
let gitlab: Issued;
let mattermost: Issued;
let otherRoot: Issued;

before(() => {
    pki = new TestPki();
    root = pki.rootCa("root");
    intermediate = pki.intermediateCa("intermediate", root);
    gitlab = pki.leaf("gitlab", [GITLAB], intermediate);
    mattermost = pki.leaf("mattermost", [MATTERMOST], intermediate);
    otherRoot = pki.rootCa("other-root");
});
after(() => pki.dispose());

const chainOf = (leaf: Issued) => leaf.certificate + intermediate.certificate;

function providedConfig(tls: Record<string, unknown> = {}, overrides: Record<string, unknown> = {}) {
    return stackConfig("split", {
        tls: {
            mode: "provided",
            certificates: {
                gitlab: { certificate: chainOf(gitlab), key: gitlab.key },
                mattermost: { certificate: chainOf(mattermost), key: mattermost.key },
            },
            ...tls,
        },
        ...overrides,
    });
}

function withEntry(name: "gitlab" | "mattermost", entry: Record<string, unknown>) {
    const base = providedConfig().tls as { certificates: Record<string, unknown> };
    return providedConfig({ certificates: { ...base.certificates, [name]: entry } });
}

describe("tls.mode provided", () => {
    it("accepts good chains, with and without the private CA", () => {
        const settings = parseConfig(providedConfig());
        assert.equal(settings.tls.mode, "provided");
        assert.ok(settings.tls.mode === "provided" && settings.tls.certificates.mattermost.chain === chainOf(mattermost));
        const withCa = parseConfig(providedConfig({ caCertificate: root.certificate }));
        assert.ok(withCa.tls.mode === "provided" && withCa.tls.caCertificate === root.certificate);
    });

    it("accepts a chain that ends with the CA itself", () => {
        const entry = { certificate: chainOf(gitlab) + root.certificate, key: gitlab.key };
        assert.doesNotThrow(() => parseConfig({ ...withEntry("gitlab", entry), tls: { ...(withEntry("gitlab", entry).tls as object), caCertificate: root.certificate } }));
    });

    it("refuses a missing certificate or key, naming the entry", () => {
        assertConfigRejected(withEntry("mattermost", { key: mattermost.key }), "tls.certificates.mattermost.certificate", /is required with tls\.mode provided.*pulumi config set --secret --path tls\.certificates\.mattermost\.certificate/);
        assertConfigRejected(withEntry("gitlab", { certificate: chainOf(gitlab) }), "tls.certificates.gitlab.key", /is required.*private key/);
    });

    it("refuses text that is not PEM", () => {
        assertConfigRejected(withEntry("gitlab", { certificate: "hello", key: gitlab.key }), "tls.certificates.gitlab.certificate", /holds no PEM certificate/);
        const broken = gitlab.certificate.replace(/\n[A-Za-z0-9+/]{10}/, "\n!!!!!!!!!!");
        assertConfigRejected(withEntry("gitlab", { certificate: broken, key: gitlab.key }), "tls.certificates.gitlab.certificate", /does not parse \(number 1 in the chain\)/);
        assertConfigRejected(withEntry("gitlab", { certificate: chainOf(gitlab), key: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" }), "tls.certificates.gitlab.key", /is not a PEM private key/);
    });

    it("refuses a key that does not match its certificate", () => {
        assertConfigRejected(withEntry("gitlab", { certificate: chainOf(gitlab), key: mattermost.key }), "tls.certificates.gitlab.key", /does not match the certificate in tls\.certificates\.gitlab\.certificate/);
    });

    it("refuses a certificate for another hostname", () => {
        assertConfigRejected(withEntry("gitlab", { certificate: chainOf(mattermost), key: mattermost.key }), "tls.certificates.gitlab.certificate", /is for DNS:mattermost\.example\.com, not gitlab\.example\.com/);
    });

    it("refuses an expired certificate", () => {
        const expired = pki.expiredLeaf("expired", [GITLAB], intermediate);
        assertConfigRejected(withEntry("gitlab", { certificate: expired.certificate + intermediate.certificate, key: expired.key }), "tls.certificates.gitlab.certificate", /is expired: The certificate expired on Feb +1 00:00:00 2020 GMT/);
    });

    it("judges expiry against the time it is given", () => {
        const inThreeYears = new Date(Date.now() + 3 * 365 * 24 * 3600 * 1000);
        assertConfigRejected(providedConfig(), "tls.certificates.gitlab.certificate", /is expired/, inThreeYears);
    });

    it("refuses a chain in the wrong order", () => {
        const reversed = intermediate.certificate + gitlab.certificate;
        assertConfigRejected(withEntry("gitlab", { certificate: reversed, key: gitlab.key }), "tls.certificates.gitlab.key", /does not match the certificate/);
        const wrongIssuer = gitlab.certificate + otherRoot.certificate;
        assertConfigRejected(withEntry("gitlab", { certificate: wrongIssuer, key: gitlab.key }), "tls.certificates.gitlab.certificate", /is not in order: certificate 2 \(CN=other-root\) did not issue certificate 1 \(CN=gitlab\)/);
    });

    it("refuses a chain that does not lead to tls.caCertificate", () => {
        assertConfigRejected(providedConfig({ caCertificate: otherRoot.certificate }), "tls.certificates.gitlab.certificate", /does not lead to tls\.caCertificate \(CN=other-root\)/);
    });

    it("refuses a tls.caCertificate that is not a CA", () => {
        assertConfigRejected(providedConfig({ caCertificate: gitlab.certificate }), "tls.caCertificate", /is not a CA certificate/);
        assertConfigRejected(providedConfig({ caCertificate: root.certificate + otherRoot.certificate }), "tls.caCertificate", /exactly one certificate/);
    });

    it("refuses unknown entries and fields", () => {
        assertConfigRejected(withEntry("gitlab", { certificate: chainOf(gitlab), key: gitlab.key, chain: "x" }), "tls.certificates.gitlab.chain", /not a known field/);
        const base = providedConfig().tls as { certificates: Record<string, unknown> };
        assertConfigRejected(providedConfig({ certificates: { ...base.certificates, chat: {} } }), "tls.certificates.chat", /not a known entry/);
    });
});

describe("tls.mode and its fields", () => {
    it("refuses selfSigned and provided with http URLs", () => {
        const http = { externalUrl: "http://gitlab.example.com", mattermostExternalUrl: "http://mattermost.example.com" };
        assertConfigRejected(stackConfig("single", { ...http, tls: { mode: "selfSigned" } }), "tls.mode", /is selfSigned, but .* are http/);
        assertConfigRejected(providedConfig({}, http), "tls.mode", /is provided, but .* are http/);
    });

    it("refuses a field of another mode", () => {
        assertConfigRejected(stackConfig("single", { tls: { mode: "selfSigned", contactEmail: "ops@example.com" } }), "tls.contactEmail", /applies only to tls\.mode letsencrypt, but tls\.mode is selfSigned/);
        assertConfigRejected(stackConfig("single", { tls: { validityDays: 90 } }), "tls.validityDays", /applies only to tls\.mode selfSigned, but tls\.mode is letsencrypt/);
        assertConfigRejected(providedConfig({ earlyRenewalDays: 10 }), "tls.earlyRenewalDays", /applies only to tls\.mode selfSigned/);
    });

    it("applies selfSigned defaults and checks the renewal window", () => {
        const settings = parseConfig(stackConfig("single", { tls: { mode: "selfSigned" } }));
        assert.deepEqual(settings.tls, { mode: "selfSigned", validityDays: 365, earlyRenewalDays: 30 });
        assertConfigRejected(stackConfig("single", { tls: { mode: "selfSigned", validityDays: 30, earlyRenewalDays: 30 } }), "tls.earlyRenewalDays", /not shorter than tls\.validityDays/);
        assertConfigRejected(stackConfig("single", { tls: { mode: "selfSigned", validityDays: 0 } }), "tls.validityDays", /1 to 3650/);
    });

    it("refuses SSL_CERT_DIR in mattermost.env when the program sets it", () => {
        assertConfigRejected(
            stackConfig("split", { tls: { mode: "selfSigned" }, mattermost: { env: { SSL_CERT_DIR: "/etc/ssl/certs" } } }),
            "mattermost.env.SSL_CERT_DIR",
            /collides with SSL_CERT_DIR, which this program sets because tls\.mode selfSigned makes Mattermost trust the stack's CA/,
        );
        assert.doesNotThrow(() => parseConfig(stackConfig("split", { mattermost: { env: { SSL_CERT_DIR: "/etc/ssl/certs" } } })));
    });
});
