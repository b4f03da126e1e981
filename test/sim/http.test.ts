import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSim, type SimServer } from '../../src/sim/index.js';
import { get, withKey } from '../support/sim-http.js';

const KEY = 'test-key';
const PATHS = [
  '/v2/aggs/ticker/AAOI/range/1/minute/2024-03-11/2024-03-12?limit=700',
  '/v2/aggs/ticker/AAOI/range/1/day/2024-03-01/2024-03-29',
  '/v3/trades/AAOI?timestamp=2024-03-11&limit=500&order=asc',
  '/v3/quotes/AAOI?timestamp.gte=2024-11-04&timestamp.lt=2024-11-05&limit=500',
  '/v3/reference/tickers?limit=50',
];

describe('sim HTTP: determinism, envelopes, auth and errors', () => {
  let a: SimServer;
  let b: SimServer;
  let c: SimServer;
  let keyed: SimServer;
  beforeAll(async () => {
    [a, b, c, keyed] = await Promise.all([startSim({ seed: 7 }), startSim({ seed: 7 }), startSim({ seed: 8 }), startSim({ seed: 7, apiKey: KEY })]);
  });
  afterAll(async () => {
    await Promise.all([a, b, c, keyed].map((s) => s?.close()));
  });

  it('listens on loopback', () => {
    expect(a.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('same seed gives byte-identical bodies (request_id included); another seed different data', async () => {
    for (const path of PATHS) {
      const [x, y, z] = await Promise.all([a, b, c].map((s) => get(withKey(`${s.url}${path}`, KEY))));
      expect(x.status).toBe(200);
      const strip = (s: string) => s.replace(/http:\/\/127\.0\.0\.1:\d+/g, 'ORIGIN');
      expect(strip(y.text)).toBe(strip(x.text));
      if (!path.includes('reference')) expect(JSON.parse(z.text).results).not.toEqual(JSON.parse(x.text).results);
      // The key never travels back.
      expect(x.text).not.toContain(KEY);
    }
  });

  it('request_id is a 32-hex hash of the request, independent of the key and of auth style', async () => {
    const p = '/v3/trades/AAOI?timestamp=2024-03-11&limit=5';
    const x = JSON.parse((await get(`${a.url}${p}&apiKey=one`)).text);
    const y = JSON.parse((await get(`${a.url}${p}`, { authorization: 'Bearer two' })).text);
    const z = JSON.parse((await get(`${a.url}${p.replace('limit=5', 'limit=6')}&apiKey=one`)).text);
    expect(x.request_id).toMatch(/^[0-9a-f]{32}$/);
    expect(y.request_id).toBe(x.request_id);
    expect(z.request_id).not.toBe(x.request_id);
  });

  it('writes the envelopes of the real API', async () => {
    const aggs = JSON.parse((await get(`${a.url}/v2/aggs/ticker/AAOI/range/1/minute/2024-03-11/2024-03-11?apiKey=k`)).text);
    expect(Object.keys(aggs).sort()).toEqual(['adjusted', 'queryCount', 'request_id', 'results', 'resultsCount', 'status', 'ticker']);
    expect(aggs).toMatchObject({ ticker: 'AAOI', status: 'OK', adjusted: true });
    expect(aggs.resultsCount).toBe(aggs.results.length);
    expect(aggs.queryCount).toBe(aggs.results.length);
    expect(Object.keys(aggs.results[0]).sort()).toEqual(['c', 'h', 'l', 'n', 'o', 't', 'v', 'vw']);

    const unadj = JSON.parse((await get(`${a.url}/v2/aggs/ticker/AAOI/range/1/day/2024-03-11/2024-03-11?adjusted=false&apiKey=k`)).text);
    expect(unadj.adjusted).toBe(false);

    const weekend = JSON.parse((await get(`${a.url}/v2/aggs/ticker/AAOI/range/1/minute/2024-03-09/2024-03-10?apiKey=k`)).text);
    expect(weekend).toMatchObject({ resultsCount: 0, queryCount: 0, status: 'OK' });
    expect(weekend.results).toBeUndefined();

    const trades = JSON.parse((await get(`${a.url}/v3/trades/AAOI?timestamp=2024-03-11&apiKey=k`)).text);
    expect(trades.status).toBe('OK');
    expect(trades.results).toHaveLength(1000); // default limit
    // Default order is desc.
    expect(BigInt(trades.results[0].sip_timestamp)).toBeGreaterThan(BigInt(trades.results[1].sip_timestamp));
    const raw = (await get(`${a.url}/v3/trades/AAOI?timestamp=2024-03-11&limit=3&apiKey=k`)).text;
    // ns timestamps are written as exact 19-digit integers.
    expect(raw).toMatch(/"sip_timestamp":17\d{17}[,}]/);

    const empty = JSON.parse((await get(`${a.url}/v3/quotes/AAOI?timestamp=2024-03-09&apiKey=k`)).text);
    expect(empty).toMatchObject({ status: 'OK', results: [] });
    expect(empty.next_url).toBeUndefined();

    const tick = JSON.parse((await get(`${a.url}/v3/reference/tickers?limit=3&apiKey=k`)).text);
    expect(tick).toMatchObject({ status: 'OK', count: 3 });
    expect(tick.results[0]).toMatchObject({ market: 'stocks', locale: 'us', active: true });
  });

  it('accepts a key as apiKey or Bearer; rejects missing and unknown keys with the real bodies', async () => {
    const p = '/v3/trades/AAOI?timestamp=2024-03-11&limit=1';
    expect((await get(`${keyed.url}${p}&apiKey=${KEY}`)).status).toBe(200);
    expect((await get(`${keyed.url}${p}`, { authorization: `Bearer ${KEY}` })).status).toBe(200);

    const missing = await get(`${keyed.url}${p}`);
    expect(missing.status).toBe(401);
    const mb = JSON.parse(missing.text);
    expect(mb).toEqual({ status: 'ERROR', request_id: mb.request_id, error: 'API Key was not provided' });

    const empty = await get(`${a.url}${p}&apiKey=`);
    expect(empty.status).toBe(401);
    expect(JSON.parse(empty.text).error).toBe('API Key was not provided');

    const unknown = await get(`${keyed.url}${p}&apiKey=nope`);
    expect(unknown.status).toBe(401);
    expect(JSON.parse(unknown.text)).toMatchObject({ status: 'ERROR', error: 'Unknown API Key' });
    const unknownBearer = await get(`${keyed.url}${p}`, { authorization: 'Bearer nope' });
    expect(unknownBearer.status).toBe(401);

    // Without opts.apiKey any non-empty key is fine.
    expect((await get(`${a.url}${p}&apiKey=anything`)).status).toBe(200);
  });

  it('404 NOT_FOUND for unknown routes; 400 ERROR for bad parameters', async () => {
    const nf = await get(`${a.url}/v2/nothing/here?apiKey=k`);
    expect(nf.status).toBe(404);
    expect(JSON.parse(nf.text)).toMatchObject({ status: 'NOT_FOUND' });

    const bad: [string, RegExp][] = [
      ['/v2/aggs/ticker/AAOI/range/1/minute/2024-02-30/2024-03-01', /from/],
      ['/v2/aggs/ticker/AAOI/range/1/minute/yesterday/2024-03-01', /from/],
      ['/v2/aggs/ticker/AAOI/range/1/minute/2024-03-01/2024-03-01?limit=50001', /limit/],
      ['/v2/aggs/ticker/AAOI/range/0/minute/2024-03-01/2024-03-01', /multiplier/],
      ['/v2/aggs/ticker/AAOI/range/1/fortnight/2024-03-01/2024-03-01', /timespan/],
      ['/v2/aggs/ticker/AAOI/range/1/week/2024-03-01/2024-03-01', /not supported/],
      ['/v2/aggs/ticker/aaoi/range/1/minute/2024-03-01/2024-03-01', /ticker/],
      ['/v2/aggs/ticker/AAOI/range/1/minute/2024-03-01/2024-03-01?sort=up', /sort/],
      ['/v3/trades/TOOLONGTICKER?timestamp=2024-03-11', /ticker/],
      ['/v3/trades/AAOI?timestamp=2024-03-11&limit=50001', /limit/],
      ['/v3/trades/AAOI?timestamp=2024-03-11&limit=0', /limit/],
      ['/v3/trades/AAOI?timestamp=11/03/2024', /timestamp/],
      ['/v3/trades/AAOI?timestamp=2024-03-11&order=sideways', /order/],
      ['/v3/trades/AAOI?timestamp=2024-03-11&sort=price', /sort/],
      ['/v3/trades/AAOI', /time range/],
      ['/v3/quotes/AAOI?cursor=%%%', /cursor/],
      ['/v3/quotes/AAOI?cursor=Zm9vPWJhcg', /cursor/],
      ['/v3/reference/tickers?limit=1001', /limit/],
    ];
    for (const [path, re] of bad) {
      const r = await get(`${a.url}${path}${path.includes('?') ? '&' : '?'}apiKey=k`);
      expect(r.status, path).toBe(400);
      const body = JSON.parse(r.text);
      expect(body.status, path).toBe('ERROR');
      expect(body.request_id, path).toMatch(/^[0-9a-f]{32}$/);
      expect(body.error, path).toMatch(re);
    }
  });

  it('close() also ends idle keep-alive connections at once', async () => {
    const { Agent, request } = await import('undici');
    const sim = await startSim({ seed: 7 });
    const agent = new Agent({ keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000 });
    const r = await request(`${sim.url}/v3/reference/tickers?limit=1&apiKey=k`, { dispatcher: agent });
    await r.body.text();
    const t0 = performance.now();
    await sim.close();
    expect(performance.now() - t0).toBeLessThan(1000);
    await expect(request(`${sim.url}/v3/reference/tickers?limit=1&apiKey=k`, { dispatcher: agent })).rejects.toThrow();
    await agent.close();
  });

  it('answers other methods with 405', async () => {
    const { request } = await import('undici');
    const r = await request(`${a.url}/v3/trades/AAOI?apiKey=k`, { method: 'POST', body: '{}' });
    expect(r.statusCode).toBe(405);
    await r.body.text();
  });
});
