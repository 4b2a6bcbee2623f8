// A Mattermost host of its own: Mattermost from its release archive, PostgreSQL and nginx from
// Ubuntu's packages, settings in the unit's environment file, TLS in nginx. Each step is one of the
// scripts in host/standalone/ and runs again only when what it is given changes; secrets travel on
// stdin. Raising the release stages it beside the running one and switches after a backup.

import { createHash } from "node:crypto";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { HostFiles } from "../../omnibus/hostFiles";
import { hostCommand, hostScriptCommand } from "../../omnibus/hostScripts";
import type { MailServer, MailSettings, StandaloneMattermost, TlsSettings } from "../../settings/settings";
import { HEALTH_TIMEOUT_SECONDS } from "../../settings/settings";
import { formatVersion } from "../../versions/versions";
import { STANDALONE_LAYOUT } from "./hostLayout";
import { mattermostUnit } from "./mattermostUnit";
import { certificatePaths, standaloneNginxSites } from "./nginxSite";
import { DEPLOY_TIME_STAND_INS, standaloneEnvironmentFile, type StandaloneSettingsInput } from "./standaloneSettings";

/** A certificate and key this program provides for Mattermost's name (selfSigned, provided). */
export interface ProvidedTls {
    /** PEM chain, leaf first. */
    readonly chain: pulumi.Input<string>;
    /** PEM private key; secret. */
    readonly key: pulumi.Input<string>;
}

export interface StandaloneMattermostHostArgs {
    /** SSH connection to the Mattermost host. */
    connection: command.types.input.remote.ConnectionArgs;
    /** The instance; a new instance runs every step again. */
    instanceId: pulumi.Input<string>;
    /** The release to run, with the checksum its archive must have (from the validated settings). */
    release: StandaloneMattermost;
    /** The settings that are known before deployment: URLs, batching, site name, mattermost.env. */
    settings: Omit<StandaloneSettingsInput, "version" | "edition" | "oauth" | "databasePassword" | "atRestEncryptKey" | "mail" | "license">;
    /** The sign-in application on GitLab. */
    oauth: { clientId: pulumi.Input<string>; clientSecret: pulumi.Input<string> };
    /** Mail identity, and the server once known (SES's credentials exist only at deploy time). */
    mail?: { settings: MailSettings; server: pulumi.Input<MailServer> };
    /** A Mattermost licence file's contents; secret. */
    license?: pulumi.Input<string>;
    /** The at-rest key to keep (a migrated Mattermost's); a new one is generated otherwise. */
    atRestEncryptKey?: pulumi.Input<string>;
    /** TLS for Mattermost's name. */
    tls: TlsSettings;
    /** The chain and key for `selfSigned` and `provided`. */
    certificate?: ProvidedTls;
    /** The stack's private CA, when GitLab's certificate chains to it: Mattermost must trust it to reach GitLab. */
    trustedCa?: pulumi.Input<string>;
    /** Let's Encrypt: the certificate is requested once these names resolve to the host's address, after their `records` are set. */
    awaitDns?: { address: pulumi.Input<string>; names: readonly string[]; records: pulumi.Input<pulumi.Resource>[] };
    /** Steps that must finish first: the data volume's mount, the sign-in application on GitLab. */
    after: pulumi.Input<pulumi.Resource>[];
    /** More steps the health gate, and so everything after it, waits for: the move of a bundled Mattermost onto this host. */
    healthAfter?: pulumi.Input<pulumi.Resource>[];
    /**
     * Makes what the upgrade step waits for, given the steps after which the database exists: the
     * backup tools, since the upgrade backs up with `mattermost-backup` before it switches releases.
     */
    beforeUpgrade?: (databaseReady: pulumi.Resource[]) => pulumi.Input<pulumi.Resource>[];
}

/** The remote command for a host/standalone/ script, with the fault handling it sources. */
export function standaloneCommand(script: string, args: readonly string[] = []): string {
    return hostScriptCommand(`standalone/${script}`, args);
}

export class StandaloneMattermostHost extends pulumi.ComponentResource {
    /** The steps that install and configure Mattermost, its database and nginx. */
    readonly ready: pulumi.Resource[];
    /** Mattermost runs here with its settings (nginx and its certificate may still be on their way). */
    readonly running: pulumi.Resource;
    /** The last step: Mattermost answers healthy at its URL, through nginx, with its settings. */
    readonly healthGate: command.remote.Command;
    /** Password of the database role; secret. */
    readonly databasePassword: pulumi.Output<string>;
    /** The at-rest key Mattermost runs with; secret. */
    readonly atRestEncryptKey: pulumi.Output<string>;

    constructor(name: string, args: StandaloneMattermostHostArgs, opts?: pulumi.ComponentResourceOptions) {
        // Refuse settings Mattermost or systemd would not take before anything is registered: the
        // deploy-time values (secrets, the mail server) do not change which keys are set or their types.
        const standIns = DEPLOY_TIME_STAND_INS;
        standaloneEnvironmentFile(renderInput(args, { ...standIns, mailServer: args.mail ? standIns.mailServer : undefined, license: args.license === undefined ? undefined : standIns.license }));
        const hostname = args.settings.siteUrl.host;
        if ((args.tls.mode === "selfSigned" || args.tls.mode === "provided") && !args.certificate) {
            throw new Error(`StandaloneMattermostHost: tls.mode ${args.tls.mode} needs the certificate for ${hostname}`);
        }
        super("gitlab-mattermost:index:StandaloneMattermostHost", name, {}, opts);
        const parent = { parent: this };
        const version = formatVersion(args.release.version);
        const step = (suffix: string, script: string, scriptArgs: string[], options: { stdin?: pulumi.Input<string>; after: pulumi.Input<pulumi.Resource>[]; timeout?: string }) =>
            new command.remote.Command(`${name}-${suffix}`, {
                connection: args.connection,
                create: standaloneCommand(script, scriptArgs),
                ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
                triggers: [args.instanceId],
                addPreviousOutputInEnv: false,
            }, { ...parent, dependsOn: options.after, customTimeouts: { create: options.timeout ?? "20m", update: options.timeout ?? "20m" } });

        const databasePassword = new random.RandomPassword(`${name}-database-password`, { length: 40, special: false }, parent);
        const generatedKey = args.atRestEncryptKey === undefined ? new random.RandomPassword(`${name}-at-rest-key`, { length: 32, special: false }, parent) : undefined;
        this.databasePassword = pulumi.secret(databasePassword.result);
        this.atRestEncryptKey = pulumi.secret(args.atRestEncryptKey ?? generatedKey!.result);

        const install = step("install", "install-mattermost.sh", [version, args.release.edition, args.release.sha256], { after: args.after, timeout: "40m" });
        const database = step("database", "setup-mattermost-database.sh", [], { stdin: this.databasePassword, after: [install] });
        const wait = String(HEALTH_TIMEOUT_SECONDS);
        const unit = step("unit", "apply-mattermost-settings.sh", ["unit", wait], { stdin: mattermostUnit(), after: [database] });
        // A raised release switches before the new settings apply: the settings may use what only it has.
        const upgrade = step("upgrade", "upgrade-mattermost.sh", [version, args.release.edition, wait], { after: [unit, ...(args.beforeUpgrade?.([database]) ?? [])], timeout: "2h" });
        const environment = pulumi.secret(
            pulumi
                .all([args.oauth.clientId, args.oauth.clientSecret, this.databasePassword, this.atRestEncryptKey, args.mail?.server, args.license])
                .apply(([clientId, clientSecret, password, key, mailServer, license]) =>
                    standaloneEnvironmentFile(renderInput(args, { clientId, clientSecret, databasePassword: password, atRestEncryptKey: key, mailServer, license })),
                ),
        );
        const trust = args.trustedCa === undefined ? [] : [step("trusted-ca", "apply-mattermost-settings.sh", ["trusted-ca", wait], { stdin: args.trustedCa, after: [unit] })];
        const settings = step("environment", "apply-mattermost-settings.sh", ["environment", wait], { stdin: environment, after: [upgrade, ...trust] });

        const [httpSite, httpsSite] = standaloneNginxSites(args.tls, hostname);
        const http = step("nginx-http", "apply-mattermost-settings.sh", ["nginx-http"], { stdin: httpSite!.content, after: [install] });
        const certificateSteps: pulumi.Resource[] = [];
        // nginx reads certificates when it loads its configuration: the TLS site names the digest of
        // the files this program installs, so a new certificate changes the site and reloads nginx.
        let certificateDigest: pulumi.Output<string> | undefined;
        if (args.tls.mode === "letsencrypt") {
            const dnsReady = args.awaitDns && new command.remote.Command(`${name}-dns-ready`, {
                connection: args.connection,
                create: pulumi.output(args.awaitDns.address).apply((address) => hostCommand("wait-for-dns.sh", [address, wait, ...(args.awaitDns?.names ?? [])])),
                triggers: [args.instanceId],
                addPreviousOutputInEnv: false,
            }, { ...parent, dependsOn: [...args.after, ...args.awaitDns.records], customTimeouts: { create: "20m", update: "20m" } });
            certificateSteps.push(step("certificate", "issue-certificate.sh", [hostname, ...(args.tls.contactEmail ? [args.tls.contactEmail] : [])], { after: [http, ...(dnsReady ? [dnsReady] : [])] }));
        } else if (args.certificate) {
            const paths = certificatePaths(args.tls, hostname)!;
            const files = new HostFiles(`${name}-tls`, {
                connection: args.connection,
                instanceId: args.instanceId,
                files: [
                    { path: paths.chain, mode: "0644", content: args.certificate.chain },
                    { path: paths.key, mode: "0600", content: pulumi.secret(args.certificate.key) },
                ],
                after: [install],
            }, parent);
            certificateSteps.push(...files.steps);
            certificateDigest = files.digest;
        }
        const nginxSteps: command.remote.Command[] = [http];
        if (httpsSite) {
            const content = certificateDigest ? pulumi.interpolate`${httpsSite.content}# certificate files ${certificateDigest}\n` : httpsSite.content;
            nginxSteps.push(step("nginx-https", "apply-mattermost-settings.sh", ["nginx-https"], { stdin: content, after: [http, ...certificateSteps] }));
        }
        this.ready = [settings, ...nginxSteps];
        this.running = settings;
        // New settings, a new site or another release make the gate run again; otherwise nothing runs.
        const digest = (text: pulumi.Input<string>) => pulumi.output(text).apply((value) => createHash("sha256").update(value).digest("hex"));
        const siteUrl = args.settings.siteUrl.href;
        this.healthGate = new command.remote.Command(`${name}-health`, {
            connection: args.connection,
            create: hostCommand("health-gate.sh", ["mattermost-standalone", siteUrl, wait, ...(args.trustedCa === undefined ? [] : [STANDALONE_LAYOUT.trustedCaFile])]),
            triggers: [args.instanceId, version, digest(environment), ...nginxSteps.map((site) => digest(site.stdin.apply((text) => text ?? "")))],
            addPreviousOutputInEnv: false,
        }, { ...parent, dependsOn: [...this.ready, ...(args.healthAfter ?? [])], customTimeouts: { create: "20m", update: "20m" } });
        this.registerOutputs({});
    }
}

/** The renderer's input from the component's arguments and the values known at deploy time. */
function renderInput(
    args: StandaloneMattermostHostArgs,
    values: { clientId: string; clientSecret: string; databasePassword: string; atRestEncryptKey: string; mailServer: MailServer | undefined; license: string | undefined },
): StandaloneSettingsInput {
    return {
        ...args.settings,
        version: args.release.version,
        edition: args.release.edition,
        oauth: { clientId: values.clientId, clientSecret: values.clientSecret },
        databasePassword: values.databasePassword,
        atRestEncryptKey: values.atRestEncryptKey,
        ...(args.mail && values.mailServer ? { mail: { settings: args.mail.settings, server: values.mailServer } } : {}),
        ...(values.license === undefined ? {} : { license: values.license }),
    };
}
