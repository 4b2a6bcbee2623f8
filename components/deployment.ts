// The whole deployment of one stack: network, hosts, DNS, the Omnibus install, each host's gitlab.rb,
// the OAuth application, and the health gates, wired in the order Omnibus needs.

import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { Certificates } from "./certificates";
import { Dns } from "./dns";
import { GitlabConfig, type HealthCheck } from "./gitlabConfig";
import { Host, ubuntuAmi } from "./host";
import { HostFiles, contentDigest } from "./hostFiles";
import { Network } from "./network";
import { OauthCredentials, OauthRegistration } from "./oauth";
import { mattermostOauthApplication } from "./oauthApplication";
import { OmnibusInstall } from "./omnibusInstall";
import { gitlabRbFor } from "./roles";
import type { DeploymentSettings } from "./settings";
import { SshAccess } from "./sshAccess";
import { PRIVATE_CA_PATH, tlsFiles, trustsPrivateCa, type TlsFile } from "./tlsPlan";
import { planHosts, type HostPlan } from "./topology";
import { HOST_OS } from "./versions";

export interface DeploymentArgs {
    /** Validated configuration, from `readStackSettings`. */
    settings: DeploymentSettings;
}

/** What the stack exports for one host. */
export interface HostOutputs {
    publicIp: pulumi.Output<string>;
    /** Run after saving the `sshPrivateKey` output to gitlab-mattermost.key with mode 0600. */
    sshCommand: pulumi.Output<string>;
}

export class Deployment extends pulumi.ComponentResource {
    readonly gitlabUrl: string;
    readonly mattermostUrl: string;
    readonly hosts: Record<string, HostOutputs>;
    /** Secret. */
    readonly initialRootPassword: pulumi.Output<string>;
    /** Secret. */
    readonly sshPrivateKey: pulumi.Output<string>;
    /** Opens Mattermost's database in the bundled PostgreSQL. */
    readonly mattermostDatabaseCommand: pulumi.Output<string>;
    /** The private CA the hosts' certificates chain to, for browsers and runners; absent otherwise. */
    readonly caCertificate?: pulumi.Output<string>;

    // Child names are not prefixed with the deployment's name: there is one deployment per stack.
    constructor(name: string, args: DeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:Deployment", name, {}, opts);
        const { settings } = args;
        const parent = { parent: this };

        const network = new Network("network", { sshAllowedCidrs: settings.ssh.allowedCidrs }, parent);
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

        const plans = planHosts(settings);
        const hosts = new Map<HostPlan, Host>(
            plans.map((plan) => [
                plan,
                new Host(plan.name, {
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

        const dns = new Dns("dns", {
            zone: settings.dnsZone,
            records: plans.flatMap((plan) => plan.dnsNames.map((dnsName) => ({ name: dnsName, address: hostOf(plan).publicIp }))),
        }, parent);

        const secrets = pulumi.all([credentials.clientId, credentials.clientSecret, rootPassword.result]).apply(
            ([oauthClientId, oauthClientSecret, password]) => ({ oauthClientId, oauthClientSecret, rootPassword: password }),
        );
        const tls = settings.tls;
        const certificates =
            tls.mode === "selfSigned" || tls.mode === "provided"
                ? new Certificates("tls", { tls, hostnames: { gitlab: settings.externalUrl.host, mattermost: settings.mattermostExternalUrl.host } }, parent)
                : undefined;
        const tlsFileContent = (file: TlsFile): pulumi.Output<string> => {
            const material = certificates as Certificates;
            return file.content.kind === "ca" ? (material.caCertificate as pulumi.Output<string>) : material.byName[file.content.name][file.content.kind];
        };

        const configure = (plan: HostPlan, after: pulumi.Resource[]) => {
            const host = hostOf(plan);
            const install = new OmnibusInstall(plan.name, {
                connection: host.connection,
                instanceId: host.instanceId,
                edition: settings.gitlab.edition,
                version: settings.gitlab.version,
            }, parent);
            const planned = tlsFiles(settings, plan);
            const files = planned.map((file) => ({ path: file.path, mode: file.mode, content: tlsFileContent(file) }));
            const hostFiles = files.length === 0 ? undefined : new HostFiles(plan.name, { connection: host.connection, instanceId: host.instanceId, files, after: [install.step] }, parent);
            const trusted = files.filter((_, i) => planned[i].content.kind === "ca");
            const healthChecks: HealthCheck[] = [
                ...(plan.runsGitlab ? [{ service: "gitlab", url: settings.externalUrl.href } as const] : []),
                ...(plan.runsMattermost ? [{ service: "mattermost", url: settings.mattermostExternalUrl.href } as const] : []),
            ];
            return new GitlabConfig(plan.name, {
                connection: host.connection,
                instanceId: host.instanceId,
                gitlabRb: pulumi.secret(
                    secrets.apply((s) => gitlabRbFor(plan.role, settings, s, `stack ${pulumi.getStack()}, ${plan.name} host`)),
                ),
                awaitDns: settings.tls.mode === "letsencrypt" ? { address: host.publicIp, names: plan.dnsNames } : undefined,
                healthChecks,
                after: [install.step, ...(hostFiles?.steps ?? []), ...dns.records, ...after],
                trustDigest: trusted.length === 0 ? undefined : contentDigest(trusted),
                certificateFiles: hostFiles && { steps: hostFiles.steps, digest: hostFiles.digest },
                caFile: trustsPrivateCa(settings.tls) ? PRIVATE_CA_PATH : undefined,
            }, parent);
        };

        // GitLab first: the OAuth application lives in its database. In the split topology the
        // Mattermost host is configured only once the application it signs in with exists.
        const gitlabPlan = plans.find((plan) => plan.runsGitlab) as HostPlan;
        const gitlabConfig = configure(gitlabPlan, []);
        const registration = new OauthRegistration("oauth", {
            connection: hostOf(gitlabPlan).connection,
            instanceId: hostOf(gitlabPlan).instanceId,
            application: mattermostOauthApplication(settings),
            credentials,
            after: [gitlabConfig.apply],
        }, parent);
        for (const plan of plans.filter((p) => !p.runsGitlab)) {
            configure(plan, [registration.step]);
        }

        const sshCommand = (ip: pulumi.Output<string>) => pulumi.interpolate`ssh -i gitlab-mattermost.key ${HOST_OS.sshUser}@${ip}`;
        const mattermostPlan = plans.find((plan) => plan.runsMattermost) as HostPlan;
        this.gitlabUrl = settings.externalUrl.href;
        this.mattermostUrl = settings.mattermostExternalUrl.href;
        this.hosts = Object.fromEntries(
            plans.map((plan) => [plan.name, { publicIp: hostOf(plan).publicIp, sshCommand: sshCommand(hostOf(plan).publicIp) }]),
        );
        this.initialRootPassword = pulumi.secret(rootPassword.result);
        this.sshPrivateKey = ssh.privateKey;
        this.mattermostDatabaseCommand = pulumi.interpolate`${sshCommand(hostOf(mattermostPlan).publicIp)} sudo gitlab-psql -d mattermost_production`;
        this.caCertificate = trustsPrivateCa(settings.tls) ? certificates?.caCertificate : undefined;
        this.registerOutputs({
            gitlabUrl: this.gitlabUrl,
            mattermostUrl: this.mattermostUrl,
            initialRootPassword: this.initialRootPassword,
            mattermostDatabaseCommand: this.mattermostDatabaseCommand,
        });
    }
}
