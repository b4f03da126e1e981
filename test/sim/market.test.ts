import { describe, expect, it } from 'vitest';
import { simDayEvents, simMinuteBars, simQuotes, simTrades } from '../../src/sim/index.js';
import { formatDay, isSessionDay, nyMidnightMs, parseDay, sessionStartMs } from '../../src/sim/calendar.js';
import { countDayEvents, rthClose, type DayEventCounts } from '../support/sim-detectors.js';
import type { Bar, Trade } from '../../src/types.js';

const SEED = 7;

function dayRangeNs(day: string): [bigint, bigint] {
  const d = parseDay(day)!;
  return [BigInt(nyMidnightMs(d)) * 1_000_000n, BigInt(nyMidnightMs(d + 1)) * 1_000_000n - 1n];
}

/** Minute bars recomputed from trades: the contract simMinuteBars must meet. */
function aggregate(trades: readonly Trade[]): Bar[] {
  const byMinute = new Map<number, Trade[]>();
  for (const t of trades) {
    const minute = Number(t.sip_timestamp / 60_000_000_000n) * 60_000;
    let list = byMinute.get(minute);
    if (!list) byMinute.set(minute, (list = []));
    list.push(t);
  }
  return [...byMinute.entries()].map(([t, list]) => {
    const v = list.reduce((s, x) => s + x.size, 0);
    return {
      t,
      o: list[0]!.price,
      c: list[list.length - 1]!.price,
      h: Math.max(...list.map((x) => x.price)),
      l: Math.min(...list.map((x) => x.price)),
      v,
      n: list.length,
      vw: list.reduce((s, x) => s + x.price * x.size, 0) / v,
    };
  });
}

function onGrid(price: number): boolean {
  const e4 = Math.round(price * 1e4);
  if (Math.abs(e4 / 1e4 - price) > 1e-12) return false;
  return price >= 1 ? e4 % 100 === 0 : true;
}

describe('sim market data', () => {
  const cases = [
    ['AAOI', '2024-03-11'], // first session after spring-forward
    ['ABVC', '2024-11-04'], // first session after fall-back
    ['CETX', '2024-03-08'], // last EST session before the change
    ['X', '2023-06-15'],
    ['BRK.B', '2024-01-02'],
  ] as const;

  for (const [ticker, day] of cases) {
    it(`${ticker} ${day}: minute bars are exactly the aggregation of the trades`, () => {
      const bars = simMinuteBars(SEED, ticker, day);
      const [lo, hi] = dayRangeNs(day);
      const trades = simTrades(SEED, ticker, lo, hi);
      expect(bars.length).toBeGreaterThan(100);
      expect(trades.length).toBeGreaterThan(bars.length);
      const agg = aggregate(trades);
      expect(agg.length).toBe(bars.length);
      for (let i = 0; i < bars.length; i++) {
        const b = bars[i]!;
        const a = agg[i]!;
        expect({ t: b.t, o: b.o, h: b.h, l: b.l, c: b.c, v: b.v, n: b.n }).toEqual({ t: a.t, o: a.o, h: a.h, l: a.l, c: a.c, v: a.v, n: a.n });
        // Documented tolerance: vw agrees within a relative 1e-12.
        expect(Math.abs(b.vw - a.vw) / a.vw).toBeLessThan(1e-12);
      }
      // Bars start at 04:00 New York (DST-correct) and end before 20:00.
      const start = sessionStartMs(parseDay(day)!);
      expect(bars[0]!.t).toBeGreaterThanOrEqual(start);
      expect(bars[bars.length - 1]!.t).toBeLessThan(start + 16 * 3_600_000);
      // Sparse: some minutes have no bar.
      expect(bars.length).toBeLessThan(960);
    });
  }

  it('has no data on weekends', () => {
    expect(simMinuteBars(SEED, 'AAOI', '2024-03-09')).toEqual([]);
    expect(simMinuteBars(SEED, 'AAOI', '2024-03-10')).toEqual([]);
    const [lo, hi] = dayRangeNs('2024-03-09');
    expect(simTrades(SEED, 'AAOI', lo, hi)).toEqual([]);
    expect(simQuotes(SEED, 'AAOI', lo, hi)).toEqual([]);
    expect(simDayEvents(SEED, 'AAOI', '2024-03-10')).toEqual([]);
  });

  it('trades: strictly increasing sip_timestamp, valid fields, prices on the tick grid', () => {
    const [lo, hi] = dayRangeNs('2024-03-11');
    const trades = simTrades(SEED, 'ADTX', lo, hi);
    let trf = 0;
    for (let i = 0; i < trades.length; i++) {
      const t = trades[i]!;
      if (i > 0) {
        expect(t.sip_timestamp).toBeGreaterThan(trades[i - 1]!.sip_timestamp);
        expect(t.sequence_number).toBeGreaterThan(trades[i - 1]!.sequence_number);
      }
      expect(t.participant_timestamp).toBeLessThan(t.sip_timestamp);
      expect(onGrid(t.price)).toBe(true);
      expect(t.price).toBeGreaterThan(0);
      expect(Number.isInteger(t.size) && t.size > 0).toBe(true);
      if (t.trf_id !== undefined) {
        trf++;
        expect(t.exchange).toBe(4);
        expect(t.trf_timestamp!).toBeGreaterThan(t.participant_timestamp);
        expect(t.trf_timestamp!).toBeLessThan(t.sip_timestamp);
      }
    }
    expect(trf).toBeGreaterThan(trades.length * 0.2);
    expect(trades.length).toBeGreaterThan(500);
  });

  it('quotes: bracket every trade at its time, 2-3 per trade, strictly increasing', () => {
    for (const [ticker, day] of [
      ['AAOI', '2024-03-11'],
      ['ALZN', '2024-11-04'],
    ] as const) {
      const [lo, hi] = dayRangeNs(day);
      const trades = simTrades(SEED, ticker, lo, hi);
      const quotes = simQuotes(SEED, ticker, lo, hi);
      const ratio = quotes.length / trades.length;
      expect(ratio).toBeGreaterThan(2);
      expect(ratio).toBeLessThan(3);
      for (let i = 1; i < quotes.length; i++) expect(quotes[i]!.sip_timestamp).toBeGreaterThan(quotes[i - 1]!.sip_timestamp);
      let q = -1;
      for (const t of trades) {
        while (q + 1 < quotes.length && quotes[q + 1]!.sip_timestamp <= t.sip_timestamp) q++;
        expect(q).toBeGreaterThanOrEqual(0);
        const nbbo = quotes[q]!;
        expect(nbbo.bid_price).toBeLessThanOrEqual(t.price);
        expect(nbbo.ask_price).toBeGreaterThanOrEqual(t.price);
      }
      for (const x of quotes) {
        expect(x.bid_price).toBeLessThan(x.ask_price);
        expect(x.bid_size).toBeGreaterThan(0);
        expect(x.ask_size).toBeGreaterThan(0);
      }
    }
  });

  it('sub-range queries return exactly the matching slice', () => {
    const [lo, hi] = dayRangeNs('2024-03-11');
    const all = simTrades(SEED, 'AAOI', lo, hi);
    const a = all[100]!.sip_timestamp;
    const b = all[250]!.sip_timestamp;
    expect(simTrades(SEED, 'AAOI', a, b)).toEqual(all.slice(100, 251));
    expect(simTrades(SEED, 'AAOI', a + 1n, b - 1n)).toEqual(all.slice(101, 250));
    expect(simTrades(SEED, 'AAOI', b, a)).toEqual([]);
  });

  it('is deterministic per seed and differs between seeds', () => {
    expect(simMinuteBars(SEED, 'AAOI', '2024-03-12')).toEqual(simMinuteBars(SEED, 'AAOI', '2024-03-12'));
    expect(simMinuteBars(SEED + 1, 'AAOI', '2024-03-12')).not.toEqual(simMinuteBars(SEED, 'AAOI', '2024-03-12'));
    expect(simMinuteBars(SEED, 'AAOJ', '2024-03-12')).not.toEqual(simMinuteBars(SEED, 'AAOI', '2024-03-12'));
    expect(simMinuteBars(SEED, 'AAOI', '2024-03-12', { eventiness: 1 })).not.toEqual(simMinuteBars(SEED, 'AAOI', '2024-03-12', { eventiness: 0 }));
  });

  it('keeps prices in the small-cap range and the close consistent with the next open', () => {
    let big = 0;
    let pairs = 0;
    for (const ticker of ['AAOI', 'ABVC', 'ADTX', 'AEHL', 'AGRI']) {
      let prev: number | undefined;
      for (let d = parseDay('2024-04-01')!; d < parseDay('2024-04-20')!; d++) {
        if (!isSessionDay(d)) continue;
        const bars = simMinuteBars(SEED, ticker, formatDay(d));
        for (const b of bars) {
          expect(b.l).toBeGreaterThan(0.3);
          expect(b.h).toBeLessThan(60);
        }
        const open = bars.find((b) => b.t >= sessionStartMs(d) + 330 * 60_000)!.o;
        if (prev !== undefined) {
          pairs++;
          if (Math.abs(open / prev - 1) > 0.35) big++;
        }
        prev = rthClose(bars, sessionStartMs(d));
      }
    }
    expect(big).toBeLessThan(pairs * 0.1);
  });

  it('makes every detector kind fire regularly (figures printed)', () => {
    const tickers = ['AAOI', 'ABVC', 'ADTX', 'AEHL', 'AGRI', 'AIRI', 'AKAN', 'ALZN', 'AMIX', 'APDN', 'AREB', 'ASTI'];
    const totals: Record<string, number> = {};
    const daysWith: Record<string, number> = {};
    const planted: Record<string, number> = {};
    let days = 0;
    let bars = 0;
    for (const ticker of tickers) {
      let history: Bar[] = [];
      let prevClose: number | undefined;
      for (let d = parseDay('2024-03-01')!; d <= parseDay('2024-03-29')!; d++) {
        if (!isSessionDay(d)) continue;
        const day = formatDay(d);
        const dayBars = simMinuteBars(SEED, ticker, day);
        bars += dayBars.length;
        const counts = countDayEvents(dayBars, sessionStartMs(d), history, prevClose);
        for (const [k, v] of Object.entries(counts)) {
          totals[k] = (totals[k] ?? 0) + v;
          daysWith[k] = (daysWith[k] ?? 0) + (v > 0 ? 1 : 0);
        }
        for (const e of simDayEvents(SEED, ticker, day)) planted[e.kind] = (planted[e.kind] ?? 0) + 1;
        days++;
        history = dayBars;
        prevClose = rthClose(dayBars, sessionStartMs(d));
      }
    }
    const lines = Object.keys(totals).map(
      (k) => `${k.padEnd(20)} ${(totals[k]! / days).toFixed(2)} per symbol-day, on ${((100 * daysWith[k]!) / days).toFixed(0)}% of days`,
    );
    console.log(`[sim] ${days} symbol-days, ${(bars / days).toFixed(0)} bars/day (eventiness 0.5)\n${lines.join('\n')}\nplanted: ${JSON.stringify(planted)}`);
    for (const k of Object.keys(totals) as (keyof DayEventCounts)[]) {
      expect(daysWith[k]! / days, k).toBeGreaterThan(0.1);
    }
  });
});
