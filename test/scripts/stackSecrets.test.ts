import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { passphraseFromEnvironment, stackDecrypter } from "../../scripts/stackSecrets";
import { PULUMI_TEST_SALT, encryptValue } from "../support/stackSecrets";

describe("stackDecrypter", () => {
    it("accepts the passphrase of Pulumi's published salt and decrypts its values", () => {
        const decrypt = stackDecrypter(PULUMI_TEST_SALT, "password");
        assert.equal(decrypt(encryptValue("-----BEGIN PRIVATE KEY-----\nü\n")), "-----BEGIN PRIVATE KEY-----\nü\n");
    });

    it("refuses another passphrase, and a salt of another provider", () => {
        assert.throws(() => stackDecrypter(PULUMI_TEST_SALT, "password123"), /incorrect passphrase/);
        assert.throws(() => stackDecrypter("AQICAHh...", "password"), /not a passphrase salt/);
    });

    it("refuses a tampered value", () => {
        const value = encryptValue("secret");
        const tampered = value.slice(0, -4) + (value.endsWith("AAA=") ? "BBB=" : "AAA=");
        assert.throws(() => stackDecrypter(PULUMI_TEST_SALT, "password")(tampered));
    });
});

describe("passphraseFromEnvironment", () => {
    it("reads PULUMI_CONFIG_PASSPHRASE first, then the file, as the Pulumi CLI does", () => {
        const dir = mkdtempSync(join(tmpdir(), "passphrase-"));
        try {
            const file = join(dir, "passphrase");
            writeFileSync(file, "from-file\n");
            assert.equal(passphraseFromEnvironment({ PULUMI_CONFIG_PASSPHRASE: "direct", PULUMI_CONFIG_PASSPHRASE_FILE: file }), "direct");
            assert.equal(passphraseFromEnvironment({ PULUMI_CONFIG_PASSPHRASE_FILE: file }), "from-file");
            assert.equal(passphraseFromEnvironment({}), undefined);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
