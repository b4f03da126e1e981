import { describe, expect, it } from 'vitest';
import {
  formatDay,
  isSessionDay,
  nyDayOfMs,
  nyMidnightMs,
  nyOffsetHours,
  parseDay,
  sessionStartMs,
} from '../../src/sim/calendar.js';

// Node's ICU knows the real zone rules: the reference the hand-written DST rule is checked against.
const nyParts = new Intl.DateTimeFormat('en-US', {
  timeZone: 'America/New_York',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
});

function nyWallClock(ms: number): string {
  const p = Object.fromEntries(nyParts.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

describe('sim calendar', () => {
  it('parses only real dates', () => {
    expect(parseDay('2024-02-29')).toBe(Date.UTC(2024, 1, 29) / 86_400_000);
    expect(parseDay('2023-02-29')).toBeUndefined();
    expect(parseDay('2024-13-01')).toBeUndefined();
    expect(parseDay('2024-3-1')).toBeUndefined();
    expect(formatDay(parseDay('2024-11-04')!)).toBe('2024-11-04');
  });

  it('has weekday sessions only', () => {
    expect(isSessionDay(parseDay('2024-03-08')!)).toBe(true); // Friday
    expect(isSessionDay(parseDay('2024-03-09')!)).toBe(false);
    expect(isSessionDay(parseDay('2024-03-10')!)).toBe(false);
    expect(isSessionDay(parseDay('2024-03-11')!)).toBe(true);
  });

  it('puts 04:00 New York at the right UTC instant across the 2024 DST changes', () => {
    expect(new Date(sessionStartMs(parseDay('2024-03-08')!)).toISOString()).toBe('2024-03-08T09:00:00.000Z');
    expect(new Date(sessionStartMs(parseDay('2024-03-11')!)).toISOString()).toBe('2024-03-11T08:00:00.000Z');
    expect(new Date(sessionStartMs(parseDay('2024-11-01')!)).toISOString()).toBe('2024-11-01T08:00:00.000Z');
    expect(new Date(sessionStartMs(parseDay('2024-11-04')!)).toISOString()).toBe('2024-11-04T09:00:00.000Z');
  });

  it('agrees with the IANA zone on every day 2007-2035 at 00:00, 04:00, 09:30, 16:00 and 20:00', () => {
    const first = parseDay('2007-01-01')!;
    const last = parseDay('2035-12-31')!;
    for (let d = first; d <= last; d++) {
      const date = formatDay(d);
      for (const [h, label] of [
        [0, '00:00'],
        [4, '04:00'],
        [9.5, '09:30'],
        [16, '16:00'],
        [20, '20:00'],
      ] as const) {
        const ms = d * 86_400_000 + h * 3_600_000 - nyOffsetHours(d, h) * 3_600_000;
        expect(nyWallClock(ms)).toBe(`${date} ${label}`);
      }
      expect(nyDayOfMs(nyMidnightMs(d))).toBe(d);
      expect(nyDayOfMs(nyMidnightMs(d) - 1)).toBe(d - 1);
    }
  });
});
