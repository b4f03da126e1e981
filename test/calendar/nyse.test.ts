import { describe, expect, it } from 'vitest';
import * as core from '../../src/calendar/nyse.js';
import * as detectCal from '../../src/detect/calendar.js';
import { sessionOf, tradingDays } from '../../src/detect/index.js';
import * as simCal from '../../src/sim/calendar.js';
import { aggPage } from '../../src/sim/aggs.js';
import { getDayBars } from '../../src/sim/market.js';

const utc = (iso: string): number => Date.parse(iso);
const day = (iso: string): number => simCal.parseDay(iso)!;

/** Minute bars the simulator serves for one New York day, through the aggregates route's paging. */
function minuteBarsOn(iso: string): { t: number }[] {
  const d = day(iso);
  const out: { t: number }[] = [];
  let fromMs = simCal.nyMidnightMs(d);
  const toMs = simCal.nyMidnightMs(d + 1) - 1;
  for (;;) {
    const page = aggPage({ seed: 7, eventiness: 0.5, ticker: 'ABCD', multiplier: 1, timespan: 'minute', fromMs, toMs, sort: 'asc', limit: 50_000 });
    out.push(...page.results);
    if (page.nextBoundMs === undefined) return out;
    fromMs = page.nextBoundMs;
  }
}

describe('one trading calendar for the simulator and the detectors', () => {
  it('both sides use the same module (no second rule set)', () => {
    expect(simCal.nyDayOfMs).toBe(core.nyEpochDay);
    expect(detectCal.nyEpochDay).toBe(core.nyEpochDay);
    expect(simCal.isSessionDay).toBe(core.isTradingDay);
    expect(detectCal.nyOffsetMinutes).toBe(core.nyOffsetMinutes);
    expect(simCal.nyMidnightMs).toBe(core.nyMidnightMs);
  });

  it('labels the 09:30 open of 2005-03-21 (EST under the pre-2007 rule) RTH, and the simulator opens there', () => {
    // DST 2005: 2005-04-03 → 2005-10-30, so 09:30 New York on 2005-03-21 is 14:30 UTC.
    expect(sessionOf(utc('2005-03-21T14:30:00Z'))).toBe('RTH');
    expect(sessionOf(utc('2005-03-21T14:29:00Z'))).toBe('PM');
    expect(simCal.sessionStartMs(day('2005-03-21'))).toBe(utc('2005-03-21T09:00:00Z'));
    expect(simCal.sessionStartMs(day('2005-04-04'))).toBe(utc('2005-04-04T08:00:00Z'));
    expect(simCal.sessionStartMs(day('2005-10-28'))).toBe(utc('2005-10-28T08:00:00Z'));
    expect(simCal.sessionStartMs(day('2005-10-31'))).toBe(utc('2005-10-31T09:00:00Z'));
    // Every bar the simulator serves that day is labelled by the detectors' calendar as the simulator placed it.
    const bars = minuteBarsOn('2005-03-21');
    expect(bars.length).toBeGreaterThan(0);
    const start = simCal.sessionStartMs(day('2005-03-21'));
    for (const b of bars) {
      const idx = (b.t - start) / 60_000;
      expect(sessionOf(b.t)).toBe(simCal.sessionOfMinute(idx));
    }
  });

  it('matches the real America/New_York offset every day 1990-2030', () => {
    const fmt = new Intl.DateTimeFormat('en-US', { timeZone: 'America/New_York', hourCycle: 'h23', hour: '2-digit' });
    for (let d = day('1990-01-01'); d <= day('2030-12-31'); d++) {
      const noonUtc = d * 86_400_000 + 17 * 3_600_000; // 12:00 or 13:00 New York
      const nyHour = Number(fmt.format(new Date(noonUtc)));
      expect({ d: core.formatEpochDay(d), off: core.nyOffsetMinutes(noonUtc) }).toEqual({ d: core.formatEpochDay(d), off: (nyHour - 17) * 60 });
    }
  });

  it('labels 14:14 ET on the 2024-11-29 early close AH; a normal Friday stays RTH', () => {
    expect(sessionOf(utc('2024-11-29T19:14:00Z'))).toBe('AH');
    expect(sessionOf(utc('2024-11-29T17:59:00Z'))).toBe('RTH');
    expect(sessionOf(utc('2024-11-29T18:00:00Z'))).toBe('AH');
    expect(sessionOf(utc('2024-11-22T19:14:00Z'))).toBe('RTH');
    expect(['2024-07-03', '2024-11-29', '2024-12-24', '2023-07-03', '2019-12-24'].every((s) => core.isEarlyCloseDay(day(s)))).toBe(true);
    // Dec 24 2021 was the observed Christmas (closed), Jul 3 2020 the observed Independence Day.
    expect(['2021-12-24', '2020-07-03', '2024-07-05', '2023-12-22'].some((s) => core.isEarlyCloseDay(day(s)))).toBe(false);
  });

  it('the simulator ends regular trading at 13:00 on 2024-11-29', () => {
    const d = day('2024-11-29');
    expect(simCal.rthCloseMinute(d)).toBe(540);
    const start = simCal.sessionStartMs(d);
    const bars = getDayBars(7, 'ABCD', d, 0.5);
    expect(bars.count).toBeGreaterThan(0);
    // The afternoon after 13:00 trades like after-hours: far fewer trades than the same minutes a week earlier.
    const tradesBetween = (b: ReturnType<typeof getDayBars>, s: number, fromMin: number, toMin: number): number => {
      let n = 0;
      for (let i = 0; i < b.count; i++) {
        const m = (b.t[i]! - s) / 60_000;
        if (m >= fromMin && m < toMin) n += b.n[i]!;
      }
      return n;
    };
    const normal = getDayBars(7, 'ABCD', day('2024-11-22'), 0.5);
    const normalStart = simCal.sessionStartMs(day('2024-11-22'));
    expect(tradesBetween(bars, start, 600, 720)).toBeLessThan(tradesBetween(normal, normalStart, 600, 720) / 3);
  });

  it('serves zero minute bars on NYSE holidays (2024-07-04, 2024-11-28) and bars the day after', () => {
    expect(minuteBarsOn('2024-07-04')).toHaveLength(0);
    expect(minuteBarsOn('2024-11-28')).toHaveLength(0);
    expect(minuteBarsOn('2024-03-29')).toHaveLength(0); // Good Friday
    expect(minuteBarsOn('2024-07-05').length).toBeGreaterThan(0);
  });

  it('knows the full holidays with weekend observance', () => {
    const holidays2024 = ['2024-01-01', '2024-01-15', '2024-02-19', '2024-03-29', '2024-05-27', '2024-06-19', '2024-07-04', '2024-09-02', '2024-11-28', '2024-12-25'];
    expect(holidays2024.every((s) => core.isNyseHolidayDay(day(s)))).toBe(true);
    expect(tradingDays('2024-01-01', '2024-12-31', { excludeHolidays: true })).toHaveLength(252);
    // 2021-12-25 Sat → Fri 12-24; 2022-01-01 Sat → not observed; 2021-06-19 before Juneteenth was a holiday; 2022-06-19 Sun → Mon 06-20.
    expect(core.isNyseHolidayDay(day('2021-12-24'))).toBe(true);
    expect(core.isNyseHolidayDay(day('2021-12-31'))).toBe(false);
    expect(core.isNyseHolidayDay(day('2021-06-18'))).toBe(false);
    expect(core.isNyseHolidayDay(day('2022-06-20'))).toBe(true);
    expect(core.isNyseHolidayDay(day('2005-03-25'))).toBe(true); // Good Friday 2005
  });
});
