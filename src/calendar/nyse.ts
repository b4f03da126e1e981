/**
 * The one New York / NYSE trading calendar of tickpipe, used by the simulator (`src/sim`) and the
 * detectors (`src/detect`). Dependency-free on purpose: the simulator must not load Polars.
 *
 * Days are "epoch days": whole days since 1970-01-01 on the civil calendar, so day arithmetic is
 * integer arithmetic and never touches a Date's local zone. Minutes are NY minutes of the day
 * (0–1439) unless a name says otherwise.
 *
 * DST (switch at 02:00 local): since 2007 2nd Sunday of March → 1st Sunday of November; 1987–2006
 * 1st Sunday of April → last Sunday of October; 1967–1986 last Sunday of April → last Sunday of
 * October (the 1974–75 energy-crisis years are not modelled).
 *
 * Holidays and early closes are rule-based (accurate from 2001) plus the known unscheduled closures.
 */
import type { Session } from '../types.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** NY minute-of-day bounds of the sessions: PM 04:00–09:30, RTH 09:30–16:00 (13:00 on early closes), AH to 20:00. */
export const PM_START_MINUTE = 4 * 60;
export const RTH_START_MINUTE = 9 * 60 + 30;
export const RTH_END_MINUTE = 16 * 60;
/** Regular-session close on an early-close day (day after Thanksgiving, Christmas Eve, July 3). */
export const EARLY_CLOSE_MINUTE = 13 * 60;
export const AH_END_MINUTE = 20 * 60;

const EST = -300;
const EDT = -240;

/** Epoch day of a civil date (0-based month). */
export function epochDayOf(year: number, month0: number, dayOfMonth: number): number {
  return Date.UTC(year, month0, dayOfMonth) / DAY_MS;
}

/** 0 = Sunday … 6 = Saturday (1970-01-01 was a Thursday). */
export function weekday(day: number): number {
  return (((day + 4) % 7) + 7) % 7;
}

export function civilYear(day: number): number {
  return new Date(day * DAY_MS).getUTCFullYear();
}

/** `YYYY-MM-DD` of an epoch day. */
export function formatEpochDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** `YYYY-MM-DD` → epoch day, or undefined when it is not a real calendar date (no 2024-02-30). */
export function epochDayOfIso(s: string): number | undefined {
  const m = DAY_RE.exec(s);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return undefined;
  const back = new Date(Date.UTC(y, mo - 1, d));
  // Date.UTC silently rolls 2024-02-30 over to March; a real date survives the round trip.
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return undefined;
  return epochDayOf(y, mo - 1, d);
}

/** Epoch day of the n-th weekday `dow` (0 = Sunday) of a month; n = -1 means the last one. */
export function nthWeekdayDay(year: number, month0: number, dow: number, n: number): number {
  if (n > 0) {
    const first = epochDayOf(year, month0, 1);
    return first + ((dow - weekday(first) + 7) % 7) + (n - 1) * 7;
  }
  const last = epochDayOf(year, month0 + 1, 0);
  return last - ((weekday(last) - dow + 7) % 7);
}

const dstCache = new Map<number, readonly [number, number]>();

/** [start, end) epoch days of US daylight time in a year: the two switch Sundays. */
export function dstSwitchDays(year: number): readonly [number, number] {
  let v = dstCache.get(year);
  if (v === undefined) {
    if (year >= 2007) v = [nthWeekdayDay(year, 2, 0, 2), nthWeekdayDay(year, 10, 0, 1)] as const;
    else if (year >= 1987) v = [nthWeekdayDay(year, 3, 0, 1), nthWeekdayDay(year, 9, 0, -1)] as const;
    else v = [nthWeekdayDay(year, 3, 0, -1), nthWeekdayDay(year, 9, 0, -1)] as const;
    dstCache.set(year, v);
  }
  return v;
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
  const [startDay, endDay] = dstSwitchDays(year);
  // 02:00 EST = 07:00 UTC when clocks spring forward; 02:00 EDT = 06:00 UTC when they fall back.
  const start = startDay * DAY_MS + 7 * HOUR_MS;
  const end = endDay * DAY_MS + 6 * HOUR_MS;
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

/**
 * Offset in minutes at a NY wall-clock minute on `day`. On the spring-forward day times before
 * 02:00 are EST, on the fall-back day times before 02:00 are EDT.
 */
export function nyOffsetMinutesAtLocal(day: number, localMinute: number): number {
  const [start, end] = dstSwitchDays(civilYear(day));
  let dst: boolean;
  if (day === start) dst = localMinute >= 120;
  else if (day === end) dst = localMinute < 120;
  else dst = day > start && day < end;
  return dst ? EDT : EST;
}

/** UTC ms of a NY wall-clock minute (may be fractional) on `day`. */
export function nyLocalToUtcMs(day: number, localMinute: number): number {
  return day * DAY_MS + (localMinute - nyOffsetMinutesAtLocal(day, localMinute)) * MINUTE_MS;
}

/** UTC ms of New York midnight starting `day`. */
export function nyMidnightMs(day: number): number {
  return nyLocalToUtcMs(day, 0);
}

/** Epoch day of the NY local date at `utcMs`. */
export function nyEpochDay(utcMs: number): number {
  return Math.floor((utcMs + nyOffsetMinutes(utcMs) * MINUTE_MS) / DAY_MS);
}

/** NY minute of the day (0–1439) at `utcMs`. */
export function nyMinuteOfDay(utcMs: number): number {
  const local = utcMs + nyOffsetMinutes(utcMs) * MINUTE_MS;
  return Math.floor((local - Math.floor(local / DAY_MS) * DAY_MS) / MINUTE_MS);
}

/** Gregorian Easter Sunday (anonymous algorithm) as an epoch day. */
function easterDay(year: number): number {
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
  return epochDayOf(year, month - 1, ((h + l - 7 * m + 114) % 31) + 1);
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

/** Saturday → Friday, Sunday → Monday. */
function observed(day: number): number {
  const w = weekday(day);
  return w === 6 ? day - 1 : w === 0 ? day + 1 : day;
}

/**
 * NYSE full-day holidays of a year as epoch days: New Year (a Saturday New Year is not observed on
 * Dec 31), MLK Day from 1998, Washington's Birthday, Good Friday, Memorial Day, Juneteenth from
 * 2022, Independence Day, Labor Day, Thanksgiving, Christmas (weekend → Friday/Monday), plus
 * {@link SPECIAL_CLOSURES}.
 */
export function nyseHolidays(year: number): ReadonlySet<number> {
  const cached = holidayCache.get(year);
  if (cached !== undefined) return cached;
  const days = new Set<number>();
  const jan1 = epochDayOf(year, 0, 1);
  if (weekday(jan1) !== 6) days.add(observed(jan1));
  if (year >= 1998) days.add(nthWeekdayDay(year, 0, 1, 3));
  days.add(nthWeekdayDay(year, 1, 1, 3));
  days.add(easterDay(year) - 2);
  days.add(nthWeekdayDay(year, 4, 1, -1));
  if (year >= 2022) days.add(observed(epochDayOf(year, 5, 19)));
  days.add(observed(epochDayOf(year, 6, 4)));
  days.add(nthWeekdayDay(year, 8, 1, 1));
  days.add(nthWeekdayDay(year, 10, 4, 4));
  days.add(observed(epochDayOf(year, 11, 25)));
  for (const s of SPECIAL_CLOSURES) if (s.startsWith(`${year}-`)) days.add(epochDayOfIso(s)!);
  holidayCache.set(year, days);
  return days;
}

export function isNyseHolidayDay(day: number): boolean {
  return nyseHolidays(civilYear(day)).has(day);
}

/** A weekday that is not an NYSE full-day holiday. */
export function isTradingDay(day: number): boolean {
  const w = weekday(day);
  return w >= 1 && w <= 5 && !isNyseHolidayDay(day);
}

/**
 * Scheduled 13:00 closes: the day after Thanksgiving, and Christmas Eve and July 3 when they fall
 * on a trading day that is not the observed holiday (Dec 24 / Jul 3 on a Monday–Thursday).
 */
export function isEarlyCloseDay(day: number): boolean {
  if (!isTradingDay(day)) return false;
  const year = civilYear(day);
  if (day === nthWeekdayDay(year, 10, 4, 4) + 1) return true;
  return day === epochDayOf(year, 11, 24) || day === epochDayOf(year, 6, 3);
}

/** NY minute of the day at which the regular session of `day` ends: 16:00, or 13:00 on early closes. */
export function rthEndMinute(day: number): number {
  return isEarlyCloseDay(day) ? EARLY_CLOSE_MINUTE : RTH_END_MINUTE;
}

/** Session of a NY minute-of-day, or undefined outside 04:00–20:00; `rthEnd` defaults to 16:00. */
export function sessionOfMinuteOfDay(minuteOfDay: number, rthEnd: number = RTH_END_MINUTE): Session | undefined {
  if (minuteOfDay < PM_START_MINUTE || minuteOfDay >= AH_END_MINUTE) return undefined;
  if (minuteOfDay < RTH_START_MINUTE) return 'PM';
  return minuteOfDay < rthEnd ? 'RTH' : 'AH';
}

/**
 * Session at `utcMs` by NY clock time, with the 13:00 close of early-close days; undefined outside
 * 04:00–20:00. Weekends and holidays are not consulted: a bar that exists is assumed to be from a
 * trading day.
 */
export function sessionAt(utcMs: number): Session | undefined {
  return sessionOfMinuteOfDay(nyMinuteOfDay(utcMs), rthEndMinute(nyEpochDay(utcMs)));
}
