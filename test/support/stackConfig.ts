// Stack configurations for tests, as an administrator would write them, and how the program reads them.

import assert from "node:assert/strict";
import { type DeploymentSettings } from "../../components/settings/settings";
import { ConfigError, parseSettings } from "../../components/stack/config";

/** A valid configuration for `topology`; `overrides` replace whole top-level keys (undefined removes one). */
export function stackConfig(topology: "single" | "split", overrides: Record<string, unknown> = {}): Record<string, unknown> {
    const base: Record<string, unknown> = {
        topology,
        externalUrl: "https://gitlab.example.com",
        mattermostExternalUrl: "https://mattermost.example.com",
        dnsZone: "example.com",
        gitlab: { edition: "ee", version: "18.11.11" },
        tls: { contactEmail: "ops@example.com" },
        ssh: { allowedCidrs: ["203.0.113.0/24"] },
        ...(topology === "split" ? { mattermost: { instanceType: "c6a.large", env: { HTTP_PROXY: "http://proxy.internal:3128" } } } : {}),
    };
    const merged = { ...base, ...overrides };
    return Object.fromEntries(Object.entries(merged).filter(([, value]) => value !== undefined));
}

/** The same configuration as Pulumi hands it to the program: strings, objects as JSON. */
export function rawConfig(config: Record<string, unknown>): Record<string, string> {
    return Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
}

/** The settings the program reads from `config`, as of `now` where that matters. */
export function parseConfig(config: Record<string, unknown>, now?: Date): DeploymentSettings {
    return parseSettings(rawConfig(config), now);
}

/** Asserts that reading `config` fails with one ConfigError naming `key` first and matching `message`. */
export function assertConfigRejected(config: Record<string, unknown>, key: string, message: RegExp, now?: Date): void {
    assert.throws(
        () => parseConfig(config, now),
        (error: unknown) => {
            assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
            assert.equal(error.key, key, error.message);
            assert.match(error.message, new RegExp(`^gitlab-mattermost:${key.replace(/[.[\]]/g, "\\$&")} `));
            assert.match(error.message, message);
            return true;
        },
    );
}
