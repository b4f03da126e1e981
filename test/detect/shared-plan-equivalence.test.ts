/**
 * The shared batch plan against the per-symbol pass (the path every detector took before it) on
 * the simulator's minute bars: 25 tickers × 4 months (Feb–Mar and Nov–Dec 2024: both DST switches,
 * holidays and the 13:00 early closes) = 100 symbol-months, built in-process from the market model.
 * Compared with toStrictEqual: every column of every row, exact (NaN only equals NaN, -0 is not 0).
 */
import pl from 'nodejs-polars';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  builtinDetectorNames,
  builtinDetectors,
  candidateColumns,
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
import { simMinuteBars } from './sim-bars.js';

const SEED = 7;
const TICKERS = Array.from({ length: 25 }, (_, i) => `EQ${String.fromCharCode(65 + i)}`);
const RANGES = [
  ['2024-02-01', '2024-03-31'],
  ['2024-11-01', '2024-12-31'],
] as const;

/** A legacy detector (no `plan` part): runs through the per-symbol fallback inside the batch path. */
const gain = pl.col('c').div(pl.col('c').shift(1)).sub(1).mul(100);
const jumpUp: Detector = {
  name: 'jump_up',
  description: 'close >= 1% above the previous close of the same NY day',
  measure: 'gain_pct',
  cooldownMinutes: 10,
  candidates: (bars) => bars.filter(pl.col('day').shift(1).eq(pl.col('day')).and(gain.gtEq(1))).select(...candidateColumns(gain)),
};

const tuned = (): Detector[] => [
  flush({ dropPct: 2, lookbackMinutes: 30, cooldownMinutes: 5 }),
  volumeSpike({ multiple: 3, windowBars: 20, minBars: 5, minDollarVolume: 0, acrossDays: false, cooldownMinutes: 0 }),
  openingRangeBreak({ rangeMinutes: 15 }),
  vwapBreak({ cooldownMinutes: 0 }),
];

let input: { symbol: string; bars: Bar[] }[];

beforeAll(() => {
  input = [];
  for (const symbol of TICKERS) {
    const bars: Bar[] = [];
    for (const [from, to] of RANGES) bars.push(...simMinuteBars(SEED, symbol, from, to));
    input.push({ symbol, bars });
  }
}, 120_000);

async function reference(detectors: readonly Detector[], count = input.length): Promise<EventRow[][]> {
  const out: EventRow[][] = [];
  for (const { symbol, bars } of input.slice(0, count)) out.push(await detectEventsPerSymbol(bars, symbol, detectors));
  return out;
}

function countByType(rows: readonly EventRow[][]): Record<string, number> {
  const n: Record<string, number> = {};
  for (const r of rows.flat()) n[r.event_type] = (n[r.event_type] ?? 0) + 1;
  return n;
}

describe('shared plan = per-symbol pass on the simulator bars (25 tickers × 4 months)', () => {
  test('the input is 100 symbol-months of the simulator, with gaps between bars', () => {
    expect(input.length * RANGES.length * 2).toBe(100);
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
