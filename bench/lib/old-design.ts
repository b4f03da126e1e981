/**
 * A faithful TypeScript reimplementation of the OLD Python downloader's concurrency model
 * (shared/seeds/002, "B.2 Paralelización con ThreadPoolExecutor"), for side-by-side figures:
 *
 * - `RateLimiter.wait()`: one global lock held WHILE sleeping the gap since the last request
 *   (`min_interval = 1 / rate`), so waiting workers queue on the lock;
 * - a fixed pool of 6 workers (ThreadPoolExecutor(max_workers=6));
 * - every task submitted up front (`{executor.submit(process_event, e): e for e in events_list}`);
 * - per event, sequentially: wait → GET trades (each page) → wait → GET quotes (each page).
 *
 * Same server and the same undici Pool as tickpipe, so the difference is the design, not the HTTP
 * stack. It does not write Parquet (the old one did, synchronously in the worker), which only makes
 * the old design look better than it was.
 *
 * @example
 * const old = startOldDesign({ url, apiKey: 'k', rate: 50, events });
 * await sleep(20_000); await old.stop();
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import type { EventRow } from '../../src/types.js';
import { sleep } from './common.js';

/** The old `RateLimiter`: a mutex held while sleeping. */
export class OldRateLimiter {
  private last = 0;
  private lock: Promise<void> = Promise.resolve();

  constructor(private readonly delayMs: number) {}

  wait(): Promise<void> {
    // Chaining on the previous holder is exactly `with self.lock:`: FIFO, one holder at a time.
    const turn = this.lock.then(async () => {
      const gap = performance.now() - this.last;
      if (gap < this.delayMs) await sleep(this.delayMs - gap);
      this.last = performance.now();
    });
    this.lock = turn;
    return turn;
  }
}

export interface OldDesignOptions {
  readonly url: string;
  readonly apiKey: string;
  /** Requests per second the limiter allows (min_interval = 1/rate). */
  readonly rate: number;
  readonly events: readonly EventRow[];
  /** Milliseconds before and after each event. @default 600_000 and 1_200_000, as tickpipe */
  readonly window?: { readonly beforeMs: number; readonly afterMs: number };
  /** @default 6 */
  readonly workers?: number;
}

export interface OldDesignRun {
  /** Events fully downloaded so far. */
  events(): number;
  /** Resolves when every worker has finished its current task. */
  stop(): Promise<{ events: number; requests: number; rateLimited: number }>;
}

const NS = 1_000_000n;

export function startOldDesign(o: OldDesignOptions): OldDesignRun {
  const workers = o.workers ?? 6;
  const pool = new Pool(o.url, { connections: workers, pipelining: 1 });
  const limiter = new OldRateLimiter(1000 / o.rate);
  let stopping = false;
  let events = 0;
  let requests = 0;
  let rateLimited = 0;

  const get = async (path: string): Promise<unknown> => {
    for (;;) {
      await limiter.wait();
      requests++;
      const res = await pool.request({ method: 'GET', path });
      const text = await res.body.text();
      if (res.statusCode === 429) {
        // The old client backed off a fixed time and tried again.
        rateLimited++;
        await sleep(1000);
        continue;
      }
      if (res.statusCode !== 200) throw new Error(`old design: HTTP ${res.statusCode} for ${path.split('?')[0]}`);
      return JSON.parse(text);
    }
  };

  const download = async (kind: 'trades' | 'quotes', e: EventRow): Promise<number> => {
    const gte = BigInt(e.timestamp - (o.window?.beforeMs ?? 600_000)) * NS;
    const lte = BigInt(e.timestamp + (o.window?.afterMs ?? 1_200_000)) * NS;
    let path: string | undefined =
      `/v3/${kind}/${e.symbol}?timestamp.gte=${gte}&timestamp.lte=${lte}&order=asc&limit=50000&sort=timestamp&apiKey=${o.apiKey}`;
    let rows = 0;
    while (path !== undefined) {
      const body = (await get(path)) as { results?: unknown[]; next_url?: string };
      rows += body.results?.length ?? 0;
      path = body.next_url ? `${new URL(body.next_url).pathname}${new URL(body.next_url).search}&apiKey=${o.apiKey}` : undefined;
    }
    return rows;
  };

  // Every task is created and queued up front, like the futures dict of the old main loop.
  const tasks = o.events.map((e) => async () => {
    await download('trades', e);
    await download('quotes', e);
    events++;
  });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (!stopping && next < tasks.length) await tasks[next++]!();
  };
  const all = Promise.all(Array.from({ length: workers }, worker));
  return {
    events: () => events,
    async stop() {
      stopping = true;
      await all;
      await pool.close();
      return { events, requests, rateLimited };
    },
  };
}
