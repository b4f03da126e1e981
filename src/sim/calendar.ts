/**
 * The simulator's view of the one trading calendar, `src/calendar/nyse.ts` (shared with the
 * detectors): epoch days, hours and minute indexes counted from the 04:00 session start. No rule
 * lives here; a session day is an NYSE trading day (weekday, not a full holiday), and the regular
 * session ends at 13:00 on early-close days.
 */
import {
  PM_START_MINUTE,
  RTH_END_MINUTE,
  RTH_START_MINUTE,
  AH_END_MINUTE,
  epochDayOfIso,
  isTradingDay,
  nyLocalToUtcMs as nyLocalMinuteToUtcMs,
  nyOffsetMinutesAtLocal,
  rthEndMinute,
} from '../calendar/nyse.js';

export { dstSwitchDays, nyMidnightMs, weekday } from '../calendar/nyse.js';
export { formatEpochDay as formatDay, isTradingDay as isSessionDay, nyEpochDay as nyDayOfMs } from '../calendar/nyse.js';

/** Minutes in a session day: 04:00 to 20:00 New York time. */
export const SESSION_MINUTES = AH_END_MINUTE - PM_START_MINUTE;
/** Minute index (from 04:00) of the regular-session open, 09:30. */
export const RTH_OPEN_MINUTE = RTH_START_MINUTE - PM_START_MINUTE;
/** Minute index (from 04:00) of the regular-session close on a full day, 16:00. */
export const RTH_CLOSE_MINUTE = RTH_END_MINUTE - PM_START_MINUTE;

/** Minute index (from 04:00) of the regular-session close of `day`: 16:00, or 13:00 on early closes. */
export function rthCloseMinute(day: number): number {
  return rthEndMinute(day) - PM_START_MINUTE;
}

/** `YYYY-MM-DD` → epoch day, or undefined when it is not a real calendar date. */
export function parseDay(s: string): number | undefined {
  return epochDayOfIso(s);
}

/** UTC offset of New York in hours (-4 or -5) at a local wall-clock hour on `day`. */
export function nyOffsetHours(day: number, localHour: number): number {
  return nyOffsetMinutesAtLocal(day, localHour * 60) / 60;
}

/** UTC ms of a New York wall-clock time (hour may be fractional) on `day`. */
export function nyLocalToUtcMs(day: number, localHour: number): number {
  return nyLocalMinuteToUtcMs(day, localHour * 60);
}

/** UTC ms of the 04:00 New York session start of `day` (whether or not it is a session day). */
export function sessionStartMs(day: number): number {
  return nyLocalMinuteToUtcMs(day, PM_START_MINUTE);
}

export type SessionName = 'PM' | 'RTH' | 'AH';

/** Session of a minute index counted from 04:00, for a day whose regular session closes at `closeMinute`. */
export function sessionOfMinute(minute: number, closeMinute: number = RTH_CLOSE_MINUTE): SessionName {
  return minute < RTH_OPEN_MINUTE ? 'PM' : minute < closeMinute ? 'RTH' : 'AH';
}

/** The previous and next session days around `day`. */
export function prevSessionDay(day: number): number {
  let d = day - 1;
  while (!isTradingDay(d)) d--;
  return d;
}

export function nextSessionDay(day: number): number {
  let d = day + 1;
  while (!isTradingDay(d)) d++;
  return d;
}

