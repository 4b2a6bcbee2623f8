// Who may get into Mattermost: the sign-up and sign-in settings every Mattermost of the stack starts
// with, whatever runs it, and the rules for the first system administrator the program creates.
// Pure module, shared by every way the program renders Mattermost's environment.

import { ConfigError } from "../settings/configError";

/** A setting the program gives Mattermost unless `mattermost.env` sets the same variable. */
export interface SignUpDefault {
    /** Mattermost's setting, as its System Console and config.json name it. */
    readonly setting: string;
    readonly value: "true" | "false";
    readonly why: string;
}

/**
 * Secure defaults for a private company server. Accounts come from GitLab: a stranger cannot create
 * one with an e-mail address, and an invitation link leads only to the GitLab sign-in. Password
 * accounts (the first administrator) sign in with their username. Mattermost's own defaults for
 * guest accounts (off), personal access tokens (off) and a new team's "allow any user to join"
 * (off) are already closed, so they are left to Mattermost.
 */
export const SIGN_UP_DEFAULTS: Readonly<Record<string, SignUpDefault>> = {
    MM_EMAILSETTINGS_ENABLESIGNUPWITHEMAIL: {
        setting: "EmailSettings.EnableSignUpWithEmail",
        value: "false",
        why: "nobody creates an account with an e-mail address and password; accounts come from GitLab",
    },
    MM_TEAMSETTINGS_ENABLEOPENSERVER: {
        setting: "TeamSettings.EnableOpenServer",
        value: "false",
        why: "nobody joins without an invitation",
    },
    MM_EMAILSETTINGS_ENABLESIGNINWITHEMAIL: {
        setting: "EmailSettings.EnableSignInWithEmail",
        value: "false",
        why: "GitLab users sign in through GitLab; password accounts use their username",
    },
    MM_EMAILSETTINGS_ENABLESIGNINWITHUSERNAME: {
        setting: "EmailSettings.EnableSignInWithUsername",
        value: "true",
        why: "the first system administrator signs in with its username and password",
    },
};

/**
 * Checks a mattermost.env value that replaces a sign-up default. Mattermost reads a boolean variable
 * with Go's strconv.ParseBool and silently keeps its file's value when that fails
 * (server/config/environment.go applyEnvKey); only its two plain spellings are accepted here.
 */
export function checkSignUpOverride(name: string, value: string): void {
    if (Object.hasOwn(SIGN_UP_DEFAULTS, name) && value !== "true" && value !== "false") {
        throw new ConfigError(
            `mattermost.env.${name}`,
            `sets ${SIGN_UP_DEFAULTS[name].setting} and must be true or false, got ${JSON.stringify(value)}.`,
        );
    }
}

/**
 * Team creation is a permission, not a setting (TeamSettings.EnableTeamCreation moved into the roles
 * in Mattermost 4.9): the program takes it from every user's role once, when it creates the first
 * system administrator, so only system administrators create teams.
 */
export const TEAM_CREATION = { role: "system_user", permission: "create_team" } as const;

/**
 * Usernames Mattermost accepts from its own sign-up form: lower-case letters, digits, '.', '-' and
 * '_' (server/public/model/user.go IsValidUsername, which also refuses the reserved names), and,
 * as the form asks, 3 to 22 characters starting with a letter.
 */
const USERNAME = /^[a-z][a-z0-9._-]{2,21}$/;
const RESERVED_USERNAMES = ["all", "channel", "matterbot", "system"];

/** Refuses an administrator username Mattermost would refuse, naming the config key. */
export function checkAdminUsername(username: string, key: string): void {
    if (!USERNAME.test(username)) {
        throw new ConfigError(
            key,
            `must be a Mattermost username: 3 to 22 characters, lower-case letters, digits, '.', '-' and '_', starting with a letter; got ${JSON.stringify(username)}.`,
        );
    }
    if (RESERVED_USERNAMES.includes(username)) {
        throw new ConfigError(key, `is ${username}, a name Mattermost reserves (${RESERVED_USERNAMES.join(", ")}). Choose another, e.g. mmadmin.`);
    }
}

/** The first administrator's e-mail address: Mattermost requires one; it is in the stack's own zone. */
export function adminEmail(username: string, dnsZone: string): string {
    return `${username}@${dnsZone}`;
}

/**
 * Written on the Mattermost host by ensure-mattermost-admin.sh once the program's first system
 * administrator exists. Until then the Mattermost vhost refuses every request that could create an
 * account (FIRST_ADMIN_GATE): Mattermost makes the first account of an empty server its system
 * administrator whichever way it is created, a GitLab sign-in included (users service CreateUser), and
 * GitLab sign-in needs neither e-mail sign-up nor an open server (app CreateOAuthUser).
 */
export const FIRST_ADMIN_FLAG = "/var/lib/gitlab-mattermost/mattermost-first-admin";

/**
 * Request paths (nginx's normalised $uri, matched without regard to case) through which an account can
 * be created: the single sign-on routes (Mattermost web/oauth.go: /oauth/<service>/login|signup|complete,
 * /login/<service>/complete, /signup/<service>/complete) and the users API (POST /api/v4/users).
 */
export const ACCOUNT_CREATING_PATHS = "^/(?:(?:oauth|login|signup)/[^/]+/|api/v4/users/?$)";

/**
 * nginx directives for the Mattermost vhost's server block: 503 for an account-creating request while
 * FIRST_ADMIN_FLAG is missing. Server-level rewrite directives run before any location is chosen, so
 * they cover every location of the block; health checks and ACME challenges pass.
 */
export function firstAdminGate(flagFile: string = FIRST_ADMIN_FLAG): string {
    return [
        "# No account can be created until the program's first system administrator exists.",
        'set $first_admin_gate "";',
        `if ($uri ~* "${ACCOUNT_CREATING_PATHS}") { set $first_admin_gate "account"; }`,
        `if (!-f ${flagFile}) { set $first_admin_gate "\${first_admin_gate}-pending"; }`,
        'if ($first_admin_gate = "account-pending") { return 503; }',
    ].join("\n");
}
