// What the last successful `pulumi up` left deployed, read from the stack's own outputs through a
// StackReference to this stack: the GitLab package (gitlabEdition, gitlabVersion), which previews
// compute the upgrade path from, and the hosts' availability zone (availabilityZone), which later
// runs keep. The hosts' dpkg database stays the truth about the package when the walk runs.

import * as pulumi from "@pulumi/pulumi";
import type { Edition } from "../settings/settings";
import type { GitlabPackage } from "../omnibus/upgradePath";
import { parseVersion } from "../versions/versions";

/** Names of the stack outputs that record what is deployed. */
export const DEPLOYED_OUTPUTS = { edition: "gitlabEdition", version: "gitlabVersion", availabilityZone: "availabilityZone" } as const;

/** What the stack's outputs record; each part is undefined before the first run that recorded it. */
export interface DeployedState {
    readonly gitlabPackage?: GitlabPackage;
    readonly availabilityZone?: string;
}

export async function readDeployedState(): Promise<DeployedState> {
    const self = new pulumi.StackReference("deployed", { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}` });
    const [edition, versionText, availabilityZone] = await Promise.all(
        [DEPLOYED_OUTPUTS.edition, DEPLOYED_OUTPUTS.version, DEPLOYED_OUTPUTS.availabilityZone].map((name) => self.getOutputValue(name)),
    );
    const version = typeof versionText === "string" ? parseVersion(versionText) : undefined;
    return {
        gitlabPackage: (edition === "ee" || edition === "ce") && version !== undefined ? { edition: edition as Edition, version } : undefined,
        availabilityZone: typeof availabilityZone === "string" && availabilityZone !== "" ? availabilityZone : undefined,
    };
}
