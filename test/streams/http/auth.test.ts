/**
 * The auth layer and the one secret scrubber: the key goes on the wire only, and never comes back
 * out in an error, a log line or a page handed on, even from a simulator that echoes it (`echoKey`:
 * error bodies quote the key, every next_url carries it).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { lastValueFrom, toArray, type Observable } from 'rxjs';
import { startSim, type SimServer } from '../../../src/sim/index.js';
import { PolygonClient, type PolygonClientOptions } from '../../../src/streams/polygon-client.js';
import { TickColumns } from '../../../src/streams/column-scanner.js';
import { ApiKeyAuth } from '../../../src/streams/http/auth.js';
import { compose, type HttpRequest } from '../../../src/streams/http/layer.js';
import {
  LOG_REDACT_PATHS,
  REDACTED,
  redactSecrets,
  redactUrlPassword,
  scrubError,
  scrubSecrets,
  withoutKeyMembers,
} from '../../../src/secrets.js';
import { AuthError, ProtocolError, ServerError } from '../../../src/errors.js';

const KEY = 'K3y/with+odd=chars_0123456789';
const ENC = encodeURIComponent(KEY);
const DAY = { gte: 1710216000000000000n, lte: 1710302399999999999n }; // 2024-03-12 in New York, ns

/** Everything an error shows: text, stack, JSON, inspect with its cause chain. */
function shown(err: unknown): string {
  return [String(err), (err as Error)?.stack ?? '', JSON.stringify(err), inspect(err, { depth: 8, showHidden: true })].join('\n');
}

function expectNoKey(text: string): void {
  expect(text).not.toContain(KEY);
  expect(text).not.toContain(ENC);
}

describe('the one scrubber (src/secrets.ts)', () => {
  it('removes a known key raw and URL-encoded, and secret-shaped values without knowing them', () => {
    expect(scrubSecrets(`a ${KEY} b ${ENC} c`, [KEY])).toBe(`a ${REDACTED} b ${REDACTED} c`);
    expect(scrubSecrets('x --api-key=abc --token zzz y')).toBe(`x --api-key=${REDACTED} --token ${REDACTED} y`);
    expect(scrubSecrets('GET /v3/trades?apiKey=abc&limit=5')).toBe(`GET /v3/trades?apiKey=${REDACTED}&limit=5`);
    expect(scrubSecrets('Authorization: Bearer abc')).toBe(`Authorization: Bearer ${REDACTED}`);
    expect(redactSecrets('redis://u:pw@h:6379/0')).toBe(`redis://u:${REDACTED}@h:6379/0`);
    expect(redactUrlPassword('rediss://:pw@h:6380')).toBe(`rediss://:${REDACTED}@h:6380`);
    // Too short to be a key: left alone rather than blanking every such letter of a message.
    expect(scrubSecrets('a b c', ['a'])).toBe('a b c');
  });

  it('strips key members from a next_url, absolute or relative, and leaves others untouched', () => {
    expect(withoutKeyMembers(`http://h/v3/trades/X?cursor=2&apiKey=${ENC}`)).toBe('http://h/v3/trades/X?cursor=2');
    expect(withoutKeyMembers(`/v3/trades/X?APIKEY=${ENC}&cursor=2&api_key=1`)).toBe('/v3/trades/X?cursor=2');
    expect(withoutKeyMembers('http://h/v3/trades/X?cursor=a%2Fb')).toBe('http://h/v3/trades/X?cursor=a%2Fb');
  });

  it('scrubs an error in place: class, code and status stay; message, stack and cause lose the key', () => {
    const err = new ServerError(`GET /x: HTTP 502 echo ${KEY}`, 502, { cause: new Error(`socket to /x?apiKey=${ENC}`) });
    const same = scrubError(err, [KEY]);
    expect(same).toBe(err);
    expect(err).toBeInstanceOf(ServerError);
    expect([err.code, err.status, err.retryable]).toEqual(['E_SERVER', 502, true]);
    expect(err.message).toBe(`GET /x: HTTP 502 echo ${REDACTED}`);
    expectNoKey(shown(err));
  });

  it('the logger redaction paths are derived from the same field names', () => {
    expect(LOG_REDACT_PATHS).toEqual(['apiKey', 'api_key', 'key', '*.apiKey', '*.api_key', 'headers.authorization', '*.headers.authorization']);
  });
});

describe('ApiKeyAuth layer', () => {
  const req = (target: string): HttpRequest => ({
    target,
    label: '/v3/x',
    signal: new AbortController().signal,
    headers: { accept: 'application/json' },
    decode: (b) => b,
    redact: (t) => t,
  });
  const ok = { status: 200, headers: {}, body: Buffer.alloc(0) };

  it('adds the key to the request handed down only; the caller’s request is unchanged', async () => {
    const seen: HttpRequest[] = [];
    const q = compose(async (r) => (seen.push(r), ok), new ApiKeyAuth(KEY, 'query').layer);
    const b = compose(async (r) => (seen.push(r), ok), new ApiKeyAuth(KEY, 'bearer').layer);
    const r1 = req('/v3/x?limit=1');
    await q(r1);
    await q(req('/v3/x'));
    await b(req('/v3/x'));
    expect(seen.map((r) => r.target)).toEqual([`/v3/x?limit=1&apiKey=${ENC}`, `/v3/x?apiKey=${ENC}`, '/v3/x']);
    expect(seen[2]!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(r1.target).toBe('/v3/x?limit=1');
    expect(seen[0]!.redact(`echo ${KEY}`)).toBe(`echo ${REDACTED}`);
  });

  it('a key in a rejected option is not shown either', () => {
    let err: unknown;
    try {
      new PolygonClient({ apiKey: KEY, baseUrl: `http://h/?apiKey=${ENC}` });
    } catch (e) {
      err = e;
    }
    expect(String(err)).toMatch(/baseUrl/);
    expectNoKey(shown(err));
  });

  it('scrubs whatever the layers below throw', async () => {
    const d = compose(async (r) => {
      throw new ProtocolError(`bad bytes near ${r.target}`, 200, { cause: new Error(`raw ${KEY}`) });
    }, new ApiKeyAuth(KEY, 'query').layer);
    const err = await d(req('/v3/x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).message).toBe(`bad bytes near /v3/x?apiKey=${REDACTED}`);
    expectNoKey(shown(err));
  });
});

describe('a server echoing the key (sim echoKey)', () => {
  let sim: SimServer;
  const clients: PolygonClient[] = [];
  const logs: string[] = [];
  const logger = {
    warn: (o: object, m?: string) => logs.push(JSON.stringify([o, m])),
    debug: (o: object, m?: string) => logs.push(JSON.stringify([o, m])),
  };
  const make = (o: Partial<PolygonClientOptions> = {}): PolygonClient => {
    const c = new PolygonClient({ apiKey: KEY, baseUrl: sim.url, retry: { baseMs: 1, capMs: 5, maxAttempts: 2 }, logger, ...o });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    sim = await startSim({ seed: 3, echoKey: true });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    for (const l of logs) expectNoKey(l);
    logs.length = 0;
  });
  afterAll(async () => {
    await sim.close();
  });

  it('the simulator does echo it (so the checks below can fail)', async () => {
    const res = await fetch(`${sim.url}/v3/trades/ABVC?timestamp.gte=${DAY.gte}&timestamp.lte=${DAY.lte}&limit=5&apiKey=${ENC}`);
    expect(await res.text()).toContain(`apiKey=${ENC}`);
  });

  it('next_url carrying the key: pages hand it on without the key, on both the row and the column path', async () => {
    for (const auth of ['query', 'bearer'] as const) {
      const client = make({ auth });
      const pages = await lastValueFrom(client.trades$('ABVC', { ...DAY, limit: 200 }).pipe(toArray()));
      expect(pages.length).toBeGreaterThan(2);
      const headers = await lastValueFrom(client.tickColumns$('trades', 'ABVC', { ...DAY, limit: 200 }, new TickColumns('trades')).pipe(toArray()));
      expect(headers.length).toBe(pages.length);
      for (const p of [...pages.slice(0, -1), ...headers.slice(0, -1)]) {
        expect(p.nextUrl).toMatch(/cursor=/);
        expectNoKey(p.nextUrl!);
        expect(p.nextUrl!.toLowerCase()).not.toContain('apikey');
      }
      expect(client.metrics()).toMatchObject({ pages: 2 * pages.length, sent: 2 * pages.length, ok: 2 * pages.length });
    }
  });

  it('error bodies quoting the key: the typed error and the log lines do not', async () => {
    const wrongKey = 'WRONG-key_9876543210';
    const strict = await startSim({ seed: 3, echoKey: true, apiKey: 'the-only-good-key', errorRate: 0 });
    try {
      const refused = new PolygonClient({ apiKey: wrongKey, baseUrl: strict.url, logger });
      clients.push(refused);
      const auth = await lastValueFrom(refused.trades$('ABVC', DAY)).catch((e: unknown) => e);
      expect(auth).toBeInstanceOf(AuthError);
      expect(String(auth)).toContain(`HTTP 401 Unknown API Key (apiKey=${REDACTED}`);
      expect(String(auth)).toContain(`key ${REDACTED})`);
      expect(shown(auth)).not.toContain(wrongKey);
      for (const l of logs) expect(l).not.toContain(wrongKey);
    } finally {
      await strict.close();
    }

    const failing = await startSim({ seed: 3, echoKey: true, errorRate: 1 });
    try {
      const client = make({ baseUrl: failing.url });
      for (const listing of [client.trades$('ABVC', DAY), client.tickColumns$('trades', 'ABVC', DAY, new TickColumns('trades'))] as Array<Observable<unknown>>) {
        const err = await lastValueFrom(listing).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ServerError);
        expect(String(err)).toContain(REDACTED);
        expectNoKey(shown(err));
      }
      expect(logs.some((l) => l.includes('retrying request'))).toBe(true);
    } finally {
      await failing.close();
    }
  });

  it('a 200 that is not data, quoting the key, on both paths', async () => {
    const bodies = await startSim({ seed: 3, echoKey: true, errorBodyRate: 1 });
    try {
      const client = make({ baseUrl: bodies.url, retry: false });
      for (const listing of [client.trades$('ABVC', DAY), client.tickColumns$('trades', 'ABVC', DAY, new TickColumns('trades'))] as Array<Observable<unknown>>) {
        const err = await lastValueFrom(listing).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ProtocolError);
        expect(String(err)).toMatch(/HTTP 200 with status "ERROR"/);
        expect(String(err)).toContain(REDACTED);
        expectNoKey(shown(err));
      }
    } finally {
      await bodies.close();
    }
  });
});
