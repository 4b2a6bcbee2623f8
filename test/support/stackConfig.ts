// Stack configurations for tests, as an administrator would write them.

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
