/**
 * The simulated Polygon-compatible market: a deterministic loopback HTTP server ({@link startSim})
 * and the data functions that are its ground truth ({@link simMinuteBars}, {@link simTrades},
 * {@link simQuotes}), so tests and pipelines can compare what they downloaded with what exists.
 *
 * Data conventions:
 * - Every weekday is a session (no holidays), 04:00–20:00 New York, DST per the post-2007 US rule.
 * - Minute bars are the exact aggregation of the trades of their minute (all trades are eligible):
 *   o/c = first/last price, h/l = max/min, v = sum of sizes, n = count, vw = sum(price*size)/v.
 *   o/h/l/c/v/n are exactly equal; vw is computed once from exact integer sums, so a client
 *   recomputing it from trade prices as doubles agrees within a relative 1e-12.
 * - Prices are on a $0.01 grid at or above $1 and a $0.0001 grid below.
 * - `request_id` is a hash of the seed and the request (method, path, query without the key):
 *   equal requests get equal ids, so same seed gives byte-identical responses.
 */
import { InputError } from '../errors.js';
import type { Bar, Quote, Trade } from '../types.js';
import { nyDayOfMs, parseDay } from './calendar.js';
import { aggRecord, minuteAgg, quoteRecord, tradeRecord } from './json.js';
import { DEFAULT_EVENTINESS, DENSITIES, dayPlan, getDayBars, type DayEvent, type Density, type SimDataOptions } from './market.js';
import { resolveSimOptions, type SimOptions } from './options.js';
import { TICKER_RE } from './routes.js';
import { startServer, type SimServer } from './server.js';
import { scanTicks } from './ticks.js';

export type { SimOptions, LatencyOption, UniformLatency, LognormalLatency, QuotaMode } from './options.js';
export type { SimServer } from './server.js';
export type { SimStats } from './stats.js';
export { startSimThread, type SimThread } from './thread.js';
export type { SimDataOptions, DayEvent, DayEventKind, Density } from './market.js';

/** Starts the simulator. Options are validated first ({@link InputError} naming the bad value). */
export async function startSim(opts: SimOptions = {}): Promise<SimServer> {
  return startServer(resolveSimOptions(opts));
}

function checkArgs(seed: number, ticker: string, eventiness: number | undefined): number {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw new InputError(`sim seed: expected a whole number >= 0, got ${String(seed)} (${typeof seed})`);
  }
  if (typeof ticker !== 'string' || !TICKER_RE.test(ticker)) {
    throw new InputError(`sim ticker: expected 1-10 of A-Z, 0-9, '.' starting with a letter, got ${JSON.stringify(ticker)} (${typeof ticker})`);
  }
  const e = eventiness ?? DEFAULT_EVENTINESS;
  if (typeof e !== 'number' || !(e >= 0 && e <= 1)) {
    throw new InputError(`sim eventiness: expected a number from 0 to 1, got ${String(e)} (${typeof e})`);
  }
  return e;
}

function density(opts: SimDataOptions): Density {
  const d = opts.density ?? 'sparse';
  if (!DENSITIES.includes(d)) {
    throw new InputError(`sim density: expected one of ${DENSITIES.join(', ')}, got ${JSON.stringify(d)} (${typeof d})`);
  }
  return d;
}

function checkDay(day: string): number {
  const d = typeof day === 'string' ? parseDay(day) : undefined;
  if (d === undefined) throw new InputError(`sim day: expected a date YYYY-MM-DD, got ${JSON.stringify(day)} (${typeof day})`);
  return d;
}

/**
 * The minute bars the server returns for `ticker` on the New York date `day` (ascending; empty on
 * weekends). Pass the server's `eventiness` if it was not the default.
 */
export function simMinuteBars(seed: number, ticker: string, day: string, opts: SimDataOptions = {}): Bar[] {
  const e = checkArgs(seed, ticker, opts.eventiness);
  const b = getDayBars(seed, ticker, checkDay(day), e, density(opts));
  const out: Bar[] = new Array(b.count);
  for (let i = 0; i < b.count; i++) out[i] = aggRecord(minuteAgg(b, i));
  return out;
}

function nsBounds(gteNs: bigint, lteNs: bigint): void {
  if (typeof gteNs !== 'bigint' || typeof lteNs !== 'bigint') {
    throw new InputError(`sim range: expected bigint nanoseconds, got ${String(gteNs)} (${typeof gteNs}) and ${String(lteNs)} (${typeof lteNs})`);
  }
}

/**
 * Every trade with gteNs <= sip_timestamp <= lteNs, ascending: exactly what the server returns for
 * that range, in asc order, across all pages.
 */
export function simTrades(seed: number, ticker: string, gteNs: bigint, lteNs: bigint, opts: SimDataOptions = {}): Trade[] {
  const e = checkArgs(seed, ticker, opts.eventiness);
  nsBounds(gteNs, lteNs);
  const out: Trade[] = [];
  scanTicks({ seed, eventiness: e, density: density(opts), ticker, kind: 'trades', lo: gteNs, hi: lteNs, order: 'asc' }, (d, i) => {
    out.push(tradeRecord(d, i));
    return true;
  });
  return out;
}

/** Every quote with gteNs <= sip_timestamp <= lteNs, ascending (see {@link simTrades}). */
export function simQuotes(seed: number, ticker: string, gteNs: bigint, lteNs: bigint, opts: SimDataOptions = {}): Quote[] {
  const e = checkArgs(seed, ticker, opts.eventiness);
  nsBounds(gteNs, lteNs);
  const out: Quote[] = [];
  scanTicks({ seed, eventiness: e, density: density(opts), ticker, kind: 'quotes', lo: gteNs, hi: lteNs, order: 'asc' }, (d, i) => {
    out.push(quoteRecord(d, i));
    return true;
  });
  return out;
}

/** The events the generator planted in a ticker-day (minute index from 04:00 New York). */
export function simDayEvents(seed: number, ticker: string, day: string, opts: SimDataOptions = {}): readonly DayEvent[] {
  const e = checkArgs(seed, ticker, opts.eventiness);
  const d = checkDay(day);
  const w = new Date(d * 86_400_000).getUTCDay();
  if (w === 0 || w === 6) return [];
  return dayPlan(seed, ticker, d, e, density(opts)).events;
}

/** The New York date (YYYY-MM-DD) of a Unix ms instant, as the simulator's calendar sees it. */
export function simNyDate(ms: number): string {
  return new Date(nyDayOfMs(ms) * 86_400_000).toISOString().slice(0, 10);
}
