// Certificates the program creates or is given, the files it writes with them, and what a rotation
// re-runs: the program on Pulumi's mock runtime.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { scriptOfCommand } from "../../../components/omnibus/hostScripts";
import { runOffline, type OfflineRun, type RegisteredResource } from "../../../scripts/offlineRuntime";
import { TestPki, type Issued } from "../../support/pki";
import { stackConfig } from "../../support/stackConfig";

const resource = (run: OfflineRun, type: string, name: string): RegisteredResource => {
    const found = run.resources.find((r) => r.type === type && r.name === name);
    assert.ok(found, `no ${type} named ${name}`);
    return found;
};
const command = (run: OfflineRun, name: string) => resource(run, "command:remote:Command", name);

/** The arguments a host command passes to its script. */
function scriptArgs(create: unknown): string[] {
    const text = String(create);
    const script = scriptOfCommand(text);
    assert.ok(script);
    return text.slice(text.lastIndexOf(`' ${script}`) + script.length + 2).split(" ").filter(Boolean);
}

/** Per host: path → mode, of the TLS files the program installs (in /etc/gitlab). */
function installedFiles(run: OfflineRun): Record<string, Record<string, { mode: string; secret: boolean; name: string }>> {
    const files: Record<string, Record<string, { mode: string; secret: boolean; name: string }>> = {};
    for (const c of run.resources.filter((r) => r.type === "command:remote:Command" && scriptOfCommand(String(r.inputs.create)) === "install-file.sh")) {
        const [path, mode] = scriptArgs(c.inputs.create);
        if (!path.startsWith("/etc/gitlab/")) continue;
        files[c.parent as string] = { ...files[c.parent as string], [path]: { mode, secret: c.secretInputs.includes("stdin"), name: c.name } };
    }
    return files;
}

const commandInputs = (run: OfflineRun) =>
    Object.fromEntries(
        run.resources
            .filter((r) => r.type === "command:remote:Command")
            .map((c) => [c.name, JSON.stringify({ create: c.inputs.create, stdin: c.inputs.stdin, triggers: c.inputs.triggers })]),
    );
const changedCommands = (before: OfflineRun, after: OfflineRun) => {
    const [a, b] = [commandInputs(before), commandInputs(after)];
    return Object.keys(b).filter((name) => a[name] !== b[name]).sort();
};

describe("tls.mode selfSigned", () => {
    for (const topology of ["single", "split"] as const) {
        describe(`${topology} topology`, () => {
            let run: OfflineRun;
            before(async () => {
                run = await runOffline(stackConfig(topology, { tls: { mode: "selfSigned" } }));
            });

            it("creates a private CA of the stack's own", () => {
                const ca = resource(run, "tls:index/selfSignedCert:SelfSignedCert", "tls-ca");
                assert.equal(ca.inputs.isCaCertificate, true);
                assert.deepEqual(ca.inputs.allowedUses, ["cert_signing", "crl_signing"]);
                assert.equal(ca.inputs.validityPeriodHours, 3650 * 24);
            });

            it("issues one server certificate per hostname, with exactly that name", () => {
                for (const [name, hostname] of [["gitlab", "gitlab.example.com"], ["mattermost", "mattermost.example.com"]]) {
                    const request = resource(run, "tls:index/certRequest:CertRequest", `tls-${name}`);
                    assert.deepEqual(request.inputs.dnsNames, [hostname]);
                    const leaf = resource(run, "tls:index/locallySignedCert:LocallySignedCert", `tls-${name}`);
                    assert.deepEqual(leaf.inputs.allowedUses, ["digital_signature", "key_encipherment", "server_auth"]);
                    assert.equal(leaf.inputs.validityPeriodHours, 365 * 24);
                    assert.equal(leaf.inputs.earlyRenewalHours, 30 * 24);
                    assert.ok(leaf.dependsOn.includes("tls-ca"));
                    assert.ok(leaf.secretInputs.includes("caPrivateKeyPem"));
                }
            });

            it("writes certificates 0644, keys 0600 (secret on stdin) and the CA to trusted-certs", () => {
                const ca = { mode: "0644", secret: false };
                const expected =
                    topology === "single"
                        ? {
                              gitlab: {
                                  "/etc/gitlab/ssl/gitlab.example.com.crt": { mode: "0644", secret: false },
                                  "/etc/gitlab/ssl/gitlab.example.com.key": { mode: "0600", secret: true },
                                  "/etc/gitlab/ssl/mattermost.example.com.crt": { mode: "0644", secret: false },
                                  "/etc/gitlab/ssl/mattermost.example.com.key": { mode: "0600", secret: true },
                                  "/etc/gitlab/trusted-certs/gitlab-mattermost-ca.crt": ca,
                              },
                          }
                        : {
                              gitlab: {
                                  "/etc/gitlab/ssl/gitlab.example.com.crt": { mode: "0644", secret: false },
                                  "/etc/gitlab/ssl/gitlab.example.com.key": { mode: "0600", secret: true },
                                  "/etc/gitlab/trusted-certs/gitlab-mattermost-ca.crt": ca,
                              },
                              mattermost: {
                                  "/etc/gitlab/ssl/mattermost.example.com.crt": { mode: "0644", secret: false },
                                  "/etc/gitlab/ssl/mattermost.example.com.key": { mode: "0600", secret: true },
                                  "/etc/gitlab/trusted-certs/gitlab-mattermost-ca.crt": ca,
                              },
                          };
                const files = installedFiles(run);
                const shape = Object.fromEntries(
                    Object.entries(files).map(([host, byPath]) => [host, Object.fromEntries(Object.entries(byPath).map(([p, f]) => [p, { mode: f.mode, secret: f.secret }]))]),
                );
                assert.deepEqual(shape, expected);
            });

            it("writes the files before the reconfigure that needs them, then reloads nginx", () => {
                for (const [host, byPath] of Object.entries(installedFiles(run))) {
                    const apply = command(run, `${host}-gitlab-rb`);
                    const reload = command(run, `${host}-nginx-reload`);
                    assert.equal(scriptOfCommand(String(reload.inputs.create)), "reload-nginx.sh");
                    assert.ok(reload.dependsOn.includes(`${host}-gitlab-rb`));
                    for (const file of Object.values(byPath)) {
                        assert.ok(apply.dependsOn.includes(file.name), `${file.name} before ${apply.name}`);
                        assert.ok(reload.dependsOn.includes(file.name));
                        assert.ok(command(run, file.name).dependsOn.includes(`${host}-install`));
                    }
                }
            });

            it("checks health through the stack's CA and skips the Let's Encrypt DNS wait", () => {
                const gates = run.resources.filter((r) => scriptOfCommand(String(r.inputs.create)) === "health-gate.sh");
                assert.ok(gates.length >= 2);
                for (const gate of gates) {
                    assert.equal(scriptArgs(gate.inputs.create).at(-1), "/etc/gitlab/trusted-certs/gitlab-mattermost-ca.crt");
                }
                assert.ok(!run.resources.some((r) => r.name.endsWith("-dns-ready")));
            });

            it("exports the CA certificate", () => {
                assert.match(String(run.outputs.caCertificate), /generated at deploy: tls-ca\.certPem/);
            });
        });
    }

    it("renews on a later pulumi up: only the certificate files and the nginx reload change", async () => {
        const before = await runOffline(stackConfig("split", { tls: { mode: "selfSigned" } }));
        const after = await runOffline(stackConfig("split", { tls: { mode: "selfSigned", validityDays: 180 } }));
        assert.deepEqual(changedCommands(before, after), [
            "gitlab-file-gitlab.example.com.crt",
            "gitlab-nginx-reload",
            "mattermost-file-mattermost.example.com.crt",
            "mattermost-nginx-reload",
        ]);
    });

    it("exports no CA with Let's Encrypt, and writes no certificate files", async () => {
        const run = await runOffline(stackConfig("split"));
        assert.equal(run.outputs.caCertificate, undefined);
        assert.deepEqual(installedFiles(run), {});
        assert.ok(!run.resources.some((r) => r.name.endsWith("-nginx-reload")));
    });
});

describe("tls.mode provided", () => {
    let pki: TestPki;
    let ca: Issued;
    let otherCa: Issued;
    const leaves: Record<string, Issued> = {};
    before(() => {
        pki = new TestPki();
        ca = pki.rootCa("company-ca");
        otherCa = pki.rootCa("new-company-ca");
        leaves.gitlab = pki.leaf("gitlab", ["gitlab.example.com"], ca);
        leaves.gitlabRenewed = pki.leaf("gitlab-renewed", ["gitlab.example.com"], ca);
        leaves.mattermost = pki.leaf("mattermost", ["mattermost.example.com"], ca);
        leaves.gitlabOther = pki.leaf("gitlab-other", ["gitlab.example.com"], otherCa);
        leaves.mattermostOther = pki.leaf("mattermost-other", ["mattermost.example.com"], otherCa);
    });
    after(() => pki.dispose());

    const provided = (gitlab: Issued, mattermost: Issued, caCertificate?: string, topology: "single" | "split" = "split") =>
        stackConfig(topology, {
            tls: {
                mode: "provided",
                certificates: { gitlab: { certificate: gitlab.certificate, key: gitlab.key }, mattermost: { certificate: mattermost.certificate, key: mattermost.key } },
                ...(caCertificate ? { caCertificate } : {}),
            },
        });

    it("writes the given chain and key, the key as a secret", async () => {
        const run = await runOffline(provided(leaves.gitlab, leaves.mattermost, ca.certificate));
        assert.equal(command(run, "gitlab-file-gitlab.example.com.crt").inputs.stdin, leaves.gitlab.certificate);
        const key = command(run, "gitlab-file-gitlab.example.com.key");
        assert.equal(key.inputs.stdin, leaves.gitlab.key);
        assert.ok(key.secretInputs.includes("stdin"));
        assert.ok(!String(key.inputs.create).includes("PRIVATE KEY"));
        assert.equal(command(run, "mattermost-file-gitlab-mattermost-ca.crt").inputs.stdin, ca.certificate);
        assert.equal(run.outputs.caCertificate, ca.certificate);
    });

    it("puts both names' certificates and the CA on the single host", async () => {
        const run = await runOffline(provided(leaves.gitlab, leaves.mattermost, ca.certificate, "single"));
        const files = installedFiles(run);
        assert.deepEqual(Object.keys(files), ["gitlab"]);
        assert.deepEqual(
            Object.entries(files.gitlab).map(([path, file]) => [path, file.mode, file.secret]).sort(),
            [
                ["/etc/gitlab/ssl/gitlab.example.com.crt", "0644", false],
                ["/etc/gitlab/ssl/gitlab.example.com.key", "0600", true],
                ["/etc/gitlab/ssl/mattermost.example.com.crt", "0644", false],
                ["/etc/gitlab/ssl/mattermost.example.com.key", "0600", true],
                ["/etc/gitlab/trusted-certs/gitlab-mattermost-ca.crt", "0644", false],
            ],
        );
        assert.equal(command(run, "gitlab-file-mattermost.example.com.crt").inputs.stdin, leaves.mattermost.certificate);
        assert.match(String(command(run, "gitlab-gitlab-rb").inputs.stdin), /^letsencrypt\['enable'\] = false$/m);
        assert.ok(command(run, "gitlab-gitlab-rb").dependsOn.includes("gitlab-file-mattermost.example.com.key"));
    });

    it("trusts nothing extra when the chain is publicly trusted (no tls.caCertificate)", async () => {
        const run = await runOffline(provided(leaves.gitlab, leaves.mattermost));
        assert.deepEqual(Object.keys(installedFiles(run).mattermost).sort(), ["/etc/gitlab/ssl/mattermost.example.com.crt", "/etc/gitlab/ssl/mattermost.example.com.key"]);
        assert.equal(run.outputs.caCertificate, undefined);
        assert.doesNotMatch(String(command(run, "mattermost-gitlab-rb").inputs.stdin), /SSL_CERT_DIR/);
    });

    it("rotates a renewed certificate: only its file steps and the nginx reload change, no reconfigure", async () => {
        const before = await runOffline(provided(leaves.gitlab, leaves.mattermost, ca.certificate));
        const after = await runOffline(provided(leaves.gitlabRenewed, leaves.mattermost, ca.certificate));
        assert.deepEqual(changedCommands(before, after), ["gitlab-file-gitlab.example.com.crt", "gitlab-file-gitlab.example.com.key", "gitlab-nginx-reload"]);
    });

    it("reconfigures when the trusted CA changes, so Omnibus links the new one", async () => {
        const before = await runOffline(provided(leaves.gitlab, leaves.mattermost, ca.certificate));
        const after = await runOffline(provided(leaves.gitlabOther, leaves.mattermostOther, otherCa.certificate));
        const changed = changedCommands(before, after);
        for (const host of ["gitlab", "mattermost"]) {
            assert.ok(changed.includes(`${host}-file-gitlab-mattermost-ca.crt`));
            assert.ok(changed.includes(`${host}-gitlab-rb`), `${host} reconfigures`);
        }
    });
});

describe("switching to a mode that does not use the program's certificate files", () => {
    const retired = (run: OfflineRun, host: string) => {
        const step = run.resources.find((r) => r.type === "command:remote:Command" && r.name === `${host}-retired-tls-files`);
        return step && { paths: scriptArgs(step.inputs.create), step };
    };

    it("letsencrypt (single host): both names' files and the CA are removed before the reconfigure that turns it on", async () => {
        const run = await runOffline(stackConfig("single", { tls: { mode: "letsencrypt", contactEmail: "ops@example.com" } }));
        const found = retired(run, "gitlab");
        assert.ok(found, "no step removes the certificate files");
        assert.equal(scriptOfCommand(String(found.step.inputs.create)), "install-file.sh");
        assert.deepEqual(found.paths, [
            "--remove",
            "/etc/gitlab/ssl/gitlab.example.com.crt",
            "/etc/gitlab/ssl/gitlab.example.com.key",
            "/etc/gitlab/ssl/mattermost.example.com.crt",
            "/etc/gitlab/ssl/mattermost.example.com.key",
            "/etc/gitlab/trusted-certs/gitlab-mattermost-ca.crt",
        ]);
        assert.ok(command(run, "gitlab-gitlab-rb").dependsOn.includes("gitlab-retired-tls-files"), "the reconfigure does not wait for the removal");
        assert.match(String(command(run, "gitlab-gitlab-rb").inputs.stdin), /^letsencrypt\['enable'\] = true$/m);
    });

    it("letsencrypt (split): each host removes the files of the names it serves", async () => {
        const run = await runOffline(stackConfig("split", { tls: { mode: "letsencrypt", contactEmail: "ops@example.com" } }));
        assert.deepEqual(retired(run, "mattermost")?.paths, [
            "--remove",
            "/etc/gitlab/ssl/mattermost.example.com.crt",
            "/etc/gitlab/ssl/mattermost.example.com.key",
            "/etc/gitlab/trusted-certs/gitlab-mattermost-ca.crt",
        ]);
        assert.ok(command(run, "mattermost-gitlab-rb").dependsOn.includes("mattermost-retired-tls-files"));
    });

    it("selfSigned uses every file: nothing is removed", async () => {
        const run = await runOffline(stackConfig("single", { tls: { mode: "selfSigned" } }));
        assert.equal(retired(run, "gitlab"), undefined);
    });
});
