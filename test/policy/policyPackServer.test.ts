// Tests for the policy pack as the Pulumi CLI runs it: policy/index.ts is started in policy/ (where
// `pulumi preview --policy-pack policy` starts it), prints the port of its gRPC server, and is then
// asked what the engine asks: which policies it has, and to analyze resources and stacks. Requests
// carry properties in the engine's wire format, secrets wrapped, so this covers the pack's own
// unwrapping too. No CLI and no cloud are involved.

import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import * as aws from "@pulumi/aws";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import {
    AnalyzeRequest,
    AnalyzerPropertyDependencies,
    AnalyzerResource,
    AnalyzerResourceOptions,
    AnalyzeStackRequest,
    EnforcementLevel,
    type AnalyzeResponse,
    type AnalyzerInfo,
} from "@pulumi/pulumi/proto/analyzer_pb";
import { specialSecretSig, specialSigKey, unknownValue } from "@pulumi/pulumi/runtime/rpc";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { policies, TYPE_TOKENS } from "../../policy/policies";
import { runOffline, type RegisteredResource } from "../../scripts/offlineRuntime";
import { readStackConfig } from "../../scripts/render";

const POLICY_DIR = join(__dirname, "..", "..", "policy");
const STACKS_DIR = join(__dirname, "..", "..", "stacks");
const typeOf = (resourceClass: unknown) => (resourceClass as { __pulumiType: string }).__pulumiType;

/** A resource as the engine sends it: properties in wire format, secret paths wrapped. */
interface WireResource {
    readonly type: string;
    readonly name: string;
    readonly properties: Record<string, unknown>;
    /** Top-level properties the engine holds as secret. */
    readonly secrets?: readonly string[];
    /** Names of the resources each property was computed from. */
    readonly propertyDependencies?: Record<string, readonly string[]>;
}

/** The pack's view of one violation: the policy, how strictly it is enforced, and what it says. */
interface Diagnostic {
    readonly policy: string;
    readonly enforcement: EnforcementLevel;
    readonly message: string;
}

let pack: ChildProcessWithoutNullStreams;
let client: AnalyzerClient;

/** Starts the pack as the CLI does and resolves with the port it prints. */
function startPack(): Promise<number> {
    pack = spawn(process.execPath, ["--import", "tsx", "index.ts"], { cwd: POLICY_DIR });
    let stderr = "";
    pack.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    return new Promise((resolve, reject) => {
        pack.stdout.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
        pack.once("exit", (status) => reject(new Error(`the policy pack exited with status ${status}:\n${stderr}`)));
    });
}

function struct(properties: Record<string, unknown>, secrets: readonly string[] = []): Struct {
    const wire = Object.fromEntries(
        Object.entries(properties).map(([key, value]) => [key, secrets.includes(key) ? { [specialSigKey]: specialSecretSig, value } : value]),
    );
    // JSON drops the undefined values the wire format cannot carry.
    return Struct.fromJavaScript(JSON.parse(JSON.stringify(wire)) as Parameters<typeof Struct.fromJavaScript>[0]);
}

const urnOf = (resource: WireResource) => `urn:pulumi:test::gitlab-mattermost::${resource.type}::${resource.name}`;

function diagnostics(response: AnalyzeResponse): Diagnostic[] {
    return response.getDiagnosticsList().map((diagnostic) => ({
        policy: diagnostic.getPolicyname(),
        enforcement: diagnostic.getEnforcementlevel(),
        message: diagnostic.getMessage(),
    }));
}

function analyze(resource: WireResource): Promise<Diagnostic[]> {
    const request = new AnalyzeRequest()
        .setType(resource.type)
        .setName(resource.name)
        .setUrn(urnOf(resource))
        .setProperties(struct(resource.properties, resource.secrets))
        .setOptions(new AnalyzerResourceOptions());
    return new Promise((resolve, reject) => client.analyze(request, (error, response) => (error ? reject(error) : resolve(diagnostics(response)))));
}

function analyzeStack(resources: readonly WireResource[]): Promise<Diagnostic[]> {
    const urnsNamed = (name: string) => resources.filter((resource) => resource.name === name).map(urnOf);
    const request = new AnalyzeStackRequest().setResourcesList(
        resources.map((resource) => {
            const wire = new AnalyzerResource()
                .setType(resource.type)
                .setName(resource.name)
                .setUrn(urnOf(resource))
                .setProperties(struct(resource.properties, resource.secrets))
                .setOptions(new AnalyzerResourceOptions());
            for (const [key, names] of Object.entries(resource.propertyDependencies ?? {})) {
                wire.getPropertydependenciesMap().set(key, new AnalyzerPropertyDependencies().setUrnsList(names.flatMap(urnsNamed)));
            }
            return wire;
        }),
    );
    return new Promise((resolve, reject) => client.analyzeStack(request, (error, response) => (error ? reject(error) : resolve(diagnostics(response)))));
}

/**
 * The stack's resources after `pulumi up`, as the engine would send them to a stack policy. The mock
 * runtime records a resource's dependencies, not which property each came through, so every
 * property is given all of them.
 */
async function deployedGraph(stack: string): Promise<WireResource[]> {
    const { config, secretKeys } = readStackConfig(STACKS_DIR, stack, undefined);
    const { resources } = await runOffline(config, { stack, secretKeys });
    return resources.map((resource: RegisteredResource) => ({
        type: resource.type,
        name: resource.name,
        properties: resource.outputs,
        secrets: resource.secretInputs.filter((path) => !/[.[]/.test(path)),
        propertyDependencies: Object.fromEntries(Object.keys(resource.inputs).map((key) => [key, resource.dependsOn])),
    }));
}

describe("the policy pack, started as the Pulumi CLI starts it", () => {
    before(async () => {
        const port = await startPack();
        client = new AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    });
    after(() => {
        client?.close();
        pack?.kill();
    });

    test("tells the engine its name, version and policies, every one mandatory", async () => {
        const info = await new Promise<AnalyzerInfo>((resolve, reject) =>
            client.getAnalyzerInfo(new Empty(), (error, response) => (error ? reject(error) : resolve(response))),
        );
        assert.equal(info.getName(), "gitlab-mattermost");
        assert.equal(info.getVersion(), "0.1.0");
        assert.deepEqual(
            info.getPoliciesList().map((policy) => [policy.getName(), policy.getEnforcementlevel()]),
            policies.map((policy) => [policy.name, EnforcementLevel.MANDATORY]),
        );
    });

    for (const stack of ["single", "split"]) {
        test(`finds nothing in the ${stack} stack, resource by resource and as a whole`, async () => {
            const graph = await deployedGraph(stack);
            assert.ok(graph.some((resource) => resource.type === TYPE_TOKENS.remoteCommand && resource.secrets?.includes("stdin")));
            for (const resource of graph) {
                assert.deepEqual(await analyze(resource), [], `${resource.type} ${resource.name}`);
            }
            assert.deepEqual(await analyzeStack(graph), []);
        });
    }

    test("stops an ARM instance before it is created", async () => {
        const instance: WireResource = {
            type: typeOf(aws.ec2.Instance),
            name: "gitlab",
            properties: { instanceType: "c7g.xlarge", metadataOptions: { httpTokens: "required" }, rootBlockDevice: { encrypted: true } },
        };
        const [violation, ...others] = await analyze(instance);
        assert.deepEqual(others, []);
        assert.equal(violation.policy, "ec2-x86-64-only");
        assert.equal(violation.enforcement, EnforcementLevel.MANDATORY);
        assert.match(violation.message, /\ninstance gitlab has type c7g\.xlarge, of the Graviton \(arm64\) family c7g; choose an x86_64 type/);
    });

    test("links a bucket's companions by dependency in a preview, where the bucket's name is unknown", async () => {
        const stack = (linked: boolean): WireResource[] => {
            const ofBucket: Record<string, readonly string[]> = linked ? { bucket: ["backups"] } : {};
            return [
                { type: typeOf(aws.s3.Bucket), name: "backups", properties: { bucket: unknownValue } },
                {
                    type: typeOf(aws.s3.BucketVersioning),
                    name: "backups-versioning",
                    properties: { bucket: unknownValue, versioningConfiguration: { status: "Enabled" } },
                    propertyDependencies: ofBucket,
                },
                {
                    type: typeOf(aws.s3.BucketServerSideEncryptionConfiguration),
                    name: "backups-encryption",
                    properties: { bucket: unknownValue, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } }] },
                    propertyDependencies: ofBucket,
                },
                {
                    type: typeOf(aws.s3.BucketPublicAccessBlock),
                    name: "backups-public-access",
                    properties: { bucket: unknownValue, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
                    propertyDependencies: ofBucket,
                },
                // Its document holds the bucket's ARN, unknown too: it is not judged until it is known.
                { type: typeOf(aws.s3.BucketPolicy), name: "backups-policy", properties: { bucket: unknownValue, policy: unknownValue }, propertyDependencies: ofBucket },
            ];
        };
        assert.deepEqual(await analyzeStack(stack(true)), []);
        const unlinked = await analyzeStack(stack(false));
        assert.deepEqual(unlinked.map((diagnostic) => diagnostic.policy), Array(4).fill("backup-bucket-protected"));
    });

    test("finds a generated password, sent as a secret, in a command string", async () => {
        const graph = await deployedGraph("single");
        const password = graph.find((resource) => resource.name === "root-password");
        assert.ok(password);
        const leaking = graph.map((resource) =>
            resource.name === "gitlab-install"
                ? { ...resource, properties: { ...resource.properties, create: `${String(resource.properties.create)} ${String(password.properties.result)}` } }
                : resource,
        );
        const wrapped = leaking.map((resource) => (resource.name === "root-password" ? { ...resource, secrets: ["result"] } : resource));
        const [violation, ...others] = await analyzeStack(wrapped);
        assert.deepEqual(others, []);
        assert.equal(violation.policy, "no-secrets-in-remote-commands");
        assert.match(violation.message, /\ncreate of remote command gitlab-install contains the result of root-password/);
    });
});
