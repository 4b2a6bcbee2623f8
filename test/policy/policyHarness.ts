// Runs CrossGuard policies the way the policy pack's server does (@pulumi/policy's server.js), with
// no Pulumi CLI: each resource policy once per resource with the resource's inputs, each stack
// policy once with every resource's outputs. Properties go through the server's own
// unknown-checking proxy, so a value not known during a preview throws as it would there.

import {
    unknownCheckingProxy,
    type Policies,
    type PolicyResource,
    type PolicyResourceOptions,
    type ReportViolation,
    type ResourceValidation,
    type ResourceValidationArgs,
    type StackValidationArgs,
    UnknownValueError,
} from "@pulumi/policy";
import type { RegisteredResource } from "../../scripts/offlineRuntime";

/** A resource as the engine would describe it to a policy pack. */
export interface FakeResource {
    readonly type: string;
    readonly name: string;
    /** What resource policies see. */
    readonly inputs: Record<string, unknown>;
    /** What stack policies see; the inputs when not given. */
    readonly outputs?: Record<string, unknown>;
    /** Names of the resources each property was computed from. */
    readonly propertyDependencies?: Record<string, readonly string[]>;
}

export interface Violation {
    readonly policy: string;
    readonly message: string;
}

export interface PolicyRun {
    readonly violations: Violation[];
    /** Policies the server would report as unable to run during a preview, with the reason. */
    readonly notRunnable: string[];
}

class NotApplicable extends Error {}

const OPTIONS: PolicyResourceOptions = {
    protect: false,
    ignoreChanges: [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [],
};

const urnOf = (resource: FakeResource) => `urn:pulumi:test::gitlab-mattermost::${resource.type}::${resource.name}`;
const isTypeOf = (type: string) => (resourceClass: unknown) => (resourceClass as { __pulumiType?: string }).__pulumiType === type;

/** Runs `policies` over `resources` and collects what they report. */
export async function runPolicies(policies: Policies, resources: readonly FakeResource[]): Promise<PolicyRun> {
    const violations: Violation[] = [];
    const notRunnable: string[] = [];
    const guarded = async (policy: string, validation: () => Promise<void> | void) => {
        try {
            await validation();
        } catch (error) {
            if (error instanceof UnknownValueError) {
                notRunnable.push(`${policy}: ${(error as Error).message}`);
            } else if (!(error instanceof NotApplicable)) {
                throw error;
            }
        }
    };
    const notApplicable = (reason?: string): never => {
        throw new NotApplicable(reason);
    };

    const stackResources = policyResources(resources);
    for (const policy of policies) {
        const report: ReportViolation = (message) => violations.push({ policy: policy.name, message });
        if ("validateStack" in policy) {
            const args: StackValidationArgs = { resources: stackResources, stackTags: new Map(), getConfig: () => ({}) as never, notApplicable };
            await guarded(policy.name, () => policy.validateStack(args, report));
            continue;
        }
        const validations: ResourceValidation[] = [policy.validateResource ?? []].flat();
        for (const resource of resources) {
            const props = unknownCheckingProxy(resource.inputs) as Record<string, unknown>;
            const args: ResourceValidationArgs = {
                type: resource.type,
                props,
                urn: urnOf(resource),
                name: resource.name,
                opts: OPTIONS,
                stackTags: new Map(),
                isType: isTypeOf(resource.type),
                asType: ((resourceClass: unknown) => (isTypeOf(resource.type)(resourceClass) ? props : undefined)) as ResourceValidationArgs["asType"],
                getConfig: () => ({}) as never,
                notApplicable,
            };
            for (const validation of validations) {
                await guarded(policy.name, () => validation(args, report));
            }
        }
    }
    return { violations, notRunnable };
}

/** The stack policy's view: outputs behind the proxy, dependencies as resource objects. */
function policyResources(resources: readonly FakeResource[]): PolicyResource[] {
    const views = resources.map((resource) => {
        const props = unknownCheckingProxy(resource.outputs ?? resource.inputs) as Record<string, unknown>;
        const view: PolicyResource = {
            type: resource.type,
            props,
            urn: urnOf(resource),
            name: resource.name,
            opts: OPTIONS,
            dependencies: [],
            propertyDependencies: {},
            isType: isTypeOf(resource.type),
            asType: ((resourceClass: unknown) => (isTypeOf(resource.type)(resourceClass) ? props : undefined)) as PolicyResource["asType"],
        };
        return view;
    });
    resources.forEach((resource, index) => {
        const named = (name: string) => views.filter((view) => view.name === name);
        const propertyDependencies = Object.entries(resource.propertyDependencies ?? {}).map(([key, names]) => [key, names.flatMap(named)] as const);
        views[index].propertyDependencies = Object.fromEntries(propertyDependencies);
        views[index].dependencies = [...new Set(propertyDependencies.flatMap(([, dependencies]) => dependencies))];
    });
    return views;
}

/**
 * A resource of the mock runtime's graph as the engine would describe it. The mock runtime records
 * a resource's dependencies, not which property each came through, so every property is given all
 * of them: policies that link resources by dependency may link more here than in a real run.
 */
export function fromRegistered(resource: RegisteredResource): FakeResource {
    return {
        type: resource.type,
        name: resource.name,
        inputs: resource.inputs,
        outputs: resource.outputs,
        propertyDependencies: Object.fromEntries(Object.keys(resource.inputs).map((key) => [key, resource.dependsOn])),
    };
}
