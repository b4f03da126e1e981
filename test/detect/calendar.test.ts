import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { InputError } from '../../src/errors.js';
import {
  isNyseHoliday,
  nyLocalParts,
  nyOffsetMinutes,
  parseDay,
  sessionOf,
  tradingDays,
} from '../../src/detect/index.js';
import { intlNyLocal } from './helpers.js';

const utc = (iso: string): number => Date.parse(iso);

describe('nyOffsetMinutes', () => {
  test('spring forward 2024-03-10 at 02:00 EST = 07:00 UTC', () => {
    expect(nyOffsetMinutes(utc('2024-03-10T06:59:59.999Z'))).toBe(-300);
    expect(nyOffsetMinutes(utc('2024-03-10T07:00:00Z'))).toBe(-240);
  });
  test('fall back 2024-11-03 at 02:00 EDT = 06:00 UTC', () => {
    expect(nyOffsetMinutes(utc('2024-11-03T05:59:59.999Z'))).toBe(-240);
    expect(nyOffsetMinutes(utc('2024-11-03T06:00:00Z'))).toBe(-300);
  });
  test('the trading days around both switches', () => {
    expect(nyOffsetMinutes(utc('2024-03-08T14:30:00Z'))).toBe(-300);
    expect(nyOffsetMinutes(utc('2024-03-11T13:30:00Z'))).toBe(-240);
    expect(nyOffsetMinutes(utc('2024-11-01T13:30:00Z'))).toBe(-240);
    expect(nyOffsetMinutes(utc('2024-11-04T14:30:00Z'))).toBe(-300);
  });
  test('pre-2007 rule (first Sunday of April to last Sunday of October)', () => {
    expect(nyOffsetMinutes(utc('2006-04-02T06:59:00Z'))).toBe(-300);
    expect(nyOffsetMinutes(utc('2006-04-02T07:00:00Z'))).toBe(-240);
    expect(nyOffsetMinutes(utc('2006-10-29T05:59:00Z'))).toBe(-240);
    expect(nyOffsetMinutes(utc('2006-10-29T06:00:00Z'))).toBe(-300);
  });
  test('agrees with ICU (Intl) on arbitrary instants 1990–2040, in any order', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1990, 0, 1) / 60_000, max: Date.UTC(2040, 0, 1) / 60_000 }), (m) => {
        const t = m * 60_000;
        const local = intlNyLocal(t);
        const naive = Date.parse(`${local.replace(' ', 'T')}:00Z`);
        expect(nyOffsetMinutes(t)).toBe((naive - t) / 60_000);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('nyLocalParts / sessionOf', () => {
  test('09:30 NY is 14:30 UTC on Friday 2024-03-08 and 13:30 UTC on Monday 2024-03-11', () => {
    expect(nyLocalParts(utc('2024-03-08T14:30:00Z'))).toEqual({ date: '2024-03-08', minuteOfDay: 570 });
    expect(nyLocalParts(utc('2024-03-11T13:30:00Z'))).toEqual({ date: '2024-03-11', minuteOfDay: 570 });
    expect(sessionOf(utc('2024-03-08T14:30:00Z'))).toBe('RTH');
    expect(sessionOf(utc('2024-03-08T13:30:00Z'))).toBe('PM');
    expect(sessionOf(utc('2024-03-11T13:30:00Z'))).toBe('RTH');
    expect(sessionOf(utc('2024-03-11T13:29:00Z'))).toBe('PM');
  });
  test('fall-back weekend 2024-11-01 (EDT) / 2024-11-04 (EST)', () => {
    expect(nyLocalParts(utc('2024-11-01T20:00:00Z'))).toEqual({ date: '2024-11-01', minuteOfDay: 960 });
    expect(sessionOf(utc('2024-11-01T19:59:00Z'))).toBe('RTH');
    expect(sessionOf(utc('2024-11-01T20:00:00Z'))).toBe('AH');
    expect(sessionOf(utc('2024-11-04T20:59:00Z'))).toBe('RTH');
    expect(sessionOf(utc('2024-11-04T21:00:00Z'))).toBe('AH');
  });
  test('session bounds 04:00, 09:30, 16:00, 20:00 (end exclusive)', () => {
    expect(sessionOf(utc('2024-03-11T07:59:00Z'))).toBeUndefined();
    expect(sessionOf(utc('2024-03-11T08:00:00Z'))).toBe('PM');
    expect(sessionOf(utc('2024-03-11T19:59:00Z'))).toBe('RTH');
    expect(sessionOf(utc('2024-03-11T20:00:00Z'))).toBe('AH');
    expect(sessionOf(utc('2024-03-11T23:59:00Z'))).toBe('AH');
    expect(sessionOf(utc('2024-03-12T00:00:00Z'))).toBeUndefined();
  });
  test('the NY date differs from the UTC date in the evening', () => {
    expect(nyLocalParts(utc('2024-03-12T01:30:00Z'))).toEqual({ date: '2024-03-11', minuteOfDay: 21 * 60 + 30 });
  });
});

describe('tradingDays', () => {
  test('weekdays only, both ends inclusive, across the DST weekends', () => {
    expect(tradingDays('2024-03-08', '2024-03-11')).toEqual(['2024-03-08', '2024-03-11']);
    expect(tradingDays('2024-11-01', '2024-11-04')).toEqual(['2024-11-01', '2024-11-04']);
    expect(tradingDays('2024-03-09', '2024-03-10')).toEqual([]);
    expect(tradingDays('2024-03-11', '2024-03-11')).toEqual(['2024-03-11']);
    expect(tradingDays('2023-12-29', '2024-01-02')).toEqual(['2023-12-29', '2024-01-01', '2024-01-02']);
  });
  test('excludeHolidays drops NYSE full-day holidays', () => {
    expect(tradingDays('2023-12-29', '2024-01-02', { excludeHolidays: true })).toEqual(['2023-12-29', '2024-01-02']);
    expect(tradingDays('2024-03-25', '2024-04-01', { excludeHolidays: true })).toEqual([
      '2024-03-25', '2024-03-26', '2024-03-27', '2024-03-28', '2024-04-01',
    ]);
  });
  test('holiday rules reproduce the published NYSE calendars 2015–2026', () => {
    const published: Record<number, string[]> = {
      2015: ['01-01', '01-19', '02-16', '04-03', '05-25', '07-03', '09-07', '11-26', '12-25'],
      2016: ['01-01', '01-18', '02-15', '03-25', '05-30', '07-04', '09-05', '11-24', '12-26'],
      2017: ['01-02', '01-16', '02-20', '04-14', '05-29', '07-04', '09-04', '11-23', '12-25'],
      2018: ['01-01', '01-15', '02-19', '03-30', '05-28', '07-04', '09-03', '11-22', '12-05', '12-25'],
      2019: ['01-01', '01-21', '02-18', '04-19', '05-27', '07-04', '09-02', '11-28', '12-25'],
      2020: ['01-01', '01-20', '02-17', '04-10', '05-25', '07-03', '09-07', '11-26', '12-25'],
      2021: ['01-01', '01-18', '02-15', '04-02', '05-31', '07-05', '09-06', '11-25', '12-24'],
      2022: ['01-17', '02-21', '04-15', '05-30', '06-20', '07-04', '09-05', '11-24', '12-26'],
      2023: ['01-02', '01-16', '02-20', '04-07', '05-29', '06-19', '07-04', '09-04', '11-23', '12-25'],
      2024: ['01-01', '01-15', '02-19', '03-29', '05-27', '06-19', '07-04', '09-02', '11-28', '12-25'],
      2025: ['01-01', '01-09', '01-20', '02-17', '04-18', '05-26', '06-19', '07-04', '09-01', '11-27', '12-25'],
      2026: ['01-01', '01-19', '02-16', '04-03', '05-25', '06-19', '07-03', '09-07', '11-26', '12-25'],
    };
    for (const [year, days] of Object.entries(published)) {
      const all = tradingDays(`${year}-01-01`, `${year}-12-31`);
      const open = new Set(tradingDays(`${year}-01-01`, `${year}-12-31`, { excludeHolidays: true }));
      const closed = all.filter((d) => !open.has(d));
      expect(closed, year).toEqual(days.map((d) => `${year}-${d}`));
      for (const d of closed) expect(isNyseHoliday(d)).toBe(true);
    }
    // 2022-01-01 was a Saturday: NYSE stayed open on Friday 2021-12-31.
    expect(isNyseHoliday('2021-12-31')).toBe(false);
  });
  test('bad ranges and days are InputErrors naming the value', () => {
    expect(() => tradingDays('2024-03-11', '2024-03-08')).toThrow(InputError);
    expect(() => tradingDays('2024-3-8', '2024-03-11')).toThrow(/"2024-3-8"/);
  });
});

describe('parseDay', () => {
  test('accepts real calendar days', () => {
    expect(parseDay('2024-02-29')).toBe('2024-02-29');
    expect(parseDay('2024-03-11')).toBe('2024-03-11');
  });
  test.each([['2023-02-29'], ['2024-13-01'], ['2024-00-10'], ['2024-03-11T00:00'], ['20240311'], [''], [' 2024-03-11']])(
    'rejects %j with an InputError naming it',
    (s) => {
      expect(() => parseDay(s)).toThrow(InputError);
      expect(() => parseDay(s)).toThrow(JSON.stringify(s));
    },
  );
  test('rejects non-strings, naming value and type', () => {
    expect(() => parseDay(20240311)).toThrow('20240311 (number)');
    expect(() => parseDay(undefined)).toThrow('undefined (undefined)');
  });
});
