/**
 * Stage 2 sink: one folder per event window, both files published atomically, then a
 * group-committed journal line (docs/ARCHITECTURE.md, "The commit protocol").
 *
 * Layout under `outDir`:
 * - `windows/symbol=S/event=ID/trades.parquet` and `quotes.parquet` (a window without trades still
 *   gets a valid empty file with the fixed schema)
 * - `state/ingest/part-K.jsonl` — `{"event":ID,"symbol":S,"trades":n,"quotes":m}` per window,
 *   appended after both renames
 * - `state/ingest/part-K.failed.jsonl` —
 *   `{"event":ID,"symbol":S,"status":404|null,"code":"E_NOT_FOUND","reason":"…","at":"<ISO time>"}`
 * - `state/ingest/part-K.lock`
 *
 * An event is complete iff both files exist; the journal is the index that lets a restart skip it
 * without touching the disk. Files are keyed by event ID, so downloading a window again overwrites
 * identical content (idempotent): a journal line lost with a group commit only costs a re-download.
 * Both files go through one {@link CommitSink} (./commit-lifecycle.ts): in progress (each file's
 * tmp, written here or by a window worker thread) → pending (both renamed) → committed (the line).
 * Before a window is redone, the tmp files a killed run left in its folder are removed
 * ({@link recoverFolder}; a pending window is simply overwritten). Tmp leftovers of windows that
 * are never redone stay until `clean` removes them; they are never read.
 *
 * @example
 * ```ts
 * import { WindowWriter, loadIngestState, tradesFrame, quotesFrame } from 'tickpipe/sinks';
 * const state = await loadIngestState('/data/out');
 * const w = await WindowWriter.open('/data/out', { index: 0, count: 1 });
 * if (!state.completed.has(id)) await w.commit({ symbol: 'AAPL', eventId: id, trades: tradesFrame(t), quotes: quotesFrame(q) });
 * await w.close();
 * ```
 */
import { join } from 'node:path';
import type pl from 'nodejs-polars';
import { InputError } from '../errors.js';
import { isNotFound, nodeFs, type FsLayer } from '../fs/fs-layer.js';
import { CompactIdSet } from './id-set.js';
import { CANONICAL_ID_PACKER } from './key-packers.js';
import { Journal, loadJournal } from './journal.js';
import { loadCommittedWindows, type CommittedWindows } from './committed-index.js';
import { acquireLock, redactSecrets, type LockHandle } from '../run-folder/lock-file.js';
import { CommitSink, itemsNamed, NOTHING_COMMITTED, recoverFolder, type SinkItems } from './commit-lifecycle.js';
import { parquetFile, type DeferredParquet, type ParquetCompression } from './parquet-file.js';
import { toDiskError, validateEventId, validateNonNegInt, validateSymbol } from '../fs/paths.js';
import { FAILED_JOURNAL_RE, ingestPaths, journalNamesInOrder, PART_JOURNAL_RE, stateDirs, WINDOW_FILES, windowPaths as layoutWindowPaths } from '../run-folder/layout.js';
import type { WindowFailureLine, WindowJournalLine } from '../run-folder/lines.js';

/** Lines of the stage-2 journals (their types and validators live in src/run-folder/lines.ts). */
export type { WindowFailureLine, WindowJournalLine };

/** A permanent failure as {@link loadIngestState} reports it. */
export interface WindowFailure {
  readonly symbol: string;
  readonly code: string;
  readonly status: number | null;
  readonly reason: string;
}

/** Journal state of stage 2, over all partitions. */
export interface IngestState {
  /** Event IDs journaled as complete (a compact, exact set: `has`, `size`, iteration). */
  readonly completed: CompactIdSet;
  /** Event IDs whose last attempt failed permanently (and that are not complete). */
  readonly failed: Map<string, WindowFailure>;
  /**
   * The load `completed` came from (absent when there is no state folder): what a later
   * `loadCommittedWindows(..., { extend })` in this process extends instead of loading a second set.
   */
  readonly committed?: CommittedWindows;
}

/** Options of {@link WindowWriter.open}. */
export interface WindowWriterOptions {
  /** Journal group-commit interval (0 = fsync every line). @default 200 */
  readonly groupCommitMs?: number;
  /** Filesystem layer. @default nodeFs */
  readonly fs?: FsLayer;
  /** Take the partition lock even if a live process (or another host) holds it. @default false */
  readonly steal?: boolean;
  /** Recorded in the lock file (secrets redacted). @default undefined */
  readonly command?: string;
  /** Liveness check for stale-lock recovery. @default signal 0 */
  readonly processAlive?: (pid: number) => boolean;
  /** Parquet codec. @default 'zstd' */
  readonly compression?: ParquetCompression;
}

/** What {@link WindowWriter.commit} returns. */
export interface WindowCommitResult {
  readonly trades: number;
  readonly quotes: number;
  /** Bytes of both files. */
  readonly bytes: number;
}

/** Folder and files of one event window. Validates symbol and event ID. */
export const windowPaths = layoutWindowPaths;

/**
 * The stage-2 sink's items in one window folder: both files hold the window, named by its event ID
 * (the `event` field of its journal line). `clean` and `reconcile` classify with it.
 */
export function windowItems(eventId: string): SinkItems<string> {
  return itemsNamed([WINDOW_FILES.trades, WINDOW_FILES.quotes], eventId);
}

/** Whether both files of the window exist (the definition of a complete event). */
export async function windowComplete(outDir: string, symbol: string, eventId: string, opts?: { readonly fs?: FsLayer }): Promise<boolean> {
  const fs = opts?.fs ?? nodeFs;
  const p = windowPaths(outDir, symbol, eventId);
  const exists = async (f: string): Promise<boolean> => {
    try {
      return (await fs.stat(f)).isFile();
    } catch (err) {
      if (isNotFound(err)) return false;
      throw toDiskError(err, 'checking', f);
    }
  };
  const [t, q] = await Promise.all([exists(p.trades), exists(p.quotes)]);
  return t && q;
}

/** The stage-2 writer of one partition (`--partition index/count`). */
export class WindowWriter {
  readonly outDir: string;
  readonly partition: { readonly index: number; readonly count: number };
  readonly lock: LockHandle;
  readonly #fs: FsLayer;
  readonly #sink: CommitSink<WindowJournalLine>;
  readonly #failed: Journal<WindowFailureLine>;
  readonly #compression: ParquetCompression;
  #closed = false;
  #inFlight = new Set<Promise<unknown>>();
  /** Commits in flight by event ID: a second commit of the same window joins the first (one journal line). */
  #committing = new Map<string, Promise<WindowCommitResult>>();

  private constructor(args: {
    outDir: string;
    partition: { index: number; count: number };
    lock: LockHandle;
    fs: FsLayer;
    journal: Journal<WindowJournalLine>;
    failed: Journal<WindowFailureLine>;
    compression: ParquetCompression;
  }) {
    this.outDir = args.outDir;
    this.partition = args.partition;
    this.lock = args.lock;
    this.#fs = args.fs;
    this.#sink = new CommitSink(args.journal, { fs: args.fs });
    this.#failed = args.failed;
    this.#compression = args.compression;
  }

  /**
   * Takes the partition lock and opens its journals (torn tails truncated).
   *
   * @throws InputError for a bad partition, LockedError when a live process holds it.
   */
  static async open(
    outDir: string,
    partition: { readonly index: number; readonly count: number },
    opts?: WindowWriterOptions,
  ): Promise<WindowWriter> {
    const count = validateNonNegInt(partition?.count, 'partition count');
    const index = validateNonNegInt(partition?.index, 'partition index');
    if (count < 1 || index >= count) throw new InputError(`invalid partition ${index}/${count}: need 0 <= index < count`);
    const fs = opts?.fs ?? nodeFs;
    const groupCommitMs = opts?.groupCommitMs ?? 200;
    const p = ingestPaths(outDir, index);
    const lock = await acquireLock(p.lock, {
      fs,
      steal: opts?.steal ?? false,
      ...(opts?.command !== undefined ? { command: opts.command } : {}),
      ...(opts?.processAlive ? { processAlive: opts.processAlive } : {}),
    });
    let journal: Journal<WindowJournalLine> | undefined;
    try {
      journal = await Journal.open<WindowJournalLine>(p.journal, { fs, groupCommitMs });
      const failed = await Journal.open<WindowFailureLine>(p.failed, { fs, groupCommitMs });
      return new WindowWriter({ outDir, partition: { index, count }, lock, fs, journal, failed, compression: opts?.compression ?? 'zstd' });
    } catch (err) {
      await journal?.close().catch(() => undefined);
      await lock.release().catch(() => undefined);
      throw err;
    }
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inFlight.add(p);
    const done = (): void => {
      this.#inFlight.delete(p);
    };
    p.then(done, done);
    return p;
  }

  /**
   * Publishes both files of a window atomically, then appends its journal line (resolves once the
   * group commit covering it is fsync'd). Safe to call concurrently for different events.
   */
  commit(w: {
    readonly symbol: string;
    readonly eventId: string;
    readonly trades: pl.DataFrame | DeferredParquet;
    readonly quotes: pl.DataFrame | DeferredParquet;
  }): Promise<WindowCommitResult> {
    const running = this.#committing.get(w.eventId);
    if (running) return running;
    const p = this.#track(this.#commit(w));
    this.#committing.set(w.eventId, p);
    const forget = (): void => {
      if (this.#committing.get(w.eventId) === p) this.#committing.delete(w.eventId);
    };
    p.then(forget, forget);
    return p;
  }

  async #commit(w: {
    readonly symbol: string;
    readonly eventId: string;
    readonly trades: pl.DataFrame | DeferredParquet;
    readonly quotes: pl.DataFrame | DeferredParquet;
  }): Promise<WindowCommitResult> {
    if (this.#closed) throw new InputError('WindowWriter is closed');
    const p = windowPaths(this.outDir, w.symbol, w.eventId);
    const opts = { fs: this.#fs, compression: this.#compression };
    // An uncommitted window is redone by its owner only, so tmp files a killed run left here are
    // stale; its pending files (if any) are overwritten by this publish.
    await recoverFolder(p.dir, windowItems(w.eventId), NOTHING_COMMITTED, 'overwrite', this.#fs);
    const files = [parquetFile(p.trades, w.trades, opts), parquetFile(p.quotes, w.quotes, opts)];
    const { results } = await this.#sink.commit(files, ([t, q]) => ({ event: w.eventId, symbol: w.symbol, trades: t!.rows, quotes: q!.rows }));
    const [t, q] = results as [{ rows: number; bytes: number }, { rows: number; bytes: number }];
    return { trades: t.rows, quotes: q.rows, bytes: t.bytes + q.bytes };
  }

  /** Records a permanent failure (reason redacted of API keys). Resolves once durable. */
  fail(f: {
    readonly eventId: string;
    readonly symbol: string;
    readonly status?: number | undefined;
    readonly code: string;
    readonly reason: string;
  }): Promise<void> {
    if (this.#closed) return Promise.reject(new InputError('WindowWriter is closed'));
    try {
      validateEventId(f.eventId);
      validateSymbol(f.symbol);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#track(
      this.#failed.append({
        event: f.eventId,
        symbol: f.symbol,
        status: typeof f.status === 'number' ? f.status : null,
        code: String(f.code),
        reason: redactSecrets(String(f.reason)).slice(0, 2000),
        at: new Date().toISOString(),
      }),
    );
  }

  /** Makes every journal line appended so far durable now. */
  async flush(): Promise<void> {
    await Promise.all([this.#sink.journal.flush(), this.#failed.flush()]);
  }

  /** Waits for in-flight commits, flushes and closes the journals, releases the lock. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#inFlight]);
    let first: unknown;
    await this.#sink.journal.close().catch((e: unknown) => (first ??= e));
    await this.#failed.close().catch((e: unknown) => (first ??= e));
    await this.lock.release().catch((e: unknown) => (first ??= e));
    if (first !== undefined) throw first;
  }
}

const PART_RE = PART_JOURNAL_RE;
const FAILED_RE = FAILED_JOURNAL_RE;

/**
 * Stage-2 journal state over all `state/ingest/part-*.jsonl` (whatever partition count wrote
 * them): completed event IDs, and permanent failures not since completed (last failure wins).
 */
export async function loadIngestState(outDir: string, opts?: { readonly fs?: FsLayer; readonly rewriteIndexAfterLines?: number }): Promise<IngestState> {
  const fs = opts?.fs ?? nodeFs;
  const dir = stateDirs(outDir).ingest;
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if (isNotFound(err)) return { completed: new CompactIdSet(1024, undefined, CANONICAL_ID_PACKER), failed: new Map() };
    throw toDiskError(err, 'listing', dir);
  }
  names.sort();
  const parts = journalNamesInOrder(names, PART_RE);
  // The committed index (committed-index.ts) plus the journal bytes it does not cover, parsed once,
  // keeping only the IDs in a compact set: the parsed lines of a 600k-line journal would cost
  // several hundred MB, a Set of their IDs ~100 MB.
  const committed = await loadCommittedWindows(dir, parts, { fs, ...(opts?.rewriteIndexAfterLines !== undefined ? { rewriteAfterLines: opts.rewriteIndexAfterLines } : {}) });
  const completed = committed.ids;
  const failed = new Map<string, WindowFailure>();
  for (const n of journalNamesInOrder(names, FAILED_RE)) {
    const path = join(dir, n);
    await loadJournal<WindowFailureLine>(path, {
      fs,
      onEntry: (e, line) => {
        if (!e || typeof e.event !== 'string') throw new InputError(`${path}:${line}: entry has no event ID`);
        if (completed.has(e.event)) return;
        failed.set(e.event, { symbol: e.symbol, code: e.code, status: e.status ?? null, reason: e.reason });
      },
    });
  }
  return { completed, failed, committed };
}
