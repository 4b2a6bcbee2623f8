// TLS material for the two names when Let's Encrypt is not used: a private CA of the stack's own
// with one leaf per hostname (selfSigned), or the administrator's certificates (provided).

import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { ServiceName, TlsSettings } from "../settings/settings";
import { DEFAULTS } from "../settings/settings";

/** A certificate chain and its key, ready to be written to a host. */
export interface CertificateMaterial {
    /** PEM chain, leaf first. */
    readonly certificate: pulumi.Output<string>;
    /** PEM private key; secret. */
    readonly key: pulumi.Output<string>;
}

export interface CertificatesArgs {
    /** `selfSigned` or `provided` TLS settings. */
    tls: Extract<TlsSettings, { mode: "selfSigned" | "provided" }>;
    /** Hostname per name; each leaf's only subjectAltName. */
    hostnames: Record<ServiceName, string>;
}

const HOURS_PER_DAY = 24;

export class Certificates extends pulumi.ComponentResource {
    /** Chain and key per name. */
    readonly byName: Readonly<Record<ServiceName, CertificateMaterial>>;
    /** The private CA the hosts trust, if any (PEM). */
    readonly caCertificate?: pulumi.Output<string>;

    constructor(name: string, args: CertificatesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("gitlab-mattermost:index:Certificates", name, {}, opts);
        const settings = args.tls;
        if (settings.mode === "provided") {
            const material = (service: ServiceName): CertificateMaterial => ({
                certificate: pulumi.output(settings.certificates[service].chain),
                key: pulumi.secret(settings.certificates[service].key),
            });
            this.byName = { gitlab: material("gitlab"), mattermost: material("mattermost") };
            this.caCertificate = settings.caCertificate === undefined ? undefined : pulumi.output(settings.caCertificate);
        } else {
            const parent = { parent: this };
            const caKey = new tls.PrivateKey(`${name}-ca`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { ...parent, additionalSecretOutputs: ["privateKeyPem"] });
            const ca = new tls.SelfSignedCert(`${name}-ca`, {
                privateKeyPem: caKey.privateKeyPem,
                isCaCertificate: true,
                subject: { commonName: `gitlab-mattermost ${pulumi.getStack()} CA`, organization: "gitlab-mattermost" },
                validityPeriodHours: DEFAULTS.selfSigned.caValidityDays * HOURS_PER_DAY,
                allowedUses: ["cert_signing", "crl_signing"],
            }, parent);
            const leaf = (service: ServiceName): CertificateMaterial => {
                const hostname = args.hostnames[service];
                const key = new tls.PrivateKey(`${name}-${service}`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { ...parent, additionalSecretOutputs: ["privateKeyPem"] });
                const request = new tls.CertRequest(`${name}-${service}`, {
                    privateKeyPem: key.privateKeyPem,
                    subject: { commonName: hostname },
                    dnsNames: [hostname],
                }, parent);
                const certificate = new tls.LocallySignedCert(`${name}-${service}`, {
                    certRequestPem: request.certRequestPem,
                    caPrivateKeyPem: caKey.privateKeyPem,
                    caCertPem: ca.certPem,
                    validityPeriodHours: settings.validityDays * HOURS_PER_DAY,
                    earlyRenewalHours: settings.earlyRenewalDays * HOURS_PER_DAY,
                    allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
                }, parent);
                return { certificate: certificate.certPem, key: pulumi.secret(key.privateKeyPem) };
            };
            this.byName = { gitlab: leaf("gitlab"), mattermost: leaf("mattermost") };
            this.caCertificate = ca.certPem;
        }
        this.registerOutputs({ caCertificate: this.caCertificate });
    }
}
