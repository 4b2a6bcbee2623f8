// host/ensure-mattermost-admin.sh against RECORDING STAND-INS for curl (Mattermost's local-mode API on
// its socket, with the accounts kept as files in the sandbox) and the mmctl wrapper.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { describe, test } from "node:test";
import { HOST_SCRIPT_DIR } from "../../components/omnibus/hostScripts";
import { filesIn, type RunResult, type Sandbox, withSandbox } from "../support/standIns";

const SCRIPT = "ensure-mattermost-admin.sh";
const ARGS = ["mmadmin", "mmadmin@example.com", "30"];
const PASSWORD = "Pa55-word_with.all+kinds=of-chars";
const NEW_PASSWORD = "An0ther-Passw0rd_for.the+admin=x";
const USER_ID = "q8e5wdrxnfdpxrgu5xyo8pnf3r";

interface Options {
    /** Requests that fail to connect before local mode answers. */
    downFor?: number;
    /** A stand-in call that waits for the sandbox file `release` before it answers: "create" or "roles". */
    blockAt?: "create" | "roles";
}

/** Mattermost as the stand-ins see it: accounts in users/<name>.json, roles in roles/<name>. */
function mattermost(sandbox: Sandbox, options: Options = {}) {
    const users = sandbox.path("users");
    const block = (point: string) =>
        options.blockAt === point ? `touch ${JSON.stringify(sandbox.path("blocked"))}; until [ -e ${JSON.stringify(sandbox.path("release"))} ]; do sleep 0.05; done` : ":";
    sandbox.standIn(
        "curl",
        `method=GET output="" url="" socket=""
while [ "$#" -gt 0 ]; do
    case "$1" in
    -X) method=$2; shift 2 ;;
    --output) output=$2; shift 2 ;;
    --unix-socket) socket=$2; shift 2 ;;
    --data-binary) record_stdin; shift 2 ;;
    -H | --max-time | --write-out) shift 2 ;;
    -*) shift ;;
    *) url=$1; shift ;;
    esac
done
printf '%s\\n' "$socket" >"$CALL_DIR/socket"
if [ "$CALL_NUMBER" -le ${options.downFor ?? 0} ]; then
    echo "curl: (7) Failed to connect to localhost port 80 after 0 ms: Could not connect to server" >&2
    exit 7
fi
mkdir -p ${JSON.stringify(users)}
case "$method $url" in
"GET http://localhost/api/v4/users/username/"*)
    name=\${url##*/}
    if [ -f ${JSON.stringify(users)}/"$name.json" ]; then cp ${JSON.stringify(users)}/"$name.json" "$output"; printf 200
    else printf '{"status_code":404}' >"$output"; printf 404; fi ;;
"POST http://localhost/api/v4/users")
    ${block("create")}
    name=$(sed -n 's/.*"username":"\\([^"]*\\)".*/\\1/p' "$CALL_DIR/stdin")
    printf '{"id":"${USER_ID}","username":"%s","auth_service":"","roles":"system_user"}' "$name" | tee ${JSON.stringify(users)}/"$name.json" >"$output"
    printf 201 ;;
"PUT http://localhost/api/v4/users/${USER_ID}/password")
    printf '{"status":"OK"}' >"$output"; printf 200 ;;
*) echo "curl stand-in: unexpected $method $url" >&2; exit 2 ;;
esac`,
    );
    sandbox.standIn(
        "mmctl",
        `# A standalone host's mmctl is called with --local.
if [ "\${1:-}" = --local ]; then shift; fi
case "$*" in
"permissions remove system_user create_team") touch ${JSON.stringify(sandbox.path("create_team_removed"))} ;;
"roles system-admin "*) ${block("roles")}; mkdir -p ${JSON.stringify(sandbox.path("roles"))}; echo system_admin >${JSON.stringify(sandbox.path("roles"))}/"$3" ;;
*) echo "mmctl stand-in: unexpected $*" >&2; exit 2 ;;
esac`,
    );
    return {
        stateDir: sandbox.path("state"),
        env: {
            MATTERMOST_LOCAL_SOCKET: sandbox.path("mattermost_local.socket"),
            MMCTL: join(sandbox.bin, "mmctl"),
            ADMIN_STATE_DIR: sandbox.path("state"),
            ADMIN_WAIT_INTERVAL_SECONDS: "0",
            PROGRESS_INTERVAL_SECONDS: "1",
        },
        /** An account that already exists, as `auth_service` says it signs in. */
        addUser(name: string, authService = "") {
            sandbox.write(`users/${name}.json`, JSON.stringify({ id: USER_ID, username: name, auth_service: authService, roles: "system_user" }));
        },
        isAdmin: (name: string) => existsSync(sandbox.path("roles", name)),
        /** The file that opens account creation on the Mattermost vhost. */
        openFlag: sandbox.path("lib/gitlab-mattermost/mattermost-first-admin"),
        marker: () => join(sandbox.path("state"), "mattermost-admin.sha256"),
    };
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const describeRun = (result: RunResult) => `status ${result.status}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;

/** Every argument any stand-in was called with. */
function allArgv(sandbox: Sandbox): string[] {
    return ["curl", "mmctl"].flatMap((name) => sandbox.calls(name).flatMap((call) => call.argv));
}

function ensure(sandbox: Sandbox, host: ReturnType<typeof mattermost>, password: string, args = ARGS) {
    return sandbox.runScript(SCRIPT, [...args, host.openFlag], { env: host.env, input: `${password}\n` });
}

describe(SCRIPT, () => {
    test("a fresh Mattermost: team creation is taken from users, then the account is created and made system administrator", () =>
        withSandbox(async (sandbox) => {
            const host = mattermost(sandbox);
            const result = await ensure(sandbox, host, PASSWORD);
            assert.equal(result.status, 0, describeRun(result));
            assert.deepEqual(
                sandbox.calls("curl").map((call) => call.argv[call.argv.indexOf("-X") + 1] + " " + call.argv.at(-1)),
                ["GET http://localhost/api/v4/users/username/mmadmin", "POST http://localhost/api/v4/users"],
            );
            assert.deepEqual(sandbox.calls("mmctl").map((call) => call.argv.join(" ")), ["permissions remove system_user create_team", "roles system-admin mmadmin"]);
            assert.deepEqual(sandbox.sequence(), ["curl", "mmctl", "curl", "mmctl"], "create_team goes before the account exists");
            for (const call of sandbox.calls("curl")) {
                assert.equal(readFileSync(join(call.dir, "socket"), "utf8").trim(), host.env.MATTERMOST_LOCAL_SOCKET);
            }
            const created = sandbox.calls("curl")[1];
            assert.deepEqual(JSON.parse(created.stdin ?? ""), { username: "mmadmin", email: "mmadmin@example.com", password: PASSWORD });
            assert.ok(host.isAdmin("mmadmin"));
            assert.equal(readFileSync(host.marker(), "utf8").trim(), sha256(PASSWORD));
            assert.equal(statSync(host.marker()).mode & 0o777, 0o600);
            assert.deepEqual(filesIn(sandbox.tmp), [], "no temporary file left");
            assert.ok(existsSync(host.openFlag), "account creation is opened once the administrator exists");
            assert.equal(statSync(host.openFlag).mode & 0o777, 0o644, "nginx's workers can test it");
            assert.equal(statSync(sandbox.path("lib/gitlab-mattermost")).mode & 0o777, 0o755);
            assert.deepEqual(filesIn(sandbox.path("lib/gitlab-mattermost")), ["mattermost-first-admin"], "no staged copy left");
        }));

    test("a standalone host: its release's mmctl runs as the mattermost user, in local mode", () =>
        withSandbox(async (sandbox) => {
            const host = mattermost(sandbox);
            sandbox.standIn("runuser", 'while [ "$1" != -- ]; do shift; done; shift; exec "$@"');
            const { MMCTL: _wrapper, ...env } = host.env;
            const result = await sandbox.runScript(SCRIPT, [...ARGS, host.openFlag, join(sandbox.bin, "mmctl")], { env, input: `${PASSWORD}\n` });
            assert.equal(result.status, 0, describeRun(result));
            assert.deepEqual(sandbox.calls("runuser").map((call) => call.argv.slice(0, 4)), [
                ["-u", "mattermost", "--", join(sandbox.bin, "mmctl")],
                ["-u", "mattermost", "--", join(sandbox.bin, "mmctl")],
            ]);
            assert.deepEqual(sandbox.calls("mmctl").map((call) => call.argv.join(" ")), ["--local permissions remove system_user create_team", "--local roles system-admin mmadmin"]);
            assert.ok(host.isAdmin("mmadmin"));
        }));

    test("the password is on no command line, only on stdin", () =>
        withSandbox(async (sandbox) => {
            const host = mattermost(sandbox);
            assert.equal((await ensure(sandbox, host, PASSWORD)).status, 0);
            assert.equal((await ensure(sandbox, host, NEW_PASSWORD)).status, 0);
            const argv = allArgv(sandbox);
            assert.ok(argv.length > 10, "the stand-ins were called");
            for (const secret of [PASSWORD, NEW_PASSWORD]) {
                assert.ok(!argv.some((arg) => arg.includes(secret)), "a password reached a command line");
            }
            const bodies = sandbox.calls("curl").map((call) => call.stdin ?? "");
            assert.ok(bodies.some((body) => body.includes(PASSWORD)) && bodies.some((body) => body.includes(NEW_PASSWORD)));
            assert.ok(!readFileSync(host.marker(), "utf8").includes(NEW_PASSWORD));
        }));

    test("a re-run with the same password changes nothing", () =>
        withSandbox(async (sandbox) => {
            const host = mattermost(sandbox);
            assert.equal((await ensure(sandbox, host, PASSWORD)).status, 0);
            const before = sandbox.calls("curl").length;
            const result = await ensure(sandbox, host, PASSWORD);
            assert.equal(result.status, 0, describeRun(result));
            const again = sandbox.calls("curl").slice(before);
            assert.deepEqual(again.map((call) => call.argv.at(-1)), ["http://localhost/api/v4/users/username/mmadmin"], "only a lookup");
            assert.equal(sandbox.calls("mmctl").filter((call) => call.argv[0] === "permissions").length, 1, "team creation is not taken again");
            assert.ok(host.isAdmin("mmadmin"));
        }));

    test("a new password is set on the existing account, through stdin", () =>
        withSandbox(async (sandbox) => {
            const host = mattermost(sandbox);
            assert.equal((await ensure(sandbox, host, PASSWORD)).status, 0);
            const result = await ensure(sandbox, host, NEW_PASSWORD);
            assert.equal(result.status, 0, describeRun(result));
            const put = sandbox.calls("curl").filter((call) => call.argv.includes("PUT"));
            assert.equal(put.length, 1);
            assert.equal(put[0].argv.at(-1), `http://localhost/api/v4/users/${USER_ID}/password`);
            assert.deepEqual(JSON.parse(put[0].stdin ?? ""), { new_password: NEW_PASSWORD });
            assert.equal(sandbox.calls("curl").filter((call) => call.argv.includes("POST")).length, 1, "not created twice");
            assert.equal(readFileSync(host.marker(), "utf8").trim(), sha256(NEW_PASSWORD));
        }));

    test("an account found without a record of its password (a new instance) gets the stack's password and the role", () =>
        withSandbox(async (sandbox) => {
            const host = mattermost(sandbox);
            host.addUser("mmadmin");
            const result = await ensure(sandbox, host, PASSWORD);
            assert.equal(result.status, 0, describeRun(result));
            assert.equal(sandbox.calls("curl").filter((call) => call.argv.includes("PUT")).length, 1);
            assert.equal(sandbox.calls("mmctl").filter((call) => call.argv[0] === "permissions").length, 0, "an existing Mattermost keeps its permissions");
            assert.ok(host.isAdmin("mmadmin"));
            assert.ok(existsSync(host.openFlag), "a new instance opens account creation again");
        }));

    test("refuses to run without the flag file's absolute path", () =>
        withSandbox(async (sandbox) => {
            const host = mattermost(sandbox);
            const result = await sandbox.runScript(SCRIPT, [...ARGS, "relative/flag"], { env: host.env, input: `${PASSWORD}\n` });
            assert.equal(result.status, 1, describeRun(result));
            assert.match(result.stderr, /FAILED \(exit status 1\): usage: .*OPEN\/FLAG/);
            assert.deepEqual(sandbox.sequence(), []);
        }));

    test("refuses an account of that name that signs in through GitLab, changing nothing", () =>
        withSandbox(async (sandbox) => {
            const host = mattermost(sandbox);
            host.addUser("mmadmin", "gitlab");
            const result = await ensure(sandbox, host, PASSWORD);
            assert.equal(result.status, 1, describeRun(result));
            assert.match(result.stderr, /FAILED \(exit status 1\): mmadmin is an account that signs in through gitlab.*gitlab-mattermost:mattermost\.adminUsername/);
            assert.equal(sandbox.calls("curl").length, 1);
            assert.deepEqual(sandbox.calls("mmctl"), []);
            assert.equal(existsSync(host.marker()), false);
            assert.equal(existsSync(host.openFlag), false, "account creation stays closed");
        }));

    test("waits for local mode while Mattermost restarts", () =>
        withSandbox(async (sandbox) => {
            const host = mattermost(sandbox, { downFor: 3 });
            const result = await ensure(sandbox, host, PASSWORD);
            assert.equal(result.status, 0, describeRun(result));
            assert.ok(host.isAdmin("mmadmin"));
        }));

    test("gives up after its timeout when local mode never answers", () =>
        withSandbox(async (sandbox) => {
            const host = mattermost(sandbox, { downFor: 1_000_000 });
            const result = await sandbox.runScript(SCRIPT, ["mmadmin", "mmadmin@example.com", "1", host.openFlag], { env: { ...host.env, ADMIN_WAIT_INTERVAL_SECONDS: "0.2" }, input: `${PASSWORD}\n` });
            assert.equal(result.status, 1, describeRun(result));
            assert.match(result.stderr, /FAILED \(exit status 1\): Mattermost's local mode did not answer at .*mattermost_local\.socket within 1s/);
            assert.deepEqual(sandbox.calls("mmctl"), []);
        }));

    for (const [title, input] of [["empty", "\n"], ["holding a quote", 'pa"ss\n'], ["holding a backslash", "pa\\ss\n"]] as const) {
        test(`refuses a password ${title} before any call`, () =>
            withSandbox(async (sandbox) => {
                const host = mattermost(sandbox);
                const result = await sandbox.runScript(SCRIPT, [...ARGS, host.openFlag], { env: host.env, input });
                assert.equal(result.status, 2, describeRun(result));
                assert.match(result.stderr, /FAILED \(exit status 2\): the password on stdin is empty or holds a quote/);
                assert.deepEqual(sandbox.sequence(), []);
            }));
    }

    for (const blockAt of ["create", "roles"] as const) {
        for (const signal of ["SIGTERM", "SIGHUP", "SIGINT", "SIGPIPE"] as const) {
            test(`${signal} while ${blockAt === "create" ? "the account is created" : "the role is given"}: FAILED, and a re-run recovers`, () =>
                withSandbox(async (sandbox) => {
                    const host = mattermost(sandbox, { blockAt });
                    const child = spawn("bash", [join(HOST_SCRIPT_DIR, SCRIPT), ...ARGS, host.openFlag], { env: sandbox.env(host.env), stdio: ["pipe", "pipe", "pipe"] });
                    let output = "";
                    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
                    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
                    child.stdin.end(`${PASSWORD}\n`);
                    const closed = new Promise<number | null>((resolve) => child.on("close", (status) => resolve(status)));
                    for (let i = 0; i < 400 && !existsSync(sandbox.path("blocked")); i++) {
                        await delay(25);
                    }
                    assert.ok(existsSync(sandbox.path("blocked")), `never reached ${blockAt}\n${output}`);
                    child.kill(signal);
                    // bash runs the trap once its foreground child returns.
                    writeFileSync(sandbox.path("release"), "");
                    const status = await closed;
                    assert.notEqual(status, 0, output);
                    assert.match(output, new RegExp(`ensure-mattermost-admin: FAILED \\(ended by ${signal}\\)`), output);
                    assert.equal(existsSync(host.marker()), false, "no record of a password it did not finish with");
                    assert.equal(existsSync(host.openFlag), false, "account creation stays closed until the administrator exists");
                    assert.deepEqual(filesIn(sandbox.tmp), []);

                    const rerun = await ensure(sandbox, host, PASSWORD);
                    assert.equal(rerun.status, 0, describeRun(rerun));
                    assert.ok(host.isAdmin("mmadmin"));
                    assert.equal(readFileSync(host.marker(), "utf8").trim(), sha256(PASSWORD));
                    assert.ok(existsSync(host.openFlag));
                    // Mattermost finished the request the signal interrupted: the re-run finds the account,
                    // with no record of its password, so sets it once more, and creates nothing twice.
                    assert.equal(sandbox.calls("curl").filter((call) => call.argv.includes("POST")).length, 1);
                    assert.equal(sandbox.calls("curl").filter((call) => call.argv.includes("PUT")).length, 1);
                }));
        }
    }
});
