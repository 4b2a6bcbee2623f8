// gitlab.rb sections that more than one host role writes. Pure module.

import { gitlabOauthEndpoints, mattermostOauthApplication } from "../../mattermost/oauthApplication";
import type { GitlabRbSection, GitlabRbSetting } from "../gitlabRb";
import type { DeploymentSettings, MailServer } from "../../settings/settings";
import { mattermostEnv } from "../../mattermost/mattermostEnv";
import { firstAdminGate } from "../../mattermost/signUpPolicy";
import { SSL_DIR } from "../../tls/tlsPlan";

/**
 * Values gitlab.rb needs that exist only at deploy time, most of them secret; the file is written
 * 0600 and reaches the host on stdin.
 */
export interface DeployTimeValues {
    /** Uid of the OAuth application Mattermost signs in with. */
    readonly oauthClientId: string;
    /** Secret of that application. */
    readonly oauthClientSecret: string;
    /** Password of GitLab's root user, used when the database is first seeded. */
    readonly rootPassword: string;
    /** The SMTP server with its credentials, when mail is configured. */
    readonly mailServer?: MailServer;
    /** The stack's backup bucket, where `gitlab-backup create` uploads GitLab's archives. */
    readonly backupBucket?: BackupBucket;
}

/** The S3 bucket the backups go to. */
export interface BackupBucket {
    readonly name: string;
    readonly region: string;
}

/** Which of the two vhosts a host serves. */
export interface ServedVhosts {
    readonly gitlab: boolean;
    readonly mattermost: boolean;
}

/** Certificates for the names this host serves, and the HTTP-to-HTTPS redirect of each vhost. */
export function tlsSection(settings: DeploymentSettings, vhosts: ServedVhosts): GitlabRbSection {
    const tls = settings.tls;
    if (tls.mode === "none") {
        return {
            title: "TLS",
            note: "the URLs are http, so no certificate is used",
            settings: [{ key: "letsencrypt['enable']", value: false }],
        };
    }
    const redirects: GitlabRbSetting[] = [
        ...(vhosts.gitlab ? [{ key: "nginx['redirect_http_to_https']", value: true }] : []),
        ...(vhosts.mattermost ? [{ key: "mattermost_nginx['redirect_http_to_https']", value: true }] : []),
    ];
    if (tls.mode === "letsencrypt") {
        const contact: GitlabRbSetting[] = tls.contactEmail ? [{ key: "letsencrypt['contact_emails']", value: [tls.contactEmail] }] : [];
        return {
            title: "TLS",
            note: "Let's Encrypt, renewed by Omnibus's own cron job",
            settings: [{ key: "letsencrypt['enable']", value: true }, ...contact, ...redirects],
        };
    }
    return {
        title: "TLS",
        note: `certificates in ${SSL_DIR}, at the paths Omnibus expects for each name, written by this program`,
        settings: [{ key: "letsencrypt['enable']", value: false }, ...redirects],
    };
}

/** The Mattermost service: its account, environment and GitLab sign-in. */
export function mattermostSection(settings: DeploymentSettings, secrets: DeployTimeValues, opts: { explicitEndpoints: boolean }): GitlabRbSection {
    const mm = settings.mattermost;
    const endpoints = gitlabOauthEndpoints(settings);
    const account: GitlabRbSetting[] = [
        ...(mm.uid === undefined ? [] : [{ key: "mattermost['uid']", value: mm.uid }]),
        ...(mm.gid === undefined ? [] : [{ key: "mattermost['gid']", value: mm.gid }]),
    ];
    const environment = mattermostEnv(settings, secrets.mailServer);
    const env: GitlabRbSetting[] = Object.keys(environment).length === 0 ? [] : [{ key: "mattermost['env']", value: environment }];
    const endpointSettings: GitlabRbSetting[] = opts.explicitEndpoints
        ? [
              { key: "mattermost['gitlab_auth_endpoint']", value: endpoints.auth },
              { key: "mattermost['gitlab_token_endpoint']", value: endpoints.token },
              { key: "mattermost['gitlab_user_api_endpoint']", value: endpoints.userApi },
          ]
        : [];
    return {
        title: "Mattermost",
        note: "its environment, sign-in through GitLab with the application this program registers, and no account before the first administrator",
        settings: [
            ...account,
            ...env,
            { key: "mattermost['gitlab_enable']", value: true },
            { key: "mattermost['gitlab_id']", value: secrets.oauthClientId },
            { key: "mattermost['gitlab_secret']", value: secrets.oauthClientSecret },
            { key: "mattermost['gitlab_scope']", value: mattermostOauthApplication(settings).scopes },
            ...endpointSettings,
            // From Mattermost's first start: no account before the program's first administrator.
            { key: "mattermost_nginx['custom_gitlab_mattermost_server_config']", value: firstAdminGate() },
        ],
    };
}

/** A section that may not apply, as a list of zero or one. */
export function optional(section: GitlabRbSection | undefined): GitlabRbSection[] {
    return section ? [section] : [];
}

/** GitLab's outgoing mail: the same server Mattermost uses. */
export function gitlabMailSection(settings: DeploymentSettings, secrets: DeployTimeValues): GitlabRbSection | undefined {
    const mail = settings.mail;
    const server = secrets.mailServer;
    if (!mail || !server) {
        return undefined;
    }
    const credentials: GitlabRbSetting[] =
        server.username === undefined
            ? []
            : [
                  { key: "gitlab_rails['smtp_user_name']", value: server.username },
                  { key: "gitlab_rails['smtp_password']", value: server.password ?? "" },
                  { key: "gitlab_rails['smtp_authentication']", value: "login" },
              ];
    return {
        title: "Mail",
        note: mail.provider === "ses" ? "Amazon SES, with the SMTP credentials of this stack's IAM user" : "the SMTP server Mattermost uses too",
        settings: [
            { key: "gitlab_rails['smtp_enable']", value: true },
            { key: "gitlab_rails['smtp_address']", value: server.address },
            { key: "gitlab_rails['smtp_port']", value: server.port },
            ...credentials,
            { key: "gitlab_rails['smtp_enable_starttls_auto']", value: server.security === "STARTTLS" },
            { key: "gitlab_rails['smtp_tls']", value: server.security === "TLS" },
            { key: "gitlab_rails['gitlab_email_from']", value: mail.from },
            ...(mail.replyTo === undefined ? [] : [{ key: "gitlab_rails['gitlab_email_reply_to']", value: mail.replyTo }]),
            ...(mail.fromName === undefined ? [] : [{ key: "gitlab_rails['gitlab_email_display_name']", value: mail.fromName }]),
        ],
    };
}

/**
 * GitLab's own backups: `gitlab-backup create` uploads each archive to the bucket with the host's
 * instance profile, and keeps a local copy for a day only.
 */
export function gitlabBackupSection(values: DeployTimeValues): GitlabRbSection | undefined {
    const bucket = values.backupBucket;
    if (!bucket) {
        return undefined;
    }
    return {
        title: "Backups",
        note: "gitlab-backup create uploads to the stack's bucket with the instance profile",
        settings: [
            { key: "gitlab_rails['backup_upload_connection']", value: { provider: "AWS", region: bucket.region, use_iam_profile: true } },
            { key: "gitlab_rails['backup_upload_remote_directory']", value: bucket.name },
            { key: "gitlab_rails['backup_keep_time']", value: LOCAL_BACKUP_KEEP_SECONDS },
        ],
    };
}

/** Local archives are only the upload's source; the bucket keeps the history. */
const LOCAL_BACKUP_KEEP_SECONDS = 86400;

/** GitLab's first administrator. Omnibus reads the password only when it seeds the database. */
export function rootAccountSection(secrets: DeployTimeValues): GitlabRbSection {
    return {
        title: "Root account",
        note: "used once, when the database is seeded",
        settings: [{ key: "gitlab_rails['initial_root_password']", value: secrets.rootPassword }],
    };
}
