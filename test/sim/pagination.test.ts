import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simMinuteBars, simQuotes, simTrades, startSim, type SimServer } from '../../src/sim/index.js';
import { nyMidnightMs, parseDay } from '../../src/sim/calendar.js';
import { get, pageAll, parseExact, stringifyBigints, withKey } from '../support/sim-http.js';
import type { Bar } from '../../src/types.js';

const SEED = 11;
const KEY = 'secret-key-123';

function nsOfDay(day: string, end = false): bigint {
  const d = parseDay(day)! + (end ? 1 : 0);
  return BigInt(nyMidnightMs(d)) * 1_000_000n - (end ? 1n : 0n);
}

function checkNextUrls(urls: string[], origin: string): void {
  for (const u of urls.slice(1)) {
    expect(u.startsWith(`${origin}/`)).toBe(true);
    const parsed = new URL(u);
    expect([...parsed.searchParams.keys()]).toEqual(['cursor']);
    expect(parsed.searchParams.get('cursor')).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(u).not.toContain(KEY);
    expect(u.toLowerCase()).not.toContain('apikey');
  }
}

function normalizeTrade(r: any): any {
  const { decimal_size, ...rest } = r;
  expect(decimal_size).toBe(`${r.size}.0`);
  return rest;
}

function groupBars(bars: Bar[], keyOf: (t: number) => number, startOf: (k: number) => number): Bar[] {
  const out: Bar[] = [];
  let cur: { k: number; bars: Bar[] } | undefined;
  const flush = () => {
    if (!cur) return;
    const bs = cur.bars;
    const v = bs.reduce((s, b) => s + b.v, 0);
    out.push({
      t: startOf(cur.k),
      o: bs[0]!.o,
      c: bs[bs.length - 1]!.c,
      h: Math.max(...bs.map((b) => b.h)),
      l: Math.min(...bs.map((b) => b.l)),
      v,
      n: bs.reduce((s, b) => s + b.n, 0),
      vw: bs.reduce((s, b) => s + b.vw * b.v, 0) / v,
    });
  };
  for (const b of bars) {
    const k = keyOf(b.t);
    if (!cur || cur.k !== k) {
      flush();
      cur = { k, bars: [] };
    }
    cur.bars.push(b);
  }
  flush();
  return out;
}

function sameBars(actual: any[], expected: Bar[]): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i]!;
    expect({ t: a.t, o: a.o, h: a.h, l: a.l, c: a.c, v: a.v, n: a.n }).toEqual({ t: e.t, o: e.o, h: e.h, l: e.l, c: e.c, v: e.v, n: e.n });
    expect(Math.abs(a.vw - e.vw) / e.vw).toBeLessThan(1e-9);
  }
}

describe('sim pagination', () => {
  let sim: SimServer;
  beforeAll(async () => {
    sim = await startSim({ seed: SEED, apiKey: KEY, tickerCount: 1000 });
  });
  afterAll(() => sim?.close());

  for (const kind of ['trades', 'quotes'] as const) {
    it(`${kind}: small pages asc and desc give exactly the full range (across a weekend)`, async () => {
      const lo = nsOfDay('2024-03-08');
      const hi = nsOfDay('2024-03-11', true);
      const truth = (kind === 'trades' ? simTrades : simQuotes)(SEED, 'ABVC', lo, hi).map(stringifyBigints);
      expect(truth.length).toBeGreaterThan(3000);
      const norm = kind === 'trades' ? normalizeTrade : (r: any) => r;
      const first = `${sim.url}/v3/${kind}/ABVC?timestamp.gte=2024-03-08&timestamp.lte=2024-03-11&limit=997`;

      const asc = await pageAll(`${first}&order=asc`, KEY);
      expect(asc.pages.length).toBe(Math.ceil(truth.length / 997));
      expect(asc.results.map(norm)).toEqual(truth);
      checkNextUrls(asc.urls, sim.url);
      expect(asc.pages.at(-1).next_url).toBeUndefined();

      const desc = await pageAll(first, KEY); // default order desc
      expect(desc.results.map(norm)).toEqual([...truth].reverse());
      checkNextUrls(desc.urls, sim.url);
    });
  }

  it('trades: ns bounds are inclusive and gt/lt exclusive', async () => {
    const lo = nsOfDay('2024-03-12');
    const hi = nsOfDay('2024-03-12', true);
    const all = simTrades(SEED, 'ABVC', lo, hi);
    const a = all[10]!.sip_timestamp;
    const b = all[40]!.sip_timestamp;
    const inc = await pageAll(`${sim.url}/v3/trades/ABVC?timestamp.gte=${a}&timestamp.lte=${b}&order=asc&limit=7`, KEY);
    expect(inc.results.map((r) => r.sip_timestamp)).toEqual(all.slice(10, 41).map((t) => String(t.sip_timestamp)));
    const exc = await pageAll(`${sim.url}/v3/trades/ABVC?timestamp.gt=${a}&timestamp.lt=${b}&order=asc&limit=7`, KEY);
    expect(exc.results.map((r) => r.sip_timestamp)).toEqual(all.slice(11, 40).map((t) => String(t.sip_timestamp)));
    const exact = await pageAll(`${sim.url}/v3/trades/ABVC?timestamp=${a}`, KEY);
    expect(exact.results.map((r) => r.sip_timestamp)).toEqual([String(a)]);
  });

  it('next_url carries the origin the client used (Host header)', async () => {
    const port = new URL(sim.url).port;
    const r = await get(`${sim.url}/v3/trades/ABVC?timestamp=2024-03-12&limit=5&apiKey=${KEY}`, { host: `localhost:${port}` });
    expect(JSON.parse(r.text).next_url.startsWith(`http://localhost:${port}/v3/trades/ABVC?cursor=`)).toBe(true);
  });

  it('minute aggregates: limit counts bars, next_url rewrites from/to to the next page start, asc and desc', async () => {
    const days = ['2024-03-08', '2024-03-11', '2024-03-12'];
    const truth = days.flatMap((d) => simMinuteBars(SEED, 'ABVC', d));
    const base = `${sim.url}/v2/aggs/ticker/ABVC/range/1/minute/2024-03-08/2024-03-12?limit=250`;

    const asc = await pageAll(base, KEY);
    sameBars(asc.results, truth);
    expect(asc.pages.length).toBe(Math.ceil(truth.length / 250));
    checkNextUrls(asc.urls, sim.url);
    for (let i = 0; i + 1 < asc.pages.length; i++) {
      const next = new URL(asc.pages[i].next_url);
      const [, , , , , , , , from, to] = next.pathname.split('/');
      expect(Number(from)).toBe(asc.pages[i + 1].results[0].t);
      expect(to).toBe('2024-03-12');
      expect(asc.pages[i].queryCount).toBe(250);
      expect(asc.pages[i].resultsCount).toBe(250);
    }

    const desc = await pageAll(`${base}&sort=desc`, KEY);
    sameBars(desc.results, [...truth].reverse());
    for (let i = 0; i + 1 < desc.pages.length; i++) {
      const next = new URL(desc.pages[i].next_url);
      const parts = next.pathname.split('/');
      expect(parts[8]).toBe('2024-03-08');
      expect(Number(parts[9])).toBe(desc.pages[i].results.at(-1).t - 1);
    }

    // ms bounds select the same bars as dates.
    const t0 = truth[100]!.t;
    const t1 = truth[300]!.t;
    const ms = await pageAll(`${sim.url}/v2/aggs/ticker/ABVC/range/1/minute/${t0}/${t1}?limit=50000`, KEY);
    sameBars(ms.results, truth.slice(100, 301));
  });

  it('hour and day aggregates are the aggregation of minute bars and never split a window across pages', async () => {
    const days = ['2024-03-08', '2024-03-11', '2024-03-12'];
    const minutes = days.flatMap((d) => simMinuteBars(SEED, 'ABVC', d));
    const hours = groupBars(minutes, (t) => Math.floor(t / 3_600_000), (k) => k * 3_600_000);
    const whole = await pageAll(`${sim.url}/v2/aggs/ticker/ABVC/range/1/hour/2024-03-08/2024-03-12?limit=50000`, KEY);
    sameBars(whole.results, hours);
    expect(whole.pages[0].queryCount).toBe(minutes.length);
    const paged = await pageAll(`${sim.url}/v2/aggs/ticker/ABVC/range/1/hour/2024-03-08/2024-03-12?limit=100`, KEY);
    sameBars(paged.results, hours);
    for (const p of paged.pages) expect(p.queryCount).toBeLessThanOrEqual(100);
    const pagedDesc = await pageAll(`${sim.url}/v2/aggs/ticker/ABVC/range/1/hour/2024-03-08/2024-03-12?limit=100&sort=desc`, KEY);
    sameBars(pagedDesc.results, [...hours].reverse());

    const fiveMin = groupBars(minutes, (t) => Math.floor(t / 300_000), (k) => k * 300_000);
    sameBars((await pageAll(`${sim.url}/v2/aggs/ticker/ABVC/range/5/minute/2024-03-08/2024-03-12?limit=77`, KEY)).results, fiveMin);

    const march = [];
    for (let d = parseDay('2024-03-01')!; d <= parseDay('2024-03-29')!; d++) {
      const day = new Date(d * 86_400_000).toISOString().slice(0, 10);
      const bars = simMinuteBars(SEED, 'ABVC', day);
      if (bars.length > 0) march.push(groupBars(bars, () => 0, () => nyMidnightMs(d))[0]!);
    }
    const daily = await pageAll(`${sim.url}/v2/aggs/ticker/ABVC/range/1/day/2024-03-01/2024-03-29?limit=3`, KEY);
    sameBars(daily.results, march);
    expect(daily.pages.length).toBe(Math.ceil(march.length / 3));
    // Daily bars are stamped at New York midnight (EST before the 10th, EDT after).
    expect(new Date(daily.results[0].t).toISOString()).toBe('2024-03-01T05:00:00.000Z');
    // 2024-03-29 is Good Friday (NYSE closed): the last daily bar is Thursday's.
    expect(new Date(daily.results.at(-1).t).toISOString()).toBe('2024-03-28T04:00:00.000Z');
  });

  it('a window bigger than the limit is still served whole (progress guaranteed)', async () => {
    const r = await pageAll(`${sim.url}/v2/aggs/ticker/ABVC/range/1/hour/2024-03-12/2024-03-12?limit=5`, KEY);
    const minutes = simMinuteBars(SEED, 'ABVC', '2024-03-12');
    expect(r.results.reduce((s, b) => s + b.n, 0)).toBe(minutes.reduce((s, b) => s + b.n, 0));
  });

  it('reference tickers page through the generated list, asc and desc, with filters', async () => {
    const asc = await pageAll(`${sim.url}/v3/reference/tickers?limit=99`, KEY);
    const tickers = asc.results.map((r) => r.ticker);
    expect(tickers).toHaveLength(1000);
    expect(new Set(tickers).size).toBe(1000);
    expect([...tickers].sort()).toEqual(tickers);
    for (const t of tickers) expect(t).toMatch(/^[A-Z][A-Z0-9.]{0,9}$/);
    checkNextUrls(asc.urls, sim.url);
    const desc = await pageAll(`${sim.url}/v3/reference/tickers?limit=250&order=desc`, KEY);
    expect(desc.results.map((r) => r.ticker)).toEqual([...tickers].reverse());
    const some = await pageAll(`${sim.url}/v3/reference/tickers?limit=5&ticker.gte=B&ticker.lt=C`, KEY);
    expect(some.results.map((r) => r.ticker)).toEqual(tickers.filter((t) => t >= 'B' && t < 'C'));
    expect(asc.pages[0].count).toBe(99);
  });

  it('a next_url followed twice returns the same page (stable cursors)', async () => {
    const first = parseExact((await get(`${sim.url}/v3/quotes/ABVC?timestamp=2024-03-12&limit=50&apiKey=${KEY}`)).text);
    const a = (await get(withKey(first.next_url, KEY))).text;
    const b = (await get(withKey(first.next_url, KEY))).text;
    expect(b).toBe(a);
  });
});
