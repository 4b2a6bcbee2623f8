// Types for the parts of the s3rver package (an S3-protocol server for tests) that test/support/s3.ts uses.
declare module "s3rver" {
    import type { AddressInfo } from "node:net";

    interface S3rverOptions {
        address?: string;
        port?: number;
        silent?: boolean;
        directory?: string;
        resetOnClose?: boolean;
        configureBuckets?: { name: string }[];
        /** PEM certificate and key: s3rver then serves https. */
        cert?: string;
        key?: string;
    }

    class S3rver {
        constructor(options: S3rverOptions);
        run(): Promise<AddressInfo>;
        close(): Promise<void>;
    }

    export = S3rver;
}
