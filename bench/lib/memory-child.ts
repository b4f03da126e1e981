/**
 * Child of benchmark 6: push a 572,850-event manifest through skip + a bounded in-flight window,
 * either tickpipe's way (streamed manifest, pullMap) or the old way (everything queued up front),
 * in a fresh process, and print its peak RSS. The per-item "work" is the same tick of the event
 * loop in every variant, so the difference is the queueing.
 *
 * Args: JSON `{ variant, outDir, manifestPath, checkpointPath }`.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import pl from 'nodejs-polars';
import { count, from, lastValueFrom, mergeMap } from 'rxjs';
import { loadIngestState } from '../../src/sinks/index.js';
import { canonicalEventId } from '../../src/streams/event-id.js';
import { readManifest } from '../../src/streams/manifest.js';
import { filterAsync, pullMap } from '../../src/streams/pull.js';
import { peakRssMB } from './common.js';

interface Args {
  readonly variant: 'pull' | 'old-mergemap' | 'old-closures';
  readonly outDir: string;
  readonly manifestPath: string;
  readonly checkpointPath: string;
}

const a = JSON.parse(process.argv[2]!) as Args;
const IN_FLIGHT = 64;
const work = (): Promise<void> => new Promise((r) => setImmediate(r));
const t0 = performance.now();
let processed = 0;
let skipped = 0;

if (a.variant === 'pull') {
  const state = await loadIngestState(a.outDir);
  const source = filterAsync(readManifest(a.manifestPath), (e) => {
    if (!state.completed.has(e.eventId)) return true;
    skipped++;
    return false;
  });
  processed = await lastValueFrom(pullMap(source, () => from(work()), IN_FLIGHT).pipe(count()));
} else {
  // The old main loop: the JSON checkpoint as a set, the whole manifest as a list of row dicts,
  // and the skip check inside each task.
  const ckpt = new Set<string>((JSON.parse(readFileSync(a.checkpointPath, 'utf8')) as { completed_events: string[] }).completed_events);
  const df = pl.readParquet(a.manifestPath).withColumns(pl.col('timestamp').cast(pl.Int64));
  const rows = df.toRecords() as { symbol: string; event_type: string; timestamp: number }[];
  const eventsList = rows.map((r, i) => [i, r] as const);
  const processEvent = async (r: { symbol: string; event_type: string; timestamp: number }): Promise<boolean> => {
    const id = canonicalEventId(r.symbol, r.event_type, Number(r.timestamp));
    if (ckpt.has(id)) {
      skipped++;
      return false;
    }
    await work();
    return true;
  };
  if (a.variant === 'old-mergemap') {
    processed = await lastValueFrom(
      from(eventsList).pipe(
        mergeMap(([, r]) => processEvent(r), IN_FLIGHT),
        count((done) => done),
      ),
    );
  } else {
    // ThreadPoolExecutor: every task submitted up front as a closure with its own future.
    const futures = eventsList.map(([, r]) => {
      let resolve!: (v: boolean) => void;
      const future = new Promise<boolean>((res) => (resolve = res));
      return { run: () => processEvent(r).then(resolve), future };
    });
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < futures.length) await futures[next++]!.run();
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    for (const f of futures) if (await f.future) processed++;
  }
}
console.log(JSON.stringify({ variant: a.variant, processed, skipped, sec: (performance.now() - t0) / 1000, maxRssMB: peakRssMB() }));
