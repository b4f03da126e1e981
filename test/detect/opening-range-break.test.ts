import { describe, expect, test } from 'vitest';
import { InputError } from '../../src/errors.js';
import { detectEvents, openingRangeBreak } from '../../src/detect/index.js';
import type { Bar } from '../../src/types.js';
import { bar, run } from './helpers.js';

const orb = openingRangeBreak();
const detect = (bars: Bar[]) => detectEvents(bars, 'TEST', [orb]);

/** Opening range of `day` with highs 10.0, 10.2, 10.1, 10.3, 10.25 (range high 10.3), closes 10. */
const range = (day: string): Bar[] =>
  [10.0, 10.2, 10.1, 10.3, 10.25].map((h, i) => bar(day, `09:3${i}`, { c: 10, h }));

describe('opening_range_break', () => {
  test('first close above the 09:30–09:34 high, after DST (09:30 NY = 13:30 UTC)', async () => {
    const rows = await detect([
      ...range('2024-03-11'),
      bar('2024-03-11', '09:35', { c: 10.3 }), // equal to the range high: not a break
      bar('2024-03-11', '09:36', { c: 10.31 }),
      bar('2024-03-11', '09:37', { c: 10.5 }), // second break of the day: ignored
    ]);
    expect(rows).toEqual([
      {
        symbol: 'TEST',
        event_type: 'opening_range_break',
        timestamp: Date.UTC(2024, 2, 11, 13, 36),
        session: 'RTH',
        price: 10.31,
        volume: 1000,
        // vw = close, v = 1000 on every bar: (5 * 10 + 10.3 + 10.31) / 7
        vwap: expect.closeTo(70.61 / 7, 12),
        measure: expect.closeTo((10.31 / 10.3 - 1) * 100, 12),
      },
    ]);
  });

  test('on the 2024-11-29 early close (13:00 ET) a 14:14 close above the range is after-hours: no break', async () => {
    const rows = await detect([...range('2024-11-29'), bar('2024-11-29', '14:14', { c: 10.5 })]);
    expect(rows).toEqual([]);
    const rth = await detect([...range('2024-11-29'), bar('2024-11-29', '12:59', { c: 10.5 })]);
    expect(rth.map((r) => [r.timestamp, r.session])).toEqual([[Date.UTC(2024, 10, 29, 17, 59), 'RTH']]);
  });

  test('before DST (09:30 NY = 14:30 UTC): 08:30 NY bars at 13:30 UTC are pre-market, not the range', async () => {
    const rows = await detect([
      ...run('2024-03-08', '08:30', 5, () => ({ c: 20, h: 20 })),
      ...range('2024-03-08'),
      bar('2024-03-08', '09:40', { c: 10.5 }),
    ]);
    expect(rows.map((r) => [r.timestamp, r.session, r.price])).toEqual([[Date.UTC(2024, 2, 8, 14, 40), 'RTH', 10.5]]);
  });

  test('a range with missing minutes uses the bars it has', async () => {
    const rows = await detect([bar('2024-03-11', '09:32', { c: 10, h: 10.2 }), bar('2024-03-11', '09:50', { c: 10.21 })]);
    expect(rows.map((r) => r.timestamp)).toEqual([Date.UTC(2024, 2, 11, 13, 50)]);
    expect(rows[0]!.measure).toBeCloseTo((10.21 / 10.2 - 1) * 100, 12);
  });

  test('no bar in 09:30–09:34: no event that day', async () => {
    const rows = await detect([bar('2024-03-11', '09:29', { c: 5, h: 5 }), ...run('2024-03-11', '09:35', 10, (i) => ({ c: 10 + i }))]);
    expect(rows).toEqual([]);
  });

  test('a close above the range inside the range itself does not count, and raises the range high', async () => {
    const rows = await detect([
      ...range('2024-03-11').slice(0, 4),
      bar('2024-03-11', '09:34', { c: 11, h: 11 }),
      bar('2024-03-11', '09:35', { c: 10.9 }), // above 10.3 but below the 09:34 high
      bar('2024-03-11', '09:36', { c: 11.01 }),
    ]);
    expect(rows.map((r) => r.timestamp)).toEqual([Date.UTC(2024, 2, 11, 13, 36)]);
  });

  test('the break bar may be 09:35 exactly; an after-hours close does not count', async () => {
    const at935 = await detect([...range('2024-03-11'), bar('2024-03-11', '09:35', { c: 10.4 })]);
    expect(at935.map((r) => r.timestamp)).toEqual([Date.UTC(2024, 2, 11, 13, 35)]);
    const ah = await detect([...range('2024-03-11'), bar('2024-03-11', '15:59', { c: 10.3 }), bar('2024-03-11', '16:00', { c: 12 })]);
    expect(ah).toEqual([]);
  });

  test('once per day, on each day, in UTC across the fall-back weekend', async () => {
    const rows = await detect([
      ...range('2024-11-01'),
      bar('2024-11-01', '10:00', { c: 10.4 }),
      bar('2024-11-01', '10:01', { c: 10.5 }),
      ...range('2024-11-04'),
      bar('2024-11-04', '09:45', { c: 10.35 }),
    ]);
    expect(rows.map((r) => r.timestamp)).toEqual([Date.UTC(2024, 10, 1, 14, 0), Date.UTC(2024, 10, 4, 14, 45)]);
  });

  test('options are validated', () => {
    expect(() => openingRangeBreak({ rangeMinutes: 0 })).toThrow(InputError);
    expect(() => openingRangeBreak({ rangeMinutes: 2.5 })).toThrow('2.5 (number)');
    expect(() => openingRangeBreak({ rangeMinute: 5 } as never)).toThrow(/unknown option "rangeMinute"/);
    expect(openingRangeBreak({ rangeMinutes: 15 }).description).toContain('15');
  });

  test('rangeMinutes: 1 makes 09:31 the first possible break', async () => {
    const rows = await detectEvents([bar('2024-03-11', '09:30', { c: 10, h: 10 }), bar('2024-03-11', '09:31', { c: 10.1 })], 'TEST', [
      openingRangeBreak({ rangeMinutes: 1 }),
    ]);
    expect(rows.map((r) => r.timestamp)).toEqual([Date.UTC(2024, 2, 11, 13, 31)]);
  });
});
