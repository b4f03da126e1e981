/**
 * Page threads: worker threads that build the simulator's reply bodies, so the server's own event
 * loop only parses requests, admits them against the quota and writes replies.
 *
 * Why: a dense page (50,000 quotes, ~7 MB of JSON) takes tens of ms to build. Built on the loop that
 * admits requests, every request arriving meanwhile waits, then all are admitted in one bunch; a
 * strict sliding-window quota then counts more than `rate` arrivals in one second although the
 * client sent them evenly, and answers 429. A real server's admission does not wait for another
 * request's page, so the referee must not either.
 *
 * Each ticker goes to one thread (by a hash of the path's ticker), so a thread's day cache serves
 * every page of that ticker's windows.
 *
 * Bodies come back in slabs: SharedArrayBuffers a thread shares with the loop once and reuses once
 * the loop releases them (the reply is finished or its connection closed). Why not transferred
 * buffers: every transferred ArrayBuffer is new external memory to the loop's isolate, and at
 * 50 busy pages/s (~60 MB/s) V8 answered with a mark-compact of the loop every ~0.5 s (pauses
 * of 10–50 ms, loaded; `--trace-gc`), during which arriving requests waited and were then
 * admitted as one bunch: the jitter a strict quota counts as a burst.
 */
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { internalErrorReply, type PageDataOptions, type PageReply, type PageRequest } from './page.js';

/** A request to a page thread. */
export interface PageJob {
  readonly id: number;
  readonly req: PageRequest;
}

/** Where a page thread put a body: `length` bytes at the start of its slab `slab` (`shared` the first time). */
export interface SlabBody {
  readonly slab: number;
  readonly length: number;
  readonly shared?: SharedArrayBuffer;
}

/** A page thread's answer: the reply, a page in a slab or an error body as text. */
export interface PageDone {
  readonly id: number;
  readonly status: number;
  readonly body: string | SlabBody;
  readonly repeatedCursor: boolean;
}

/** The loop is done with a thread's slab. */
export interface SlabRelease {
  readonly release: number;
}

/** Size of a new slab for a body of `n` bytes: a power of two from 256 KB, so slabs fit later bodies too. */
export function slabBytesFor(n: number): number {
  let size = 256 * 1024;
  while (size < n) size *= 2;
  return size;
}

/** The thread script: next to this file once built; from the build when this file runs as TypeScript (tests). */
function threadScript(): URL {
  const here = new URL('./page-thread-main.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  return new URL('../../dist/sim/page-thread-main.js', import.meta.url);
}

/** The thread that builds pages of the path's ticker: the segment after `/ticker/` or `/v3/trades|quotes/`. */
export function threadFor(pathAndQuery: string, threads: number): number {
  const m = /^\/(?:v2\/aggs\/ticker|v3\/(?:trades|quotes))\/([^/?]+)/.exec(pathAndQuery);
  const key = m ? m[1]! : '';
  let h = 2166136261; // FNV-1a: stable across runs and threads
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return (h >>> 0) % threads;
}

type Waiting = { resolve(r: PageReply): void; requestId: string };

export class PageThreads {
  private readonly workers: Worker[] = [];
  /** Each thread's slabs, as Buffers over the shared memory. */
  private readonly slabs: Buffer[][] = [];
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private closed = false;
  /** Why the threads cannot serve any more (a thread died); every later page is a 500. */
  private broken: Error | undefined;

  /** Starts `count` threads (≥ 1) serving pages of `data`. */
  constructor(count: number, data: PageDataOptions) {
    for (let i = 0; i < count; i++) {
      const w = new Worker(threadScript(), { workerData: data });
      this.slabs.push([]);
      w.on('message', (m: PageDone) => this.done(i, m));
      // A thread that dies fails its requests with a 500 (the client retries); later requests to
      // it would hang, so the whole simulator's pages fall back to failing fast.
      w.on('error', (err) => this.failAll(err));
      w.on('exit', (code) => {
        if (!this.closed) this.failAll(new Error(`page thread exited with code ${code}`));
      });
      w.unref();
      this.workers.push(w);
    }
  }

  private done(thread: number, m: PageDone): void {
    const b = m.body;
    if (typeof b !== 'string' && b.shared !== undefined) this.slabs[thread]![b.slab] = Buffer.from(b.shared);
    const w = this.waiting.get(m.id);
    if (w === undefined) return; // failed meanwhile (closing): the slab stays taken, the thread is going
    this.waiting.delete(m.id);
    if (typeof b === 'string') {
      w.resolve({ status: m.status, body: b, repeatedCursor: m.repeatedCursor });
      return;
    }
    let released = false;
    const release = (): void => {
      if (released || this.closed) return;
      released = true;
      this.workers[thread]!.postMessage({ release: b.slab } satisfies SlabRelease);
    };
    w.resolve({ status: m.status, body: this.slabs[thread]![b.slab]!.subarray(0, b.length), repeatedCursor: m.repeatedCursor, release });
  }

  private failAll(err: Error): void {
    this.broken ??= err;
    for (const [id, w] of this.waiting) {
      this.waiting.delete(id);
      w.resolve(internalErrorReply(w.requestId, err));
    }
  }

  /** Slabs the threads have shared so far (they are reused, so this stays at the most bodies out at once). */
  slabCount(): number {
    return this.slabs.reduce((n, s) => n + s.length, 0);
  }

  /** The reply to `req`, built on its ticker's thread; a 500 reply if the thread failed. */
  build(req: PageRequest): Promise<PageReply> {
    if (this.broken !== undefined || this.closed) return Promise.resolve(internalErrorReply(req.requestId, this.broken ?? new Error('simulator closing')));
    const id = this.nextId++;
    return new Promise<PageReply>((resolve) => {
      this.waiting.set(id, { resolve, requestId: req.requestId });
      const job: PageJob = { id, req };
      this.workers[threadFor(req.pathAndQuery, this.workers.length)]!.postMessage(job);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.failAll(new Error('simulator closing'));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
