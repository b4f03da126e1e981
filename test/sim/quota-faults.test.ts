import { describe, expect, it } from 'vitest';
import { request, Agent } from 'undici';
import { startSim } from '../../src/sim/index.js';
import { drawLatency } from '../../src/sim/faults.js';
import { QuotaBucket } from '../../src/sim/quota.js';
import { Rng } from '../../src/sim/prng.js';
import { get } from '../support/sim-http.js';

const PATH = '/v3/trades/AAOI?timestamp=2024-03-11&limit=2000&apiKey=k';
const RATE_MSG = "You've exceeded the maximum requests per minute, please wait or upgrade your subscription to continue.";

describe('sim quota', () => {
  it('token bucket: one second of burst, then rate per second', () => {
    let now = 0;
    const b = new QuotaBucket(10, () => now);
    let ok = 0;
    for (let i = 0; i < 30; i++) if (b.take()) ok++;
    expect(ok).toBe(10);
    expect(b.retryAfterSeconds()).toBe(1);
    now += 500;
    ok = 0;
    for (let i = 0; i < 30; i++) if (b.take()) ok++;
    expect(ok).toBe(5);
    now += 10_000;
    ok = 0;
    for (let i = 0; i < 30; i++) if (b.take()) ok++;
    expect(ok).toBe(10); // capped at capacity
    const slow = new QuotaBucket(0.1, () => now); // 6/min: capacity 1 token
    expect(slow.take()).toBe(true);
    expect(slow.take()).toBe(false);
    expect(slow.retryAfterSeconds()).toBe(10);
  });

  it('429 with the real body; Retry-After only when enabled', async () => {
    // The exact burst arithmetic is the fake-clock test above. Over HTTP the clock is real: under
    // load the 30 requests can take long enough for the bucket to refill a few tokens (a cold first
    // request alone takes ~0.5 s), so the count of 200s is bounded by burst + refill, not fixed.
    for (const retryAfter of [false, true]) {
      const sim = await startSim({ seed: 1, rate: 5, retryAfter });
      try {
        // Warm the server path with a request the quota does not see (no key: 401 costs no token).
        expect((await get(`${sim.url}/v3/reference/tickers?limit=1`)).status).toBe(401);
        const t0 = performance.now();
        const rs = await Promise.all(Array.from({ length: 30 }, () => get(`${sim.url}/v3/reference/tickers?limit=1&apiKey=k`)));
        const elapsedSec = (performance.now() - t0) / 1000;
        const limited = rs.filter((r) => r.status === 429);
        const ok = rs.filter((r) => r.status === 200).length;
        expect(ok + limited.length).toBe(30);
        expect(ok).toBeGreaterThanOrEqual(5); // the burst: one second's worth
        expect(ok).toBeLessThanOrEqual(5 + Math.ceil(5 * elapsedSec) + 1);
        // Fewer than 25 refills would need 5 s: some request is always limited.
        if (elapsedSec < 4.5) expect(limited.length).toBeGreaterThan(0);
        if (limited.length === 0) continue;
        const body = JSON.parse(limited[0]!.text);
        expect(body).toEqual({ status: 'ERROR', request_id: body.request_id, error: RATE_MSG });
        for (const r of limited) {
          if (retryAfter) expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
          else expect(r.headers['retry-after']).toBeUndefined();
        }
        const s = sim.stats();
        expect(s.rateLimited).toBe(limited.length);
        expect(s.byStatus[429]).toBe(limited.length);
        expect(s.byStatus[200]).toBe(ok);
        expect(s.requests).toBe(31);
        // Unauthorised requests are rejected before the quota and cost no token.
        expect((await get(`${sim.url}/v3/reference/tickers`)).status).toBe(401);
      } finally {
        await sim.close();
      }
    }
  });

  it('serves at most the quota over time (figure printed), and records a per-second timeline', async () => {
    const sim = await startSim({ seed: 1, rate: 50 });
    try {
      const agent = new Agent({ connections: 16 });
      const until = Date.now() + 2200;
      const worker = async () => {
        while (Date.now() < until) {
          const r = await request(`${sim.url}/v3/reference/tickers?limit=1&apiKey=k`, { dispatcher: agent });
          await r.body.text();
          if (r.statusCode === 429) await new Promise((res) => setTimeout(res, 5));
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      await agent.close();
      const s = sim.stats();
      const elapsed = (Date.now() - s.since) / 1000;
      console.log(`[sim] quota 50/s: ${s.ok} ok in ${elapsed.toFixed(2)} s, timeline ${JSON.stringify(s.okPerSecond)}, ${s.rateLimited} x 429`);
      // Burst of 50 plus 50/s refill.
      expect(s.ok).toBeLessThanOrEqual(50 + 50 * elapsed + 1);
      // The whole burst at least; how much of the refill is used depends on the machine's load.
      expect(s.ok).toBeGreaterThan(50);
      expect(s.okPerSecond.reduce((a, b) => a + b, 0)).toBe(s.ok);
      sim.resetStats();
      expect(sim.stats().requests).toBe(0);
      expect(sim.stats().okPerSecond).toEqual([]);
    } finally {
      await sim.close();
    }
  });
});

describe('sim faults', () => {
  it('latency: uniform range and a log-normal with the asked median and p99', () => {
    const r = new Rng('lat');
    const uni = Array.from({ length: 5000 }, () => drawLatency({ minMs: 50, maxMs: 400 }, r));
    expect(Math.min(...uni)).toBeGreaterThanOrEqual(50);
    expect(Math.max(...uni)).toBeLessThanOrEqual(400);
    const logn = Array.from({ length: 20000 }, () => drawLatency({ medianMs: 100, p99Ms: 600 }, r)).sort((a, b) => a - b);
    const median = logn[10000]!;
    const p99 = logn[19800]!;
    console.log(`[sim] lognormal latency: median ${median.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms`);
    expect(median).toBeGreaterThan(90);
    expect(median).toBeLessThan(110);
    expect(p99).toBeGreaterThan(500);
    expect(p99).toBeLessThan(720);
  });

  it('latency delays the response', async () => {
    const sim = await startSim({ seed: 1, latency: { minMs: 120, maxMs: 150 } });
    try {
      const t0 = performance.now();
      expect((await get(`${sim.url}${PATH}`)).status).toBe(200);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(110);
    } finally {
      await sim.close();
    }
  });

  it('errorRate: 500/502/503 with an ERROR body', async () => {
    const sim = await startSim({ seed: 1, errorRate: 1 });
    try {
      const seen = new Set<number>();
      for (let i = 0; i < 20; i++) {
        const r = await get(`${sim.url}${PATH}`);
        seen.add(r.status);
        expect(JSON.parse(r.text)).toMatchObject({ status: 'ERROR' });
      }
      expect([...seen].sort()).toEqual([500, 502, 503]);
      expect(sim.stats().injectedErrors).toBe(20);
      // Faults never hit unauthorised requests.
      expect((await get(`${sim.url}/v3/trades/AAOI?timestamp=2024-03-11`)).status).toBe(401);
    } finally {
      await sim.close();
    }
  });

  it('resetRate: the connection dies without a response', async () => {
    const sim = await startSim({ seed: 1, resetRate: 1 });
    try {
      await expect(get(`${sim.url}${PATH}`)).rejects.toMatchObject({ code: expect.stringMatching(/UND_ERR_SOCKET|ECONNRESET/) });
      expect(sim.stats().resets).toBe(1);
    } finally {
      await sim.close();
    }
  });

  it('truncateRate: 200 headers and a body cut short', async () => {
    const sim = await startSim({ seed: 1, truncateRate: 1 });
    try {
      const res = await request(`${sim.url}${PATH}`);
      expect(res.statusCode).toBe(200);
      const declared = Number(res.headers['content-length']);
      expect(declared).toBeGreaterThan(1000);
      const chunks: Buffer[] = [];
      await expect(
        (async () => {
          for await (const c of res.body) chunks.push(c as Buffer);
        })(),
      ).rejects.toThrow();
      const got = Buffer.concat(chunks).length;
      expect(got).toBeLessThan(declared);
      expect(() => JSON.parse(Buffer.concat(chunks).toString('utf8'))).toThrow();
      expect(sim.stats().truncations).toBe(1);
    } finally {
      await sim.close();
    }
  });

  it('stallRate: part of the body, then silence until the client gives up; close() still returns', async () => {
    const sim = await startSim({ seed: 1, stallRate: 1 });
    const res = await request(`${sim.url}${PATH}`, { bodyTimeout: 300 });
    expect(res.statusCode).toBe(200);
    const t0 = performance.now();
    await expect(res.body.text()).rejects.toMatchObject({ code: 'UND_ERR_BODY_TIMEOUT' });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(250);
    expect(sim.stats().stalls).toBe(1);
    // A second stalled request left hanging: close() must not wait for it.
    const hanging = await request(`${sim.url}${PATH}`);
    const done = hanging.body.text().catch(() => 'aborted');
    await sim.close();
    expect(await done).toBe('aborted');
  });

  it('repeatCursorRate: a cursor page links back to itself; first pages are unaffected', async () => {
    const sim = await startSim({ seed: 1, repeatCursorRate: 1 });
    try {
      const first = JSON.parse((await get(`${sim.url}/v3/quotes/AAOI?timestamp=2024-03-11&limit=100&apiKey=k`)).text);
      expect(first.next_url).toContain('cursor=');
      const second = JSON.parse((await get(`${first.next_url}&apiKey=k`)).text);
      expect(second.next_url).toBe(first.next_url);
      const aggs = JSON.parse((await get(`${sim.url}/v2/aggs/ticker/AAOI/range/1/minute/2024-03-11/2024-03-12?limit=100&apiKey=k`)).text);
      const aggs2 = JSON.parse((await get(`${aggs.next_url}&apiKey=k`)).text);
      expect(aggs2.next_url).toBe(aggs.next_url);
      expect(sim.stats().repeatedCursors).toBe(2);
    } finally {
      await sim.close();
    }
  });

  it('fault draws are seeded: a retry of the same request draws afresh, and two servers agree', async () => {
    const outcomes = async () => {
      const sim = await startSim({ seed: 9, errorRate: 0.5 });
      try {
        const out: number[] = [];
        for (let i = 0; i < 30; i++) out.push((await get(`${sim.url}${PATH}`)).status);
        return out;
      } finally {
        await sim.close();
      }
    };
    const a = await outcomes();
    expect(await outcomes()).toEqual(a);
    expect(a.filter((s) => s === 200).length).toBeGreaterThan(5);
    expect(a.filter((s) => s !== 200).length).toBeGreaterThan(5);
  });
});
