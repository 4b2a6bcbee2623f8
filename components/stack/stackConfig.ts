// Reads the stack's configuration and checks it, before any resource exists.

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, PROJECT, checkArchitectures, chooseZone, parseSettings } from "./config";
import type { DeploymentSettings } from "../settings/settings";
import { planHosts } from "../settings/topology";
import { planVersion, type DeployedMattermost, type VersionPlan } from "./upgrade";
import type { GitlabPackage } from "../omnibus/upgradePath";

/** This project's keys from the stack configuration, without the namespace. */
export function readStackSettings(): DeploymentSettings {
    const prefix = `${PROJECT}:`;
    const raw = Object.fromEntries(
        Object.entries(pulumi.runtime.allConfig())
            .filter(([key]) => key.startsWith(prefix))
            .map(([key, value]) => [key.slice(prefix.length), value]),
    );
    return reportingConfigErrors(() => parseSettings(raw));
}

/** Pulumi prints a RunError as its message alone; an administrator needs no stack trace for a typo. */
function reportingConfigErrors<T>(check: () => T): T {
    try {
        return check();
    } catch (error) {
        throw error instanceof ConfigError ? new pulumi.RunError(error.message) : error;
    }
}

/**
 * Asks EC2 which architectures each host's instance type supports, and refuses any that lacks x86_64:
 * bundled Mattermost ships only for linux-amd64.
 */
export async function checkHostArchitectures(settings: DeploymentSettings): Promise<void> {
    for (const plan of planHosts(settings)) {
        const info = await aws.ec2.getInstanceType({ instanceType: plan.instanceType });
        reportingConfigErrors(() => checkArchitectures(plan.instanceTypeKey, plan.instanceType, info.supportedArchitectures));
    }
}

/**
 * Asks EC2 which of the region's available zones offer the hosts' instance types and returns the zone
 * for the hosts (see chooseZone): `current` once they are deployed, else the first that offers every
 * type; refuses types that zone does not offer.
 */
export async function chooseHostZone(settings: DeploymentSettings, current: string | undefined): Promise<string> {
    const plans = planHosts(settings);
    const [zones, offered] = await Promise.all([
        aws.getAvailabilityZones({ state: "available" }),
        aws.ec2.getInstanceTypeOfferings({
            locationType: "availability-zone",
            filters: [{ name: "instance-type", values: [...new Set(plans.map((plan) => plan.instanceType))] }],
        }),
    ]);
    const zonesOffering = (instanceType: string) => offered.locations.filter((_, index) => offered.instanceTypes[index] === instanceType);
    return reportingConfigErrors(() =>
        chooseZone(zones.names, plans.map((plan) => ({ key: plan.instanceTypeKey, instanceType: plan.instanceType, zones: zonesOffering(plan.instanceType) })), current),
    );
}

/** The version plan for this run, or the refusal as a configuration error. */
export function planVersionOrFail(settings: DeploymentSettings, deployed: GitlabPackage | undefined, deployedMattermost?: DeployedMattermost): VersionPlan {
    return reportingConfigErrors(() => planVersion(settings, deployed, deployedMattermost));
}
