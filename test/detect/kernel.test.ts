/**
 * The JS kernel against the Polars plans it replaces, on random bars: several symbols, gaps, zero
 * and equal volumes, prices on the detectors' thresholds, DST-switch Sundays, early closes,
 * pre-market and after-hours bars and bars outside 04:00–20:00, duplicates and unsorted input,
 * random detector settings. Every column of every row must be the same value (Object.is), and bad
 * bars must fail with the same error.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, test } from 'vitest';
import {
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
import { splitDetectors } from '../../src/detect/kernel-detect.js';
import type { Bar, EventRow } from '../../src/types.js';
import { ny } from './helpers.js';

/** Spring-forward and fall-back Sundays with their neighbours, 13:00 closes, a holiday, a year end. */
const DAYS = ['2024-03-08', '2024-03-10', '2024-03-11', '2024-11-01', '2024-11-03', '2024-11-04', '2024-11-29', '2024-12-24', '2024-07-03', '2024-07-04', '2024-12-31', '2025-01-02'];
/** UTC ms of NY 00:00 as counted by the 04:00 offset of each day (Intl, not the code under test). */
const BASE = new Map(DAYS.map((d) => [d, ny(d, '04:00') - 240 * 60_000]));

/**
 * Prices mostly from a few levels, so that exact threshold ties are common (10 → 9 is exactly a
 * 10% drop, 10 → 9.5 5%, 50 → 49 2%; a close equal to the VWAP or to the range high), beside
 * arbitrary doubles.
 */
const price = fc.oneof(
  { arbitrary: fc.constantFrom(0, 9, 9.5, 10, 10, 10, 10, 10.5, 12, 49, 50), weight: 5 },
  { arbitrary: fc.double({ min: 0.01, max: 200, noNaN: true }), weight: 1 },
);
/** Volumes with zeros and many equal values (ties in the median and at `multiple` × median). */
const volume = fc.oneof(
  { arbitrary: fc.constantFrom(0, 0, 100, 1000, 1000, 1000, 2000, 3000, 5000, 10_000, 50_000), weight: 5 },
  { arbitrary: fc.integer({ min: 0, max: 200_000 }), weight: 1 },
  { arbitrary: fc.double({ min: 0, max: 1e7, noNaN: true }), weight: 1 },
);
/** vw is sometimes missing or non-finite: prepare falls back to the close. */
const vw = fc.oneof(price, fc.constant(undefined), fc.constant(Number.NaN));

/** One day's bars: a start minute (from before 04:00 to after 20:00) and gaps of mostly one minute. */
const dayBars = fc.record({
  day: fc.constantFrom(...DAYS),
  start: fc.oneof(fc.integer({ min: 200, max: 1250 }), fc.constantFrom(230, 240, 560, 570, 575, 770, 950, 1190)),
  steps: fc.array(fc.record({ gap: fc.oneof(fc.constant(1), fc.constant(1), fc.integer({ min: 0, max: 40 })), c: price, dh: fc.constantFrom(0, 0, 0.5, 2), v: volume, vw }), {
    maxLength: 160,
  }),
});

function barsOf(days: readonly DayInput[]): Bar[] {
  const out: Bar[] = [];
  for (const { day, start, steps } of days) {
    let minute = start;
    for (const s of steps) {
      minute += s.gap;
      const bar: Bar = { t: BASE.get(day)! + minute * 60_000, o: s.c, h: s.c + s.dh, l: s.c, c: s.c, v: s.v, vw: s.vw as number, n: 1 };
      if (s.vw === undefined) delete (bar as { vw?: number }).vw;
      out.push(bar);
    }
  }
  return out;
}

interface DayInput {
  readonly day: string;
  readonly start: number;
  readonly steps: readonly { gap: number; c: number; dh: number; v: number; vw: number | undefined }[];
}

/** Input order: as generated (days may repeat or go backwards: unsorted, duplicate t), or sorted. */
const symbolBars = fc.record({ days: fc.array(dayBars, { minLength: 1, maxLength: 4 }), sort: fc.boolean() }).map(({ days, sort }) => {
  const bars = barsOf(days);
  return sort ? bars.sort((a, b) => a.t - b.t) : bars;
});

/**
 * Detector settings to draw from, built once: building a flush costs ~15 ms of nodejs-polars Expr
 * wrappers per lookback minute, too slow to build per run. Between them they cover every option,
 * thresholds below and at the defaults, acrossDays false, windows of one bar, minBars = windowBars,
 * and an opening range longer than an early-close day's regular session.
 */
let pool: { flush: Detector[]; spike: Detector[]; orb: Detector[]; vwap: Detector[] };

beforeAll(() => {
  pool = {
    flush: [
      builtinDetectors()[2]!,
      flush({ dropPct: 0.5, lookbackMinutes: 1, cooldownMinutes: 0 }),
      flush({ dropPct: 2, lookbackMinutes: 3, cooldownMinutes: 1 }),
      flush({ dropPct: 5, lookbackMinutes: 8, cooldownMinutes: 5 }),
      flush({ dropPct: 50, lookbackMinutes: 2, cooldownMinutes: 30 }),
    ],
    spike: [
      builtinDetectors()[3]!,
      volumeSpike({ multiple: 2, windowBars: 4, minBars: 4, minDollarVolume: 0, acrossDays: false, cooldownMinutes: 0 }),
      volumeSpike({ multiple: 1, windowBars: 1, minBars: 1, minDollarVolume: 1000, cooldownMinutes: 1 }),
      volumeSpike({ multiple: 3, windowBars: 10, minBars: 3, minDollarVolume: 0, acrossDays: true, cooldownMinutes: 5 }),
      volumeSpike({ multiple: 0.5, windowBars: 7, minBars: 2, minDollarVolume: 50_000, acrossDays: false, cooldownMinutes: 15 }),
      volumeSpike({ multiple: 5, windowBars: 40, minBars: 40, minDollarVolume: 0, acrossDays: false, cooldownMinutes: 0 }),
    ],
    orb: [builtinDetectors()[0]!, openingRangeBreak({ rangeMinutes: 1 }), openingRangeBreak({ rangeMinutes: 15 }), openingRangeBreak({ rangeMinutes: 250 })],
    vwap: [builtinDetectors()[1]!, vwapBreak({ cooldownMinutes: 0 }), vwapBreak({ cooldownMinutes: 1 }), vwapBreak({ cooldownMinutes: 30 })],
  };
}, 60_000);

/** A few of the pooled detectors (at least one), in a random order. */
const detectorSet = fc
  .record({ f: fc.nat(), s: fc.nat(), o: fc.nat(), v: fc.nat(), keep: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), order: fc.nat() })
  .map(({ f, s, o, v, keep, order }) => {
    const pick = (list: Detector[], i: number) => list[i % list.length]!;
    const all = [pick(pool.flush, f), pick(pool.spike, s), pick(pool.orb, o), pick(pool.vwap, v)];
    const kept = all.filter((_, i) => keep[i]);
    const list = kept.length > 0 ? kept : all;
    const k = order % list.length;
    return [...list.slice(k), ...list.slice(0, k)];
  });

/** The first difference between two results, every column compared with Object.is; undefined when equal. */
function difference(got: readonly EventRow[][], want: readonly EventRow[][]): string | undefined {
  if (got.length !== want.length) return `${got.length} symbols vs ${want.length}`;
  for (let s = 0; s < got.length; s++) {
    const a = got[s]!;
    const b = want[s]!;
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const x = a[i];
      const y = b[i];
      if (x === undefined || y === undefined) return `symbol ${s} row ${i}: ${JSON.stringify(x)} vs ${JSON.stringify(y)}`;
      for (const k of ['symbol', 'event_type', 'timestamp', 'session', 'price', 'volume', 'vwap', 'measure'] as const) {
        if (!Object.is(x[k], y[k])) return `symbol ${s} row ${i} ${k}: ${String(x[k])} vs ${String(y[k])} (${JSON.stringify(x)} vs ${JSON.stringify(y)})`;
      }
    }
  }
  return undefined;
}

const SYMBOLS = ['AAAA', 'BBBB', 'CCCC', 'DDDD'];

describe('the JS kernel gives the rows of the Polars plans', () => {
  test('random bars and settings: detectEventsBatch and detectEvents equal the shared plan and the per-symbol pass', async () => {
    let events = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(symbolBars, { minLength: 1, maxLength: 4 }), detectorSet, fc.integer({ min: 1, max: 2000 }), async (lists, detectors, maxBarsPerPlan) => {
        // The kernel must really take every detector here, or this test would compare Polars with itself.
        expect(splitDetectors(detectors).polars).toEqual([]);
        const batch = lists.map((bars, s) => ({ symbol: SYMBOLS[s]!, bars }));
        const plan = await detectEventsBatch(batch, detectors, { engine: 'polars', maxBarsPerPlan });
        const kernel = await detectEventsBatch(batch, detectors);
        const single: EventRow[][] = [];
        const pass: EventRow[][] = [];
        for (const { symbol, bars } of batch) {
          single.push(await detectEvents(bars, symbol, detectors));
          pass.push(await detectEventsPerSymbol(bars, symbol, detectors));
        }
        const diff = difference(kernel, plan) ?? difference(single, plan) ?? difference(pass, plan);
        if (diff !== undefined) throw new Error(diff);
        events += kernel.flat().length;
      }),
      // No shrinking: each run costs several Polars collects, and shrinking took minutes. The seed
      // and path fast-check prints reproduce the failing input.
      { numRuns: 100, endOnFailure: true },
    );
    // The comparison is only worth something if events happen.
    expect(events).toBeGreaterThan(100);
  }, 120_000);

  test('bad bars fail with the same error as the Polars path', async () => {
    const corrupt = fc.record({
      field: fc.constantFrom('t', 'o', 'h', 'l', 'c', 'v'),
      value: fc.constantFrom<unknown>(Number.NaN, Number.POSITIVE_INFINITY, undefined, '10', 1.5),
      at: fc.nat(),
    });
    await fc.assert(
      fc.asyncProperty(symbolBars, corrupt, async (bars, { field, value, at }) => {
        fc.pre(bars.length > 0);
        const bad = bars.map((b) => ({ ...b }));
        (bad[at % bad.length] as unknown as Record<string, unknown>)[field] = field === 't' && value === 1.5 ? bad[at % bad.length]!.t + 1.5 : value;
        const outcome = (p: Promise<unknown>) => p.then(() => 'resolved', (e: Error) => `${e.name}: ${e.message}`);
        const want = await outcome(detectEventsPerSymbol(bad, 'AAAA', builtinDetectors()));
        expect(await outcome(detectEvents(bad, 'AAAA', builtinDetectors()))).toBe(want);
        expect(await outcome(detectEventsBatch([{ symbol: 'AAAA', bars: bad }], builtinDetectors()))).toBe(want);
      }),
      { numRuns: 500, endOnFailure: true },
    );
  }, 60_000);

  test('a lone bar or a first bar with a bad t, or bars that are not an array, fail as in the Polars path', async () => {
    const good: Bar = { t: ny('2024-03-11', '10:00'), o: 10, h: 10, l: 10, c: 10, v: 1000, vw: 10, n: 1 };
    const cases: Bar[][] = [
      [{ ...good, t: Number.NaN }],
      [{ ...good, t: undefined as unknown as number }],
      [{ ...good, t: Number.NaN }, good],
      [good, { ...good, t: good.t + 30 }],
      null as unknown as Bar[],
      'bars' as unknown as Bar[],
    ];
    for (const bars of cases) {
      const outcome = (p: Promise<unknown>) => p.then(() => 'resolved', (e: Error) => `${e.name}: ${e.message}`);
      const want = await outcome(detectEventsPerSymbol(bars, 'AAAA', builtinDetectors()));
      expect(want).toMatch(/InputError/);
      expect(await outcome(detectEvents(bars, 'AAAA', builtinDetectors()))).toBe(want);
    }
  });
});
