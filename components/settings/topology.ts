// Which hosts a topology has and what each one serves. Pure module.

import type { DataVolumeSettings } from "./dataVolume";
import type { DeploymentSettings } from "./settings";

/**
 * A host's job. `single` serves GitLab and Mattermost; `gitlab` and `mattermost` are the two hosts
 * of the split topology. Each of those runs Omnibus, and its gitlab.rb lives in
 * components/gitlabRb/roles/<role>.ts. `mattermost-standalone` (mattermost.mode standalone) runs
 * Mattermost's own release with its own PostgreSQL and nginx, and no Omnibus.
 */
export type HostRole = OmnibusRole | "mattermost-standalone";

/** The roles of hosts that run GitLab's Omnibus package and so have a gitlab.rb. */
export type OmnibusRole = "single" | "gitlab" | "mattermost";

/**
 * The standalone host's name in resources and outputs: `mattermost`, unless a split stack moved its
 * bundled Mattermost there: the old host keeps `mattermost` (its instance and data volume) while it
 * holds the bundled data, so the new one is `mattermost-standalone`, for good.
 */
export type StandaloneHostName = "mattermost" | "mattermost-standalone";

/** One host to create. */
export interface HostPlan {
    /** Short name used in resource names and outputs. */
    readonly name: "gitlab" | StandaloneHostName;
    readonly role: HostRole;
    readonly instanceType: string;
    /** Config key that chose the instance type, for error messages. */
    readonly instanceTypeKey: string;
    readonly volumeSizeGiB: number;
    /** The volume the host keeps its data on. */
    readonly dataVolume: DataVolumeSettings;
    /** Hostnames whose A records point at this host. */
    readonly dnsNames: readonly string[];
    /** Whether GitLab (rails, its database, the OAuth provider) runs here. */
    readonly runsGitlab: boolean;
    /** Whether Mattermost runs here. */
    readonly runsMattermost: boolean;
}

/** A host that runs Omnibus: it gets a gitlab.rb, the package walk and Omnibus's backups. */
export type OmnibusHostPlan = HostPlan & { readonly role: OmnibusRole };

/** Whether the host runs GitLab's Omnibus package. */
export function runsOmnibus(plan: HostPlan): plan is OmnibusHostPlan {
    return plan.role !== "mattermost-standalone";
}

/** `standaloneHost`: the standalone host's name (components/mattermost/migration/migrationPlan.ts placeMattermost). */
export function planHosts(settings: DeploymentSettings, standaloneHost: StandaloneHostName = "mattermost"): readonly HostPlan[] {
    const gitlabHost = settings.externalUrl.host;
    const mattermostHost = settings.mattermostExternalUrl.host;
    const gitlab = {
        name: "gitlab",
        instanceType: settings.gitlab.instanceType,
        instanceTypeKey: "gitlab.instanceType",
        volumeSizeGiB: settings.gitlab.volumeSizeGiB,
        dataVolume: settings.gitlab.dataVolume,
        runsGitlab: true,
    } as const;
    if (settings.topology === "single") {
        return [{ ...gitlab, role: "single", dnsNames: [gitlabHost, mattermostHost], runsMattermost: true }];
    }
    return [
        { ...gitlab, role: "gitlab", dnsNames: [gitlabHost], runsMattermost: false },
        {
            name: settings.mattermost.mode === "standalone" ? standaloneHost : "mattermost",
            role: settings.mattermost.mode === "standalone" ? "mattermost-standalone" : "mattermost",
            instanceType: settings.mattermost.instanceType,
            instanceTypeKey: "mattermost.instanceType",
            volumeSizeGiB: settings.mattermost.volumeSizeGiB,
            dataVolume: settings.mattermost.dataVolume,
            dnsNames: [mattermostHost],
            runsGitlab: false,
            runsMattermost: true,
        },
    ];
}

/**
 * A split stack's old Mattermost host after its bundled Mattermost moved to the standalone host: kept,
 * with its data volume, while it holds the bundled data, but configured no more and serving no name.
 */
export function bundledMattermostHostPlan(settings: DeploymentSettings): OmnibusHostPlan {
    const bundled = planHosts({ ...settings, topology: "split", mattermost: { ...settings.mattermost, mode: "bundled" } }).find((plan) => plan.name === "mattermost");
    return { ...(bundled as OmnibusHostPlan), dnsNames: [] };
}
