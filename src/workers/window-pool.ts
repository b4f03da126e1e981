/**
 * A pool of window workers (worker_threads) sized to the machine: stage 2's per-row work (scanning
 * response bytes into columns, downsampling, building frames, Parquet encoding) runs there, so the
 * main thread only does HTTP, the token bucket and the commit protocol, and both cores work.
 *
 * A window lives in one worker from {@link WindowPool.window} to {@link PooledWindow.release}: each
 * page's body is transferred (not copied) to it, the reply is the page's header (its `next_url`).
 * The worker writes each file into the tmp path the main thread's commit sink chose: that tmp file
 * is the `InProgress` state of src/sinks/commit-lifecycle.ts. fsync, rename (→ `Pending`) and the
 * journal line (→ `Committed`) stay on the main thread, in the one `CommitSink` (a worker that dies
 * leaves at most a tmp file that the publish removes). Encoded bytes are not sent back:
 * they would be one more copy, and writing them from here would not give today's bytes (Polars'
 * in-memory writer and its sink differ in the footer above 20,000 rows).
 *
 * Worker crash: every request of that worker fails with {@link WorkerError} (retryable), its
 * windows are lost (never committed half), and a fresh worker takes its place for new windows.
 *
 * @example
 * const pool = WindowPool.shared(2);
 * const w = pool.window(1_000_000_000);
 * await client.tickColumns$('trades', 'AAPL', range, w.trades)…; const rows = await w.frames();
 * await writer.commit({ symbol, eventId, trades: w.parquet('trades', rows.trades), quotes: w.parquet('quotes', rows.quotes) });
 * w.release();
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { InputError, WorkerError } from '../errors.js';
import type { DeferredParquet, ParquetFileSettings } from '../sinks/parquet.js';
import type { PageHeader, PageTarget, TickKind } from '../streams/column-scanner.js';
import { fromWire, type FramesReply, type FromWorker, type ToWorker } from './window-protocol.js';

/** Largest pool accepted (a typo such as 1000 should not start a thousand threads). */
export const MAX_WORKERS = 64;

/** Validates a pool size: a whole number in 0..64 (0: no pool, the work stays on the main thread). */
export function checkWorkers(n: unknown, what = 'threads'): number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_WORKERS) {
    throw new InputError(`${what} must be a whole number from 0 to ${MAX_WORKERS} (0: no worker threads), got ${typeof n === 'string' ? JSON.stringify(n) : String(n)} (${typeof n})`);
  }
  return n;
}

/** The default pool size: one worker per core the process may use. */
export function defaultWorkers(): number {
  return Math.min(MAX_WORKERS, availableParallelism());
}

/** The worker script: next to this file once built; from the build when this file runs as TypeScript (tests). */
function workerScript(): URL {
  const here = new URL('./window-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  return new URL('../../dist/workers/window-worker.js', import.meta.url);
}

type Pending = { resolve(v: unknown): void; reject(e: unknown): void };

class Slot {
  readonly worker: Worker;
  readonly pending = new Map<number, Pending>();
  windows = 0;
  dead: Error | undefined;
  constructor(onDeath: (slot: Slot) => void) {
    this.worker = new Worker(workerScript());
    this.worker.on('message', (m: FromWorker) => {
      const p = this.pending.get(m.seq);
      if (!p) return;
      this.pending.delete(m.seq);
      if (this.pending.size === 0) this.worker.unref();
      if ('error' in m) p.reject(fromWire(m.error));
      else p.resolve(m.ok);
    });
    const die = (why: string, cause?: unknown): void => {
      if (this.dead) return;
      this.dead = new WorkerError(`window worker ${this.worker.threadId} ${why}; its windows are redone`, cause === undefined ? undefined : { cause });
      for (const p of this.pending.values()) p.reject(this.dead);
      this.pending.clear();
      onDeath(this);
    };
    this.worker.on('error', (e) => die(`failed: ${e instanceof Error ? e.message : String(e)}`, e));
    this.worker.on('exit', (code) => die(`exited (code ${code})`));
    // Idle workers do not keep the process alive (unref after the listeners: adding one refs again).
    this.worker.unref();
  }

  request<T>(m: ToWorker & { seq: number }, transfer?: ArrayBuffer[]): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise<T>((resolve, reject) => {
      // Referenced while a reply is awaited, so a process waiting only on a worker stays alive.
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(m.seq, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage(m, transfer ?? []);
    });
  }

  post(m: ToWorker): void {
    if (!this.dead) this.worker.postMessage(m);
  }
}

/** One window held by a worker: two page targets for tickColumns$, then frames and Parquet files. */
export interface PooledWindow {
  readonly trades: PageTarget;
  readonly quotes: PageTarget;
  /** Builds both frames in the worker; row counts of the window (and re-served rows dropped). */
  frames(): Promise<FramesReply>;
  /** One file of the window for {@link WindowWriter.commit} (written by the worker into the tmp path). */
  parquet(kind: TickKind, rows: number): DeferredParquet;
  /** Frees the window's memory in the worker. Idempotent. */
  release(): void;
}

/**
 * Windows every running worker holds before another is started. Windows mostly wait on the rate
 * limit; a worker's CPU is the parse and encode of their pages, which one thread keeps up with for
 * this many (at `--concurrency 64` all workers still start within the first windows).
 */
export const WINDOWS_PER_SPAWN = 16;

/**
 * Requests (pages to scan, frames to build, files to write) a worker has queued when it counts as
 * behind: then the next window starts another worker even if every one holds fewer than
 * {@link WINDOWS_PER_SPAWN}. Dense pages at a low `--concurrency` (8 windows of in-play quotes) keep
 * one thread busy; a resume's handful of small new windows does not.
 */
export const BACKLOG_TO_SPAWN = 2;

export class WindowPool {
  readonly #slots: Slot[] = [];
  #seq = 0;
  #ids = 0;
  #closed = false;
  static #shared = new Map<number, WindowPool>();

  /**
   * A pool of up to `size` workers, started as windows need them: none before the first window (a
   * resume whose windows are all done never pays their memory or start-up), then one more whenever
   * every running worker holds {@link WINDOWS_PER_SPAWN} windows or has {@link BACKLOG_TO_SPAWN}
   * requests queued. A worker costs ~15 MB of RSS (its
   * V8 isolate and Polars' JS): a resume with 10 new events ran 2 for them at a peak of 218 MB.
   */
  constructor(readonly size: number) {
    checkWorkers(size, 'WindowPool size');
    if (size < 1) throw new InputError(`WindowPool size must be at least 1, got ${size}`);
  }

  /** Starts a worker when there is none, or when every running one is full or behind and the pool is not. */
  #grow(): void {
    if (this.#slots.length >= this.size) return;
    const busy = (s: Slot): boolean => s.windows >= WINDOWS_PER_SPAWN || s.pending.size >= BACKLOG_TO_SPAWN;
    if (this.#slots.length === 0 || this.#slots.every(busy)) this.#slots.push(this.#spawn());
  }

  /**
   * The process-wide pool of this size, started on first use and kept for the process (its threads
   * do not keep the process alive when idle): runs and tests that start many ingest stages pay the
   * workers' start-up (loading Polars) once.
   */
  static shared(size: number): WindowPool {
    let p = WindowPool.#shared.get(size);
    if (!p || p.#closed) WindowPool.#shared.set(size, (p = new WindowPool(size)));
    return p;
  }

  /**
   * Stops every shared pool (a later {@link shared} starts a fresh one). For a process whose window
   * work is over while it goes on: the CLI after its ingest stage, so that the run summary, which
   * reads the committed index again (~21 MB at 572,850 windows), does not add to the workers'
   * isolates and Polars heaps.
   */
  static async closeShared(): Promise<void> {
    const pools = [...WindowPool.#shared.values()];
    WindowPool.#shared.clear();
    await Promise.all(pools.map((p) => p.close()));
  }

  /** The worker threads, once started (tests terminate one to check that a crash redoes its windows). */
  get threads(): readonly Worker[] {
    return this.#slots.map((s) => s.worker);
  }

  #spawn(): Slot {
    const slot = new Slot((dead) => {
      const i = this.#slots.indexOf(dead);
      if (i >= 0 && !this.#closed) this.#slots[i] = this.#spawn();
    });
    return slot;
  }

  /** A new window on the least busy worker; `bucketNs` downsamples its quotes (0 keeps all). */
  window(bucketNs: number): PooledWindow {
    if (this.#closed) throw new WorkerError('window pool is closed');
    this.#grow();
    let slot = this.#slots[0]!;
    for (const s of this.#slots) if (s.windows < slot.windows) slot = s;
    const id = ++this.#ids;
    slot.windows++;
    slot.post({ op: 'open', id, bucketNs });
    let released = false;
    const target = (kind: TickKind): PageTarget => ({
      kind,
      scan: (body: Buffer, label: string): Promise<PageHeader> => {
        // The body's memory moves to the worker when the Buffer owns all of it; otherwise it is copied once.
        const whole = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
        const buf = whole ? (body.buffer as ArrayBuffer) : body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength);
        return slot.request<PageHeader>({ op: 'page', seq: ++this.#seq, id, kind, body: buf as ArrayBuffer, offset: 0, length: body.byteLength, label }, [buf as ArrayBuffer]);
      },
    });
    return {
      trades: target('trades'),
      quotes: target('quotes'),
      frames: () => slot.request<FramesReply>({ op: 'frames', seq: ++this.#seq, id }),
      parquet: (kind: TickKind, rows: number): DeferredParquet => ({
        rows,
        write: (path: string, settings: ParquetFileSettings) => slot.request<null>({ op: 'write', seq: ++this.#seq, id, kind, path, settings }).then(() => undefined),
      }),
      release: () => {
        if (released) return;
        released = true;
        slot.windows--;
        slot.post({ op: 'close', id });
      },
    };
  }

  /** Stops the workers (requests in flight fail with WorkerError). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
  }
}
