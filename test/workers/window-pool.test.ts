/**
 * Issue 16 point 3: the window pool. A worker that dies fails its windows' requests with a
 * retryable WorkerError (nothing half-kept) and is replaced for new windows; ingestStage redoes a
 * window whose worker died and commits it once; a bad pool size is refused up front, naming it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError, WorkerError } from '../../src/errors.js';
import { ingestStage } from '../../src/pipeline/ingest-stage.js';
import { startSim, type SimServer } from '../../src/sim/index.js';
import { PolygonClient } from '../../src/streams/polygon-client.js';
import { BACKLOG_TO_SPAWN, WindowPool, WINDOWS_PER_SPAWN } from '../../src/workers/window-pool.js';
import { WINDOW_WORKER_NICE } from '../../src/workers/window-protocol.js';

const T0 = 1709818200000000000n;
const quote = (sip: bigint, seq: number): string =>
  `{"sip_timestamp":${sip},"participant_timestamp":${sip - 7n},"sequence_number":${seq},"bid_price":1.5,"bid_size":3,"bid_exchange":11,"ask_price":1.52,"ask_size":2,"ask_exchange":12,"tape":3}`;
const page = (rows: string[]): Buffer => Buffer.from(`{"results":[${rows.join(',')}],"status":"OK","request_id":"r1"}`);

let sim: SimServer;
let dir: string;
beforeAll(async () => {
  sim = await startSim({ seed: 11 });
  dir = await mkdtemp(join(tmpdir(), 'tickpipe-pool-'));
});
afterAll(async () => {
  await sim?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('window pool', () => {
  it('starts workers as windows need them: none before the first, another only when every one holds WINDOWS_PER_SPAWN', async () => {
    const pool = new WindowPool(2);
    try {
      expect(pool.threads).toHaveLength(0);
      const open = [pool.window(1e9)];
      expect(pool.threads).toHaveLength(1);
      while (open.length < WINDOWS_PER_SPAWN) open.push(pool.window(1e9));
      expect(pool.threads).toHaveLength(1);
      open.push(pool.window(1e9)); // the first worker is full
      expect(pool.threads).toHaveLength(2);
      while (open.length < 4 * WINDOWS_PER_SPAWN) open.push(pool.window(1e9));
      expect(pool.threads).toHaveLength(2); // never more than the pool's size
      // Windows still work on either worker.
      const last = open[open.length - 1]!;
      await last.quotes.scan(page([quote(T0, 1), quote(T0 + 2_000_000_000n, 2)]), 'GET q');
      expect(await last.frames()).toEqual({ trades: 0, quotes: 2, repeatedRows: 0 });
      for (const w of open) w.release();
    } finally {
      await pool.close();
    }
  });

  it('starts another worker for a new window when the running one is behind (requests queued), however few windows it holds', async () => {
    const pool = new WindowPool(2);
    try {
      const first = pool.window(1e9);
      const second = pool.window(1e9);
      expect(pool.threads).toHaveLength(1); // two windows, nothing queued: one worker is enough
      // Pages sent and not yet answered: the worker is behind.
      const rows = Array.from({ length: 2_000 }, (_, i) => quote(T0 + BigInt(i) * 1_000_000n, i + 1));
      const scans = Array.from({ length: BACKLOG_TO_SPAWN }, (_, i) => (i % 2 === 0 ? first : second).quotes.scan(page(rows), 'GET q'));
      const third = pool.window(1e9);
      expect(pool.threads).toHaveLength(2);
      // The new window goes to the new worker (the least busy) and works there.
      await third.quotes.scan(page([quote(T0, 1), quote(T0 + 2_000_000_000n, 2)]), 'GET q');
      expect(await third.frames()).toEqual({ trades: 0, quotes: 2, repeatedRows: 0 });
      await Promise.all(scans);
      for (const w of [first, second, third]) w.release();
    } finally {
      await pool.close();
    }
  });

  it('a dead worker fails its windows with a retryable WorkerError, and is replaced for new windows', async () => {
    const pool = new WindowPool(1);
    try {
      const w = pool.window(1e9);
      expect(await w.quotes.scan(page([quote(T0, 1), quote(T0 + 10n, 2)]), 'GET q')).toMatchObject({ status: 'OK', rowsRead: 2 });
      await pool.threads[0]!.terminate();
      const err = await Promise.resolve(w.quotes.scan(page([quote(T0 + 20n, 3)]), 'GET q')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkerError);
      expect((err as WorkerError).retryable).toBe(true);
      await expect(w.frames()).rejects.toBeInstanceOf(WorkerError);
      w.release();
      const fresh = pool.window(1e9);
      await fresh.quotes.scan(page([quote(T0, 1), quote(T0 + 2_000_000_000n, 2)]), 'GET q');
      expect(await fresh.frames()).toEqual({ trades: 0, quotes: 2, repeatedRows: 0 });
      fresh.release();
    } finally {
      await pool.close();
    }
  });

  it('errors keep their type across the thread: truncated body → ProtocolError (retried), bad row → RowValueError', async () => {
    const pool = new WindowPool(1);
    try {
      const w = pool.window(1e9);
      const cut = page([quote(T0, 1)]);
      await expect(Promise.resolve(w.quotes.scan(cut.subarray(0, cut.length - 3), 'GET q'))).rejects.toMatchObject({ code: 'E_PROTOCOL', retryable: true });
      await expect(Promise.resolve(w.quotes.scan(page([quote(T0 + 2_000_000_000n, 1), quote(T0, 2)]), 'GET q'))).rejects.toMatchObject({ code: 'E_DATA', detail: expect.stringMatching(/earlier than the quote before at row 1/) });
      w.release();
    } finally {
      await pool.close();
    }
  });

  it('ingestStage: a window whose worker dies mid-window is redone and committed once', async () => {
    const out = join(dir, 'crash');
    const manifest = join(dir, 'm.csv');
    await writeFile(manifest, 'symbol,event_type,timestamp\nABCD,flush,2024-03-11 15:00:00\nWXYZ,flush,2024-03-12 15:30:00\n');
    const client = new PolygonClient({ baseUrl: sim.url, apiKey: 'k' });
    const pool = WindowPool.shared(1);
    let killed = false;
    // The first page scanned kills the worker holding it (as a crash would), once.
    const tickColumns$ = client.tickColumns$.bind(client);
    const crashing = Object.assign(Object.create(client) as PolygonClient, {
      tickColumns$: ((kind, ticker, o, into) =>
        tickColumns$(kind, ticker, o, 'scan' in into && !killed ? { kind: into.kind, scan: async (b: Buffer, l: string) => (killed ? into.scan(b, l) : ((killed = true), await pool.threads[0]!.terminate(), into.scan(b, l))) } : into)) as PolygonClient['tickColumns$'],
    });
    try {
      const progress = await lastValueFrom(ingestStage({ outDir: out, manifestPath: manifest, client: crashing, threads: 1, window: { beforeMs: 60_000, afterMs: 60_000 } }).pipe(toArray()));
      expect(killed).toBe(true);
      const done = progress.filter((p) => p.kind === 'window');
      expect(done.map((p) => p.kind === 'window' && p.symbol).sort()).toEqual(['ABCD', 'WXYZ']);
      expect(progress.filter((p) => p.kind === 'failed')).toEqual([]);
      const journal = (await readFile(join(out, 'state', 'ingest', 'part-0.jsonl'), 'utf8')).trim().split('\n');
      expect(journal).toHaveLength(2);
    } finally {
      await client.close();
    }
  });

  it('window columns reused by the next window of the worker: a smaller window keeps nothing of a bigger one before it', async () => {
    const pool = new WindowPool(1);
    const written = async (w: ReturnType<WindowPool['window']>, rows: number, name: string): Promise<Buffer> => {
      const path = join(dir, name);
      await w.parquet('quotes', rows).write(path, { compression: 'zstd', engine: 'auto', syncMaxRows: 20_000 });
      return readFile(path);
    };
    try {
      // A big window first (rows 2 s apart: every quote kept), then a small one with other values.
      const big = pool.window(1e9);
      const many = Array.from({ length: 3000 }, (_, i) => quote(T0 + BigInt(i) * 2_000_000_000n, i));
      await big.quotes.scan(page(many.slice(0, 1500)), 'GET q');
      await big.quotes.scan(page(many.slice(1500)), 'GET q');
      expect(await big.frames()).toEqual({ trades: 0, quotes: 3000, repeatedRows: 0 });
      // Its columns went back to the worker with its frames: no more pages for it.
      await expect(Promise.resolve(big.quotes.scan(page([quote(T0 + 10n ** 13n, 9)]), 'GET q'))).rejects.toThrow(/already has its frames/);
      big.release();
      const smallRows = [quote(T0 + 5n, 77), quote(T0 + 3_000_000_000n, 78)];
      const small = pool.window(1e9);
      await small.quotes.scan(page(smallRows), 'GET q');
      expect(await small.frames()).toEqual({ trades: 0, quotes: 2, repeatedRows: 0 });
      const fresh = new WindowPool(1);
      try {
        const alone = fresh.window(1e9);
        await alone.quotes.scan(page(smallRows), 'GET q');
        await alone.frames();
        expect((await written(small, 2, 'reused.parquet')).equals(await written(alone, 2, 'fresh.parquet'))).toBe(true);
        alone.release();
      } finally {
        await fresh.close();
      }
      small.release();
    } finally {
      await pool.close();
    }
  });

  it.skipIf(process.platform !== 'linux')(`on Linux a worker lowers its own thread's priority by WINDOW_WORKER_NICE, never the main thread's`, async () => {
    // /proc/self/task/TID/stat: the 19th field is the thread's nice value (after "(comm)", which may hold spaces).
    const niceOf = (tid: string): number => Number(readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]);
    const niceByThread = (): Map<string, number> => new Map(readdirSync('/proc/self/task').map((t) => [t, niceOf(t)]));
    const before = niceByThread();
    const mainNice = before.get(String(process.pid))!;
    const pool = new WindowPool(1);
    try {
      const w = pool.window(1e9);
      await w.quotes.scan(page([quote(T0, 1)]), 'GET q'); // the worker is up and has run its start
      const lowered = [...niceByThread()].filter(([tid, nice]) => !before.has(tid) && nice === Math.min(19, mainNice + WINDOW_WORKER_NICE));
      expect(lowered.length, 'the worker thread runs at the lowered priority').toBeGreaterThanOrEqual(1);
      expect(niceOf(String(process.pid)), "the main thread's priority is untouched").toBe(mainNice);
      w.release();
    } finally {
      await pool.close();
    }
  });

  it('a bad pool size is refused before anything starts, naming the value', () => {
    const client = new PolygonClient({ baseUrl: sim.url, apiKey: 'k' });
    for (const bad of [-1, 1.5, 65, Number.NaN, '2' as unknown as number]) {
      let err: unknown;
      try {
        ingestStage({ outDir: join(dir, 'never'), manifestPath: join(dir, 'none.csv'), client, threads: bad });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).message).toContain(`got ${typeof bad === 'string' ? '"2"' : String(bad)}`);
    }
    expect(() => new WindowPool(0)).toThrow(InputError);
    void client.close();
  });
});
