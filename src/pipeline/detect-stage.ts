import {
  EMPTY,
  catchError,
  concat,
  concatMap,
  connect,
  defer,
  filter,
  finalize,
  from,
  ignoreElements,
  map,
  merge,
  mergeMap,
  of,
  reduce,
  throwError,
  type Observable,
} from 'rxjs';
import type { Detector } from '../detect/index.js';
import { detectEvents, eventsToDataFrame } from '../detect/index.js';
import { AbortedError, AuthError, HttpError, LockedError } from '../errors.js';
import { batchBySymbols } from '../operators/batch-by-symbols.js';
import { skipCompleted } from '../operators/skip-completed.js';
import { stridePartition } from '../operators/stride-partition.js';
import { ShardWriter, isNotFound, loadCompletedSymbols, nodeFs, type FsLayer } from '../sinks/index.js';
import { shardsRoot, WORKER_DIR_RE } from '../run-folder/layout.js';
import type { PolygonClient } from '../streams/polygon-client.js';
import type { Bar, EventRow } from '../types.js';
import { admission } from './gate.js';
import { checkMinuteBars } from './malformed-rows.js';
import { ownedWorkers, WHOLE, type Partition } from './partition.js';
import { wholeNumber } from '../options.js';

/** Options of {@link detectStage}. */
export interface DetectStageOptions {
  /** Run folder. */
  readonly outDir: string;
  /** The run's sorted, de-duplicated universe: a symbol's position here decides its worker. */
  readonly symbols: readonly string[];
  /** First and last day (YYYY-MM-DD, inclusive) of minute bars. */
  readonly from: string;
  readonly to: string;
  /** Where minute bars come from: a {@link PolygonClient} or anything with the same `aggregates$`. */
  readonly client: BarsClient;
  readonly detectors: readonly Detector[];
  /** Worker partitions of the whole run. @default 4 */
  readonly workers?: number;
  /** Share of the workers this process runs. @default the whole run */
  readonly partition?: Partition;
  /** Symbols per shard. @default 50 */
  readonly batchSize?: number;
  /** Symbols in flight per worker. @default 4 */
  readonly concurrency?: number;
  /** While true, no new symbol is started. */
  readonly paused$?: Observable<boolean>;
  /** Graceful stop: no new symbol is started; symbols already finished are committed. */
  readonly signal?: AbortSignal;
  /** Take over locks held by live processes or other hosts. @default false */
  readonly stealLocks?: boolean;
  /** Filesystem layer of the sinks (fault and crash injection in tests). @default nodeFs */
  readonly fs?: FsLayer;
}

/** The part of {@link PolygonClient} stage 1 uses. */
export type BarsClient = Pick<PolygonClient, 'aggregates$'>;

/** Progress notifications of stage 1. `batch` is emitted once the shard's journal line is durable. */
export type DetectProgress =
  | {
      readonly kind: 'start';
      readonly workers: readonly number[];
      readonly total: number;
      readonly owned: number;
      readonly pending: number;
      readonly skipped: number;
      /** Per worker of this process: symbols it owns and how many of them are still to do. */
      readonly perWorker: Readonly<Record<number, { readonly owned: number; readonly pending: number }>>;
    }
  | { readonly kind: 'symbol'; readonly worker: number; readonly symbol: string; readonly bars: number; readonly events: number }
  | {
      readonly kind: 'batch';
      readonly worker: number;
      /** Shard file name, or null for a batch without events (journaled, no file). */
      readonly shard: string | null;
      readonly symbols: readonly string[];
      readonly rows: number;
      readonly batch: number;
      readonly totalBatches: number;
    }
  | {
      readonly kind: 'failed';
      readonly worker: number;
      readonly symbol: string;
      readonly code: string;
      readonly status: number | undefined;
      readonly message: string;
    };

type Outcome =
  | { readonly ok: true; readonly symbol: string; readonly bars: number; readonly rows: readonly EventRow[] }
  | { readonly ok: false; readonly symbol: string; readonly err: HttpError };

/** Minute bars of one symbol over the run's dates, all pages. */
export function fetchMinuteBars(client: BarsClient, symbol: string, from: string, to: string): Observable<Bar[]> {
  return client.aggregates$(symbol, 1, 'minute', from, to, { adjusted: true, sort: 'asc', limit: 50_000 }).pipe(
    reduce((acc: Bar[], page) => {
      for (const b of page.results) acc.push(b);
      return acc;
    }, []),
  );
}

/**
 * Worker folders numbered at or above the current worker count (left by a run with more workers)
 * belong to no worker now, so nothing would ever remove a shard a crash left uncommitted there.
 * Each process opens the ones of its partition once (which cleans them, under their lock) and
 * closes them again; a folder whose lock a live process holds is left to that process.
 */
async function sweepOrphanWorkers(outDir: string, workers: number, partition: Partition, opts: { fs?: FsLayer; steal: boolean }): Promise<void> {
  const fs = opts.fs ?? nodeFs;
  let names: string[];
  try {
    names = await fs.readdir(shardsRoot(outDir));
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  for (const name of names) {
    const m = WORKER_DIR_RE.exec(name);
    const k = m ? Number(m[1]) : -1;
    if (k < workers || k % partition.count !== partition.index) continue;
    try {
      await (await ShardWriter.open(outDir, k, opts)).close();
    } catch (err) {
      if (!(err instanceof LockedError)) throw err;
    }
  }
}

function validate(name: string, v: number): number {
  return wholeNumber('detectStage', name, v);
}

/** Opens the shard writers of the owned workers (their locks), sweeps orphans, and reads what is committed. */
async function openWriters(opts: DetectStageOptions, workers: number, mine: readonly number[]): Promise<{ writers: Map<number, ShardWriter>; completed: Set<string> }> {
  const writers = new Map<number, ShardWriter>();
  try {
    const fsOpt = opts.fs ? { fs: opts.fs } : {};
    for (const k of mine) writers.set(k, await ShardWriter.open(opts.outDir, k, { steal: opts.stealLocks ?? false, ...fsOpt }));
    await sweepOrphanWorkers(opts.outDir, workers, opts.partition ?? WHOLE, { ...fsOpt, steal: opts.stealLocks ?? false });
    // Completed = union of every detect journal, whatever worker count wrote it.
    return { writers, completed: await loadCompletedSymbols(opts.outDir, opts.fs ? { fs: opts.fs } : undefined) };
  } catch (err) {
    await Promise.allSettled([...writers.values()].map((w) => w.close()));
    throw err;
  }
}

/** One symbol: wait for admission, fetch its bars, detect; a permanent API failure is an outcome, not an error. */
function processSymbol(opts: DetectStageOptions, symbol: string): Observable<Outcome> {
  return admission(opts.paused$, opts.signal).pipe(
    concatMap(() => fetchMinuteBars(opts.client, symbol, opts.from, opts.to)),
    concatMap(async (bars): Promise<Outcome> => {
      // A malformed bar fails this symbol (DataError), never the run.
      checkMinuteBars(symbol, bars);
      return { ok: true, symbol, bars: bars.length, rows: await detectEvents(bars, symbol, opts.detectors) };
    }),
    catchError((err: unknown) => {
      // Stopping: a symbol still waiting out a rate-limit pause is left for the next run.
      if (err instanceof AbortedError && opts.signal?.aborted) return EMPTY;
      // A refused key ends the run; other permanent API failures leave the symbol unjournaled (retried next run).
      if (err instanceof AuthError || !(err instanceof HttpError)) throw err;
      return of<Outcome>({ ok: false, symbol, err });
    }),
  );
}

/** Which symbols this process owns (index modulo workers, owned workers only) and how many are left. */
function ownership(symbols: readonly string[], workers: number, writers: ReadonlyMap<number, ShardWriter>, completed: ReadonlySet<string>) {
  const pendingByWorker = new Map<number, number>();
  const perWorker: Record<number, { owned: number; pending: number }> = {};
  for (const k of writers.keys()) perWorker[k] = { owned: 0, pending: 0 };
  let owned = 0;
  symbols.forEach((s, i) => {
    const k = i % workers;
    if (!writers.has(k)) return;
    owned++;
    perWorker[k]!.owned++;
    if (!completed.has(s)) {
      perWorker[k]!.pending++;
      pendingByWorker.set(k, (pendingByWorker.get(k) ?? 0) + 1);
    }
  });
  const pending = [...pendingByWorker.values()].reduce((a, b) => a + b, 0);
  return { owned, pending, perWorker, pendingByWorker };
}

/** One worker's lane: its symbols not yet committed, `concurrency` at a time, committed in batches of `batchSize` to its shard writer. */
function workerLane(
  opts: DetectStageOptions,
  lane: { readonly worker: number; readonly writer: ShardWriter; readonly totalBatches: number; readonly batchSize: number; readonly concurrency: number },
  symbols$: Observable<{ symbol: string; index: number }>,
  completed: ReadonlySet<string>,
): Observable<DetectProgress> {
  const { worker, writer, totalBatches, batchSize } = lane;
  let batch = 0;
  return symbols$.pipe(
    skipCompleted((x: { symbol: string }) => completed.has(x.symbol)),
    mergeMap(({ symbol }) => processSymbol(opts, symbol), lane.concurrency),
    connect((outcome$) =>
      merge(
        outcome$.pipe(
          map((o): DetectProgress =>
            o.ok
              ? { kind: 'symbol', worker, symbol: o.symbol, bars: o.bars, events: o.rows.length }
              : { kind: 'failed', worker, symbol: o.symbol, code: o.err.code, status: o.err.status, message: o.err.message },
          ),
        ),
        outcome$.pipe(
          filter((o): o is Extract<Outcome, { ok: true }> => o.ok),
          batchBySymbols(batchSize),
          concatMap(async (done): Promise<DetectProgress> => {
            const rows = done.flatMap((d) => d.rows);
            const symbols = done.map((d) => d.symbol);
            const { shard } = await writer.commit({ symbols, events: eventsToDataFrame(rows) });
            batch++;
            return { kind: 'batch', worker, shard, symbols, rows: rows.length, batch, totalBatches: Math.max(totalBatches, batch) };
          }),
        ),
      ),
    ),
  );
}

/**
 * Stage 1 as a stream: universe → stridePartition(workers) → per worker skipCompleted →
 * mergeMap(fetch bars + detect, concurrency) → batchBySymbols → atomic shard, then journal line.
 * Locks are taken and uncommitted shards removed before any request is sent; locks are released
 * however the stream ends.
 *
 * @example
 * await lastValueFrom(detectStage({ outDir, symbols, from: '2024-03-01', to: '2024-03-29', client, detectors: builtinDetectors() }));
 */
export function detectStage(opts: DetectStageOptions): Observable<DetectProgress> {
  const workers = validate('workers', opts.workers ?? 4);
  const batchSize = validate('batchSize', opts.batchSize ?? 50);
  const concurrency = validate('concurrency', opts.concurrency ?? 4);
  const mine = ownedWorkers(workers, opts.partition ?? WHOLE);

  return defer(() => openWriters(opts, workers, mine)).pipe(
    mergeMap(({ writers, completed }) => {
      const { owned, pending, perWorker, pendingByWorker } = ownership(opts.symbols, workers, writers, completed);
      const work$ = from(opts.symbols.map((symbol, index) => ({ symbol, index }))).pipe(
        stridePartition(workers, (x) => x.index),
        mergeMap((group) => {
          const writer = writers.get(group.key);
          if (!writer) return EMPTY;
          const totalBatches = Math.ceil((pendingByWorker.get(group.key) ?? 0) / batchSize);
          return workerLane(opts, { worker: group.key, writer, totalBatches, batchSize, concurrency }, group, completed);
        }),
      );

      const closeAll = () => Promise.allSettled([...writers.values()].map((w) => w.close()));
      return concat(
        of<DetectProgress>({ kind: 'start', workers: mine, total: opts.symbols.length, owned, pending, skipped: owned - pending, perWorker }),
        work$,
        defer(closeAll).pipe(ignoreElements()),
      ).pipe(
        catchError((err: unknown) => from(closeAll()).pipe(mergeMap(() => throwError(() => err)))),
        // Unsubscribed mid-run (second SIGINT): release what we can; a lock left behind is stale and recovered.
        finalize(() => void closeAll()),
      );
    }),
  );
}
