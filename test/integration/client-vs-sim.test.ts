import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { from, lastValueFrom, map, mergeMap, reduce } from 'rxjs';
import { startSim, simTrades, type SimServer } from '../../src/sim/index.js';
import { PolygonClient } from '../../src/streams/polygon-client.js';
import { TokenBucket } from '../../src/operators/token-bucket.js';
import { PaginationLoopError } from '../../src/errors.js';
import type { Trade } from '../../src/types.js';

const KEY = 'integration-secret-key-42';
const SEED = 7;
const TICKER = 'ABCD';
const TICKERS = ['ABCD', 'XYZ', 'QRST'];
// Two New York session days (04:00–20:00 NY is 09:00–01:00 UTC in March before DST).
const GTE = BigInt(Date.UTC(2024, 2, 4, 9, 0)) * 1_000_000n;
const LTE = BigInt(Date.UTC(2024, 2, 6, 1, 0)) * 1_000_000n - 1n;
const QUOTA = 20;
const pick = (row: Trade, like: Trade): Trade =>
  Object.fromEntries(Object.keys(like).map((k) => [k, (row as unknown as Record<string, unknown>)[k]])) as unknown as Trade;

describe('PolygonClient against the simulator (quota 20/s, 5% 5xx, 2% resets, 2% truncations)', () => {
  let sim: SimServer;
  beforeAll(async () => {
    sim = await startSim({
      seed: SEED,
      apiKey: KEY,
      rate: QUOTA,
      errorRate: 0.05,
      resetRate: 0.02,
      truncateRate: 0.02,
      latency: { minMs: 2, maxMs: 40 },
    });
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('drains multi-page trades windows of 3 tickers at once: no loss, no duplicates, exact ns, < 1% 429s', async () => {
    const expected = new Map(TICKERS.map((t) => [t, simTrades(SEED, t, GTE, LTE)]));
    const total = [...expected.values()].reduce((n, rows) => n + rows.length, 0);
    // ~200 pages in all: every fault kind gets drawn, and 3 listings share the one bucket.
    const limit = Math.max(10, Math.ceil(total / 200));
    const bucket = new TokenBucket({ rate: QUOTA });
    const client = new PolygonClient({ apiKey: KEY, baseUrl: sim.url, bucket, retry: { baseMs: 100, capMs: 2_000 } });
    sim.resetStats();
    const t0 = performance.now();
    try {
      const got = await lastValueFrom(
        from(TICKERS).pipe(
          mergeMap((t) => client.trades$(t, { gte: GTE, lte: LTE, limit }).pipe(map((page) => [t, page] as const)), TICKERS.length),
          reduce(
            (acc, [t, page]) => {
              for (const r of page.results) acc.rows.get(t)!.push(r);
              acc.pages++;
              return acc;
            },
            { rows: new Map(TICKERS.map((t) => [t, [] as Trade[]])), pages: 0 },
          ),
        ),
      );
      const secs = (performance.now() - t0) / 1000;
      const s = sim.stats();
      const m = client.metrics();
      // eslint-disable-next-line no-console
      console.log(
        `[client-vs-sim] ${total} trades of ${TICKERS.length} tickers in ${got.pages} pages (limit ${limit}) in ${secs.toFixed(1)} s; ` +
          `sim: ${s.requests} requests, ${s.rateLimited} 429, ${s.injectedErrors} 5xx, ${s.resets} resets, ${s.truncations} truncations; ` +
          `client: sent ${m.sent}, ok ${m.ok}, retries ${m.retries}, errors ${JSON.stringify(m.errors)}, ` +
          `p50 ${m.latency.p50Ms.toFixed(1)} ms, p95 ${m.latency.p95Ms.toFixed(1)} ms; ${(s.requests / secs).toFixed(1)} req/s vs quota ${QUOTA}`,
      );

      expect(got.pages).toBeGreaterThanOrEqual(150);
      // faults actually happened and were absorbed by per-page retries
      expect(s.injectedErrors + s.resets + s.truncations).toBeGreaterThan(0);
      expect(m.retries).toBeGreaterThan(0);
      // the quota was respected
      expect(s.rateLimited / s.requests).toBeLessThan(0.01);
      expect(m.rateLimited / m.sent).toBeLessThan(0.01);
      for (const t of TICKERS) {
        const rows = got.rows.get(t)!;
        const want = expected.get(t)!;
        // nothing lost, nothing duplicated
        expect(rows.length).toBe(want.length);
        expect(new Set(rows.map((r) => `${r.sip_timestamp}|${r.sequence_number}|${r.id}`)).size).toBe(rows.length);
        // nothing rounded: exact bigint equality of every ns field (2^53 is far exceeded)
        for (let i = 0; i < rows.length; i++) {
          const a = rows[i]!;
          const b = want[i]!;
          if (typeof a.sip_timestamp !== 'bigint' || a.sip_timestamp !== b.sip_timestamp || a.participant_timestamp !== b.participant_timestamp || a.trf_timestamp !== b.trf_timestamp) {
            throw new Error(`${t} row ${i}: got ${a.sip_timestamp}/${a.participant_timestamp}/${a.trf_timestamp}, want ${b.sip_timestamp}/${b.participant_timestamp}/${b.trf_timestamp}`);
          }
        }
        expect(want[0]!.sip_timestamp > 2n ** 53n).toBe(true);
        // The wire rows also carry API fields outside the Trade type (decimal_size), which simTrades
        // leaves out: compare every field simTrades gives.
        expect(rows.map((r, i) => pick(r, want[i]!))).toEqual(want);
      }
    } finally {
      await client.close();
    }
  });

  it('stops with PaginationLoopError when the server cycles back to a cursor', async () => {
    const loopy = await startSim({ seed: SEED, apiKey: KEY, repeatCursorRate: 1 });
    const client = new PolygonClient({ apiKey: KEY, baseUrl: loopy.url, auth: 'bearer' });
    try {
      let pages = 0;
      const err = await new Promise<unknown>((resolve) => {
        client.trades$(TICKER, { gte: GTE, lte: LTE, limit: 50 }).subscribe({ next: () => pages++, error: resolve, complete: () => resolve(undefined) });
      });
      expect(err).toBeInstanceOf(PaginationLoopError);
      expect(String(err)).not.toContain(KEY);
      expect(pages).toBeLessThanOrEqual(3);
      expect(loopy.stats().requests).toBeLessThanOrEqual(3);
    } finally {
      await client.close();
      await loopy.close();
    }
  });
});
