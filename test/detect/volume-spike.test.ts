import { describe, expect, test } from 'vitest';
import { InputError } from '../../src/errors.js';
import { detectEvents, volumeSpike } from '../../src/detect/index.js';
import type { Bar } from '../../src/types.js';
import { bar, plus, run } from './helpers.js';

const detect = (bars: Bar[], d = volumeSpike()) => detectEvents(bars, 'TEST', [d]);
const D = '2024-03-11';
/** `n` bars of volume 1000 at close 10 from `start`. */
const quiet = (n: number, start = '09:30', day = D) => run(day, start, n, () => ({ c: 10, v: 1000 }));

describe('volume_spike', () => {
  test('exactly 5x the median of 10 previous bars and exactly $50,000', async () => {
    const rows = await detect([...quiet(10), bar(D, '09:40', { c: 10, v: 5000 })]);
    expect(rows).toEqual([
      {
        symbol: 'TEST',
        event_type: 'volume_spike',
        timestamp: Date.UTC(2024, 2, 11, 13, 40),
        session: 'RTH',
        price: 10,
        volume: 5000,
        vwap: 10,
        measure: 5,
      },
    ]);
  });

  test('just below the ratio, just below the dollar volume, or only 9 previous bars: no event', async () => {
    expect(await detect([...quiet(10), bar(D, '09:40', { c: 10, v: 4999 })])).toEqual([]);
    expect(await detect([...quiet(10), bar(D, '09:40', { c: 9.998, v: 5000 })])).toEqual([]);
    expect(await detect([...quiet(9), bar(D, '09:39', { c: 10, v: 5000 })])).toEqual([]);
  });

  test('median, not mean: one huge bar in the window does not hide the spike', async () => {
    // Previous 10 volumes: nine 1000s and one 100000 → median 1000 (the mean would be 10900).
    const rows = await detect([...quiet(9), bar(D, '09:39', { c: 10, v: 100_000 }), bar(D, '09:40', { c: 10, v: 5000 })]);
    expect(rows.map((r) => r.timestamp)).toEqual([Date.UTC(2024, 2, 11, 13, 40)]);
  });

  test('the window counts bars, not minutes, and has windowBars of them', async () => {
    // Volumes 100,100,100,1000,1000,1000 then 5000, with gaps between bars.
    const vols = [100, 100, 100, 1000, 1000, 1000, 5000];
    const bars = vols.map((v, i) => bar(D, plus('09:30', i * 7), { c: 100, v }));
    const three = await detect(bars, volumeSpike({ windowBars: 3, minBars: 3 }));
    // The first 1000 is 10x median(100,100,100); the 5000 is 5x median(1000,1000,1000).
    expect(three.map((r) => r.measure)).toEqual([10, 5]);
    const six = await detect(bars, volumeSpike({ windowBars: 6, minBars: 3 }));
    // median(100,100,100,1000,1000,1000) = 550; the 1000s at index 3 are 10x the median of 100s.
    expect(six.map((r) => [new Date(r.timestamp).toISOString(), r.measure])).toEqual([
      ['2024-03-11T13:51:00.000Z', 10],
      ['2024-03-11T14:12:00.000Z', expect.closeTo(5000 / 550, 12)],
    ]);
  });

  test('the window crosses days by default (pre-market spike vs yesterday evening), not with acrossDays: false', async () => {
    const bars = [...quiet(10, '19:50', '2024-03-08'), bar('2024-03-11', '04:00', { c: 10, v: 5000 })];
    const rows = await detect(bars);
    expect(rows.map((r) => [r.timestamp, r.session])).toEqual([[Date.UTC(2024, 2, 11, 8, 0), 'PM']]);
    expect(await detect(bars, volumeSpike({ acrossDays: false }))).toEqual([]);
  });

  test('bars outside 04:00–20:00 are not history', async () => {
    const early = run(D, '03:50', 10, () => ({ c: 10, v: 1000 }));
    expect(await detect([...early, bar(D, '04:00', { c: 10, v: 5000 })])).toEqual([]);
  });

  test('cooldown 15 min: a spike 14 min later is dropped, one 15 min later kept', async () => {
    const bars = [
      ...quiet(10, '09:30'),
      bar(D, '09:40', { c: 10, v: 6000 }), // event
      ...quiet(13, '09:41'),
      bar(D, '09:54', { c: 10, v: 6000 }), // 14 min: dropped
      bar(D, '09:55', { c: 10, v: 6000 }), // 15 min: event
    ];
    expect((await detect(bars)).map((r) => r.timestamp)).toEqual([Date.UTC(2024, 2, 11, 13, 40), Date.UTC(2024, 2, 11, 13, 55)]);
  });

  test('a zero median never fires', async () => {
    const rows = await detect([...run(D, '09:30', 10, () => ({ c: 10, v: 0 })), bar(D, '09:40', { c: 10, v: 100_000 })]);
    expect(rows).toEqual([]);
  });

  test('options are validated', () => {
    expect(() => volumeSpike({ multiple: 0 })).toThrow(InputError);
    expect(() => volumeSpike({ windowBars: 5, minBars: 6 })).toThrow('minBars must be <= 5, got 6 (number)');
    expect(() => volumeSpike({ acrossDays: 'yes' as unknown as boolean })).toThrow('"yes" (string)');
    expect(() => volumeSpike({ minDollarVolume: -1 })).toThrow(InputError);
  });
});
