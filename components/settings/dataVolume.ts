// The data volume each host keeps its data on: its settings, and the limits EC2 puts on a gp3 volume.
// Pure module: no cloud SDK, no Pulumi runtime.

/** Size and performance of one host's gp3 data volume. */
export interface DataVolumeSettings {
    /** Size in GiB. */
    readonly sizeGiB: number;
    /** Provisioned IOPS. */
    readonly iops: number;
    /** Provisioned throughput in MiB/s. */
    readonly throughputMiBps: number;
    /** EBS snapshot the volume is created from; read only when the volume is created. */
    readonly snapshotId?: string;
}

/**
 * What EC2's CreateVolume accepts for gp3 (EC2 API Reference, CreateVolume: Size, Iops, Throughput;
 * EBS User Guide, "General Purpose SSD volumes"): 1 to 16,384 GiB, 3,000 to 16,000 IOPS and at most
 * 500 IOPS per GiB, 125 to 1,000 MiB/s and at most 0.25 MiB/s per provisioned IOPS. Some regions now
 * accept more; these are the limits every region accepts.
 */
export const GP3_LIMITS = {
    sizeGiB: { min: 1, max: 16384 },
    iops: { min: 3000, max: 16000, perGiB: 500 },
    throughputMiBps: { min: 125, max: 1000, perIops: 0.25 },
} as const;

/** An EBS snapshot id as EC2 prints it: `snap-` and 8 or 17 hexadecimal digits. */
export const SNAPSHOT_ID = /^snap-([0-9a-f]{8}|[0-9a-f]{17})$/;

/** Which field breaks a rule that relates two fields, and why; undefined when gp3 accepts them together. */
export function gp3Problem(volume: DataVolumeSettings): { field: "iops" | "throughputMiBps"; message: string } | undefined {
    // The baseline 3,000 IOPS come with any size; only IOPS above it need 1 GiB per 500.
    const maxIops = Math.max(GP3_LIMITS.iops.min, Math.min(GP3_LIMITS.iops.max, volume.sizeGiB * GP3_LIMITS.iops.perGiB));
    if (volume.iops > maxIops) {
        return {
            field: "iops",
            message: `is ${volume.iops}, more than gp3 allows for ${volume.sizeGiB} GiB (${GP3_LIMITS.iops.perGiB} IOPS per GiB, at most ${maxIops}). Lower it, or raise sizeGiB to at least ${Math.ceil(volume.iops / GP3_LIMITS.iops.perGiB)}.`,
        };
    }
    const maxThroughput = Math.min(GP3_LIMITS.throughputMiBps.max, Math.floor(volume.iops * GP3_LIMITS.throughputMiBps.perIops));
    if (volume.throughputMiBps > maxThroughput) {
        return {
            field: "throughputMiBps",
            message: `is ${volume.throughputMiBps} MiB/s, more than gp3 allows with ${volume.iops} IOPS (${GP3_LIMITS.throughputMiBps.perIops} MiB/s per IOPS, at most ${maxThroughput}). Lower it, or raise iops to at least ${Math.ceil(volume.throughputMiBps / GP3_LIMITS.throughputMiBps.perIops)}.`,
        };
    }
    return undefined;
}
