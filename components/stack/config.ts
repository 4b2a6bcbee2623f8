// Validation of the stack configuration: raw strings in, DeploymentSettings out, or one ConfigError
// that names the key and says what to do. Runs before any resource is created.
// Pure module: no cloud SDK, no Pulumi runtime.

import { isIP } from "node:net";
import { calendarProblem } from "../backups/calendar";
import { pointInTimeProblem, readPointInTime } from "../backups/pitr";
import { firstRedundantCidr, parseCidr, tooWideTogether } from "../settings/cidr";
import { checkProvidedCertificate, parseCaCertificate } from "../tls/certificateChecks";
import { ConfigError } from "../settings/configError";
import { GP3_LIMITS, SNAPSHOT_ID, gp3Problem, type DataVolumeSettings } from "../settings/dataVolume";
import { checkEnvCollisions, checkEnvFileValue } from "../mattermost/mattermostEnv";
import { checkAdminUsername } from "../mattermost/signUpPolicy";
import { checkStandaloneSettings, standaloneEnvOwner } from "../mattermost/standalone/standaloneSettings";
import { checkModeFields, readMattermostMode, readStandaloneMattermost } from "../mattermost/standaloneRelease";
import { SUGGESTED_MATTERMOST } from "../versions/mattermostReleases";
import {
    DEFAULTS,
    type DeploymentSettings,
    type Edition,
    type BackupSettings,
    type EmailBatchingSettings,
    type ExternalUrl,
    type MailSecurity,
    type MailSettings,
    type MattermostMode,
    type ProvidedCertificate,
    type ServiceName,
    type SshSettings,
    type Topology,
    type TlsSettings,
} from "../settings/settings";
import {
    HOST_OS,
    LAST_BUNDLING_LINE,
    MATTERMOST_REMOVED_IN,
    VERSION_DATA_CHECKED,
    compareVersions,
    formatLine,
    formatVersion,
    gitlabPluginIgnoringSettings,
    isReleased,
    knownBadPatch,
    newestPatchOf,
    parseVersion,
    type Version,
} from "../versions/versions";

export { ConfigError, PROJECT } from "../settings/configError";

/** Top-level keys and, for objects, their fields. Anything else is a typo and is refused. */
const SCHEMA = {
    topology: null,
    externalUrl: null,
    mattermostExternalUrl: null,
    dnsZone: null,
    gitlab: ["edition", "version", "instanceType", "volumeSizeGiB", "dataVolume"],
    mattermost: ["mode", "version", "edition", "license", "checksum", "removeBundledData", "instanceType", "volumeSizeGiB", "dataVolume", "uid", "gid", "env", "emailBatching", "gitlabPlugin", "adminUsername"],
    tls: ["mode", "contactEmail", "validityDays", "earlyRenewalDays", "certificates", "caCertificate"],
    ssh: ["access", "allowedCidrs"],
    oauth: ["rotation"],
    mail: ["provider", "host", "port", "username", "password", "security", "from", "replyTo", "fromName"],
    backup: ["schedule", "retentionDays", "keepNewest", "restoreFrom"],
} as const satisfies Record<string, readonly string[] | null>;

type ObjectKey = { [K in keyof typeof SCHEMA]: (typeof SCHEMA)[K] extends null ? never : K }[keyof typeof SCHEMA];
type RawObject = Record<string, unknown>;

/**
 * Graviton families (a1, t4g, m7g, c7gn, im4gn, ...). Only a fast, offline first check: the program
 * also asks EC2 for each type's supported architectures.
 */
export const ARM_FAMILY = /^(a1|[a-z]+\d+g[a-z]*)$/;
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9-]+$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/;
const EMAIL = /^[^\s@'"]+@[^\s@'"]+\.[^\s@'"]+$/;

/**
 * Validates the stack's raw configuration (key → string, as Pulumi stores it; objects as JSON).
 * Throws a ConfigError for the first problem found. `now` judges certificate expiry.
 */
export function parseSettings(raw: Readonly<Record<string, string>>, now: Date = new Date()): DeploymentSettings {
    for (const key of Object.keys(raw)) {
        if (!Object.hasOwn(SCHEMA, key)) {
            throw new ConfigError(key, `is not a known key. Known keys: ${Object.keys(SCHEMA).join(", ")}. Remove it with: pulumi config rm ${key}`);
        }
        checkText(raw[key], key);
    }
    const objects = {
        gitlab: readObject(raw, "gitlab"),
        mattermost: readObject(raw, "mattermost"),
        tls: readObject(raw, "tls"),
        ssh: readObject(raw, "ssh"),
        oauth: readObject(raw, "oauth"),
        mail: readObject(raw, "mail"),
        backup: readObject(raw, "backup"),
    };

    const topology = readTopology(raw.topology);
    const externalUrl = readUrl(raw.externalUrl, "externalUrl", "https://gitlab.example.com");
    const mattermostExternalUrl = readUrl(raw.mattermostExternalUrl, "mattermostExternalUrl", "https://mattermost.example.com");
    const gitlabPlugin = readGitlabPlugin(objects.mattermost.gitlabPlugin, externalUrl, mattermostExternalUrl);
    if (externalUrl.host === mattermostExternalUrl.host) {
        throw new ConfigError(
            "mattermostExternalUrl",
            `uses the same hostname as externalUrl (${externalUrl.host}). Mattermost needs a name of its own, e.g. mattermost.${parentDomain(externalUrl.host)}.`,
        );
    }
    if (externalUrl.scheme !== mattermostExternalUrl.scheme) {
        throw new ConfigError(
            "mattermostExternalUrl",
            `is ${mattermostExternalUrl.scheme} while externalUrl is ${externalUrl.scheme}. Use https for both (recommended) or http for both, so sign-in redirects keep one scheme.`,
        );
    }
    const dnsZone = readZone(raw.dnsZone);
    for (const [key, url] of [["externalUrl", externalUrl], ["mattermostExternalUrl", mattermostExternalUrl]] as const) {
        if (url.host !== dnsZone && !url.host.endsWith(`.${dnsZone}`)) {
            throw new ConfigError(key, `has hostname ${url.host}, which is not in dnsZone ${dnsZone}. Use a name under ${dnsZone}, or set dnsZone to the zone that holds it.`);
        }
    }

    const gitlab = objects.gitlab;
    const configuredMode = readMattermostMode(objects.mattermost.mode, topology);
    const version = readVersion(gitlab.version, configuredMode);
    const mode: MattermostMode = configuredMode ?? DEFAULTS.mattermost.mode;
    const ignoring = gitlabPlugin ? gitlabPluginIgnoringSettings(version) : undefined;
    if (ignoring !== undefined) {
        throw new ConfigError(
            "mattermost.gitlabPlugin.enabled",
            `cannot work with GitLab ${formatVersion(version)}: its Mattermost may ship GitLab plugin ${formatVersion(ignoring)}, which reads its OAuth application only from instances stored with /gitlab instance install, not from the settings this program writes. Choose another gitlab.version, or turn the plugin off.`,
        );
    }
    const gitlabSettings = {
        edition: readEdition(gitlab.edition),
        version,
        instanceType: readInstanceType(gitlab.instanceType, "gitlab.instanceType", DEFAULTS.gitlab.instanceType),
        volumeSizeGiB: readWholeNumber(gitlab.volumeSizeGiB, "gitlab.volumeSizeGiB", { ...VOLUME_GIB, fallback: DEFAULTS.gitlab.volumeSizeGiB }),
        dataVolume: readDataVolume(gitlab.dataVolume, "gitlab.dataVolume", DEFAULTS.gitlab.dataVolume),
    };

    const mm = objects.mattermost;
    if (topology === "single") {
        for (const field of ["instanceType", "volumeSizeGiB", "dataVolume"] as const) {
            if (mm[field] !== undefined) {
                throw new ConfigError(
                    `mattermost.${field}`,
                    `applies only to topology split; in topology single, Mattermost runs on the GitLab host, sized by gitlab.${field}. Remove it, or set topology to split.`,
                );
            }
        }
    }
    checkModeFields(mode, mm);
    const mattermostSettings = {
        mode,
        ...(mode === "standalone" ? { standalone: readStandaloneMattermost(mm) } : {}),
        instanceType: readInstanceType(mm.instanceType, "mattermost.instanceType", DEFAULTS.mattermost.instanceType),
        volumeSizeGiB: readWholeNumber(mm.volumeSizeGiB, "mattermost.volumeSizeGiB", { ...VOLUME_GIB, fallback: DEFAULTS.mattermost.volumeSizeGiB }),
        dataVolume: readDataVolume(mm.dataVolume, "mattermost.dataVolume", DEFAULTS.mattermost.dataVolume),
        uid: readId(mm.uid, "mattermost.uid"),
        gid: readId(mm.gid, "mattermost.gid"),
        env: readEnv(mm.env),
        gitlabPlugin,
        adminUsername: readAdminUsername(mm.adminUsername),
        ...(mm.emailBatching === undefined ? {} : { emailBatching: readEmailBatching(mm.emailBatching, objects.mail) }),
    };

    const settings: DeploymentSettings = {
        topology,
        externalUrl,
        mattermostExternalUrl,
        dnsZone,
        gitlab: gitlabSettings,
        mattermost: mattermostSettings,
        tls: readTls(objects.tls, { gitlab: externalUrl, mattermost: mattermostExternalUrl }, now),
        ssh: readSsh(objects.ssh),
        oauth: { rotation: readWholeNumber(objects.oauth.rotation, "oauth.rotation", { min: 0, max: 1_000_000, unit: "", fallback: DEFAULTS.oauth.rotation }) },
        ...(raw.mail === undefined ? {} : { mail: readMail(objects.mail, dnsZone) }),
        backup: readBackup(objects.backup),
    };
    checkEnvCollisions(settings, mode === "standalone" ? standaloneEnvOwner(settings) : undefined);
    if (mode === "standalone") {
        checkStandaloneSettings(settings);
    }
    checkPointInTime(settings, now);
    return settings;
}

/**
 * A point in time in backup.restoreFrom: only the standalone host archives its database's WAL, and only
 * moments from the retention window's start to now can be restored.
 */
function checkPointInTime(settings: DeploymentSettings, now: Date): void {
    const restoreFrom = settings.backup.restoreFrom;
    const time = restoreFrom === undefined ? undefined : readPointInTime(restoreFrom);
    if (time === undefined) {
        return;
    }
    if (settings.mattermost.mode !== "standalone") {
        throw new ConfigError("backup.restoreFrom", `is a point in time (${restoreFrom}), which only a standalone Mattermost can be restored to: the bundled one's database is not archived continuously. Use a backup's timestamp (YYYYmmddTHHMMSSZ) or "latest", or set mattermost.mode standalone.`);
    }
    const problem = pointInTimeProblem(time, now, settings.backup.retentionDays);
    if (problem !== undefined) {
        throw new ConfigError("backup.restoreFrom", `${problem}. Choose a moment from then to now, in UTC (YYYY-MM-DDTHH:MM:SSZ).`);
    }
}

function readObject(raw: Readonly<Record<string, string>>, key: ObjectKey): RawObject {
    const text = raw[key];
    if (text === undefined) {
        return {};
    }
    let value: unknown;
    try {
        // Null-prototype objects: a field named like an Object.prototype member (constructor,
        // toString, __proto__) is then only ever the administrator's own field.
        value = JSON.parse(text, (_field, parsed: unknown) =>
            typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? Object.assign(Object.create(null), parsed) : parsed,
        );
    } catch {
        throw new ConfigError(key, `must be an object. Set its fields with --path, e.g.: pulumi config set --path ${key}.${SCHEMA[key][0]} <value>`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new ConfigError(key, `must be an object. Set its fields with --path, e.g.: pulumi config set --path ${key}.${SCHEMA[key][0]} <value>`);
    }
    const allowed: readonly string[] = SCHEMA[key];
    for (const field of Object.keys(value)) {
        if (!allowed.includes(field)) {
            throw new ConfigError(`${key}.${field}`, `is not a known field. Known fields of ${key}: ${allowed.join(", ")}.`);
        }
    }
    checkText(value, key);
    return value as RawObject;
}

/**
 * Refuses a string anywhere in `value` (names included) that is not well-formed Unicode: a lone
 * surrogate has no UTF-8 form, so neither gitlab.rb nor any file on a host could carry it.
 */
const LONE_SURROGATE = /\p{Cs}/u;

function checkText(value: unknown, key: string): void {
    if (typeof value === "string") {
        if (LONE_SURROGATE.test(value)) {
            throw new ConfigError(key, `contains a lone UTF-16 surrogate (${JSON.stringify(value)}), which has no UTF-8 form. Write the character whole, or remove it.`);
        }
    } else if (Array.isArray(value)) {
        value.forEach((entry, index) => checkText(entry, `${key}[${index}]`));
    } else if (typeof value === "object" && value !== null) {
        for (const [field, entry] of Object.entries(value)) {
            checkText(field, key);
            checkText(entry, `${key}.${field}`);
        }
    }
}

function readTopology(value: string | undefined): Topology {
    if (value === undefined) {
        return DEFAULTS.topology;
    }
    if (value !== "single" && value !== "split") {
        throw new ConfigError("topology", `must be "single" (one host serves both names) or "split" (a GitLab host and a Mattermost host), got "${value}".`);
    }
    return value;
}

function readUrl(value: string | undefined, key: string, example: string): ExternalUrl {
    const fix = `Set it with: pulumi config set ${key} ${example}`;
    if (value === undefined || value.trim() === "") {
        throw new ConfigError(key, `is required. ${fix}`);
    }
    let url: URL;
    try {
        url = new URL(value);
    } catch {
        throw new ConfigError(key, `is not a URL: "${value}". ${fix}`);
    }
    const scheme = url.protocol.slice(0, -1);
    if (scheme !== "http" && scheme !== "https") {
        throw new ConfigError(key, `must use http or https, got "${url.protocol}". ${fix}`);
    }
    if (url.username || url.password) {
        throw new ConfigError(key, `must not contain a user or password. ${fix}`);
    }
    if (url.port !== "") {
        throw new ConfigError(key, `must use the default port; only 80 and 443 are opened. Remove ":${url.port}". ${fix}`);
    }
    if (url.pathname !== "/" || url.search || url.hash || /[?#]/.test(value.replace(/^[a-z]+:\/\/[^/]*/i, ""))) {
        throw new ConfigError(key, `must not have a path, query or fragment: GitLab and Mattermost each need a hostname of their own. ${fix}`);
    }
    if (isIP(url.hostname.replace(/^\[|\]$/g, "")) !== 0 || !HOSTNAME.test(url.hostname)) {
        throw new ConfigError(key, `must name a DNS host (letters, digits, hyphens, at least two labels), got "${url.hostname}". ${fix}`);
    }
    return { scheme, host: url.hostname, href: `${scheme}://${url.hostname}` };
}

function readZone(value: string | undefined): string {
    if (value === undefined || value.trim() === "") {
        throw new ConfigError("dnsZone", "is required: the existing public Route53 zone that holds both hostnames. Set it with: pulumi config set dnsZone example.com");
    }
    const zone = value.trim().toLowerCase().replace(/\.$/, "");
    if (!HOSTNAME.test(zone)) {
        throw new ConfigError("dnsZone", `must be a DNS zone name like example.com, got "${value}".`);
    }
    return zone;
}

/** `mode` is mattermost.mode as configured, undefined when absent. */
function readVersion(value: unknown, mode: MattermostMode | undefined): Version {
    const text = value === undefined ? DEFAULTS.gitlab.version : value;
    const version = typeof text === "string" ? parseVersion(text) : undefined;
    if (!version) {
        throw new ConfigError("gitlab.version", `must be a full version x.y.z such as ${DEFAULTS.gitlab.version}, got ${JSON.stringify(text)}.`);
    }
    // No default mode for 19.x: which Mattermost a stack runs is too big a choice to make silently.
    if (compareVersions(version, MATTERMOST_REMOVED_IN) >= 0 && mode !== "standalone") {
        const modeIs = mode === undefined ? "mattermost.mode is not set (bundled is its default up to 18.11)" : "mattermost.mode is bundled";
        throw new ConfigError(
            "gitlab.version",
            `is ${formatVersion(version)}, but GitLab ${MATTERMOST_REMOVED_IN.major}.0 removed bundled Mattermost (${LAST_BUNDLING_LINE}.x is the last release line that ships it) and ${modeIs}. For a new stack, run Mattermost on a host of its own: pulumi config set topology split, pulumi config set --path mattermost.mode standalone, pulumi config set --path mattermost.version ${SUGGESTED_MATTERMOST}. A deployed bundled stack stays on ${DEFAULTS.gitlab.version} until its Mattermost has moved (docs/upgrading-past-18.11.md).`,
        );
    }
    if (compareVersions(version, HOST_OS.firstGitlab) < 0) {
        throw new ConfigError(
            "gitlab.version",
            `is ${formatVersion(version)}, but GitLab publishes ${HOST_OS.name} packages only from ${formatVersion(HOST_OS.firstGitlab)} on. Use ${formatVersion(HOST_OS.firstGitlab)} or later.`,
        );
    }
    // apt would find no such package, on a fresh install as on an upgrade.
    if (!isReleased(version)) {
        const newest = newestPatchOf(version);
        const known = newest === undefined ? `${formatLine(version)} is not a GitLab release line` : `the newest ${formatLine(version)} patch is ${formatVersion(newest)}`;
        throw new ConfigError(
            "gitlab.version",
            `is ${formatVersion(version)}, which GitLab has not released: ${known} (version data checked up to ${VERSION_DATA_CHECKED}). Use a released version such as ${DEFAULTS.gitlab.version}.`,
        );
    }
    const bad = knownBadPatch(version);
    if (bad !== undefined) {
        throw new ConfigError("gitlab.version", `is ${formatVersion(version)}, a patch known to break this deployment: ${bad.reason}. Use ${DEFAULTS.gitlab.version}.`);
    }
    return version;
}

function readEdition(value: unknown): Edition {
    if (value === undefined) {
        return DEFAULTS.gitlab.edition;
    }
    if (value !== "ee" && value !== "ce") {
        throw new ConfigError("gitlab.edition", `must be "ee" or "ce", got ${JSON.stringify(value)}.`);
    }
    return value;
}

function readInstanceType(value: unknown, key: string, fallback: string): string {
    if (value === undefined) {
        return fallback;
    }
    if (typeof value !== "string" || !INSTANCE_TYPE.test(value)) {
        throw new ConfigError(key, `must be an EC2 instance type such as ${fallback}, got ${JSON.stringify(value)}.`);
    }
    if (ARM_FAMILY.test(value.split(".")[0])) {
        throw new ConfigError(key, `is ${value}, an ARM (Graviton) type. Bundled Mattermost ships only for linux-amd64; choose an x86_64 type such as ${fallback}.`);
    }
    return value;
}

/** Refuses an instance type whose supported architectures, as EC2 reports them, exclude x86_64. */
export function checkArchitectures(key: string, instanceType: string, supported: readonly string[]): void {
    if (!supported.includes("x86_64")) {
        throw new ConfigError(
            key,
            `is ${instanceType}, which supports only ${supported.join(", ") || "no known architecture"}. Bundled Mattermost ships only for linux-amd64; choose an x86_64 type.`,
        );
    }
}

/** A host's instance type and the availability zones that offer it, as EC2 reports them. */
export interface ZoneOffering {
    /** The configuration key that chose the type, e.g. `gitlab.instanceType`. */
    readonly key: string;
    readonly instanceType: string;
    readonly zones: readonly string[];
}

/**
 * The availability zone for the hosts. Once deployed they stay in `current`, which must offer every
 * host's instance type: moving the subnet would replace every host. Before that, the first of `zones`
 * (the region's available zones, in the order EC2 lists them) that offers every host's instance type:
 * the hosts share one subnet, so one zone must offer them all.
 */
export function chooseZone(zones: readonly string[], offerings: readonly ZoneOffering[], current?: string): string {
    if (current !== undefined) {
        const missing = offerings.find((offering) => !offering.zones.includes(current));
        if (missing !== undefined) {
            throw new ConfigError(
                missing.key,
                `is ${missing.instanceType}, which ${current}, the zone the hosts are in, does not offer (offered in ${missing.zones.join(", ") || "no zone of this region"}). Moving the hosts to another zone would replace them; choose an instance type ${current} offers.`,
            );
        }
        return current;
    }
    const zone = zones.find((candidate) => offerings.every((offering) => offering.zones.includes(candidate)));
    if (zone !== undefined) {
        return zone;
    }
    const where = (offering: ZoneOffering) => {
        const offered = zones.filter((candidate) => offering.zones.includes(candidate));
        return offered.length > 0 ? `only in ${offered.join(", ")}` : "in none of its available zones";
    };
    const unavailable = offerings.find((offering) => !zones.some((candidate) => offering.zones.includes(candidate)));
    if (unavailable !== undefined) {
        throw new ConfigError(unavailable.key, `is ${unavailable.instanceType}, which this region offers ${where(unavailable)}. Choose an instance type the region offers.`);
    }
    const [first, ...others] = offerings as [ZoneOffering, ...ZoneOffering[]];
    throw new ConfigError(
        first.key,
        `is ${first.instanceType}, offered ${where(first)}; ${others.map((other) => `${other.key} is ${other.instanceType}, offered ${where(other)}`).join("; ")}. The hosts share one zone: choose instance types that one zone offers together.`,
    );
}

/**
 * Whole numbers arrive as numbers from YAML, or as digit strings from `pulumi config set --path`.
 * Returns undefined for anything that is not a whole number.
 */
function asInteger(value: unknown): number | undefined {
    if (typeof value === "number" && Number.isSafeInteger(value)) {
        return value;
    }
    if (typeof value === "string" && /^-?\d{1,15}$/.test(value)) {
        return Number(value);
    }
    return undefined;
}

/** The range a whole-number setting accepts, and its value when absent. */
interface WholeNumberRule {
    readonly min: number;
    readonly max: number;
    /** The unit, for the message: "GiB", "days", "seconds", or "" for a plain count. */
    readonly unit: string;
    readonly fallback: number;
}

function readWholeNumber(value: unknown, key: string, rule: WholeNumberRule): number {
    if (value === undefined) {
        return rule.fallback;
    }
    const number = asInteger(value);
    if (number === undefined || number < rule.min || number > rule.max) {
        const unit = rule.unit ? ` of ${rule.unit}` : "";
        throw new ConfigError(key, `must be a whole number${unit} from ${rule.min} to ${rule.max}, got ${JSON.stringify(value)}.`);
    }
    return number;
}

const VOLUME_GIB = { min: 20, max: 16384, unit: "GiB" } as const;
const DAYS = { min: 1, max: 3650, unit: "days" } as const;

/**
 * Numeric ids the mattermost account may take: Ubuntu's range for ordinary accounts (login.defs UID_MIN
 * 1000 to UID_MAX 60000, the same for groups) without 1000, which the cloud image's `ubuntu` user and
 * group hold. Ids below 1000 are the system range, from which the image and Omnibus's own accounts
 * (git, gitlab-www, gitlab-psql, ...) take ids as they are created, so no fixed one there is safe.
 */
const ACCOUNT_ID = { min: 1001, max: 60000 } as const;

function readId(value: unknown, key: string): number | undefined {
    if (value === undefined) {
        return undefined;
    }
    const id = asInteger(value);
    if (id === undefined || id < ACCOUNT_ID.min || id > ACCOUNT_ID.max) {
        throw new ConfigError(
            key,
            `must be a whole number from ${ACCOUNT_ID.min} to ${ACCOUNT_ID.max}, got ${JSON.stringify(value)}: 1000 is the image's ubuntu account, and ids below it are allocated to system accounts as they are created. Remove it to let Omnibus choose.`,
        );
    }
    return id;
}

function readEnv(value: unknown): Readonly<Record<string, string>> {
    if (value === undefined) {
        return {};
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new ConfigError("mattermost.env", `must be a map of variable names to strings, e.g. pulumi config set --path 'mattermost.env.HTTP_PROXY' http://proxy:3128`);
    }
    const entries: [string, string][] = [];
    for (const name of Object.keys(value).sort()) {
        const entry = (value as RawObject)[name];
        const key = `mattermost.env.${name}`;
        if (!ENV_NAME.test(name)) {
            throw new ConfigError(key, `is not a valid environment variable name. Use letters, digits and underscores, not starting with a digit.`);
        }
        if (typeof entry !== "string") {
            throw new ConfigError(key, `must be a string, got ${JSON.stringify(entry)}. Quote the value.`);
        }
        checkEnvFileValue(key, entry);
        entries.push([name, entry]);
    }
    // fromEntries defines own properties, so even a variable named __proto__ is kept as written.
    return Object.fromEntries(entries);
}

/** Which tls fields belong to which mode; a field of another mode is refused, not ignored. */
const TLS_FIELDS_BY_MODE: Record<Exclude<TlsSettings["mode"], "none">, readonly string[]> = {
    letsencrypt: ["contactEmail"],
    selfSigned: ["validityDays", "earlyRenewalDays"],
    provided: ["certificates", "caCertificate"],
};

function readTls(tls: RawObject, urls: { gitlab: ExternalUrl; mattermost: ExternalUrl }, now: Date): TlsSettings {
    const scheme = urls.gitlab.scheme;
    const mode = tls.mode ?? (scheme === "https" ? "letsencrypt" : undefined);
    if (mode !== undefined && !(typeof mode === "string" && Object.hasOwn(TLS_FIELDS_BY_MODE, mode))) {
        throw new ConfigError("tls.mode", `must be one of ${Object.keys(TLS_FIELDS_BY_MODE).map((m) => `"${m}"`).join(", ")}, got ${JSON.stringify(mode)}.`);
    }
    if (mode !== undefined && scheme === "http") {
        throw new ConfigError("tls.mode", `is ${mode}, but externalUrl and mattermostExternalUrl are http. Change both URLs to https, or remove tls.mode to serve plain http.`);
    }
    for (const [otherMode, fields] of Object.entries(TLS_FIELDS_BY_MODE)) {
        for (const field of fields) {
            if (otherMode !== mode && tls[field] !== undefined) {
                const why = mode === undefined ? "the URLs are http and no certificate is used" : `tls.mode is ${mode}`;
                throw new ConfigError(`tls.${field}`, `applies only to tls.mode ${otherMode}, but ${why}. Remove it, or change tls.mode.`);
            }
        }
    }
    switch (mode) {
        case undefined:
            return { mode: "none" };
        case "letsencrypt": {
            const contactEmail = tls.contactEmail;
            if (contactEmail !== undefined && (typeof contactEmail !== "string" || !EMAIL.test(contactEmail))) {
                throw new ConfigError("tls.contactEmail", `must be an e-mail address, got ${JSON.stringify(contactEmail)}.`);
            }
            return contactEmail === undefined ? { mode } : { mode, contactEmail };
        }
        case "selfSigned": {
            const validityDays = readWholeNumber(tls.validityDays, "tls.validityDays", { ...DAYS, fallback: DEFAULTS.selfSigned.validityDays });
            const earlyRenewalDays = readWholeNumber(tls.earlyRenewalDays, "tls.earlyRenewalDays", { ...DAYS, fallback: DEFAULTS.selfSigned.earlyRenewalDays });
            if (earlyRenewalDays >= validityDays) {
                throw new ConfigError("tls.earlyRenewalDays", `is ${earlyRenewalDays}, which is not shorter than tls.validityDays (${validityDays}); every pulumi up would renew. Make it smaller.`);
            }
            return { mode, validityDays, earlyRenewalDays };
        }
        default:
            return readProvidedTls(tls, urls, now);
    }
}

function readProvidedTls(tls: RawObject, urls: { gitlab: ExternalUrl; mattermost: ExternalUrl }, now: Date): TlsSettings {
    const certificates = tls.certificates ?? {};
    if (typeof certificates !== "object" || certificates === null || Array.isArray(certificates)) {
        throw new ConfigError("tls.certificates", "must be an object with gitlab and mattermost entries, each with certificate and key.");
    }
    const caPem = tls.caCertificate;
    if (caPem !== undefined && typeof caPem !== "string") {
        throw new ConfigError("tls.caCertificate", "must be a PEM certificate. Set it with: pulumi config set --path tls.caCertificate < ca.pem");
    }
    const ca = caPem === undefined ? undefined : parseCaCertificate(caPem, "tls.caCertificate");
    const entries = certificates as RawObject;
    for (const name of Object.keys(entries)) {
        if (name !== "gitlab" && name !== "mattermost") {
            throw new ConfigError(`tls.certificates.${name}`, "is not a known entry. Entries: gitlab (for externalUrl) and mattermost (for mattermostExternalUrl).");
        }
    }
    const read = (name: ServiceName, hostname: string): ProvidedCertificate => {
        const entry = (entries[name] ?? {}) as RawObject;
        for (const field of Object.keys(entry)) {
            if (field !== "certificate" && field !== "key") {
                throw new ConfigError(`tls.certificates.${name}.${field}`, "is not a known field. Fields: certificate (the PEM chain, leaf first) and key.");
            }
        }
        const chain = typeof entry.certificate === "string" ? entry.certificate : undefined;
        const key = typeof entry.key === "string" ? entry.key : undefined;
        checkProvidedCertificate({ keyPath: `tls.certificates.${name}`, chainPem: chain, keyPem: key, hostname, now, ca });
        return { chain: chain as string, key: key as string };
    };
    const provided = {
        gitlab: read("gitlab", urls.gitlab.host),
        mattermost: read("mattermost", urls.mattermost.host),
    };
    return caPem === undefined ? { mode: "provided", certificates: provided } : { mode: "provided", certificates: provided, caCertificate: caPem };
}

const SSH_ACCESS_MODES = ["direct", "ssm"] as const;

function readSsh(ssh: RawObject): SshSettings {
    const access = ssh.access ?? DEFAULTS.ssh.access;
    if (typeof access !== "string" || !(SSH_ACCESS_MODES as readonly string[]).includes(access)) {
        throw new ConfigError(
            "ssh.access",
            `must be ${SSH_ACCESS_MODES.join(" or ")}, got ${JSON.stringify(access)}. direct: SSH to port 22 from ssh.allowedCidrs; ssm: through AWS Systems Manager, no inbound port (see the README, "Reaching the hosts").`,
        );
    }
    if (access === "direct") {
        return { access, allowedCidrs: readCidrs(ssh.allowedCidrs) };
    }
    if (ssh.allowedCidrs !== undefined) {
        throw new ConfigError(
            "ssh.allowedCidrs",
            "has no use with ssh.access ssm: the hosts then open no SSH port, and every connection goes through Systems Manager. Remove it (pulumi config rm --path ssh.allowedCidrs), or set ssh.access to direct.",
        );
    }
    return { access: "ssm", allowedCidrs: [] };
}

function readCidrs(value: unknown): readonly string[] {
    const fix = `Set it with: pulumi config set --path 'ssh.allowedCidrs[0]' 203.0.113.0/24`;
    if (value === undefined) {
        throw new ConfigError(
            "ssh.allowedCidrs",
            `is required with ssh.access direct: the networks allowed to reach SSH. There is no open default. ${fix}. Or reach the hosts through Systems Manager: pulumi config set --path ssh.access ssm`,
        );
    }
    if (!Array.isArray(value) || value.length === 0) {
        throw new ConfigError("ssh.allowedCidrs", `must be a non-empty list of CIDR blocks. ${fix}`);
    }
    const cidrs = value.map((entry, i) => {
        const key = `ssh.allowedCidrs[${i}]`;
        if (typeof entry !== "string") {
            throw new ConfigError(key, `must be a CIDR string, got ${JSON.stringify(entry)}.`);
        }
        const cidr = parseCidr(entry);
        if (typeof cidr === "string") {
            throw new ConfigError(key, `"${entry}" ${cidr}.`);
        }
        if (cidr.family !== 4) {
            throw new ConfigError(
                key,
                `"${entry}" is an IPv6 block, but the stack's network is IPv4 only: its VPC, subnet, hosts and DNS names have no IPv6 address, ` +
                    "so SSH from an IPv6 network could never arrive. Allow that network's IPv4 block instead, or a bastion (jump host) that has IPv4.",
            );
        }
        if (cidr.hostBitsSet) {
            throw new ConfigError(key, `"${entry}" has host bits set; did you mean ${cidr.canonical}?`);
        }
        return cidr;
    });
    const tooWide = tooWideTogether(cidrs);
    if (tooWide.length > 0) {
        throw new ConfigError("ssh.allowedCidrs", `${tooWide.join("; ")}. Allow only your administrators' networks or a bastion's address.`);
    }
    // EC2 refuses a security group rule it already has (InvalidPermission.Duplicate); a block inside
    // another admits no one more, and only hides what the list really allows.
    const redundant = firstRedundantCidr(cidrs);
    if (redundant !== undefined) {
        const [entry, wider] = [cidrs[redundant.index], cidrs[redundant.coveredBy]];
        const relation = redundant.same ? "is the same block as" : "lies inside";
        throw new ConfigError(
            `ssh.allowedCidrs[${redundant.index}]`,
            `${entry.canonical} ${relation} ssh.allowedCidrs[${redundant.coveredBy}] ${wider.canonical}, which already allows it. Remove one of them.`,
        );
    }
    return cidrs.map((cidr) => cidr.canonical);
}

function readGitlabPlugin(value: unknown, gitlab: ExternalUrl, mattermost: ExternalUrl): boolean {
    if (value === undefined) {
        return false;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value) || Object.keys(value).some((k) => k !== "enabled")) {
        throw new ConfigError("mattermost.gitlabPlugin", "must be an object with one field, enabled. Set it with: pulumi config set --path mattermost.gitlabPlugin.enabled true");
    }
    const enabled = readBoolean((value as RawObject).enabled, "mattermost.gitlabPlugin.enabled", false);
    // Checked before the URLs' own scheme rule, so the message says what would break.
    if (enabled && gitlab.scheme !== mattermost.scheme) {
        throw new ConfigError(
            "mattermost.gitlabPlugin.enabled",
            `needs externalUrl and mattermostExternalUrl on one scheme, but GitLab is ${gitlab.scheme} and Mattermost is ${mattermost.scheme}: the plugin's OAuth redirect would not match. Use https for both.`,
        );
    }
    return enabled;
}

function readAdminUsername(value: unknown): string {
    const key = "mattermost.adminUsername";
    if (value === undefined) return DEFAULTS.mattermost.adminUsername;
    const username = readText(value, key);
    checkAdminUsername(username, key);
    return username;
}

function readBoolean(value: unknown, key: string, fallback: boolean): boolean {
    if (value === undefined) {
        return fallback;
    }
    if (value === true || value === "true") return true;
    if (value === false || value === "false") return false;
    throw new ConfigError(key, `must be true or false, got ${JSON.stringify(value)}.`);
}

function readEmailBatching(value: unknown, mail: RawObject): EmailBatchingSettings {
    const key = "mattermost.emailBatching";
    const fields = ["enabled", "bufferSize", "intervalSeconds"];
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new ConfigError(key, `must be an object with ${fields.join(", ")}.`);
    }
    const batching = value as RawObject;
    for (const field of Object.keys(batching)) {
        if (!fields.includes(field)) {
            throw new ConfigError(`${key}.${field}`, `is not a known field. Fields: ${fields.join(", ")}.`);
        }
    }
    const enabled = readBoolean(batching.enabled, `${key}.enabled`, true);
    if (enabled && Object.keys(mail).length === 0) {
        throw new ConfigError(`${key}.enabled`, "needs mail: Mattermost batches notifications only when it can send e-mail. Configure mail (mail.host or mail.provider ses) first.");
    }
    // Mattermost refuses its whole configuration, and so does not start, with a buffer size below 1 or an
    // interval below 30 seconds (server model/config.go, EmailSettings.isValid). The maxima are ours.
    return {
        enabled,
        bufferSize: readWholeNumber(batching.bufferSize, `${key}.bufferSize`, { min: 1, max: 100000, unit: "", fallback: DEFAULTS.emailBatching.bufferSize }),
        intervalSeconds: readWholeNumber(batching.intervalSeconds, `${key}.intervalSeconds`, { min: 30, max: 86400, unit: "seconds", fallback: DEFAULTS.emailBatching.intervalSeconds }),
    };
}

const MAIL_SECURITY: readonly MailSecurity[] = ["none", "TLS", "STARTTLS"];
/** Fields SES fills in itself; setting them with provider ses is a mistake. */
const SES_COMPUTED_FIELDS = ["host", "port", "username", "password", "security"];

function readAddress(value: unknown, key: string): string {
    if (typeof value !== "string" || !EMAIL.test(value)) {
        throw new ConfigError(key, `must be an e-mail address such as gitlab@example.com, got ${JSON.stringify(value)}.`);
    }
    checkEnvFileValue(key, value);
    return value;
}

/** A mail value that Mattermost also gets, through its environment. */
function readMattermostText(value: unknown, key: string): string {
    const text = readText(value, key);
    checkEnvFileValue(key, text);
    return text;
}

function readMail(mail: RawObject, dnsZone: string): MailSettings {
    const provider = mail.provider ?? "smtp";
    if (provider !== "smtp" && provider !== "ses") {
        throw new ConfigError("mail.provider", `must be "smtp" (an external server) or "ses" (Amazon SES), got ${JSON.stringify(provider)}.`);
    }
    if (mail.from === undefined) {
        throw new ConfigError("mail.from", "is required: the sender address of GitLab's and Mattermost's mail. Set it with: pulumi config set --path mail.from gitlab@example.com");
    }
    const identity = {
        from: readAddress(mail.from, "mail.from"),
        ...(mail.replyTo === undefined ? {} : { replyTo: readAddress(mail.replyTo, "mail.replyTo") }),
        ...(mail.fromName === undefined ? {} : { fromName: readMattermostText(mail.fromName, "mail.fromName") }),
    };
    if (provider === "ses") {
        for (const field of SES_COMPUTED_FIELDS) {
            if (mail[field] !== undefined) {
                throw new ConfigError(`mail.${field}`, "is set by Amazon SES with mail.provider ses (the endpoint, STARTTLS on 587 and credentials of an IAM user). Remove it.");
            }
        }
        const domain = identity.from.slice(identity.from.indexOf("@") + 1).toLowerCase();
        if (domain !== dnsZone) {
            throw new ConfigError("mail.from", `is ${identity.from}, but SES verifies the domain ${dnsZone} (dnsZone). Use an address @${dnsZone}.`);
        }
        return { provider, ...identity };
    }
    if (mail.host === undefined || typeof mail.host !== "string" || !HOSTNAME.test(mail.host.toLowerCase())) {
        throw new ConfigError("mail.host", `must be the SMTP server's hostname, got ${JSON.stringify(mail.host)}. Set it with: pulumi config set --path mail.host smtp.example.com`);
    }
    const port = readWholeNumber(mail.port, "mail.port", { min: 1, max: 65535, unit: "", fallback: DEFAULTS.mail.port });
    const security = mail.security ?? DEFAULTS.mail.security;
    if (!MAIL_SECURITY.includes(security as MailSecurity)) {
        throw new ConfigError("mail.security", `must be one of ${MAIL_SECURITY.map((m) => `"${m}"`).join(", ")}, got ${JSON.stringify(security)}.`);
    }
    const username = mail.username === undefined ? undefined : readMattermostText(mail.username, "mail.username");
    const password = mail.password === undefined ? undefined : readMattermostText(mail.password, "mail.password");
    if ((username === undefined) !== (password === undefined)) {
        const missing = username === undefined ? "mail.username" : "mail.password";
        throw new ConfigError(missing, "is required when the other SMTP credential is set: give both mail.username and mail.password, or neither.");
    }
    if (username !== undefined && security === "none") {
        throw new ConfigError("mail.security", "is none, but mail.username is set: Mattermost sends SMTP credentials only over TLS or STARTTLS. Use one of those.");
    }
    return {
        provider,
        host: mail.host.toLowerCase(),
        port,
        security: security as MailSecurity,
        ...(username === undefined ? {} : { username, password }),
        ...identity,
    };
}

function readText(value: unknown, key: string): string {
    if (typeof value !== "string" || value === "") {
        throw new ConfigError(key, `must be a non-empty string, got ${JSON.stringify(value)}.`);
    }
    return value;
}

const BACKUP_TIMESTAMP = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** A UTC time the backup tools can have stamped (`date -u +%Y%m%dT%H%M%SZ`): a date and time that exist. */
function isBackupTimestamp(text: string): boolean {
    const match = BACKUP_TIMESTAMP.exec(text);
    if (!match) {
        return false;
    }
    const [year, month, day, hour, minute, second] = match.slice(1).map(Number);
    const time = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
    // Date.UTC rolls over (February 31 becomes March 3), so a value that exists reads back unchanged.
    return (
        time.getUTCFullYear() === year && time.getUTCMonth() === month - 1 && time.getUTCDate() === day &&
        time.getUTCHours() === hour && time.getUTCMinutes() === minute && time.getUTCSeconds() === second
    );
}

function readBackup(backup: RawObject): BackupSettings {
    const value = backup.schedule ?? DEFAULTS.backup.schedule;
    // systemd's unit parser trims the value; the rest must be a calendar event systemd accepts.
    const schedule = typeof value === "string" ? value.trim() : undefined;
    const problem = schedule === undefined ? "it is not a string" : calendarProblem(schedule);
    if (schedule === undefined || problem !== undefined) {
        throw new ConfigError(
            "backup.schedule",
            `must be a systemd OnCalendar expression such as "daily" or "*-*-* 03:00:00", got ${JSON.stringify(value)}: ${problem}. Check it with: systemd-analyze calendar '<expression>'`,
        );
    }
    const retention = readWholeNumber(backup.retentionDays, "backup.retentionDays", { ...DAYS, fallback: DEFAULTS.backup.retentionDays });
    const keepNewest = readWholeNumber(backup.keepNewest, "backup.keepNewest", { min: 1, max: 1000, unit: "backups", fallback: DEFAULTS.backup.keepNewest });
    const restoreFrom = backup.restoreFrom;
    if (restoreFrom !== undefined && (typeof restoreFrom !== "string" || !(restoreFrom === "latest" || isBackupTimestamp(restoreFrom) || readPointInTime(restoreFrom) !== undefined))) {
        throw new ConfigError("backup.restoreFrom", `must be a backup's UTC timestamp such as 20261126T030000Z (see the bucket's <stack>/mattermost/ folders), "latest", or with mattermost.mode standalone a point in time in UTC such as 2026-11-26T10:15:00Z, got ${JSON.stringify(restoreFrom)}.`);
    }
    return { schedule, retentionDays: retention, keepNewest, ...(restoreFrom === undefined ? {} : { restoreFrom }) };
}


function parentDomain(host: string): string {
    return host.split(".").slice(1).join(".");
}

const DATA_VOLUME_FIELDS = ["sizeGiB", "iops", "throughputMiBps", "snapshotId"] as const;

/** A host's data volume: each field within gp3's limits, and the fields together as gp3 accepts them. */
function readDataVolume(value: unknown, key: string, defaults: Omit<DataVolumeSettings, "snapshotId">): DataVolumeSettings {
    if (value === undefined) {
        return defaults;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new ConfigError(key, `must be an object. Set its fields with --path, e.g.: pulumi config set --path ${key}.sizeGiB 200`);
    }
    const fields = value as RawObject;
    for (const field of Object.keys(fields)) {
        if (!(DATA_VOLUME_FIELDS as readonly string[]).includes(field)) {
            throw new ConfigError(`${key}.${field}`, `is not a known field. Known fields of ${key}: ${DATA_VOLUME_FIELDS.join(", ")}.`);
        }
    }
    const snapshotId = fields.snapshotId;
    if (snapshotId !== undefined && (typeof snapshotId !== "string" || !SNAPSHOT_ID.test(snapshotId))) {
        throw new ConfigError(`${key}.snapshotId`, `must be an EBS snapshot id like snap-0123456789abcdef0, got ${JSON.stringify(snapshotId)}. docs/operations.md lists the data volume's snapshots.`);
    }
    const volume: DataVolumeSettings = {
        sizeGiB: readWholeNumber(fields.sizeGiB, `${key}.sizeGiB`, { ...GP3_LIMITS.sizeGiB, unit: "GiB", fallback: defaults.sizeGiB }),
        iops: readWholeNumber(fields.iops, `${key}.iops`, { ...GP3_LIMITS.iops, unit: "IOPS", fallback: defaults.iops }),
        throughputMiBps: readWholeNumber(fields.throughputMiBps, `${key}.throughputMiBps`, { ...GP3_LIMITS.throughputMiBps, unit: "MiB/s", fallback: defaults.throughputMiBps }),
        ...(snapshotId === undefined ? {} : { snapshotId: snapshotId as string }),
    };
    const problem = gp3Problem(volume);
    if (problem) {
        throw new ConfigError(`${key}.${problem.field}`, problem.message);
    }
    return volume;
}
