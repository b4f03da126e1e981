/**
 * US equity trading-session calendar in America/New_York, without a time-zone library.
 *
 * Sessions (NY local time): PM 04:00–09:30, RTH 09:30–16:00, AH 16:00–20:00.
 * DST follows the US rule since 2007 (2nd Sunday of March 02:00 local → 1st Sunday of November
 * 02:00 local); years 1987–2006 use the previous rule (1st Sunday of April → last Sunday of October)
 * so that old history is not shifted by an hour.
 */
import { InputError } from '../errors.js';
import type { Session } from '../types.js';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** NY minute-of-day bounds of the sessions. */
export const PM_START_MINUTE = 4 * 60;
export const RTH_START_MINUTE = 9 * 60 + 30;
export const RTH_END_MINUTE = 16 * 60;
export const AH_END_MINUTE = 20 * 60;

const EST = -300;
const EDT = -240;

/** UTC ms of `dayOfMonth`-th day-of-month (1-based) at `hourUtc`. */
function utcAt(year: number, month0: number, dayOfMonth: number, hourUtc: number): number {
  return Date.UTC(year, month0, dayOfMonth, hourUtc);
}

/** [start, end) of DST in UTC ms for a year. The switch happens at 02:00 local time. */
function dstBoundsUtc(year: number): readonly [number, number] {
  // 02:00 EST = 07:00 UTC when clocks spring forward; 02:00 EDT = 06:00 UTC when they fall back.
  if (year >= 2007) {
    return [utcAt(year, 2, nthWeekday(year, 2, 0, 2), 7), utcAt(year, 10, nthWeekday(year, 10, 0, 1), 6)];
  }
  return [utcAt(year, 3, nthWeekday(year, 3, 0, 1), 7), utcAt(year, 9, nthWeekday(year, 9, 0, -1), 6)];
}

/**
 * A stretch of time with one UTC offset. Bars arrive in time order, so remembering the last
 * stretch turns the offset lookup into two comparisons for almost every bar.
 */
interface OffsetSpan {
  readonly from: number;
  readonly to: number;
  readonly offset: number;
}

function spanOf(utcMs: number): OffsetSpan {
  const year = new Date(utcMs).getUTCFullYear();
  const [start, end] = dstBoundsUtc(year);
  if (utcMs < start) return { from: Date.UTC(year, 0, 1), to: start, offset: EST };
  if (utcMs < end) return { from: start, to: end, offset: EDT };
  return { from: end, to: Date.UTC(year + 1, 0, 1), offset: EST };
}

let lastSpan: OffsetSpan = spanOf(0);

/** Offset of New York local time from UTC at `utcMs`, in minutes: -240 (EDT) or -300 (EST). */
export function nyOffsetMinutes(utcMs: number): number {
  const s = lastSpan;
  if (utcMs >= s.from && utcMs < s.to) return s.offset;
  lastSpan = spanOf(utcMs);
  return lastSpan.offset;
}

/** Days since 1970-01-01 of the NY local date at `utcMs`. */
export function nyEpochDay(utcMs: number): number {
  return Math.floor((utcMs + nyOffsetMinutes(utcMs) * MINUTE_MS) / DAY_MS);
}

/** `YYYYMMDD` as an integer for a day count since 1970-01-01 (e.g. 20240311). */
export function epochDayToYmd(epochDay: number): number {
  const d = new Date(epochDay * DAY_MS);
  return d.getUTCFullYear() * 10_000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate();
}

/** `YYYY-MM-DD` for a day count since 1970-01-01. */
export function epochDayToIso(epochDay: number): string {
  return new Date(epochDay * DAY_MS).toISOString().slice(0, 10);
}

/** NY local calendar date (`YYYY-MM-DD`) and minute of the day (0–1439) at `utcMs`. */
export function nyLocalParts(utcMs: number): { date: string; minuteOfDay: number } {
  const local = utcMs + nyOffsetMinutes(utcMs) * MINUTE_MS;
  const epochDay = Math.floor(local / DAY_MS);
  return { date: epochDayToIso(epochDay), minuteOfDay: Math.floor((local - epochDay * DAY_MS) / MINUTE_MS) };
}

/** Session of a NY minute-of-day, or undefined outside 04:00–20:00. */
export function sessionOfMinute(minuteOfDay: number): Session | undefined {
  if (minuteOfDay < PM_START_MINUTE || minuteOfDay >= AH_END_MINUTE) return undefined;
  if (minuteOfDay < RTH_START_MINUTE) return 'PM';
  return minuteOfDay < RTH_END_MINUTE ? 'RTH' : 'AH';
}

/**
 * Session at `utcMs` by NY clock time alone, or undefined outside 04:00–20:00. It does not consult
 * weekends or holidays: a bar that exists is assumed to be from a trading day.
 */
export function sessionOf(utcMs: number): Session | undefined {
  return sessionOfMinute(nyLocalParts(utcMs).minuteOfDay);
}

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * Validates a calendar day written `YYYY-MM-DD` (a real date: no 2024-02-30) and returns it
 * unchanged. Throws {@link InputError} naming the value otherwise.
 */
export function parseDay(s: unknown): string {
  const m = typeof s === 'string' ? DAY_RE.exec(s) : null;
  if (m !== null) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const date = new Date(Date.UTC(y, mo - 1, d));
    if (date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d) return s as string;
  }
  const shown = typeof s === 'string' ? JSON.stringify(s) : `${String(s)} (${typeof s})`;
  throw new InputError(`invalid day ${shown}: expected a calendar date written YYYY-MM-DD`);
}

function isoToEpochDay(day: string): number {
  return Math.floor(Date.parse(`${day}T00:00:00Z`) / DAY_MS);
}

/** Gregorian Easter Sunday (anonymous algorithm), as [month0, day]. */
function easter(year: number): readonly [number, number] {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return [month - 1, day];
}

/** Day of month of the n-th weekday `dow` (0 = Sunday) of a month; n = -1 means the last one. */
function nthWeekday(year: number, month0: number, dow: number, n: number): number {
  if (n > 0) {
    const firstDow = new Date(Date.UTC(year, month0, 1)).getUTCDay();
    return 1 + ((dow - firstDow + 7) % 7) + (n - 1) * 7;
  }
  const lastDay = new Date(Date.UTC(year, month0 + 1, 0)).getUTCDate();
  const lastDow = new Date(Date.UTC(year, month0, lastDay)).getUTCDay();
  return lastDay - ((lastDow - dow + 7) % 7);
}

/**
 * Unscheduled full-day NYSE closures (weather, national days of mourning, 9/11). Known up to
 * 2025-01; later ones must be added here.
 */
const SPECIAL_CLOSURES: readonly string[] = [
  '2001-09-11', '2001-09-12', '2001-09-13', '2001-09-14',
  '2004-06-11', // Reagan
  '2007-01-02', // Ford
  '2012-10-29', '2012-10-30', // Hurricane Sandy
  '2018-12-05', // G. H. W. Bush
  '2025-01-09', // Carter
];

const holidayCache = new Map<number, ReadonlySet<number>>();

/**
 * NYSE full-day holidays of a year as epoch days: the rule-based ones (New Year, MLK Day from 1998,
 * Washington's Birthday, Good Friday, Memorial Day, Juneteenth from 2022, Independence Day, Labor
 * Day, Thanksgiving, Christmas; Saturday → Friday and Sunday → Monday, except that a Saturday New
 * Year's Day is not observed on Dec 31) plus {@link SPECIAL_CLOSURES}. Early closes (13:00) are
 * trading days and are not listed. Accurate for 2001 onward.
 */
function nyseHolidays(year: number): ReadonlySet<number> {
  const cached = holidayCache.get(year);
  if (cached !== undefined) return cached;
  const days = new Set<number>();
  const add = (month0: number, day: number, observe: boolean): void => {
    let e = Math.floor(Date.UTC(year, month0, day) / DAY_MS);
    if (observe) {
      const dow = new Date(e * DAY_MS).getUTCDay();
      if (dow === 6) e -= 1;
      else if (dow === 0) e += 1;
    }
    days.add(e);
  };
  const jan1Dow = new Date(Date.UTC(year, 0, 1)).getUTCDay();
  if (jan1Dow !== 6) add(0, 1, true);
  if (year >= 1998) add(0, nthWeekday(year, 0, 1, 3), false);
  add(1, nthWeekday(year, 1, 1, 3), false);
  const [em, ed] = easter(year);
  add(em, ed - 2, false);
  add(4, nthWeekday(year, 4, 1, -1), false);
  if (year >= 2022) add(5, 19, true);
  add(6, 4, true);
  add(8, nthWeekday(year, 8, 1, 1), false);
  add(10, nthWeekday(year, 10, 4, 4), false);
  add(11, 25, true);
  for (const s of SPECIAL_CLOSURES) if (s.startsWith(`${year}-`)) days.add(isoToEpochDay(s));
  holidayCache.set(year, days);
  return days;
}

/** Whether a `YYYY-MM-DD` day is an NYSE full-day holiday (see {@link tradingDays}). */
export function isNyseHoliday(day: string): boolean {
  const e = isoToEpochDay(parseDay(day));
  return nyseHolidays(new Date(e * DAY_MS).getUTCFullYear()).has(e);
}

/** Options of {@link tradingDays}. */
export interface TradingDaysOptions {
  /**
   * Also drop NYSE full-day holidays: rule-based holidays (any year from 2001; MLK Day from 1998,
   * Juneteenth from 2022) plus the unscheduled closures known up to 2025-01 (9/11, Reagan, Ford,
   * Sandy, G. H. W. Bush, Carter).
   * @default false
   */
  readonly excludeHolidays?: boolean;
}

/**
 * Weekdays (Mon–Fri) from `from` to `to`, both inclusive, as `YYYY-MM-DD`.
 * Throws {@link InputError} for a malformed day or `from` after `to`.
 * @example tradingDays('2024-03-08', '2024-03-11') // ['2024-03-08', '2024-03-11']
 */
export function tradingDays(from: string, to: string, options: TradingDaysOptions = {}): string[] {
  const a = isoToEpochDay(parseDay(from));
  const b = isoToEpochDay(parseDay(to));
  if (a > b) throw new InputError(`invalid day range: from ${from} is after to ${to}`);
  const exclude = options.excludeHolidays ?? false;
  if (typeof exclude !== 'boolean') {
    throw new InputError(`tradingDays: excludeHolidays must be a boolean, got ${String(exclude)} (${typeof exclude})`);
  }
  const out: string[] = [];
  for (let e = a; e <= b; e++) {
    // 1970-01-01 was a Thursday, so (e + 4) % 7 is the day of the week with 0 = Sunday.
    const dow = (((e + 4) % 7) + 7) % 7;
    if (dow === 0 || dow === 6) continue;
    if (exclude && nyseHolidays(new Date(e * DAY_MS).getUTCFullYear()).has(e)) continue;
    out.push(epochDayToIso(e));
  }
  return out;
}
