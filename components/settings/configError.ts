// The error every configuration check raises. Pure module.

/** The project name, which is also the configuration namespace. */
export const PROJECT = "gitlab-mattermost";

/** A configuration value that cannot be used. `key` is the full path, e.g. `gitlab.version`. */
export class ConfigError extends Error {
    constructor(
        readonly key: string,
        problem: string,
    ) {
        super(`${PROJECT}:${key} ${problem}`);
        this.name = "ConfigError";
    }
}
