/** Minute bars of the simulator's market model, built in-process (no HTTP), as `Bar` rows. */
import { isSessionDay, parseDay } from '../../src/sim/calendar.js';
import { aggRecord, minuteAgg } from '../../src/sim/json.js';
import { getDayBars, type Density } from '../../src/sim/market.js';
import type { Bar, EventRow } from '../../src/types.js';

/**
 * The bars the simulator's `/v2/aggs/.../1/minute/from/to` would serve for `ticker` over the session
 * days `from`..`to` (YYYY-MM-DD, inclusive), in time order.
 */
export function simMinuteBars(seed: number, ticker: string, from: string, to: string, density: Density = 'sparse'): Bar[] {
  const first = parseDay(from);
  const last = parseDay(to);
  if (first === undefined || last === undefined) throw new Error(`bad day range ${from}..${to}`);
  const out: Bar[] = [];
  for (let day = first; day <= last; day++) {
    if (!isSessionDay(day)) continue;
    const b = getDayBars(seed, ticker, day, 0.5, density);
    for (let i = 0; i < b.count; i++) out.push(aggRecord(minuteAgg(b, i)));
  }
  return out;
}

/** The equivalence tests' input: 25 tickers × Feb–Mar and Nov–Dec 2024 (both DST switches, holidays, early closes). */
export const SYMBOL_MONTHS = {
  seed: 7,
  tickers: Array.from({ length: 25 }, (_, i) => `EQ${String.fromCharCode(65 + i)}`),
  ranges: [
    ['2024-02-01', '2024-03-31'],
    ['2024-11-01', '2024-12-31'],
  ],
} as const;

/** 100 symbol-months of the simulator's bars ({@link SYMBOL_MONTHS}), one entry per ticker. */
export function simSymbolMonths(): { symbol: string; bars: Bar[] }[] {
  const { seed, tickers, ranges } = SYMBOL_MONTHS;
  return tickers.map((symbol) => ({ symbol, bars: ranges.flatMap(([from, to]) => simMinuteBars(seed, symbol, from, to)) }));
}

/** Events per type over every symbol's rows. */
export function countByType(rows: readonly EventRow[][]): Record<string, number> {
  const n: Record<string, number> = {};
  for (const r of rows.flat()) n[r.event_type] = (n[r.event_type] ?? 0) + 1;
  return n;
}
