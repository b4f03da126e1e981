/**
 * Runs the real stage-2 path (ingestStage + PolygonClient + TokenBucket) against a simulator until
 * stopped, counting windows, for the quota and throughput benchmarks.
 *
 * @example
 * const run = startIngest({ url: sim.url, manifestPath, outDir, rate: 50, concurrency: 30 });
 * await sleep(10_000); const r = await run.stop();
 */
import { lastValueFrom, tap } from 'rxjs';
import { TokenBucket } from '../../src/operators/token-bucket.js';
import { ingestStage, type EventWindow } from '../../src/pipeline/ingest-stage.js';
import { PolygonClient } from '../../src/streams/polygon-client.js';

export interface IngestRunOptions {
  readonly url: string;
  readonly manifestPath: string;
  readonly outDir: string;
  /** Client token-bucket rate; undefined: no bucket at all. */
  readonly rate: number | undefined;
  readonly adaptive?: boolean;
  /** Windows in flight. */
  readonly concurrency: number;
  /** @default the stage's default (10 min before, 20 min after) */
  readonly window?: EventWindow;
  /** Keep-alive connections. @default 2 × concurrency (two requests per window in flight) */
  readonly connections?: number;
  /** Worker threads of the window pool (ingestStage's `threads`). @default the stage's default */
  readonly threads?: number;
}

export interface IngestRun {
  readonly client: PolygonClient;
  readonly bucket: TokenBucket | undefined;
  /** Windows committed so far. */
  windows(): number;
  /** Trades and quotes rows the server sent so far (read from pages, before downsampling). */
  rowsRead(): number;
  /** Graceful stop (in-flight windows finish and commit); resolves with the final counts. */
  stop(): Promise<{ windows: number; failed: number }>;
}

export function startIngest(o: IngestRunOptions): IngestRun {
  const bucket = o.rate === undefined ? undefined : new TokenBucket({ rate: o.rate, adaptive: o.adaptive ?? false });
  const client = new PolygonClient({
    baseUrl: o.url,
    apiKey: 'bench-key',
    ...(bucket ? { bucket } : {}),
    connections: o.connections ?? Math.max(8, o.concurrency * 2),
  });
  const ac = new AbortController();
  let windows = 0;
  let failed = 0;
  let rowsRead = 0;
  // The same client, counting the rows of every page it reads (the CPU-per-row denominator).
  const counting = Object.assign(Object.create(client) as PolygonClient, {
    tickColumns$: ((...args: Parameters<PolygonClient['tickColumns$']>) => client.tickColumns$(...args).pipe(tap((h) => (rowsRead += h.rowsRead)))) as PolygonClient['tickColumns$'],
  });
  const done = lastValueFrom(
    ingestStage({ outDir: o.outDir, manifestPath: o.manifestPath, client: counting, concurrency: o.concurrency, signal: ac.signal, ...(o.window ? { window: o.window } : {}), ...(o.threads !== undefined ? { threads: o.threads } : {}) }).pipe(
      tap((p) => {
        if (p.kind === 'window') windows++;
        else if (p.kind === 'failed') failed++;
      }),
    ),
    { defaultValue: undefined },
  );
  // An error surfaces from stop(); keep it from being an unhandled rejection meanwhile.
  done.catch(() => undefined);
  return {
    client,
    bucket,
    windows: () => windows,
    rowsRead: () => rowsRead,
    async stop() {
      ac.abort();
      try {
        await done;
      } finally {
        await client.close();
      }
      return { windows, failed };
    },
  };
}
