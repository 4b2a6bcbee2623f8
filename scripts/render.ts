// npm run render -- --stack <name> [--host gitlab|mattermost] [--json] [--show-secrets] [--deployed-version V] [--output FILE]
//
// Runs the program on Pulumi's mock runtime with a stack's configuration and prints what
// `pulumi up` would write to each host, and the GitLab versions it would walk through, without cloud
// access or the Pulumi CLI. A standalone Mattermost host has no gitlab.rb: its configuration files
// (environment file with secret values masked, systemd unit, nginx sites) and its remote steps in
// order are shown instead. The version last deployed comes from the stack's state in a local file
// backend, or from --deployed-version. Values that only
// exist at deploy time (generated passwords, keys, addresses) appear as placeholders. Encrypted
// config values are decrypted with the stack's passphrase, as `pulumi up` would. With --output the
// text goes to FILE instead of stdout, where npm prints its own lines too: CI keeps it as an artifact.

import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { PROJECT } from "../components/settings/configError";
import { DEPLOYED_OUTPUTS } from "../components/stack/deployedState";
import { tunnelPort } from "../components/aws/hostAccess";
import { LOOPBACK } from "../components/aws/ssmTunnel";
import { scriptOfCommand } from "../components/omnibus/hostScripts";
import { SETTINGS_FILES, STANDALONE_LAYOUT, type SettingsFileKind } from "../components/mattermost/standalone/hostLayout";
import { SECRET_VARIABLES } from "../components/mattermost/standalone/standaloneSettings";
import { runOffline, type OfflineRun, type RegisteredResource } from "./offlineRuntime";
import { passphraseFromEnvironment, stackDecrypter } from "./stackSecrets";

/** Where Omnibus reads its configuration. */
const GITLAB_RB = "/etc/gitlab/gitlab.rb";
const MASK = "[secret]";

export interface RenderOptions {
    stack: string;
    host?: string;
    json: boolean;
    showSecrets: boolean;
    /** Directory holding Pulumi.<stack>.yaml. */
    stacksDir: string;
    /** The stack's secrets passphrase, needed when its file holds encrypted values. */
    passphrase?: string;
    /** The stack's recorded outputs (gitlabEdition, gitlabVersion), from its state or the command line. */
    deployed?: Record<string, string>;
    /** The environment the AWS provider would read its region from when the stack sets none; process.env unless given. */
    environment?: Record<string, string | undefined>;
}

/**
 * The region `pulumi up` would deploy the stack to: its `aws:region`, else AWS_REGION or
 * AWS_DEFAULT_REGION, which is where @pulumi/aws looks (its config/vars.js).
 */
export function stackRegion(stack: string, config: Record<string, unknown>, environment: Record<string, string | undefined>): string {
    const configured = config["aws:region"];
    if (typeof configured === "string" && configured !== "") {
        return configured;
    }
    const fromEnvironment = environment.AWS_REGION || environment.AWS_DEFAULT_REGION;
    if (fromEnvironment) {
        return fromEnvironment;
    }
    throw new Error(`stack ${stack} sets no aws:region and neither AWS_REGION nor AWS_DEFAULT_REGION is set; set it with \`pulumi config set aws:region <region> --stack ${stack}\``);
}

/**
 * The recorded outputs of a stack in a local file backend: `<root>/.pulumi/stacks/<project>/<stack>.json`,
 * where the root comes from PULUMI_BACKEND_URL or Pulumi.yaml's backend (file://~ is the home directory).
 * Undefined when the stack was never deployed there, or its state is elsewhere (e.g. S3).
 */
export function readDeployedFromLocalState(stack: string, backendUrl: string): Record<string, string> | undefined {
    if (!backendUrl.startsWith("file://")) {
        return undefined;
    }
    const root = backendUrl.slice("file://".length).replace(/^~(?=\/|$)/, homedir());
    const base = join(root, ".pulumi", "stacks", PROJECT, stack);
    let checkpoint: string;
    if (existsSync(`${base}.json`)) {
        checkpoint = readFileSync(`${base}.json`, "utf8");
    } else if (existsSync(`${base}.json.gz`)) {
        checkpoint = gunzipSync(readFileSync(`${base}.json.gz`)).toString("utf8");
    } else {
        return undefined;
    }
    const state = JSON.parse(checkpoint) as { checkpoint?: { latest?: { resources?: { type: string; outputs?: Record<string, unknown> }[] } } };
    const outputs = state.checkpoint?.latest?.resources?.find((r) => r.type === "pulumi:pulumi:Stack")?.outputs ?? {};
    return Object.fromEntries(Object.entries(outputs).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}

/** The backend `pulumi up` would use: PULUMI_BACKEND_URL, else Pulumi.yaml's. */
function backendUrl(projectDir: string): string {
    if (process.env.PULUMI_BACKEND_URL) {
        return process.env.PULUMI_BACKEND_URL;
    }
    const project = parseYaml(readFileSync(join(projectDir, "Pulumi.yaml"), "utf8")) as { backend?: { url?: string } };
    return project.backend?.url ?? "";
}

/** A stack file's configuration, decrypted, and the keys that were secret. */
export interface StackConfig {
    readonly config: Record<string, unknown>;
    /** Top-level keys holding an encrypted value somewhere, e.g. `gitlab-mattermost:tls`. */
    readonly secretKeys: string[];
}

/** Reads Pulumi.<stack>.yaml; encrypted values need the stack's passphrase, as for `pulumi up`. */
export function readStackConfig(stacksDir: string, stack: string, passphrase: string | undefined): StackConfig {
    const file = join(stacksDir, `Pulumi.${stack}.yaml`);
    let text: string;
    try {
        text = readFileSync(file, "utf8");
    } catch {
        throw new Error(`no stack file ${file}; stacks live in ${stacksDir} as Pulumi.<stack>.yaml`);
    }
    const document = (parseYaml(text) as { config?: Record<string, unknown>; encryptionsalt?: string } | null) ?? {};
    const secretKeys: string[] = [];
    let decrypt: ((value: string) => string) | undefined;
    const reveal = (value: unknown, path: string, top: string): unknown => {
        if (typeof value !== "object" || value === null) {
            return value;
        }
        if (Array.isArray(value)) {
            return value.map((item, i) => reveal(item, `${path}[${i}]`, top));
        }
        if ("secure" in value) {
            if (passphrase === undefined) {
                throw new Error(`${file} holds encrypted values (${path}); set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE to render it`);
            }
            if (!document.encryptionsalt) {
                throw new Error(`${file} holds encrypted values but no encryptionsalt; only the passphrase secrets provider can be read offline`);
            }
            decrypt ??= stackDecrypter(document.encryptionsalt, passphrase);
            if (!secretKeys.includes(top)) secretKeys.push(top);
            return decrypt(String((value as { secure: unknown }).secure));
        }
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reveal(v, `${path}.${k}`, top)]));
    };
    const config = Object.fromEntries(Object.entries(document.config ?? {}).map(([key, value]) => [key, reveal(value, key, key)]));
    return { config, secretKeys };
}

/** A remote command, with the host it runs on (by the Elastic IP its connection names). */
interface HostCommand {
    readonly host: string;
    readonly resource: RegisteredResource;
}

function hostCommands(run: OfflineRun): HostCommand[] {
    // ssh.access direct reaches a host at its Elastic IP; ssm at its own tunnel port on loopback.
    const hosts = run.resources.filter((r) => r.type === "aws:ec2/eip:Eip");
    const hostByAddress = new Map(hosts.map((eip) => [String(eip.outputs.publicIp), eip.name]));
    const hostByTunnel = new Map(hosts.map((eip) => [tunnelPort(run.stack, eip.name), eip.name]));
    const hostOf = (connection: { host?: unknown; port?: unknown } | undefined) =>
        (connection?.host === LOOPBACK ? hostByTunnel.get(Number(connection.port)) : hostByAddress.get(String(connection?.host))) ?? "unknown";
    return run.resources
        .filter((r) => r.type === "command:remote:Command")
        .map((resource) => ({ host: hostOf(resource.inputs.connection as { host?: unknown; port?: unknown } | undefined), resource }));
}

/** The configuration file a standalone host's settings step installs, if the command is one. */
function settingsFileOf(command: string): string | undefined {
    const kind = /^sudo bash -c '(?:[^']|'\\'')*' apply-mattermost-settings\.sh ([a-z-]+)(?: |$)/.exec(command)?.[1];
    return kind !== undefined && Object.hasOwn(SETTINGS_FILES, kind) ? SETTINGS_FILES[kind as SettingsFileKind] : undefined;
}

/** Files each host receives, by host name and path: gitlab.rb, or a standalone host's configuration files. */
export function hostFiles(run: OfflineRun): Record<string, Record<string, { content: string; secret: boolean }>> {
    const files: Record<string, Record<string, { content: string; secret: boolean }>> = {};
    for (const { host, resource } of hostCommands(run)) {
        const create = String(resource.inputs.create);
        const path = scriptOfCommand(create) === "apply-gitlab-rb.sh" ? GITLAB_RB : settingsFileOf(create);
        if (path === undefined) {
            continue;
        }
        files[host] = { ...files[host], [path]: { content: String(resource.inputs.stdin), secret: resource.secretInputs.includes("stdin") } };
    }
    return files;
}

/**
 * The remote steps of each host that has no gitlab.rb (a standalone Mattermost host, a moved bundle's old host), in an order
 * `pulumi up` can run them: each after the steps it waits for. Host scripts are shown by name and
 * arguments; command lines carry no secret.
 */
export function commandPlans(run: OfflineRun, files: ReturnType<typeof hostFiles>): Record<string, string[]> {
    const commands = hostCommands(run);
    const byName = new Map(commands.map((command) => [command.resource.name, command.resource]));
    const done = new Set<string>();
    const ordered: RegisteredResource[] = [];
    const visit = (resource: RegisteredResource) => {
        if (done.has(resource.name)) return;
        done.add(resource.name);
        for (const dependency of resource.dependsOn) {
            const before = byName.get(dependency);
            if (before) visit(before);
        }
        ordered.push(resource);
    };
    commands.forEach((command) => visit(command.resource));
    const hostOf = new Map(commands.map((command) => [command.resource.name, command.host]));
    const plans: Record<string, string[]> = {};
    for (const resource of ordered) {
        const host = hostOf.get(resource.name) as string;
        if (files[host]?.[GITLAB_RB] !== undefined) continue;
        const create = String(resource.inputs.create);
        const script = /^sudo bash -c '(?:[^']|'\\'')*' (.*)$/s.exec(create)?.[1];
        (plans[host] ??= []).push(`${resource.name}: ${script ?? create}`);
    }
    return plans;
}

/** An environment file with the values of secret variables replaced by the mask. */
function maskEnvironmentFile(text: string): string {
    return text.replace(/^([A-Za-z_][A-Za-z0-9_]*)=.*$/gm, (line, name: string) => (SECRET_VARIABLES.includes(name) ? `${name}="${MASK}"` : line));
}

function maskPaths(inputs: Record<string, unknown>, paths: readonly string[]): Record<string, unknown> {
    const masked = structuredClone(inputs);
    for (const path of paths) {
        const keys = path.split(/\.|\[(\d+)\]/).filter((k) => k !== undefined && k !== "");
        let node: Record<string, unknown> = masked;
        for (const key of keys.slice(0, -1)) {
            node = node[key] as Record<string, unknown>;
        }
        node[keys[keys.length - 1]] = MASK;
    }
    return masked;
}

function maskOutputs(value: unknown, showSecrets: boolean): unknown {
    if (typeof value !== "object" || value === null) {
        return value;
    }
    if (!Array.isArray(value) && Object.keys(value).length === 1 && "secret" in value) {
        return showSecrets ? (value as { secret: unknown }).secret : MASK;
    }
    if (Array.isArray(value)) {
        return value.map((item) => maskOutputs(item, showSecrets));
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskOutputs(v, showSecrets)]));
}

/** The text `npm run render` prints. */
export async function render(options: RenderOptions): Promise<string> {
    const { config, secretKeys } = readStackConfig(options.stacksDir, options.stack, options.passphrase);
    const region = stackRegion(options.stack, config, options.environment ?? process.env);
    const run = await runOffline(config, { stack: options.stack, secretKeys, deployed: options.deployed, region });
    const files = hostFiles(run);
    const plans = commandPlans(run, files);
    // A host with steps but no file: the old host of a split stack whose bundled Mattermost moves.
    const hosts = [...new Set([...Object.keys(files), ...Object.keys(plans)])];
    if (options.host !== undefined && !hosts.includes(options.host)) {
        throw new Error(`stack ${options.stack} has no ${options.host} host; its hosts are: ${hosts.join(", ")}`);
    }
    const shown = options.host === undefined ? hosts : [options.host];

    if (!options.json) {
        const migration = Array.isArray(run.outputs.mattermostMigration) ? run.outputs.mattermostMigration.map((line) => `#     ${String(line)}\n`).join("") : "";
        const versionLine = `# ==> GitLab version: ${String(run.outputs.versionPlan)}\n${migration === "" ? "" : `# ==> Mattermost move:\n${migration}`}`;
        const shownContent = (path: string, content: string) => (path === STANDALONE_LAYOUT.environmentFile && !options.showSecrets ? maskEnvironmentFile(content) : content);
        return versionLine + shown
            .map((host) =>
                [
                    ...Object.entries(files[host] ?? {}).map(([path, file]) => `# ==> ${host} host: ${path}\n${shownContent(path, file.content)}`),
                    ...(plans[host] ? [`# ==> ${host} host: steps, in order\n${plans[host].join("\n")}\n`] : []),
                ].join("\n"),
            )
            .join("\n");
    }
    const reveal = (file: { content: string; secret: boolean }) => (file.secret && !options.showSecrets ? MASK : file.content);
    return `${JSON.stringify(
        {
            stack: options.stack,
            resources: run.resources.map((r) => ({
                type: r.type,
                name: r.name,
                parent: r.parent,
                dependsOn: r.dependsOn,
                inputs: options.showSecrets ? r.inputs : maskPaths(r.inputs, r.secretInputs),
            })),
            hosts: Object.fromEntries(
                shown.map((host) => [host, {
                    files: Object.fromEntries(Object.entries(files[host] ?? {}).map(([path, file]) => [path, reveal(file)])),
                    ...(plans[host] ? { steps: plans[host] } : {}),
                }]),
            ),
            outputs: maskOutputs(run.outputs, options.showSecrets),
        },
        null,
        2,
    )}\n`;
}

/** `--deployed-version 18.2.8` or `ce-18.2.8`: the package the stack last deployed (EE unless named). */
export function deployedFromFlag(text: string): Record<string, string> {
    const match = /^(?:(ee|ce)-)?(\d+\.\d+\.\d+)$/.exec(text);
    if (!match) {
        throw new Error(`--deployed-version must be x.y.z, ee-x.y.z or ce-x.y.z, got ${text}`);
    }
    return { [DEPLOYED_OUTPUTS.edition]: match[1] ?? "ee", [DEPLOYED_OUTPUTS.version]: match[2] };
}

/**
 * Writes the render to `path` whole or not at all: a temporary file beside it, renamed over it. A
 * relative path is taken from where `npm run` was started (INIT_CWD), not the project root it moves to.
 */
export function writeOutput(path: string, text: string, environment: Record<string, string | undefined> = process.env): string {
    const target = resolve(environment.INIT_CWD ?? process.cwd(), path);
    const temporary = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
    try {
        writeFileSync(temporary, text);
        renameSync(temporary, target);
    } finally {
        rmSync(temporary, { force: true });
    }
    return target;
}

async function main(): Promise<void> {
    // Pulumi takes a stack trace for every resource and promise; with source maps on (the TypeScript
    // loader turns them on) each trace is mapped back to the sources, a large share of a render's time
    // (README: "Fast previews"). Render reports its errors by message only.
    process.setSourceMapsEnabled(false);
    const { values } = parseArgs({
        options: {
            stack: { type: "string" },
            host: { type: "string" },
            "deployed-version": { type: "string" },
            json: { type: "boolean", default: false },
            "show-secrets": { type: "boolean", default: false },
            output: { type: "string" },
        },
    });
    if (!values.stack) {
        throw new Error("usage: npm run render -- --stack <name> [--host gitlab|mattermost] [--json] [--show-secrets] [--deployed-version [ee-|ce-]x.y.z] [--output FILE]");
    }
    const projectDir = join(__dirname, "..");
    const deployed = values["deployed-version"] === undefined ? readDeployedFromLocalState(values.stack, backendUrl(projectDir)) : deployedFromFlag(values["deployed-version"]);
    const text = await render({
        stack: values.stack,
        host: values.host,
        json: values.json ?? false,
        showSecrets: values["show-secrets"] ?? false,
        stacksDir: join(projectDir, "stacks"),
        passphrase: passphraseFromEnvironment(),
        deployed,
    });
    if (values.output === undefined) {
        process.stdout.write(text);
    } else {
        process.stderr.write(`render: wrote ${writeOutput(values.output, text)}\n`);
    }
}

if (require.main === module) {
    main().catch((error: unknown) => {
        process.stderr.write(`render: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(1);
    });
}
