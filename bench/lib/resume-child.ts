/**
 * Child of benchmark 5: one resume of ingestStage over a journal of 572,850 events, in a fresh
 * process so its peak RSS is its own. Prints one JSON line.
 *
 * Args: JSON `{ variant, outDir, manifestPath, url }`; variant 'load-only' just loads the journal.
 */
import { performance } from 'node:perf_hooks';
import { defer, lastValueFrom, tap } from 'rxjs';
import { ingestStage } from '../../src/pipeline/ingest-stage.js';
import { loadIngestState } from '../../src/sinks/index.js';
import { PolygonClient } from '../../src/streams/polygon-client.js';
import { peakRssMB } from './common.js';

interface Args {
  readonly variant: 'load-only' | 'skip-all' | 'new-end' | 'new-start';
  readonly outDir: string;
  readonly manifestPath: string;
  readonly url: string;
}

const a = JSON.parse(process.argv[2]!) as Args;
const t0 = performance.now();
if (a.variant === 'load-only') {
  const s = await loadIngestState(a.outDir);
  console.log(JSON.stringify({ variant: a.variant, loadMs: performance.now() - t0, completed: s.completed.size, maxRssMB: peakRssMB() }));
} else {
  const client = new PolygonClient({ baseUrl: a.url, apiKey: 'bench-key', connections: 16 });
  // A view of the client whose trades$ marks the moment the first new window's request goes out.
  let firstRequestMs: number | undefined;
  const spy = Object.create(client) as PolygonClient;
  spy.trades$ = (ticker, options) =>
    defer(() => {
      firstRequestMs ??= performance.now() - t0;
      return client.trades$(ticker, options);
    });
  // Private fields make the other methods refuse a receiver that is not the client itself.
  spy.quotes$ = (ticker, options) => client.quotes$(ticker, options);
  // Stage 2 takes the column path when the client has it: mark the first request there too.
  spy.tickColumns$ = (kind, ticker, options, into) =>
    defer(() => {
      firstRequestMs ??= performance.now() - t0;
      return client.tickColumns$(kind, ticker, options, into);
    });
  let startMs = 0;
  let windows = 0;
  let total = 0;
  await lastValueFrom(
    ingestStage({ outDir: a.outDir, manifestPath: a.manifestPath, client: spy, concurrency: 64 }).pipe(
      tap((p) => {
        if (p.kind === 'start') startMs = performance.now() - t0;
        else if (p.kind === 'counted') total = p.total;
        else if (p.kind === 'window') windows++;
      }),
    ),
    { defaultValue: undefined },
  );
  const totalMs = performance.now() - t0;
  await client.close();
  console.log(JSON.stringify({ variant: a.variant, total, windows, startMs, firstRequestMs: firstRequestMs ?? null, totalMs, maxRssMB: peakRssMB() }));
}
