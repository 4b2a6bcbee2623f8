// components/backups/calendar.ts against systemd itself: `systemd-analyze calendar` is the oracle for a table
// of expressions and for generated ones: systemd accepts an expression when it parses it and it elapses
// again ("Next elapse: never" would leave the backup timer idle for ever). The table also states what
// systemd answers, so it still checks the parser where systemd is not installed; in CI (CI=true) a
// missing oracle is a failure, not a skip (scripts/setup-and-test.sh installs it).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import fc from "fast-check";
import { calendarProblem } from "../../../components/backups/calendar";
import { ConfigError } from "../../../components/stack/config";
import { parseConfig, stackConfig } from "../../support/stackConfig";

/** Whether systemd takes `expression` as an event that comes again, in the host's zone (UTC); undefined without systemd-analyze. */
function systemdAccepts(expression: string): boolean | undefined {
    const result = spawnSync("systemd-analyze", ["calendar", expression], { env: { ...process.env, TZ: "UTC" }, encoding: "utf8" });
    if (result.error) return undefined;
    return result.status === 0 && !/^\s*Next elapse: never$/m.test(result.stdout);
}

const ORACLE = systemdAccepts("daily") === true;
/** Without the oracle the comparisons are skipped, except in CI, where they run and fail. */
const NO_ORACLE = ORACLE || process.env.CI === "true" ? false : "systemd-analyze is not installed";

it("has systemd-analyze to compare with, in CI", { skip: process.env.CI === "true" ? false : "not in CI" }, () => {
    assert.ok(ORACLE, "systemd-analyze calendar is missing or fails: install systemd (scripts/setup-and-test.sh does)");
});

/** [expression, whether systemd accepts it]. */
const TABLE: readonly [string, boolean][] = [
    ["daily", true], ["DAILY", true], ["minutely", true], ["hourly", true], ["weekly", true], ["monthly", true],
    ["yearly", true], ["annually", true], ["quarterly", true], ["semiannually", true], ["semi-annually", true], ["bi-annually", true],
    ["every day", false], ["25:00:00", false], ["24:00", false], ["23:60", false], ["03:00:60", false], ["3", false], ["03:", false], ["*", false],
    ["*-*-* 03:00:00", true], ["03:15", true], ["*:0/15", true], ["*:*/15", false], ["*:0/0", false], ["*:0/60", false], ["0/24:00", false], ["0/23:00", true],
    ["Mon..Fri 02:30", true], ["Fri..Mon", false], ["Mon-Wed 03:00", true], ["Mon,", true], ["Mon, 03:00", true], ["Mon Tue", false],
    ["Mon..Tue..Wed", false], ["Monday 03:00", true], ["Mond", false], ["Mon- 03:00", false], ["Mon..", false], ["sat,sun 04:00", true],
    ["Sat,Sun 2036-01..06-01,15 03:15:00 UTC", true], ["36-11-30", true], ["1969-01-01", false], ["2200-01-01", false], ["69-01-01", true],
    ["*-02~03", true], ["*-02~29", false], ["*-*~1-2", false], ["*-1~1", true], ["*-*-1..5/2", true], ["1-1-1-1", false],
    // Parsed, but never elapsing: no February 30th, no April 31st, a past date or second, a weekday the date never has.
    ["*-02-30", false], ["*-02-31 03:00", false], ["*-04-31", false], ["*-02-29..31", true], ["2030-02-29..31", false], ["2032-02-29", true],
    ["2020-01-01", false], ["25-06-01 03:00", false], ["@1700000000", false], ["@4000000000", true], ["Sat 2036-11-30", false], ["Sun 2036-11-30", true],
    ["Mon *-02-30", false], ["Mon 2040-05~07/2", false], ["Sun 2040-05~07/2", true], ["Tue 2040-02~1..3", true], ["*-*~1..5/2", true], ["Sun 2040-02~1..28/7", false],
    ["03:00:00.5", true], ["00:00:00.1234567", true], ["*-*-* 00:00:59.9..59.95", false], ["*-*-* *:*:*.5", false],
    ["@", false], ["@12x", false], ["Tue @4000000000", true], ["Mon @4000000000", false], ["Mon @123", false],
    ["daily UTC", true], ["daily utc", true], ["UTC", false], [" UTC", false], ["daily  UTC", false], ["daily Europe/Berlin", true],
    ["daily europe/berlin", false], ["daily Etc/UTC", true], ["03:00 Asia/Kolkata", true], ["daily Mars/Base", false], ["daily +01:00", false],
    ["*-*", true], ["*:*", true], ["2036-*-* *:*:*", true], ["0..23:0", true], ["23..0:0", false],
];

describe("calendarProblem", () => {
    for (const [expression, accepted] of TABLE) {
        it(`${accepted ? "accepts" : "refuses"} ${JSON.stringify(expression)}`, () => {
            const problem = calendarProblem(expression);
            assert.equal(problem === undefined, accepted, problem);
            if (!accepted) assert.ok(problem && problem.length > 5, "says why");
        });
    }

    it("states what systemd answers for every row of the table", { skip: NO_ORACLE }, () => {
        const disagreements = TABLE.filter(([expression, accepted]) => systemdAccepts(expression) !== accepted);
        assert.deepEqual(disagreements, []);
    });

    // Expressions built from the grammar's pieces, valid and invalid alike.
    const piece = fc.constantFrom(
        "Mon", "fri", "Sunday", "Tue", "..", "-", ",", "~", "/", ":", " ", "*", "0", "1", "2", "3", "5", "7", "12", "13", "15",
        "23", "24", "28", "29", "31", "59", "60", "2026", "1969", "2199", "2200", ".5", " UTC", " Europe/Berlin", "@", "daily", "x",
    );
    const expression = fc.oneof(
        fc.array(piece, { minLength: 1, maxLength: 9 }).map((pieces) => pieces.join("")),
        fc
            .tuple(
                fc.option(fc.constantFrom("Mon", "Mon..Fri", "Sat,Sun", "Tue-Thu", "Fri..Mon"), { nil: undefined }),
                fc.option(fc.tuple(fc.constantFrom("*", "2026", "26", "1969"), fc.constantFrom("*", "1", "02", "12", "13", "1..6", "1/3"), fc.constantFrom("*", "1", "28", "31", "32", "1,15", "1..5/2")), { nil: undefined }),
                fc.option(fc.constantFrom("-", "~"), { nil: undefined }),
                fc.option(
                    fc.tuple(fc.constantFrom("*", "0", "03", "23", "24", "0/6", "1..3"), fc.constantFrom("*", "00", "59", "60", "0/15", "*/15"), fc.option(fc.constantFrom("00", "59", "60", "*", "0/30", "30.25"))),
                    { nil: undefined },
                ),
                fc.option(fc.constantFrom("UTC", "utc", "Europe/Berlin", "Nowhere/Town"), { nil: undefined }),
            )
            .map(([days, date, separator, time, zone]) =>
                [
                    days,
                    date && (separator === "~" ? `${date[0]}-${date[1]}~${date[2]}` : date.join("-")),
                    time && time.filter((part) => part !== null).join(":"),
                    zone,
                ]
                    .filter((part) => part !== undefined)
                    .join(" "),
            ),
    );

    it("agrees with systemd on generated expressions", { skip: NO_ORACLE }, () => {
        fc.assert(
            fc.property(expression, (text) => {
                assert.equal(calendarProblem(text) === undefined, systemdAccepts(text), `${JSON.stringify(text)}: ${calendarProblem(text) ?? "accepted"}`);
            }),
            { numRuns: 400 },
        );
    });
});

describe("backup.schedule", () => {
    it("refuses what systemd refuses or would never run, naming the key and why", () => {
        for (const schedule of ["every day", "25:00:00", "Fri..Mon 03:00", "*-02-30 03:00", "2020-01-01"]) {
            assert.throws(
                () => parseConfig(stackConfig("single", { backup: { schedule } })),
                (error: unknown) =>
                    error instanceof ConfigError && error.key === "backup.schedule" && /must be a systemd OnCalendar expression .*: .+\. Check it with: systemd-analyze calendar/.test(error.message),
            );
        }
    });
    it("keeps an accepted expression, trimmed as systemd's unit parser trims it", () => {
        assert.equal(parseConfig(stackConfig("single", { backup: { schedule: " Mon..Fri 02:30 Europe/Berlin " } })).backup.schedule, "Mon..Fri 02:30 Europe/Berlin");
    });
});
