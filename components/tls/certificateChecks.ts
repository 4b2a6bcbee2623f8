// Checks administrator-provided certificates with Node's X509 support before anything is created.
// Pure module: no cloud SDK, no Pulumi runtime.

import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import { ConfigError } from "../settings/configError";

const PEM_CERTIFICATE_END = "-----END CERTIFICATE-----";

/** What a provided certificate must satisfy. */
export interface ProvidedCertificateCheck {
    /** Config path of the entry, e.g. `tls.certificates.gitlab`; errors name `<path>.certificate` or `<path>.key`. */
    readonly keyPath: string;
    /** The chain in PEM: the leaf first, then each issuer. */
    readonly chainPem: string | undefined;
    /** The leaf's private key in PEM. */
    readonly keyPem: string | undefined;
    /** The name the leaf must cover. */
    readonly hostname: string;
    /** The moment "expired" is judged against. */
    readonly now: Date;
    /** The private CA the chain must lead to, when GitLab's certificate is not publicly trusted. */
    readonly ca?: X509Certificate;
}

/** The PEM blocks of a bundle, each parsed by Node's X509 support. */
export function parseCertificateChain(pem: string, key: string): X509Certificate[] {
    const blocks = pem
        .split(PEM_CERTIFICATE_END)
        .slice(0, -1)
        .map((block) => `${block.trim()}\n${PEM_CERTIFICATE_END}\n`);
    if (blocks.length === 0) {
        throw new ConfigError(key, "holds no PEM certificate (-----BEGIN CERTIFICATE-----). Give the chain in PEM, the leaf first.");
    }
    return blocks.map((block, i) => {
        try {
            return new X509Certificate(block);
        } catch (error) {
            throw new ConfigError(key, `has a certificate that does not parse (number ${i + 1} in the chain): ${(error as Error).message}.`);
        }
    });
}

/** A CA certificate given as `tls.caCertificate`. */
export function parseCaCertificate(pem: string, key: string): X509Certificate {
    const [ca, ...rest] = parseCertificateChain(pem, key);
    if (rest.length > 0) {
        throw new ConfigError(key, "must hold exactly one certificate: the CA that issued the chains (its root).");
    }
    if (!ca.ca) {
        throw new ConfigError(key, `is not a CA certificate (${ca.subject.replace(/\n/g, ", ")} has no CA basic constraint).`);
    }
    return ca;
}

function describe(certificate: X509Certificate): string {
    return certificate.subject.replace(/\n/g, ", ");
}

function parseKey(pem: string, key: string): KeyObject {
    try {
        return createPrivateKey(pem);
    } catch (error) {
        throw new ConfigError(key, `is not a PEM private key: ${(error as Error).message}.`);
    }
}

/** Throws a ConfigError naming the config key for the first problem with a provided certificate. */
export function checkProvidedCertificate(check: ProvidedCertificateCheck): void {
    const certificateKey = `${check.keyPath}.certificate`;
    const privateKeyKey = `${check.keyPath}.key`;
    const setIt = (field: string, file: string) => `Set it with: pulumi config set --secret --path ${check.keyPath}.${field} < ${file}`;
    if (!check.chainPem) {
        throw new ConfigError(certificateKey, `is required with tls.mode provided: the PEM chain for ${check.hostname}, leaf first. ${setIt("certificate", "chain.pem")}`);
    }
    if (!check.keyPem) {
        throw new ConfigError(privateKeyKey, `is required with tls.mode provided: the private key of the certificate for ${check.hostname}. ${setIt("key", "key.pem")}`);
    }
    const chain = parseCertificateChain(check.chainPem, certificateKey);
    const privateKey = parseKey(check.keyPem, privateKeyKey);
    const [leaf] = chain;

    if (!leaf.checkPrivateKey(privateKey)) {
        throw new ConfigError(privateKeyKey, `does not match the certificate in ${certificateKey} (${describe(leaf)}). Give the key that was used for that certificate.`);
    }
    if (leaf.checkHost(check.hostname, { subject: "never" }) === undefined) {
        throw new ConfigError(
            certificateKey,
            `is for ${leaf.subjectAltName ?? "no DNS name (it has no subjectAltName)"}, not ${check.hostname}. Give a certificate whose subjectAltName covers ${check.hostname}.`,
        );
    }
    chain.forEach((certificate, i) => {
        const which = i === 0 ? "The certificate" : `Certificate ${i + 1} of the chain (${describe(certificate)})`;
        if (new Date(certificate.validTo) <= check.now) {
            throw new ConfigError(certificateKey, `is expired: ${which} expired on ${certificate.validTo}. Renew it and set it again.`);
        }
        if (new Date(certificate.validFrom) > check.now) {
            throw new ConfigError(certificateKey, `is not valid yet: ${which} is valid from ${certificate.validFrom}.`);
        }
    });
    for (let i = 0; i + 1 < chain.length; i++) {
        const [child, issuer] = [chain[i], chain[i + 1]];
        if (!child.checkIssued(issuer) || !child.verify(issuer.publicKey)) {
            throw new ConfigError(
                certificateKey,
                `is not in order: certificate ${i + 2} (${describe(issuer)}) did not issue certificate ${i + 1} (${describe(child)}). Put the leaf first, then each issuer in turn.`,
            );
        }
    }
    const top = chain[chain.length - 1];
    if (check.ca && top.fingerprint256 !== check.ca.fingerprint256 && !(top.checkIssued(check.ca) && top.verify(check.ca.publicKey))) {
        throw new ConfigError(certificateKey, `does not lead to tls.caCertificate (${describe(check.ca)}): its last certificate (${describe(top)}) was issued by ${top.issuer.replace(/\n/g, ", ")}.`);
    }
}
