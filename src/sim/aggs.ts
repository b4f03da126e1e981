/**
 * Aggregate bars over a range, paged the way the real API pages them: `limit` counts base bars
 * (minute bars for minute/hour windows, day bars for day windows), a window is never split across
 * pages, and the next page starts at the window after the last one served.
 */
import { isSessionDay, nyDayOfMs, nyMidnightMs } from './calendar.js';
import { getDayBars, type Density } from './market.js';
import type { AggValue } from './json.js';
import type { Order } from './ticks.js';

export type Timespan = 'minute' | 'hour' | 'day';

export interface AggQuery {
  readonly seed: number;
  readonly eventiness: number;
  /** @default 'sparse' */
  readonly density?: Density;
  readonly ticker: string;
  readonly multiplier: number;
  readonly timespan: Timespan;
  /** Inclusive bounds on base-bar start times, Unix ms. */
  readonly fromMs: number;
  readonly toMs: number;
  readonly sort: Order;
  readonly limit: number;
}

export interface AggPage {
  readonly results: AggValue[];
  /** Base bars aggregated into this page. */
  readonly queryCount: number;
  /** For asc: the `from` (ms) of the next page; for desc: its `to` (ms). Undefined on the last page. */
  readonly nextBoundMs: number | undefined;
}

/** Whole-day aggregate of a session day's minute bars, stamped at New York midnight. */
function dayAgg(q: AggQuery, day: number): AggValue | undefined {
  const b = getDayBars(q.seed, q.ticker, day, q.eventiness, q.density);
  if (b.count === 0) return undefined;
  let h = b.h[0]!;
  let l = b.l[0]!;
  let v = 0;
  let pv = 0;
  let n = 0;
  for (let i = 0; i < b.count; i++) {
    if (b.h[i]! > h) h = b.h[i]!;
    if (b.l[i]! < l) l = b.l[i]!;
    v += b.v[i]!;
    pv += b.pv[i]!;
    n += b.n[i]!;
  }
  return { t: nyMidnightMs(day), o: b.o[0]!, h, l, c: b.c[b.count - 1]!, v, pv, n };
}

/** Base bars of the range in sort order, lazily, day by day. */
function* baseBars(q: AggQuery): Generator<AggValue> {
  const first = nyDayOfMs(q.fromMs);
  const last = nyDayOfMs(q.toMs);
  const asc = q.sort === 'asc';
  for (let day = asc ? first : last; asc ? day <= last : day >= first; day += asc ? 1 : -1) {
    if (!isSessionDay(day)) continue;
    if (q.timespan === 'day') {
      const a = dayAgg(q, day);
      if (a && a.t >= q.fromMs && a.t <= q.toMs) yield a;
      continue;
    }
    const b = getDayBars(q.seed, q.ticker, day, q.eventiness, q.density);
    for (let k = 0; k < b.count; k++) {
      const i = asc ? k : b.count - 1 - k;
      const t = b.t[i]!;
      if (t < q.fromMs || t > q.toMs) continue;
      yield { t, o: b.o[i]!, h: b.h[i]!, l: b.l[i]!, c: b.c[i]!, v: b.v[i]!, pv: b.pv[i]!, n: b.n[i]! };
    }
  }
}

interface Window {
  key: number;
  start: number;
  count: number;
  agg: AggValue;
}

export function aggPage(q: AggQuery): AggPage {
  const asc = q.sort === 'asc';
  const sizeMs = q.timespan === 'minute' ? q.multiplier * 60_000 : q.timespan === 'hour' ? q.multiplier * 3_600_000 : 0;
  // Day windows count calendar days from the range's first day, so a page that restarts at a
  // window start keeps the same alignment.
  const originDay = nyDayOfMs(q.fromMs);
  const windowOf = (t: number): [number, number] => {
    if (sizeMs > 0) {
      const key = Math.floor(t / sizeMs);
      return [key, key * sizeMs];
    }
    const key = Math.floor((nyDayOfMs(t) - originDay) / q.multiplier);
    return [key, nyMidnightMs(originDay + key * q.multiplier)];
  };

  const results: AggValue[] = [];
  let used = 0;
  let cur: Window | undefined;
  // Emits the open window if it fits; false means the page is full and `cur` starts the next one.
  const flush = (): boolean => {
    if (!cur) return true;
    if (results.length > 0 && used + cur.count > q.limit) return false;
    const a = cur.agg;
    results.push({ t: cur.start, o: a.o, h: a.h, l: a.l, c: a.c, v: a.v, pv: a.pv, n: a.n });
    used += cur.count;
    cur = undefined;
    return true;
  };

  for (const bar of baseBars(q)) {
    const [key, start] = windowOf(bar.t);
    if (cur && cur.key === key) {
      const a = cur.agg;
      if (asc) a.c = bar.c;
      else a.o = bar.o;
      if (bar.h > a.h) a.h = bar.h;
      if (bar.l < a.l) a.l = bar.l;
      a.v += bar.v;
      a.pv += bar.pv;
      a.n += bar.n;
      cur.count++;
      continue;
    }
    if (!flush()) break;
    if (used >= q.limit) {
      // Page full and another window exists: the next page starts there.
      cur = { key, start, count: 1, agg: bar };
      break;
    }
    // Each yielded bar is a fresh object, so the window may own and update it.
    cur = { key, start, count: 1, agg: bar };
  }
  if (cur && flush()) cur = undefined;

  let nextBoundMs: number | undefined;
  if (cur) nextBoundMs = asc ? cur.start : results[results.length - 1]!.t - 1;
  return { results, queryCount: used, nextBoundMs };
}
