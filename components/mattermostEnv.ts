// Mattermost's environment as gitlab.rb sets it (`mattermost['env']`). Environment variables override
// config.json and lock the setting in the System Console, so this is how settings stay declarative.
// Pure module.

import { ConfigError } from "./configError";
import type { DeploymentSettings } from "./settings";
import { EMBEDDED_CERT_DIR, trustsPrivateCa } from "./tlsPlan";

/** A variable this program sets, with the reason, for error messages. */
interface ProgramVariable {
    readonly value: string;
    readonly setBecause: string;
}

/** Variables this program sets. The configuration's mattermost.env may not set any of them. */
export function programEnv(settings: DeploymentSettings): Readonly<Record<string, ProgramVariable>> {
    const variables: Record<string, ProgramVariable> = {};
    if (trustsPrivateCa(settings.tls)) {
        // Omnibus's default already points here, but it must not be lost: the private CA reaches
        // Mattermost's token calls to GitLab only through this directory.
        variables.SSL_CERT_DIR = { value: EMBEDDED_CERT_DIR, setBecause: `tls.mode ${settings.tls.mode} makes Mattermost trust the stack's CA` };
    }
    return variables;
}

/** Mattermost's whole environment: the program's variables, then the administrator's. */
export function mattermostEnv(settings: DeploymentSettings): Readonly<Record<string, string>> {
    const own = Object.fromEntries(Object.entries(programEnv(settings)).map(([name, variable]) => [name, variable.value]));
    return { ...own, ...settings.mattermost.env };
}

/** Refuses a mattermost.env entry that would override a variable this program sets. */
export function checkEnvCollisions(settings: DeploymentSettings): void {
    const own = programEnv(settings);
    for (const name of Object.keys(settings.mattermost.env)) {
        const variable = own[name];
        if (variable) {
            throw new ConfigError(`mattermost.env.${name}`, `collides with a variable this program sets (${variable.setBecause}). Remove it from mattermost.env.`);
        }
    }
}
