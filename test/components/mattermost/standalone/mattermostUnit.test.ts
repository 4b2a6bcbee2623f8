// The standalone Mattermost unit, checked by systemd's own `systemd-analyze verify` (which parses the
// unit, its dependencies and its ExecStart binary and warns about anything it would ignore).

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { mattermostUnit } from "../../../../components/mattermost/standalone/mattermostUnit";
import { Sandbox, runProcess } from "../../../support/standIns";

const ANALYZE = "/usr/bin/systemd-analyze";

/** The unit's directives as name → values. */
function directives(unit: string): Map<string, string[]> {
    const found = new Map<string, string[]>();
    for (const line of unit.split("\n")) {
        const match = /^([A-Za-z]+)=(.*)$/.exec(line);
        if (match) found.set(match[1]!, [...(found.get(match[1]!) ?? []), match[2]!]);
    }
    return found;
}

describe("mattermost.service", () => {
    it("passes systemd-analyze verify without a warning", { skip: !existsSync(ANALYZE) && "systemd-analyze is not installed" }, async () => {
        const sandbox = new Sandbox();
        try {
            // verify checks that ExecStart's binary exists: the release link is moved into the sandbox.
            sandbox.write("opt/mattermost/bin/mattermost", "#!/bin/sh\n", 0o755);
            const unit = sandbox.write("mattermost.service", mattermostUnit().replaceAll("/opt/mattermost", sandbox.path("opt/mattermost")));
            const result = await runProcess(ANALYZE, ["verify", unit]);
            assert.equal(result.status, 0, result.stderr);
            assert.equal(result.stderr.trim(), "");
            const broken = sandbox.write("broken/mattermost.service", mattermostUnit().replace("Type=notify", "Type=notfy").replaceAll("/opt/mattermost", sandbox.path("opt/mattermost")));
            assert.match((await runProcess(ANALYZE, ["verify", broken])).stderr, /notfy/, "verify reports what it ignores");
        } finally {
            sandbox.cleanup();
        }
    });

    it("runs the linked release as the mattermost user, with its settings, bound to the local PostgreSQL", () => {
        const unit = directives(mattermostUnit());
        assert.deepEqual(unit.get("Type"), ["notify"]);
        assert.deepEqual(unit.get("User"), ["mattermost"]);
        assert.deepEqual(unit.get("ExecStart"), ["/opt/mattermost/bin/mattermost --config /var/opt/mattermost/config/config.json"]);
        assert.deepEqual(unit.get("EnvironmentFile"), ["/etc/mattermost/mattermost.env"]);
        assert.deepEqual(unit.get("BindsTo"), ["postgresql.service"]);
        assert.match(unit.get("After")![0]!, /postgresql\.service/);
        assert.deepEqual(unit.get("KillMode"), ["mixed"]);
        assert.deepEqual(unit.get("Restart"), ["always"]);
        assert.deepEqual(unit.get("LimitNOFILE"), ["49152"]);
    });
});
