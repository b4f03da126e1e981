import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { PolygonClient, parseRetryAfter, type PolygonClientOptions } from '../../src/streams/polygon-client.js';
import { TokenBucket } from '../../src/operators/token-bucket.js';
import {
  AuthError,
  BadRequestError,
  NetworkError,
  NotFoundError,
  PaginationLoopError,
  ProtocolError,
  RateLimitedError,
  ServerError,
  TimeoutError,
} from '../../src/errors.js';

const KEY = 'SeCrEt-KeY_0123456789';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void;
interface Seen {
  readonly path: string;
  readonly query: URLSearchParams;
  readonly auth: string | undefined;
}

function startServer(): Promise<{ origin: string; seen: Seen[]; set: (h: Handler) => void; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  let handler: Handler = (_req, res) => res.end('{}');
  const server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    seen.push({ path: url.pathname, query: url.searchParams, auth: req.headers.authorization });
    handler(req, res, url);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        origin: `http://127.0.0.1:${port}`,
        seen,
        set: (h) => {
          handler = h;
        },
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    });
  });
}

const json = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
};

const trade = (i: number): string =>
  `{"exchange":4,"id":"${i}","participant_timestamp":${1700000000000000000n + BigInt(i) * 1000n + 1n},"price":10.5,` +
  `"sequence_number":${i},"sip_timestamp":${1700000000000000000n + BigInt(i) * 1000n + 7n},"size":100,"tape":1}`;

/** Pages of 2 trades; `cursor=N` is page N (1-based); `next(n)` lets a test rewrite the next_url. */
function pagedTrades(origin: string, pages: number, next = (n: number) => `${origin}/v3/trades/AAPL?cursor=${n}`): Handler {
  return (_req, res, url) => {
    const n = Number(url.searchParams.get('cursor') ?? '1');
    const rows = [trade(2 * n - 1), trade(2 * n)];
    const body = `{"results":[${rows.join(',')}],"status":"OK","request_id":"r${n}"${n < pages ? `,"next_url":"${next(n + 1)}"` : ''}}`;
    json(res, 200, body);
  };
}

function collect(err: unknown): string {
  return [String(err), (err as Error)?.stack ?? '', JSON.stringify(err), inspect(err, { depth: 5 })].join('\n');
}

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('PolygonClient', () => {
  let srv: Awaited<ReturnType<typeof startServer>>;
  const clients: PolygonClient[] = [];
  const logs: unknown[] = [];
  const logger = { warn: (o: object, m?: string) => logs.push([o, m]), debug: (o: object, m?: string) => logs.push([o, m]) };
  const make = (o: Partial<PolygonClientOptions> = {}): PolygonClient => {
    const c = new PolygonClient({ apiKey: KEY, baseUrl: srv.origin, retry: { baseMs: 5, capMs: 20 }, logger, ...o });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    srv = await startServer();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    srv.seen.length = 0;
    expect(JSON.stringify(logs, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain(KEY);
    logs.length = 0;
  });
  afterAll(async () => {
    await srv.close();
  });

  it('follows next_url across pages, re-adding the key, with exact bigint timestamps', async () => {
    srv.set(pagedTrades(srv.origin, 3));
    const client = make();
    const pages = await lastValueFrom(client.trades$('AAPL', { gte: 1n, lte: 2n ** 62n, limit: 2 }).pipe(toArray()));
    expect(pages.map((p) => p.results.length)).toEqual([2, 2, 2]);
    expect(pages.map((p) => p.requestId)).toEqual(['r1', 'r2', 'r3']);
    expect(pages[0]!.nextUrl).toBe(`${srv.origin}/v3/trades/AAPL?cursor=2`);
    expect(pages[2]!.nextUrl).toBeUndefined();
    const rows = pages.flatMap((p) => p.results);
    expect(rows.map((r) => r.sip_timestamp)).toEqual([1, 2, 3, 4, 5, 6].map((i) => 1700000000000000000n + BigInt(i) * 1000n + 7n));
    expect(rows[5]!.participant_timestamp).toBe(1700000000000006001n);
    expect(srv.seen).toHaveLength(3);
    for (const s of srv.seen) expect(s.query.get('apiKey')).toBe(KEY);
    const q0 = srv.seen[0]!.query;
    expect([q0.get('timestamp.gte'), q0.get('timestamp.lte'), q0.get('order'), q0.get('limit'), q0.get('sort')]).toEqual([
      '1',
      String(2n ** 62n),
      'asc',
      '2',
      'timestamp',
    ]);
    expect(srv.seen[1]!.query.get('cursor')).toBe('2');
    expect(client.metrics()).toMatchObject({ sent: 3, ok: 3, pages: 3, retries: 0, rateLimited: 0 });
    expect(client.metrics().bytes).toBeGreaterThan(600);
    expect(client.metrics().latency.count).toBe(3);
  });

  it('bearer auth: key only in the Authorization header', async () => {
    srv.set(pagedTrades(srv.origin, 2));
    const client = make({ auth: 'bearer' });
    await lastValueFrom(client.trades$('AAPL', { gte: 1n, lte: 2n }));
    expect(srv.seen).toHaveLength(2);
    for (const s of srv.seen) {
      expect(s.auth).toBe(`Bearer ${KEY}`);
      expect(s.query.has('apiKey')).toBe(false);
    }
  });

  it('is lazy: take(1) sends exactly one request; nothing is sent before subscription', async () => {
    srv.set(pagedTrades(srv.origin, 5));
    const client = make();
    const listing = client.trades$('AAPL', { gte: 1n, lte: 2n });
    await new Promise((r) => setTimeout(r, 30));
    expect(srv.seen).toHaveLength(0);
    const first = await firstValueFrom(listing.pipe(take(1)));
    expect(first.results).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 100));
    expect(srv.seen).toHaveLength(1);
  });

  it('retries a failed page on its own: page 3 fails once, pages 1-2 are not fetched again', async () => {
    let failed = false;
    const ok = pagedTrades(srv.origin, 4);
    srv.set((req, res, url) => {
      if (url.searchParams.get('cursor') === '3' && !failed) {
        failed = true;
        return json(res, 502, { status: 'ERROR', error: 'bad gateway' });
      }
      ok(req, res, url);
    });
    const client = make();
    const pages = await lastValueFrom(client.trades$('AAPL', { gte: 1n, lte: 2n }).pipe(toArray()));
    expect(pages).toHaveLength(4);
    expect(srv.seen.map((s) => s.query.get('cursor'))).toEqual([null, '2', '3', '3', '4']);
    expect(client.metrics()).toMatchObject({ sent: 5, ok: 4, retries: 1, errors: { E_SERVER: 1 } });
  });

  it('classifies 401, 400 missing key, 403, 404 and other 4xx, never retrying them', async () => {
    const cases: Array<[number, unknown, new (...a: never[]) => Error, string]> = [
      [401, { status: 'ERROR', request_id: 'x', error: `Unknown API Key ${KEY}` }, AuthError, 'E_AUTH'],
      [400, { status: 'ERROR', request_id: 'x', error: 'API Key was not provided' }, AuthError, 'E_AUTH'],
      [403, { status: 'NOT_AUTHORIZED', request_id: 'x', message: 'You are not entitled to this data.' }, BadRequestError, 'E_BAD_REQUEST'],
      [404, { status: 'NOT_FOUND', request_id: 'x', message: 'Not found' }, NotFoundError, 'E_NOT_FOUND'],
      [400, { status: 'ERROR', request_id: 'x', error: 'Could not parse the timestamp' }, BadRequestError, 'E_BAD_REQUEST'],
      [422, 'not json', BadRequestError, 'E_BAD_REQUEST'],
    ];
    for (const [status, body, cls, code] of cases) {
      srv.seen.length = 0;
      srv.set((_req, res) => json(res, status, body));
      const client = make();
      const err = await errorOf(lastValueFrom(client.trades$('AAPL', { gte: 1n, lte: 2n })));
      expect(err).toBeInstanceOf(cls);
      expect((err as AuthError).code).toBe(code);
      expect((err as AuthError).status).toBe(status);
      expect(srv.seen).toHaveLength(1);
      expect(collect(err)).not.toContain(KEY);
      expect(String(err)).toContain('/v3/trades/AAPL');
      expect(String(err)).not.toContain('?');
    }
  });

  it('429 with Retry-After: RateLimitedError carries it, pauses the bucket, and the retry then succeeds', async () => {
    let n = 0;
    const ok = pagedTrades(srv.origin, 1);
    srv.set((req, res, url) => {
      if (n++ === 0) {
        return json(res, 429, { status: 'ERROR', error: "You've exceeded the maximum requests per minute" }, { 'retry-after': '1' });
      }
      ok(req, res, url);
    });
    const bucket = new TokenBucket({ rate: 100, burst: 5 });
    const client = make({ bucket });
    const t0 = performance.now();
    const pages = await lastValueFrom(client.trades$('AAPL', { gte: 1n, lte: 2n }).pipe(toArray()));
    const waited = performance.now() - t0;
    expect(pages).toHaveLength(1);
    expect(waited).toBeGreaterThanOrEqual(950);
    expect(bucket.stats()).toMatchObject({ pauses: 1, granted: 2 });
    expect(client.metrics()).toMatchObject({ sent: 2, ok: 1, rateLimited: 1, retries: 1, errors: { E_RATE_LIMITED: 1 } });
  });

  it('429 without retry: error has retryAfterMs from seconds, from an HTTP date, or undefined', async () => {
    const headers: Array<Record<string, string>> = [{ 'retry-after': '3' }, { 'retry-after': new Date(Date.now() + 5000).toUTCString() }, {}];
    const got: Array<number | undefined> = [];
    for (const h of headers) {
      srv.set((_req, res) => json(res, 429, { status: 'ERROR', error: 'too many' }, h));
      const client = make({ retry: false });
      const err = await errorOf(lastValueFrom(client.trades$('AAPL', { gte: 1n, lte: 2n })));
      expect(err).toBeInstanceOf(RateLimitedError);
      got.push((err as RateLimitedError).retryAfterMs);
    }
    expect(got[0]).toBe(3000);
    expect(got[1]).toBeGreaterThan(3000);
    expect(got[1]).toBeLessThanOrEqual(5000);
    expect(got[2]).toBeUndefined();
    expect(parseRetryAfter('1.5')).toBe(1500);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });

  it('5xx: retried up to maxAttempts, then the ServerError itself; each try takes a new token', async () => {
    srv.set((_req, res) => json(res, 503, { status: 'ERROR', error: 'unavailable' }));
    const bucket = new TokenBucket({ rate: 1000, burst: 10 });
    const client = make({ bucket, retry: { maxAttempts: 3, baseMs: 1, capMs: 5 } });
    const err = await errorOf(lastValueFrom(client.trades$('AAPL', { gte: 1n, lte: 2n })));
    expect(err).toBeInstanceOf(ServerError);
    expect((err as ServerError).status).toBe(503);
    expect(srv.seen).toHaveLength(3);
    expect(bucket.stats().granted).toBe(3);
    expect(client.metrics()).toMatchObject({ sent: 3, retries: 2, errors: { E_SERVER: 3 } });
  });

  it('connection reset → NetworkError, retried transparently', async () => {
    let n = 0;
    const ok = pagedTrades(srv.origin, 1);
    srv.set((req, res, url) => {
      if (n++ < 2) return req.socket.destroy();
      ok(req, res, url);
    });
    const client = make();
    const pages = await lastValueFrom(client.trades$('AAPL', { gte: 1n, lte: 2n }).pipe(toArray()));
    expect(pages).toHaveLength(1);
    expect(client.metrics().errors.E_NETWORK).toBe(2);

    srv.set((req) => req.socket.destroy());
    const once = make({ retry: false });
    const err = await errorOf(lastValueFrom(once.trades$('AAPL', { gte: 1n, lte: 2n })));
    expect(err).toBeInstanceOf(NetworkError);
    expect(collect(err)).not.toContain(KEY);
  });

  it('connection refused → NetworkError', async () => {
    const dead = await startServer();
    const origin = dead.origin;
    await dead.close();
    const client = make({ baseUrl: origin, retry: false });
    const err = await errorOf(lastValueFrom(client.trades$('AAPL', { gte: 1n, lte: 2n })));
    expect(err).toBeInstanceOf(NetworkError);
    expect(String(err)).toMatch(/ECONNREFUSED/);
    expect(collect(err)).not.toContain(KEY);
  });

  it('truncated bodies → ProtocolError (cut connection, or a short body that fails to parse)', async () => {
    const full = `{"results":[${trade(1)},${trade(2)}],"status":"OK"}`;
    srv.set((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(full) });
      res.write(full.slice(0, 60));
      setTimeout(() => res.socket?.destroy(), 10);
    });
    const c1 = make({ retry: false });
    const e1 = await errorOf(lastValueFrom(c1.trades$('AAPL', { gte: 1n, lte: 2n })));
    expect(e1).toBeInstanceOf(ProtocolError);

    srv.set((_req, res) => json(res, 200, full.slice(0, 60)));
    const c2 = make({ retry: false });
    const e2 = await errorOf(lastValueFrom(c2.trades$('AAPL', { gte: 1n, lte: 2n })));
    expect(e2).toBeInstanceOf(ProtocolError);
    expect(String(e2)).toMatch(/malformed or truncated JSON/);
    for (const e of [e1, e2]) expect(collect(e)).not.toContain(KEY);
  });

  it('a stalled body or missing headers end as TimeoutError', async () => {
    srv.set((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 1000 });
      res.write('{"results":[');
    });
    const c1 = make({ retry: false, bodyTimeoutMs: 200 });
    const t0 = performance.now();
    const e1 = await errorOf(lastValueFrom(c1.trades$('AAPL', { gte: 1n, lte: 2n })));
    expect(e1).toBeInstanceOf(TimeoutError);
    expect(performance.now() - t0).toBeLessThan(5_000);

    srv.set(() => {
      /* never answers */
    });
    const c2 = make({ retry: false, headersTimeoutMs: 200 });
    const e2 = await errorOf(lastValueFrom(c2.trades$('AAPL', { gte: 1n, lte: 2n })));
    expect(e2).toBeInstanceOf(TimeoutError);
    expect(collect(e2)).not.toContain(KEY);
  });

  it('a next_url repeating a cursor → PaginationLoopError after the pages seen, never loops', async () => {
    // page 3 points back to page 2
    srv.set(pagedTrades(srv.origin, 10, (n) => `${srv.origin}/v3/trades/AAPL?cursor=${n === 4 ? 2 : n}`));
    const client = make();
    const pages: unknown[] = [];
    const err = await errorOf(lastValueFrom(client.trades$("AAPL", { gte: 1n, lte: 2n }).pipe(toArray())));
    expect(err).toBeInstanceOf(PaginationLoopError);
    expect(srv.seen).toHaveLength(3);
    expect(collect(err)).not.toContain(KEY);
    // the pages before the loop were delivered
    await new Promise<void>((resolve) => {
      make()
        .trades$('AAPL', { gte: 1n, lte: 2n })
        .subscribe({ next: (p) => pages.push(p), error: () => resolve() });
    });
    expect(pages).toHaveLength(3);
  });

  it('refuses to follow a next_url on another origin (the key never leaves)', async () => {
    const foreign = await startServer();
    try {
      foreign.set(pagedTrades(foreign.origin, 1));
      srv.set(pagedTrades(srv.origin, 3, (n) => `${foreign.origin}/v3/trades/AAPL?cursor=${n}`));
      const client = make();
      const got: unknown[] = [];
      const err = await new Promise<unknown>((resolve) => {
        client.trades$('AAPL', { gte: 1n, lte: 2n }).subscribe({ next: (p) => got.push(p), error: resolve, complete: () => resolve(undefined) });
      });
      expect(err).toBeInstanceOf(ProtocolError);
      expect(String(err)).toMatch(/another origin/);
      expect(got).toHaveLength(1);
      expect(foreign.seen).toHaveLength(0);
      expect(srv.seen).toHaveLength(1);
    } finally {
      await foreign.close();
    }
  });

  it('a next_url echoing a key is handed on without it and followed with the key added once', async () => {
    srv.set(pagedTrades(srv.origin, 2, (n) => `${srv.origin}/v3/trades/AAPL?cursor=${n}&apiKey=${KEY}`));
    const client = make();
    const pages = await lastValueFrom(client.trades$('AAPL', { gte: 1n, lte: 2n }).pipe(toArray()));
    expect(pages).toHaveLength(2);
    expect(pages[0]!.nextUrl).toBe(`${srv.origin}/v3/trades/AAPL?cursor=2`);
    expect(srv.seen[1]!.query.getAll('apiKey')).toEqual([KEY]);
  });

  it('preflight: one request; AuthError for a refused key, resolves for a good one', async () => {
    srv.set((_req, res, url) =>
      url.searchParams.get('apiKey') === KEY
        ? json(res, 200, { status: 'OK', count: 1, results: [{ ticker: 'AAPL' }] })
        : json(res, 401, { status: 'ERROR', error: 'Unknown API Key' }),
    );
    await make().preflight('AAPL');
    expect(srv.seen[0]!.path).toBe('/v3/reference/tickers');
    expect(srv.seen[0]!.query.get('ticker')).toBe('AAPL');
    const err = await errorOf(make({ apiKey: 'wrong-key' }).preflight());
    expect(err).toBeInstanceOf(AuthError);
    expect(srv.seen).toHaveLength(2);
    const m = clients[0]!.metrics();
    expect(m).toMatchObject({ requests: 1, sent: 1, ok: 1 });
    expect(m.latencyP50Ms).toBeGreaterThan(0);
  });

  it('aggregates$ builds the v2 path and parses bars; empty results give an empty page', async () => {
    srv.set((_req, res, url) => {
      if (url.pathname.endsWith('/2024-01-03')) return json(res, 200, { status: 'OK', resultsCount: 0, request_id: 'e' });
      json(res, 200, { status: 'OK', request_id: 'a', results: [{ t: 1704200400000, o: 1, h: 2, l: 0.5, c: 1.5, v: 1000, vw: 1.2, n: 10 }] });
    });
    const client = make();
    const [page] = await lastValueFrom(client.aggregates$('AAPL', 1, 'minute', '2024-01-02', '2024-01-02').pipe(toArray()));
    expect(page!.results[0]!.t).toBe(1704200400000);
    expect(srv.seen[0]!.path).toBe('/v2/aggs/ticker/AAPL/range/1/minute/2024-01-02/2024-01-02');
    expect(Object.fromEntries(srv.seen[0]!.query)).toMatchObject({ adjusted: 'true', sort: 'asc', limit: '50000', apiKey: KEY });
    const empty = await lastValueFrom(client.aggregates$('AAPL', 1, 'minute', '2024-01-03', '2024-01-03'));
    expect(empty.results).toEqual([]);
  });

  it('quotes$ sends timestamp.gte/lte in ns and order', async () => {
    srv.set((_req, res) =>
      json(
        res,
        200,
        `{"status":"OK","results":[{"ask_exchange":1,"ask_price":2,"ask_size":3,"bid_exchange":4,"bid_price":1.9,"bid_size":5,"participant_timestamp":1700000000000000001,"sequence_number":9,"sip_timestamp":1700000000000000003,"tape":3}]}`,
      ),
    );
    const client = make();
    const page = await lastValueFrom(client.quotes$('BRK.B', { gte: 1700000000000000000n, lte: 1700000000999999999n, order: 'desc', limit: 10 }));
    expect(page.results[0]!.sip_timestamp).toBe(1700000000000000003n);
    expect(srv.seen[0]!.path).toBe('/v3/quotes/BRK.B');
    expect(srv.seen[0]!.query.get('timestamp.lte')).toBe('1700000000999999999');
    expect(srv.seen[0]!.query.get('order')).toBe('desc');
  });

  it('unsubscribing aborts the in-flight request', async () => {
    let closed = false;
    srv.set((req) => {
      req.socket.on('close', () => {
        closed = true;
      });
    });
    const client = make();
    const sub = client.trades$('AAPL', { gte: 1n, lte: 2n }).subscribe();
    await new Promise((r) => setTimeout(r, 50));
    sub.unsubscribe();
    await new Promise((r) => setTimeout(r, 100));
    expect(closed).toBe(true);
    expect(client.metrics().errors).toEqual({});
  });

  it('validates options up front without echoing the key', () => {
    expect(() => new PolygonClient({ apiKey: '' })).toThrow(/apiKey/);
    expect(() => new PolygonClient({ apiKey: KEY, baseUrl: 'ftp://x' })).toThrow(/baseUrl/);
    expect(() => new PolygonClient({ apiKey: KEY, baseUrl: `http://h/?apiKey=${KEY}` })).toThrow(/baseUrl/);
    expect(() => new PolygonClient({ apiKey: KEY, connections: 0 })).toThrow(/connections.*0 \(number\)/);
    expect(() => new PolygonClient({ apiKey: KEY, auth: 'basic' as never })).toThrow(/auth/);
    expect(() => new PolygonClient({ apiKey: 5 as never })).toThrow(/apiKey/);
    const c = new PolygonClient({ apiKey: KEY, baseUrl: 'http://127.0.0.1:9' });
    clients.push(c);
    expect(JSON.stringify(c)).not.toContain(KEY);
    expect(inspect(c, { depth: 5, showHidden: true })).not.toContain(KEY);
    expect(() => c.trades$('AAPL', { gte: 1 as never, lte: 2n })).toThrow(/gte.*bigint/);
  });
});
