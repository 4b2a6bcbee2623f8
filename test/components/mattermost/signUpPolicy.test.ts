// Who may get into a fresh Mattermost: the sign-up settings every Mattermost host's gitlab.rb gives it
// (evaluated by a real Ruby interpreter under the Omnibus stand-in), the administrator's overrides
// through mattermost.env, and the first administrator's username rules.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ConfigError } from "../../../components/stack/config";
import { gitlabRbFor } from "../../../components/gitlabRb/roles";
import { planHosts, runsOmnibus } from "../../../components/settings/topology";
import { evaluateGitlabRb } from "../../support/ruby";
import { parseConfig, stackConfig } from "../../support/stackConfig";

const SECRETS = { oauthClientId: "id", oauthClientSecret: "secret", rootPassword: "root" };

/** What a fresh Mattermost must get, written out here rather than read from the program's table. */
const CLOSED = {
    MM_EMAILSETTINGS_ENABLESIGNUPWITHEMAIL: "false",
    MM_TEAMSETTINGS_ENABLEOPENSERVER: "false",
    MM_EMAILSETTINGS_ENABLESIGNINWITHEMAIL: "false",
    MM_EMAILSETTINGS_ENABLESIGNINWITHUSERNAME: "true",
};

type Rendered = { name: string; runsMattermost: boolean; mattermost: Record<string, unknown> | undefined };

function render(topology: "single" | "split", mattermost: Record<string, unknown> = {}): Rendered[] {
    const base = (stackConfig(topology).mattermost ?? {}) as Record<string, unknown>;
    const settings = parseConfig(stackConfig(topology, { mattermost: { ...base, ...mattermost } }));
    return planHosts(settings).filter(runsOmnibus).map((plan) => {
        const result = evaluateGitlabRb(gitlabRbFor(plan.role, settings, SECRETS, "test"), "18.11.11");
        return { name: plan.name, runsMattermost: plan.runsMattermost, mattermost: result.mattermost as Record<string, unknown> | undefined };
    });
}

const envOf = (host: Rendered) => (host.mattermost?.env ?? {}) as Record<string, string>;

for (const topology of ["single", "split"] as const) {
    describe(`sign-up settings, ${topology} topology`, () => {
        it("the Mattermost host's Mattermost starts with e-mail sign-up and the open server off, sign-in by username on", () => {
            const hosts = render(topology);
            const mattermostHosts = hosts.filter((host) => host.runsMattermost);
            assert.equal(mattermostHosts.length, 1);
            const env = envOf(mattermostHosts[0]);
            for (const [name, value] of Object.entries(CLOSED)) {
                assert.equal(env[name], value, name);
            }
            // The sign-in through GitLab stays Omnibus's, never this table's.
            assert.ok(!Object.keys(env).some((name) => name.startsWith("MM_GITLABSETTINGS_")));
        });

        it("a host without Mattermost gets none of them", () => {
            for (const host of render(topology).filter((candidate) => !candidate.runsMattermost)) {
                for (const name of Object.keys(CLOSED)) {
                    assert.equal(envOf(host)[name], undefined, `${host.name}: ${name}`);
                }
            }
        });

        it("mattermost.env replaces each default, and only that one", () => {
            for (const [name, value] of Object.entries(CLOSED)) {
                const opposite = value === "true" ? "false" : "true";
                const env = envOf(render(topology, { env: { [name]: opposite } }).find((host) => host.runsMattermost)!);
                assert.equal(env[name], opposite, `${name} overridden`);
                for (const [other, otherValue] of Object.entries(CLOSED).filter(([candidate]) => candidate !== name)) {
                    assert.equal(env[other], otherValue, `${other} kept while ${name} is overridden`);
                }
            }
        });
    });
}

describe("sign-up overrides Mattermost would ignore", () => {
    // Mattermost reads booleans with Go's strconv.ParseBool and keeps its file's value otherwise.
    // Only the two plain spellings are taken, so the rendered value reads the same as what Mattermost does.
    for (const [value, message] of [["yes", /must be true or false/], ["on", /must be true or false/], ["TRUE", /must be true or false/], ["1", /must be true or false/], ["false ", /ends with a space/]] as const) {
        it(`refuses ${JSON.stringify(value)}, naming the variable`, () => {
            assert.throws(
                () => parseConfig(stackConfig("single", { mattermost: { env: { MM_TEAMSETTINGS_ENABLEOPENSERVER: value } } })),
                (error: unknown) => error instanceof ConfigError && error.key === "mattermost.env.MM_TEAMSETTINGS_ENABLEOPENSERVER" && message.test(error.message),
            );
        });
    }

    it("still refuses a variable the program locks", () => {
        assert.throws(
            () => parseConfig(stackConfig("single", { mattermost: { env: { MM_SERVICESETTINGS_ENABLELOCALMODE: "false" } } })),
            (error: unknown) => error instanceof ConfigError && /collides with/.test(error.message),
        );
    });
});

describe("mattermost.adminUsername", () => {
    const parse = (adminUsername: unknown) => parseConfig(stackConfig("single", { mattermost: { adminUsername } }));

    it("defaults to mmadmin", () => {
        assert.equal(parseConfig(stackConfig("single")).mattermost.adminUsername, "mmadmin");
    });

    it("keeps a name Mattermost accepts", () => {
        assert.equal(parse("ops.admin-1_x").mattermost.adminUsername, "ops.admin-1_x");
    });

    for (const [title, value, message] of [
        ["upper case", "Admin", /lower-case letters/],
        ["too short", "ab", /3 to 22 characters/],
        ["too long", "a".repeat(23), /3 to 22 characters/],
        ["starting with a digit", "1admin", /starting with a letter/],
        ["with a space", "mm admin", /lower-case letters/],
        ["reserved", "system", /reserves/],
        ["not a string", 42, /non-empty string/],
    ] as const) {
        it(`refuses a name ${title}`, () => {
            assert.throws(() => parse(value), (error: unknown) => error instanceof ConfigError && error.key === "mattermost.adminUsername" && message.test(error.message));
        });
    }

    it("accepts exactly the names of Mattermost's form rules (property)", () => {
        const alphabet = "abcdefghijklmnopqrstuvwxyzA0._- @".split("");
        fc.assert(
            fc.property(fc.array(fc.constantFrom(...alphabet), { minLength: 0, maxLength: 25 }), (chars) => {
                const name = chars.join("");
                const valid =
                    name.length >= 3 && name.length <= 22 && /^[a-z]/.test(name) && [...name].every((c) => "abcdefghijklmnopqrstuvwxyz0._-".includes(c)) &&
                    !["all", "channel", "matterbot", "system"].includes(name);
                let accepted = true;
                try {
                    parse(name);
                } catch (error) {
                    if (!(error instanceof ConfigError)) throw error;
                    accepted = false;
                }
                return accepted === valid;
            }),
        );
    });
});
