/** The transport layer alone, against the simulator: raw replies, undici failures as typed errors. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSim, type SimServer } from '../../../src/sim/index.js';
import { PoolTransport } from '../../../src/streams/http/transport.js';
import type { HttpRequest } from '../../../src/streams/http/layer.js';
import { AbortedError, NetworkError, ProtocolError, TimeoutError } from '../../../src/errors.js';

const opts = { connections: 4, headersTimeoutMs: 5_000, bodyTimeoutMs: 300 };
const req = (target: string, signal = new AbortController().signal, onBodyBytes?: (n: number) => void): HttpRequest => ({
  target,
  label: target.split('?')[0]!,
  signal,
  headers: { accept: 'application/json' },
  decode: (b) => b,
  redact: (t) => t,
  onBodyBytes,
});

describe('PoolTransport reports each send (for the bucket)', () => {
  it('onSent fires once per request, when undici writes it: not before the connection is free, never for one aborted before it was written', async () => {
    const { createServer } = await import('node:http');
    const arrived: string[] = [];
    const events: string[] = [];
    let releaseFirst: () => void = () => {};
    const server = createServer((rq, rs) => {
      arrived.push(rq.url!);
      events.push(`arrived ${rq.url}`);
      if (rq.url === '/a') releaseFirst = () => rs.end('a');
      else rs.end('x');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    // One connection: b and c wait in undici's queue behind a until a's reply ends.
    const t = new PoolTransport(origin, { ...opts, connections: 1 });
    const sent = (name: string) => (): void => void events.push(`sent ${name}`);
    try {
      const a = t.dispatch({ ...req('/a'), onSent: sent('/a') });
      const cAbort = new AbortController();
      const b = t.dispatch({ ...req('/b'), onSent: sent('/b') });
      const c = t.dispatch({ ...req('/c', cAbort.signal), onSent: sent('/c') });
      while (arrived.length === 0) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 50));
      const before = [...events]; // b and c not written yet: no send reported
      cAbort.abort();
      await new Promise((r) => setTimeout(r, 20));
      releaseFirst();
      expect((await a).status).toBe(200);
      expect((await b).status).toBe(200);
      // undici ends the aborted c only when its turn comes, after b
      await expect(c).rejects.toBeInstanceOf(AbortedError);
      expect(before).toEqual(['sent /a', 'arrived /a']);
      expect(events).toEqual(['sent /a', 'arrived /a', 'sent /b', 'arrived /b']);
    } finally {
      await t.close();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('PoolTransport', () => {
  const sims: SimServer[] = [];
  const sim = async (o: Parameters<typeof startSim>[0]): Promise<SimServer> => {
    const s = await startSim({ seed: 3, ...o });
    sims.push(s);
    return s;
  };
  let plain: SimServer;
  beforeAll(async () => {
    plain = await sim({});
  });
  afterAll(async () => {
    await Promise.all(sims.map((s) => s.close()));
  });

  it('hands up any status as it came, with the body and its byte count; it maps no status', async () => {
    const t = new PoolTransport(new URL(plain.url).origin, opts);
    try {
      let bytes = 0;
      const res = await t.dispatch(req('/v3/reference/tickers?limit=1', undefined, (n) => (bytes += n)));
      expect(res.status).toBe(401); // no key: the auth layer is above the transport
      expect(JSON.parse(res.body.toString())).toMatchObject({ status: 'ERROR', error: 'API Key was not provided' });
      expect(bytes).toBe(res.body.byteLength);
      const ok = await t.dispatch(req('/v3/reference/tickers?limit=1&apiKey=k-123456'));
      expect(ok.status).toBe(200);
      expect(ok.headers['content-type']).toBe('application/json');
    } finally {
      await t.close();
    }
  });

  it('a reset, a stalled body and a cut body become NetworkError, TimeoutError and ProtocolError', async () => {
    const cases = [
      [await sim({ resetRate: 1 }), NetworkError, /^GET \/v3\/reference\/tickers: /],
      [await sim({ stallRate: 1 }), TimeoutError, /body stalled \(UND_ERR_BODY_TIMEOUT\)$/],
      [await sim({ truncateRate: 1 }), ProtocolError, /response body cut short/],
    ] as const;
    for (const [s, cls, message] of cases) {
      const t = new PoolTransport(new URL(s.url).origin, opts);
      try {
        const err = await t.dispatch(req('/v3/reference/tickers?limit=50&apiKey=k-123456')).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(cls);
        expect((err as Error).message).toMatch(message);
      } finally {
        await t.close();
      }
    }
  });

  it('an aborted request is an AbortedError; a closed pool refuses with AbortedError', async () => {
    const slow = await sim({ latency: { minMs: 2_000, maxMs: 2_000 } });
    const t = new PoolTransport(new URL(slow.url).origin, opts);
    const ac = new AbortController();
    const pending = t.dispatch(req('/v3/reference/tickers?limit=1&apiKey=k-123456', ac.signal)).catch((e: unknown) => e);
    setTimeout(() => ac.abort(), 50);
    const aborted = await pending;
    expect(aborted).toBeInstanceOf(AbortedError);
    expect((aborted as Error).message).toBe('GET /v3/reference/tickers: aborted');
    expect(t.closed).toBe(false);
    await t.close();
    expect(t.closed).toBe(true);
    const closed = await t.dispatch(req('/v3/reference/tickers?limit=1&apiKey=k-123456')).catch((e: unknown) => e);
    expect(closed).toBeInstanceOf(AbortedError);
  });
});
