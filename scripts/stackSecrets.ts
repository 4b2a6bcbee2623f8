// Decrypts the `secure:` values of a stack file the way Pulumi's passphrase secrets provider
// encrypts them, so `npm run render` can check and show what `pulumi up` would use. The passphrase
// comes from PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE, as for the Pulumi CLI.
//
// Format (pulumi/pulumi, passphrase secrets manager): `encryptionsalt: v1:<salt>:<check>`, where
// <check> is "pulumi" encrypted; each value is `v1:<nonce>:<ciphertext and tag>`, all base64,
// AES-256-GCM with a key of PBKDF2-SHA256(passphrase, salt, 1,000,000 iterations, 32 bytes).

import { createDecipheriv, pbkdf2Sync } from "node:crypto";
import { readFileSync } from "node:fs";

const PBKDF2_ITERATIONS = 1_000_000;
const GCM_TAG_BYTES = 16;

/** The passphrase from the environment, as the Pulumi CLI reads it, or undefined. */
export function passphraseFromEnvironment(env: NodeJS.ProcessEnv = process.env): string | undefined {
    if (env.PULUMI_CONFIG_PASSPHRASE !== undefined) {
        return env.PULUMI_CONFIG_PASSPHRASE;
    }
    return env.PULUMI_CONFIG_PASSPHRASE_FILE ? readFileSync(env.PULUMI_CONFIG_PASSPHRASE_FILE, "utf8").replace(/\r?\n$/, "") : undefined;
}

function decryptWith(key: Buffer, value: string): string {
    const [version, nonce, sealed] = value.split(":");
    if (version !== "v1" || nonce === undefined || sealed === undefined) {
        throw new Error("not a v1 passphrase-encrypted value");
    }
    const bytes = Buffer.from(sealed, "base64");
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(nonce, "base64"));
    decipher.setAuthTag(bytes.subarray(bytes.length - GCM_TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - GCM_TAG_BYTES)), decipher.final()]).toString("utf8");
}

/** Decrypts secure values with the stack's salt; a wrong passphrase is reported as such. */
export function stackDecrypter(encryptionSalt: string, passphrase: string): (value: string) => string {
    const [version, salt, ...check] = encryptionSalt.split(":");
    if (version !== "v1" || !salt || check.length !== 3) {
        throw new Error(`the stack file's encryptionsalt is not a passphrase salt (${encryptionSalt.slice(0, 12)}...)`);
    }
    const key = pbkdf2Sync(passphrase, Buffer.from(salt, "base64"), PBKDF2_ITERATIONS, 32, "sha256");
    let verified: string;
    try {
        verified = decryptWith(key, check.join(":"));
    } catch {
        verified = "";
    }
    if (verified !== "pulumi") {
        throw new Error("incorrect passphrase: it does not decrypt this stack's secrets");
    }
    return (value) => decryptWith(key, value);
}
