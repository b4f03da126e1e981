import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSim, type SimServer } from '../../src/sim/index.js';
import { get } from '../support/sim-http.js';
import { SPEC_URL, loadSpec, responseSchema, validate } from '../support/sim-openapi.js';

describe('sim responses conform to the OpenAPI spec of the real API', () => {
  let sim: SimServer;
  let spec: any;
  beforeAll(async () => {
    sim = await startSim({ seed: 5 });
    spec = loadSpec();
  });
  afterAll(() => sim?.close());

  it('finds the shared reference beside the repository', () => {
    expect(existsSync(fileURLToPath(SPEC_URL)), `missing ${fileURLToPath(SPEC_URL)}`).toBe(true);
  });

  it('the checker catches violations', () => {
    const schema = responseSchema(spec, '/v3/trades/{stockTicker}');
    expect(validate(schema, { status: 'OK', results: [{ exchange: 1 }] }).length).toBeGreaterThan(0);
    expect(validate(schema, { results: [] })).toEqual(['$: missing required status']);
    expect(validate(schema, { status: 'OK', results: [{ exchange: 1.5, id: '1', price: 1, sequence_number: 1, sip_timestamp: 1, participant_timestamp: 1, size: 1, decimal_size: '1' }] })).toEqual([
      '$.results[0].exchange: expected integer, got 1.5',
    ]);
  });

  const cases: [string, string][] = [
    ['/v2/aggs/ticker/{stocksTicker}/range/{multiplier}/{timespan}/{from}/{to}', '/v2/aggs/ticker/AAOI/range/1/minute/2024-03-11/2024-03-11?limit=300'],
    ['/v2/aggs/ticker/{stocksTicker}/range/{multiplier}/{timespan}/{from}/{to}', '/v2/aggs/ticker/AAOI/range/1/hour/2024-03-08/2024-03-12?sort=desc'],
    ['/v2/aggs/ticker/{stocksTicker}/range/{multiplier}/{timespan}/{from}/{to}', '/v2/aggs/ticker/AAOI/range/1/day/2024-01-01/2024-03-31'],
    ['/v2/aggs/ticker/{stocksTicker}/range/{multiplier}/{timespan}/{from}/{to}', '/v2/aggs/ticker/AAOI/range/1/day/2024-03-09/2024-03-10'],
    ['/v3/trades/{stockTicker}', '/v3/trades/AAOI?timestamp=2024-11-04&limit=5000'],
    ['/v3/trades/{stockTicker}', '/v3/trades/AAOI?timestamp=2024-11-09'],
    ['/v3/quotes/{stockTicker}', '/v3/quotes/AAOI?timestamp=2024-03-11&limit=5000&order=asc'],
    ['/v3/reference/tickers', '/v3/reference/tickers?limit=1000'],
  ];
  for (const [template, path] of cases) {
    it(`${path}`, async () => {
      const r = await get(`${sim.url}${path}${path.includes('?') ? '&' : '?'}apiKey=k`);
      expect(r.status).toBe(200);
      const body = JSON.parse(r.text);
      expect(validate(responseSchema(spec, template), body).slice(0, 5)).toEqual([]);
    });
  }
});
