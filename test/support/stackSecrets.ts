// Stack files with encrypted values, for tests of the offline render. The salt is the one Pulumi's
// own passphrase tests publish (passphrase "password"), so decrypting it proves the key derivation
// matches Pulumi's; values are encrypted here with that key the way Pulumi encrypts them.

import { createCipheriv, pbkdf2Sync, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";

/** Pulumi's published passphrase state for the passphrase "password". */
export const PULUMI_TEST_SALT = "v1:fozI5u6B030=:v1:F+6ZduKKd8G0/V7L:PGMFeIzwobWRKmEAzUdaQHqC5mMRIQ==";
const KEY = pbkdf2Sync("password", Buffer.from("fozI5u6B030=", "base64"), 1_000_000, 32, "sha256");

/** A value as `pulumi config set --secret` would store it under that salt. */
export function encryptValue(plain: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", KEY, nonce);
    const sealed = Buffer.concat([cipher.update(plain, "utf8"), cipher.final(), cipher.getAuthTag()]);
    return `v1:${nonce.toString("base64")}:${sealed.toString("base64")}`;
}

/** The shipped split stack file, with mattermost.env entries encrypted. */
export function encryptedStack(secretEnv: Record<string, string>): string {
    const shipped = readFileSync(join(__dirname, "..", "..", "stacks", "Pulumi.split.yaml"), "utf8");
    const document = parse(shipped) as { config: Record<string, { env: Record<string, unknown> }> };
    const mattermost = document.config["gitlab-mattermost:mattermost"];
    for (const [name, value] of Object.entries(secretEnv)) {
        mattermost.env[name] = { secure: encryptValue(value) };
    }
    return stringify({ encryptionsalt: PULUMI_TEST_SALT, ...document });
}
