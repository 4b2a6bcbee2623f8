// The whole deployment of one stack, wired in the order Omnibus needs: network, hosts, DNS, the
// backup bucket, and per host the install, backups, upgrade, certificates, gitlab.rb and health gates
// (a standalone Mattermost host: its own install, settings, nginx and health gate, without Omnibus);
// then the OAuth applications, mail, the GitLab plugin and a requested restore.

import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { MATTERMOST_BACKUP_FOLDER, MATTERMOST_RESTORE, backupJobs, lastSuccessKey, ownBackupKeys, runNowCommand } from "../backups/backupPlan";
import { BackupSchedule, MattermostRestore, type BackupScheduleArgs } from "../backups/backupSchedule";
import { BackupStorage, HostBackupAccess, lastRecordedBackup } from "../backups/backupStorage";
import { Certificates } from "../tls/certificates";
import { Dns } from "../aws/dns";
import { GitlabConfig, type HealthCheck } from "../omnibus/gitlabConfig";
import { FirstAdmin } from "../mattermost/firstAdmin";
import { PointInTimeRecovery } from "../backups/pointInTimeRecovery";
import { readPointInTime } from "../backups/pitr";
import { mattermostTools } from "../mattermost/mattermostTools";
import { GitlabPlugin } from "../mattermost/gitlabPlugin";
import { DataVolume, DataVolumeSnapshots } from "../aws/dataVolume";
import { DataVolumeMount, OMNIBUS_DATA } from "../omnibus/dataVolumeMount";
import { STANDALONE_DATABASE_COMMAND, STANDALONE_DATA_VOLUME, STANDALONE_LAYOUT } from "../mattermost/standalone/hostLayout";
import { StandaloneMattermostHost } from "../mattermost/standalone/standaloneMattermostHost";
import { Host, ubuntuAmi } from "../aws/host";
import { HostFiles, contentDigest } from "../omnibus/hostFiles";
import { hostFile } from "../omnibus/hostScripts";
import { SesMail } from "../aws/mail";
import { Network } from "../aws/network";
import { OauthCredentials, OauthRegistration } from "../mattermost/oauth";
import { gitlabPluginOauthApplication, mattermostOauthApplication, type OauthApplication } from "../mattermost/oauthApplication";
import { OmnibusInstall } from "../omnibus/omnibusInstall";
import { OmnibusUpgrade } from "../omnibus/omnibusUpgrade";
import { gitlabRbFor } from "../gitlabRb/roles";
import type { DeploymentSettings, MailServer, StandaloneMattermost } from "../settings/settings";
import { SshAccess } from "../aws/sshAccess";
import { PRIVATE_CA_PATH, retiredTlsFiles, tlsFiles, trustsPrivateCa, type TlsFile } from "../tls/tlsPlan";
import { bundledMattermostHostPlan, planHosts, runsOmnibus, type HostPlan, type OmnibusHostPlan } from "../settings/topology";
import type { VersionPlan } from "./upgrade";
import { formatVersion } from "../versions/versions";
import { BundledDataRemoval, MattermostMigration } from "../mattermost/migration/mattermostMigration";
import { FIRST_LINE_WITHOUT_BUNDLE, type MattermostPlacement } from "../mattermost/migration/migrationPlan";

/**
 * A resource declared further down, for resources declared before it to wait for: the move of a
 * bundled Mattermost comes after steps of both hosts and before others of the same hosts.
 */
function declaredBelow<T extends pulumi.Resource>(): { readonly resource: Promise<T>; declare(resource: T): T } {
    let settle!: (resource: T) => void;
    const resource = new Promise<T>((resolve) => (settle = resolve));
    return { resource, declare: (declared) => (settle(declared), declared) };
}

/** How long an upgrade step waits for GitLab's batched background migrations before it stops the walk. */
const MIGRATION_WAIT_SECONDS = 6 * 3600;

/** The SMTP server the hosts use: the configured one, or SES's with its generated credentials. */
function mailServerOf(settings: DeploymentSettings, zoneId: pulumi.Output<string>, opts: pulumi.ComponentResourceOptions): pulumi.Output<MailServer | undefined> {
    const mail = settings.mail;
    if (mail?.provider === "ses") {
        return new SesMail("ses", { domain: settings.dnsZone, zoneId }, opts).server;
    }
    const server: MailServer | undefined = mail && {
        address: mail.host,
        port: mail.port,
        security: mail.security,
        ...(mail.username === undefined ? {} : { username: mail.username, password: mail.password }),
    };
    return pulumi.secret(pulumi.output(server));
}

export interface DeploymentArgs {
    /** Validated configuration, from `readStackSettings`. */
    settings: DeploymentSettings;
    /** What to do about the GitLab version, from `planVersion`. */
    versionPlan: VersionPlan;
    /** The availability zone that offers every host's instance type, from `chooseHostZone`. */
    availabilityZone: string;
    /** The standalone host's name and where the bundled Mattermost's data is, from `placeMattermost`. */
    placement: MattermostPlacement;
}

/** What the stack exports for one host. */
export interface HostOutputs {
    publicIp: pulumi.Output<string>;
    /** Run after saving the `sshPrivateKey` output to gitlab-mattermost.key with mode 0600. */
    sshCommand: pulumi.Output<string>;
}

/** The host that runs Mattermost, as the steps after it see it. */
interface MattermostSide {
    /** Mattermost answers healthy with its settings once these have run. */
    readonly ready: pulumi.Resource[];
    /** The operator tools installed on it (the bundle's wrappers). */
    readonly tools: pulumi.Resource[];
    readonly backups: BackupSchedule;
    readonly dataVolumeId: pulumi.Output<string>;
    /** Mattermost's own release on a host of its own, not Omnibus's. */
    readonly standalone: boolean;
    /** The restore to the moment backup.restoreFrom names (standalone only). */
    readonly pointInTimeRestore?: pulumi.Resource;
}

export class Deployment extends pulumi.ComponentResource {
    readonly gitlabUrl: string;
    readonly mattermostUrl: string;
    readonly hosts: Record<string, HostOutputs>;
    /** Secret. */
    readonly initialRootPassword: pulumi.Output<string>;
    /** Mattermost's first system administrator, a password account (`mattermost.adminUsername`). */
    readonly mattermostAdminUsername?: string;
    /** Secret: that account's generated password. */
    readonly mattermostAdminPassword?: pulumi.Output<string>;
    /** Secret. */
    readonly sshPrivateKey: pulumi.Output<string>;
    /** Opens Mattermost's database in the PostgreSQL on its host. */
    readonly mattermostDatabaseCommand: pulumi.Output<string>;
    /** Runs the Mattermost binary on its host (append arguments, e.g. `version`). */
    readonly mattermostCliCommand: pulumi.Output<string>;
    /** Runs mmctl in local mode on the Mattermost host (append arguments, e.g. `user list`). */
    readonly mmctlCommand: pulumi.Output<string>;
    /** The S3 bucket holding the stack's backups. */
    readonly backupBucket: pulumi.Output<string>;
    /** Per backup job (`mattermost-backup`, `gitlab-full-backup`): the command that runs it now. */
    readonly backupCommands: Record<string, pulumi.Output<string>>;
    /** Restores Mattermost from its latest complete backup (replace `latest` with a timestamp for another); absent for standalone until its restore tool is adapted. */
    readonly mattermostRestoreCommand?: pulumi.Output<string>;
    /** Per backup job: the timestamp of its last success recorded in the bucket, as of this run. */
    readonly lastSuccessfulBackups: Record<string, pulumi.Output<string>>;
    /** The private CA the hosts' certificates chain to, for browsers and runners; absent otherwise. */
    readonly caCertificate?: pulumi.Output<string>;
    /** The availability zone the hosts are in. */
    readonly availabilityZone: pulumi.Output<string>;
    /**
     * `value` once this run's move or removal of the bundled Mattermost is complete: what the stack
     * records about them must not be written by a run that failed half-way (a failed update still
     * writes the outputs that resolved, pulumi/pulumi#15754).
     */
    readonly recorded: (value: string) => pulumi.Output<string>;

    // Child names are not prefixed with the deployment's name: there is one deployment per stack.
    constructor(name: string, args: DeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:Deployment", name, {}, opts);
        const { settings } = args;
        const parent = { parent: this };

        const network = new Network("network", { sshAllowedCidrs: settings.ssh.allowedCidrs, availabilityZone: args.availabilityZone }, parent);
        const ssh = new SshAccess("ssh", parent);
        const amiId = ubuntuAmi(parent);
        const credentials = new OauthCredentials("oauth", { rotation: settings.oauth.rotation }, parent);
        const rootPassword = new random.RandomPassword("root-password", {
            length: 32,
            minLower: 2,
            minUpper: 2,
            minNumeric: 2,
            minSpecial: 2,
            overrideSpecial: "-_.,+",
        }, parent);

        const move = args.versionPlan.mattermostMigration;
        const bundledData = args.placement.bundledData;
        const plans = planHosts(settings, args.placement.standaloneHost);
        // A split stack's old Mattermost host keeps its instance and data volume, as they are, while it holds
        // the bundled data; the run that removes the data lets the next one delete the instance and forget the volume.
        const retiredPlan = bundledData?.host === "mattermost" ? bundledMattermostHostPlan(settings) : undefined;
        const keptAsIs = (plan: HostPlan) => (plan === retiredPlan ? { removable: bundledData?.removing === true } : undefined);
        const storage = new BackupStorage("backups", { retentionDays: settings.backup.retentionDays }, parent);
        const hostPlans = [...plans, ...(retiredPlan ? [retiredPlan] : [])];
        const access = new Map(
            hostPlans.map((plan) => [
                plan,
                new HostBackupAccess(`${plan.name}-backup-access`, {
                    bucketArn: storage.bucketArn,
                    own: ownBackupKeys(plan, pulumi.getStack(), bundledData),
                    // Only a standalone host's own PostgreSQL archives its WAL to the bucket.
                    pointInTimeRecovery: plan.role === "mattermost-standalone",
                }, parent),
            ]),
        );
        const accessOf = (plan: HostPlan) => access.get(plan) as HostBackupAccess;
        const hosts = new Map<HostPlan, Host>(
            hostPlans.map((plan) => [
                plan,
                new Host(plan.name, {
                    permissions: accessOf(plan),
                    sshAccess: settings.ssh.access,
                    keptAsIs: keptAsIs(plan),
                    instanceType: plan.instanceType,
                    volumeSizeGiB: plan.volumeSizeGiB,
                    amiId,
                    subnetId: network.subnetId,
                    securityGroupId: network.securityGroupId,
                    keyName: ssh.keyName,
                    privateKey: ssh.privateKey,
                }, parent),
            ]),
        );
        const hostOf = (plan: HostPlan) => hosts.get(plan) as Host;

        // A move points Mattermost's name at the standalone host only once the move is verified (below).
        const mattermostName = settings.mattermostExternalUrl.host;
        const movedName = declaredBelow<pulumi.Resource>();
        const dns = new Dns("dns", {
            zone: settings.dnsZone,
            records: plans.flatMap((plan) => plan.dnsNames.filter((dnsName) => !(move && dnsName === mattermostName)).map((dnsName) => ({ name: dnsName, address: hostOf(plan).publicIp }))),
        }, parent);
        const moveVerified = move ? [declaredBelow<pulumi.Resource>(), declaredBelow<pulumi.Resource>()] : [];
        // What waits for the move: the GitLab host's new gitlab.rb and backups, the standalone host's health gate and all after it.
        const afterMove = moveVerified.map((step) => step.resource);

        const mailServer = mailServerOf(settings, dns.zoneId, parent);
        const secrets = pulumi
            .all([credentials.clientId, credentials.clientSecret, rootPassword.result, mailServer, storage.bucketName, storage.region])
            .apply(([oauthClientId, oauthClientSecret, password, server, bucket, region]) => ({
                oauthClientId,
                oauthClientSecret,
                rootPassword: password,
                mailServer: server,
                backupBucket: { name: bucket, region },
            }));
        const tls = settings.tls;
        const certificates =
            tls.mode === "selfSigned" || tls.mode === "provided"
                ? new Certificates("tls", { tls, hostnames: { gitlab: settings.externalUrl.host, mattermost: settings.mattermostExternalUrl.host } }, parent)
                : undefined;
        const tlsFileContent = (file: TlsFile): pulumi.Output<string> => {
            const material = certificates as Certificates;
            return file.content.kind === "ca" ? (material.caCertificate as pulumi.Output<string>) : material.byName[file.content.name][file.content.kind];
        };

        new DataVolumeSnapshots("data-snapshots", { retentionDays: settings.backup.retentionDays }, parent);
        // Each host's data volume, mounted at `spec.mountPoint` before anything is installed.
        const mountDataVolume = (plan: HostPlan, spec: { mountPoint: string; label: string }) => {
            const host = hostOf(plan);
            const data = new DataVolume(plan.name, { availabilityZone: network.availabilityZone, instanceId: host.instanceId, settings: plan.dataVolume }, parent);
            const mount = new DataVolumeMount(plan.name, {
                connection: host.connection,
                instanceId: host.instanceId,
                volumeId: data.volumeId,
                attachment: data.attachment,
                ...spec,
            }, parent);
            return { data, mount };
        };
        // A host's backup jobs (components/backups/backupPlan.ts), their tools and timers, to the stack's bucket.
        const scheduleBackups = (plan: HostPlan, options: Pick<BackupScheduleArgs, "after" | "beforeUpgrade" | "enableTimersLater">) =>
            new BackupSchedule(`${plan.name}-backup`, {
                plan,
                backup: settings.backup,
                connection: hostOf(plan).connection,
                instanceId: hostOf(plan).instanceId,
                bucketName: storage.bucketName,
                region: storage.region,
                ...options,
            }, parent);
        // mattermost-cli and mmctl, the same commands on every kind of Mattermost host; none elsewhere.
        const installMattermostTools = (plan: HostPlan, after: pulumi.Resource[]): pulumi.Resource[] => {
            const tools = mattermostTools(plan);
            if (tools.length === 0) return [];
            const host = hostOf(plan);
            return new HostFiles(`${plan.name}-tools`, {
                connection: host.connection,
                instanceId: host.instanceId,
                files: tools.map((tool) => ({ path: tool.path, mode: "0755", content: hostFile(tool.source) })),
                after,
            }, parent).steps;
        };
        const configure = (plan: OmnibusHostPlan, after: pulumi.Input<pulumi.Resource>[], upgradeAfter: pulumi.Resource[]) => {
            const host = hostOf(plan);
            const { data, mount } = mountDataVolume(plan, OMNIBUS_DATA);
            const install = new OmnibusInstall(plan.name, {
                connection: host.connection,
                instanceId: host.instanceId,
                edition: settings.gitlab.edition,
                version: settings.gitlab.version,
                after: [mount.step],
            }, parent);
            const path = args.versionPlan.path;
            const backups = scheduleBackups(plan, {
                // A move's source keeps its backup tools and settings until the move is verified.
                after: [install.step, ...afterMove],
                // Before any package moves, the host's backups run once.
                beforeUpgrade: path && { after: upgradeAfter },
                enableTimersLater: plan.runsMattermost && settings.backup.restoreFrom !== undefined,
            });
            const upgrade =
                path &&
                new OmnibusUpgrade(plan.name, {
                    connection: host.connection,
                    instanceId: host.instanceId,
                    path,
                    migrationWait: plan.runsGitlab ? MIGRATION_WAIT_SECONDS : "none",
                    after: [install.step, ...(backups.beforeUpgrade ? [backups.beforeUpgrade] : []), ...upgradeAfter],
                }, parent);
            const packageReady = upgrade ? upgrade.step : install.step;
            const planned = tlsFiles(settings, plan);
            const files = planned.map((file) => ({ path: file.path, mode: file.mode, content: tlsFileContent(file) }));
            const hostFiles = files.length === 0 ? undefined : new HostFiles(plan.name, { connection: host.connection, instanceId: host.instanceId, files, after: [packageReady] }, parent);
            const trusted = files.filter((_, i) => planned[i].content.kind === "ca");
            // One host: new sign-in credentials reach Mattermost with this reconfigure, so their
            // application must exist before it, as in split, where the Mattermost host waits for it.
            const oauthAhead = plan.runsGitlab && plan.runsMattermost
                ? [new OauthRegistration("oauth-ahead", { connection: host.connection, instanceId: host.instanceId, application: mattermostOauthApplication(settings), credentials, after: [packageReady], ahead: { ifRunning: true } }, parent).step]
                : [];
            const healthChecks: HealthCheck[] = [
                ...(plan.runsGitlab ? [{ service: "gitlab", url: settings.externalUrl.href } as const] : []),
                ...(plan.runsMattermost ? [{ service: "mattermost", url: settings.mattermostExternalUrl.href } as const] : []),
            ];
            const config = new GitlabConfig(plan.name, {
                connection: host.connection,
                instanceId: host.instanceId,
                gitlabRb: pulumi.secret(
                    secrets.apply((s) => gitlabRbFor(plan.role, settings, s, `stack ${pulumi.getStack()}, ${plan.name} host`)),
                ),
                awaitDns: settings.tls.mode === "letsencrypt" ? { address: host.publicIp, names: plan.dnsNames } : undefined,
                healthChecks,
                after: [packageReady, ...(hostFiles?.steps ?? []), ...dns.recordsFor(plan.dnsNames), ...after, ...afterMove, ...oauthAhead],
                installedVersion: formatVersion(settings.gitlab.version),
                trustDigest: trusted.length === 0 ? undefined : contentDigest(trusted),
                certificateFiles: hostFiles && { steps: hostFiles.steps, digest: hostFiles.digest },
                retiredFiles: retiredTlsFiles(settings, plan),
                caFile: trustsPrivateCa(settings.tls) ? PRIVATE_CA_PATH : undefined,
            }, parent);
            const tools = installMattermostTools(plan, [install.step]);
            return { config, backups, tools, dataVolumeId: data.volumeId, packageReady };
        };

        // A standalone Mattermost host: no Omnibus. Its data volume is mounted before anything installs,
        // so a replaced instance finds its database and files there and installs over them.
        const configureStandalone = (plan: HostPlan, oauthAhead: pulumi.Resource): MattermostSide & { running: pulumi.Resource[] } => {
            const host = hostOf(plan);
            const { data, mount } = mountDataVolume(plan, STANDALONE_DATA_VOLUME);
            const release = settings.mattermost.standalone as StandaloneMattermost;
            const mattermostCertificate = certificates?.byName.mattermost;
            let backups!: BackupSchedule;
            const standalone = new StandaloneMattermostHost(plan.name, {
                connection: host.connection,
                instanceId: host.instanceId,
                release,
                settings: {
                    siteUrl: settings.mattermostExternalUrl,
                    gitlabUrl: settings.externalUrl,
                    env: settings.mattermost.env,
                    ...(settings.mattermost.emailBatching ? { emailBatching: settings.mattermost.emailBatching } : {}),
                },
                oauth: { clientId: credentials.clientId, clientSecret: credentials.clientSecret },
                mail: settings.mail && { settings: settings.mail, server: mailServer.apply((server) => server as MailServer) },
                license: release.license === undefined ? undefined : pulumi.secret(release.license),
                tls: settings.tls,
                certificate: mattermostCertificate && { chain: mattermostCertificate.certificate, key: mattermostCertificate.key },
                // GitLab's certificate chains to the stack's CA: Mattermost's calls to GitLab must trust it.
                trustedCa: trustsPrivateCa(settings.tls) ? certificates?.caCertificate : undefined,
                awaitDns: settings.tls.mode === "letsencrypt" ? { address: host.publicIp, names: plan.dnsNames, records: move ? [movedName.resource] : dns.recordsFor(plan.dnsNames) } : undefined,
                // The application it signs in with exists before its settings name it.
                after: [mount.step, oauthAhead],
                healthAfter: afterMove,
                // The upgrade backs up first: the backup tools go in once the database exists.
                beforeUpgrade: (databaseReady) => {
                    backups = scheduleBackups(plan, { after: databaseReady, enableTimersLater: true });
                    return [backups.toolsReady];
                },
            }, parent);
            // Scheduled backups start once Mattermost answers healthy, or, with a restore, after it (below).
            if (settings.backup.restoreFrom === undefined) backups.enableTimers([standalone.healthGate]);
            // Its database's WAL goes to the bucket continuously; the restore tool sources the backup tools' common file.
            const pointInTime = settings.backup.restoreFrom === undefined ? undefined : readPointInTime(settings.backup.restoreFrom);
            const recovery = new PointInTimeRecovery(`${plan.name}-pitr`, {
                connection: host.connection,
                instanceId: host.instanceId,
                bucketName: storage.bucketName,
                region: storage.region,
                retentionDays: settings.backup.retentionDays,
                after: [standalone.healthGate, backups.toolsReady],
                restore: pointInTime === undefined ? undefined : { to: settings.backup.restoreFrom as string, after: [standalone.healthGate], dataVolumeId: data.volumeId },
            }, parent);
            return {
                // What a move onto it waits for: Mattermost running with its settings, the backup settings in place.
                running: [standalone.running, backups.toolsReady],
                ready: [standalone.healthGate],
                tools: installMattermostTools(plan, [standalone.healthGate]),
                backups,
                dataVolumeId: data.volumeId,
                standalone: true,
                ...(recovery.restore ? { pointInTimeRestore: recovery.restore } : {}),
            };
        };
        const omnibusSide = (host: ReturnType<typeof configure>): MattermostSide => ({
            ready: [host.config.apply, ...host.config.healthGates],
            tools: host.tools,
            backups: host.backups,
            dataVolumeId: host.dataVolumeId,
            standalone: false,
        });

        // GitLab first: the OAuth applications live in its database. Each application is registered
        // in two steps around the one that hands its consumer new credentials (oauth.rotation): ahead,
        // adding it and revoking nothing; after the consumer uses it, revoking the applications it replaced.
        const gitlabPlan = plans.find((plan) => plan.runsGitlab) as OmnibusHostPlan;
        const gitlabHost = configure(gitlabPlan, [], []);
        const gitlabConfig = gitlabHost.config;
        const register = (registrationName: string, application: OauthApplication, appCredentials: OauthCredentials, after: pulumi.Resource[], ahead?: { ifRunning: boolean }) =>
            new OauthRegistration(registrationName, {
                connection: hostOf(gitlabPlan).connection,
                instanceId: hostOf(gitlabPlan).instanceId,
                application,
                credentials: appCredentials,
                after,
                ahead,
            }, parent).step;
        const pluginCredentials = settings.mattermost.gitlabPlugin
            ? new OauthCredentials("gitlab-plugin-oauth", { rotation: settings.oauth.rotation }, parent)
            : undefined;
        // Split: the Mattermost host is configured only once the application it signs in with exists
        // (one host registers it ahead of its reconfigure, above). Upgrades go GitLab host first: the
        // Mattermost host upgrades only once GitLab answers healthy on the new version, so sign-in
        // works again as soon as Mattermost is back.
        // A move: the application exists already, and GitLab's new gitlab.rb waits for the move.
        const mattermostAhead = () => register("oauth-ahead", mattermostOauthApplication(settings), credentials, [move ? gitlabHost.packageReady : gitlabConfig.apply], { ifRunning: false });
        const omnibusMattermost = plans.find((plan): plan is OmnibusHostPlan => plan.runsMattermost && runsOmnibus(plan));
        const standalonePlan = plans.find((plan) => plan.role === "mattermost-standalone");
        const standaloneSide = standalonePlan && configureStandalone(standalonePlan, mattermostAhead());
        const mattermost: MattermostSide =
            standaloneSide ?? omnibusSide(omnibusMattermost === gitlabPlan ? gitlabHost : configure(omnibusMattermost as OmnibusHostPlan, [mattermostAhead()], gitlabConfig.healthGates));
        register("oauth", mattermostOauthApplication(settings), credentials, mattermost.ready);

        // The bundled Mattermost's move (components/mattermost/migration/), and the removal of what it left.
        const bundledPlan = bundledData && (bundledData.host === "gitlab" ? gitlabPlan : (retiredPlan as HostPlan));
        if (retiredPlan) {
            new DataVolume(retiredPlan.name, { availabilityZone: network.availabilityZone, instanceId: hostOf(retiredPlan).instanceId, settings: retiredPlan.dataVolume, keptAsIs: keptAsIs(retiredPlan) }, parent);
        }
        // A resource's URN resolves once its step has run, and never when it failed.
        const completion: pulumi.Output<string>[] = [];
        if (move) {
            // placeMattermost gives a move both: it plans one only for a standalone configuration.
            if (standaloneSide === undefined || standalonePlan === undefined || bundledPlan === undefined) {
                throw new Error("a move of the bundled Mattermost needs the standalone host and the bundle's host");
            }
            const standaloneHost = hostOf(standalonePlan);
            const migration = new MattermostMigration("mattermost-migration", {
                plan: move,
                bundled: {
                    connection: hostOf(bundledPlan).connection,
                    instanceId: hostOf(bundledPlan).instanceId,
                    after: [accessOf(bundledPlan), ...(bundledPlan === gitlabPlan ? [gitlabHost.packageReady] : [])],
                },
                standalone: {
                    connection: standaloneHost.connection,
                    instanceId: standaloneHost.instanceId,
                    after: [accessOf(standalonePlan), ...standaloneSide.running],
                },
            }, parent);
            migration.verified.forEach((step, index) => moveVerified[index]?.declare(step));
            const record = movedName.declare(dns.pointAt(mattermostName, standaloneHost.publicIp, migration.verified));
            const checked = migration.checkGitlabConfig(hostOf(gitlabPlan), FIRST_LINE_WITHOUT_BUNDLE, [gitlabConfig.apply, ...gitlabConfig.healthGates]);
            completion.push(...[record, checked, migration.retireStep, ...migration.verified].map((step) => step.urn));
        }
        if (bundledData?.removing && bundledPlan) {
            const removal = new BundledDataRemoval("mattermost-bundled-data", {
                connection: hostOf(bundledPlan).connection,
                instanceId: hostOf(bundledPlan).instanceId,
                standaloneBackupFolder: MATTERMOST_BACKUP_FOLDER,
                after: [...mattermost.ready, accessOf(bundledPlan)],
            }, parent);
            completion.push(removal.step.urn);
        }
        this.recorded = (value) => (completion.length === 0 ? pulumi.output(value) : pulumi.all(completion).apply(() => value));

        const mattermostPlan = plans.find((plan) => plan.runsMattermost) as HostPlan;
        const restoreFrom = settings.backup.restoreFrom;
        // A point in time is restored by the standalone host's point-in-time recovery; a backup by the restore tool.
        const restore =
            mattermost.pointInTimeRestore ??
            (restoreFrom &&
            new MattermostRestore("mattermost-restore", {
                backup: restoreFrom,
                connection: hostOf(mattermostPlan).connection,
                dataVolumeId: mattermost.dataVolumeId,
                // The restore tool and its settings come with the backups; their timers wait for it.
                after: [...mattermost.ready, mattermost.backups.toolsReady],
            }, parent).step);
        if (restore) {
            mattermost.backups.enableTimers([restore]);
        }
        // A standalone host's steps talk to its release's mmctl; the bundle's go through the installed wrapper.
        const mattermostMmctl = mattermost.standalone ? STANDALONE_LAYOUT.mmctl : undefined;
        // Right after the health gate (and a restore, which would replace the account), before anyone
        // else can sign in first; the plugin step, which restarts Mattermost, waits for it.
        const firstAdmin = new FirstAdmin("mattermost-admin", {
            settings,
            connection: hostOf(mattermostPlan).connection,
            instanceId: hostOf(mattermostPlan).instanceId,
            after: [...mattermost.ready, ...mattermost.tools, ...(restore ? [restore] : [])],
            mmctl: mattermostMmctl,
        }, parent);
        if (pluginCredentials) {
            const pluginApplication = gitlabPluginOauthApplication(settings);
            const plugin = new GitlabPlugin("gitlab-plugin", {
                settings,
                connection: hostOf(mattermostPlan).connection,
                instanceId: hostOf(mattermostPlan).instanceId,
                credentials: pluginCredentials,
                after: [
                    ...mattermost.ready,
                    register("gitlab-plugin-oauth-ahead", pluginApplication, pluginCredentials, [gitlabConfig.apply], { ifRunning: false }),
                    ...(restore ? [restore] : []),
                    firstAdmin.step,
                ],
                mmctl: mattermostMmctl,
            }, parent);
            register("gitlab-plugin-oauth", pluginApplication, pluginCredentials, [plugin.step]);
        }

        // `terminal`: ssh -t, which a program run as ssh's command gets only when asked (psql's prompt and
        // line editing need it); commands whose output may go to a pipe stay without (a terminal turns \n into \r\n).
        const sshCommand = (host: Host, terminal = false) => pulumi.interpolate`ssh ${terminal ? "-t " : ""}-i gitlab-mattermost.key ${host.sshDestination}`;
        const onMattermostHost = (commandLine: string, terminal = false) => pulumi.interpolate`${sshCommand(hostOf(mattermostPlan), terminal)} ${commandLine}`;
        this.gitlabUrl = settings.externalUrl.href;
        this.mattermostUrl = settings.mattermostExternalUrl.href;
        this.hosts = Object.fromEntries(
            [...hosts].map(([plan, host]) => [plan.name, { publicIp: host.publicIp, sshCommand: sshCommand(host) }]),
        );
        this.initialRootPassword = pulumi.secret(rootPassword.result);
        this.mattermostAdminUsername = firstAdmin.username;
        this.mattermostAdminPassword = firstAdmin.password;
        this.sshPrivateKey = ssh.privateKey;
        this.mattermostDatabaseCommand = onMattermostHost(mattermost.standalone ? STANDALONE_DATABASE_COMMAND : "sudo gitlab-psql -d mattermost_production", true);
        // The same installed tools on every kind of Mattermost host (components/mattermost/mattermostTools.ts).
        this.mattermostCliCommand = onMattermostHost("sudo mattermost-cli");
        this.mmctlCommand = onMattermostHost("sudo mmctl");
        this.mattermostRestoreCommand = onMattermostHost(`sudo ${MATTERMOST_RESTORE.command} latest`);
        this.caCertificate = trustsPrivateCa(settings.tls) ? certificates?.caCertificate : undefined;
        this.backupBucket = storage.bucketName;
        this.availabilityZone = network.availabilityZone;
        const jobs = plans.flatMap((plan) => backupJobs(plan).map((job) => ({ job, plan })));
        this.backupCommands = Object.fromEntries(
            jobs.map(({ job, plan }) => [job.command, pulumi.interpolate`${sshCommand(hostOf(plan))} ${runNowCommand(job)}`]),
        );
        this.lastSuccessfulBackups = Object.fromEntries(
            jobs.map(({ job }) => [job.command, lastRecordedBackup(storage.bucketName, lastSuccessKey(job, pulumi.getStack()), parent)]),
        );
        this.registerOutputs({
            gitlabUrl: this.gitlabUrl,
            mattermostUrl: this.mattermostUrl,
            initialRootPassword: this.initialRootPassword,
            mattermostDatabaseCommand: this.mattermostDatabaseCommand,
        });
    }
}
