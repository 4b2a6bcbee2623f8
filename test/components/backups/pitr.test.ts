// components/backups/pitr.ts: pgbackrest.conf as pgBackRest itself reads it (its option parser is the
// oracle: `pgbackrest help <command> <option>` prints the value a configuration file sets, and refuses
// a value out of range), the backup units' schedules, the bucket permissions, and what a point in time
// for backup.restoreFrom is.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { calendarProblem } from "../../../components/backups/calendar";
import { PITR, backupUnitName, pgbackrestConfig, physicalBackupUnits, pitrBucketStatements, pointInTimeProblem, readPointInTime, repositoryPath, ubuntuCluster, type PitrConfigInput } from "../../../components/backups/pitr";

const INPUT: PitrConfigInput = {
    repository: { bucket: "gitlab-mattermost-backups-0abc", region: "eu-central-1", stack: "prod" },
    retentionDays: 30,
    cluster: ubuntuCluster(16),
};

const PGBACKREST = spawnSync("pgbackrest", ["version"], { encoding: "utf8" }).status === 0;
/** Without pgBackRest the comparisons are skipped, except in CI, where they run and fail. */
const NO_ORACLE = PGBACKREST || process.env.CI === "true" ? false : "pgbackrest is not installed";

const scratch = mkdtempSync(join(tmpdir(), "pitr-config-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** What pgBackRest reads option `option` of command `command` as, from configuration `text`. */
function pgbackrestReads(text: string, command: string, option: string): { value?: string; error?: string } {
    const file = join(scratch, "pgbackrest.conf");
    writeFileSync(file, text);
    const result = spawnSync("pgbackrest", [`--config=${file}`, `--stanza=${PITR.stanza}`, "help", command, option], { encoding: "utf8" });
    if (result.status !== 0) {
        return { error: result.stdout + result.stderr };
    }
    return { value: /^current: (.*)$/m.exec(result.stdout)?.[1] };
}

describe("pgbackrest.conf", () => {
    it("is read by pgBackRest as meant: the stack's bucket and folder, instance-profile keys, retention in days, the cluster", { skip: NO_ORACLE }, () => {
        const text = pgbackrestConfig(INPUT);
        const expected: [string, string, string][] = [
            ["backup", "repo-type", "s3"],
            ["backup", "repo-s3-bucket", "gitlab-mattermost-backups-0abc"],
            ["backup", "repo-s3-region", "eu-central-1"],
            ["backup", "repo-s3-endpoint", "s3.eu-central-1.amazonaws.com"],
            ["backup", "repo-s3-key-type", "auto"],
            ["backup", "repo-path", "/prod/mattermost-pitr"],
            ["backup", "repo-retention-full-type", "time"],
            ["backup", "repo-retention-full", "30"],
            ["backup", "compress-type", "zst"],
            ["backup", "pg-path", "/var/opt/mattermost/postgresql/16/main"],
            ["backup", "pg-socket-path", "/var/run/postgresql"],
            ["restore", "repo-path", "/prod/mattermost-pitr"],
        ];
        for (const [command, option, value] of expected) {
            assert.deepEqual(pgbackrestReads(text, command, option), { value }, `${command} ${option}`);
        }
    });

    it("holds no key unless a server's public keys are given; with an endpoint, path-style URIs and its CA", { skip: NO_ORACLE }, () => {
        assert.doesNotMatch(pgbackrestConfig(INPUT), /repo1-s3-key=|key-secret/);
        const text = pgbackrestConfig({ ...INPUT, repository: { ...INPUT.repository, endpoint: { host: "localhost", port: 9443, caFile: "/tmp/ca.crt" }, publicKeys: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } } });
        for (const [option, value] of [["repo-s3-uri-style", "path"], ["repo-storage-port", "9443"], ["repo-storage-ca-file", "/tmp/ca.crt"], ["repo-s3-key-type", "shared"]]) {
            assert.deepEqual(pgbackrestReads(text, "backup", option!), { value }, option);
        }
    });

    it("renders every retention pgBackRest accepts, and refuses what it would refuse", { skip: NO_ORACLE }, () => {
        for (const days of [1, 3650, 9_999_999]) {
            assert.deepEqual(pgbackrestReads(pgbackrestConfig({ ...INPUT, retentionDays: days }), "backup", "repo-retention-full"), { value: String(days) });
        }
        for (const days of [0, 10_000_000]) {
            // pgBackRest itself refuses the value the renderer refuses.
            const raw = pgbackrestConfig({ ...INPUT, retentionDays: 1 }).replace("repo1-retention-full=1", `repo1-retention-full=${days}`);
            assert.match(pgbackrestReads(raw, "backup", "repo-retention-full").error ?? "", /out of range/);
            assert.throws(() => pgbackrestConfig({ ...INPUT, retentionDays: days }), /repo1-retention-full/);
        }
        assert.throws(() => pgbackrestConfig({ ...INPUT, retentionDays: 2.5 }), /repo1-retention-full/);
    });

    it("refuses a stack name, bucket, region or path that would not name the repository", () => {
        assert.throws(() => pgbackrestConfig({ ...INPUT, repository: { ...INPUT.repository, stack: "a/b" } }), /stack name/);
        assert.throws(() => pgbackrestConfig({ ...INPUT, repository: { ...INPUT.repository, bucket: "Upper_Case" } }), /bucket/);
        assert.throws(() => pgbackrestConfig({ ...INPUT, repository: { ...INPUT.repository, region: "europe" } }), /region/);
        assert.throws(() => pgbackrestConfig({ ...INPUT, cluster: { ...INPUT.cluster, dataDirectory: "relative/main" } }), /dataDirectory/);
        assert.equal(repositoryPath("prod"), "/prod/mattermost-pitr");
    });
});

describe("the periodic backups", () => {
    it("run as the cluster's owner on schedules systemd takes, full and differential never on the same day", () => {
        for (const type of ["full", "diff"] as const) {
            const { service, timer } = physicalBackupUnits(type);
            assert.match(service, new RegExp(`^ExecStart=/usr/bin/pgbackrest --config=${PITR.configFile} --stanza=mattermost --type=${type} backup$`, "m"));
            assert.match(service, /^User=postgres$/m);
            const schedule = /^OnCalendar=(.*)$/m.exec(timer)![1]!;
            assert.equal(calendarProblem(schedule), undefined, schedule);
            assert.equal(backupUnitName(type), `pgbackrest-mattermost-${type}`);
        }
        const days = (schedule: string) => schedule.split(" ")[0];
        assert.deepEqual([days(PITR.fullSchedule), days(PITR.diffSchedule)], ["Sun", "Mon..Sat"]);
    });
});

describe("the Mattermost host's permissions on the repository", () => {
    it("reach the repository's folder of its own stack and nothing beside it", () => {
        const [objects, list] = pitrBucketStatements("arn:aws:s3:::bucket", "prod");
        assert.deepEqual(objects!.Resource, "arn:aws:s3:::bucket/prod/mattermost-pitr/*");
        assert.deepEqual([objects!.Action].flat().sort(), ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"]);
        assert.deepEqual(list!.Condition, { StringLike: { "s3:prefix": ["prod/mattermost-pitr", "prod/mattermost-pitr/*"] } });
    });
});

describe("a point in time", () => {
    const moment = (time: Date) => `${time.toISOString().slice(0, 19)}Z`;

    it("reads back every UTC moment to the second", () => {
        fc.assert(
            fc.property(fc.date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2099-12-31T23:59:59Z"), noInvalidDate: true }), (date) => {
                const text = moment(date);
                assert.equal(readPointInTime(text)?.getTime(), Math.floor(date.getTime() / 1000) * 1000);
            }),
        );
    });

    it("refuses what is not a moment that exists, or not in UTC", () => {
        for (const text of ["2026-02-30T10:00:00Z", "2026-11-30T24:00:00Z", "2026-11-30T10:15:00", "2026-11-30T10:15:00+01:00", "2026-11-30 10:15:00Z", "20261130T101500Z", "latest", "2026-11-30T10:15:00.5Z"]) {
            assert.equal(readPointInTime(text), undefined, text);
        }
    });

    it("must lie within the retention window, not in the future", () => {
        const now = new Date("2026-11-30T12:00:00Z");
        assert.equal(pointInTimeProblem(new Date("2026-11-30T11:59:59Z"), now, 30), undefined);
        assert.equal(pointInTimeProblem(new Date("2026-10-31T12:00:00Z"), now, 30), undefined);
        assert.match(pointInTimeProblem(new Date("2026-10-31T11:59:59Z"), now, 30)!, /before the retention window .*2026-10-31T12:00:00Z/);
        assert.match(pointInTimeProblem(new Date("2026-11-30T12:00:01Z"), now, 30)!, /in the future/);
    });
});
