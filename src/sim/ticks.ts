/**
 * Range scans over trades and quotes across session days, in either order, resumable after a
 * marker timestamp. sip_timestamp is strictly increasing within a ticker (days never overlap), so
 * "strictly after the last timestamp served" is a cursor that can neither skip nor repeat a record.
 */
import { isSessionDay, nyDayOfMs } from './calendar.js';
import { getDayTicks, type DayTicks, type Density } from './market.js';

export type TickKind = 'trades' | 'quotes';
export type Order = 'asc' | 'desc';

export interface TickScan {
  readonly seed: number;
  readonly eventiness: number;
  /** @default 'sparse' */
  readonly density?: Density;
  readonly ticker: string;
  readonly kind: TickKind;
  /** Inclusive bounds, Unix ns. */
  readonly lo: bigint;
  readonly hi: bigint;
  readonly order: Order;
  /** Resume strictly after (asc) / before (desc) this sip_timestamp. */
  readonly after?: bigint;
}

function dayOfNs(ns: bigint): number {
  return nyDayOfMs(Number(ns / 1_000_000n));
}

/** First index with value >= x. */
function lowerBound(a: Float64Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Offset of `ns` from a day's base, clamped into a range where doubles stay exact enough to compare. */
function offsetOf(ns: bigint, baseNs: bigint): number {
  const d = ns - baseNs;
  if (d < -(10n ** 15n)) return -1e15;
  if (d > 10n ** 15n) return 1e15;
  return Number(d);
}

/**
 * Visits matching records in order, calling `visit(day, index)` until it returns false.
 * Returns true when it stopped early (so there may be more), false when the range is exhausted.
 */
export function scanTicks(scan: TickScan, visit: (d: DayTicks, i: number) => boolean): boolean {
  let lo = scan.lo;
  let hi = scan.hi;
  if (scan.after !== undefined) {
    if (scan.order === 'asc') lo = scan.after + 1n > lo ? scan.after + 1n : lo;
    else hi = scan.after - 1n < hi ? scan.after - 1n : hi;
  }
  if (lo > hi || hi < 0n) return false;
  if (lo < 0n) lo = 0n;
  const first = dayOfNs(lo);
  const last = dayOfNs(hi);
  const asc = scan.order === 'asc';
  for (let day = asc ? first : last; asc ? day <= last : day >= first; day += asc ? 1 : -1) {
    if (!isSessionDay(day)) continue;
    const d = getDayTicks(scan.seed, scan.ticker, day, scan.eventiness, scan.density);
    const n = scan.kind === 'trades' ? d.tradeCount : d.quoteCount;
    if (n === 0) continue;
    const sip = scan.kind === 'trades' ? d.tSip : d.qSip;
    const baseNs = BigInt(d.baseMs) * 1_000_000n;
    const loOff = offsetOf(lo, baseNs);
    const hiOff = offsetOf(hi, baseNs);
    if (asc) {
      for (let i = lowerBound(sip, n, loOff); i < n && sip[i]! <= hiOff; i++) if (!visit(d, i)) return true;
    } else {
      for (let i = lowerBound(sip, n, hiOff + 1) - 1; i >= 0 && sip[i]! >= loOff; i--) if (!visit(d, i)) return true;
    }
  }
  return false;
}

export interface TickPage {
  readonly count: number;
  /** sip_timestamp of the last row, when there is a next page. */
  readonly next: bigint | undefined;
}

/** One page of at most `limit` rows, looking one record ahead to know whether a next page exists. */
export function tickPage(scan: TickScan, limit: number, emit: (d: DayTicks, i: number) => void): TickPage {
  let count = 0;
  let lastDay: DayTicks | undefined;
  let lastIndex = -1;
  const more = scanTicks(scan, (d, i) => {
    if (count === limit) return false;
    emit(d, i);
    count++;
    lastDay = d;
    lastIndex = i;
    return true;
  });
  if (!more || lastDay === undefined) return { count, next: undefined };
  const sip = scan.kind === 'trades' ? lastDay.tSip : lastDay.qSip;
  return { count, next: BigInt(lastDay.baseMs) * 1_000_000n + BigInt(sip[lastIndex]!) };
}
