/**
 * The two stages as `tickpipe run` drives them: stage events, a 1 s clock and the PAUSE flag are
 * merged into one stream of progress events and folded with `scan` into the stage's
 * {@link ProgressState}; the live view and the heartbeat lines are both drawn from that state, so
 * the terminal and `tail` show the same smoothed rates, pause and 429 figures.
 */
import { interval, lastValueFrom, map, merge, mergeMap, type Observable, scan, share, Subject, takeUntil, tap, finalize } from 'rxjs';
import type { Detector } from '../detect/detector.js';
import type { RunLogs } from '../log.js';
import type { TokenBucket } from '../operators/token-bucket.js';
import type { DetectProgress } from '../pipeline/detect-stage.js';
import { WindowPool } from '../workers/window-pool.js';
import { ingestStage, type EventWindow, type IngestProgress } from '../pipeline/ingest-stage.js';
import type { Partition } from '../pipeline/partition.js';
import {
  activeMs,
  detectHeartbeat,
  ingestHeartbeat,
  initialProgress,
  reduceProgress,
  type ProgressEvent,
  type ProgressStage,
  type ProgressState,
} from '../progress/index.js';
import type { PolygonClient } from '../streams/polygon-client.js';
import type { CommandIo } from './command.js';
import type { ProgressView } from './progress-view.js';
import { renderDetect, renderIngest } from './run-view.js';

/** Everything a stage of `run` needs. */
export interface Job {
  readonly io: CommandIo;
  readonly out: string;
  readonly logs: RunLogs;
  readonly client: PolygonClient;
  readonly bucket: TokenBucket;
  /** The server's quota when known (the embedded simulator's). */
  readonly quota: number | undefined;
  /** The configured client rate, req/s. */
  readonly rate: number;
  readonly adaptive: boolean;
  readonly doDetect: boolean;
  readonly doIngest: boolean;
  readonly symbols: readonly string[];
  readonly from: string;
  readonly to: string;
  readonly workers: number;
  readonly partition: Partition;
  readonly batchSize: number;
  readonly concurrency: number | undefined;
  readonly detectors: readonly Detector[];
  readonly manifest: string;
  readonly window: EventWindow;
  readonly quotesHz: number;
  readonly retryFailed: boolean;
  readonly stealLocks: boolean;
  readonly progress: boolean;
  /** Compact into dataset/ after ingest: undefined = no, else whether to remove the windows. */
  readonly compact: { readonly removeWindows: boolean } | undefined;
}

/** How often the clock moves the smoothed rates on, and how often a timer heartbeat is written. */
const TICK_MS = 1_000;
const HEARTBEAT_EVERY_MS = 5_000;

/** One progress event, with the stage event it came from (for logging and per-item heartbeats). */
interface Step<P> {
  readonly event: ProgressEvent;
  readonly source?: P;
}

/** The folded state after each step, and the step that made it. */
interface Folded<P> {
  readonly state: ProgressState;
  readonly step: Step<P> | undefined;
}

/**
 * Merges a stage's events with the clock and the PAUSE flag and folds them with `scan`. The clock
 * and the flag stop when the stage completes.
 */
function foldStage<P>(
  job: Job,
  stage: ProgressStage,
  stage$: Observable<P>,
  toEvents: (p: P, at: number) => ProgressEvent[],
  paused$: Observable<boolean>,
): Observable<Folded<P>> {
  const { client, bucket } = job;
  const ended = new Subject<void>();
  const fromStage$ = stage$.pipe(
    // The stage event rides on its first progress event only: it is logged (and beats) once.
    mergeMap((p) => toEvents(p, Date.now()).map((event, i): Step<P> => (i === 0 ? { event, source: p } : { event }))),
    finalize(() => ended.next()),
  );
  // A server pause (429 with Retry-After, capped by --max-server-pause) is read from the bucket on
  // each tick: a change of it is one more event, so every view shows "paused by the server until …".
  let serverPausedUntil: number | null = null;
  const clock$ = interval(TICK_MS).pipe(
    mergeMap((): Step<P>[] => {
      const m = client.metrics();
      const at = Date.now();
      const steps: Step<P>[] = [{ event: { kind: 'tick', at, requests: m.requests, ok: m.ok, rateLimited: m.rateLimited, rate: bucket.currentRate } }];
      const b = bucket.stats();
      const until = b.pausedByServer && b.pausedUntil !== undefined ? b.pausedUntil : null;
      if (until !== serverPausedUntil) {
        serverPausedUntil = until;
        steps.push({ event: { kind: 'server-pause', at, until } });
      }
      return steps;
    }),
  );
  const pause$ = paused$.pipe(map((paused): Step<P> => ({ event: { kind: 'pause', at: Date.now(), paused } })));
  const start: Folded<P> = { state: initialProgress({ stage, at: Date.now(), total: null, done: 0, configuredRate: job.rate }), step: undefined };
  return merge(fromStage$, merge(clock$, pause$).pipe(takeUntil(ended))).pipe(
    scan((acc: Folded<P>, step: Step<P>): Folded<P> => ({ state: reduceProgress(acc.state, step.event), step }), start),
    share(),
  );
}

/** Writes a heartbeat when an item finished, on every pause change, and every 5 s otherwise. */
function heartbeatGate(): (f: Folded<unknown>) => 'item' | 'tick' | undefined {
  let lastTickBeat = 0;
  return (f) => {
    const e = f.step?.event;
    if (!e) return undefined;
    if (e.kind === 'pause' || (e.kind === 'tick' && e.at - lastTickBeat >= HEARTBEAT_EVERY_MS)) {
      lastTickBeat = e.at;
      return 'tick';
    }
    return e.kind === 'item' ? 'item' : undefined;
  };
}

export async function runDetect(job: Job, view: ProgressView, paused$: Observable<boolean>, signal: AbortSignal, rssMB: () => number) {
  const { logs } = job;
  const batches = new Map<number, { batch: number; totalBatches: number }>();
  let events = 0;
  // Loaded by the detect stage only: it loads Polars, which an ingest-only run does not need here.
  const { detectStage } = await import('../pipeline/detect-stage.js');
  const stage$ = detectStage({
    outDir: job.out,
    symbols: job.symbols,
    from: job.from,
    to: job.to,
    client: job.client,
    detectors: job.detectors,
    workers: job.workers,
    partition: job.partition,
    batchSize: job.batchSize,
    concurrency: job.concurrency ?? 4,
    paused$,
    signal,
    stealLocks: job.stealLocks,
  });
  const toEvents = (p: DetectProgress, at: number): ProgressEvent[] => {
    switch (p.kind) {
      case 'start': {
        const parts: Record<string, { total: number; done: number }> = {};
        for (const w of p.workers) {
          const pw = p.perWorker[w] ?? { owned: 0, pending: 0 };
          parts[String(w)] = { total: pw.owned, done: pw.owned - pw.pending };
          batches.set(w, { batch: 0, totalBatches: Math.ceil(pw.pending / job.batchSize) });
        }
        return [{ kind: 'start', at, total: p.owned, done: p.skipped, parts }];
      }
      case 'symbol':
        return [{ kind: 'item', at, part: String(p.worker), ok: true, last: p.symbol }];
      case 'batch':
        return [{ kind: 'commit', at, part: String(p.worker), count: p.symbols.length }];
      case 'failed':
        return [{ kind: 'item', at, part: String(p.worker), ok: false, last: p.symbol }];
    }
  };
  const beatKind = heartbeatGate();
  const writeBeat = (s: ProgressState, worker: number, beat: 'item' | 'tick', src?: Extract<DetectProgress, { kind: 'symbol' }>) => {
    const b = batches.get(worker) ?? { batch: 0, totalBatches: 0 };
    const batch = Math.min(b.batch + 1, Math.max(1, b.totalBatches));
    logs.heartbeat.info(detectHeartbeat(s, worker, { beat, rssMB: rssMB(), batch, totalBatches: b.totalBatches, ...(src ? { bars: src.bars, events: src.events } : {}) }));
  };
  let last: ProgressState | undefined;
  const render = () => renderDetect(last!, { batches, events, rate: job.rate, quota: job.quota, adaptive: job.adaptive, out: job.out, rssMB: rssMB() });
  await lastValueFrom(
    foldStage(job, 'detect', stage$, toEvents, paused$).pipe(
      tap(({ state, step }) => {
        last = state;
        const p = step?.source;
        if (p) logDetect(job, p, view, batches, (n) => (events += n));
        const beat = step ? beatKind({ state, step }) : undefined;
        if (beat === 'item' && p?.kind === 'symbol') writeBeat(state, p.worker, 'item', p);
        else if (beat === 'tick') for (const w of batches.keys()) writeBeat(state, w, 'tick');
        view.update(render);
      }),
    ),
    { defaultValue: undefined },
  );
  if (last) {
    view.update(render);
    view.end();
  }
  return { failed: last?.failed ?? 0, activeMs: last ? activeMs(last) : 0 };
}

function logDetect(job: Job, p: DetectProgress, view: ProgressView, batches: Map<number, { batch: number; totalBatches: number }>, addEvents: (n: number) => void): void {
  const { logs } = job;
  switch (p.kind) {
    case 'start':
      logs.log.info({ stage: 'detect', ...p }, 'detect started');
      view.line(`detect: ${p.owned} symbol(s) for worker${p.workers.length === 1 ? '' : 's'} ${p.workers.join(',')} of this process, ${p.skipped} already done, ${p.pending} to go`);
      break;
    case 'symbol':
      addEvents(p.events);
      break;
    case 'batch':
      batches.set(p.worker, { batch: p.batch, totalBatches: p.totalBatches });
      logs.log.info({ stage: 'detect', worker: p.worker, shard: p.shard, symbols: p.symbols.length, rows: p.rows }, 'shard committed');
      break;
    case 'failed':
      logs.log.error({ stage: 'detect', worker: p.worker, symbol: p.symbol, code: p.code, status: p.status, err: p.message }, 'symbol failed');
      view.line(`detect: ${p.symbol} failed: ${p.message}`);
      break;
  }
}

export async function runIngest(job: Job, view: ProgressView, paused$: Observable<boolean>, signal: AbortSignal, rssMB: () => number) {
  const { logs, client } = job;
  const totals = { trades: 0, quotes: 0, bytes: 0 };
  const failedBefore = { n: 0 };
  // Partitioned: symbols are shared between processes, so none can tell when one is finished.
  const compactor = job.compact && job.partition.count === 1 ? (await import('./compact.js')).ingestCompactor(job.out, job.compact.removeWindows, (s) => view.line(s), logs.log) : undefined;
  // The stage gives its committed set back when its manifest pass ends (ingest-stage.ts); the
  // summary reads the committed index again at the end of the run.
  const stage$ = ingestStage({
    outDir: job.out,
    manifestPath: job.manifest,
    client,
    partition: job.partition,
    concurrency: job.concurrency ?? 64,
    window: job.window,
    quotesHz: job.quotesHz,
    retryFailed: job.retryFailed,
    paused$,
    signal,
    stealLocks: job.stealLocks,
    ...(compactor ? { onWindowStart: (symbol: string) => compactor.started(symbol) } : {}),
  });
  const part = String(job.partition.index);
  const toEvents = (p: IngestProgress, at: number): ProgressEvent[] => {
    switch (p.kind) {
      case 'start':
        // Requests start before the manifest pass ends: the total may be unknown (a CSV being
        // counted), and what was done before is known only once the pass is through.
        return [{ kind: 'start', at, total: p.total, done: 0, parts: { [part]: { total: p.total, done: 0 } } }];
      case 'total':
        return [{ kind: 'total', at, total: p.total }, { kind: 'total', at, total: p.total, part }];
      case 'counted':
        return [{ kind: 'total', at, total: p.total, done: p.completed + p.failedBefore }, { kind: 'total', at, total: p.total, part, done: p.completed + p.failedBefore }];
      case 'window':
        return [{ kind: 'item', at, part, ok: true, last: p.eventId }];
      case 'failed':
        return [{ kind: 'item', at, part, ok: false, last: p.eventId }];
    }
  };
  const beatKind = heartbeatGate();
  const writeBeat = (s: ProgressState, beat: 'item' | 'tick') => {
    const m = client.metrics();
    // What the server asked for (Retry-After, seconds) beside the capped pause the model shows.
    const b = job.bucket.stats();
    const asked = b.pausedByServer && b.serverAskedMs !== undefined ? { serverAskedSec: Math.round(b.serverAskedMs / 1000) } : {};
    logs.heartbeat.info({ ...ingestHeartbeat(s, job.partition.index, { beat, rssMB: rssMB(), ...totals, latencyP50Ms: m.latencyP50Ms, latencyP95Ms: m.latencyP95Ms }), ...asked });
  };
  let last: ProgressState | undefined;
  const render = () => renderIngest(last!, { ...totals, rate: job.rate, quota: job.quota, adaptive: job.adaptive, out: job.out, metrics: client.metrics() });
  try {
    await lastValueFrom(
      foldStage(job, 'ingest', stage$, toEvents, paused$).pipe(
        tap(({ state, step }) => {
          last = state;
          const p = step?.source;
          if (p) logIngest(job, p, view, totals, state.processed);
          if (p?.kind === 'counted') failedBefore.n = p.failedBefore;
          if (p?.kind === 'window' || p?.kind === 'failed') compactor?.settled(p.symbol);
          const beat = step ? beatKind({ state, step }) : undefined;
          // Item beats every 100 windows: a fast stage is not slowed by its own log.
          if (beat === 'tick' || (beat === 'item' && state.processed % 100 === 0)) writeBeat(state, beat);
          view.update(render);
        }),
      ),
      { defaultValue: undefined },
    );
  } finally {
    // The window workers are done: their memory is not kept through compaction and the summary.
    await WindowPool.closeShared();
    await compactor?.finish();
    if (last) writeBeat(last, 'tick');
  }
  if (last) {
    view.update(render);
    view.end();
  }
  return {
    windows: last ? last.processed - last.failed : 0,
    failed: last?.failed ?? 0,
    failedBefore: job.retryFailed ? 0 : failedBefore.n,
    activeMs: last ? activeMs(last) : 0,
    manifestEvents: last?.total ?? undefined,
  };
}

/** `settledThisRun`: windows committed or failed by this run so far (the pass may end after many). */
function logIngest(job: Job, p: IngestProgress, view: ProgressView, totals: { trades: number; quotes: number; bytes: number }, settledThisRun: number): void {
  const { logs } = job;
  switch (p.kind) {
    case 'start':
      logs.log.info({ stage: 'ingest', ...p }, 'ingest started');
      view.line(`ingest: ${p.total ?? 'counting…'} events; skipping what is done while the first requests start`);
      break;
    case 'total':
      break;
    case 'counted':
      logs.log.info({ stage: 'ingest', ...p }, 'manifest counted');
      view.line(
        `ingest: ${p.total} events, ${p.completed} already done, ${p.failedBefore} failed before${job.retryFailed ? '' : ' (skipped; --retry-failed to retry)'}, ` +
          `${p.duplicates} repeated event ID(s) dropped, ${p.pending} to go` +
          // The pass is pulled as windows finish: on a long run it ends after many of them.
          (settledThisRun > 0 ? ` (${settledThisRun} of them finished while the manifest was being read)` : ''),
      );
      break;
    case 'window':
      totals.trades += p.trades;
      totals.quotes += p.quotes;
      totals.bytes += p.bytes;
      if (p.repeatedRows) logs.log.warn({ stage: 'ingest', event: p.eventId, repeatedRows: p.repeatedRows }, 'rows repeated across pages dropped');
      break;
    case 'failed':
      logs.log.error({ stage: 'ingest', event: p.eventId, code: p.code, status: p.status, err: p.message }, 'window failed');
      break;
  }
}
