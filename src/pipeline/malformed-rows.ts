/**
 * One malformed row must fail its own item, not the run: before this, a `sip_timestamp` beyond
 * Int64 or a minute bar without `v` threw an input error that ended the whole run with exit 2,
 * naming no symbol or event, and every rerun died at the same item. These helpers turn such a row
 * into a {@link DataError} naming the symbol, the event and the field, which the stages journal as
 * a failure of that item. The frames of the row path, which need Polars, are in ./row-frames.ts.
 */
import { DataError } from '../errors.js';
import type { Bar, Quote } from '../types.js';

const BAR_FIELDS = ['t', 'o', 'h', 'l', 'c', 'v'] as const;

function show(v: unknown): string {
  if (v === undefined) return 'missing';
  if (typeof v === 'bigint') return `${v}n`;
  try {
    return String(JSON.stringify(v)).slice(0, 40);
  } catch {
    return typeof v;
  }
}

/** Throws {@link DataError} for the first minute bar lacking a finite `t o h l c v`. */
export function checkMinuteBars(symbol: string, bars: readonly Bar[]): void {
  for (let i = 0; i < bars.length; i++) {
    const b = bars[i] as unknown as Record<string, unknown> | null;
    if (b === null || typeof b !== 'object') throw new DataError(`${symbol}: minute bar ${i} is ${show(b)}, not an object`);
    for (const f of BAR_FIELDS) {
      const v = b[f];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new DataError(`${symbol}: minute bar ${i}${typeof b.t === 'number' ? ` (t=${b.t})` : ''} has ${f} ${show(v)}; expected a finite number`);
      }
    }
  }
}

/** The page itself, once every quote has an integer `sip_timestamp` (downsampling buckets by it). */
export function checkQuoteTimes(symbol: string, quotes: Quote[]): Quote[] {
  for (let i = 0; i < quotes.length; i++) {
    const t = (quotes[i] as unknown as Record<string, unknown> | null)?.sip_timestamp;
    if (typeof t !== 'bigint') throw new DataError(`${symbol}: quotes row ${i} has sip_timestamp ${show(t)}; expected an integer (Unix ns)`);
  }
  return quotes;
}
