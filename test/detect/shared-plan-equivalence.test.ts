/**
 * The shared batch plan against the per-symbol pass (the path every detector took before it) on
 * the simulator's minute bars: 25 tickers × 4 months (Feb–Mar and Nov–Dec 2024: both DST switches,
 * holidays and the 13:00 early closes) = 100 symbol-months, built in-process from the market model.
 * Compared with toStrictEqual: every column of every row, exact (NaN only equals NaN, -0 is not 0).
 */
import { beforeAll, describe, expect, test } from 'vitest';
import {
  builtinDetectorNames,
  builtinDetectors,
  detectEvents,
  detectEventsBatch,
  detectEventsPerSymbol,
  flush,
  openingRangeBreak,
  volumeSpike,
  vwapBreak,
  type Detector,
} from '../../src/detect/index.js';
import type { Bar, EventRow } from '../../src/types.js';
import { jumpUp } from './helpers.js';
import { SYMBOL_MONTHS, countByType, simSymbolMonths } from './sim-bars.js';

const tuned = (): Detector[] => [
  flush({ dropPct: 2, lookbackMinutes: 30, cooldownMinutes: 5 }),
  volumeSpike({ multiple: 3, windowBars: 20, minBars: 5, minDollarVolume: 0, acrossDays: false, cooldownMinutes: 0 }),
  openingRangeBreak({ rangeMinutes: 15 }),
  vwapBreak({ cooldownMinutes: 0 }),
];

let input: { symbol: string; bars: Bar[] }[];

beforeAll(() => {
  input = simSymbolMonths();
}, 120_000);

async function reference(detectors: readonly Detector[], count = input.length): Promise<EventRow[][]> {
  const out: EventRow[][] = [];
  for (const { symbol, bars } of input.slice(0, count)) out.push(await detectEventsPerSymbol(bars, symbol, detectors));
  return out;
}

describe('shared plan = per-symbol pass on the simulator bars (25 tickers × 4 months)', () => {
  test('the input is 100 symbol-months of the simulator, with gaps between bars', () => {
    expect(input.length * SYMBOL_MONTHS.ranges.length * 2).toBe(100);
    const bars = input.reduce((a, x) => a + x.bars.length, 0);
    expect(bars).toBeGreaterThan(100 * 5_000);
    // Not every minute has a bar: the time-based windows are exercised, not just bar counts.
    const sessionMinutes = input.length * 4 * 20 * 960;
    expect(bars).toBeLessThan(sessionMinutes);
  });

  test('built-in defaults: several symbols per plan give exactly the per-symbol rows', async () => {
    const want = await reference(builtinDetectors());
    // ~37,000 bars a ticker: three or so tickers per plan, so windows meet symbol boundaries.
    const got = await detectEventsBatch(input, builtinDetectors(), { maxBarsPerPlan: 100_000 });
    expect(got).toStrictEqual(want);
    const n = countByType(want);
    for (const name of builtinDetectorNames) expect(n[name] ?? 0, name).toBeGreaterThan(0);
  }, 120_000);

  test('tuned settings plus a legacy detector (fallback pass), 4 tickers in one plan, and one symbol per call', async () => {
    const detectors = [...tuned(), jumpUp];
    const want = await reference(detectors, 4);
    const got = await detectEventsBatch(input.slice(0, 4), detectors, { maxBarsPerPlan: 10_000_000 });
    expect(got).toStrictEqual(want);
    const single: EventRow[][] = [];
    for (const { symbol, bars } of input.slice(0, 2)) single.push(await detectEvents(bars, symbol, detectors));
    expect(single).toStrictEqual(want.slice(0, 2));
    const n = countByType(want);
    for (const d of detectors) expect(n[d.name] ?? 0, d.name).toBeGreaterThan(5);
  }, 120_000);
});
