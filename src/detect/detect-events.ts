/** Runs detectors over one symbol's bars: one lazy plan, one asynchronous collect, cooldown in JS. */
import pl from 'nodejs-polars';
import { InputError } from '../errors.js';
import type { Bar, EventRow } from '../types.js';
import { nyEpochDay, sessionOf } from './calendar.js';
import type { Detector } from './detector.js';
import { prepareColumnsAsync, preparedFrameAsync } from './prepare.js';

const MINUTE_MS = 60_000;
const DETECTOR_INDEX = '__detector';

/** Throws {@link InputError} for a detector list the framework cannot run unambiguously. */
export function validateDetectors(detectors: readonly Detector[]): void {
  if (!Array.isArray(detectors)) {
    throw new InputError(`detectors must be an array, got ${String(detectors)} (${typeof detectors})`);
  }
  const seen = new Set<string>();
  for (const d of detectors) {
    const name: unknown = d?.name;
    if (typeof name !== 'string' || name.length === 0) {
      throw new InputError(`a detector has no name: got ${String(name)} (${typeof name})`);
    }
    if (seen.has(name)) throw new InputError(`detector ${JSON.stringify(name)} is listed twice`);
    seen.add(name);
    if (typeof d.candidates !== 'function') throw new InputError(`detector ${name}: candidates must be a function`);
    const cd: unknown = d.cooldownMinutes;
    if (cd !== undefined && (typeof cd !== 'number' || !Number.isFinite(cd) || cd < 0)) {
      throw new InputError(`detector ${name}: cooldownMinutes must be a finite number >= 0, got ${String(cd)} (${typeof cd})`);
    }
    const once: unknown = d.oncePerDay;
    if (once !== undefined && typeof once !== 'boolean') {
      throw new InputError(`detector ${name}: oncePerDay must be a boolean, got ${String(once)} (${typeof once})`);
    }
  }
}

const normalized: pl.Expr[][] = [];

/**
 * The common output columns of the i-th detector, cached because building nodejs-polars Exprs costs
 * more than running them on one symbol.
 */
function normalizeColumns(i: number): pl.Expr[] {
  let cols = normalized[i];
  if (cols === undefined) {
    cols = [
      pl.col('t').cast(pl.Float64).alias('t'),
      pl.col('price').cast(pl.Float64).fillNull(Number.NaN).alias('price'),
      pl.col('volume').cast(pl.Float64).fillNull(Number.NaN).alias('volume'),
      // NaN instead of null so the columns can leave Polars as typed arrays.
      pl.col('vwap').cast(pl.Float64).fillNull(Number.NaN).alias('vwap'),
      pl.col('measure').cast(pl.Float64).fillNull(Number.NaN).alias('measure'),
      pl.lit(i).cast(pl.Int32).alias(DETECTOR_INDEX),
    ];
    normalized[i] = cols;
  }
  return cols;
}

interface Candidates {
  readonly t: ArrayLike<number | null>;
  readonly price: ArrayLike<number>;
  readonly volume: ArrayLike<number>;
  readonly vwap: ArrayLike<number>;
  readonly measure: ArrayLike<number>;
  readonly det: ArrayLike<number>;
}

/** Below this many rows one rows() call is cheaper than six column wrappers; above it, far slower. */
const ROWS_CUTOFF = 4096;

function candidatesOf(df: pl.DataFrame): Candidates {
  if (df.height < ROWS_CUTOFF) {
    const rows = df.rows() as number[][];
    const col = (k: number): number[] => rows.map((r) => r[k]!);
    return { t: col(0), price: col(1), volume: col(2), vwap: col(3), measure: col(4), det: col(5) };
  }
  const col = (name: string): ArrayLike<number> => df.getColumn(name).toTypedArray() as ArrayLike<number>;
  // t may hold nulls from a faulty user detector, which toTypedArray refuses.
  const t = df.getColumn('t');
  return {
    t: t.nullCount() === 0 ? (t.toTypedArray() as ArrayLike<number>) : (t.toArray() as (number | null)[]),
    price: col('price'),
    volume: col('volume'),
    vwap: col('vwap'),
    measure: col('measure'),
    det: col(DETECTOR_INDEX),
  };
}

/**
 * Events of one symbol: every detector's candidates, then per (detector, NY day) the first candidate
 * and each next one at least `cooldownMinutes` after the last kept event (only the first with
 * `oncePerDay`). Rows are sorted by (timestamp, event_type).
 *
 * All detectors run as one lazy plan finished by the asynchronous `collect()`, so the event loop
 * stays free while Polars works; the bar preparation (a typed-array pass) runs on it in slices of
 * 65,536 bars. Only an unsorted input's sort is one uninterrupted step.
 * Throws {@link InputError} for bad bars (see prepareColumns) or a bad detector list.
 *
 * @example
 * ```ts
 * const rows = await detectEvents(bars, 'ABCD', detectorsByName(['flush', 'vwap_break']));
 * ```
 */
export async function detectEvents(bars: readonly Bar[], symbol: string, detectors: readonly Detector[]): Promise<EventRow[]> {
  validateDetectors(detectors);
  if (typeof symbol !== 'string' || symbol.length === 0) {
    throw new InputError(`symbol must be a non-empty string, got ${String(symbol)} (${typeof symbol})`);
  }
  if (detectors.length === 0) return [];
  const prepared = await prepareColumnsAsync(bars, symbol);
  if (prepared.length === 0) return [];
  const frame = await preparedFrameAsync(prepared);
  const ctx = { symbol };
  const parts = detectors.map((d, i) => d.candidates(frame, ctx).select(...normalizeColumns(i)));
  const df = await (parts.length === 1 ? parts[0]! : pl.concat(parts, { how: 'vertical', rechunk: false })).collect();
  if (df.height === 0) return [];

  const { t, price, volume, vwap, measure, det } = candidatesOf(df);
  const order = new Uint32Array(df.height);
  for (let i = 0; i < order.length; i++) {
    const ti = t[i];
    if (typeof ti !== 'number' || !Number.isFinite(ti)) {
      throw new InputError(`detector ${detectors[det[i]!]!.name} returned a candidate without a valid t: ${String(ti)}`);
    }
    order[i] = i;
  }
  order.sort((a, b) => det[a]! - det[b]! || (t[a] as number) - (t[b] as number));

  const out: EventRow[] = [];
  let curDet = -1;
  let lastDay = Number.NaN;
  let lastT = Number.NEGATIVE_INFINITY;
  for (const i of order) {
    const d = det[i]!;
    const ti = t[i] as number;
    if (d !== curDet) {
      curDet = d;
      lastDay = Number.NaN;
    }
    const detector = detectors[d]!;
    const day = nyEpochDay(ti);
    if (day === lastDay) {
      if (detector.oncePerDay === true) continue;
      const cooldownMs = (detector.cooldownMinutes ?? 0) * MINUTE_MS;
      // A repeated t is the same bar: never a second event, even without a cooldown.
      if (ti <= lastT || ti < lastT + cooldownMs) continue;
    }
    const session = sessionOf(ti);
    if (session === undefined) {
      throw new InputError(`detector ${detector.name} returned a candidate at t=${ti}, outside 04:00-20:00 New York time`);
    }
    lastDay = day;
    lastT = ti;
    out.push({
      symbol,
      event_type: detector.name,
      timestamp: ti,
      session,
      price: price[i]!,
      volume: volume[i]!,
      vwap: vwap[i]!,
      measure: measure[i]!,
    });
  }
  out.sort((a, b) => a.timestamp - b.timestamp || (a.event_type < b.event_type ? -1 : a.event_type > b.event_type ? 1 : 0));
  return out;
}
