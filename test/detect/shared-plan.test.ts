/** The optional `plan` part of a user detector, and the checks of detectEventsBatch's input. */
import pl from 'nodejs-polars';
import { describe, expect, test } from 'vitest';
import { InputError } from '../../src/errors.js';
import { candidateColumns, detectEventsBatch, detectEventsPerSymbol, type Detector } from '../../src/detect/index.js';
import { run } from './helpers.js';

const gain = pl.col('c').div(pl.col('c').shift(1)).sub(1).mul(100);
const legacy: Detector = {
  name: 'gap_up',
  description: 'close >= 20% above the previous close of the same NY day',
  measure: 'gain_pct',
  cooldownMinutes: 60,
  // The gain is computed before the filter: after it, shift(1) would see the previous candidate.
  candidates: (bars) =>
    bars
      .withColumns(gain.alias('gap_up_gain'))
      .filter(pl.col('day').shift(1).eq(pl.col('day')).and(pl.col('gap_up_gain').gtEq(20)))
      .select(...candidateColumns(pl.col('gap_up_gain'))),
};
const sameSymbolDay = pl.col('sym_day').shift(1).eq(pl.col('sym_day'));
const withPlan: Detector = {
  ...legacy,
  plan: { columns: [[gain.alias('gap_up_gain')]], candidate: sameSymbolDay.and(pl.col('gap_up_gain').gtEq(20)), measure: pl.col('gap_up_gain') },
};

/** 30 bars from 09:30 with a +25% close at minute `jumpAt` (and none when jumpAt < 0). */
const jumpy = (day: string, jumpAt: number) => run(day, '09:30', 30, (i) => ({ c: i >= jumpAt && jumpAt >= 0 ? 12.5 : 10 }));

describe('detectEventsBatch with a user plan part', () => {
  test('a user detector in the shared plan gives the rows of its per-symbol pass, and no event leaks across symbols', async () => {
    // B's first bar is far above A's last one: only a window crossing the symbol boundary could see a jump there.
    const input = [
      { symbol: 'AAAA', bars: jumpy('2024-03-11', 10) },
      { symbol: 'BBBB', bars: run('2024-03-11', '09:30', 30, () => ({ c: 20 })) },
      { symbol: 'CCCC', bars: [...jumpy('2024-03-11', -1), ...jumpy('2024-03-12', 5)] },
    ];
    const got = await detectEventsBatch(input, [withPlan]);
    const want = [];
    for (const { symbol, bars } of input) want.push(await detectEventsPerSymbol(bars, symbol, [legacy]));
    expect(got).toStrictEqual(want);
    expect(got.map((rows) => rows.length)).toEqual([1, 0, 1]);
  });

  test('a plan part that is not made of Polars expressions is refused, naming the detector', async () => {
    const bad = { ...legacy, plan: { candidate: 'c > 1', measure: pl.col('c') } } as unknown as Detector;
    await expect(detectEventsBatch([{ symbol: 'AAAA', bars: jumpy('2024-03-11', 10) }], [bad])).rejects.toThrow(InputError);
    await expect(detectEventsBatch([{ symbol: 'AAAA', bars: [] }], [bad])).rejects.toThrow(/gap_up: plan.candidate must be a Polars expression/);
  });

  test('bad symbols and plan sizes are refused; an empty batch has no events', async () => {
    await expect(detectEventsBatch([{ symbol: '', bars: [] }], [withPlan])).rejects.toThrow(InputError);
    await expect(detectEventsBatch([], [withPlan], { maxBarsPerPlan: 0 })).rejects.toThrow(/detectEventsBatch: expected `maxBarsPerPlan` to be a whole number >= 1, got `0` \(number\)/);
    expect(await detectEventsBatch([], [withPlan])).toEqual([]);
  });
});
