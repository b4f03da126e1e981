import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startSim } from '../../src/sim/index.js';
import type { SimServer } from '../../src/sim/server.js';

let sim: SimServer;
beforeAll(async () => {
  sim = await startSim({ seed: 3, errorBodyRate: 0.3, poisonTrades: 'POIS' });
});
afterAll(async () => sim?.close());

const get = async (path: string) => {
  const r = await request(`${sim.url}${path}${path.includes('?') ? '&' : '?'}apiKey=k`);
  return { status: r.statusCode, body: await r.body.text() };
};

describe('simulator data faults (issue 15 soak)', () => {
  it('errorBodyRate: some replies are 200 with a status ERROR body, the others are data', async () => {
    const bodies = await Promise.all(Array.from({ length: 40 }, (_, i) => get(`/v3/trades/AAPL?timestamp.gte=${1709650000000000000 + i}&timestamp.lte=1709650600000000000&limit=10`)));
    const errors = bodies.filter((b) => b.status === 200 && /"status":"ERROR"/.test(b.body));
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.length).toBeLessThan(40);
    for (const b of bodies) expect(b.status).toBe(200);
  });
  it('poisonTrades: that ticker carries a sip_timestamp beyond Int64; others do not', async () => {
    const q = '?timestamp.gte=1709650000000000000&timestamp.lte=1709651800000000000&limit=50';
    let p = await get(`/v3/trades/POIS${q}`);
    while (/"status":"ERROR"/.test(p.body)) p = await get(`/v3/trades/POIS${q}`);
    expect(p.body).toContain('"sip_timestamp":99999999999999999999');
    let a = await get(`/v3/trades/AAPL${q}`);
    while (/"status":"ERROR"/.test(a.body)) a = await get(`/v3/trades/AAPL${q}`);
    expect(a.body).not.toContain('99999999999999999999');
  });
  it('bad option values are refused with the value shown', async () => {
    await expect(startSim({ errorBodyRate: 2 })).rejects.toThrow(/errorBodyRate: expected a number from 0 to 1, got 2/);
    await expect(startSim({ poisonTrades: '../x' })).rejects.toThrow(/poisonTrades: expected a ticker, got "..\/x"/);
  });
});
