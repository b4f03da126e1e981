/**
 * The detectors' view of the one trading calendar, `src/calendar/nyse.ts` (shared with the
 * simulator): string-day helpers that throw {@link InputError}, and the session of a bar.
 *
 * Sessions (NY local time): PM 04:00–09:30, RTH 09:30–16:00 (13:00 on NYSE early-close days),
 * AH until 20:00. DST and holiday rules: see `src/calendar/nyse.ts`.
 */
import {
  DAY_MS,
  MINUTE_MS,
  epochDayOfIso,
  formatEpochDay,
  isNyseHolidayDay,
  isTradingDay,
  nyOffsetMinutes,
  sessionAt,
  sessionOfMinuteOfDay,
  weekday,
} from '../calendar/nyse.js';
import { InputError } from '../errors.js';
import type { Session } from '../types.js';

export {
  AH_END_MINUTE,
  EARLY_CLOSE_MINUTE,
  PM_START_MINUTE,
  RTH_END_MINUTE,
  RTH_START_MINUTE,
  nyEpochDay,
  nyOffsetMinutes,
  rthEndMinute,
} from '../calendar/nyse.js';

/** `YYYYMMDD` as an integer for a day count since 1970-01-01 (e.g. 20240311). */
export function epochDayToYmd(epochDay: number): number {
  const d = new Date(epochDay * DAY_MS);
  return d.getUTCFullYear() * 10_000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate();
}

/** `YYYY-MM-DD` for a day count since 1970-01-01. */
export const epochDayToIso: (epochDay: number) => string = formatEpochDay;

/** NY local calendar date (`YYYY-MM-DD`) and minute of the day (0–1439) at `utcMs`. */
export function nyLocalParts(utcMs: number): { date: string; minuteOfDay: number } {
  const local = utcMs + nyOffsetMinutes(utcMs) * MINUTE_MS;
  const epochDay = Math.floor(local / DAY_MS);
  return { date: formatEpochDay(epochDay), minuteOfDay: Math.floor((local - epochDay * DAY_MS) / MINUTE_MS) };
}

/**
 * Session of a NY minute-of-day on a regular (16:00 close) day, or undefined outside 04:00–20:00.
 * Use {@link sessionOf} for an instant: it knows the 13:00 early closes.
 */
export function sessionOfMinute(minuteOfDay: number): Session | undefined {
  return sessionOfMinuteOfDay(minuteOfDay);
}

/**
 * Session at `utcMs` by NY clock time, with the 13:00 close of NYSE early-close days (so 14:14 on
 * 2024-11-29 is AH); undefined outside 04:00–20:00. It does not consult weekends or holidays: a bar
 * that exists is assumed to be from a trading day.
 */
export function sessionOf(utcMs: number): Session | undefined {
  return sessionAt(utcMs);
}

/**
 * Validates a calendar day written `YYYY-MM-DD` (a real date: no 2024-02-30) and returns it
 * unchanged. Throws {@link InputError} naming the value otherwise.
 */
export function parseDay(s: unknown): string {
  if (typeof s === 'string' && epochDayOfIso(s) !== undefined) return s;
  const shown = typeof s === 'string' ? JSON.stringify(s) : `${String(s)} (${typeof s})`;
  throw new InputError(`invalid day ${shown}: expected a calendar date written YYYY-MM-DD`);
}

/** Whether a `YYYY-MM-DD` day is an NYSE full-day holiday (see {@link tradingDays}). */
export function isNyseHoliday(day: string): boolean {
  parseDay(day);
  return isNyseHolidayDay(epochDayOfIso(day)!);
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
  parseDay(from);
  parseDay(to);
  const a = epochDayOfIso(from)!;
  const b = epochDayOfIso(to)!;
  if (a > b) throw new InputError(`invalid day range: from ${from} is after to ${to}`);
  const exclude = options.excludeHolidays ?? false;
  if (typeof exclude !== 'boolean') {
    throw new InputError(`tradingDays: excludeHolidays must be a boolean, got ${String(exclude)} (${typeof exclude})`);
  }
  const out: string[] = [];
  for (let e = a; e <= b; e++) {
    const w = weekday(e);
    if (w === 0 || w === 6) continue;
    if (exclude && !isTradingDay(e)) continue;
    out.push(formatEpochDay(e));
  }
  return out;
}
