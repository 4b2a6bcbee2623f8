// The operator tools installed on the host that runs Mattermost: `mattermost-cli` (the Mattermost
// binary, as the server runs) and `mmctl` (local mode, no token). Same commands on every kind of host;
// the script behind each differs, as Omnibus runs Mattermost under runit with an environment
// directory and a standalone host under systemd with an environment file. Pure module.

import { runsOmnibus, type HostPlan } from "../settings/topology";

/** One tool: where it is installed, and its script in host/tools/. */
export interface MattermostTool {
    readonly path: string;
    readonly source: string;
}

const OMNIBUS_TOOLS: readonly MattermostTool[] = [
    { path: "/usr/local/bin/mattermost-cli", source: "tools/mattermost-cli.sh" },
    { path: "/usr/local/bin/mmctl", source: "tools/mmctl.sh" },
];

const STANDALONE_TOOLS: readonly MattermostTool[] = [
    { path: "/usr/local/bin/mattermost-cli", source: "tools/mattermost-cli-standalone.sh" },
    { path: "/usr/local/bin/mmctl", source: "tools/mmctl-standalone.sh" },
];

/** The tools of a host that runs Mattermost; none elsewhere. */
export function mattermostTools(plan: HostPlan): readonly MattermostTool[] {
    if (!plan.runsMattermost) return [];
    return runsOmnibus(plan) ? OMNIBUS_TOOLS : STANDALONE_TOOLS;
}
