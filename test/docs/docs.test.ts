// The documentation stays true: every npm script, file link and host command it shows exists.

import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describe, it } from "node:test";
import { MATTERMOST_RESTORE, backupJobs } from "../../components/backups/backupPlan";
import { PITR } from "../../components/backups/pitr";
import { planHosts } from "../../components/settings/topology";
import { parseConfig, stackConfig } from "../support/stackConfig";

const root = join(__dirname, "..", "..");
const documents = ["README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => join("docs", f))];
const text = (file: string) => readFileSync(join(root, file), "utf8");

/** Commands the docs may run with sudo on a host: this program's tools, Omnibus's, and the system's. */
function knownHostCommands(): Set<string> {
    const hosts = planHosts(parseConfig(stackConfig("single")));
    const installed = [...hosts.flatMap(backupJobs).map((job) => job.command), MATTERMOST_RESTORE.command, PITR.restoreTool.command, "mattermost-cli", "mmctl"];
    const omnibus = ["gitlab-ctl", "gitlab-psql", "gitlab-rails", "gitlab-rake", "gitlab-backup", "cat", "ls"];
    const system = ["systemctl", "journalctl"];
    return new Set([...installed, ...omnibus, ...system]);
}

describe("documentation", () => {
    it("has the documents the README promises", () => {
        for (const doc of ["docs/architecture.md", "docs/operations.md", "docs/troubleshooting.md", "docs/upgrading-past-18.11.md"]) {
            assert.ok(documents.includes(doc), `${doc} exists`);
            assert.ok(text("README.md").includes(`](${doc})`), `README links ${doc}`);
        }
    });

    it("names only npm scripts that package.json defines", () => {
        const scripts = Object.keys(JSON.parse(text("package.json")).scripts);
        const named = documents.flatMap((doc) => [...text(doc).matchAll(/npm run ([a-z][\w:-]*)/g)].map((m) => ({ doc, script: m[1] })));
        assert.ok(named.length >= 5);
        for (const { doc, script } of named) {
            assert.ok(scripts.includes(script), `${doc} names npm run ${script}, which package.json lacks`);
        }
    });

    it("links only files that exist", () => {
        for (const doc of documents) {
            for (const [, target] of text(doc).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
                if (/^[a-z]+:/.test(target)) continue;
                assert.ok(existsSync(resolve(root, dirname(doc), target)), `${doc} links ${target}, which does not exist`);
            }
        }
    });

    it("runs on hosts only commands this program installs or Omnibus and the system provide", () => {
        const known = knownHostCommands();
        const used = documents.flatMap((doc) => [...text(doc).matchAll(/sudo ([a-z][\w-]*)/g)].map((m) => ({ doc, command: m[1] })));
        assert.ok(used.some((u) => u.command === "mattermost-restore"));
        for (const { doc, command } of used) {
            assert.ok(known.has(command), `${doc} runs sudo ${command}, which nothing provides`);
        }
    });

    it("draws both topologies and the OAuth sequence", () => {
        const architecture = text("docs/architecture.md");
        assert.match(architecture, /## Single topology\n[\s\S]*?```mermaid\nflowchart/);
        assert.match(architecture, /## Split topology\n[\s\S]*?```mermaid\nflowchart/);
        assert.match(architecture, /```mermaid\nsequenceDiagram[\s\S]*\/oauth\/token/);
    });

    it("has a troubleshooting entry for each common failure", () => {
        const troubleshooting = text("docs/troubleshooting.md");
        for (const heading of ["redirect URI", "invalid_grant", "x509", "oauth client id", "down after an upgrade", "config.json drift", "Let's Encrypt", "Mail not sent", "19.0"]) {
            assert.match(troubleshooting, new RegExp(`^## .*${heading.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`, "mi"), heading);
        }
    });
});
