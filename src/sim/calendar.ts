/**
 * New York trading calendar for the simulator, without a time-zone library: the US DST rule (since
 * 2007: second Sunday of March 02:00 to first Sunday of November 02:00 local) is applied to every
 * year, and exchange holidays are ignored (every weekday is a session).
 *
 * Days are "epoch days": whole days since 1970-01-01 on the civil calendar, so day arithmetic is
 * integer arithmetic and never touches a Date's local zone.
 */

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** Minutes in a session day: 04:00 to 20:00 New York time. */
export const SESSION_MINUTES = 960;
/** Minute index (from 04:00) of the regular-session open, 09:30. */
export const RTH_OPEN_MINUTE = 330;
/** Minute index (from 04:00) of the regular-session close, 16:00. */
export const RTH_CLOSE_MINUTE = 720;

const DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** `YYYY-MM-DD` → epoch day, or undefined when it is not a real calendar date. */
export function parseDay(s: string): number | undefined {
  const m = DAY_RE.exec(s);
  if (!m) return undefined;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return undefined;
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  // Date.UTC silently rolls 2024-02-30 over to March; a real date survives the round trip.
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return undefined;
  return ms / DAY_MS;
}

/** Epoch day → `YYYY-MM-DD`. */
export function formatDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** 0 = Sunday … 6 = Saturday. */
export function weekday(day: number): number {
  return (((day + 4) % 7) + 7) % 7;
}

export function isSessionDay(day: number): boolean {
  const w = weekday(day);
  return w >= 1 && w <= 5;
}

function civilYear(day: number): number {
  return new Date(day * DAY_MS).getUTCFullYear();
}

/** Epoch day of the n-th (1-based) Sunday of a month (0-based month). */
function nthSunday(year: number, month: number, n: number): number {
  const first = Date.UTC(year, month, 1) / DAY_MS;
  const offset = (7 - weekday(first)) % 7;
  return first + offset + 7 * (n - 1);
}

const dstCache = new Map<number, readonly [number, number]>();

/** [start, end) epoch days of US daylight time in a year: the two switch Sundays. */
export function dstSwitchDays(year: number): readonly [number, number] {
  let v = dstCache.get(year);
  if (!v) {
    v = [nthSunday(year, 2, 2), nthSunday(year, 10, 1)] as const;
    dstCache.set(year, v);
  }
  return v;
}

/**
 * UTC offset of New York in hours (-4 or -5) at a local wall-clock time on `day`. The switch happens
 * at 02:00 local: the spring-forward day is EST before 02:00, the fall-back day is EDT before 02:00.
 */
export function nyOffsetHours(day: number, localHour: number): number {
  const [start, end] = dstSwitchDays(civilYear(day));
  let dst: boolean;
  if (day === start) dst = localHour >= 2;
  else if (day === end) dst = localHour < 2;
  else dst = day > start && day < end;
  return dst ? -4 : -5;
}

/** UTC ms of a New York wall-clock time (hour may be fractional) on `day`. */
export function nyLocalToUtcMs(day: number, localHour: number): number {
  return day * DAY_MS + localHour * HOUR_MS - nyOffsetHours(day, localHour) * HOUR_MS;
}

/** UTC ms of New York midnight starting `day`. */
export function nyMidnightMs(day: number): number {
  return nyLocalToUtcMs(day, 0);
}

/** The New York calendar day containing the instant `ms`. */
export function nyDayOfMs(ms: number): number {
  let d = Math.floor((ms - 5 * HOUR_MS) / DAY_MS);
  // The EST guess is off by at most one day either way around midnight in summer.
  if (ms >= nyMidnightMs(d + 1)) d += 1;
  else if (ms < nyMidnightMs(d)) d -= 1;
  return d;
}

/** UTC ms of the 04:00 New York session start of `day` (whether or not it is a session day). */
export function sessionStartMs(day: number): number {
  return nyLocalToUtcMs(day, 4);
}

export type SessionName = 'PM' | 'RTH' | 'AH';

/** Session of a minute index counted from 04:00. */
export function sessionOfMinute(minute: number): SessionName {
  return minute < RTH_OPEN_MINUTE ? 'PM' : minute < RTH_CLOSE_MINUTE ? 'RTH' : 'AH';
}

/** The previous and next session days around `day`. */
export function prevSessionDay(day: number): number {
  let d = day - 1;
  while (!isSessionDay(d)) d--;
  return d;
}

export function nextSessionDay(day: number): number {
  let d = day + 1;
  while (!isSessionDay(d)) d++;
  return d;
}
