/**
 * Issue 16 point 2 and 6: the byte-level column scanner. The bytes written for a window by the new
 * path (response bytes → typed columns → frame) equal those of the current path (losslessParse →
 * row objects → downsampleQuotes → tradesFrame/quotesFrame) on pages recorded from the simulator;
 * nanoseconds stay exact over all of Int64; unknown fields are skipped; malformed or truncated
 * bodies are retryable ProtocolErrors (values that cannot be stored: test/streams/column-row-values.test.ts).
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { lastValueFrom, from, toArray, mergeMap } from 'rxjs';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProtocolError, RowValueError } from '../../src/errors.js';
import { bucketNsForHz, downsampleQuotes } from '../../src/operators/downsample-quotes.js';
import { columnsFrame } from '../../src/streams/column-frame.js';
import { quotesFrame, tradesFrame, writeParquetAtomically, int64Values } from '../../src/sinks/parquet.js';
import { startSim, type SimServer } from '../../src/sim/index.js';
import { parseDay, sessionStartMs } from '../../src/sim/calendar.js';
import { TickColumns, scanTicksPage } from '../../src/streams/column-scanner.js';
import { losslessParse } from '../../src/codec/lossless-json.js';
import { WindowPool } from '../../src/workers/window-pool.js';
import type { Quote, Trade } from '../../src/types.js';

let sim: SimServer;
let dir: string;
beforeAll(async () => {
  sim = await startSim({ seed: 7, density: 'busy' });
  dir = await mkdtemp(join(tmpdir(), 'tickpipe-scanner-'));
});
afterAll(async () => {
  await sim?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Records every page of a listing as the raw bytes the server sent. */
async function record(kind: 'trades' | 'quotes', ticker: string, gte: bigint, lte: bigint, limit: number): Promise<Buffer[]> {
  const pages: Buffer[] = [];
  let url: string | undefined = `${sim.url}/v3/${kind}/${ticker}?timestamp.gte=${gte}&timestamp.lte=${lte}&order=asc&sort=timestamp&limit=${limit}&apiKey=k`;
  while (url) {
    const res: Awaited<ReturnType<typeof request>> = await request(url);
    const buf: Buffer = Buffer.from(await res.body.arrayBuffer());
    expect(res.statusCode).toBe(200);
    pages.push(buf);
    const next: string | undefined = (JSON.parse(buf.toString('utf8')) as { next_url?: string }).next_url;
    url = next ? `${next}&apiKey=k` : undefined;
  }
  return pages;
}

async function written(name: string, df: Parameters<typeof writeParquetAtomically>[1]): Promise<Buffer> {
  const p = join(dir, name);
  await writeParquetAtomically(p, df);
  return readFile(p);
}

/** The current path, as ingest-stage runs it. */
async function oldPath(kind: 'trades' | 'quotes', pages: Buffer[], hz: number) {
  const rows = pages.map((b) => (losslessParse(b.toString('utf8')) as { results: (Trade | Quote)[] }).results);
  if (kind === 'trades') return tradesFrame(rows.flat() as Trade[]);
  const qs = await lastValueFrom(from(rows as Quote[][]).pipe(downsampleQuotes(hz), mergeMap((x) => x), toArray()), { defaultValue: [] as Quote[] });
  return quotesFrame(qs);
}

function newPath(kind: 'trades' | 'quotes', pages: Buffer[], hz: number) {
  const cols = new TickColumns(kind, kind === 'quotes' && hz > 0 ? Number(bucketNsForHz(hz)) : 0, 16);
  for (const p of pages) scanTicksPage(p, cols, `GET /v3/${kind}`);
  return columnsFrame(cols);
}

/** The pooled path (ingest's default): pages transferred to a worker thread, which writes the file. */
async function pooledPath(kind: 'trades' | 'quotes', pages: Buffer[], hz: number, name: string): Promise<Buffer> {
  const w = WindowPool.shared(2).window(kind === 'quotes' && hz > 0 ? Number(bucketNsForHz(hz)) : 0);
  try {
    // Copies: the worker takes each page's memory, and the other paths read the same pages.
    for (const p of pages) await w[kind].scan(Buffer.from(p), `GET /v3/${kind}`);
    const rows = await w.frames();
    const path = join(dir, name);
    await writeParquetAtomically(path, w.parquet(kind, rows[kind]));
    return readFile(path);
  } finally {
    w.release();
  }
}

const base = BigInt(sessionStartMs(parseDay('2024-03-07')!)) * 1_000_000n;
const MIN = 60_000_000_000n;

describe('column scanner (in this thread and in a pool worker) vs the current path: same bytes written for a window', () => {
  const cases = [
    { name: 'a 30-minute busy window in 5,000-row pages', kind: 'trades', lo: 330n, len: 30n, limit: 5000, hz: 0 },
    { name: 'a short window (one page, readRecords path)', kind: 'trades', lo: 200n, len: 3n, limit: 50_000, hz: 0 },
    { name: 'quotes downsampled to 1 Hz across page boundaries', kind: 'quotes', lo: 330n, len: 30n, limit: 7000, hz: 1 },
    { name: 'quotes downsampled to 50 Hz', kind: 'quotes', lo: 600n, len: 10n, limit: 4000, hz: 50 },
    { name: 'every quote (hz 0)', kind: 'quotes', lo: 600n, len: 10n, limit: 50_000, hz: 0 },
    { name: 'every quote of 100 minutes (over 20,000 rows: the sink engine)', kind: 'quotes', lo: 240n, len: 100n, limit: 50_000, hz: 0 },
    { name: 'an empty window (a Saturday)', kind: 'quotes', lo: 2980n, len: 5n, limit: 1000, hz: 1 },
  ] as const;
  for (const c of cases) {
    it(`${c.kind}: ${c.name}`, async () => {
      const pages = await record(c.kind, 'BOXL', base + c.lo * MIN, base + (c.lo + c.len) * MIN - 1n, c.limit);
      const a = await oldPath(c.kind, pages, c.hz);
      const b = newPath(c.kind, pages, c.hz);
      expect(b.schema).toEqual(a.schema);
      expect(b.height).toBe(a.height);
      if (a.height > 0) expect(int64Values(b, 'sip_timestamp')).toEqual(int64Values(a, 'sip_timestamp'));
      const fa = await written(`a-${c.kind}-${c.lo}-${c.hz}.parquet`, a);
      const fb = await written(`b-${c.kind}-${c.lo}-${c.hz}.parquet`, b);
      expect(fb.equals(fa)).toBe(true);
      const fp = await pooledPath(c.kind, pages, c.hz, `c-${c.kind}-${c.lo}-${c.hz}.parquet`);
      expect(fp.equals(fa)).toBe(true);
    }, 120_000);
  }
});

const page = (rows: string, extra = ''): Buffer => Buffer.from(`{"results":[${rows}],"status":"OK","request_id":"r1"${extra}}`);
const trade = (over: Record<string, string> = {}): string => {
  const f: Record<string, string> = { sip_timestamp: '1709818200000000001', participant_timestamp: '1709818199999000000', sequence_number: '5', id: '"t1"', price: '4.17', size: '100', exchange: '4', tape: '3', conditions: '[12,37]', ...over };
  return `{${Object.entries(f).filter(([, v]) => v !== '').map(([k, v]) => `"${k}":${v}`).join(',')}}`;
};

describe('column scanner: exactness and robustness', () => {
  it('surfaces status, request_id, next_url, resultsCount and whether results was present', () => {
    const cols = new TickColumns('trades');
    const h = scanTicksPage(page(trade(), ',"next_url":"http://x/v3/trades/A?cursor=abc","resultsCount":1'), cols, 'GET t');
    expect(h).toEqual({ status: 'OK', requestId: 'r1', nextUrl: 'http://x/v3/trades/A?cursor=abc', resultsCount: 1, hasResults: true, rowsRead: 1 });
    const none = scanTicksPage(Buffer.from('{"status":"ERROR","request_id":"r2","error":"boom"}'), new TickColumns('trades'), 'GET t');
    expect(none).toMatchObject({ status: 'ERROR', hasResults: false, rowsRead: 0, nextUrl: undefined });
  });

  it('keeps every Int64 exact, the extremes included, and rejects values beyond Int64 as row values (not retried)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (ns) => {
        const cols = new TickColumns('trades');
        scanTicksPage(page(trade({ sip_timestamp: String(ns), participant_timestamp: String(ns) })), cols, 'GET t');
        expect(cols.i64[0]![0]).toBe(ns);
        expect(cols.i64[1]![0]).toBe(ns);
      }),
      { numRuns: 300 },
    );
    for (const bad of ['9223372036854775808', '-9223372036854775809', '99999999999999999999', '1.5', '1e3']) {
      expect(() => scanTicksPage(page(trade({ sip_timestamp: bad })), new TickColumns('trades'), 'GET t')).toThrow(RowValueError);
    }
  });

  it('parses prices exactly as JSON.parse does', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 1, max: 99_999_999 }).map((n) => n / 10_000)), (x) => {
        const text = JSON.stringify(x);
        const cols = new TickColumns('trades');
        scanTicksPage(page(trade({ price: text })), cols, 'GET t');
        expect(Object.is(cols.f64[5]![0], JSON.parse(text))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('skips unknown fields of any shape and reads nulls of optional fields as null', () => {
    const cols = new TickColumns('trades');
    scanTicksPage(
      page(trade({ extra: '{"a":[1,{"b":"x\\"y"}],"c":null}', trf_timestamp: 'null', zzz: '[true,false,-1.5e-3]', id: '"a\\u00e9\\n"' }), ',"unknown":{"k":[1,2]}'),
      cols,
      'GET t',
    );
    expect(cols.length).toBe(1);
    expect(cols.present[2]![0]).toBe(0); // trf_timestamp null
    expect(cols.stringAt(4, 0)).toBe('aé\n');
    expect(cols.listAt(9, 0)).toEqual([12, 37]);
  });

  it('malformed, truncated or incomplete bodies are retryable ProtocolErrors', () => {
    const good = page(trade() + ',' + trade({ sip_timestamp: '1709818200000000002' }));
    for (let cut = 1; cut < good.length; cut += 7) {
      const err = (() => {
        try {
          scanTicksPage(good.subarray(0, cut), new TickColumns('trades'), 'GET /v3/trades/X');
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err, `cut at ${cut}`).toBeInstanceOf(ProtocolError);
      expect((err as ProtocolError).retryable).toBe(true);
    }
    for (const bad of ['{"results":[{"price":}]}', '{"results":[1,]}', '{"results":[]} x', '']) {
      expect(() => scanTicksPage(Buffer.from(bad), new TickColumns('trades'), 'GET t'), bad).toThrow(ProtocolError);
    }
  });
});
