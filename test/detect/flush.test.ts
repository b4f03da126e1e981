import { describe, expect, test } from 'vitest';
import { InputError } from '../../src/errors.js';
import { detectEvents, flush } from '../../src/detect/index.js';
import type { Bar } from '../../src/types.js';
import { bar, run } from './helpers.js';

const detect = (bars: Bar[], d = flush()) => detectEvents(bars, 'TEST', [d]);
const iso = (rows: { timestamp: number }[]) => rows.map((r) => new Date(r.timestamp).toISOString());

describe('flush', () => {
  test('close exactly 10% below the 15-minute high (after DST: 09:45 NY = 13:45 UTC)', async () => {
    const rows = await detect([
      bar('2024-03-11', '09:30', { c: 10, h: 10 }),
      ...run('2024-03-11', '09:31', 14, () => ({ c: 9.8, h: 9.8 })),
      bar('2024-03-11', '09:45', { c: 9, h: 9.8, v: 2000 }),
    ]);
    expect(rows).toEqual([
      {
        symbol: 'TEST',
        event_type: 'flush',
        timestamp: Date.UTC(2024, 2, 11, 13, 45),
        session: 'RTH',
        price: 9,
        volume: 2000,
        // vw = close: (10*1000 + 14*9.8*1000 + 9*2000) / 17000
        vwap: expect.closeTo((10_000 + 137_200 + 18_000) / 17_000, 12),
        measure: expect.closeTo(10, 12),
      },
    ]);
  });

  test('before DST the same bars flush at 14:45 UTC', async () => {
    const rows = await detect([bar('2024-03-08', '09:30', { c: 10, h: 10 }), bar('2024-03-08', '09:45', { c: 9 })]);
    expect(iso(rows)).toEqual(['2024-03-08T14:45:00.000Z']);
  });

  test('just below the threshold: no event', async () => {
    const rows = await detect([bar('2024-03-11', '09:30', { c: 10, h: 10 }), bar('2024-03-11', '09:45', { c: 9.01 })]);
    expect(rows).toEqual([]);
  });

  test('the window is time-based: a bar 16 minutes back is out even when minutes are missing', async () => {
    // Bar-count windows would see 09:29 as one of the previous 15 bars and fire at 10%.
    const rows = await detect([
      bar('2024-03-11', '09:29', { c: 10, h: 10 }),
      bar('2024-03-11', '09:31', { c: 9.5, h: 9.5 }), // 09:30 missing
      bar('2024-03-11', '09:40', { c: 9.5, h: 9.5 }),
      bar('2024-03-11', '09:45', { c: 9 }),
    ]);
    expect(rows).toEqual([]);
  });

  test('a bar exactly 15 minutes back is in the window', async () => {
    const rows = await detect([bar('2024-03-11', '09:30', { c: 10, h: 10 }), bar('2024-03-11', '09:44', { c: 9.5, h: 9.5 }), bar('2024-03-11', '09:45', { c: 8.9 })]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.measure).toBeCloseTo(11, 12);
  });

  test("the bar's own high is not part of the window", async () => {
    const rows = await detect([bar('2024-03-11', '09:44', { c: 9.5, h: 9.5 }), bar('2024-03-11', '09:45', { c: 9, h: 20 })]);
    expect(rows).toEqual([]);
  });

  test('the window does not reach into the previous day', async () => {
    const rows = await detect([bar('2024-03-11', '19:59', { c: 10, h: 10 }), bar('2024-03-12', '04:00', { c: 8 }), bar('2024-03-12', '04:01', { c: 8 })]);
    expect(rows).toEqual([]);
  });

  test('cooldown 30 min: a flush 29 min later is dropped, one 30 min later kept', async () => {
    const d = '2024-03-11';
    const rows = await detect([
      bar(d, '09:30', { c: 10, h: 10 }),
      bar(d, '09:45', { c: 9, h: 9 }), // event
      bar(d, '10:00', { c: 10, h: 10 }),
      bar(d, '10:14', { c: 8.9, h: 8.9 }), // 11% below 10:00's high, 29 min after: dropped
      bar(d, '10:15', { c: 8.9, h: 8.9 }), // 10:00 is exactly 15 min back, 30 min after: event
    ]);
    expect(iso(rows)).toEqual(['2024-03-11T13:45:00.000Z', '2024-03-11T14:15:00.000Z']);
  });

  test('pre-market and after-hours bars are watched too', async () => {
    const rows = await detect([bar('2024-03-11', '04:00', { c: 2, h: 2 }), bar('2024-03-11', '04:01', { c: 1.5 }), bar('2024-03-11', '19:00', { c: 3, h: 3 }), bar('2024-03-11', '19:10', { c: 2 })]);
    expect(rows.map((r) => r.session)).toEqual(['PM', 'AH']);
    expect(rows.map((r) => r.measure)).toEqual([25, expect.closeTo(100 / 3, 12)]);
  });

  test('custom thresholds', async () => {
    const bars = [bar('2024-03-11', '09:30', { c: 10, h: 10 }), bar('2024-03-11', '09:35', { c: 9.5 })];
    expect(await detect(bars, flush({ dropPct: 5 }))).toHaveLength(1);
    expect(await detect(bars, flush({ dropPct: 5, lookbackMinutes: 4 }))).toHaveLength(0);
  });

  test('options are validated', () => {
    expect(() => flush({ dropPct: 0 })).toThrow(InputError);
    expect(() => flush({ dropPct: '10' as unknown as number })).toThrow('dropPct must be a finite number, got "10" (string)');
    expect(() => flush({ lookbackMinutes: 1.5 })).toThrow('1.5 (number)');
    expect(() => flush({ lookbackMinutes: 10_000 })).toThrow(InputError);
    expect(() => flush({ cooldownMinutes: Number.NaN })).toThrow('NaN (number)');
  });
});
