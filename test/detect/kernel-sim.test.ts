/**
 * The JS kernel against the Polars shared plan on the simulator's minute bars: 25 tickers × 4
 * months (Feb–Mar and Nov–Dec 2024: both DST switches, holidays and the 13:00 early closes) = 100
 * symbol-months, built in-process from the market model (the bars its HTTP API would serve).
 * Every column of every row must be the same value (Object.is: NaN equals NaN, -0 is not 0).
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { builtinDetectorNames, builtinDetectors, detectEvents, detectEventsBatch, flush, openingRangeBreak, volumeSpike, vwapBreak, type Detector } from '../../src/detect/index.js';
import { splitDetectors } from '../../src/detect/kernel-detect.js';
import type { Bar, EventRow } from '../../src/types.js';
import { SYMBOL_MONTHS, countByType, simSymbolMonths } from './sim-bars.js';

let input: { symbol: string; bars: Bar[] }[];

beforeAll(() => {
  input = simSymbolMonths();
}, 120_000);

/** Fails naming the first differing row and column. */
function expectSameRows(got: readonly EventRow[][], want: readonly EventRow[][]): void {
  expect(got.length).toBe(want.length);
  for (let s = 0; s < want.length; s++) {
    expect(got[s]!.length, `${input[s]!.symbol}: row count`).toBe(want[s]!.length);
    want[s]!.forEach((w, i) => {
      const g = got[s]![i]!;
      for (const k of Object.keys(w) as (keyof EventRow)[]) {
        if (!Object.is(g[k], w[k])) expect.fail(`${input[s]!.symbol} row ${i} ${k}: kernel ${String(g[k])} vs Polars ${String(w[k])}`);
      }
    });
  }
}

describe('JS kernel = Polars shared plan on the simulator bars (25 tickers × 4 months)', () => {
  test('the input is 100 symbol-months of the simulator', () => {
    expect(input.length * SYMBOL_MONTHS.ranges.length * 2).toBe(100);
    expect(input.reduce((a, x) => a + x.bars.length, 0)).toBeGreaterThan(100 * 5_000);
  });

  test('built-in defaults: every row identical, every detector firing', async () => {
    const detectors = builtinDetectors();
    expect(splitDetectors(detectors).polars).toEqual([]);
    const want = await detectEventsBatch(input, detectors, { engine: 'polars' });
    const got = await detectEventsBatch(input, detectors);
    expectSameRows(got, want);
    const n = countByType(want);
    for (const name of builtinDetectorNames) expect(n[name] ?? 0, name).toBeGreaterThan(0);
  }, 120_000);

  test('tuned settings (acrossDays false, short windows, no cooldowns), through detectEvents one symbol at a time', async () => {
    const detectors: Detector[] = [
      flush({ dropPct: 2, lookbackMinutes: 30, cooldownMinutes: 5 }),
      volumeSpike({ multiple: 3, windowBars: 20, minBars: 5, minDollarVolume: 0, acrossDays: false, cooldownMinutes: 0 }),
      openingRangeBreak({ rangeMinutes: 15 }),
      vwapBreak({ cooldownMinutes: 0 }),
    ];
    expect(splitDetectors(detectors).polars).toEqual([]);
    const want = await detectEventsBatch(input, detectors, { engine: 'polars' });
    const got: EventRow[][] = [];
    for (const { symbol, bars } of input) got.push(await detectEvents(bars, symbol, detectors));
    expectSameRows(got, want);
    const n = countByType(want);
    for (const d of detectors) expect(n[d.name] ?? 0, d.name).toBeGreaterThan(5);
  }, 120_000);
});
