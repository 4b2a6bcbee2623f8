// systemd calendar events (OnCalendar=), checked the way systemd parses them, so a schedule systemd would
// refuse is refused before any resource exists. Follows systemd.time(7) "Calendar Events" and its parser
// (src/shared/calendarspec.c, calendar_spec_from_string): [weekdays] [[year-]month-day] [hour:minute[:second]]
// [timezone], or one of the shorthands. An expression systemd parses but that never elapses again
// (`systemd-analyze calendar` prints "Next elapse: never": a day no month has, a date in the past) is
// refused too: the timer would never run. Pure module.

/** The shorthands systemd accepts in place of a whole expression, compared without regard to case. */
const SHORTHANDS = [
    "minutely", "hourly", "daily", "weekly", "monthly", "quarterly",
    "yearly", "annually", "anually", "semiannually", "semi-annually", "biannually", "bi-annually",
];

/** Weekday names, full names first so that "Monday" is not read as "Mon" followed by "day". */
const WEEKDAYS: readonly (readonly [string, number])[] = [
    ["monday", 0], ["mon", 0], ["tuesday", 1], ["tue", 1], ["wednesday", 2], ["wed", 2], ["thursday", 3], ["thu", 3],
    ["friday", 4], ["fri", 4], ["saturday", 5], ["sat", 5], ["sunday", 6], ["sun", 6],
];

const MICROSECONDS_PER_SECOND = 1_000_000;
const INT_MAX = 2 ** 31 - 1;

/** One comma-separated part of a field: a value, or a range `a..b`, with an optional repetition `/n`. */
interface Component {
    readonly start: number;
    /** End of a range; absent for a single value. */
    readonly stop?: number;
    readonly repeat?: number;
}

/** A field: `*` (any, undefined here) or a list of components. */
type Field = readonly Component[] | undefined;

class Refusal extends Error {}

/** systemd-analyze calendar's words for an event that does not come again. */
const NEVER = 'it never elapses (systemd-analyze calendar prints "Next elapse: never"): no time from now on matches it, e.g. a day no month has or a date in the past';

/** A cursor over the expression. */
class Reader {
    constructor(
        readonly text: string,
        public at = 0,
    ) {}
    get char(): string {
        return this.text[this.at] ?? "";
    }
    get done(): boolean {
        return this.at >= this.text.length;
    }
    skipSpaces(): void {
        while (this.char === " ") this.at++;
    }
}

function refuse(why: string): never {
    throw new Refusal(why);
}

/** A decimal number; for seconds, with up to six fractional digits, in microseconds. */
function readNumber(reader: Reader, seconds: boolean): number {
    const digits = /^\d+/.exec(reader.text.slice(reader.at));
    if (!digits) refuse(`expected a number at "${reader.text.slice(reader.at)}"`);
    reader.at += digits[0].length;
    let value = Number(digits[0]);
    if (seconds) {
        value *= MICROSECONDS_PER_SECOND;
        // One "." is a decimal point; ".." is a range.
        if (reader.char === "." && reader.text[reader.at + 1] !== ".") {
            reader.at++;
            const fraction = /^\d+/.exec(reader.text.slice(reader.at));
            if (!fraction) refuse("expected digits after the decimal point");
            reader.at += fraction[0].length;
            value += Number(fraction[0].slice(0, 6).padEnd(6, "0"));
        }
    }
    if (!Number.isSafeInteger(value) || value > (seconds ? Number.MAX_SAFE_INTEGER : INT_MAX)) refuse(`${digits[0]} is out of range`);
    return value;
}

function readComponents(reader: Reader, seconds: boolean): Component[] {
    const components: Component[] = [];
    for (;;) {
        const start = readNumber(reader, seconds);
        let stop: number | undefined;
        let repeat: number | undefined;
        if (reader.text.startsWith("..", reader.at)) {
            reader.at += 2;
            stop = readNumber(reader, seconds);
        }
        if (reader.char === "/") {
            reader.at++;
            repeat = readNumber(reader, seconds);
            if (repeat === 0) refuse("a repetition of 0 never advances");
        } else if (seconds && stop !== undefined && stop >= start && stop - start < MICROSECONDS_PER_SECOND) {
            // Without a repetition, seconds repeat every second, so a shorter range is refused.
            refuse("a range of seconds shorter than one second needs a repetition");
        }
        if (!["", " ", ",", "-", "~", ":"].includes(reader.char)) refuse(`unexpected "${reader.char}"`);
        components.push({ start, ...(stop === undefined ? {} : { stop }), ...(repeat === undefined ? {} : { repeat }) });
        if (reader.char !== ",") return components;
        reader.at++;
    }
}

/** `*` or a list of components. A `*` for seconds means every whole second. */
function readField(reader: Reader, seconds: boolean): Field {
    if (reader.char === "*") {
        reader.at++;
        return seconds ? [{ start: 0, repeat: MICROSECONDS_PER_SECOND }] : undefined;
    }
    return readComponents(reader, seconds);
}

/**
 * Weekday names, lists and ranges (`Mon..Fri`, or the older `Mon-Fri`), as the set of days (0 for
 * Monday); undefined (any day) if the text starts otherwise.
 */
function readWeekdays(reader: Reader): Set<number> | undefined {
    const days = new Set<number>();
    let first = true;
    let rangeFrom: number | undefined;
    for (;;) {
        const rest = reader.text.slice(reader.at).toLowerCase();
        const day = WEEKDAYS.find(([name]) => rest.startsWith(name));
        if (!day) {
            if (first) return undefined;
            refuse("expected a weekday");
        }
        const [name, number] = day;
        if (!["", "-", ".", ",", " "].includes(reader.text[reader.at + name.length] ?? "")) refuse(`unexpected text after the weekday "${name}"`);
        if (rangeFrom !== undefined && rangeFrom > number) refuse("a weekday range must run forward, e.g. Mon..Fri");
        for (let d = rangeFrom ?? number; d <= number; d++) days.add(d);
        reader.at += name.length;
        if (reader.done) return days;
        if (reader.char === " ") {
            reader.skipSpaces();
            return days;
        }
        if (reader.char === ".") {
            if (rangeFrom !== undefined || reader.text[reader.at + 1] !== ".") refuse("a weekday range is written Mon..Fri");
            rangeFrom = number;
            reader.at += 2;
        } else if (reader.char === "-") {
            if (rangeFrom !== undefined) refuse("a weekday range has two ends");
            rangeFrom = number;
            reader.at++;
        } else if (reader.char === ",") {
            rangeFrom = undefined;
            reader.at++;
        }
        // A trailing comma is allowed, an open range is not.
        if (reader.done || reader.char === " ") {
            reader.skipSpaces();
            if (rangeFrom !== undefined) refuse("a weekday range needs an end");
            return days;
        }
        first = false;
    }
}

interface CalendarDate {
    readonly year?: Field;
    readonly month?: Field;
    readonly day?: Field;
    readonly endOfMonth: boolean;
}

/** `[year-]month-day`, with `~` for days counted from the month's end; nothing if the text is a time. */
function readDate(reader: Reader): CalendarDate | "timestamp" | undefined {
    if (reader.done) return undefined;
    if (reader.char === "@") {
        // Seconds since the epoch, a single elapse.
        if (!/^@\d+$/.test(reader.text.slice(reader.at))) refuse("expected seconds since the epoch after @");
        reader.at = reader.text.length;
        return "timestamp";
    }
    const start = reader.at;
    const first = readField(reader, false);
    if (reader.done || reader.char === ":") {
        reader.at = start;
        return undefined;
    }
    let endOfMonth = reader.char === "~";
    if (!endOfMonth && reader.char !== "-") refuse(`unexpected "${reader.char}" in the date`);
    reader.at++;
    const second = readField(reader, false);
    if (reader.done || reader.char === " ") {
        reader.skipSpaces();
        return { month: first, day: second, endOfMonth };
    }
    if (endOfMonth) refuse("~ counts days from the end of the month, so it comes last in the date");
    endOfMonth = reader.char === "~";
    if (!endOfMonth && reader.char !== "-") refuse(`unexpected "${reader.char}" in the date`);
    reader.at++;
    const third = readField(reader, false);
    if (!reader.done && reader.char !== " ") refuse(`unexpected "${reader.char}" in the date`);
    reader.skipSpaces();
    return { year: first, month: second, day: third, endOfMonth };
}

interface CalendarTime {
    readonly hour?: Field;
    readonly minute?: Field;
    readonly second?: Field;
}

/** `hour:minute[:second]`; nothing at all means midnight. */
function readTime(reader: Reader): CalendarTime {
    if (reader.done) return {};
    const hour = readField(reader, false);
    if (reader.char !== ":") refuse("a time is written hour:minute or hour:minute:second");
    reader.at++;
    const minute = readField(reader, false);
    if (reader.done) return { hour, minute };
    if (reader.char !== ":") refuse(`unexpected "${reader.char}" in the time`);
    reader.at++;
    const second = readField(reader, true);
    if (!reader.done) refuse(`unexpected "${reader.char}" after the time`);
    return { hour, minute, second };
}

/** Two-digit years are read as 1970 to 2069, as systemd does. */
function fullYear(year: number): number {
    return year < 70 ? year + 2000 : year < 100 ? year + 1900 : year;
}

function checkField(field: Field, name: string, from: number, to: number, shown = `from ${from} to ${to}`): void {
    for (const component of field ?? []) {
        const { start, stop, repeat } = component;
        if (start < from || start > to || (stop !== undefined && (stop < from || stop > to))) refuse(`the ${name} must be ${shown}`);
        if (stop !== undefined && start > stop) refuse(`a ${name} range must run forward`);
        if (repeat !== undefined && repeat > to - from) refuse(`the ${name} repetition is longer than the ${name} range`);
    }
}

/**
 * A time zone name as systemd finds it in tzdata (/usr/share/zoneinfo/<name>): a name the IANA database
 * knows, written in its own case. Intl knows the same database but ignores case, and tzdata's names
 * begin each part with a capital letter.
 */
function isTimeZone(name: string): boolean {
    if (!/^[A-Z][A-Za-z0-9_+-]*(\/[A-Z][A-Za-z0-9_+-]*)*$/.test(name)) return false;
    try {
        new Intl.DateTimeFormat("en-US", { timeZone: name });
        return true;
    } catch {
        return false;
    }
}

/** Whether value `v` is one a field's component names: its value, its range, or its repetitions up to `max`. */
function matches(field: Field, v: number, max: number): boolean {
    return (
        field === undefined ||
        field.some(({ start, stop, repeat }) =>
            repeat === undefined ? v >= start && v <= (stop ?? start) : v >= start && v <= (stop ?? max) && (v - start) % repeat === 0,
        )
    );
}

/** The largest value a field names, up to `max`. */
function largest(field: Field, max: number): number {
    if (field === undefined) return max;
    return Math.max(...field.map(({ start, stop, repeat }) => (repeat === undefined ? (stop ?? start) : start + Math.floor(((stop ?? max) - start) / repeat) * repeat)));
}

/**
 * Days counted from the month's end (`~`, 1 for the last day): as other fields, except that a
 * repetition without an end runs towards the month's end (`~7/2`: 7, 5, 3 and 1 days from it).
 */
function matchesFromEnd(field: Field, fromEnd: number): boolean {
    return (
        field === undefined ||
        field.some((component) =>
            component.repeat !== undefined && component.stop === undefined
                ? fromEnd <= component.start && (component.start - fromEnd) % component.repeat === 0
                : matches([component], fromEnd, 31),
        )
    );
}

/** The wall-clock time in `zone` (seconds in microseconds) and the weekday, 0 for Monday. */
function wallClock(now: Date, zone: string) {
    const parts = Object.fromEntries(
        new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" })
            .formatToParts(now)
            .map((part) => [part.type, Number(part.value)]),
    );
    return { year: parts.year, month: parts.month, day: parts.day, hour: parts.hour, minute: parts.minute, second: parts.second * MICROSECONDS_PER_SECOND + now.getMilliseconds() * 1000 };
}

/**
 * Whether the event elapses after `now`: a date from today on that the year, month, day and weekday
 * fields all name (systemd looks up to the year 2199), at a time later than now if it is today.
 */
function elapsesAfter(now: Date, zone: string, weekdays: Set<number> | undefined, date: CalendarDate | undefined, time: CalendarTime): boolean {
    const clock = wallClock(now, zone);
    // No time at all is midnight; hour:minute is at second 0.
    const midnight: Field = [{ start: 0 }];
    const hours = "hour" in time ? time.hour : midnight;
    const minutes = "minute" in time ? time.minute : midnight;
    const seconds = "second" in time ? time.second : midnight;
    const laterToday = () => {
        if (largest(hours, 23) > clock.hour) return true;
        if (!matches(hours, clock.hour, 23)) return false;
        if (largest(minutes, 59) > clock.minute) return true;
        return matches(minutes, clock.minute, 59) && largest(seconds, 60 * MICROSECONDS_PER_SECOND - 1) > clock.second;
    };
    const today = clock.year * 10000 + clock.month * 100 + clock.day;
    for (let year = clock.year; year <= 2199; year++) {
        if (!matches(date?.year, year, 2199)) continue;
        for (let month = 1; month <= 12; month++) {
            if (!matches(date?.month, month, 12)) continue;
            const length = new Date(Date.UTC(year, month, 0)).getUTCDate();
            for (let day = 1; day <= length; day++) {
                const stamp = year * 10000 + month * 100 + day;
                if (stamp < today) continue;
                if (!(date?.endOfMonth ? matchesFromEnd(date.day, length - day + 1) : matches(date?.day, day, 31))) continue;
                if (weekdays && !weekdays.has((new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 6) % 7)) continue;
                if (stamp > today || laterToday()) return true;
            }
        }
    }
    return false;
}

/**
 * Why systemd would refuse `expression` as a calendar event, or never run a timer on it after `now`;
 * undefined if it accepts it. The host runs in UTC, so the local zone's own name is UTC too.
 */
export function calendarProblem(expression: string, now = new Date()): string | undefined {
    try {
        let text = expression;
        let zone = "UTC";
        if (text.toLowerCase().endsWith(" utc")) {
            text = text.slice(0, -4);
        } else {
            const space = text.lastIndexOf(" ");
            if (space >= 0 && isTimeZone(text.slice(space + 1))) {
                zone = text.slice(space + 1);
                text = text.slice(0, space);
            }
        }
        if (text === "") refuse("only a time zone is given");
        if (SHORTHANDS.includes(text.toLowerCase())) return undefined;
        const reader = new Reader(text);
        const weekdays = readWeekdays(reader);
        const date = readDate(reader);
        if (date === "timestamp") {
            // One elapse, which must be still to come, and on one of the weekdays if they are given.
            const at = new Date(Number(text.slice(text.indexOf("@") + 1)) * 1000);
            if (at.getTime() <= now.getTime() || (weekdays && !weekdays.has((at.getUTCDay() + 6) % 7))) refuse(NEVER);
            return undefined;
        }
        const time = readTime(reader);
        if (!reader.done) refuse(`unexpected "${reader.text.slice(reader.at)}"`);
        const years = date?.year?.map((c) => ({ ...c, start: fullYear(c.start), ...(c.stop === undefined ? {} : { stop: fullYear(c.stop) }) }));
        checkField(years, "year", 1970, 2199);
        checkField(date?.month, "month", 1, 12);
        // Counted from the month's end, a day may be at most 28 back.
        checkField(date?.day, "day", 1, date?.endOfMonth ? 28 : 31);
        checkField(time.hour, "hour", 0, 23);
        checkField(time.minute, "minute", 0, 59);
        checkField(time.second, "second", 0, 60 * MICROSECONDS_PER_SECOND - 1, "below 60");
        if (!elapsesAfter(now, zone, weekdays, date && { ...date, year: years }, time)) refuse(NEVER);
        return undefined;
    } catch (error) {
        if (error instanceof Refusal) return error.message;
        throw error;
    }
}
