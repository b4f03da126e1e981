/**
 * The per-symbol pass: every detector's `candidates` over ONE symbol's frame, concatenated into one
 * lazy plan, one asynchronous collect, cooldown in JS. This was the only path before the shared
 * batch plan; it remains the fallback for detectors without a `plan` part and the reference the
 * shared plan is tested against (test/detect/shared-plan-equivalence.test.ts).
 */
import pl from 'nodejs-polars';
import { InputError } from '../errors.js';
import type { Bar, EventRow } from '../types.js';
import { CooldownGate, sortEventRows } from './cooldown.js';
import type { Detector } from './detector.js';
import { prepareColumnsAsync, preparedFrameAsync, type PreparedBars } from './prepare.js';
import { validateDetectors, validateSymbol } from './validate.js';

const DETECTOR_INDEX = '__detector';
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

/** Events of `detectors` over one symbol's prepared bars, by the per-symbol pass (unsorted). */
export async function perSymbolPass(prepared: PreparedBars, symbol: string, detectors: readonly Detector[]): Promise<EventRow[]> {
  if (detectors.length === 0 || prepared.length === 0) return [];
  const frame = await preparedFrameAsync(prepared);
  const ctx = { symbol };
  const parts = detectors.map((d, i) => d.candidates(frame, ctx).select(...normalizeColumns(i)));
  const df = await (parts.length === 1 ? parts[0]! : pl.concat(parts, { how: 'vertical', rechunk: false })).collect();
  if (df.height === 0) return [];

  const c = candidatesOf(df);
  const order = new Uint32Array(df.height);
  for (let i = 0; i < order.length; i++) {
    const ti = c.t[i];
    if (typeof ti !== 'number' || !Number.isFinite(ti)) {
      throw new InputError(`detector ${detectors[c.det[i]!]!.name} returned a candidate without a valid t: ${String(ti)}`);
    }
    order[i] = i;
  }
  order.sort((a, b) => c.det[a]! - c.det[b]! || (c.t[a] as number) - (c.t[b] as number));

  const gates = detectors.map((d) => new CooldownGate(d));
  const out: EventRow[] = [];
  for (const i of order) {
    const row = gates[c.det[i]!]!.admit(symbol, c.t[i] as number, { price: c.price[i]!, volume: c.volume[i]!, vwap: c.vwap[i]!, measure: c.measure[i]! });
    if (row !== undefined) out.push(row);
  }
  return out;
}

/**
 * Events of one symbol by the per-symbol pass alone, every detector through its `candidates`
 * (their `plan` parts are ignored). Same rows as {@link detectEvents}; kept as the reference.
 *
 * @example
 * ```ts
 * const reference = await detectEventsPerSymbol(bars, 'ABCD', builtinDetectors());
 * ```
 */
export async function detectEventsPerSymbol(bars: readonly Bar[], symbol: string, detectors: readonly Detector[]): Promise<EventRow[]> {
  validateDetectors(detectors);
  validateSymbol(symbol);
  if (detectors.length === 0) return [];
  const prepared = await prepareColumnsAsync(bars, symbol);
  return sortEventRows(await perSymbolPass(prepared, symbol, detectors));
}
