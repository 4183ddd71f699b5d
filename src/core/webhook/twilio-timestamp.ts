/**
 * Twilio's callback `Timestamp`: UTC ISO 8601, `YYYY-MM-DDTHH:MM:SS` with an optional fraction of
 * 1 to 9 digits and a literal `Z` — the one form Twilio sends (e.g. `2026-03-01T10:00:00.123Z`).
 * Offsets (`+01:00`, `+0100`), a lower-case `t`/`z`, a space for `T`, missing seconds, a leap
 * second, or a date that does not exist (`2026-02-30`) are malformed: `Date.parse` would quietly
 * accept or shift several of them, and two readers must never see two different instants.
 */

const FORMAT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/;

/** Earliest year accepted: before it, Date.UTC would read a two-digit year as 19xx. */
const MIN_YEAR = 1970;

/**
 * The instant a Twilio `Timestamp` names, in ms since the epoch (digits beyond the millisecond
 * are dropped), or undefined when the value is not in Twilio's format.
 *
 * @example parseTwilioTimestamp('2026-03-01T10:00:00.123Z') === Date.UTC(2026, 2, 1, 10, 0, 0, 123)
 * @example parseTwilioTimestamp('2026-03-01T11:00:00+01:00') === undefined
 */
export function parseTwilioTimestamp(value: string): number | undefined {
  const match = FORMAT.exec(value);
  if (!match) return undefined;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  const hour = Number(match[4]);
  const minute = Number(match[5]);
  const second = Number(match[6]);
  if (year < MIN_YEAR || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const fraction = match[7];
  const millis = fraction === undefined ? 0 : Number(fraction.padEnd(3, '0').slice(0, 3));
  return Date.UTC(year, month - 1, day, hour, minute, second, millis);
}

/** Days of `month` (1–12) in the proleptic Gregorian calendar Date.UTC counts in. */
function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}
