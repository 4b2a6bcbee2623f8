// The validated shape of a stack's configuration, and every default in one place.
// Pure module: no cloud SDK, no Pulumi runtime.

import type { MattermostEdition } from "../versions/mattermostReleases";
import type { DataVolumeSettings } from "./dataVolume";
import type { Version } from "../versions/versions";

/** Where GitLab and Mattermost run. */
export type Topology = "single" | "split";

/** GitLab package flavour, as in the package names gitlab-ee and gitlab-ce. */
export type Edition = "ee" | "ce";

/**
 * How nginx on each host gets its certificates: from Let's Encrypt (Omnibus's integration), from a
 * private CA this program creates, from the administrator, or not at all for http URLs.
 */
export type TlsMode = "letsencrypt" | "selfSigned" | "provided" | "none";

/** The two names a deployment serves; certificates are kept per name. */
export type ServiceName = "gitlab" | "mattermost";

/** A validated external URL: http or https, a hostname, no path, the default port. */
export interface ExternalUrl {
    /** `http` or `https`. */
    readonly scheme: "http" | "https";
    /** Lower-case hostname, without a port. */
    readonly host: string;
    /** `scheme://host`, the form Omnibus expects (no trailing slash). */
    readonly href: string;
}

/** The GitLab package and the host that runs it. */
export interface GitlabSettings {
    /** Package edition: `ee` installs gitlab-ee, `ce` installs gitlab-ce. */
    readonly edition: Edition;
    /** Exact package version; 18.11.x is the last line that bundles Mattermost. */
    readonly version: Version;
    /** EC2 instance type of the GitLab host (the only host in single topology). Must be x86_64. */
    readonly instanceType: string;
    /** Size of the GitLab host's encrypted gp3 root volume, in GiB. */
    readonly volumeSizeGiB: number;
    /** The GitLab host's data volume, mounted at /var/opt/gitlab. */
    readonly dataVolume: DataVolumeSettings;
}

/**
 * Where Mattermost comes from: `bundled` runs the Mattermost that GitLab's package ships (up to GitLab
 * 18.11); `standalone` installs Mattermost's own release on a host of its own (topology split only).
 */
export type MattermostMode = "bundled" | "standalone";

/** The Mattermost release the standalone host installs. */
export interface StandaloneMattermost {
    /** Exact server version, x.y.z. */
    readonly version: Version;
    /** `enterprise` (runs as Entry without a licence) or `team`. */
    readonly edition: MattermostEdition;
    /** SHA-256 of the release tarball: from the version data, or `mattermost.checksum`. */
    readonly sha256: string;
    /** Licence file contents; secret. Absent: the enterprise build runs as Entry. */
    readonly license?: string;
    /** After a move from the bundle: remove the bundled data from the old host (host/migration/). */
    readonly removeBundledData?: true;
}

/** Mattermost: bundled with Omnibus, or standalone. */
export interface MattermostSettings {
    /** `bundled` or `standalone`. */
    readonly mode: MattermostMode;
    /** The release to install; present exactly when `mode` is `standalone`. */
    readonly standalone?: StandaloneMattermost;
    /** EC2 instance type of the Mattermost host (split topology only). Must be x86_64. */
    readonly instanceType: string;
    /** Size of the Mattermost host's root volume, in GiB (split topology only). */
    readonly volumeSizeGiB: number;
    /** The Mattermost host's data volume (split topology only). */
    readonly dataVolume: DataVolumeSettings;
    /** Numeric uid of the `mattermost` account, rendered as `mattermost['uid']`; unset leaves it to Omnibus. */
    readonly uid?: number;
    /** Numeric gid of the `mattermost` group, rendered as `mattermost['gid']`; unset leaves it to Omnibus. */
    readonly gid?: number;
    /** Extra environment for the Mattermost service (`mattermost['env']`), e.g. HTTP_PROXY. */
    readonly env: Readonly<Record<string, string>>;
    /** E-mail batching, rendered as Mattermost's batching variables; absent leaves Mattermost's default. */
    readonly emailBatching?: EmailBatchingSettings;
    /** Whether the GitLab plugin is enabled and configured, with an OAuth application of its own. */
    readonly gitlabPlugin: boolean;
    /** Username of the first system administrator, a password account the program creates. */
    readonly adminUsername: string;
}

/** Mattermost's e-mail batching (EmailSettings.EnableEmailBatching and its buffer and interval). */
export interface EmailBatchingSettings {
    readonly enabled: boolean;
    /** Notifications buffered before a batch is sent (EmailBatchingBufferSize). */
    readonly bufferSize: number;
    /** Seconds between batch checks (EmailBatchingInterval). */
    readonly intervalSeconds: number;
}

/** How mail leaves the SMTP connection: in the clear, wrapped in TLS, or upgraded with STARTTLS. */
export type MailSecurity = "none" | "TLS" | "STARTTLS";

/** What both GitLab and Mattermost put on their mail. */
interface MailIdentity {
    /** Sender address of GitLab's mail, and Mattermost's FeedbackEmail. */
    readonly from: string;
    /** Reply-To address, if replies should go elsewhere. */
    readonly replyTo?: string;
    /** Sender display name, if not the products' defaults. */
    readonly fromName?: string;
}

/** One SMTP configuration for GitLab and Mattermost. */
export type MailSettings =
    | (MailIdentity & {
          /** An external SMTP server. */
          readonly provider: "smtp";
          readonly host: string;
          readonly port: number;
          readonly security: MailSecurity;
          /** SMTP user; with it, authentication is on. */
          readonly username?: string;
          /** SMTP password; secret. */
          readonly password?: string;
      })
    | (MailIdentity & {
          /** Amazon SES in the stack's region, with a domain identity for dnsZone. */
          readonly provider: "ses";
      });

/** The SMTP server as the hosts use it, once known (for SES, only at deploy time). */
export interface MailServer {
    readonly address: string;
    readonly port: number;
    readonly security: MailSecurity;
    readonly username?: string;
    /** Secret. */
    readonly password?: string;
}

/** A certificate the administrator provides for one name. */
export interface ProvidedCertificate {
    /** PEM chain: the leaf first, then each issuer. */
    readonly chain: string;
    /** PEM private key of the leaf; secret. */
    readonly key: string;
}

/** Certificates for the two names, by mode. */
export type TlsSettings =
    | {
          /** The URLs are http: no certificate. */
          readonly mode: "none";
      }
    | {
          readonly mode: "letsencrypt";
          /** Let's Encrypt account e-mail. */
          readonly contactEmail?: string;
      }
    | {
          readonly mode: "selfSigned";
          /** Lifetime of each leaf certificate, in days. */
          readonly validityDays: number;
          /** A `pulumi up` this many days or fewer before a leaf expires replaces it. */
          readonly earlyRenewalDays: number;
      }
    | {
          readonly mode: "provided";
          /** Chain and key per name, validated before anything is created. */
          readonly certificates: Readonly<Record<ServiceName, ProvidedCertificate>>;
          /** The private CA behind the chains, when they are not publicly trusted; the hosts trust it. */
          readonly caCertificate?: string;
      };

/**
 * How `pulumi up` reaches the hosts' SSH: `direct` to port 22 from `allowedCidrs`; `ssm` through AWS
 * Systems Manager Session Manager, with no inbound port at all.
 */
export type SshAccessMode = "direct" | "ssm";

/** Administrative SSH access. */
export interface SshSettings {
    readonly access: SshAccessMode;
    /** Source IPv4 CIDRs allowed to reach port 22 (the network is IPv4 only); empty with `ssm`. */
    readonly allowedCidrs: readonly string[];
}

/** Mattermost's sign-in through GitLab. */
export interface OauthSettings {
    /** Raising this number replaces the OAuth application: new id and secret, old one revoked. */
    readonly rotation: number;
}

/** Everything `pulumi up` needs, validated. */
export interface DeploymentSettings {
    /** `single`: one host serves both names; `split`: a GitLab host and a Mattermost host. */
    readonly topology: Topology;
    /** GitLab's URL (`externalUrl`). */
    readonly externalUrl: ExternalUrl;
    /** Mattermost's URL (`mattermostExternalUrl`). */
    readonly mattermostExternalUrl: ExternalUrl;
    /** Existing public Route53 zone holding both hostnames, without a trailing dot. */
    readonly dnsZone: string;
    /** The GitLab package and host. */
    readonly gitlab: GitlabSettings;
    /** Mattermost and its host. */
    readonly mattermost: MattermostSettings;
    /** Certificates. */
    readonly tls: TlsSettings;
    /** SSH access. */
    readonly ssh: SshSettings;
    /** OAuth application lifecycle. */
    readonly oauth: OauthSettings;
    /** Outgoing mail for GitLab and Mattermost; absent leaves both unconfigured. */
    readonly mail?: MailSettings;
    /** Scheduled backups to the stack's S3 bucket, and a one-time restore. */
    readonly backup: BackupSettings;
}

/** Backups of both products to the stack's bucket. */
export interface BackupSettings {
    /** When the backups run, in systemd OnCalendar syntax (e.g. `daily`, `*-*-* 03:00:00`). */
    readonly schedule: string;
    /** Days a backup object is kept in the bucket before it may expire (only beyond the newest keepNewest). */
    readonly retentionDays: number;
    /** Complete backups per job that never expire, however old: the newest ones. */
    readonly keepNewest: number;
    /**
     * What to restore Mattermost to, once: a backup by its UTC timestamp (YYYYmmddTHHMMSSZ) or `latest`;
     * with a standalone Mattermost, a point in time (YYYY-MM-DDTHH:MM:SSZ) within retentionDays.
     */
    readonly restoreFrom?: string;
}

/** Defaults applied when a key is absent. The only place they are written down. */
export const DEFAULTS = {
    topology: "single" as Topology,
    gitlab: {
        edition: "ee" as Edition,
        version: "18.11.11",
        instanceType: "c6a.xlarge",
        /** Stays as it was: EBS cannot shrink the root volume of an existing host. */
        volumeSizeGiB: 100,
        /** gp3's baseline performance, included in its price. */
        dataVolume: { sizeGiB: 100, iops: 3000, throughputMiBps: 125 },
    },
    mattermost: {
        /** Only while gitlab.version is 18.11 or older; GitLab 19.x needs mattermost.mode set to standalone. */
        mode: "bundled" as const,
        edition: "enterprise" as MattermostEdition,
        instanceType: "c6a.large",
        volumeSizeGiB: 50,
        adminUsername: "mmadmin",
        dataVolume: { sizeGiB: 50, iops: 3000, throughputMiBps: 125 },
    },
    oauth: {
        rotation: 0,
    },
    ssh: {
        /** What stacks had before the choice existed: a stack that names its networks keeps them. */
        access: "direct" as SshAccessMode,
    },
    mail: {
        port: 587,
        security: "STARTTLS" as MailSecurity,
        /** Amazon SES's SMTP interface: STARTTLS on 587 (email-smtp.<region>.amazonaws.com). */
        sesPort: 587,
    },
    emailBatching: {
        /** Mattermost's own defaults (model EmailBatchingBufferSize, EmailBatchingInterval). */
        bufferSize: 256,
        intervalSeconds: 30,
    },
    backup: {
        schedule: "daily",
        retentionDays: 30,
        keepNewest: 3,
        /** Spreads the stacks' backups over the hour after the scheduled time. */
        randomizedDelay: "1h",
    },
    selfSigned: {
        validityDays: 365,
        earlyRenewalDays: 30,
        /** The stack's CA outlives many leaf renewals; replacing it means redistributing it. */
        caValidityDays: 3650,
    },
} as const;

/** Network layout of the program's own VPC. */
export const NETWORK = {
    vpcCidr: "10.42.0.0/16",
    subnetCidr: "10.42.1.0/24",
} as const;

/** How long `pulumi up` waits for GitLab and Mattermost to answer after a reconfigure. */
export const HEALTH_TIMEOUT_SECONDS = 900;
