/**
 * The official JS client (@polygon.io/client-js v8, axios-based) against the simulator, with its
 * `pagination: true` mode that follows next_url (adding `&apiKey=` itself). Two quirks of that
 * client are pinned here: it concatenates pages last-first (each page keeps its own order), and it
 * JSON.parses, so nanosecond timestamps arrive rounded to doubles.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restClient } from '@polygon.io/client-js';
import { startSim, type SimServer } from '../../src/sim/index.js';
import { get, withKey } from '../support/sim-http.js';

const KEY = 'client-js-key';

/** A straightforward pager with plain JSON.parse (rounded ns, like the client). */
async function pages(url: string): Promise<any[][]> {
  const out: any[][] = [];
  let next: string | undefined = url;
  while (next) {
    const r = await get(withKey(next, KEY));
    expect(r.status).toBe(200);
    const body = JSON.parse(r.text);
    out.push(body.results ?? []);
    next = body.next_url;
  }
  return out;
}

describe('official @polygon.io/client-js against the sim', () => {
  let sim: SimServer;
  let rest: ReturnType<typeof restClient>;
  beforeAll(async () => {
    sim = await startSim({ seed: 3, apiKey: KEY });
    rest = restClient(KEY, sim.url, { pagination: true });
  });
  afterAll(() => sim?.close());

  it('pages through minute aggregates', async () => {
    const res: any = await rest.getStocksAggregates('ABVC', 1, 'minute' as any, '2024-03-08', '2024-03-12', true, 'asc' as any, 400);
    const expected = await pages(`${sim.url}/v2/aggs/ticker/ABVC/range/1/minute/2024-03-08/2024-03-12?adjusted=true&sort=asc&limit=400`);
    expect(expected.length).toBeGreaterThan(3);
    expect(res.status).toBe('OK');
    expect(res.ticker).toBe('ABVC');
    expect(res.results).toEqual([...expected].reverse().flat());
    const sorted = [...res.results].sort((a, b) => a.t - b.t);
    expect(sorted).toEqual(expected.flat());
  });

  it('pages through trades', async () => {
    const res: any = await rest.getStocksTrades('ABVC', '2024-03-11', undefined, undefined, undefined, undefined, 'asc' as any, 1000);
    const expected = await pages(`${sim.url}/v3/trades/ABVC?timestamp=2024-03-11&order=asc&limit=1000`);
    expect(expected.length).toBeGreaterThan(1);
    expect(res.results).toEqual([...expected].reverse().flat());
    // Rounded timestamps still order the same way as the exact ones (they are microseconds apart).
    const bySeq = [...res.results].sort((a, b) => a.sequence_number - b.sequence_number);
    expect(bySeq).toEqual(expected.flat());
    expect(bySeq.map((t) => t.sip_timestamp)).toEqual(expected.flat().map((t) => t.sip_timestamp));
    for (const t of res.results) expect(typeof t.sip_timestamp).toBe('number');
  });

  it('pages through quotes (desc, the default order)', async () => {
    const res: any = await rest.getStocksQuotes('ABVC', undefined, '2024-03-11', undefined, '2024-03-11', undefined, undefined, 5000);
    const expected = await pages(`${sim.url}/v3/quotes/ABVC?timestamp.gte=2024-03-11&timestamp.lte=2024-03-11&limit=5000`);
    expect(expected.length).toBeGreaterThan(1);
    expect(res.results).toEqual([...expected].reverse().flat());
    expect(res.results.length).toBe(expected.flat().length);
  });

  it('gets the API error for a wrong key', async () => {
    const bad = restClient('wrong', sim.url, { pagination: true });
    await expect(bad.getStocksTrades('ABVC', '2024-03-11')).rejects.toMatchObject({ response: { status: 401 } });
  });
});
