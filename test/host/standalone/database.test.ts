// setup-mattermost-database.sh against a real, throw-away PostgreSQL cluster: the role logs in with
// the password from stdin (SCRAM), owns the database and its public schema, pg_hba.conf carries the
// rules once, a re-run changes the password, and the password is never in a process's arguments or
// environment (runuser, the one program between the script and psql, is a recording wrapper around
// the real one).

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { PostgresCluster, postgresBinDir } from "../../support/postgres";
import { runProcess, sh, withSandbox, type RunResult, type Sandbox, waitForFile } from "../../support/standIns";

const PASSWORD = `s3cret'pa\\ss"word $x`;

function describeRun(result: RunResult): string {
    return `status ${result.status}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
}

describe("setup-mattermost-database.sh", { skip: !postgresBinDir() && "PostgreSQL is not installed" }, () => {
    let cluster: PostgresCluster;
    let hbaFile: string;
    before(async () => {
        cluster = await PostgresCluster.create();
        hbaFile = (await cluster.sql("postgres", "SHOW hba_file;")).trim();
    });
    after(async () => cluster.destroy());

    /** Records runuser's arguments and environment, then runs the real one. */
    async function recordingRunuser(sandbox: Sandbox): Promise<void> {
        const real = (await runProcess("bash", ["-c", "command -v runuser"])).stdout.trim();
        sandbox.standIn("runuser", `record_env\nexec ${sh(real)} "$@"`);
    }

    const setup = (sandbox: Sandbox, password: string) => sandbox.runScript("standalone/setup-mattermost-database.sh", [], { input: `${password}\n`, env: cluster.scriptEnv() });

    /** Logs in as mmuser over the socket with `password`; returns psql's result. */
    function login(password: string, sql = "SELECT current_user;"): Promise<RunResult> {
        const args = ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", cluster.socketDir, "-p", String(cluster.port), "-U", "mmuser", "-d", "mattermost", "-c", sql];
        const env = { ...(process.env as Record<string, string>), PGPASSWORD: password };
        return process.getuid?.() === 0
            ? runProcess("runuser", ["-u", cluster.osUser, "--", `${cluster.bin}/psql`, ...args], { env })
            : runProcess(`${cluster.bin}/psql`, args, { env });
    }

    it("creates the role and database; mmuser logs in with the password and may create tables", async () => {
        await withSandbox(async (sandbox) => {
            await recordingRunuser(sandbox);
            const result = await setup(sandbox, PASSWORD);
            assert.equal(result.status, 0, describeRun(result));
            const session = await login(PASSWORD, "CREATE TABLE t (id int); SELECT current_user;");
            assert.equal(session.status, 0, describeRun(session));
            assert.equal(session.stdout.trim(), "mmuser");
            assert.notEqual((await login("wrong")).status, 0, "a wrong password is refused");
            assert.equal((await cluster.sql("postgres", "SELECT pg_get_userbyid(datdba) || ' ' || pg_encoding_to_char(encoding) FROM pg_database WHERE datname = 'mattermost';")).trim(), "mmuser UTF8");
            assert.equal((await cluster.sql("mattermost", "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public';")).trim(), "mmuser");
            assert.match((await cluster.sql("postgres", "SELECT rolpassword FROM pg_authid WHERE rolname = 'mmuser';")).trim(), /^SCRAM-SHA-256\$/);
            const rules = await cluster.sql("postgres", "SELECT line_number, type, database[1], user_name[1], coalesce(address, ''), auth_method FROM pg_hba_file_rules ORDER BY line_number LIMIT 3;");
            assert.deepEqual(rules.trim().split("\n").map((line) => line.split("|").slice(1).join(" ")), [
                "local mattermost mmuser  scram-sha-256",
                "host mattermost mmuser 127.0.0.1 scram-sha-256",
                "host mattermost mmuser ::1 scram-sha-256",
            ]);
            for (const call of sandbox.calls("runuser")) {
                assert.ok(call.argv.every((arg) => !arg.includes("s3cret")), `runuser ${call.argv.join(" ")}`);
                assert.ok(Object.values(call.env ?? {}).every((value) => !value.includes("s3cret")), "environment");
            }
            assert.ok(sandbox.calls("runuser").length >= 3);
        });
    });

    it("is idempotent, and a new password replaces the old one", async () => {
        await withSandbox(async (sandbox) => {
            const before = readFileSync(hbaFile, "utf8");
            const again = await setup(sandbox, PASSWORD);
            assert.equal(again.status, 0, describeRun(again));
            assert.match(again.stdout, /already has the rules/);
            assert.equal(readFileSync(hbaFile, "utf8"), before);
            const changed = await setup(sandbox, "another-password");
            assert.equal(changed.status, 0, describeRun(changed));
            assert.equal((await login("another-password")).status, 0);
            assert.notEqual((await login(PASSWORD)).status, 0);
            assert.equal(readFileSync(hbaFile, "utf8").split("# BEGIN gitlab-mattermost").length, 2, "one block of rules");
        });
    });

    it("refuses an empty password or one with control characters, changing nothing", async () => {
        await withSandbox(async (sandbox) => {
            for (const password of ["", "tab\there"]) {
                const result = await setup(sandbox, password);
                assert.equal(result.status, 1, describeRun(result));
                assert.match(result.stderr, /FAILED \(exit status 1\): (no password|the password contains control characters)/);
            }
            assert.equal((await login("another-password")).status, 0);
        });
    });

    it("puts pg_hba.conf back when PostgreSQL would reject the new one", async () => {
        await withSandbox(async (sandbox) => {
            // Someone's broken line below ours: the new file would carry it, so PostgreSQL rejects it.
            const original = readFileSync(hbaFile, "utf8").replace(/# BEGIN gitlab-mattermost[\s\S]*?# END gitlab-mattermost\n/, "");
            const broken = `${original}host all all 127.0.0.1/32 no-such-method\n`;
            writeFileSync(hbaFile, broken);
            const result = await setup(sandbox, "another-password");
            assert.equal(result.status, 1, describeRun(result));
            assert.match(result.stderr, /FAILED \(exit status 1\): PostgreSQL rejects the new pg_hba\.conf: \d+: /);
            assert.equal(readFileSync(hbaFile, "utf8"), broken);
        });
    });

    for (const signal of ["SIGTERM", "SIGHUP"] as const) {
        it(`${signal} while PostgreSQL checks the new pg_hba.conf: the old file is back, FAILED, a re-run completes`, async () => {
            await withSandbox(async (sandbox) => {
                const original = readFileSync(hbaFile, "utf8").replace(/# BEGIN gitlab-mattermost[\s\S]*?# END gitlab-mattermost\n/, "").replace(/^host all all 127\.0\.0\.1\/32 no-such-method\n/m, "");
                writeFileSync(hbaFile, original);
                const real = (await runProcess("bash", ["-c", "command -v runuser"])).stdout.trim();
                // The fourth client call is the check of the new file (after create, schema, SHOW hba_file).
                sandbox.standIn("runuser", `if [ "$CALL_NUMBER" -eq 4 ]; then touch ${sh(sandbox.path("checking"))}; sleep 30; fi\nexec ${sh(real)} "$@"`);
                const running = sandbox.start("standalone/setup-mattermost-database.sh", [], { input: "third-password\n", env: cluster.scriptEnv() });
                await waitForFile(sandbox.path("checking"));
                running.signal(signal);
                const result = await running.done;
                assert.notEqual(result.status, 0, describeRun(result));
                assert.match(result.stderr, new RegExp(`FAILED \\(ended by ${signal}\\)`));
                assert.equal(readFileSync(hbaFile, "utf8"), original);
                const again = await setup(sandbox, "third-password");
                assert.equal(again.status, 0, describeRun(again));
                assert.equal((await login("third-password")).status, 0);
            });
        });
    }
});
