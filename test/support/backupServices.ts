// What the backup tools reach beside the host in the backup and migration tests: a throw-away
// PostgreSQL cluster (postgres.ts), the S3-protocol server on 127.0.0.1 (s3.ts) and the instance
// metadata service that hands out the bucket's credentials (imds.ts), started once for a file or a
// describe and closed after it.

import { after, before } from "node:test";
import { LoopbackImds } from "./imds";
import { PostgresCluster } from "./postgres";
import { LoopbackS3, TEST_KEYS } from "./s3";

export interface BackupServices {
    readonly cluster: PostgresCluster;
    readonly s3: LoopbackS3;
    readonly imds: LoopbackImds;
}

/**
 * Registers node:test hooks, in the file or the describe it is called in, that start the services
 * before its tests (`prepare` readies the new cluster, e.g. with a fixture database) and close them
 * after. The fields are set once the `before` hook has run.
 */
export function backupServices(prepare: (cluster: PostgresCluster) => Promise<void> = async () => undefined): BackupServices {
    const services: { -readonly [K in keyof BackupServices]?: BackupServices[K] } = {};
    before(async () => {
        services.cluster = await PostgresCluster.create();
        await prepare(services.cluster);
        services.s3 = await LoopbackS3.start();
        services.imds = await LoopbackImds.start(TEST_KEYS);
    });
    after(async () => {
        await services.imds?.close();
        await services.s3?.close();
        await services.cluster?.destroy();
    });
    return services as BackupServices;
}
