import { describe, expect, test } from 'vitest';
import { InputError } from '../../src/errors.js';
import { prepareBars, prepareColumns } from '../../src/detect/index.js';
import type { Bar } from '../../src/types.js';

const b = (iso: string, c: number, v = 100, vw = c): Bar => ({ t: Date.parse(iso), o: c, h: c, l: c, c, v, vw, n: 1 });

describe('prepareBars', () => {
  test('NY day, minute, session and day VWAP around the March DST switch; outside 04:00–20:00 dropped', async () => {
    const bars = [
      b('2024-03-08T08:59:00Z', 1), // 03:59 EST: dropped
      b('2024-03-08T09:00:00Z', 10, 100), // 04:00 EST
      b('2024-03-08T14:30:00Z', 20, 300), // 09:30 EST
      b('2024-03-09T00:59:00Z', 30, 100), // 19:59 EST
      b('2024-03-09T01:00:00Z', 1), // 20:00 EST: dropped
      b('2024-03-11T07:59:00Z', 1), // 03:59 EDT: dropped
      b('2024-03-11T08:00:00Z', 5, 100, 6), // 04:00 EDT, vw differs from close
      b('2024-03-11T13:29:00Z', 7, 300, 8), // 09:29 EDT
      b('2024-03-11T13:30:00Z', 9, 0, 100), // 09:30 EDT, no volume
      b('2024-03-11T20:00:00Z', 9), // 16:00 EDT
      b('2024-03-12T00:00:00Z', 1), // 20:00 EDT: dropped
    ];
    const df = await prepareBars(bars, 'TEST').collect();
    expect(df.columns).toEqual(['t', 'o', 'h', 'l', 'c', 'v', 'vw', 'n', 'day', 'minute', 'day_vwap', 'rth_end', 'session']);
    expect(df.getColumn('rth_end').toArray()).toEqual([960, 960, 960, 960, 960, 960, 960]);
    expect(df.getColumn('day').toArray()).toEqual([20240308, 20240308, 20240308, 20240311, 20240311, 20240311, 20240311]);
    expect(df.getColumn('minute').toArray()).toEqual([240, 570, 1199, 240, 569, 570, 960]);
    expect(df.getColumn('session').toArray()).toEqual(['PM', 'RTH', 'AH', 'PM', 'PM', 'RTH', 'AH']);
    // 2024-03-08: (10*100 + 20*300 + 30*100) / 500; 2024-03-11 starts again: 6, (600 + 2400)/400, (600 + 2400 + 0 + 900)/500.
    expect(df.getColumn('day_vwap').toArray()).toEqual([10, 17.5, 20, 6, 7.5, 7.5, 7.8]);
  });

  test('the 2024-11-29 early close ends RTH at 13:00 ET: rth_end 780, 14:14 is AH', async () => {
    const bars = [b('2024-11-29T17:59:00Z', 1), b('2024-11-29T18:00:00Z', 2), b('2024-11-29T19:14:00Z', 3), b('2024-11-22T19:14:00Z', 4)];
    const df = await prepareBars(bars, 'TEST').collect();
    expect(df.getColumn('rth_end').toArray()).toEqual([960, 780, 780, 780]);
    expect(df.getColumn('session').toArray()).toEqual(['RTH', 'RTH', 'AH', 'AH']);
  });

  test('day VWAP is null (not NaN) before the first traded volume', async () => {
    const df = await prepareBars([b('2024-03-11T08:00:00Z', 5, 0), b('2024-03-11T08:01:00Z', 6, 10)], 'TEST').collect();
    expect(df.getColumn('day_vwap').toArray()).toEqual([null, 6]);
  });

  test('unsorted input is sorted; a repeated t keeps the first bar in input order', () => {
    const p = prepareColumns(
      [b('2024-03-11T13:32:00Z', 3), b('2024-03-11T13:30:00Z', 1), b('2024-03-11T13:32:00Z', 99), b('2024-03-11T13:31:00Z', 2)],
      'TEST',
    );
    expect(Array.from(p.c)).toEqual([1, 2, 3]);
  });

  test('missing vw falls back to close, missing n to 0', () => {
    const raw = { t: Date.parse('2024-03-11T13:30:00Z'), o: 1, h: 1, l: 1, c: 4, v: 10 } as unknown as Bar;
    const p = prepareColumns([raw], 'TEST');
    expect(p.vw[0]).toBe(4);
    expect(p.n[0]).toBe(0);
    expect(p.dayVwap[0]).toBe(4);
  });

  test('bad bars are InputErrors naming symbol, bar and value', () => {
    expect(() => prepareColumns([b('2024-03-11T13:30:30Z', 1)], 'ABCD')).toThrow(InputError);
    expect(() => prepareColumns([b('2024-03-11T13:30:30Z', 1)], 'ABCD')).toThrow(/ABCD: bar 0 has t = 1710163830000 \(number\)/);
    expect(() => prepareColumns([{ ...b('2024-03-11T13:30:00Z', 1), c: Number.NaN }], 'ABCD')).toThrow(/bar 0 has c = NaN/);
    expect(() => prepareColumns([b('2024-03-11T13:31:00Z', 1), { ...b('2024-03-11T13:30:00Z', 1), t: '1' as unknown as number }], 'X')).toThrow(
      /bar 1 has t = 1 \(string\)/,
    );
  });

  test('empty input gives an empty frame with the same columns', async () => {
    const df = await prepareBars([], 'TEST').collect();
    expect(df.height).toBe(0);
    expect(df.columns).toContain('day_vwap');
  });
});
