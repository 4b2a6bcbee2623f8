// components/settings/topology.ts: which hosts each topology and Mattermost mode has, and which run Omnibus.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { planHosts, runsOmnibus } from "../../../components/settings/topology";
import { parseConfig, stackConfig } from "../../support/stackConfig";

const hostsOf = (config: Record<string, unknown>) =>
    planHosts(parseConfig(config)).map((plan) => ({ name: plan.name, role: plan.role, gitlab: plan.runsGitlab, mattermost: plan.runsMattermost, omnibus: runsOmnibus(plan), dns: plan.dnsNames }));

describe("planHosts", () => {
    it("single: one Omnibus host serving both names", () => {
        assert.deepEqual(hostsOf(stackConfig("single")), [
            { name: "gitlab", role: "single", gitlab: true, mattermost: true, omnibus: true, dns: ["gitlab.example.com", "mattermost.example.com"] },
        ]);
    });

    it("split with bundled Mattermost: two Omnibus hosts", () => {
        assert.deepEqual(hostsOf(stackConfig("split")).map((host) => [host.role, host.omnibus]), [["gitlab", true], ["mattermost", true]]);
    });

    it("split with a standalone Mattermost: the Mattermost host runs Mattermost without Omnibus", () => {
        const hosts = hostsOf(stackConfig("split", { gitlab: { version: "19.3.0" }, mattermost: { mode: "standalone", version: "11.7.9" } }));
        assert.deepEqual(hosts, [
            { name: "gitlab", role: "gitlab", gitlab: true, mattermost: false, omnibus: true, dns: ["gitlab.example.com"] },
            { name: "mattermost", role: "mattermost-standalone", gitlab: false, mattermost: true, omnibus: false, dns: ["mattermost.example.com"] },
        ]);
    });
});
