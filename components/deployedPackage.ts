// The GitLab package the last successful `pulumi up` left on the hosts, read from the stack's own
// outputs (gitlabEdition, gitlabVersion) through a StackReference to this stack. It is what previews
// compute the upgrade path from; the hosts' dpkg database stays the truth when the walk runs.

import * as pulumi from "@pulumi/pulumi";
import type { Edition } from "./settings";
import type { GitlabPackage } from "./upgradePath";
import { parseVersion } from "./versions";

/** Names of the stack outputs that record the deployed package. */
export const DEPLOYED_OUTPUTS = { edition: "gitlabEdition", version: "gitlabVersion" } as const;

/** The recorded package, or undefined before the first successful deployment. */
export async function readDeployedPackage(): Promise<GitlabPackage | undefined> {
    const self = new pulumi.StackReference("deployed", { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}` });
    const [edition, versionText] = await Promise.all([self.getOutputValue(DEPLOYED_OUTPUTS.edition), self.getOutputValue(DEPLOYED_OUTPUTS.version)]);
    const version = typeof versionText === "string" ? parseVersion(versionText) : undefined;
    if ((edition !== "ee" && edition !== "ce") || version === undefined) {
        return undefined;
    }
    return { edition: edition as Edition, version };
}
