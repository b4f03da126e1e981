/**
 * Issue 15 points 4 and 8 on the column path (stage 2's byte-level scanner):
 * - a row that is valid JSON but cannot be stored is a RowValueError (E_DATA, not retried) naming
 *   the field and row, while malformed or truncated bytes stay a retryable ProtocolError;
 * - rows a server re-serves from the previous page are dropped once (exact repeats only) and counted.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { from, lastValueFrom, mergeMap, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError, ProtocolError, RowValueError } from '../../src/errors.js';
import { bucketNsForHz, downsampleQuotes } from '../../src/operators/downsample-quotes.js';
import { TickColumns, scanTicksPage } from '../../src/streams/column-scanner.js';
import { PolygonClient } from '../../src/streams/polygon-client.js';
import type { Quote } from '../../src/types.js';

const T0 = 1709818200000000000n;
const trade = (over: Record<string, string> = {}): string => {
  const f: Record<string, string> = { sip_timestamp: String(T0 + 1n), participant_timestamp: String(T0), sequence_number: '5', id: '"t1"', price: '4.17', size: '100', exchange: '4', tape: '3', conditions: '[12,37]', ...over };
  return `{${Object.entries(f).filter(([, v]) => v !== '').map(([k, v]) => `"${k}":${v}`).join(',')}}`;
};
const quote = (sip: bigint, seq: number, bid = 1.5): string =>
  `{"sip_timestamp":${sip},"participant_timestamp":${sip - 7n},"sequence_number":${seq},"bid_price":${bid},"bid_size":3,"bid_exchange":11,"ask_price":1.52,"ask_size":2,"ask_exchange":12,"tape":3,"conditions":[1],"indicators":[]}`;
const page = (rows: string[], extra = ''): Buffer => Buffer.from(`{"results":[${rows.join(',')}],"status":"OK","request_id":"r1"${extra}}`);

function scanError(body: Buffer, cols = new TickColumns('trades')): unknown {
  try {
    scanTicksPage(body, cols, 'GET /v3/trades/X');
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('point 4: values that cannot be stored are RowValueErrors, not retried', () => {
  const cases: Array<[string, Buffer, RegExp, TickColumns?]> = [
    ['an integer beyond Int64', page([trade(), trade({ sip_timestamp: '99999999999999999999' })]), /trades sip_timestamp: value does not fit in Int64 at row 1, got 99999999999999999999$/],
    ['a fraction where an integer belongs', page([trade({ sequence_number: '1.5' })]), /trades sequence_number: expected an integer at row 0, got 1\.5$/],
    ['a string where an integer belongs', page([trade({ participant_timestamp: '"1709"' })]), /trades participant_timestamp: expected an integer at row 0, got "1709"$/],
    ['a required field missing', page([trade({ price: '' })]), /trades price: missing at row 0$/],
    ['a required field null', page([trade({ id: 'null' })]), /trades id: missing at row 0$/],
    ['a 32-bit field out of range', page([trade({ exchange: '4294967296' })]), /trades exchange: expected a 32-bit integer at row 0, got 4294967296$/],
    ['a list element that is no integer', page([trade({ conditions: '[1,"x"]' })]), /trades conditions: expected a list of 32-bit integers at row 0, got "x"$/],
    ['a quote without sip_timestamp', page([quote(T0, 1).replace(/"sip_timestamp":\d+,/, '')]), /quotes sip_timestamp: missing at row 0$/, new TickColumns('quotes', 1e9)],
    ['quotes going back in time', page([quote(T0 + 2_000_000_000n, 1), quote(T0, 2)]), /quotes sip_timestamp: earlier than the quote before at row 1$/, new TickColumns('quotes', 1e9)],
  ];
  for (const [name, body, re, cols] of cases) {
    it(name, () => {
      const err = scanError(body, cols);
      expect(err).toBeInstanceOf(RowValueError);
      expect(err).toBeInstanceOf(DataError);
      expect(err).not.toBeInstanceOf(ProtocolError);
      expect((err as RowValueError).code).toBe('E_DATA');
      expect((err as RowValueError).retryable).toBe(false);
      expect((err as RowValueError).detail).toMatch(re);
      expect((err as Error).message).toContain('GET /v3/trades/X: ');
    });
  }

  it('a body that also is malformed or cut short stays a retryable ProtocolError, wherever it is cut', () => {
    const body = page([trade({ sip_timestamp: '99999999999999999999' }), trade({ sip_timestamp: String(T0 + 2n) })]);
    for (let cut = 1; cut < body.length; cut++) {
      const err = scanError(body.subarray(0, cut));
      expect(err, `cut at ${cut}`).toBeInstanceOf(ProtocolError);
      expect((err as ProtocolError).retryable).toBe(true);
    }
    expect(scanError(Buffer.concat([body, Buffer.from('x')]))).toBeInstanceOf(ProtocolError);
    expect(scanError(Buffer.from(body.toString().replace('"price":4.17', '"price":4.')))).toBeInstanceOf(ProtocolError);
    expect(scanError(body)).toBeInstanceOf(RowValueError);
  });

  describe('through PolygonClient.tickColumns$ against a server on loopback', () => {
    let server: Server;
    let url: string;
    const hits = new Map<string, number>();
    beforeAll(async () => {
      server = createServer((req, res) => {
        const p = new URL(req.url!, 'http://x').pathname;
        const n = (hits.get(p) ?? 0) + 1;
        hits.set(p, n);
        res.setHeader('content-type', 'application/json');
        if (p === '/v3/trades/POIS') res.end(page([trade({ sip_timestamp: '99999999999999999999' })]));
        else if (p === '/v3/trades/CUTS') res.end(n < 3 ? page([trade()]).subarray(0, 40) : page([trade()]));
        else res.end(page([]));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise((r) => server?.close(r));
    });

    it('a value error is asked once and fails; a cut body is retried until whole', async () => {
      const client = new PolygonClient({ apiKey: 'k', baseUrl: url, retry: { baseMs: 5, maxAttempts: 5 } });
      try {
        const range = { gte: T0, lte: T0 + 10n ** 12n };
        const err = await lastValueFrom(client.tickColumns$('trades', 'POIS', range, new TickColumns('trades'))).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(RowValueError);
        expect(hits.get('/v3/trades/POIS')).toBe(1);
        const cols = new TickColumns('trades');
        await lastValueFrom(client.tickColumns$('trades', 'CUTS', range, cols));
        expect(hits.get('/v3/trades/CUTS')).toBe(3);
        expect(cols.length).toBe(1);
      } finally {
        await client.close();
      }
    }, 60_000);
  });
});

describe('point 1 on columns: the error text of a 200 that is not data', () => {
  it('surfaces the body\'s error (or message) string for the page-status message; other shapes are skipped', () => {
    const h = scanTicksPage(Buffer.from('{"status":"ERROR","request_id":"r","error":"Internal error"}'), new TickColumns('trades'), 'GET t');
    expect(h).toMatchObject({ status: 'ERROR', hasResults: false, detail: 'Internal error' });
    expect(scanTicksPage(Buffer.from('{"status":"ERROR","message":"m1"}'), new TickColumns('trades'), 'GET t').detail).toBe('m1');
    expect(scanTicksPage(Buffer.from('{"status":"ERROR","error":{"x":1},"results":[]}'), new TickColumns('trades'), 'GET t').detail).toBeUndefined();
  });
});

/** Scans pages one by one into `into`, as tickColumns$ does. */
function scanPages(pages: Buffer[], into: TickColumns): void {
  for (const body of pages) {
    const scratch = new TickColumns(into.kind, into.bucketNs, 8);
    scanTicksPage(body, scratch, 'GET t');
    into.repeatedRows += scratch.dropRepeatsOf(into);
    into.append(scratch, 'GET t');
  }
}
const sips = (c: TickColumns): bigint[] => Array.from(c.i64[0]!.subarray(0, c.length));
const seqs = (c: TickColumns): bigint[] => Array.from(c.i64[3]!.subarray(0, c.length));

describe('point 8: rows re-served across pages are stored once', () => {
  const rows = Array.from({ length: 8 }, (_, i) => trade({ sip_timestamp: String(T0 + BigInt(i >> 1)), sequence_number: String(i), id: `"t${i}"` }));

  it('a second page starting with the last 3 rows of the first: dropped and counted', () => {
    const cols = new TickColumns('trades');
    scanPages([page(rows.slice(0, 5)), page(rows.slice(2))], cols);
    expect(seqs(cols)).toEqual([0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n]);
    expect(cols.repeatedRows).toBe(3);
    expect(Array.from({ length: 8 }, (_, i) => cols.stringAt(4, i))).toEqual(rows.map((_, i) => `t${i}`));
  });

  it('a whole page served twice adds nothing; no overlap changes nothing', () => {
    const cols = new TickColumns('trades');
    scanPages([page(rows.slice(0, 4)), page(rows.slice(0, 4)), page(rows.slice(4))], cols);
    expect(seqs(cols)).toEqual([0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n]);
    expect(cols.repeatedRows).toBe(4);
  });

  it('a row with the same sip_timestamp and sequence number but another value is not a repeat', () => {
    const cols = new TickColumns('trades');
    const changed = trade({ sip_timestamp: String(T0 + 2n), sequence_number: '4', id: '"t4"', price: '4.18' });
    const noCond = trade({ sip_timestamp: String(T0 + 2n), sequence_number: '4', id: '"t4"', conditions: '' });
    scanPages([page(rows.slice(0, 5)), page([changed, noCond, rows[4]!, ...rows.slice(5)])], cols);
    expect(seqs(cols)).toEqual([0n, 1n, 2n, 3n, 4n, 4n, 4n, 5n, 6n, 7n]);
    expect(Array.from(cols.f64[5]!.subarray(4, 7))).toEqual([4.17, 4.18, 4.17]);
    expect(cols.repeatedRows).toBe(1);
  });

  /**
   * Raw quotes (ascending, equal timestamps allowed), split into pages; each page after the first
   * starts by re-serving a contiguous end of the page before. Stored = downsampling the raw quotes
   * without the repeats (the row path's dropPageRepeats then downsampleQuotes).
   */
  const listing = fc
    .record({
      steps: fc.array(fc.integer({ min: 0, max: 700_000_000 }), { minLength: 1, maxLength: 60 }),
      cuts: fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 6 }),
      reserve: fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 6, maxLength: 6 }),
      hz: fc.constantFrom(0, 1, 4),
    })
    .map(({ steps, cuts, reserve, hz }) => {
      let t = T0;
      const raw = steps.map((s, i) => ((t += BigInt(s)), { sip: t, seq: i }));
      const at = [...new Set(cuts.filter((c) => c < raw.length))].sort((a, b) => a - b);
      const bounds = [0, ...at, raw.length];
      const pages: Array<typeof raw> = [];
      let served = 0;
      for (let p = 0; p + 1 < bounds.length; p++) {
        const own = raw.slice(bounds[p], bounds[p + 1]);
        const prev = p > 0 ? raw.slice(bounds[p - 1], bounds[p]) : [];
        const again = prev.slice(prev.length - Math.min(prev.length, reserve[p % reserve.length]!));
        served += again.length;
        pages.push([...again, ...own]);
      }
      return { raw, pages, served, hz };
    });

  it('quotes, downsampled or not: stored rows equal downsampling the raw quotes without the repeats', async () => {
    await fc.assert(
      fc.asyncProperty(listing, async ({ raw, pages, served, hz }) => {
        const asQuote = (q: { sip: bigint; seq: number }) => ({ sip_timestamp: q.sip, sequence_number: q.seq }) as unknown as Quote;
        const want = await lastValueFrom(from([raw.map(asQuote)]).pipe(downsampleQuotes(hz), mergeMap((x) => x), toArray()));
        const cols = new TickColumns('quotes', hz > 0 ? Number(bucketNsForHz(hz)) : 0);
        scanPages(pages.map((p) => page(p.map((q) => quote(q.sip, q.seq)))), cols);
        expect(sips(cols)).toEqual(want.map((q) => q.sip_timestamp));
        expect(seqs(cols)).toEqual(want.map((q) => BigInt(q.sequence_number)));
        if (hz === 0) expect(cols.repeatedRows).toBe(served);
        else expect(cols.repeatedRows).toBeLessThanOrEqual(served);
      }),
      { numRuns: 300 },
    );
  });
});
