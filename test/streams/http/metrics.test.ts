/** The metrics layer: each try counted once, by outcome, on both paths; an abort is not a failure. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastValueFrom, toArray } from 'rxjs';
import { startSim, type SimServer } from '../../../src/sim/index.js';
import { PolygonClient } from '../../../src/streams/polygon-client.js';
import { TickColumns } from '../../../src/streams/column-scanner.js';

const DAY = { gte: 1710216000000000000n, lte: 1710302399999999999n }; // 2024-03-12 in New York, ns

describe('metrics layer', () => {
  let faulty: SimServer;
  let slow: SimServer;
  beforeAll(async () => {
    faulty = await startSim({ seed: 3, errorRate: 0.3, resetRate: 0.1, errorBodyRate: 0.1 });
    slow = await startSim({ seed: 3, latency: { minMs: 3_000, maxMs: 3_000 } });
  });
  afterAll(async () => {
    await faulty.close();
    await slow.close();
  });

  it('sent = ok + failures by code; retries = failures; bytes and latency per try; pages per page, on both paths', async () => {
    const client = new PolygonClient({ apiKey: 'test-key-1234', baseUrl: faulty.url, retry: { baseMs: 1, capMs: 5, maxAttempts: 30 } });
    try {
      const pages = await lastValueFrom(client.trades$('ABVC', { ...DAY, limit: 1000 }).pipe(toArray()));
      const headers = await lastValueFrom(client.tickColumns$('trades', 'ABVC', { ...DAY, limit: 1000 }, new TickColumns('trades')).pipe(toArray()));
      const m = client.metrics();
      const failed = Object.values(m.errors).reduce((a, b) => a + b, 0);
      expect(failed).toBeGreaterThan(0);
      expect(Object.keys(m.errors).every((c) => ['E_SERVER', 'E_NETWORK', 'E_PROTOCOL'].includes(c))).toBe(true);
      expect(m.ok).toBe(pages.length + headers.length);
      expect(m.pages).toBe(m.ok);
      expect(m.sent).toBe(m.ok + failed);
      expect(m.retries).toBe(failed);
      expect(m.latency.count).toBe(m.sent);
      expect(m.requests).toBe(m.sent);
      expect(m.bytes).toBeGreaterThan(1000 * m.ok);
    } finally {
      await client.close();
    }
  });

  it('an unsubscribed try is counted as sent, not as a failure', async () => {
    const client = new PolygonClient({ apiKey: 'test-key-1234', baseUrl: slow.url });
    try {
      const sub = client.tickColumns$('trades', 'ABVC', DAY, new TickColumns('trades')).subscribe();
      await new Promise((r) => setTimeout(r, 100));
      sub.unsubscribe();
      await new Promise((r) => setTimeout(r, 100));
      expect(client.metrics()).toMatchObject({ sent: 1, ok: 0, errors: {}, pages: 0 });
      expect(client.metrics().latency.count).toBe(0);
    } finally {
      await client.close();
    }
  });
});
