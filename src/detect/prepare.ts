/**
 * Turns one symbol's bars into the frame every detector reads. The NY-local columns and the day
 * VWAP are computed here in one typed-array pass: cheaper than the equivalent Polars expressions
 * (no time-zone database in nodejs-polars' lazy API without a Datetime round trip) and done once
 * per symbol instead of once per detector.
 */
import pl from 'nodejs-polars';
import { InputError } from '../errors.js';
import type { Bar } from '../types.js';
import { AH_END_MINUTE, PM_START_MINUTE, RTH_END_MINUTE, RTH_START_MINUTE, epochDayToYmd, nyOffsetMinutes, rthEndMinute } from './calendar.js';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** The bar columns both a symbol's prepared bars and a plan's buffers hold, one entry per bar. */
interface BarColumnArrays extends Readonly<Record<'t' | 'o' | 'h' | 'l' | 'c' | 'v' | 'vw' | 'n', Float64Array>> {
  /** NY date as YYYYMMDD. */
  readonly day: Int32Array;
  /** NY minute of the day. */
  readonly minute: Int32Array;
  /** Cumulative VWAP of the NY day from 04:00; NaN until the day has traded volume. */
  readonly dayVwap: Float64Array;
  /** NY minute of the day at which the bar's regular session ends: 960 (16:00), or 780 (13:00) on early closes. */
  readonly rthEnd: Int32Array;
}

/** The prepared columns of one symbol, sorted by `t`, unique in `t`, inside 04:00–20:00 NY. */
export interface PreparedBars extends BarColumnArrays {
  readonly length: number;
}

/** Whether the bars' `t` strictly increase (a NaN or missing `t` makes it false). */
export function isSorted(bars: readonly Bar[]): boolean {
  for (let i = 1; i < bars.length; i++) if (!(bars[i - 1]!.t < bars[i]!.t)) return false;
  return true;
}

/** Throws the {@link InputError} of a bad bar field, naming the symbol, index and value. */
export function badBar(symbol: string, index: number, field: string, value: unknown, why: string): never {
  throw new InputError(`${symbol}: bar ${index} has ${field} = ${String(value)} (${typeof value}); ${why}`);
}

/**
 * A bar's `t` must be Unix ms on a whole minute. Shared by this pass and the JS kernel's scan, which
 * check the same fields in the same order so that a bad bar fails with the same error in both.
 */
export function checkMinute(symbol: string, index: number, t: unknown): void {
  if (typeof t !== 'number' || !Number.isFinite(t) || t % MINUTE_MS !== 0) {
    badBar(symbol, index, 't', t, 'expected Unix ms on a whole minute (minute aggregates)');
  }
}

/** A bar's `o h l c v` must be finite numbers, checked in that order (see {@link checkMinute}). */
export function checkPrices(symbol: string, index: number, b: Bar): void {
  if (!Number.isFinite(b.o)) badBar(symbol, index, 'o', b.o, 'expected a finite number');
  if (!Number.isFinite(b.h)) badBar(symbol, index, 'h', b.h, 'expected a finite number');
  if (!Number.isFinite(b.l)) badBar(symbol, index, 'l', b.l, 'expected a finite number');
  if (!Number.isFinite(b.c)) badBar(symbol, index, 'c', b.c, 'expected a finite number');
  if (!Number.isFinite(b.v)) badBar(symbol, index, 'v', b.v, 'expected a finite number');
}

/**
 * Sorts, de-duplicates and annotates the bars in plain typed arrays.
 *
 * - Bars are sorted by `t`; of several bars with the same `t`, the first in input order is kept.
 * - Bars outside 04:00–20:00 NY are dropped: no detector looks at them, not even as history.
 * - `t` must be a whole minute (Polygon minute aggregates are): the time-based windows rely on bars
 *   being at least a minute apart. `o h l c v` must be finite numbers; a missing or non-finite `vw`
 *   falls back to `c`, a missing `n` to 0, since some old aggregates lack them.
 *
 * Throws {@link InputError} naming the symbol, the bar's index and the bad value.
 */
export function prepareColumns(bars: readonly Bar[], symbol: string): PreparedBars {
  const target = ownTarget(bars, symbol);
  const steps = prepareSteps(bars, symbol, target);
  for (;;) {
    const r = steps.next();
    if (r.done === true) return viewOf(target.out, 0, r.value.count);
  }
}

/** Bars handled between two yields to the event loop in {@link prepareColumnsAsync}. */
export const SLICE_BARS = 65_536;

/** Gives the event loop a turn (timers, sockets) between slices of synchronous work. */
export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * {@link prepareColumns} that gives the event loop a turn every {@link SLICE_BARS} bars: five years
 * of one symbol's minute bars are ~10^6 bars, hundreds of milliseconds of JS that would otherwise
 * stall the HTTP timers running beside detection.
 */
export async function prepareColumnsAsync(bars: readonly Bar[], symbol: string): Promise<PreparedBars> {
  const target = ownTarget(bars, symbol);
  const { count } = await prepareIntoAsync(bars, symbol, target);
  return viewOf(target.out, 0, count);
}

/**
 * Columns bars are prepared into: one symbol's (exact size) or a whole plan's (several symbols one
 * after another, with `sym` and `symDay`). A plan's buffers are pooled (see {@link acquireColumns}).
 */
export interface ColumnBuffer extends BarColumnArrays {
  readonly capacity: number;
  /** The symbol's position in its plan. */
  readonly sym: Int32Array;
  /** One value per symbol and NY day of the plan, increasing down the rows. */
  readonly symDay: Int32Array;
}

function allocColumns(capacity: number): ColumnBuffer {
  const f = (): Float64Array => new Float64Array(capacity);
  const i = (): Int32Array => new Int32Array(capacity);
  return { capacity, t: f(), o: f(), h: f(), l: f(), c: f(), v: f(), vw: f(), n: f(), day: i(), minute: i(), dayVwap: f(), rthEnd: i(), sym: i(), symDay: i() };
}

/** Where {@link prepareSteps} writes: from row `start`, as symbol `sym`, first symbol-day key `symDay`. */
export interface Target {
  readonly out: ColumnBuffer;
  readonly start: number;
  readonly sym: number;
  readonly symDay: number;
}

/**
 * The order to read `bars` in: undefined when already strictly increasing in `t`. Throws
 * {@link InputError} for a `t` that is not a finite number (only checked when unsorted).
 */
export function readOrder(bars: readonly Bar[], symbol: string): Uint32Array | undefined {
  if (isSorted(bars)) return undefined;
  const len = bars.length;
  for (let i = 0; i < len; i++) {
    const t = bars[i]?.t;
    if (typeof t !== 'number' || !Number.isFinite(t)) badBar(symbol, i, 't', t, 'expected Unix ms');
  }
  const order = new Uint32Array(len);
  for (let i = 0; i < len; i++) order[i] = i;
  // Index as tie-breaker keeps "first in input order wins" independent of the sort's stability.
  order.sort((a, b) => bars[a]!.t - bars[b]!.t || a - b);
  return order;
}

/** Rows written and the next free symbol-day key. */
export interface Written {
  readonly count: number;
  readonly nextSymDay: number;
}

function* prepareSteps(bars: readonly Bar[], symbol: string, target: Target): Generator<void, Written, void> {
  if (!Array.isArray(bars)) throw new InputError(`${symbol}: bars must be an array, got ${String(bars)} (${typeof bars})`);
  const len = bars.length;
  const order = readOrder(bars, symbol);
  const { t, o, h, l, c, v, vw, n, day, minute, dayVwap, rthEnd, sym, symDay } = target.out;
  let curRthEnd = RTH_END_MINUTE;
  let k = target.start;
  let key = target.symDay - 1;
  let prevT = Number.NEGATIVE_INFINITY;
  let curEpochDay = Number.NaN;
  let curYmd = 0;
  let cumPv = 0;
  let cumV = 0;
  for (let j = 0; j < len; j++) {
    if (j % SLICE_BARS === SLICE_BARS - 1) yield;
    const i = order === undefined ? j : order[j]!;
    const b = bars[i]!;
    const bt = b.t;
    checkMinute(symbol, i, bt);
    if (bt === prevT) continue;
    prevT = bt;
    const local = bt + nyOffsetMinutes(bt) * MINUTE_MS;
    const epochDay = Math.floor(local / DAY_MS);
    const mod = (local - epochDay * DAY_MS) / MINUTE_MS;
    if (mod < PM_START_MINUTE || mod >= AH_END_MINUTE) continue;
    checkPrices(symbol, i, b);
    const bo = b.o, bh = b.h, bl = b.l, bc = b.c, bv = b.v;
    const bvw = Number.isFinite(b.vw) ? b.vw : bc;
    if (epochDay !== curEpochDay) {
      curEpochDay = epochDay;
      curYmd = epochDayToYmd(epochDay);
      curRthEnd = rthEndMinute(epochDay);
      cumPv = 0;
      cumV = 0;
      key++;
    }
    cumPv += bvw * bv;
    cumV += bv;
    t[k] = bt;
    o[k] = bo;
    h[k] = bh;
    l[k] = bl;
    c[k] = bc;
    v[k] = bv;
    vw[k] = bvw;
    n[k] = Number.isFinite(b.n) ? b.n : 0;
    day[k] = curYmd;
    minute[k] = mod;
    dayVwap[k] = cumV > 0 ? cumPv / cumV : Number.NaN;
    rthEnd[k] = curRthEnd;
    sym[k] = target.sym;
    symDay[k] = key;
    k++;
  }
  return { count: k - target.start, nextSymDay: key + 1 };
}

/** Views of rows [from, from + count) of a buffer. */
function viewOf(b: ColumnBuffer, from: number, count: number): PreparedBars {
  const end = from + count;
  return {
    length: count,
    t: b.t.subarray(from, end),
    o: b.o.subarray(from, end),
    h: b.h.subarray(from, end),
    l: b.l.subarray(from, end),
    c: b.c.subarray(from, end),
    v: b.v.subarray(from, end),
    vw: b.vw.subarray(from, end),
    n: b.n.subarray(from, end),
    day: b.day.subarray(from, end),
    minute: b.minute.subarray(from, end),
    dayVwap: b.dayVwap.subarray(from, end),
    rthEnd: b.rthEnd.subarray(from, end),
  };
}

/** A one-symbol buffer of `bars.length` rows (the input's size bounds the output's). */
function ownTarget(bars: readonly Bar[], symbol: string): Target {
  if (!Array.isArray(bars)) throw new InputError(`${symbol}: bars must be an array, got ${String(bars)} (${typeof bars})`);
  return { out: allocColumns(bars.length), start: 0, sym: 0, symDay: 0 };
}

const pool: ColumnBuffer[] = [];
/** Buffers kept for reuse, and the largest kept: bounds what an idle process holds (≈ 2 × 108 MB). */
const POOL_SIZE = 2;
const POOL_MAX_CAPACITY = 1_048_576;

/**
 * A buffer of at least `capacity` rows, from the pool when one is free: allocating ~100 MB of fresh
 * typed arrays per plan costs page faults and full garbage collections (which also walk every live
 * Bar object), more than the detectors' query.
 */
export function acquireColumns(capacity: number): ColumnBuffer {
  const i = pool.findIndex((b) => b.capacity >= capacity);
  if (i >= 0) return pool.splice(i, 1)[0]!;
  return allocColumns(capacity <= POOL_MAX_CAPACITY ? Math.max(capacity, Math.min(POOL_MAX_CAPACITY, 2 * capacity)) : capacity);
}

/** Returns a buffer from {@link acquireColumns} once nothing reads it any more (Series copy their data). */
export function releaseColumns(b: ColumnBuffer): void {
  if (b.capacity <= POOL_MAX_CAPACITY && pool.length < POOL_SIZE) pool.push(b);
}

/**
 * Prepares one symbol into rows `start`.. of a plan's buffer (see {@link prepareColumns} for the
 * rules), yielding to the event loop every {@link SLICE_BARS} bars. Returns the rows written and
 * the next free symbol-day key.
 */
export async function prepareIntoAsync(bars: readonly Bar[], symbol: string, target: Target): Promise<Written> {
  const steps = prepareSteps(bars, symbol, target);
  for (;;) {
    const r = steps.next();
    if (r.done === true) return r.value;
    await yieldToLoop();
  }
}

/** The rows [from, from + count) of a plan's buffer as one symbol's {@link PreparedBars} (views). */
export function preparedView(b: ColumnBuffer, from: number, count: number): PreparedBars {
  return viewOf(b, from, count);
}

let derivedColumns: pl.Expr[] | undefined;

/** Built once per process: constructing nodejs-polars Exprs is costlier than running them on a symbol. */
function derived(): pl.Expr[] {
  if (derivedColumns !== undefined) return derivedColumns;
  const minute = pl.col('minute');
  derivedColumns = [
    // Polars orders NaN above every number, so a NaN VWAP would make "close below VWAP" true.
    pl.col('day_vwap').fillNan(pl.lit(null)).alias('day_vwap'),
    // Derived lazily so that detectors which never read it do not pay for a string column.
    pl
      .when(minute.lt(RTH_START_MINUTE))
      .then(pl.lit('PM'))
      .when(minute.lt(pl.col('rth_end')))
      .then(pl.lit('RTH'))
      .otherwise(pl.lit('AH'))
      .alias('session'),
  ];
  return derivedColumns;
}

const COLUMN_NAMES = ['t', 'o', 'h', 'l', 'c', 'v', 'vw', 'n', 'day', 'minute', 'day_vwap', 'rth_end'] as const;

function columnArrays(p: PreparedBars): (Float64Array | Int32Array)[] {
  return [p.t, p.o, p.h, p.l, p.c, p.v, p.vw, p.n, p.day, p.minute, p.dayVwap, p.rthEnd];
}

function frameOf(series: pl.Series[]): pl.LazyDataFrame {
  return pl.DataFrame(series).lazy().withColumns(...derived());
}

/** The lazy frame of {@link PreparedBars}; see {@link prepareBars} for its columns. */
export function preparedFrame(p: PreparedBars): pl.LazyDataFrame {
  const arrays = columnArrays(p);
  return frameOf(COLUMN_NAMES.map((name, i) => pl.Series(name, arrays[i]!)));
}

/**
 * {@link preparedFrame} that yields to the event loop between columns of a large symbol: copying
 * a column into Polars is one synchronous native call (~10 ms per million values).
 */
export async function preparedFrameAsync(p: PreparedBars): Promise<pl.LazyDataFrame> {
  const arrays = columnArrays(p);
  const series: pl.Series[] = [];
  for (let i = 0; i < COLUMN_NAMES.length; i++) {
    if (p.length >= SLICE_BARS && i > 0) await yieldToLoop();
    series.push(pl.Series(COLUMN_NAMES[i], arrays[i]!));
  }
  return frameOf(series);
}

/**
 * The frame every detector reads, built once per symbol. Columns:
 * `t` (UTC ms, Float64), `o h l c v vw n` (Float64), `day` (NY date YYYYMMDD, Int32),
 * `minute` (NY minute of the day, Int32), `day_vwap` (sum(vw*v)/sum(v) over the NY day's bars
 * from 04:00 up to and including this one; null before any volume), `rth_end` (NY minute of the
 * day's regular close, Int32: 960, or 780 on a 13:00 early close), `session` (Utf8 PM|RTH|AH).
 * Sorting, de-duplication and validation as in {@link prepareColumns}.
 */
export function prepareBars(bars: readonly Bar[], symbol: string): pl.LazyDataFrame {
  return preparedFrame(prepareColumns(bars, symbol));
}

/**
 * The frame of the shared plan: rows [0, rows) of a plan's buffer, i.e. the prepared bars of
 * several symbols one after another, with `sym` (Int32, the symbol's position in the plan) and
 * `sym_day` (Int32, one value per symbol and NY day, increasing down the rows) beside the columns
 * of {@link preparedFrame}. The Series copy the data: the buffer is free again once this resolves.
 * Yields to the event loop between columns of a large plan.
 */
export async function batchFrameAsync(b: ColumnBuffer, rows: number): Promise<pl.LazyDataFrame> {
  const p = viewOf(b, 0, rows);
  const arrays = [...columnArrays(p), b.sym.subarray(0, rows), b.symDay.subarray(0, rows)];
  const names = [...COLUMN_NAMES, 'sym', 'sym_day'];
  const series: pl.Series[] = [];
  for (let c = 0; c < names.length; c++) {
    if (rows >= SLICE_BARS && c > 0) await yieldToLoop();
    series.push(pl.Series(names[c], arrays[c]!));
  }
  return frameOf(series);
}
