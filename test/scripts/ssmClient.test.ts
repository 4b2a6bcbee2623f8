// scripts/ssm-client.sh, which the deploy jobs run before `pulumi up`, with RECORDING STAND-INS for
// aws, session-manager-plugin, apt-get, dpkg, curl and id, on a PATH that holds nothing else but the
// shell's basic tools (so a real aws on the test machine cannot answer).

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { Sandbox, runProcess, sh, waitForFile } from "../support/standIns";

const SCRIPT = join(__dirname, "..", "..", "scripts", "ssm-client.sh");
/** What the script and the stand-ins' prelude need besides the stand-ins. */
const BASIC_TOOLS = ["bash", "sh", "env", "mkdir", "mktemp", "rm", "find", "wc", "cat", "chmod", "touch", "sleep"];

describe("scripts/ssm-client.sh", () => {
    let sandbox: Sandbox;
    let path: string;
    beforeEach(() => {
        sandbox = new Sandbox();
        const tools = sandbox.path("tools");
        mkdirSync(tools);
        for (const tool of BASIC_TOOLS) {
            symlinkSync(execFileSync("bash", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim(), join(tools, tool));
        }
        path = `${sandbox.bin}:${tools}`;
    });
    afterEach(() => sandbox.cleanup());

    const run = () => runProcess("bash", [SCRIPT], { env: { PATH: path, TMPDIR: sandbox.tmp }, cwd: sandbox.root });
    const awsStandIn = () => sandbox.standIn("aws", 'echo "aws-cli/2.9.19 Python/3.11.2 Linux/6.1 source/x86_64.debian.12"');
    const pluginStandIn = () => sandbox.standIn("session-manager-plugin", 'echo "1.2.896.0"');
    /** A Debian machine as root: apt-get installs awscli (writing the aws stand-in), dpkg installs the plugin's package. */
    const debianAsRoot = (arch = "amd64") => {
        sandbox.standIn("id", 'echo 0');
        sandbox.standIn("apt-get", `if [ "$1" = install ]; then for p in "$@"; do [ "$p" != awscli ] || printf '#!/bin/sh\\necho aws-cli/2.9.19\\n' >${sh(join(sandbox.bin, "aws"))}; done; chmod +x ${sh(join(sandbox.bin, "aws"))} 2>/dev/null || true; fi`);
        sandbox.standIn("curl", 'while [ "$#" -gt 0 ]; do if [ "$1" = -o ]; then echo deb >"$2"; shift; fi; shift; done');
        sandbox.standIn(
            "dpkg",
            `case "$1" in --print-architecture) echo ${arch} ;; -i) cat "$2" >/dev/null; printf '#!/bin/sh\\necho 1.2.896.0\\n' >${sh(join(sandbox.bin, "session-manager-plugin"))}; chmod +x ${sh(join(sandbox.bin, "session-manager-plugin"))} ;; esac`,
        );
    };

    it("installs nothing when both tools are there, and prints their versions", async () => {
        awsStandIn();
        pluginStandIn();
        debianAsRoot();
        const result = await run();
        assert.equal(result.status, 0, result.stderr);
        assert.match(result.stdout, /aws-cli\/2\.9\.19.*\n1\.2\.896\.0\n$/);
        assert.deepEqual(sandbox.calls("apt-get"), []);
        assert.deepEqual(sandbox.calls("dpkg"), []);
    });

    it("installs the missing plugin from AWS's pinned package on Debian as root", async () => {
        awsStandIn();
        debianAsRoot();
        sandbox.standIn("apt-get", "exit 0");
        const result = await run();
        assert.equal(result.status, 0, result.stderr);
        const [download] = sandbox.calls("curl");
        assert.equal(download.argv.at(-1), "https://s3.amazonaws.com/session-manager-downloads/plugin/1.2.896.0/ubuntu_64bit/session-manager-plugin.deb");
        assert.deepEqual(sandbox.calls("dpkg").map((call) => call.argv[0]), ["--print-architecture", "-i"]);
        assert.match(result.stdout, /1\.2\.896\.0\n$/);
        assert.deepEqual(sandbox.calls("apt-get"), [], "curl was there, and so was aws");
    });

    it("installs the AWS CLI from the distribution and the arm64 plugin when both are missing", async () => {
        debianAsRoot("arm64");
        const result = await run();
        assert.equal(result.status, 0, result.stderr);
        const install = sandbox.calls("apt-get").find((call) => call.argv.includes("install"));
        assert.ok(install?.argv.includes("awscli"));
        assert.match(sandbox.calls("curl")[0].argv.at(-1) ?? "", /\/ubuntu_arm64\/session-manager-plugin\.deb$/);
        assert.match(result.stdout, /aws-cli\/2\.9\.19\n1\.2\.896\.0\n$/);
    });

    it("says what to install, and fails, where it may not install", async () => {
        awsStandIn();
        debianAsRoot();
        sandbox.standIn("id", "echo 1000");
        const result = await run();
        assert.equal(result.status, 1);
        assert.match(result.stderr, /^FAILED: missing: the Session Manager plugin \(session-manager-plugin\)\. .*install the AWS CLI v2 and the Session Manager plugin/);
        assert.deepEqual(sandbox.calls("curl"), []);
    });

    it("fails when the plugin's download fails, and leaves no temporary directory", async () => {
        awsStandIn();
        debianAsRoot();
        sandbox.standIn("curl", 'echo "curl: (22) The requested URL returned error: 404" >&2; exit 22');
        const result = await run();
        assert.equal(result.status, 22);
        assert.deepEqual(sandbox.calls("dpkg").map((call) => call.argv[0]), ["--print-architecture"]);
        assert.deepEqual(execFileSync("ls", ["-A", sandbox.tmp], { encoding: "utf8" }), "");
    });

    for (const signal of ["SIGTERM", "SIGHUP", "SIGINT", "SIGPIPE"] as const) {
        it(`fails on ${signal} during the download, saying so, and leaves no temporary directory`, async () => {
            awsStandIn();
            debianAsRoot();
            const started = sandbox.path("download-started");
            sandbox.standIn("curl", `touch ${sh(started)}; sleep 30`);
            const running = sandbox.startCommand("bash", [SCRIPT], { env: { PATH: path, TMPDIR: sandbox.tmp } });
            await waitForFile(started);
            running.signal(signal);
            const result = await running.done;
            assert.equal(result.status, 1, "a signal is a failure, not the EXIT trap's status 0");
            assert.match(result.stderr, new RegExp(`FAILED: stopped by ${signal}\n$`));
            assert.deepEqual(execFileSync("ls", ["-A", sandbox.tmp], { encoding: "utf8" }), "");
        });
    }
});
