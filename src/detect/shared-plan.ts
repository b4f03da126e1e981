/**
 * The shared batch plan: the bars of several symbols in one frame (`sym`, `sym_day` columns), every
 * detector's `plan` part in ONE lazy query over it (each shared column computed once), finished by
 * one asynchronous `collect()` off the event loop. Only the candidate rows come back to JS.
 */
import pl from 'nodejs-polars';
import type { Bar, EventRow } from '../types.js';
import { CooldownGate, sortEventRows } from './cooldown.js';
import type { Detector, SharedPlanPart } from './detector.js';
import { perSymbolPass } from './per-symbol-pass.js';
import { batchFrameAsync, prepareColumnsAsync, type PreparedBars } from './prepare.js';
import { validateDetectors, validateSymbol } from './validate.js';

/** One symbol's bars, an entry of {@link detectEventsBatch}. */
export interface SymbolBars {
  readonly symbol: string;
  readonly bars: readonly Bar[];
}

/** Options of {@link detectEventsBatch}. */
export interface DetectBatchOptions {
  /**
   * Most bars in one plan: symbols are grouped in input order into plans of at most this many
   * bars (a symbol larger than this is a plan of its own). Bounds the plan's memory (≈ 30 columns
   * of 8 bytes per bar). @default 1_000_000
   */
  readonly maxBarsPerPlan?: number;
}

/** Default of {@link DetectBatchOptions.maxBarsPerPlan}. */
export const DEFAULT_MAX_BARS_PER_PLAN = 1_000_000;

interface PlanExprs {
  readonly stages: readonly pl.Expr[][];
  readonly flags: readonly pl.Expr[];
  readonly anyFlag: pl.Expr;
  readonly output: readonly pl.Expr[];
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
    pl.col('t'),
    pl.col('sym'),
    pl.col('c').alias('__price'),
    pl.col('v').alias('__volume'),
    // NaN instead of null so the columns can leave Polars as typed arrays.
    pl.col('day_vwap').fillNull(Number.NaN).alias('__vwap'),
    // Int32, not UInt8: rows() would give booleans, and Float64 columns of rows() keep one shape.
    ...parts.map((_, j) => pl.col(`__candidate_${j}`).cast(pl.Int32)),
    ...parts.map((p, j) => p.measure.cast(pl.Float64).fillNull(Number.NaN).alias(`__measure_${j}`)),
  ];
  const exprs = { stages, flags, anyFlag, output };
  if (planCache.size >= PLAN_CACHE_SIZE) planCache.delete(planCache.keys().next().value!);
  planCache.set(key, exprs);
  return exprs;
}

/** The one lazy query of a batch: shared columns, every detector's flag, candidate rows only. */
function sharedQuery(frame: pl.LazyDataFrame, exprs: PlanExprs): pl.LazyDataFrame {
  let q = frame;
  for (const stage of exprs.stages) if (stage.length > 0) q = q.withColumns(...stage);
  return q.withColumns(...exprs.flags).filter(exprs.anyFlag).select(...exprs.output);
}

/** The candidate rows as columns: t, sym, price, volume, vwap, then each detector's flag and measure. */
function candidateColumnsOf(df: pl.DataFrame, detectors: number): ArrayLike<number>[] {
  const width = 5 + 2 * detectors;
  // Every property read on a nodejs-polars DataFrame goes through a Proxy that lists the column
  // names natively, and every Series wrapper is costly: one rows() call is far cheaper for the few
  // candidate rows a plan usually returns.
  const height = df.height;
  if (height < ROWS_CUTOFF) {
    const rows = df.rows() as number[][];
    return Array.from({ length: width }, (_, k) => {
      const col = new Float64Array(height);
      for (let i = 0; i < height; i++) col[i] = rows[i]![k]!;
      return col;
    });
  }
  return df.getColumns().map((s) => s.toTypedArray() as ArrayLike<number>);
}

/** Below this many rows one rows() call is cheaper than a Series wrapper per column. */
const ROWS_CUTOFF = 4096;

/** Cooldown over the candidate rows (sorted by sym, t) into per-symbol event lists. */
function selectEvents(df: pl.DataFrame, symbols: readonly string[], detectors: readonly Detector[], out: EventRow[][]): void {
  const cols = candidateColumnsOf(df, detectors.length);
  const [t, sym, price, volume, vwap] = cols as [ArrayLike<number>, ArrayLike<number>, ArrayLike<number>, ArrayLike<number>, ArrayLike<number>];
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

/**
 * Starts one plan's work: the shared query's `collect()` (on Polars' threads) and the fallback
 * passes. The returned promise gives the plan's events (unsorted), one list per symbol.
 */
async function runPlan(prepared: readonly PreparedBars[], symbols: readonly string[], shared: readonly Detector[], fallback: readonly Detector[]): Promise<EventRow[][]> {
  const out: EventRow[][] = symbols.map(() => []);
  const sharedDone = (async () => {
    if (shared.length === 0 || !prepared.some((p) => p.length > 0)) return;
    const frame = await batchFrameAsync(prepared);
    const df = await sharedQuery(frame, planExprs(shared)).collect();
    selectEvents(df, symbols, shared, out);
  })();
  const fallbackRows = fallback.length > 0 ? Promise.all(prepared.map((p, s) => perSymbolPass(p, symbols[s]!, fallback))) : Promise.resolve([]);
  const [, rows] = await Promise.all([sharedDone, fallbackRows]);
  rows.forEach((r, s) => out[s]!.push(...r));
  return out;
}

function maxBars(opts: DetectBatchOptions): number {
  const m = opts.maxBarsPerPlan ?? DEFAULT_MAX_BARS_PER_PLAN;
  if (!Number.isInteger(m) || m < 1) throw new TypeError(`maxBarsPerPlan must be a whole number >= 1, got ${String(m)} (${typeof m})`);
  return m;
}

/**
 * Events of several symbols, in input order (one list per entry, each sorted by (timestamp,
 * event_type)). Detectors with a `plan` part run in one shared lazy plan per group of symbols
 * (up to `maxBarsPerPlan` bars); detectors without one run their `candidates` per symbol (the
 * fallback pass). Both give the rows {@link detectEventsPerSymbol} gives.
 * Throws {@link InputError} for bad bars, a bad symbol or a bad detector list.
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
  if (detectors.length === 0) return batch.map(() => []);
  const shared = detectors.filter((d) => d.plan !== undefined);
  const fallback = detectors.filter((d) => d.plan === undefined);
  // While Polars collects one plan on its threads, the next group's bars are prepared here: at most
  // one plan in flight, so memory stays bounded by two groups.
  const out: EventRow[][] = [];
  let inFlight: Promise<EventRow[][]> | undefined;
  let group: PreparedBars[] = [];
  let names: string[] = [];
  let bars = 0;
  const startGroup = async (): Promise<void> => {
    const next = runPlan(group, names, shared, fallback);
    // Attach a handler now so a failure is not reported unhandled while the previous plan is awaited.
    next.catch(() => undefined);
    if (inFlight !== undefined) out.push(...(await inFlight));
    inFlight = next;
    group = [];
    names = [];
    bars = 0;
  };
  for (const { symbol, bars: raw } of batch) {
    const p = await prepareColumnsAsync(raw, symbol);
    if (bars > 0 && bars + p.length > limit) await startGroup();
    group.push(p);
    names.push(symbol);
    bars += p.length;
  }
  if (names.length > 0) await startGroup();
  if (inFlight !== undefined) out.push(...(await inFlight));
  return out.map(sortEventRows);
}
