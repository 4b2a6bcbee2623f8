// Reads the stack's configuration and checks it, before any resource exists.

import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT, checkArchitectures, parseSettings } from "./config";
import type { DeploymentSettings } from "./settings";
import { planHosts } from "./topology";

/** This project's keys from the stack configuration, without the namespace. */
export function readStackSettings(): DeploymentSettings {
    const prefix = `${PROJECT}:`;
    const raw = Object.fromEntries(
        Object.entries(pulumi.runtime.allConfig())
            .filter(([key]) => key.startsWith(prefix))
            .map(([key, value]) => [key.slice(prefix.length), value]),
    );
    return parseSettings(raw);
}

/**
 * Asks EC2 which architectures each host's instance type supports, and refuses any that lacks x86_64:
 * bundled Mattermost ships only for linux-amd64.
 */
export async function checkHostArchitectures(settings: DeploymentSettings): Promise<void> {
    for (const plan of planHosts(settings)) {
        const info = await aws.ec2.getInstanceType({ instanceType: plan.instanceType });
        checkArchitectures(plan.instanceTypeKey, plan.instanceType, info.supportedArchitectures);
    }
}
