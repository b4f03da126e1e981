/**
 * The rate-limit layer: every try of both paths (each page, each retry) takes a token, and a 429's
 * Retry-After reaches the bucket once, capped, with the capped value on the error handed up.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lastValueFrom, of, toArray, type Observable } from 'rxjs';
import { startSim, type SimServer } from '../../../src/sim/index.js';
import { PolygonClient } from '../../../src/streams/polygon-client.js';
import { TickColumns } from '../../../src/streams/column-scanner.js';
import { TokenBucket, type RateLimiter } from '../../../src/operators/token-bucket.js';
import { compose, type HttpRequest, type HttpResponse } from '../../../src/streams/http/layer.js';
import { rateLimitFeedback } from '../../../src/streams/http/rate-limit.js';
import { statusLayer } from '../../../src/streams/http/status.js';
import { HttpMetrics } from '../../../src/streams/http/metrics.js';
import { RateLimitedError, ServerError } from '../../../src/errors.js';

const DAY = { gte: 1710216000000000000n, lte: 1710302399999999999n }; // 2024-03-12 in New York, ns

/** A RateLimiter that grants at once and records what it is told (the interface both buckets implement). */
class RecordingLimiter implements RateLimiter {
  readonly told: Array<['ok'] | ['429', number | undefined]> = [];
  acquire(): Observable<void> {
    return of(undefined);
  }
  onSuccess(): void {
    this.told.push(['ok']);
  }
  onRateLimited(ms?: number): void {
    this.told.push(['429', ms]);
  }
  capRetryAfter(ms: number | undefined): number | undefined {
    return ms === undefined ? undefined : Math.min(ms, 250);
  }
}

describe('rate-limit feedback (the layers above a reply)', () => {
  const req: HttpRequest = { target: '/v3/x', label: '/v3/x', signal: new AbortController().signal, headers: {}, decode: (b) => b, redact: (t) => t };
  const reply = (status: number, headers: Record<string, string> = {}) => async (): Promise<HttpResponse> => ({ status, headers, body: Buffer.from('{"status":"ERROR","error":"slow down"}') });

  it('a 429 tells the bucket what the server asked; the error carries what the bucket will honour', async () => {
    const limiter = new RecordingLimiter();
    const m = new HttpMetrics();
    const logs: unknown[] = [];
    const send = compose(reply(429, { 'retry-after': '3600' }), rateLimitFeedback(limiter, m, { warn: (o) => logs.push(o) }), statusLayer);
    const err = await send(req).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBe(250);
    expect((err as RateLimitedError).message).toBe('GET /v3/x: HTTP 429 slow down');
    expect(limiter.told).toEqual([['429', 3_600_000]]);
    expect(m.rateLimited).toBe(1);
    expect(logs).toEqual([{ path: '/v3/x', retryAfterMs: 250, serverAskedMs: 3_600_000 }]);
  });

  it('without a bucket a Retry-After is still capped (60 s); other errors pass untouched; a success is reported', async () => {
    const m = new HttpMetrics();
    const err = await compose(reply(429, { 'retry-after': '3600' }), rateLimitFeedback(undefined, m, undefined), statusLayer)(req).catch((e: unknown) => e);
    expect((err as RateLimitedError).retryAfterMs).toBe(60_000);

    const limiter = new RecordingLimiter();
    const e5 = await compose(reply(503), rateLimitFeedback(limiter, m, undefined), statusLayer)(req).catch((e: unknown) => e);
    expect(e5).toBeInstanceOf(ServerError);
    await compose(reply(200), rateLimitFeedback(limiter, m, undefined), statusLayer)(req);
    expect(limiter.told).toEqual([['ok']]);
  });
});

describe('the bucket in the client, against a strict simulated quota', () => {
  let sim: SimServer;
  const clients: PolygonClient[] = [];
  beforeAll(async () => {
    // 1 request in any second, a 1-s Retry-After on each 429.
    sim = await startSim({ seed: 3, rate: 1, quotaMode: 'strict', retryAfter: true });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await sim.close();
  });

  it('every page and every retry of both paths takes a token; 429s reach the bucket capped', async () => {
    // The bucket is too fast for the server on purpose, so 429s happen; their pause is capped at 200 ms.
    const bucket = new TokenBucket({ rate: 20, maxServerPauseMs: 200 });
    const logs: Array<Record<string, unknown>> = [];
    const client = new PolygonClient({ apiKey: 'test-key-1234', baseUrl: sim.url, bucket, retry: { maxAttempts: 50, baseMs: 1 }, logger: { warn: (o) => logs.push(o as Record<string, unknown>) } });
    clients.push(client);
    // Both listings at once: their first requests meet in one second, so at least one 429 is certain.
    const [pages, headers] = await Promise.all([
      lastValueFrom(client.trades$('ABVC', { ...DAY, limit: 5000 }).pipe(toArray())),
      lastValueFrom(client.tickColumns$('quotes', 'ABVC', { ...DAY, limit: 20000 }, new TickColumns('quotes')).pipe(toArray())),
    ]);
    expect(pages.length).toBeGreaterThan(1);
    expect(headers.length).toBeGreaterThan(1);
    const m = client.metrics();
    const b = bucket.stats();
    expect(m.pages).toBe(pages.length + headers.length);
    expect(m.rateLimited).toBeGreaterThan(0);
    expect(m.sent).toBe(m.pages + m.rateLimited);
    expect(b.granted).toBe(m.sent);
    expect(b.rateLimited).toBe(m.rateLimited);
    expect(sim.stats().rateLimited).toBe(m.rateLimited);
    const limited = logs.filter((l) => 'serverAskedMs' in l);
    expect(limited.length).toBe(m.rateLimited);
    for (const l of limited) expect(l).toMatchObject({ retryAfterMs: 200, serverAskedMs: 1000 });
  }, 60_000);

  it('without retries, the 429 itself comes out with the server’s Retry-After', async () => {
    const client = new PolygonClient({ apiKey: 'test-key-1234', baseUrl: sim.url, retry: false });
    clients.push(client);
    let err: unknown;
    for (let i = 0; i < 10 && err === undefined; i++) {
      err = await lastValueFrom(client.request$('/v3/reference/tickers', { limit: 1 })).then(
        () => undefined,
        (e: unknown) => e,
      );
    }
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBeGreaterThanOrEqual(1000);
    expect((err as RateLimitedError).retryAfterMs).toBeLessThanOrEqual(60_000);
  });
});
