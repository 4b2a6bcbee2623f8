// backup.restoreFrom as a point in time, through parseSettings: accepted for a standalone Mattermost
// within the retention window, refused for the bundled one, in the future, or before the window,
// each with a message naming the key.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../../components/stack/config";
import { parseConfig, stackConfig } from "../../support/stackConfig";

const NOW = new Date("2026-11-30T12:00:00Z");
const standalone = (backup: Record<string, unknown>) =>
    stackConfig("split", { gitlab: { version: "19.3.0" }, mattermost: { mode: "standalone", version: "11.7.9" }, backup });
const bundled = (backup: Record<string, unknown>) => stackConfig("split", { backup });
const parse = (config: Record<string, unknown>) => parseConfig(config, NOW);

function assertRejected(config: Record<string, unknown>, message: RegExp): void {
    assert.throws(
        () => parse(config),
        (error: unknown) => error instanceof ConfigError && error.key === "backup.restoreFrom" && /^gitlab-mattermost:backup\.restoreFrom /.test(error.message) && message.test(error.message),
    );
}

describe("parseSettings: backup.restoreFrom as a point in time", () => {
    it("is accepted for a standalone Mattermost from the start of the retention window to now", () => {
        for (const moment of ["2026-11-30T10:15:00Z", "2026-11-30T12:00:00Z", "2026-10-31T12:00:00Z"]) {
            assert.equal(parse(standalone({ restoreFrom: moment })).backup.restoreFrom, moment);
        }
        assert.equal(parse(standalone({ restoreFrom: "2026-09-01T00:00:00Z", retentionDays: 100 })).backup.restoreFrom, "2026-09-01T00:00:00Z");
    });

    it("is refused for the bundled Mattermost, whose database is not archived", () => {
        assertRejected(bundled({ restoreFrom: "2026-11-30T10:15:00Z" }), /only a standalone Mattermost can be restored to.*"latest", or set mattermost\.mode standalone/);
    });

    it("is refused in the future or before the retention window", () => {
        assertRejected(standalone({ restoreFrom: "2026-11-30T12:00:01Z" }), /is in the future \(now is 2026-11-30T12:00:00Z\)/);
        assertRejected(standalone({ restoreFrom: "2026-10-31T11:59:59Z" }), /before the retention window of backup\.retentionDays \(30 days\).*2026-10-31T12:00:00Z/);
        assertRejected(standalone({ restoreFrom: "2026-11-20T00:00:00Z", retentionDays: 7 }), /7 days/);
    });

    it("is refused when it is not a moment that exists or not in UTC", () => {
        for (const value of ["2026-02-30T10:00:00Z", "2026-11-30T10:15:00+01:00", "2026-11-30T10:15Z"]) {
            assertRejected(standalone({ restoreFrom: value }), /point in time in UTC such as/);
        }
    });

    it("takes a backup's timestamp or latest in both modes, beside a standalone Mattermost's moments", () => {
        assert.equal(parse(bundled({ restoreFrom: "latest" })).backup.restoreFrom, "latest");
        assert.equal(parse(standalone({ restoreFrom: "latest" })).backup.restoreFrom, "latest");
        assert.equal(parse(standalone({ restoreFrom: "20261126T031500Z" })).backup.restoreFrom, "20261126T031500Z");
    });
});
