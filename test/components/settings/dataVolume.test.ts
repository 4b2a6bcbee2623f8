// Data volume settings: gp3's limits, checked as EC2 checks them, and the keys that set them.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { GP3_LIMITS, gp3Problem } from "../../../components/settings/dataVolume";
import { assertConfigRejected, parseConfig, stackConfig } from "../../support/stackConfig";

describe("gp3Problem", () => {
    it("accepts exactly the combinations EC2's rules allow", () => {
        fc.assert(
            fc.property(
                fc.integer({ min: GP3_LIMITS.sizeGiB.min, max: GP3_LIMITS.sizeGiB.max }),
                fc.integer({ min: GP3_LIMITS.iops.min, max: GP3_LIMITS.iops.max }),
                fc.integer({ min: GP3_LIMITS.throughputMiBps.min, max: GP3_LIMITS.throughputMiBps.max }),
                (sizeGiB, iops, throughputMiBps) => {
                    // Restated from the rules: above the 3,000 baseline, 500 IOPS per GiB; 0.25 MiB/s per IOPS.
                    const allowed = (iops <= 3000 || iops <= 500 * sizeGiB) && throughputMiBps * 4 <= iops;
                    assert.equal(gp3Problem({ sizeGiB, iops, throughputMiBps }) === undefined, allowed);
                },
            ),
        );
    });

    it("names the field at fault and what to raise", () => {
        assert.deepEqual(gp3Problem({ sizeGiB: 10, iops: 6000, throughputMiBps: 125 })?.field, "iops");
        assert.match(gp3Problem({ sizeGiB: 10, iops: 6000, throughputMiBps: 125 })?.message ?? "", /sizeGiB to at least 12/);
        assert.deepEqual(gp3Problem({ sizeGiB: 100, iops: 3000, throughputMiBps: 751 })?.field, "throughputMiBps");
        assert.match(gp3Problem({ sizeGiB: 100, iops: 3000, throughputMiBps: 751 })?.message ?? "", /iops to at least 3004/);
        assert.equal(gp3Problem({ sizeGiB: 1, iops: 3000, throughputMiBps: 750 }), undefined, "a 1 GiB volume has the baseline");
    });
});

describe("parseSettings: data volumes", () => {
    it("defaults each host's data volume to gp3's baseline", () => {
        const settings = parseConfig(stackConfig("split"));
        assert.deepEqual(settings.gitlab.dataVolume, { sizeGiB: 100, iops: 3000, throughputMiBps: 125 });
        assert.deepEqual(settings.mattermost.dataVolume, { sizeGiB: 50, iops: 3000, throughputMiBps: 125 });
    });

    it("reads size, IOPS, throughput and a snapshot, as numbers or digit strings", () => {
        const settings = parseConfig(
            stackConfig("split", {
                gitlab: { dataVolume: { sizeGiB: "500", iops: 6000, throughputMiBps: "400", snapshotId: "snap-0123456789abcdef0" } },
                mattermost: { dataVolume: { sizeGiB: 80 } },
            }),
        );
        assert.deepEqual(settings.gitlab.dataVolume, { sizeGiB: 500, iops: 6000, throughputMiBps: 400, snapshotId: "snap-0123456789abcdef0" });
        assert.deepEqual(settings.mattermost.dataVolume, { sizeGiB: 80, iops: 3000, throughputMiBps: 125 });
    });

    const single = (over: Record<string, unknown>) => stackConfig("single", over);
    const split = (over: Record<string, unknown>) => stackConfig("split", over);
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
        ["size zero", single({ gitlab: { dataVolume: { sizeGiB: 0 } } }), "gitlab.dataVolume.sizeGiB", /1 to 16384/],
        ["size above 16 TiB", single({ gitlab: { dataVolume: { sizeGiB: 16385 } } }), "gitlab.dataVolume.sizeGiB", /1 to 16384/],
        ["IOPS below the baseline", single({ gitlab: { dataVolume: { iops: 2999 } } }), "gitlab.dataVolume.iops", /3000 to 16000/],
        ["IOPS above gp3's maximum", split({ mattermost: { dataVolume: { iops: 16001 } } }), "mattermost.dataVolume.iops", /3000 to 16000/],
        ["IOPS too many for the size", single({ gitlab: { dataVolume: { sizeGiB: 8, iops: 4001 } } }), "gitlab.dataVolume.iops", /500 IOPS per GiB/],
        ["throughput below 125", single({ gitlab: { dataVolume: { throughputMiBps: 100 } } }), "gitlab.dataVolume.throughputMiBps", /125 to 1000/],
        ["throughput too high for the IOPS", single({ gitlab: { dataVolume: { throughputMiBps: 1000 } } }), "gitlab.dataVolume.throughputMiBps", /0.25 MiB\/s per IOPS/],
        ["fractional size", single({ gitlab: { dataVolume: { sizeGiB: 10.5 } } }), "gitlab.dataVolume.sizeGiB", /whole number/],
        ["unknown field", single({ gitlab: { dataVolume: { type: "io2" } } }), "gitlab.dataVolume.type", /Known fields.*sizeGiB/],
        ["not an object", single({ gitlab: { dataVolume: 100 } }), "gitlab.dataVolume", /must be an object/],
        ["malformed snapshot id", single({ gitlab: { dataVolume: { snapshotId: "vol-0123456789abcdef0" } } }), "gitlab.dataVolume.snapshotId", /snap-/],
        ["Mattermost data volume in single topology", single({ mattermost: { dataVolume: { sizeGiB: 60 } } }), "mattermost.dataVolume", /only to topology split/],
    ];
    for (const [title, config, key, message] of cases) {
        it(`refuses ${title}, naming ${key}`, () => assertConfigRejected(config, key, message));
    }
});
