// What the last successful `pulumi up` left deployed, read from the stack's own outputs through a
// StackReference to this stack: the GitLab package (gitlabEdition, gitlabVersion), which previews
// compute the upgrade path from, the Mattermost mode and version (mattermostMode, mattermostVersion),
// which previews refuse downgrades and unsupported switches against, and the hosts' availability zone
// (availabilityZone), which later runs keep, and after a move of the bundled Mattermost where each part
// of it lives (mattermostHostName, bundledMattermostDataOn). The hosts' dpkg database stays the truth about the package when the walk runs.

import * as pulumi from "@pulumi/pulumi";
import type { Edition } from "../settings/settings";
import type { GitlabPackage } from "../omnibus/upgradePath";
import type { DeployedMattermost } from "./upgrade";
import { parseVersion } from "../versions/versions";

/** Names of the stack outputs that record what is deployed. */
export const DEPLOYED_OUTPUTS = {
    edition: "gitlabEdition",
    version: "gitlabVersion",
    availabilityZone: "availabilityZone",
    mattermostMode: "mattermostMode",
    mattermostVersion: "mattermostVersion",
    topology: "topology",
    standaloneHost: "mattermostHostName",
    bundledDataOn: "bundledMattermostDataOn",
} as const;

/** What the stack's outputs record; each part is undefined before the first run that recorded it. */
export interface DeployedState {
    readonly gitlabPackage?: GitlabPackage;
    readonly availabilityZone?: string;
    /** Stacks from before the mode was recorded ran bundled Mattermost; undefined before the first run. */
    readonly mattermost?: DeployedMattermost;
}

export async function readDeployedState(): Promise<DeployedState> {
    const self = new pulumi.StackReference("deployed", { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}` });
    const [edition, versionText, availabilityZone, mattermostMode, mattermostVersion, topology, standaloneHost, bundledDataOn] = await Promise.all(
        [
            DEPLOYED_OUTPUTS.edition,
            DEPLOYED_OUTPUTS.version,
            DEPLOYED_OUTPUTS.availabilityZone,
            DEPLOYED_OUTPUTS.mattermostMode,
            DEPLOYED_OUTPUTS.mattermostVersion,
            DEPLOYED_OUTPUTS.topology,
            DEPLOYED_OUTPUTS.standaloneHost,
            DEPLOYED_OUTPUTS.bundledDataOn,
        ].map((name) => self.getOutputValue(name)),
    );
    const version = typeof versionText === "string" ? parseVersion(versionText) : undefined;
    const gitlabPackage = (edition === "ee" || edition === "ce") && version !== undefined ? { edition: edition as Edition, version } : undefined;
    // A bundled patch range ("10.11.13 to 10.11.20") is no exact version; it parses to undefined.
    const mattermostExact = typeof mattermostVersion === "string" ? parseVersion(mattermostVersion) : undefined;
    return {
        gitlabPackage,
        mattermost:
            gitlabPackage === undefined
                ? undefined
                : {
                      mode: mattermostMode === "standalone" ? "standalone" : "bundled",
                      ...(mattermostExact === undefined ? {} : { version: mattermostExact }),
                      // Which host ran the bundled Mattermost, for a move to the standalone host.
                      ...(topology === "single" || topology === "split" ? { topology } : {}),
                      // After a move: the standalone host's name, and the host still holding the bundled data.
                      ...(standaloneHost === "mattermost" || standaloneHost === "mattermost-standalone" ? { standaloneHost } : {}),
                      ...(bundledDataOn === "gitlab" || bundledDataOn === "mattermost" ? { bundledDataOn } : {}),
                  },
        availabilityZone: typeof availabilityZone === "string" && availabilityZone !== "" ? availabilityZone : undefined,
    };
}
