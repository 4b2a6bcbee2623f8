// A real S3-protocol server on 127.0.0.1 for the backup tests and the benchmark: the s3rver package,
// storing objects in a temp directory. The host scripts reach it through rclone, exactly as they
// reach S3 on a host; only the remote's settings differ (endpoint, path-style, test keys).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import { runProcess, type RunResult } from "./standIns";

/** The name of the rclone remote the tests configure, as the hosts' env file does. */
export const REMOTE = "backup";
const REMOTE_VARIABLE_PREFIX = `RCLONE_CONFIG_${REMOTE.toUpperCase()}_`;

/** s3rver's fixed key pair: the test credentials, none of them secret. */
export const TEST_KEYS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;

export class LoopbackS3 {
    readonly bucket = "gitlab-mattermost-backups";

    private constructor(
        private readonly server: S3rver,
        private readonly directory: string,
        readonly endpoint: string,
    ) {}

    /**
     * With `tls` (a certificate for localhost and its key), s3rver serves https on localhost's address,
     * for clients that speak S3 only over TLS (pgBackRest).
     */
    static async start(tls?: { certificate: string; key: string }): Promise<LoopbackS3> {
        const directory = mkdtempSync(join(tmpdir(), "mm-s3-"));
        const bucket = "gitlab-mattermost-backups";
        const server = new S3rver({
            address: "127.0.0.1",
            port: 0,
            silent: true,
            directory,
            configureBuckets: [{ name: bucket }],
            ...(tls === undefined ? {} : { cert: tls.certificate, key: tls.key }),
        });
        const address = await server.run();
        return new LoopbackS3(server, directory, tls === undefined ? `http://127.0.0.1:${address.port}` : `https://localhost:${address.port}`);
    }

    /** The port the server listens on. */
    get port(): number {
        return Number(new URL(this.endpoint).port);
    }

    /** BACKUP_REMOTE for the scripts: the remote and the bucket. */
    get remote(): string {
        return `${REMOTE}:${this.bucket}`;
    }

    /**
     * The rclone remote's settings, none of them secret: what the env file carries on a host, where
     * env_auth finds the instance profile's credentials instead of the test keys in credentialEnv().
     */
    remoteSettings(): Record<string, string> {
        return {
            [`${REMOTE_VARIABLE_PREFIX}TYPE`]: "s3",
            [`${REMOTE_VARIABLE_PREFIX}PROVIDER`]: "Other",
            [`${REMOTE_VARIABLE_PREFIX}ENV_AUTH`]: "true",
            [`${REMOTE_VARIABLE_PREFIX}REGION`]: "us-east-1",
            [`${REMOTE_VARIABLE_PREFIX}ENDPOINT`]: this.endpoint,
            [`${REMOTE_VARIABLE_PREFIX}FORCE_PATH_STYLE`]: "true",
            [`${REMOTE_VARIABLE_PREFIX}NO_CHECK_BUCKET`]: "true",
        };
    }

    /**
     * The test keys (s3rver's fixed pair), in the environment where env_auth looks; and no CA bundle
     * or instance metadata lookups, which would reach past loopback or fail on plain http.
     */
    credentialEnv(): Record<string, string> {
        return {
            AWS_ACCESS_KEY_ID: TEST_KEYS.accessKeyId,
            AWS_SECRET_ACCESS_KEY: TEST_KEYS.secretAccessKey,
            AWS_CA_BUNDLE: "",
            AWS_EC2_METADATA_DISABLED: "true",
            RCLONE_CONFIG: "/dev/null",
        };
    }

    /** Runs rclone against this server, e.g. to inspect or damage a backup; paths are inside the bucket. */
    rclone(args: readonly string[], input?: string): Promise<RunResult> {
        const env = { ...(process.env as Record<string, string>), ...this.remoteSettings(), ...this.credentialEnv() };
        return runProcess("rclone", args, { env, ...(input === undefined ? {} : { input }), timeoutMs: 120_000 });
    }

    /**
     * The tags of the object at `key` in the bucket (GetObjectTagging, signed with the test keys by
     * curl), as `key=value` strings; it fails for an object that does not exist.
     */
    async tagsOf(key: string): Promise<string[]> {
        const result = await runProcess("curl", [
            "--silent",
            "--show-error",
            "--fail",
            "--aws-sigv4",
            "aws:amz:us-east-1:s3",
            "--user",
            `${TEST_KEYS.accessKeyId}:${TEST_KEYS.secretAccessKey}`,
            // The hash of the empty payload: S3 (and s3rver) require the header, which curl 7.88 leaves out.
            "--header",
            "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            `${this.endpoint}/${this.bucket}/${key}?tagging=`,
        ]);
        if (result.status !== 0) {
            throw new Error(`GetObjectTagging ${key}: ${result.stderr}`);
        }
        return [...result.stdout.matchAll(/<Tag><Key>([^<]*)<\/Key><Value>([^<]*)<\/Value><\/Tag>/g)].map((match) => `${match[1]}=${match[2]}`);
    }

    /** Files below folder `path` of the bucket, as sorted `relative/path` lines; none when it does not exist. */
    async filesUnder(path: string): Promise<string[]> {
        const result = await this.rclone(["lsf", "-R", "--files-only", this.path(path)]);
        // rclone's status 3: no such folder.
        if (result.status === 3) return [];
        if (result.status !== 0) throw new Error(`rclone lsf ${path}: status ${result.status}: ${result.stderr}`);
        return result.stdout.split("\n").filter((line) => line !== "").sort();
    }

    /** `remote:bucket/<path>`. */
    path(path: string): string {
        return `${this.remote}/${path}`;
    }

    async close(): Promise<void> {
        await this.server.close();
        rmSync(this.directory, { recursive: true, force: true });
    }
}
