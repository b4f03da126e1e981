import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSim, type SimOptions, type SimServer } from '../../src/sim/index.js';
import { PageThreads, threadFor } from '../../src/sim/page-threads.js';
import { renderPage, type PageDataOptions, type PageReply, type PageRequest } from '../../src/sim/page.js';
import { get, withKey } from '../support/sim-http.js';

const KEY = 'test-key';
const ORIGIN = /http:\/\/127\.0\.0\.1:\d+/g;

/** Every route, both tick kinds at a dense day, and each way a route fails. */
const PATHS = [
  '/v2/aggs/ticker/AAOI/range/1/minute/2024-03-11/2024-03-12?limit=700',
  '/v2/aggs/ticker/AAOI/range/1/day/2024-03-01/2024-03-29',
  '/v3/trades/AAOI?timestamp=2024-03-11&limit=500&order=asc',
  '/v3/trades/POIS?timestamp=2024-03-11&limit=50',
  '/v3/quotes/AAOI?timestamp.gte=2024-11-04&timestamp.lt=2024-11-05&limit=5000',
  '/v3/quotes/ZZZ?timestamp=2024-03-12&limit=20000',
  '/v3/reference/tickers?limit=50',
  '/v3/trades/bad!ticker?timestamp=2024-03-11',
  '/v3/quotes/AAOI',
  '/v2/aggs/ticker/AAOI/range/1/week/2024-03-01/2024-03-29',
  '/v9/nothing',
];

describe('sim page threads', () => {
  const common: SimOptions = { seed: 11, density: 'in-play', repeatCursorRate: 0.3, echoKey: true, poisonTrades: 'POIS' };
  let onLoop: SimServer;
  let threaded: SimServer;
  beforeAll(async () => {
    [onLoop, threaded] = await Promise.all([startSim({ ...common, pageThreads: 0 }), startSim({ ...common, pageThreads: 2 })]);
  });
  afterAll(async () => {
    await Promise.all([onLoop?.close(), threaded?.close()]);
  });

  it('send the same bytes as pages built on the server loop, errors and faults included', async () => {
    for (const path of PATHS) {
      const [a, b] = await Promise.all([onLoop, threaded].map((s) => get(withKey(`${s.url}${path}`, KEY))));
      expect(b.status, path).toBe(a.status);
      expect(b.text.replace(ORIGIN, 'O'), path).toBe(a.text.replace(ORIGIN, 'O'));
      expect(b.headers['content-length']).toBe(a.headers['content-length']);
      // Then the second page, where the repeat-cursor fault and the echoed key show.
      const next = (JSON.parse(a.text) as { next_url?: string }).next_url;
      if (next !== undefined) {
        const path2 = next.replace(ORIGIN, '');
        const [a2, b2] = await Promise.all([onLoop, threaded].map((s) => get(`${s.url}${path2}`)));
        expect(b2.status, path2).toBe(a2.status);
        expect(b2.text.replace(ORIGIN, 'O'), path2).toBe(a2.text.replace(ORIGIN, 'O'));
      }
    }
    expect(threaded.stats().repeatedCursors).toBe(onLoop.stats().repeatedCursors);
  });

  it('answer a request that needs no page while dense pages are still being built', async () => {
    // Four 50,000-quote in-play pages of one ticker queue on its thread (hundreds of ms); a request
    // without a key is answered by the server loop meanwhile. Built on the loop (pageThreads: 0),
    // it would wait for all four pages: the loop is busy building them.
    const sim = await startSim({ seed: 12, density: 'in-play', pageThreads: 1 });
    try {
      const heavyPath = (day: string) => `${sim.url}/v3/quotes/HVY?timestamp=${day}&limit=50000&order=asc`;
      // Counted when the status line arrives (undici's request resolves there), not after the body.
      let heavyAnswered = 0;
      const heavy = ['2024-03-11', '2024-03-12', '2024-03-13', '2024-03-14'].map((d) =>
        request(withKey(heavyPath(d), KEY)).then(async (r) => {
          heavyAnswered++;
          return { status: r.statusCode, text: await r.body.text() };
        }),
      );
      while (sim.stats().requests < 4) await new Promise((r) => setTimeout(r, 1));
      const refused = await get(`${sim.url}/v3/quotes/HVY?timestamp=2024-03-11`);
      expect(refused.status).toBe(401);
      expect(heavyAnswered).toBe(0);
      const pages = await Promise.all(heavy);
      for (const p of pages) expect((JSON.parse(p.text) as { results: unknown[] }).results.length).toBe(50_000);
    } finally {
      await sim.close();
    }
  });

  it('close while a page is being built', async () => {
    const sim = await startSim({ seed: 13, density: 'in-play', pageThreads: 1 });
    const pending = get(withKey(`${sim.url}/v3/quotes/CLS?timestamp=2024-03-11&limit=50000`, KEY)).catch((err: unknown) => err);
    while (sim.stats().requests < 1) await new Promise((r) => setTimeout(r, 1));
    await sim.close();
    // The client sees its connection closed; the server does not hang on the thread.
    expect(await pending).toBeInstanceOf(Error);
  });

  it('bodies come back whole while many are out at once, and their slabs are reused once released', async () => {
    const data: PageDataOptions = { seed: 13, eventiness: 0.5, density: 'busy', tickerCount: 5000, poisonTrades: undefined };
    const threads = new PageThreads(1, data);
    try {
      // 16 pages of different sizes (a few KB to a few MB) on one thread, none released yet.
      const reqs: PageRequest[] = Array.from({ length: 16 }, (_, i) => ({
        origin: 'http://127.0.0.1:1',
        requestId: `r${i}`,
        pathAndQuery: `/v3/${i % 2 ? 'quotes' : 'trades'}/SLAB?timestamp=2024-03-${String(4 + (i % 5)).padStart(2, '0')}&limit=${[50, 5000, 50000][i % 3]}&order=asc`,
        repeatCursor: false,
        echoKey: undefined,
      }));
      const check = (r: PageReply, req: PageRequest): void => {
        expect(r.status, req.pathAndQuery).toBe(200);
        expect(Buffer.compare(r.body as Buffer, renderPage(data, req).body as Buffer), req.pathAndQuery).toBe(0);
      };
      const out = await Promise.all(reqs.map((q) => threads.build(q)));
      out.forEach((r, i) => check(r, reqs[i]!));
      expect(threads.slabCount()).toBe(16); // none reused while taken
      for (const r of out) r.release!();
      // The same pages again, one at a time, each released after use: they fit the free slabs.
      for (let round = 0; round < 3; round++) {
        for (const q of reqs) {
          const r = await threads.build(q);
          check(r, q);
          r.release!();
        }
      }
      expect(threads.slabCount()).toBe(16);
    } finally {
      await threads.close();
    }
  });

  it('send every page of a ticker to one thread', () => {
    for (const n of [1, 2, 3]) {
      const t = threadFor('/v3/quotes/AAOI?timestamp=2024-03-11', n);
      expect(threadFor('/v3/trades/AAOI?cursor=abc', n)).toBe(t);
      expect(threadFor('/v2/aggs/ticker/AAOI/range/1/minute/2024-03-11/2024-03-12', n)).toBe(t);
      expect(t).toBeGreaterThanOrEqual(0);
      expect(t).toBeLessThan(n);
    }
    const spread = new Set(['AAOI', 'ABCD', 'XYZ', 'QQQ', 'MSFT', 'TSLA', 'GME', 'AMC'].map((s) => threadFor(`/v3/quotes/${s}?x=1`, 2)));
    expect(spread.size).toBe(2);
  });
});
