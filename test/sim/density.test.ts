/**
 * Dense simulator profiles (issue 16): `busy` and `in-play` hold their promised averages through the
 * 30-minute windows ingest asks for (-10m..+20m around every planted event), in-play bursts are
 * >= 10x its base activity, the busiest in-play windows span several 50,000-row quote pages, and
 * minute bars stay the exact aggregation of the trades. Plus the strict (sliding-window) quota.
 */
import { describe, expect, it } from 'vitest';
import { simDayEvents, simMinuteBars, simQuotes, simTrades, startSim } from '../../src/sim/index.js';
import { nyMidnightMs, parseDay, sessionStartMs } from '../../src/sim/calendar.js';
import { resolveSimOptions } from '../../src/sim/options.js';
import { SlidingWindowQuota } from '../../src/sim/quota.js';
import type { Density } from '../../src/sim/market.js';
import { get } from '../support/sim-http.js';

const SEED = 7;
const TICKERS = ['AAOI', 'BOXL', 'DPRO'];
const DAYS = ['2024-03-05', '2024-03-07', '2024-03-12'];

interface WindowCount {
  readonly trades: number;
  readonly quotes: number;
}

/** Trades and quotes in [event - 10 min, event + 20 min] for every planted event inside 04:10-19:40. */
function eventWindows(density: Density): WindowCount[] {
  const out: WindowCount[] = [];
  for (const ticker of TICKERS) {
    for (const day of DAYS) {
      const base = BigInt(sessionStartMs(parseDay(day)!)) * 1_000_000n;
      for (const ev of simDayEvents(SEED, ticker, day, { density })) {
        if (ev.minute < 10 || ev.minute > 940) continue; // the window must lie inside the session
        const lo = base + BigInt(ev.minute - 10) * 60_000_000_000n;
        const hi = base + BigInt(ev.minute + 20) * 60_000_000_000n - 1n;
        out.push({ trades: simTrades(SEED, ticker, lo, hi, { density }).length, quotes: simQuotes(SEED, ticker, lo, hi, { density }).length });
      }
    }
  }
  return out;
}

const perSecond = (n: number): number => n / 1800;
const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

describe('sim density profiles', () => {
  it('rejects an unknown density naming the value', () => {
    expect(() => resolveSimOptions({ density: 'dense' as Density })).toThrow(/density.*"dense"/);
    expect(resolveSimOptions({}).density).toBe('sparse');
  });

  it('busy: >= 1.5 trades/s and >= 4.5 quotes/s through every 30-minute event window', () => {
    const w = eventWindows('busy');
    expect(w.length).toBeGreaterThan(3);
    for (const x of w) {
      expect(perSecond(x.trades)).toBeGreaterThanOrEqual(1.5);
      expect(perSecond(x.quotes)).toBeGreaterThanOrEqual(4.5);
    }
    console.log(`busy: ${w.length} windows, mean ${mean(w.map((x) => perSecond(x.trades))).toFixed(2)} trades/s, ${mean(w.map((x) => perSecond(x.quotes))).toFixed(2)} quotes/s`);
  }, 300_000);

  it('in-play: >= 3 trades/s and >= 10 quotes/s per window; the busiest need several 50,000-row quote pages', () => {
    const w = eventWindows('in-play');
    expect(w.length).toBeGreaterThan(5);
    for (const x of w) {
      expect(perSecond(x.trades)).toBeGreaterThanOrEqual(3);
      expect(perSecond(x.quotes)).toBeGreaterThanOrEqual(10);
    }
    const busiest = Math.max(...w.map((x) => x.quotes));
    expect(busiest).toBeGreaterThan(2 * 50_000);
    // Sparse for comparison: the same tickers and days are far thinner.
    const sparse = eventWindows('sparse');
    expect(mean(w.map((x) => x.trades))).toBeGreaterThan(3 * mean(sparse.map((x) => x.trades)));
    console.log(`in-play: ${w.length} windows, mean ${mean(w.map((x) => perSecond(x.trades))).toFixed(2)} trades/s, ${mean(w.map((x) => perSecond(x.quotes))).toFixed(2)} quotes/s, busiest ${busiest} quotes`);
  }, 300_000);

  it('in-play: the minutes of spikes, flushes and volume bursts trade >= 10x the day median', () => {
    let checked = 0;
    for (const ticker of TICKERS) {
      for (const day of DAYS) {
        const bars = simMinuteBars(SEED, ticker, day, { density: 'in-play' });
        const start = sessionStartMs(parseDay(day)!);
        const n = new Map(bars.map((b) => [(b.t - start) / 60_000, b.n]));
        const sorted = bars.map((b) => b.n).sort((a, b) => a - b);
        const median = sorted[sorted.length >> 1]!;
        for (const ev of simDayEvents(SEED, ticker, day, { density: 'in-play' })) {
          if (ev.kind !== 'spike' && ev.kind !== 'flush' && ev.kind !== 'volume_burst') continue;
          // The event's first minute is burst for every kind (durations are >= 1 minute).
          expect(n.get(ev.minute) ?? 0).toBeGreaterThanOrEqual(10 * median * 0.75);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(0);
  }, 300_000);

  for (const density of ['busy', 'in-play'] as const) {
    it(`${density}: minute bars are exactly the aggregation of the trades`, () => {
      const day = '2024-03-07';
      const d = parseDay(day)!;
      const trades = simTrades(SEED, 'BOXL', BigInt(nyMidnightMs(d)) * 1_000_000n, BigInt(nyMidnightMs(d + 1)) * 1_000_000n - 1n, { density });
      const bars = simMinuteBars(SEED, 'BOXL', day, { density });
      expect(bars.length).toBe(960); // dense: every minute of 04:00-20:00 trades
      let k = 0;
      for (const b of bars) {
        const endNs = BigInt(b.t + 60_000) * 1_000_000n;
        let o = 0, c = 0, h = -Infinity, l = Infinity, v = 0, n = 0, pv = 0;
        for (; k < trades.length && trades[k]!.sip_timestamp < endNs; k++) {
          const t = trades[k]!;
          if (n === 0) o = t.price;
          c = t.price;
          h = Math.max(h, t.price);
          l = Math.min(l, t.price);
          v += t.size;
          pv += t.price * t.size;
          n++;
        }
        expect({ o: b.o, h: b.h, l: b.l, c: b.c, v: b.v, n: b.n }).toEqual({ o, h, l, c, v, n });
        expect(Math.abs(b.vw - pv / v) / b.vw).toBeLessThan(1e-9);
      }
      expect(k).toBe(trades.length);
    }, 300_000);
  }

  it('dense quotes bracket every trade and stay strictly increasing', () => {
    const base = BigInt(sessionStartMs(parseDay('2024-03-05')!)) * 1_000_000n;
    const lo = base + 330n * 60_000_000_000n;
    const hi = lo + 20n * 60_000_000_000n;
    const trades = simTrades(SEED, 'AAOI', lo, hi, { density: 'in-play' });
    const quotes = simQuotes(SEED, 'AAOI', lo, hi, { density: 'in-play' });
    expect(quotes.length).toBeGreaterThan(3 * trades.length);
    let q = 0;
    for (const t of trades) {
      while (q + 1 < quotes.length && quotes[q + 1]!.sip_timestamp < t.sip_timestamp) q++;
      const nbbo = quotes[q]!;
      expect(nbbo.sip_timestamp).toBeLessThan(t.sip_timestamp);
      expect(nbbo.bid_price).toBeLessThanOrEqual(t.price);
      expect(nbbo.ask_price).toBeGreaterThanOrEqual(t.price);
    }
    for (let i = 1; i < quotes.length; i++) expect(quotes[i]!.sip_timestamp > quotes[i - 1]!.sip_timestamp).toBe(true);
  }, 300_000);
});

describe('sim strict quota (sliding window)', () => {
  it('admits at most `rate` requests in any 1000 ms, no burst, refused requests do not count', () => {
    let now = 0;
    const q = new SlidingWindowQuota(10, () => now);
    let ok = 0;
    for (let i = 0; i < 30; i++) if (q.take()) ok++;
    expect(ok).toBe(10);
    expect(q.retryAfterSeconds()).toBe(1);
    now = 999; // the first ten are still inside the window
    expect(q.take()).toBe(false);
    now = 1000;
    ok = 0;
    for (let i = 0; i < 30; i++) if (q.take()) ok++;
    expect(ok).toBe(10);
    // Evenly paced at exactly the rate: every request passes.
    const paced = new SlidingWindowQuota(50, () => now);
    for (let i = 0; i < 500; i++) {
      now = 10_000 + i * 20;
      expect(paced.take()).toBe(true);
    }
    // One request early (a window of 1000 ms holding 51) is refused.
    now = 10_000 + 500 * 20 - 1;
    const early = new SlidingWindowQuota(50, () => now);
    for (let i = 0; i < 50; i++) {
      now = 20_000 + i * 20;
      early.take();
    }
    now = 20_000 + 999;
    expect(early.take()).toBe(false);
    const slow = new SlidingWindowQuota(0.1, () => now); // one per 10 s
    expect(slow.take()).toBe(true);
    expect(slow.take()).toBe(false);
    expect(slow.retryAfterSeconds()).toBe(10);
  });

  it('the server in strict mode refuses what the tolerant bucket would admit', async () => {
    const strict = await startSim({ seed: 1, rate: 5, quotaMode: 'strict', retryAfter: true });
    try {
      const rs = await Promise.all(Array.from({ length: 12 }, () => get(`${strict.url}/v3/reference/tickers?limit=1&apiKey=k`)));
      expect(rs.filter((r) => r.status === 200).length).toBe(5);
      const limited = rs.filter((r) => r.status === 429);
      expect(limited.length).toBe(7);
      for (const r of limited) expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    } finally {
      await strict.close();
    }
    expect(() => resolveSimOptions({ quotaMode: 'lenient' as 'strict' })).toThrow(/quotaMode.*"lenient"/);
  });
});
