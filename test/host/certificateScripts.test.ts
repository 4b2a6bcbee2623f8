// host/install-file.sh and host/reload-nginx.sh, and health-gate.sh's private-CA option: what a
// certificate rotation does on a host. openssl is real; gitlab-ctl and curl are recording stand-ins.

import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { TestPki, type Issued } from "../support/pki";
import { filesIn, withSandbox } from "../support/standIns";

let pki: TestPki;
let ca: Issued;
let first: Issued;
let renewed: Issued;
before(() => {
    pki = new TestPki();
    ca = pki.rootCa("ca");
    first = pki.leaf("first", ["gitlab.example.com"], ca);
    renewed = pki.leaf("renewed", ["gitlab.example.com"], ca);
});
after(() => pki.dispose());

const mode = (file: string) => statSync(file).mode & 0o777;

describe("install-file.sh", () => {
    test("writes a certificate 0644 and a key 0600 into a 0755 directory it creates", () =>
        withSandbox(async (sandbox) => {
            const ssl = sandbox.path("etc/gitlab/ssl");
            const crt = join(ssl, "gitlab.example.com.crt");
            const key = join(ssl, "gitlab.example.com.key");
            const wroteCrt = await sandbox.runScript("install-file.sh", [crt, "0644"], { input: first.certificate });
            const wroteKey = await sandbox.runScript("install-file.sh", [key, "0600"], { input: first.key });
            assert.equal(wroteCrt.status, 0, wroteCrt.stderr);
            assert.equal(wroteKey.status, 0, wroteKey.stderr);
            assert.equal(readFileSync(crt, "utf8"), first.certificate);
            assert.equal(readFileSync(key, "utf8"), first.key);
            assert.equal(mode(crt), 0o644);
            assert.equal(mode(key), 0o600);
            assert.equal(mode(ssl), 0o755);
            assert.deepEqual(filesIn(ssl).sort(), ["gitlab.example.com.crt", "gitlab.example.com.key"], "no staged file left behind");
            assert.doesNotMatch(wroteKey.stdout + wroteKey.stderr, /PRIVATE KEY/, "the key is never echoed");
        }));

    test("--remove deletes the certificates and keys given that exist, and nothing else", () =>
        withSandbox(async (sandbox) => {
            const crt = sandbox.write("etc/gitlab/ssl/mattermost.example.com.crt", first.certificate);
            const key = sandbox.write("etc/gitlab/ssl/mattermost.example.com.key", first.key, 0o600);
            const other = sandbox.write("etc/gitlab/ssl/gitlab.example.com.crt", first.certificate);
            const absent = sandbox.path("etc/gitlab/trusted-certs/gitlab-mattermost-ca.crt");
            const result = await sandbox.runScript("install-file.sh", ["--remove", crt, key, absent]);
            assert.equal(result.status, 0, result.stderr);
            assert.deepEqual(filesIn(sandbox.path("etc/gitlab/ssl")), ["gitlab.example.com.crt"]);
            assert.equal(readFileSync(other, "utf8"), first.certificate);
            assert.match(result.stdout, new RegExp(`removed ${crt}`));
            assert.doesNotMatch(result.stdout, /trusted-certs/, "an absent file is not reported as removed");
        }));

    test("--remove refuses anything but certificates and keys, removing nothing", () =>
        withSandbox(async (sandbox) => {
            const crt = sandbox.write("etc/gitlab/ssl/mattermost.example.com.crt", first.certificate);
            const rb = sandbox.write("etc/gitlab/gitlab.rb", "external_url 'https://gitlab.example.com'\n");
            const result = await sandbox.runScript("install-file.sh", ["--remove", crt, rb]);
            assert.equal(result.status, 2, result.stdout);
            assert.match(result.stderr, /only absolute paths of certificates/);
            assert.deepEqual(filesIn(sandbox.path("etc/gitlab/ssl")), ["mattermost.example.com.crt"]);
            assert.deepEqual(filesIn(sandbox.path("etc/gitlab")), ["gitlab.rb", "ssl"]);
        }));

    test("replaces a certificate by renaming, so the old file stays whole until the new one is in place", () =>
        withSandbox(async (sandbox) => {
            const crt = sandbox.write("etc/gitlab/ssl/gitlab.example.com.crt", first.certificate);
            const before = statSync(crt).ino;
            const result = await sandbox.runScript("install-file.sh", [crt, "0644"], { input: renewed.certificate });
            assert.equal(result.status, 0, result.stderr);
            assert.equal(readFileSync(crt, "utf8"), renewed.certificate);
            assert.notEqual(statSync(crt).ino, before, "a new inode: renamed into place, not rewritten in place");
        }));

    for (const [what, target, input, message] of [
        ["a certificate that is not PEM", "gitlab.example.com.crt", "not a certificate\n", /not a PEM certificate/],
        ["a key that is not PEM", "gitlab.example.com.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", /not a PEM private key/],
        ["empty content", "gitlab-mattermost-ca.crt", "", /refusing empty content/],
    ] as const) {
        test(`refuses ${what} and leaves the current file as it was`, () =>
            withSandbox(async (sandbox) => {
                const current = target.endsWith(".key") ? first.key : first.certificate;
                const path = sandbox.write(`etc/gitlab/ssl/${target}`, current, 0o600);
                const result = await sandbox.runScript("install-file.sh", [path, "0644"], { input });
                assert.notEqual(result.status, 0);
                assert.match(result.stderr, message);
                assert.equal(readFileSync(path, "utf8"), current);
                assert.equal(mode(path), 0o600);
                assert.deepEqual(filesIn(sandbox.path("etc/gitlab/ssl")), [target]);
            }));
    }
});

describe("reload-nginx.sh", () => {
    test("asks gitlab-ctl (stand-in) for a HUP of nginx, not a reconfigure", () =>
        withSandbox(async (sandbox) => {
            const omnibus = sandbox.path("opt/gitlab");
            sandbox.standIn("gitlab-ctl", `echo "stand-in gitlab-ctl $*"`, join(omnibus, "bin/gitlab-ctl"));
            const result = await sandbox.runScript("reload-nginx.sh", [], { env: { OMNIBUS_DIR: omnibus } });
            assert.equal(result.status, 0, result.stderr);
            assert.deepEqual(sandbox.calls("gitlab-ctl").map((c) => c.argv), [["hup", "nginx"]]);
        }));

    test("fails when the HUP fails", () =>
        withSandbox(async (sandbox) => {
            const omnibus = sandbox.path("opt/gitlab");
            sandbox.standIn("gitlab-ctl", `echo "fail: nginx: runsv not running" >&2; exit 1`, join(omnibus, "bin/gitlab-ctl"));
            const result = await sandbox.runScript("reload-nginx.sh", [], { env: { OMNIBUS_DIR: omnibus } });
            assert.notEqual(result.status, 0);
        }));
});

describe("health-gate.sh with a private CA", () => {
    test("trusts the CA file it is given, and only that", () =>
        withSandbox(async (sandbox) => {
            sandbox.standIn("curl", `printf '%s' '{"status":"OK"}'`);
            const caFile = sandbox.write("etc/gitlab/trusted-certs/gitlab-mattermost-ca.crt", ca.certificate);
            const result = await sandbox.runScript("health-gate.sh", ["mattermost", "https://mattermost.example.com", "30", caFile], {
                env: { GITLAB_LOG_DIR: sandbox.path("log"), HEALTH_INTERVAL_SECONDS: "0" },
            });
            assert.equal(result.status, 0, result.stderr);
            const argv = sandbox.calls("curl")[0].argv;
            assert.equal(argv[argv.indexOf("--cacert") + 1], caFile);
            assert.ok(!argv.includes("--insecure") && !argv.includes("-k"), "never skips verification");
        }));

    test("passes no CA option without one", () =>
        withSandbox(async (sandbox) => {
            sandbox.standIn("curl", `printf '%s' '{"status":"OK"}'`);
            const result = await sandbox.runScript("health-gate.sh", ["mattermost", "https://mattermost.example.com", "30"], {
                env: { GITLAB_LOG_DIR: sandbox.path("log"), HEALTH_INTERVAL_SECONDS: "0" },
            });
            assert.equal(result.status, 0, result.stderr);
            assert.ok(!sandbox.calls("curl")[0].argv.includes("--cacert"));
        }));
});
