/**
 * The shared batch plan: the bars of several symbols in one frame (`sym`, `sym_day` columns), every
 * detector's `plan` part in ONE lazy query over it (each shared column computed once), finished by
 * one asynchronous `collect()` off the event loop. Only the candidate rows come back to JS. With
 * the default engine, {@link detectEventsBatch} hands the unmodified built-in detectors to the JS
 * kernel (kernel-detect.ts) instead, and only the other detectors reach this plan.
 */
import pl from 'nodejs-polars';
import type { Bar, EventRow } from '../types.js';
import { CooldownGate, sortEventRows } from './cooldown.js';
import type { Detector, SharedPlanPart } from './detector.js';
import { kernelEventsBatch, splitDetectors } from './kernel-detect.js';
import { perSymbolPass } from './per-symbol-pass.js';
import { acquireColumns, batchFrameAsync, prepareIntoAsync, preparedView, releaseColumns, type ColumnBuffer, type PreparedBars } from './prepare.js';
import { validateDetectors, validateSymbol } from './validate.js';
import { optionError, wholeNumber } from '../options.js';

/** One symbol's bars, an entry of {@link detectEventsBatch}. */
export interface SymbolBars {
  readonly symbol: string;
  readonly bars: readonly Bar[];
}

/**
 * How {@link detectEventsBatch} runs the built-in detectors: `'auto'` in the JS kernel (exactly the
 * same rows, several times faster), `'polars'` through their shared-plan parts like any other
 * detector (the reference the kernel is tested against).
 */
export type DetectEngine = 'auto' | 'polars';

/** Options of {@link detectEventsBatch}. */
export interface DetectBatchOptions {
  /** See {@link DetectEngine}. @default 'auto' */
  readonly engine?: DetectEngine;
  /**
   * Most bars in one plan: symbols are grouped in input order into plans of at most this many
   * input bars (a symbol larger than this is a plan of its own). Measured (BENCHMARKS.md, 4): small
   * symbols gain most from sharing a plan (each plan has a fixed cost of a few ms of JS wrappers),
   * while plans beyond ~100,000 bars got slower per bar (the `over('sym')` windows and a working
   * set past the caches). @default 50_000
   */
  readonly maxBarsPerPlan?: number;
}

/** Default of {@link DetectBatchOptions.maxBarsPerPlan}. */
export const DEFAULT_MAX_BARS_PER_PLAN = 50_000;

interface PlanExprs {
  readonly stages: readonly pl.Expr[][];
  readonly flags: readonly pl.Expr[];
  readonly anyFlag: pl.Expr;
  /** One Float64 list per candidate row: t, sym, price, volume, vwap, each flag, each measure. */
  readonly packed: pl.Expr;
}

const detectorIds = new WeakMap<Detector, number>();
let nextDetectorId = 0;
const planCache = new Map<string, PlanExprs>();
const PLAN_CACHE_SIZE = 32;

/**
 * The plan's expressions for these plan parts, cached per detector list: building nodejs-polars
 * Exprs costs ~0.1 ms a call, more than a small symbol's whole query.
 */
function planExprs(detectors: readonly Detector[]): PlanExprs {
  const key = detectors
    .map((d) => {
      let id = detectorIds.get(d);
      if (id === undefined) detectorIds.set(d, (id = nextDetectorId++));
      return id;
    })
    .join(',');
  const hit = planCache.get(key);
  if (hit !== undefined) return hit;
  const parts = detectors.map((d) => d.plan as SharedPlanPart);
  const depth = Math.max(0, ...parts.map((p) => p.columns?.length ?? 0));
  const stages = Array.from({ length: depth }, (_, s) => parts.flatMap((p) => [...(p.columns?.[s] ?? [])]));
  const flags = parts.map((p, j) => p.candidate.fillNull(false).alias(`__candidate_${j}`));
  const anyFlag = pl.anyHorizontal(parts.map((_, j) => pl.col(`__candidate_${j}`)));
  const output = [
    pl.col('t').cast(pl.Float64),
    pl.col('sym').cast(pl.Float64),
    pl.col('c').cast(pl.Float64),
    pl.col('v').cast(pl.Float64),
    // NaN instead of null so that every value leaves Polars in one Float64Array.
    pl.col('day_vwap').cast(pl.Float64).fillNull(Number.NaN),
    ...parts.map((_, j) => pl.col(`__candidate_${j}`).cast(pl.Float64)),
    ...parts.map((p) => p.measure.cast(pl.Float64).fillNull(Number.NaN)),
  ];
  // Packed into one list column (exploded row-major): one Series crosses into JS instead of one per
  // column, and rows() on a few thousand rows measured slower still.
  const packed = pl.concatList(output).alias(PACKED);
  const exprs = { stages, flags, anyFlag, packed };
  if (planCache.size >= PLAN_CACHE_SIZE) planCache.delete(planCache.keys().next().value!);
  planCache.set(key, exprs);
  return exprs;
}

/** The one lazy query of a batch: shared columns, every detector's flag, candidate rows only. */
function sharedQuery(frame: pl.LazyDataFrame, exprs: PlanExprs): pl.LazyDataFrame {
  let q = frame;
  for (const stage of exprs.stages) if (stage.length > 0) q = q.withColumns(...stage);
  return q.withColumns(...exprs.flags).filter(exprs.anyFlag).select(exprs.packed).explode(PACKED);
}

const PACKED = '__packed';

/** The candidate rows as columns (views of one Float64Array): t, sym, price, volume, vwap, then each detector's flag and measure. */
function candidateColumnsOf(df: pl.DataFrame, detectors: number): Float64Array[] {
  const width = 5 + 2 * detectors;
  const all = df.getColumn(PACKED).toTypedArray() as Float64Array;
  const height = all.length / width;
  return Array.from({ length: width }, (_, k) => {
    const col = new Float64Array(height);
    for (let i = 0; i < height; i++) col[i] = all[i * width + k]!;
    return col;
  });
}

/** Cooldown over the candidate rows (sorted by sym, t) into per-symbol event lists. */
function selectEvents(df: pl.DataFrame, symbols: readonly string[], detectors: readonly Detector[], out: EventRow[][]): void {
  const cols = candidateColumnsOf(df, detectors.length);
  const [t, sym, price, volume, vwap] = cols as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  const height = t.length;
  detectors.forEach((d, j) => {
    const flag = cols[5 + j]!;
    const measure = cols[5 + detectors.length + j]!;
    const gate = new CooldownGate(d);
    let cur = -1;
    for (let i = 0; i < height; i++) {
      if (flag[i] !== 1) continue;
      const s = sym[i]!;
      if (s !== cur) {
        cur = s;
        gate.reset();
      }
      const row = gate.admit(symbols[s]!, t[i]!, { price: price[i]!, volume: volume[i]!, vwap: vwap[i]!, measure: measure[i]! });
      if (row !== undefined) out[s]!.push(row);
    }
  });
}

/** One plan's input: the prepared rows of its symbols in one pooled buffer. */
interface PlanInput {
  readonly buffer: ColumnBuffer;
  readonly rows: number;
  readonly symbols: readonly string[];
  /** First row and row count of each symbol in `buffer`. */
  readonly offsets: readonly number[];
  readonly counts: readonly number[];
}

/** A symbol's rows copied out of the plan's buffer, for the fallback pass (which outlives it). */
function copiedView(input: PlanInput, s: number): PreparedBars {
  const v = preparedView(input.buffer, input.offsets[s]!, input.counts[s]!);
  return Object.fromEntries(Object.entries(v).map(([k, a]) => [k, typeof a === 'number' ? a : a.slice()])) as unknown as PreparedBars;
}

/**
 * One plan's work: the shared query's `collect()` (on Polars' threads) and the fallback passes.
 * The buffer goes back to the pool as soon as Polars has copied it. Gives the plan's events
 * (unsorted), one list per symbol.
 */
async function runPlan(input: PlanInput, shared: readonly Detector[], fallback: readonly Detector[]): Promise<EventRow[][]> {
  const out: EventRow[][] = input.symbols.map(() => []);
  const own = fallback.length > 0 ? input.symbols.map((_, s) => copiedView(input, s)) : [];
  let frame: pl.LazyDataFrame | undefined;
  try {
    if (shared.length > 0 && input.rows > 0) frame = await batchFrameAsync(input.buffer, input.rows);
  } finally {
    releaseColumns(input.buffer);
  }
  const sharedDone = (async () => {
    if (frame === undefined) return;
    const df = await sharedQuery(frame, planExprs(shared)).collect();
    selectEvents(df, input.symbols, shared, out);
  })();
  const fallbackRows = Promise.all(own.map((p, s) => perSymbolPass(p, input.symbols[s]!, fallback)));
  const [, rows] = await Promise.all([sharedDone, fallbackRows]);
  rows.forEach((r, s) => out[s]!.push(...r));
  return out;
}

function engineOf(opts: DetectBatchOptions): DetectEngine {
  const e = opts.engine ?? 'auto';
  if (e !== 'auto' && e !== 'polars') throw optionError('detectEventsBatch', 'engine', "'auto' or 'polars'", e);
  return e;
}

function maxBars(opts: DetectBatchOptions): number {
  const m = opts.maxBarsPerPlan ?? DEFAULT_MAX_BARS_PER_PLAN;
  return wholeNumber('detectEventsBatch', 'maxBarsPerPlan', m);
}

/** Entries grouped in input order into plans of at most `limit` input bars (a larger entry alone). */
function planGroups(batch: readonly SymbolBars[], limit: number): SymbolBars[][] {
  const groups: SymbolBars[][] = [];
  let cur: SymbolBars[] = [];
  let bars = 0;
  for (const entry of batch) {
    const len = Array.isArray(entry.bars) ? entry.bars.length : 0;
    if (cur.length > 0 && bars + len > limit) {
      groups.push(cur);
      cur = [];
      bars = 0;
    }
    cur.push(entry);
    bars += len;
  }
  if (cur.length > 0) groups.push(cur);
  return groups;
}

/** Prepares a group's symbols one after another into one pooled buffer. */
async function preparePlan(group: readonly SymbolBars[]): Promise<PlanInput> {
  const buffer = acquireColumns(group.reduce((a, e) => a + (Array.isArray(e.bars) ? e.bars.length : 0), 0));
  const offsets: number[] = [];
  const counts: number[] = [];
  let rows = 0;
  let symDay = 0;
  for (let s = 0; s < group.length; s++) {
    const { symbol, bars } = group[s]!;
    const w = await prepareIntoAsync(bars, symbol, { out: buffer, start: rows, sym: s, symDay });
    offsets.push(rows);
    counts.push(w.count);
    rows += w.count;
    symDay = w.nextSymDay;
  }
  return { buffer, rows, symbols: group.map((e) => e.symbol), offsets, counts };
}

/**
 * The Polars path of a batch (unsorted rows, one list per entry): detectors with a `plan` part run
 * in one shared lazy plan per group of symbols (up to `maxBarsPerPlan` bars); detectors without one
 * run their `candidates` per symbol (the fallback pass). Both give the rows {@link detectEventsPerSymbol} gives. While Polars collects
 * one plan on its threads, the next group's bars are prepared on the event loop (at most one plan
 * in flight).
 */
async function polarsBatch(batch: readonly SymbolBars[], detectors: readonly Detector[], limit: number): Promise<EventRow[][]> {
  const shared = detectors.filter((d) => d.plan !== undefined);
  const fallback = detectors.filter((d) => d.plan === undefined);
  const out: EventRow[][] = [];
  let inFlight: Promise<EventRow[][]> | undefined;
  try {
    for (const group of planGroups(batch, limit)) {
      const input = await preparePlan(group);
      const next = runPlan(input, shared, fallback);
      // Handled now so a failure is not reported unhandled while the previous plan is awaited.
      next.catch(() => undefined);
      if (inFlight !== undefined) out.push(...(await inFlight));
      inFlight = next;
    }
    if (inFlight !== undefined) out.push(...(await inFlight));
  } finally {
    // A failed preparation leaves the plan before it running: let it finish before returning.
    await inFlight?.catch(() => undefined);
  }
  return out;
}

/**
 * Events of several symbols, in input order (one list per entry, each sorted by (timestamp,
 * event_type)). The built-in detectors (as their factories return them) run in the JS kernel
 * (see {@link detectEvents}), symbol after symbol, yielding to the event loop every 65,536 bars;
 * with `engine: 'polars'`, or for any other detector, detectors with a `plan` part run in one
 * shared lazy plan per group of symbols (up to `maxBarsPerPlan` bars) and detectors without one run
 * their `candidates` per symbol (the fallback pass). A run mixing both runs the kernel first, then
 * Polars for the others. Every path gives the rows {@link detectEventsPerSymbol} gives.
 * Throws {@link InputError} for bad bars, a bad symbol, a bad detector list or bad options.
 *
 * @example
 * ```ts
 * const [a, b] = await detectEventsBatch([{ symbol: 'AAAA', bars: barsA }, { symbol: 'BBBB', bars: barsB }], builtinDetectors());
 * ```
 */
export async function detectEventsBatch(batch: readonly SymbolBars[], detectors: readonly Detector[], opts: DetectBatchOptions = {}): Promise<EventRow[][]> {
  validateDetectors(detectors);
  for (const entry of batch) validateSymbol(entry?.symbol);
  const limit = maxBars(opts);
  const split = engineOf(opts) === 'auto' ? splitDetectors(detectors) : { kernel: [], polars: detectors };
  if (detectors.length === 0) return batch.map(() => []);
  const out = split.kernel.length > 0 ? await kernelEventsBatch(batch, split.kernel) : batch.map((): EventRow[] => []);
  if (split.polars.length > 0) {
    const rows = await polarsBatch(batch, split.polars, limit);
    rows.forEach((r, s) => out[s]!.push(...r));
  }
  return out.map(sortEventRows);
}
