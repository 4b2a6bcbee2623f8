// Runs the real program on Pulumi's mock runtime: no CLI, no plugins, no cloud. The offline render
// and the tests both use it, so what they show is what `pulumi up` would send.
//
// Cloud answers are stand-ins: documentation addresses (192.0.2.0/24) for Elastic IPs, placeholders
// for values that providers generate at deploy time, and EC2's architecture for an instance type
// guessed from its name unless the caller says otherwise.

import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import { ARM_FAMILY, PROJECT } from "../components/stack/config";

// Resolves once every pending registration has reached the monitor, including the ones still
// waiting on inputs. Internal to @pulumi/pulumi (no public "wait for all" exists, pulumi#6666).
const { waitForRPCs } = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs: () => Promise<void> };

/** One resource as the program registered it. */
export interface RegisteredResource {
    readonly type: string;
    readonly name: string;
    readonly urn: string;
    /** Inputs with secret wrappers removed. */
    readonly inputs: Record<string, unknown>;
    /** Dotted paths of the inputs that were secret, e.g. `stdin` or `connection`. */
    readonly secretInputs: readonly string[];
    /** The resource's state after creation: its inputs plus what the provider computed (stand-ins). */
    readonly outputs: Record<string, unknown>;
    /** Names of the resources this one waits for (explicit dependsOn and input dependencies). */
    readonly dependsOn: readonly string[];
    /** Name of the parent resource, if any. */
    readonly parent?: string;
    /** Whether `pulumi destroy` leaves the cloud resource in place. */
    readonly retainOnDelete: boolean;
    /** Inputs whose later changes Pulumi ignores once the resource exists. */
    readonly ignoreChanges: readonly string[];
    /** Whether Pulumi refuses to delete or replace the resource until it is unprotected. */
    readonly protect: boolean;
    /** Whether a replacement deletes the old resource before it creates the new one. */
    readonly deleteBeforeReplace: boolean;
}

/** One provider function call (an invoke), e.g. aws:ec2/getAmi:getAmi. */
export interface Invoke {
    readonly token: string;
    readonly inputs: Record<string, unknown>;
}

export interface OfflineRun {
    readonly resources: readonly RegisteredResource[];
    readonly invokes: readonly Invoke[];
    /** The stack outputs, resolved; secret outputs are wrapped as `{ secret: value }`. */
    readonly outputs: Record<string, unknown>;
    /** The stack the program ran as. */
    readonly stack: string;
}

/** The program failed; `resources` holds what it had registered until then. */
export class OfflineProgramError extends Error {
    constructor(
        readonly cause: unknown,
        readonly resources: readonly RegisteredResource[],
    ) {
        super(cause instanceof Error ? cause.message : String(cause));
        this.name = "OfflineProgramError";
    }
}

export interface OfflineOptions {
    /** Stack name; defaults to `test`. */
    stack?: string;
    /** Config keys (`project:key`, or bare keys of this project) whose values are secret. */
    secretKeys?: string[];
    /** The stack's outputs from its last deployment, as a StackReference to the stack reads them. */
    deployed?: Record<string, string>;
    /**
     * The AWS region the provider is configured for; defaults to the configuration's `aws:region`, else
     * DEFAULT_REGION. Every region-dependent answer (bucket region, zones, ARNs) follows it.
     */
    region?: string;
    /** Architectures EC2 reports per instance type; others are guessed from the name. */
    architectures?: Record<string, string[]>;
    /** The availability zones EC2 reports offering each instance type; others are offered in every zone. */
    offerings?: Record<string, string[]>;
    /**
     * Objects in the backup bucket (key: text content), as S3 lists and serves them. Without it, every
     * key read exists and holds a placeholder: offline, nothing knows what the bucket holds.
     */
    bucketObjects?: Record<string, string>;
    /**
     * Names of resources the cloud gives a new id, as after a replacement (e.g. an instance whose
     * subnet or key pair changed): what follows from a new instance can then be compared.
     */
    replaced?: readonly string[];
}

/** The region of a configuration that names none (test configurations); the render always names one. */
export const DEFAULT_REGION = "eu-west-1";

/** Placeholder for a value a provider generates during `pulumi up`. */
export function generatedPlaceholder(resourceName: string, field: string): string {
    return `<generated at deploy: ${resourceName}.${field}>`;
}

/** A deterministic documentation address (RFC 5737) for an Elastic IP. */
function documentationAddress(name: string): string {
    let sum = 0;
    for (const char of name) sum = (sum * 31 + (char.codePointAt(0) as number)) % 200;
    return `192.0.2.${sum + 10}`;
}

function isSecretWrapper(value: unknown): value is { value: unknown } {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[specialSigKey] === specialSecretSig;
}

/** Removes secret wrappers, collecting the paths where they were. */
export function unwrapSecrets(value: unknown, path: string, secretPaths: string[]): unknown {
    if (isSecretWrapper(value)) {
        secretPaths.push(path);
        return unwrapSecrets(value.value, path, []);
    }
    if (Array.isArray(value)) {
        return value.map((item, i) => unwrapSecrets(item, `${path}[${i}]`, secretPaths));
    }
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(
            Object.entries(value).map(([key, item]) => [key, unwrapSecrets(item, path ? `${path}.${key}` : key, secretPaths)]),
        );
    }
    return value;
}

/** Outputs a resource type computes, as the real provider would, with stand-in values. */
function computedState(type: string, name: string, inputs: Record<string, unknown>, region: string): Record<string, unknown> {
    switch (type) {
        case "aws:ec2/eip:Eip":
            return { ...inputs, publicIp: documentationAddress(name) };
        case "aws:ec2/keyPair:KeyPair":
            return { ...inputs, keyName: `${name}-key` };
        case "tls:index/privateKey:PrivateKey":
            return {
                ...inputs,
                publicKeyOpenssh: `ssh-ed25519 ${generatedPlaceholder(name, "publicKeyOpenssh")}`,
                privateKeyOpenssh: generatedPlaceholder(name, "privateKeyOpenssh"),
                privateKeyPem: generatedPlaceholder(name, "privateKeyPem"),
            };
        case "tls:index/certRequest:CertRequest":
            return { ...inputs, certRequestPem: generatedPlaceholder(name, "certRequestPem") };
        case "tls:index/selfSignedCert:SelfSignedCert":
        case "tls:index/locallySignedCert:LocallySignedCert":
            // A certificate changes with what it is made from, as a re-issued one would.
            return { ...inputs, certPem: `${generatedPlaceholder(name, "certPem")} ${inputsDigest(inputs)}` };
        case "random:index/randomString:RandomString":
        case "random:index/randomPassword:RandomPassword":
            return { ...inputs, result: generatedPlaceholder(name, "result") };
        case "command:remote:Command":
            return { ...inputs, stdout: "", stderr: "" };
        case "aws:ses/domainIdentity:DomainIdentity":
            return { ...inputs, arn: `arn:aws:ses:${region}:000000000000:identity/${String(inputs.domain)}`, verificationToken: generatedPlaceholder(name, "verificationToken") };
        case "aws:ses/domainDkim:DomainDkim":
            return { ...inputs, dkimTokens: [1, 2, 3].map((i) => `dkim-token-${i}`) };
        case "aws:s3/bucket:Bucket": {
            const bucket = `${String(inputs.bucketPrefix ?? name)}0standin`;
            // A bucket is created in its own `region` input if set, else in the provider's.
            return { ...inputs, bucket, arn: `arn:aws:s3:::${bucket}`, bucketRegion: typeof inputs.region === "string" ? inputs.region : region };
        }
        case "aws:iam/role:Role":
        case "aws:iam/instanceProfile:InstanceProfile":
            return { ...inputs, name: `${name}-standin`, arn: `arn:aws:iam::000000000000:role/${name}-standin` };
        case "aws:iam/user:User":
            return { ...inputs, name: `${name}-user`, arn: `arn:aws:iam::000000000000:user/${name}` };
        case "aws:iam/accessKey:AccessKey":
            return { ...inputs, id: "AKIASTANDIN0000000000", secret: generatedPlaceholder(name, "secret"), sesSmtpPasswordV4: generatedPlaceholder(name, "sesSmtpPasswordV4") };
        default:
            return inputs;
    }
}

function inputsDigest(inputs: Record<string, unknown>): string {
    return createHash("sha256").update(JSON.stringify(inputs)).digest("hex").slice(0, 12);
}

/** The availability zones the offline runtime gives a region: three, named as EC2 names them. */
function zonesOf(region: string): string[] {
    return ["a", "b", "c"].map((letter) => `${region}${letter}`);
}

function invokeResult(token: string, inputs: Record<string, unknown>, options: OfflineOptions & { region: string }): Record<string, unknown> {
    const zones = zonesOf(options.region);
    switch (token) {
        case "aws:ec2/getAmi:getAmi":
            return { id: "ami-0123456789abcdef0", architecture: "x86_64", name: "ubuntu-noble-24.04-amd64-server" };
        case "aws:ec2/getInstanceType:getInstanceType": {
            const type = String(inputs.instanceType);
            const guessed = ARM_FAMILY.test(type.split(".")[0]) ? ["arm64"] : ["x86_64", "i386"];
            return { instanceType: type, supportedArchitectures: options.architectures?.[type] ?? guessed };
        }
        case "aws:index/getAvailabilityZones:getAvailabilityZones":
            return { names: zones, zoneIds: zones.map((zone) => `${zone}-id`) };
        case "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": {
            const types = (inputs.filters as { name: string; values: string[] }[]).find((filter) => filter.name === "instance-type")?.values ?? [];
            const pairs = types.flatMap((type) => (options.offerings?.[type] ?? zones).map((zone) => [type, zone] as const));
            return { instanceTypes: pairs.map(([type]) => type), locations: pairs.map(([, zone]) => zone), locationTypes: pairs.map(() => "availability-zone") };
        }
        case "aws:route53/getZone:getZone":
            return { name: inputs.name, zoneId: "Z0STANDIN0ZONE", privateZone: false };
        case "aws:index/getRegion:getRegion":
            return { region: options.region, name: options.region };
        case "aws:s3/getObjects:getObjects": {
            const prefix = String(inputs.prefix ?? "");
            const keys = options.bucketObjects ? Object.keys(options.bucketObjects).filter((key) => key.startsWith(prefix)).sort() : [prefix];
            return { bucket: inputs.bucket, keys };
        }
        case "aws:s3/getObject:getObject": {
            const key = String(inputs.key);
            const body = options.bucketObjects ? options.bucketObjects[key] : `<read from the bucket at deploy: ${key}>`;
            if (body === undefined) {
                throw new Error(`NoSuchKey: ${key}`);
            }
            return { bucket: inputs.bucket, key, body, contentType: "text/plain; charset=utf-8" };
        }
        case "aws:iam/getPolicyDocument:getPolicyDocument":
            // The real function renders the statements as an IAM policy document; so does this.
            return { json: JSON.stringify({ Version: "2012-10-17", Statement: inputs.statements }) };
        default:
            throw new Error(`the offline runtime has no answer for ${token}`);
    }
}

async function resolve<T>(output: pulumi.Output<T>): Promise<{ value: T; secret: boolean }> {
    const value = await new Promise<T>((done) => output.apply(done));
    return { value, secret: await pulumi.isSecret(output) };
}

/** Resolves stack outputs; secrets come back as `{ secret: value }`. */
async function resolveOutputs(value: unknown): Promise<unknown> {
    if (pulumi.Output.isInstance(value)) {
        const { value: inner, secret } = await resolve(value as pulumi.Output<unknown>);
        const resolved = await resolveOutputs(inner);
        return secret ? { secret: resolved } : resolved;
    }
    if (Array.isArray(value)) {
        return Promise.all(value.map(resolveOutputs));
    }
    if (typeof value === "object" && value !== null) {
        const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await resolveOutputs(v)] as const));
        return Object.fromEntries(entries);
    }
    return value;
}

/** index.ts's export: the program, run as Pulumi's runner runs it. */
type Program = () => Promise<Record<string, unknown>>;

/**
 * Runs index.ts with `config` as the stack configuration (keys without the project namespace;
 * objects as objects) and returns everything it registered.
 */
export async function runOffline(config: Record<string, unknown>, options: OfflineOptions = {}): Promise<OfflineRun> {
    // Loaded as Pulumi's runner loads it (`require`), once the mocks are in place.
    return runProgramOffline(() => (require("../index") as Program)(), config, options);
}

/** Runs `program` (a Pulumi program: it registers resources and returns the stack outputs) like runOffline. */
export async function runProgramOffline(
    program: () => Promise<Record<string, unknown>>,
    config: Record<string, unknown>,
    options: OfflineOptions = {},
): Promise<OfflineRun> {
    const invokes: Invoke[] = [];
    const stack = options.stack ?? "test";
    const region = options.region ?? (typeof config["aws:region"] === "string" ? config["aws:region"] : DEFAULT_REGION);
    const answers = { ...options, region };

    await pulumi.runtime.setMocks(
        {
            newResource: (args) =>
                args.type === "pulumi:pulumi:StackReference"
                    ? { id: String(args.inputs.name), state: { name: args.inputs.name, outputs: options.deployed ?? {}, secretOutputNames: [] } }
                    : {
                          id: options.replaced?.includes(args.name) ? `${args.name}-replacement-id` : `${args.name}-id`,
                          state: computedState(args.type, args.name, args.inputs, region),
                      },
            call: (args) => {
                invokes.push({ token: args.token, inputs: args.inputs });
                return invokeResult(args.token, args.inputs, answers);
            },
        },
        PROJECT,
        stack,
        false,
        // What a DIY backend reports; stack references there read organization/<project>/<stack>.
        "organization",
    );
    const qualified = (key: string) => (key.includes(":") ? key : `${PROJECT}:${key}`);
    pulumi.runtime.setAllConfig(
        Object.fromEntries(Object.entries(config).map(([key, value]) => [qualified(key), typeof value === "string" ? value : JSON.stringify(value)])),
        (options.secretKeys ?? []).map(qualified),
    );

    // Record what the mock monitor is asked, including the dependencies that newResource never sees.
    const monitor = pulumi.runtime.getMonitor() as unknown as {
        registerResource: (req: RegisterRequest, callback: RegisterCallback) => unknown;
    };
    const register = monitor.registerResource.bind(monitor);
    const pending: Registration[] = [];
    monitor.registerResource = (req, callback) => {
        const registration: Registration = { req };
        pending.push(registration);
        return register(req, (error, response) => {
            registration.response = response;
            callback(error, response);
        });
    };

    let outputs: Record<string, unknown>;
    try {
        outputs = (await resolveOutputs(await program())) as Record<string, unknown>;
    } catch (error) {
        await waitForRPCs();
        throw new OfflineProgramError(error, recorded(pending));
    }
    await waitForRPCs();
    return { resources: recorded(pending), invokes, outputs, stack };
}

/** Turns the monitor's requests into RegisteredResources. */
function recorded(pending: readonly Registration[]): RegisteredResource[] {
    const resources: RegisteredResource[] = [];
    const nameOfUrn = (urn: string) => urn.slice(urn.lastIndexOf("::") + 2);
    const deserialize = (struct: unknown) =>
        pulumi.runtime.deserializeProperties(struct as Parameters<typeof pulumi.runtime.deserializeProperties>[0]) as Record<string, unknown>;
    for (const { req, response } of pending) {
        const secretInputs: string[] = [];
        const inputs = unwrapSecrets(deserialize(req.getObject()), "", secretInputs) as Record<string, unknown>;
        const outputs = response ? (unwrapSecrets(deserialize(response.getObject()), "", []) as Record<string, unknown>) : {};
        const parentUrn = req.getParent();
        resources.push({
            type: req.getType(),
            name: req.getName(),
            urn: `${parentUrn}::${req.getName()}`,
            inputs,
            outputs,
            secretInputs,
            dependsOn: [...new Set(req.getDependenciesList().map(nameOfUrn))].sort(),
            parent: parentUrn ? nameOfUrn(parentUrn) : undefined,
            retainOnDelete: req.getRetainondelete(),
            ignoreChanges: req.getIgnorechangesList(),
            protect: req.getProtect() ?? false,
            deleteBeforeReplace: req.getDeletebeforereplace(),
        });
    }
    return resources;
}

interface RegisterResponse {
    getObject(): unknown;
}

type RegisterCallback = (error: unknown, response?: RegisterResponse) => void;

interface Registration {
    readonly req: RegisterRequest;
    response?: RegisterResponse;
}

interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getObject(): unknown;
    getDependenciesList(): string[];
    getRetainondelete(): boolean;
    getIgnorechangesList(): string[];
    /** Undefined when the program did not set the option. */
    getProtect(): boolean | undefined;
    getDeletebeforereplace(): boolean;
}
