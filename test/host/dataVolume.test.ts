// Tests for host/mount-data-volume.sh and host/move-to-data-volume.sh. The scripts run for real in a
// temp sandbox; the block-device tools are RECORDING STAND-INS (test/support/standIns.ts) that act on
// a pretend device: a file whose content is what blkid reports (empty: blank), and a directory per
// filesystem UUID that a "mounted" mount point becomes a link to. rsync is the real one.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync, linkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { describe, test } from "node:test";
import fc from "fast-check";
import { HOST_SCRIPT_DIR } from "../../components/omnibus/hostScripts";
import { filesIn, type RunResult, type Sandbox, sh, withSandbox } from "../support/standIns";

const VOLUME_ID = "vol-0123456789abcdef0";
const LABEL = "gitlab-data";
const NEW_UUID = "11111111-2222-4333-8444-555555555555";

function describeRun(result: RunResult): string {
    return `status ${result.status}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;
}

interface DiskOptions {
    /** What blkid -p reports for the device; empty: no signature at all. */
    readonly signature?: string;
    /** What wipefs reports, when blkid sees nothing. */
    readonly wipefs?: string;
    /** blkid -p's exit status when it cannot tell (e.g. 8, an ambivalent probe). */
    readonly blkidStatus?: number;
    /** Whether the volume's link never appears. */
    readonly detached?: boolean;
    /** findmnt --verify fails. */
    readonly fstabInvalid?: boolean;
    /** mount fails for this target (path relative to the sandbox). */
    readonly mountFailsAt?: string;
    /** mkfs.ext4, `gitlab-ctl stop`, rsync or a bind mount waits until this file exists, after announcing itself. */
    readonly waitIn?: "mkfs.ext4" | "gitlab-ctl" | "rsync" | "bind";
    /** Directories (relative to the sandbox) the mount step keeps on the volume. */
    readonly kept?: readonly string[];
}

/** A host made of stand-ins: one EBS volume's device, fstab, and the mount table. */
function host(sandbox: Sandbox, options: DiskOptions = {}) {
    const device = sandbox.path("dev/nvme1n1");
    const byId = sandbox.path("dev/disk/by-id");
    const volumes = sandbox.path("volumes");
    const mounts = sandbox.path("state/mounts");
    const fstab = sandbox.path("etc/fstab");
    const dataDir = sandbox.path("var/opt/gitlab");
    const release = sandbox.path("release");
    const started = sandbox.path("started");
    mkdirSync(byId, { recursive: true });
    mkdirSync(volumes, { recursive: true });
    sandbox.write("state/mounts", "");
    sandbox.write("etc/fstab", "LABEL=cloudimg-rootfs / ext4 discard,errors=remount-ro 0 1\n");
    sandbox.write("dev/nvme1n1", options.signature ?? "");
    if (options.wipefs !== undefined) sandbox.write("dev/nvme1n1.wipefs", options.wipefs);
    if (!options.detached) symlinkSync(device, join(byId, `nvme-Amazon_Elastic_Block_Store_${VOLUME_ID.replace("-", "")}`));
    const waits = (tool: string) =>
        options.waitIn === tool ? `touch ${sh(started)}; until [ -e ${sh(release)} ]; do sleep 0.05; done` : "";

    sandbox.standIn(
        "blkid",
        `dev=\${!#}
${options.blkidStatus ? `exit ${options.blkidStatus}` : ""}
if [ ! -s "$dev" ]; then exit 2; fi
if [ "$*" = "-p -o value -s UUID $dev" ]; then sed -n 's/^UUID=//p' "$dev"; else cat "$dev"; fi`,
    );
    sandbox.standIn("wipefs", `dev=\${!#}; if [ -e "$dev.wipefs" ]; then cat "$dev.wipefs"; fi`);
    sandbox.standIn(
        "mkfs.ext4",
        `${waits("mkfs.ext4")}
dev=\${!#}; label=$3
printf 'UUID=%s\\nLABEL=%s\\nTYPE=ext4\\n' ${NEW_UUID} "$label" >"$dev"
mkdir -p ${sh(volumes)}/${NEW_UUID}/lost+found`,
    );
    sandbox.standIn(
        "findmnt",
        `if [ "$1" = --verify ]; then ${options.fstabInvalid ? "exit 1" : "record_stdin </dev/null; cp \"$3\" \"$CALL_DIR/tab\"; exit 0"}; fi
uuid=\${3#UUID=}
awk -v u="$uuid" '$1 == u { print $2 }' ${sh(mounts)}`,
    );
    sandbox.standIn("mountpoint", `grep -q " $2\\$" ${sh(mounts)}`);
    const writeMount = (failsAt?: string) =>
        sandbox.standIn(
            "mount",
            `if [ "$1" = --fstab ]; then source=$(awk -v t="$3" '$2 == t { print $1 }' "$2"); fi
if [ "$1" = --fstab ] && [[ "$source" == /* ]]; then
${waits("bind")}
rmdir "$3"; ln -s "$source" "$3"; printf 'bind:%s %s\\n' "$source" "$3" >>${sh(mounts)}; exit 0
fi
if [ "$1" = --fstab ]; then target=$3; uuid=$(awk -v t="$target" '$2 == t { sub(/^UUID=/, "", $1); print $1 }' "$2"); else uuid=\${1#UUID=}; target=$2; fi
${failsAt ? `if [ "$target" = ${sh(sandbox.path(failsAt))} ]; then echo "mount: wrong fs type" >&2; exit 32; fi` : ""}
[ -d ${sh(volumes)}/"$uuid" ] || { echo "mount: no filesystem $uuid" >&2; exit 32; }
rmdir "$target"
ln -s ${sh(volumes)}/"$uuid" "$target"
printf '%s %s\\n' "$uuid" "$target" >>${sh(mounts)}`,
        );
    writeMount(options.mountFailsAt);
    sandbox.standIn(
        "umount",
        `target=$1; rm "$target"; mkdir "$target"
grep -v " $target\\$" ${sh(mounts)} >${sh(mounts)}.new || true; mv ${sh(mounts)}.new ${sh(mounts)}`,
    );
    sandbox.standIn("systemctl", "");
    if (options.waitIn === "rsync") sandbox.standIn("rsync", `${waits("rsync")}\nexec /usr/bin/rsync "$@"`);
    sandbox.standIn("gitlab-ctl", `if [ "$1" = stop ]; then
${waits("gitlab-ctl")}
true
fi`);

    const kept = (options.kept ?? []).map((dir) => sandbox.path(dir));
    const args = (script: string, mountPoint = dataDir) => [VOLUME_ID, mountPoint, LABEL, ...(script === "mount-data-volume.sh" ? kept : [])];
    const env = {
        DISK_BY_ID_DIR: byId,
        FSTAB: fstab,
        DEVICE_WAIT_SECONDS: "1",
        DATA_VOLUME_STATE_DIR: sandbox.path("state/gitlab-mattermost"),
    };
    return {
        device,
        volumes,
        fstab,
        dataDir,
        release,
        started,
        env,
        run: (script: string, mountPoint = dataDir) => sandbox.runScript(script, args(script, mountPoint), { env }),
        spawn: (script: string) =>
            spawn("bash", [join(HOST_SCRIPT_DIR, script), ...args(script)], { env: sandbox.env(env), stdio: ["ignore", "pipe", "pipe"] }),
        /** Where the mount step keeps directory `dir` (relative to the sandbox) on the volume. */
        onVolume: (dir: string) => join(dataDir, sandbox.path(dir).slice(1).replaceAll("/", "-")),
        mounted: () => readFileSync(mounts, "utf8"),
        /** mount works again, as after the administrator fixed its cause. */
        repairMount: () => writeMount(),
        /** A pre-existing ext4 filesystem on the device, with `files` in it. */
        formatted: (uuid: string, files: Record<string, string>) => {
            writeFileSync(device, `UUID=${uuid}\nLABEL=${LABEL}\nTYPE=ext4\n`);
            for (const [name, content] of Object.entries(files)) sandbox.write(join("volumes", uuid, name), content);
        },
    };
}

/** Runs `script` until the host's blocking tool starts, sends `signal`, and returns how it ended. */
async function interrupt(h: ReturnType<typeof host>, script: string, signal: NodeJS.Signals) {
    const child = h.spawn(script);
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const closed = new Promise<number | null>((resolve) => child.on("close", (status) => resolve(status)));
    for (let i = 0; i < 400 && !existsSync(h.started); i++) await delay(25);
    assert.ok(existsSync(h.started), `the blocking step never started\n${output}`);
    child.kill(signal);
    writeFileSync(h.release, "");
    const status = await closed;
    return { status, output };
}

const fstabLine = (uuid: string, target: string) => `UUID=${uuid} ${target} ext4 defaults,nofail,x-systemd.device-timeout=60s 0 2`;

// ---------------------------------------------------------------------------------------------------
describe("mount-data-volume.sh", () => {
    test("first use: a blank volume gets a labelled ext4 filesystem, an fstab line by UUID, and is mounted", () =>
        withSandbox(async (sandbox) => {
            const h = host(sandbox);
            const result = await h.run("mount-data-volume.sh");
            assert.equal(result.status, 0, describeRun(result));
            assert.deepEqual(sandbox.calls("mkfs.ext4").map((c) => c.argv), [["-q", "-L", LABEL, h.device]]);
            const fstab = readFileSync(h.fstab, "utf8");
            assert.equal(fstab, `LABEL=cloudimg-rootfs / ext4 discard,errors=remount-ro 0 1\n${fstabLine(NEW_UUID, h.dataDir)}\n`);
            assert.equal(h.mounted(), `${NEW_UUID} ${h.dataDir}\n`);
            assert.deepEqual(sandbox.calls("mount").map((c) => c.argv), [["--fstab", h.fstab, h.dataDir]]);
            assert.ok(sandbox.sequence().indexOf("systemctl") < sandbox.sequence().indexOf("mount"), "systemd reads the new fstab before the mount");
            assert.deepEqual(filesIn(sandbox.path("etc")), ["fstab"], "no temporary file is left beside fstab");

            const again = await h.run("mount-data-volume.sh");
            assert.equal(again.status, 0, describeRun(again));
            assert.equal(sandbox.calls("mkfs.ext4").length, 1, "a re-run formats nothing");
            assert.equal(sandbox.calls("mount").length, 1, "a re-run mounts nothing");
            assert.equal(readFileSync(h.fstab, "utf8"), fstab, "a re-run leaves fstab as it is");
        }));

    test("re-attached to a new instance: the volume's filesystem is mounted as it is, with its data", () =>
        withSandbox(async (sandbox) => {
            const h = host(sandbox);
            h.formatted("aaaaaaaa-0000-4000-8000-000000000001", { "git-data/repositories/x.git/HEAD": "ref: refs/heads/main\n" });
            const result = await h.run("mount-data-volume.sh");
            assert.equal(result.status, 0, describeRun(result));
            assert.equal(sandbox.calls("mkfs.ext4").length, 0);
            assert.equal(readFileSync(join(h.dataDir, "git-data/repositories/x.git/HEAD"), "utf8"), "ref: refs/heads/main\n");
            assert.match(readFileSync(h.fstab, "utf8"), new RegExp(`^UUID=aaaaaaaa-0000-4000-8000-000000000001 ${h.dataDir} ext4 [^ ]*nofail`, "m"));
        }));

    test("replaces an older fstab line for the mount point and keeps every other line", () =>
        withSandbox(async (sandbox) => {
            const h = host(sandbox);
            writeFileSync(h.fstab, `# static file system information\nLABEL=cloudimg-rootfs / ext4 defaults 0 1\nUUID=old ${h.dataDir} ext4 defaults 0 2\n/swap none swap sw 0 0\n`);
            const result = await h.run("mount-data-volume.sh");
            assert.equal(result.status, 0, describeRun(result));
            assert.equal(
                readFileSync(h.fstab, "utf8"),
                `# static file system information\nLABEL=cloudimg-rootfs / ext4 defaults 0 1\n/swap none swap sw 0 0\n${fstabLine(NEW_UUID, h.dataDir)}\n`,
            );
        }));

    const REFUSED: readonly [string, DiskOptions][] = [
        ["an XFS filesystem", { signature: "UUID=x\nTYPE=xfs\n" }],
        ["a partition table", { signature: "PTUUID=y\nPTTYPE=gpt\n" }],
        ["an ext4 filesystem inside a partitioned disk", { signature: "PTTYPE=dos\nTYPE=ext4\nUUID=z\n" }],
        ["a signature only wipefs sees", { wipefs: "0x438 ext4 1234 data\n" }],
        ["a probe blkid calls ambivalent (exit 8)", { blkidStatus: 8 }],
        ["LVM", { signature: "TYPE=LVM2_member\nUUID=w\n" }],
    ];
    for (const [title, options] of REFUSED) {
        test(`never formats or mounts a volume holding ${title}`, () =>
            withSandbox(async (sandbox) => {
                const h = host(sandbox, options);
                const before = readFileSync(h.device, "utf8");
                const fstab = readFileSync(h.fstab, "utf8");
                const result = await h.run("mount-data-volume.sh");
                assert.notEqual(result.status, 0, describeRun(result));
                assert.match(result.stderr, /FAILED/);
                assert.equal(sandbox.calls("mkfs.ext4").length, 0, "not formatted");
                assert.equal(sandbox.calls("mount").length, 0, "not mounted");
                assert.equal(readFileSync(h.device, "utf8"), before);
                assert.equal(readFileSync(h.fstab, "utf8"), fstab);
            }));
    }

    test("formats only a device with no signature at all, whatever else blkid might report", () =>
        fc.assert(
            fc.asyncProperty(
                fc.array(fc.constantFrom("TYPE=ext4", "TYPE=xfs", "TYPE=swap", "PTTYPE=gpt", "PTTYPE=dos", "UUID=u", "LABEL=l", "TYPE=crypto_LUKS"), { maxLength: 3 }),
                fc.boolean(),
                (lines, wipefsSees) =>
                    withSandbox(async (sandbox) => {
                        const signature = lines.length === 0 ? "" : `${lines.join("\n")}\n`;
                        const h = host(sandbox, { signature, ...(wipefsSees ? { wipefs: "0x0 gpt\n" } : {}) });
                        await h.run("mount-data-volume.sh");
                        const blank = signature === "" && !wipefsSees;
                        assert.equal(sandbox.calls("mkfs.ext4").length, blank ? 1 : 0, `signature ${JSON.stringify(signature)}, wipefs ${wipefsSees}`);
                    }),
            ),
            { numRuns: 25 },
        ));

    test("refuses to hide data that already sits on the root volume at the mount point", () =>
        withSandbox(async (sandbox) => {
            const h = host(sandbox);
            sandbox.write("var/opt/gitlab/postgresql/data/PG_VERSION", "16\n");
            const result = await h.run("mount-data-volume.sh");
            assert.notEqual(result.status, 0, describeRun(result));
            assert.match(result.stderr, /holds data on the root volume.*move-to-data-volume/);
            assert.equal(sandbox.calls("mount").length, 0);
            assert.doesNotMatch(readFileSync(h.fstab, "utf8"), /gitlab/);
        }));

    test("waits a bounded time for the volume, then fails naming it", () =>
        withSandbox(async (sandbox) => {
            const h = host(sandbox, { detached: true });
            const result = await h.run("mount-data-volume.sh");
            assert.notEqual(result.status, 0, describeRun(result));
            assert.match(result.stderr, new RegExp(`FAILED.*${VOLUME_ID} did not appear.*within 1s`));
        }));

    test("leaves fstab untouched when the new one does not verify", () =>
        withSandbox(async (sandbox) => {
            const h = host(sandbox, { fstabInvalid: true });
            const fstab = readFileSync(h.fstab, "utf8");
            const result = await h.run("mount-data-volume.sh");
            assert.notEqual(result.status, 0, describeRun(result));
            assert.match(result.stderr, /does not verify/);
            assert.equal(readFileSync(h.fstab, "utf8"), fstab);
            assert.deepEqual(filesIn(sandbox.path("etc")), ["fstab"], "the staged file is removed");
        }));

    for (const signal of ["SIGTERM", "SIGHUP", "SIGINT", "SIGPIPE"] as const) {
        test(`${signal} while formatting: FAILED, fstab untouched, and a re-run finishes the job`, () =>
            withSandbox(async (sandbox) => {
                const h = host(sandbox, { waitIn: "mkfs.ext4" });
                const fstab = readFileSync(h.fstab, "utf8");
                const { status, output } = await interrupt(h, "mount-data-volume.sh", signal);
                assert.notEqual(status, 0, output);
                assert.match(output, new RegExp(`FAILED \\(ended by ${signal}\\)`));
                assert.equal(readFileSync(h.fstab, "utf8"), fstab);
                const again = await h.run("mount-data-volume.sh");
                assert.equal(again.status, 0, describeRun(again));
                assert.equal(sandbox.calls("mkfs.ext4").length, 1, "the finished filesystem is not made again");
                assert.equal(h.mounted(), `${NEW_UUID} ${h.dataDir}\n`);
            }));
    }
});

// ---------------------------------------------------------------------------------------------------
describe("move-to-data-volume.sh", () => {
    /** GitLab's data on the root volume: files, a hard link, a symlink and a private file. */
    function dataOnRoot(sandbox: Sandbox) {
        sandbox.write("var/opt/gitlab/git-data/repositories/a.git/HEAD", "ref: refs/heads/main\n");
        sandbox.write("var/opt/gitlab/postgresql/data/PG_VERSION", "16\n");
        sandbox.write("var/opt/gitlab/gitlab-rails/uploads/secret.bin", "x".repeat(5000), 0o600);
        linkSync(sandbox.path("var/opt/gitlab/postgresql/data/PG_VERSION"), sandbox.path("var/opt/gitlab/postgresql/data/PG_VERSION.link"));
        symlinkSync("git-data/repositories", sandbox.path("var/opt/gitlab/repos"));
    }

    test("copies, verifies and switches: the data is on the volume, the old copy renamed, GitLab restarted", () =>
        withSandbox(async (sandbox) => {
            const h = host(sandbox);
            dataOnRoot(sandbox);
            const result = await h.run("move-to-data-volume.sh");
            assert.equal(result.status, 0, describeRun(result));
            assert.ok(lstatSync(h.dataDir).isSymbolicLink(), "the volume is mounted at the data directory");
            assert.equal(readlinkSync(h.dataDir), join(h.volumes, NEW_UUID));
            assert.equal(readFileSync(join(h.dataDir, "git-data/repositories/a.git/HEAD"), "utf8"), "ref: refs/heads/main\n");
            assert.equal(statSync(join(h.dataDir, "gitlab-rails/uploads/secret.bin")).mode & 0o777, 0o600);
            assert.equal(statSync(join(h.dataDir, "postgresql/data/PG_VERSION")).ino, statSync(join(h.dataDir, "postgresql/data/PG_VERSION.link")).ino, "hard links stay hard links");
            assert.equal(readlinkSync(join(h.dataDir, "repos")), "git-data/repositories");
            const old = readdirSync(sandbox.path("var/opt")).filter((name) => name.startsWith("gitlab.on-root-"));
            assert.equal(old.length, 1);
            assert.match(old[0], /^gitlab\.on-root-\d{8}T\d{6}Z$/);
            assert.equal(readFileSync(sandbox.path("var/opt", old[0], "postgresql/data/PG_VERSION"), "utf8"), "16\n", "the old copy is kept");
            assert.match(readFileSync(h.fstab, "utf8"), new RegExp(fstabLine(NEW_UUID, h.dataDir).replace(/[.]/g, "\\.")));
            const gitlab = sandbox.calls("gitlab-ctl").map((c) => c.argv[0]);
            assert.deepEqual(gitlab, ["stop", "start"]);
            assert.deepEqual(filesIn(sandbox.tmp), [], "the staging mount point is removed");

            const again = await h.run("move-to-data-volume.sh");
            assert.equal(again.status, 0, describeRun(again));
            assert.match(again.stdout, /already done/);
            assert.equal(sandbox.calls("gitlab-ctl").length, 2, "a second run stops nothing");
            const mount = await h.run("mount-data-volume.sh");
            assert.equal(mount.status, 0, describeRun(mount));
            assert.equal(sandbox.calls("mkfs.ext4").length, 1, "the mount step afterwards formats nothing");
        }));

    test("does nothing on a new host, where the mount step mounts the volume", () =>
        withSandbox(async (sandbox) => {
            const h = host(sandbox);
            const result = await h.run("move-to-data-volume.sh");
            assert.equal(result.status, 0, describeRun(result));
            assert.match(result.stdout, /no data at/);
            assert.deepEqual(sandbox.sequence(), []);
        }));

    test("refuses when the volume already holds data: nothing is overwritten, GitLab keeps running", () =>
        withSandbox(async (sandbox) => {
            const h = host(sandbox);
            dataOnRoot(sandbox);
            h.formatted("bbbbbbbb-0000-4000-8000-000000000002", { "postgresql/data/PG_VERSION": "15\n" });
            const result = await h.run("move-to-data-volume.sh");
            assert.notEqual(result.status, 0, describeRun(result));
            assert.match(result.stderr, /already holds data/);
            assert.equal(sandbox.calls("gitlab-ctl").length, 0);
            assert.equal(readFileSync(join(h.volumes, "bbbbbbbb-0000-4000-8000-000000000002/postgresql/data/PG_VERSION"), "utf8"), "15\n");
            assert.ok(lstatSync(h.dataDir).isDirectory() && !lstatSync(h.dataDir).isSymbolicLink());
            assert.equal(h.mounted(), "", "the staging mount is undone");
        }));

    test("a copy that does not verify rolls back: data in place, fstab unchanged, GitLab started", () =>
        withSandbox(async (sandbox) => {
            const h = host(sandbox);
            dataOnRoot(sandbox);
            // RECORDING STAND-IN around the real rsync: the copy is real, the check reports a difference.
            sandbox.standIn("rsync", `if [[ " $* " == *" --dry-run "* ]]; then echo ">fcs...... postgresql/data/PG_VERSION"; exit 0; fi; exec /usr/bin/rsync "$@"`);
            const fstab = readFileSync(h.fstab, "utf8");
            const result = await h.run("move-to-data-volume.sh");
            assert.notEqual(result.status, 0, describeRun(result));
            assert.match(result.stderr, /FAILED.*differs from.*PG_VERSION/);
            assert.equal(readFileSync(join(h.dataDir, "postgresql/data/PG_VERSION"), "utf8"), "16\n");
            assert.ok(!lstatSync(h.dataDir).isSymbolicLink());
            assert.equal(readFileSync(h.fstab, "utf8"), fstab);
            assert.deepEqual(sandbox.calls("gitlab-ctl").map((c) => c.argv[0]), ["stop", "start"]);
            assert.equal(h.mounted(), "");
            assert.equal(existsSync(sandbox.path("state/gitlab-mattermost", `moved-to-data-volume-${VOLUME_ID}`)), false, "no marker");
        }));

    test("a failed switch puts the old directory and fstab back, and a re-run then moves the data", () =>
        withSandbox(async (sandbox) => {
            const h = host(sandbox, { mountFailsAt: "var/opt/gitlab" });
            dataOnRoot(sandbox);
            const fstab = readFileSync(h.fstab, "utf8");
            const result = await h.run("move-to-data-volume.sh");
            assert.notEqual(result.status, 0, describeRun(result));
            assert.match(result.stderr, /put .* back as it was[\s\S]*FAILED/);
            assert.equal(readFileSync(join(h.dataDir, "git-data/repositories/a.git/HEAD"), "utf8"), "ref: refs/heads/main\n");
            assert.deepEqual(readdirSync(sandbox.path("var/opt")), ["gitlab"], "no renamed copy is left behind");
            assert.equal(readFileSync(h.fstab, "utf8"), fstab);
            assert.deepEqual(filesIn(sandbox.path("etc")), ["fstab"]);
            assert.deepEqual(sandbox.calls("gitlab-ctl").map((c) => c.argv[0]), ["stop", "start"]);

            h.repairMount();
            const again = await h.run("move-to-data-volume.sh");
            assert.equal(again.status, 0, describeRun(again));
            assert.equal(readFileSync(join(h.dataDir, "git-data/repositories/a.git/HEAD"), "utf8"), "ref: refs/heads/main\n");
            assert.ok(lstatSync(h.dataDir).isSymbolicLink());
            assert.deepEqual(readdirSync(h.dataDir).filter((name) => name.startsWith(".")), [], "no trace of the interrupted move on the volume");
        }));

    for (const signal of ["SIGTERM", "SIGHUP", "SIGINT", "SIGPIPE"] as const) {
        test(`${signal} while GitLab stops: rolled back, GitLab started again, FAILED`, () =>
            withSandbox(async (sandbox) => {
                const h = host(sandbox, { waitIn: "gitlab-ctl" });
                dataOnRoot(sandbox);
                const { status, output } = await interrupt(h, "move-to-data-volume.sh", signal);
                assert.notEqual(status, 0, output);
                assert.match(output, new RegExp(`FAILED \\(ended by ${signal}\\)`));
                assert.deepEqual(sandbox.calls("gitlab-ctl").map((c) => c.argv[0]), ["stop", "start"]);
                assert.equal(h.mounted(), "", "the staging mount is undone");
                assert.ok(!lstatSync(h.dataDir).isSymbolicLink());
                assert.deepEqual(filesIn(sandbox.tmp), []);
            }));
    }
});

// ---------------------------------------------------------------------------------------------------
describe("mount-data-volume.sh: /etc/gitlab kept on the volume", () => {
    const ETC = "etc/gitlab";
    const SECRETS = '{"gitlab_rails":{"db_key_base":"the-stack-key"}}\n';
    const FRESH_SECRETS = '{"gitlab_rails":{"db_key_base":"freshly-generated"}}\n';
    const bindLine = (h: ReturnType<typeof host>, sandbox: Sandbox) =>
        `${h.onVolume(ETC)} ${sandbox.path(ETC)} none bind,nofail,x-systemd.requires-mounts-for=${h.dataDir} 0 0`;
    /** The host's /etc/gitlab on the root volume, as Omnibus leaves it. */
    function etcOnRoot(sandbox: Sandbox, secrets = SECRETS) {
        sandbox.write(`${ETC}/gitlab.rb`, "external_url 'https://gitlab.example.com'\n", 0o600);
        sandbox.write(`${ETC}/gitlab-secrets.json`, secrets, 0o600);
        sandbox.write(`${ETC}/ssl/gitlab.example.com.key`, "key\n", 0o600);
    }
    const boundToVolume = (h: ReturnType<typeof host>, sandbox: Sandbox) =>
        lstatSync(sandbox.path(ETC)).isSymbolicLink() && readlinkSync(sandbox.path(ETC)) === h.onVolume(ETC);
    const setAside = (sandbox: Sandbox) => readdirSync(sandbox.path("etc")).filter((name) => name.startsWith("gitlab.on-root-"));

    test("fresh volume, fresh instance: an empty /etc/gitlab on the volume, bound in place by fstab before the install", () =>
        withSandbox(async (sandbox) => {
            const h = host(sandbox, { kept: [ETC] });
            const result = await h.run("mount-data-volume.sh");
            assert.equal(result.status, 0, describeRun(result));
            assert.ok(boundToVolume(h, sandbox), "/etc/gitlab is the volume's directory");
            assert.equal(statSync(h.onVolume(ETC)).mode & 0o777, 0o775, "the mode Omnibus gives /etc/gitlab");
            assert.deepEqual(readdirSync(h.onVolume(ETC)), []);
            const fstab = readFileSync(h.fstab, "utf8");
            assert.equal(fstab.split("\n").filter((line) => line.includes(sandbox.path(ETC))).join("\n"), bindLine(h, sandbox));
            assert.ok(fstab.indexOf(fstabLine(NEW_UUID, h.dataDir)) < fstab.indexOf(bindLine(h, sandbox)), "the volume's line comes before the bind that needs it");
            assert.deepEqual(readdirSync(sandbox.path("etc")).sort(), ["fstab", "gitlab"]);

            const again = await h.run("mount-data-volume.sh");
            assert.equal(again.status, 0, describeRun(again));
            assert.match(again.stdout, /is kept on/);
            assert.equal(sandbox.calls("mount").length, 2, "a re-run mounts nothing");
            assert.equal(readFileSync(h.fstab, "utf8"), fstab);
        }));

    test("replaced instance: the volume's secrets are used, never overwritten, and the volume is not formatted", () =>
        withSandbox(async (sandbox) => {
            const uuid = "cccccccc-0000-4000-8000-000000000003";
            const h = host(sandbox, { kept: [ETC] });
            const onVolume = sandbox.path(ETC).slice(1).replaceAll("/", "-");
            h.formatted(uuid, { [`${onVolume}/gitlab-secrets.json`]: SECRETS, [`${onVolume}/gitlab.rb`]: "external_url 'x'\n", "postgresql/data/PG_VERSION": "16\n" });
            const result = await h.run("mount-data-volume.sh");
            assert.equal(result.status, 0, describeRun(result));
            assert.equal(sandbox.calls("mkfs.ext4").length, 0, "not formatted");
            assert.ok(boundToVolume(h, sandbox));
            assert.equal(readFileSync(sandbox.path(ETC, "gitlab-secrets.json"), "utf8"), SECRETS, "the volume's keys, as they were");
            assert.deepEqual(setAside(sandbox), []);
        }));

    test("a volume that holds secrets wins over secrets an instance generated: the instance's are set aside, not mixed in", () =>
        withSandbox(async (sandbox) => {
            const uuid = "dddddddd-0000-4000-8000-000000000004";
            const h = host(sandbox, { kept: [ETC] });
            const onVolume = sandbox.path(ETC).slice(1).replaceAll("/", "-");
            h.formatted(uuid, { [`${onVolume}/gitlab-secrets.json`]: SECRETS });
            etcOnRoot(sandbox, FRESH_SECRETS);
            const result = await h.run("mount-data-volume.sh");
            assert.equal(result.status, 0, describeRun(result));
            assert.match(result.stdout, /already holds .*its copy is used/);
            assert.equal(readFileSync(sandbox.path(ETC, "gitlab-secrets.json"), "utf8"), SECRETS);
            assert.deepEqual(readdirSync(sandbox.path(ETC)), ["gitlab-secrets.json"], "nothing of the instance's is mixed in");
            const [aside] = setAside(sandbox);
            assert.equal(readFileSync(sandbox.path("etc", aside, "gitlab-secrets.json"), "utf8"), FRESH_SECRETS, "the instance's copy is kept aside");
        }));

    test("existing host: /etc/gitlab is copied onto the volume, verified, then switched; the old copy is kept", () =>
        withSandbox(async (sandbox) => {
            const h = host(sandbox, { kept: [ETC] });
            etcOnRoot(sandbox);
            const result = await h.run("mount-data-volume.sh");
            assert.equal(result.status, 0, describeRun(result));
            assert.match(result.stdout, /copy matches it, file by file/);
            assert.ok(boundToVolume(h, sandbox));
            assert.equal(readFileSync(sandbox.path(ETC, "gitlab-secrets.json"), "utf8"), SECRETS);
            assert.equal(statSync(sandbox.path(ETC, "gitlab-secrets.json")).mode & 0o777, 0o600, "modes carried over");
            assert.equal(readFileSync(sandbox.path(ETC, "ssl/gitlab.example.com.key"), "utf8"), "key\n");
            const [aside] = setAside(sandbox);
            assert.match(aside, /^gitlab\.on-root-\d{8}T\d{6}Z$/);
            assert.equal(readFileSync(sandbox.path("etc", aside, "gitlab-secrets.json"), "utf8"), SECRETS);
            assert.deepEqual(readdirSync(h.dataDir).filter((name) => name.endsWith(".partial")), [], "no staging left on the volume");

            const again = await h.run("mount-data-volume.sh");
            assert.equal(again.status, 0, describeRun(again));
            assert.equal(setAside(sandbox).length, 1, "a re-run sets nothing else aside");
            assert.equal(readFileSync(sandbox.path(ETC, "gitlab-secrets.json"), "utf8"), SECRETS);
        }));

    test("existing stack without a data volume: the move carries /var/opt/gitlab, the mount step then /etc/gitlab", () =>
        withSandbox(async (sandbox) => {
            const h = host(sandbox, { kept: [ETC] });
            sandbox.write("var/opt/gitlab/postgresql/data/PG_VERSION", "16\n");
            etcOnRoot(sandbox);
            for (const script of ["move-to-data-volume.sh", "mount-data-volume.sh"]) {
                const result = await h.run(script);
                assert.equal(result.status, 0, `${script}\n${describeRun(result)}`);
            }
            assert.equal(readFileSync(join(h.dataDir, "postgresql/data/PG_VERSION"), "utf8"), "16\n");
            assert.equal(readFileSync(join(h.onVolume(ETC), "gitlab-secrets.json"), "utf8"), SECRETS, "the secrets are on the volume with the data");
            assert.ok(boundToVolume(h, sandbox));
        }));

    test("a copy that does not verify leaves /etc/gitlab in place and nothing on the volume", () =>
        withSandbox(async (sandbox) => {
            const h = host(sandbox, { kept: [ETC] });
            etcOnRoot(sandbox);
            // RECORDING STAND-IN around the real rsync: the copy is real, the check reports a difference.
            sandbox.standIn("rsync", `if [[ " $* " == *" --dry-run "* ]]; then echo ">fcs...... gitlab-secrets.json"; exit 0; fi; exec /usr/bin/rsync "$@"`);
            const result = await h.run("mount-data-volume.sh");
            assert.notEqual(result.status, 0, describeRun(result));
            assert.match(result.stderr, /FAILED.*differs from it.*gitlab-secrets\.json/);
            assert.ok(!lstatSync(sandbox.path(ETC)).isSymbolicLink());
            assert.equal(readFileSync(sandbox.path(ETC, "gitlab-secrets.json"), "utf8"), SECRETS);
            assert.deepEqual(readdirSync(h.dataDir).filter((name) => name.startsWith(sandbox.path("etc").slice(1).replaceAll("/", "-"))), [], "nothing half-copied on the volume");
            assert.doesNotMatch(readFileSync(h.fstab, "utf8"), / bind,/);
        }));

    for (const [phase, waitIn] of [["the copy", "rsync"], ["the switch", "bind"]] as const) {
        for (const signal of ["SIGTERM", "SIGHUP", "SIGINT", "SIGPIPE"] as const) {
            test(`${signal} during ${phase} of /etc/gitlab: rolled back, FAILED, and a re-run carries it over`, () =>
                withSandbox(async (sandbox) => {
                    const h = host(sandbox, { kept: [ETC], waitIn });
                    // The volume is already in use for /var/opt/gitlab: only /etc/gitlab is left to carry over.
                    h.formatted("eeeeeeee-0000-4000-8000-000000000005", { "postgresql/data/PG_VERSION": "16\n" });
                    etcOnRoot(sandbox);
                    const fstabBefore = readFileSync(h.fstab, "utf8");
                    const { status, output } = await interrupt(h, "mount-data-volume.sh", signal);
                    assert.notEqual(status, 0, output);
                    assert.match(output, new RegExp(`FAILED \\(ended by ${signal}\\)`));
                    assert.ok(lstatSync(sandbox.path(ETC)).isDirectory() && !lstatSync(sandbox.path(ETC)).isSymbolicLink(), `/etc/gitlab is the root volume's again\n${output}`);
                    assert.equal(readFileSync(sandbox.path(ETC, "gitlab-secrets.json"), "utf8"), SECRETS);
                    assert.deepEqual(setAside(sandbox), [], "nothing left set aside");
                    assert.equal(existsSync(h.onVolume(ETC)), false, "this run's copy is gone from the volume");
                    assert.deepEqual(readdirSync(h.dataDir).filter((name) => name.endsWith(".partial")), []);
                    assert.equal(readFileSync(h.fstab, "utf8"), fstabBefore.trimEnd() + `\n${fstabLine("eeeeeeee-0000-4000-8000-000000000005", h.dataDir)}\n`, "fstab as before the bind");
                    assert.deepEqual(filesIn(sandbox.path("etc")).filter((name) => name.startsWith("fstab")), ["fstab"]);

                    const again = await h.run("mount-data-volume.sh");
                    assert.equal(again.status, 0, describeRun(again));
                    assert.ok(boundToVolume(h, sandbox));
                    assert.equal(readFileSync(sandbox.path(ETC, "gitlab-secrets.json"), "utf8"), SECRETS);
                    assert.equal(sandbox.calls("mkfs.ext4").length, 0, "the volume in use is never formatted");
                }));
        }
    }

    test("refuses a kept directory inside the mount point", () =>
        withSandbox(async (sandbox) => {
            const h = host(sandbox, { kept: ["var/opt/gitlab/etc"] });
            const result = await h.run("mount-data-volume.sh");
            assert.notEqual(result.status, 0, describeRun(result));
            assert.match(result.stderr, /FAILED \(exit status 1\): usage.*outside the mount point/);
            assert.equal(sandbox.calls("mount").length, 0);
        }));
});
