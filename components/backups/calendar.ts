// systemd calendar events (OnCalendar=), checked the way systemd parses them, so a schedule systemd would
// refuse is refused before any resource exists. Follows systemd.time(7) "Calendar Events" and its parser
// (src/shared/calendarspec.c, calendar_spec_from_string): [weekdays] [[year-]month-day] [hour:minute[:second]]
// [timezone], or one of the shorthands. Pure module.

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

/** Weekday names, lists and ranges (`Mon..Fri`, or the older `Mon-Fri`); nothing if the text starts otherwise. */
function readWeekdays(reader: Reader): void {
    let first = true;
    let rangeFrom: number | undefined;
    for (;;) {
        const rest = reader.text.slice(reader.at).toLowerCase();
        const day = WEEKDAYS.find(([name]) => rest.startsWith(name));
        if (!day) {
            if (first) return;
            refuse("expected a weekday");
        }
        const [name, number] = day;
        if (!["", "-", ".", ",", " "].includes(reader.text[reader.at + name.length] ?? "")) refuse(`unexpected text after the weekday "${name}"`);
        if (rangeFrom !== undefined && rangeFrom > number) refuse("a weekday range must run forward, e.g. Mon..Fri");
        reader.at += name.length;
        if (reader.done) return;
        if (reader.char === " ") {
            reader.skipSpaces();
            return;
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
            return;
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

/**
 * Why systemd would refuse `expression` as a calendar event, or undefined if it accepts it. The host runs
 * in UTC, so the local zone's own name is UTC too.
 */
export function calendarProblem(expression: string): string | undefined {
    try {
        let text = expression;
        if (text.toLowerCase().endsWith(" utc")) {
            text = text.slice(0, -4);
        } else {
            const space = text.lastIndexOf(" ");
            if (space >= 0 && isTimeZone(text.slice(space + 1))) text = text.slice(0, space);
        }
        if (text === "") refuse("only a time zone is given");
        if (SHORTHANDS.includes(text.toLowerCase())) return undefined;
        const reader = new Reader(text);
        readWeekdays(reader);
        const date = readDate(reader);
        if (date === "timestamp") return undefined;
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
        return undefined;
    } catch (error) {
        if (error instanceof Refusal) return error.message;
        throw error;
    }
}
