// Real certificates for tests, made with the openssl command: CAs, intermediates and leaves,
// including expired ones (through `openssl ca`, which can back-date a certificate).

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A certificate and its key, as PEM. */
export interface Issued {
    readonly certificate: string;
    readonly key: string;
    readonly certificatePath: string;
    readonly keyPath: string;
}

export class TestPki {
    readonly dir = mkdtempSync(join(tmpdir(), "pki-"));
    private serial = 1;

    dispose(): void {
        rmSync(this.dir, { recursive: true, force: true });
    }

    private openssl(args: string[]): void {
        execFileSync("openssl", args, { cwd: this.dir, stdio: ["ignore", "ignore", "pipe"] });
    }

    private issued(name: string): Issued {
        const certificatePath = join(this.dir, `${name}.crt`);
        const keyPath = join(this.dir, `${name}.key`);
        return { certificate: readFileSync(certificatePath, "utf8"), key: readFileSync(keyPath, "utf8"), certificatePath, keyPath };
    }

    private newKey(name: string): void {
        this.openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", `${name}.key`]);
    }

    /** A self-signed root CA. */
    rootCa(name: string): Issued {
        this.newKey(name);
        this.openssl([
            "req", "-x509", "-new", "-key", `${name}.key`, "-out", `${name}.crt`, "-days", "3650", "-subj", `/CN=${name}`,
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        return this.issued(name);
    }

    /** An intermediate CA signed by `issuer`. */
    intermediateCa(name: string, issuer: Issued): Issued {
        return this.sign(name, issuer, ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"], "3650");
    }

    /** A server certificate for `hostnames`, signed by `issuer`. */
    leaf(name: string, hostnames: string[], issuer: Issued): Issued {
        return this.sign(name, issuer, [`subjectAltName=${hostnames.map((h) => `DNS:${h}`).join(",")}`, "extendedKeyUsage=serverAuth"], "90");
    }

    /** A server certificate for `hostnames` that expired in 2020. */
    expiredLeaf(name: string, hostnames: string[], issuer: Issued): Issued {
        this.newKey(name);
        this.openssl(["req", "-new", "-key", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${hostnames[0]}`]);
        writeFileSync(join(this.dir, `${name}.ext`), `subjectAltName=${hostnames.map((h) => `DNS:${h}`).join(",")}\n`);
        writeFileSync(join(this.dir, "index.txt"), "");
        writeFileSync(join(this.dir, "serial"), `${(this.serial++).toString(16).padStart(2, "0")}\n`);
        writeFileSync(
            join(this.dir, "ca.cnf"),
            ["[ca]", "default_ca = test", "[test]", `dir = ${this.dir}`, "database = $dir/index.txt", "new_certs_dir = $dir", "serial = $dir/serial",
                "default_md = sha256", "policy = anything", "[anything]", "commonName = supplied", ""].join("\n"),
        );
        this.openssl([
            "ca", "-batch", "-notext", "-config", "ca.cnf", "-cert", issuer.certificatePath, "-keyfile", issuer.keyPath, "-in", `${name}.csr`,
            "-out", `${name}.crt`, "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-extfile", `${name}.ext`,
        ]);
        return this.issued(name);
    }

    private sign(name: string, issuer: Issued, extensions: string[], days: string): Issued {
        this.newKey(name);
        this.openssl(["req", "-new", "-key", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`]);
        writeFileSync(join(this.dir, `${name}.ext`), `${extensions.join("\n")}\n`);
        this.openssl([
            "x509", "-req", "-in", `${name}.csr`, "-CA", issuer.certificatePath, "-CAkey", issuer.keyPath, "-set_serial", String(this.serial++),
            "-out", `${name}.crt`, "-days", days, "-extfile", `${name}.ext`,
        ]);
        return this.issued(name);
    }
}
