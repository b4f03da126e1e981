import { EMPTY, Subject, catchError, concat, concatMap, defer, finalize, forkJoin, from, map, merge, mergeMap, of, reduce, retry, takeUntil, throwError, timer, type Observable } from 'rxjs';
import { AbortedError, AuthError, DataError, HttpError, PaginationLoopError, RowValueError, WorkerError } from '../errors.js';
import { bucketNsForHz, downsampleQuotes } from '../operators/downsample-quotes.js';
import { dropPageRepeats, type PageRepeatCount } from '../operators/drop-page-repeats.js';
import type pl from 'nodejs-polars';
import { TickColumns } from '../streams/column-scanner.js';
import type { FsLayer } from '../fs/fs-layer.js';
import { WindowWriter, loadIngestState } from '../sinks/window-sink.js';
import type { DeferredParquet } from '../sinks/parquet-file.js';
import { WindowPool, checkWorkers, defaultWorkers } from '../workers/window-pool.js';
import { manifestRowCount, openManifest, readManifestBatches, type ManifestEvent } from '../streams/manifest.js';
import type { PolygonClient } from '../streams/polygon-client.js';
import { pullMap } from '../streams/pull.js';
import type { Quote, Trade } from '../types.js';
import { admission } from './gate.js';
import { checkQuoteTimes } from './malformed-rows.js';
import { ManifestPass, openPassKeys, ownedRows, type ManifestCounts } from './manifest-pass.js';
import { WHOLE, type Partition } from './partition.js';
import { finiteNumber, wholeNumber } from '../options.js';

/** Time around each event whose trades and quotes are downloaded. */
export interface EventWindow {
  /** @default 600_000 (10 minutes before) */
  readonly beforeMs: number;
  /** @default 1_200_000 (20 minutes after) */
  readonly afterMs: number;
}

/** 10 minutes before to 20 minutes after each event (the CLI's `--window -10m,+20m`). */
export const DEFAULT_WINDOW: EventWindow = { beforeMs: 600_000, afterMs: 1_200_000 };

/** Options of {@link ingestStage}. */
export interface IngestStageOptions {
  readonly outDir: string;
  /** Parquet or CSV with `symbol, event_type, timestamp`. */
  readonly manifestPath: string;
  /** Where trades and quotes come from: a {@link PolygonClient} or anything with the same methods. */
  readonly client: WindowsClient;
  /** Share of the manifest this process owns (row position mod count). @default the whole manifest */
  readonly partition?: Partition;
  /** Windows in flight. @default 64 */
  readonly concurrency?: number;
  /** @default {@link DEFAULT_WINDOW} */
  readonly window?: EventWindow;
  /** Quotes kept per second (last NBBO of each bucket); 0 keeps every quote. @default 1 */
  readonly quotesHz?: number;
  /** Try events in the failure journal again. @default false */
  readonly retryFailed?: boolean;
  /** Group-commit interval of the ingest journal. @default 200 */
  readonly groupCommitMs?: number;
  readonly paused$?: Observable<boolean>;
  /** Graceful stop: no new window is started; windows in flight finish and are committed. */
  readonly signal?: AbortSignal;
  /** Take over a lock held by a live process or another host. @default false */
  readonly stealLocks?: boolean;
  /** Filesystem layer of the sinks (fault and crash injection in tests). @default nodeFs */
  readonly fs?: FsLayer;
  /** Called as each window starts, in manifest order (incremental compaction: src/dataset/incremental.ts). */
  readonly onWindowStart?: (symbol: string, eventId: string) => void;
  /**
   * Worker threads that scan, downsample and encode windows (src/workers/window-pool.ts), off the
   * main event loop; 0 keeps that work on the main thread. Used with a client that has
   * `tickColumns$`. @default os.availableParallelism()
   */
  readonly threads?: number;
}

/** The end of the manifest pass: final counts of the owned partition (see {@link ManifestCounts}). */
export type Counted = { readonly kind: 'counted' } & ManifestCounts;

/**
 * Progress notifications of stage 2. `window` is emitted once both files are published and journaled.
 *
 * Work starts before the manifest has been read to its end: `start.total` is the owned rows from a
 * Parquet file's footer, or null for a CSV until `total` (a raw row count done beside the work)
 * arrives; `counted` gives the exact figures (done before, failed before, repeated IDs dropped) when
 * the pass reaches the end of the file.
 */
export type IngestProgress =
  | { readonly kind: 'start'; readonly total: number | null }
  | { readonly kind: 'total'; readonly total: number }
  | Counted
  | {
      readonly kind: 'window';
      readonly symbol: string;
      readonly eventId: string;
      readonly trades: number;
      readonly quotes: number;
      readonly bytes: number;
      /** Rows dropped because they exactly repeated a row of the previous page; absent when none. */
      readonly repeatedRows?: number;
    }
  | {
      readonly kind: 'failed';
      readonly symbol: string;
      readonly eventId: string;
      readonly code: string;
      readonly status: number | undefined;
      readonly message: string;
    };

/**
 * The part of {@link PolygonClient} stage 2 uses. With `tickColumns$` (a PolygonClient has it) pages
 * are scanned from their bytes into columns; without it (a custom client) rows go the object path.
 */
export type WindowsClient = Pick<PolygonClient, 'trades$' | 'quotes$'> & Partial<Pick<PolygonClient, 'tickColumns$'>>;

/**
 * Both listings of a window straight into columns and then frames: the same frames (and Parquet
 * bytes) as tradesFrame/quotesFrame of the row path, with no object per row. Rows re-served across
 * pages are dropped and added to `repeats`; a row that cannot be stored fails the window with a
 * DataError naming symbol, event and field (as windowFrames does on the row path).
 */
function fetchWindowFrames(client: WindowsClient, symbol: string, eventId: string, gte: bigint, lte: bigint, hz: number, repeats: PageRepeatCount) {
  const range = { gte, lte, order: 'asc' as const, limit: 50_000 };
  return defer(() => {
    const trades = new TickColumns('trades');
    const quotes = new TickColumns('quotes', hz > 0 ? Number(bucketNsForHz(hz)) : 0);
    return forkJoin([client.tickColumns$!('trades', symbol, range, trades).pipe(reduce(() => 0, 0)), client.tickColumns$!('quotes', symbol, range, quotes).pipe(reduce(() => 0, 0))]).pipe(
      concatMap(async () => {
        repeats.rows += trades.repeatedRows + quotes.repeatedRows;
        // Loaded here, with Polars, by the first window built on this thread (none when a pool builds them).
        const { columnsFrame } = await import('../streams/column-frame.js');
        return { trades: columnsFrame(trades), quotes: columnsFrame(quotes), tradeRows: trades.length, quoteRows: quotes.length };
      }),
      catchError((err: unknown) => throwError(() => (err instanceof RowValueError ? new DataError(`${symbol} ${eventId}: ${err.detail}`, { cause: err }) : err))),
    );
  });
}

/** What a window's commit needs: both files (frames, or held by a worker) and the row counts. */
export type WindowFiles = { readonly trades: pl.DataFrame | DeferredParquet; readonly quotes: pl.DataFrame | DeferredParquet; readonly tradeRows: number; readonly quoteRows: number };

/** Tries of a window whose worker died (the first try included) before it is journaled as failed. */
const WORKER_TRIES = 3;

/**
 * {@link fetchWindowFrames} with the window held by a pool worker: pages go to the worker as they
 * arrive, the worker builds the frames and writes the files `commit` publishes; the window's memory
 * is freed once committed or failed. A dead worker redoes the whole window on a fresh one.
 */
function pooledWindow<T>(pool: WindowPool, client: WindowsClient, symbol: string, eventId: string, gte: bigint, lte: bigint, hz: number, repeats: PageRepeatCount, commit: (w: WindowFiles) => Promise<T>): Observable<T> {
  const range = { gte, lte, order: 'asc' as const, limit: 50_000 };
  return defer(() => {
    const w = pool.window(hz > 0 ? Number(bucketNsForHz(hz)) : 0);
    return forkJoin([client.tickColumns$!('trades', symbol, range, w.trades).pipe(reduce(() => 0, 0)), client.tickColumns$!('quotes', symbol, range, w.quotes).pipe(reduce(() => 0, 0))]).pipe(
      concatMap(() => w.frames()),
      concatMap((r) => {
        repeats.rows = r.repeatedRows;
        return commit({ trades: w.parquet('trades', r.trades), quotes: w.parquet('quotes', r.quotes), tradeRows: r.trades, quoteRows: r.quotes });
      }),
      finalize(() => w.release()),
    );
  }).pipe(
    retry({ count: WORKER_TRIES - 1, delay: (err: unknown) => (err instanceof WorkerError ? of(0) : throwError(() => err)) }),
    catchError((err: unknown) => throwError(() => (err instanceof RowValueError ? new DataError(`${symbol} ${eventId}: ${err.detail}`, { cause: err }) : err))),
  );
}

/** How a process fetches windows: its client, its worker pool (if any) and the quotes' downsampling. */
export interface WindowFetch {
  readonly client: WindowsClient;
  readonly pool: WindowPool | undefined;
  /** Quotes kept per second (0: all). */
  readonly hz: number;
}

/** One window: the event and its time range in ns since the epoch (both ends inclusive). */
export interface WindowRange {
  readonly symbol: string;
  readonly eventId: string;
  readonly gte: bigint;
  readonly lte: bigint;
}

/**
 * One window's pages to its two files, then `commit` (which publishes and journals them). The one
 * way every ingest path fetches a window, so a one-host run and a cluster worker write the same
 * bytes at the same cost: in a pool worker when there is a pool (pages scanned into columns and
 * encoded off the main loop), else scanned into columns here (a client with `tickColumns$`), else
 * (a custom client) row objects. Rows re-served across pages are counted in `repeats`.
 */
export function windowFiles<T>(f: WindowFetch, w: WindowRange, repeats: PageRepeatCount, commit: (files: WindowFiles) => Promise<T>): Observable<T> {
  return windowFilesOnce(f, w, repeats, commit).pipe(
    retry({ count: PAGINATION_LOOP_TRIES - 1, delay: (err: unknown) => (err instanceof PaginationLoopError ? of(0) : throwError(() => err)) }),
  );
}

/**
 * Tries of a window whose listing repeated a cursor (E_PAGINATION_LOOP), the first included. A loop
 * may be the server's passing fault (the simulator's repeat-cursor fault is one request in N), and
 * redoing the window from its first page costs its requests once; a listing that loops again is
 * journaled as failed, as before (`--retry-failed` redoes it). Nothing is committed before a
 * listing ends, so a redo never writes twice.
 */
const PAGINATION_LOOP_TRIES = 2;

function windowFilesOnce<T>(f: WindowFetch, w: WindowRange, repeats: PageRepeatCount, commit: (files: WindowFiles) => Promise<T>): Observable<T> {
  const { client, pool, hz } = f;
  if (pool && typeof client.tickColumns$ === 'function') return pooledWindow(pool, client, w.symbol, w.eventId, w.gte, w.lte, hz, repeats, commit);
  const frames$ =
    typeof client.tickColumns$ === 'function'
      ? fetchWindowFrames(client, w.symbol, w.eventId, w.gte, w.lte, hz, repeats)
      : forkJoin([fetchTrades(client, w.symbol, w.gte, w.lte, repeats), fetchQuotes(client, w.symbol, w.gte, w.lte, hz, repeats)]).pipe(
          concatMap(async ([t, q]) => ({ ...(await import('./row-frames.js')).windowFrames(w.symbol, w.eventId, t, q), tradeRows: t.length, quoteRows: q.length })),
        );
  return frames$.pipe(concatMap(commit));
}

const NS_PER_MS = 1_000_000n;

/** Every trade of `[t - before, t + after]`, all pages, ascending. */
export function fetchTrades(client: WindowsClient, symbol: string, gte: bigint, lte: bigint, repeats: PageRepeatCount = { rows: 0 }): Observable<Trade[]> {
  return client.trades$(symbol, { gte, lte, order: 'asc', limit: 50_000 }).pipe(
    map((page) => page.results),
    dropPageRepeats<Trade>(repeats),
    reduce((acc: Trade[], rows) => {
      for (const t of rows) acc.push(t);
      return acc;
    }, []),
  );
}

/** Quotes of the window downsampled page by page, so memory does not grow with the window. */
export function fetchQuotes(client: WindowsClient, symbol: string, gte: bigint, lte: bigint, hz: number, repeats: PageRepeatCount = { rows: 0 }): Observable<Quote[]> {
  return client.quotes$(symbol, { gte, lte, order: 'asc', limit: 50_000 }).pipe(
    map((page) => checkQuoteTimes(symbol, page.results)),
    dropPageRepeats<Quote>(repeats),
    downsampleQuotes(hz),
    // Quotes going back in time are the server's data, not a bug here: that window fails, the run goes on.
    catchError((err: unknown) => throwError(() => (err instanceof RangeError ? new DataError(`${symbol}: ${err.message}`, { cause: err }) : err))),
    reduce((acc: Quote[], qs) => {
      for (const q of qs) acc.push(q);
      return acc;
    }, []),
  );
}

async function* until<T>(source: AsyncIterable<T>, signal: AbortSignal | undefined): AsyncGenerator<T> {
  for await (const item of source) {
    if (signal?.aborted) return;
    yield item;
  }
}


/** What every window of one ingest shares. */
interface WindowContext {
  readonly writer: WindowWriter;
  readonly pool: WindowPool | undefined;
  readonly window: EventWindow;
  readonly hz: number;
}

/** One window: admission, its pages to frames (in the pool or here), the commit; a permanent failure journaled. */
function windowWork(opts: IngestStageOptions, ctx: WindowContext, e: ManifestEvent): Observable<IngestProgress> {
  const { writer, pool, window, hz } = ctx;
  opts.onWindowStart?.(e.symbol, e.eventId);
  const gte = BigInt(e.timestampMs - window.beforeMs) * NS_PER_MS;
  const lte = BigInt(e.timestampMs + window.afterMs) * NS_PER_MS;
  // Pausing is done by pullMap (no new window is pulled); stopping also drops windows not yet started.
  const repeats: PageRepeatCount = { rows: 0 };
  const commit = async (w: WindowFiles): Promise<IngestProgress> => {
    const { bytes } = await writer.commit({ symbol: e.symbol, eventId: e.eventId, trades: w.trades, quotes: w.quotes });
    return {
      kind: 'window',
      symbol: e.symbol,
      eventId: e.eventId,
      trades: w.tradeRows,
      quotes: w.quoteRows,
      bytes,
      ...(repeats.rows > 0 ? { repeatedRows: repeats.rows } : {}),
    };
  };
  return admission(undefined, opts.signal).pipe(
    concatMap(() => windowFiles({ client: opts.client, pool, hz }, { symbol: e.symbol, eventId: e.eventId, gte, lte }, repeats, commit)),
    catchError((caught: unknown) => windowFailure(opts, writer, e, caught)),
  );
}

/** A window's error: dropped when stopping, fatal when not the window's own, else journaled as failed. */
function windowFailure(opts: IngestStageOptions, writer: WindowWriter, e: ManifestEvent, caught: unknown): Observable<IngestProgress> {
  // Stopping: a window still waiting out a rate-limit pause is dropped, not failed (redone next run).
  if (caught instanceof AbortedError && opts.signal?.aborted) return EMPTY;
  // A refused key ends the run; a permanent API failure (or a window whose worker kept dying) is journaled and the run goes on.
  if (caught instanceof AuthError || !(caught instanceof HttpError || caught instanceof WorkerError)) return throwError(() => caught);
  const err = caught instanceof DataError && !caught.message.includes(e.eventId) ? new DataError(`${e.eventId}: ${caught.message}`, { cause: caught }) : caught;
  const status = err instanceof HttpError ? err.status : undefined;
  return from(writer.fail({ eventId: e.eventId, symbol: e.symbol, status, code: err.code, reason: err.message })).pipe(
    map((): IngestProgress => ({ kind: 'failed', symbol: e.symbol, eventId: e.eventId, code: err.code, status, message: err.message })),
  );
}

/**
 * How long a CSV manifest's pass runs before a second read counts its records for the total (the
 * views show "counting…" until then).
 */
export const CSV_COUNT_DELAY_MS = 750;

/**
 * Stage 2 as a stream: manifest (streamed in record batches) → drop repeated IDs → owned partition → skip journaled →
 * pull-driven mergeMap(fetch window, concurrency) → both files published atomically → journal line.
 * At most `concurrency` windows are in memory, whatever the manifest's size. Options are validated
 * up front (InputError, code E_INPUT, showing the bad value).
 *
 * @example
 * await lastValueFrom(ingestStage({ outDir, manifestPath: manifestPath(outDir), client, concurrency: 32, quotesHz: 1 }), { defaultValue: undefined });
 */
export function ingestStage(opts: IngestStageOptions): Observable<IngestProgress> {
  const partition = opts.partition ?? WHOLE;
  const concurrency = opts.concurrency ?? 64;
  const window = opts.window ?? DEFAULT_WINDOW;
  const hz = opts.quotesHz ?? 1;
  wholeNumber('ingestStage', 'concurrency', concurrency);
  finiteNumber('ingestStage', 'quotesHz', hz, 0, true);
  const threads = checkWorkers(opts.threads ?? defaultWorkers(), 'ingestStage: threads');
  const pool = threads > 0 && typeof opts.client.tickColumns$ === 'function' ? WindowPool.shared(threads) : undefined;

  return defer(async () => {
    const fsOpt = opts.fs ? { fs: opts.fs } : {};
    const state = await loadIngestState(opts.outDir, fsOpt);
    // The columns are checked (and a missing file refused) before the partition lock is taken.
    const info = await openManifest(opts.manifestPath);
    // Parquet: the footer's row count, at once. CSV: a raw record count, later (see csvTotal$ below).
    const rows = info.format === 'parquet' ? await manifestRowCount(info) : undefined;
    const writer = await WindowWriter.open(opts.outDir, partition, { groupCommitMs: opts.groupCommitMs ?? 200, steal: opts.stealLocks ?? false, ...fsOpt });
    // The key file lets the pass skip done rows without computing their IDs (not with a test's fs layer, like the index).
    const keys = opts.fs ? undefined : await openPassKeys(opts.outDir, state.completed);
    const pass = new ManifestPass(state, partition, opts.retryFailed ?? false, keys);
    const start: IngestProgress = { kind: 'start', total: rows === undefined ? null : ownedRows(rows, partition) };
    // Once the pass is through, nothing here probes the committed set or the keys again: both are
    // given back to the OS at once (~41 MB at 572,850 windows), before the window workers, started
    // by the first new windows, load Polars (+40 MB). Measured on benchmark 8's restart with 10 new
    // events at the end: peak RSS 176–181 MB → 144–147 MB (BENCHMARKS.md, seventh pass).
    const release = (): void => {
      keys?.keys.release();
      state.completed.release();
    };
    return { writer, pass, info, start, keys, release };
  }).pipe(
    mergeMap(({ writer, pass, info, start, keys, release }) => {
      const fetchWindow = (e: ManifestEvent | Counted): Observable<IngestProgress> => ('eventId' in e ? windowWork(opts, { writer, pool, window, hz }, e) : of(e));
      // 4,096 rows: measured peak RSS of a 572,850-row pass 169 MB vs 218 MB at 16,384 (fewer rows'
      // strings alive across an await are promoted to the old generation).
      const batches = readManifestBatches(opts.manifestPath, { batchRows: 4096, ...(keys ? { keys: keys.keys } : {}) });
      const passDone$ = new Subject<void>();
      const source = until(
        pass.events(batches, (c): Counted => {
          release();
          passDone$.next();
          return { kind: 'counted', ...c };
        }),
        opts.signal,
      );
      // A CSV's total comes from a second read of the file (a raw record count), unless the pass gets
      // there first. Both run on this thread, so the count starts only when the pass is still going
      // after CSV_COUNT_DELAY_MS: a pass shorter than that (a 572,850-line manifest with a key file:
      // ~0.5 s) is not slowed by a count it does not need (~120 ms of this thread there, measured).
      const csvTotal$: Observable<IngestProgress> =
        info.format === 'csv'
          ? timer(CSV_COUNT_DELAY_MS).pipe(
              concatMap(() => from(manifestRowCount(info))),
              map((rows): IngestProgress => ({ kind: 'total', total: ownedRows(rows, partition) })),
              catchError(() => EMPTY), // the pass reports a broken file itself
              // The pass ends with its own total (`counted`): a count still running is dropped then.
              takeUntil(passDone$),
            )
          : EMPTY;
      // The count also ends with the work (a pass stopped by the signal never reaches onFinished).
      const windows$ = pullMap(source, fetchWindow, concurrency, opts.paused$ ? { paused$: opts.paused$ } : {}).pipe(finalize(() => passDone$.next()));
      const work = merge(windows$, csvTotal$);
      const closeWriter = defer(() => writer.close()).pipe(mergeMap(() => EMPTY));
      return concat(of(start), work, closeWriter).pipe(
        catchError((err: unknown) => from(writer.close()).pipe(mergeMap(() => throwError(() => err)))),
      );
    }),
  );
}
