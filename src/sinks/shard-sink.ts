/**
 * Stage 1 sink: per-worker event shards with a journal as the commit point (docs/ARCHITECTURE.md, "The commit protocol").
 *
 * Layout under `outDir`:
 * - `events/shards/worker-K/shard-NNNNNN.parquet` (6 digits)
 * - `state/detect/worker-K.jsonl` — one line per committed batch:
 *   `{"shard":"shard-000000.parquet","symbols":["AAPL","MSFT"],"rows":12}`;
 *   a batch with zero events writes no file and journals `{"shard":null,"symbols":[…],"rows":0}`.
 * - `state/detect/worker-K.lock` — one writer per worker folder and journal.
 *
 * Per batch the shard is published atomically, then the journal line is appended and fsync'd: the
 * line is the commit point (the {@link CommitSink} of ./commit-lifecycle.ts). On open, shards on disk that no journal line names (a crash between the
 * rename and the journal append) are moved aside into `events/shards/worker-K/.uncommitted/` (or
 * deleted) and tmp leftovers are removed — only in the worker folders this process opens. Readers
 * must therefore use {@link committedShards}, never list the folders: a worker folder that is not
 * opened again (after the worker count shrank) may keep uncommitted shards forever.
 * The next shard number is max(committed)+1, never a count of files.
 *
 * @example
 * ```ts
 * import { ShardWriter, loadCompletedSymbols } from 'tickpipe/sinks';
 * const done = await loadCompletedSymbols('/data/out');
 * const w = await ShardWriter.open('/data/out', 0);
 * try {
 *   await w.commit({ symbols: ['AAPL', 'MSFT'], events: eventsDf }); // durable when resolved
 * } finally {
 *   await w.close();
 * }
 * ```
 */
import { join } from 'node:path';
import type pl from 'nodejs-polars';
import { InputError } from '../errors.js';
import { namesOrNone, nodeFs, type FsLayer } from '../fs/fs-layer.js';
import { Journal, loadJournal } from './journal.js';
import { acquireLock, type LockHandle } from '../run-folder/lock-file.js';
import { CommitSink, itemsMatching, recoverFolder, type SinkItems } from './commit-lifecycle.js';
import { parquetFile, type ParquetCompression } from './parquet-file.js';
import { toDiskError, validateNonNegInt, validateSymbol } from '../fs/paths.js';
import { detectPaths, SHARD_FILE_RE, shardFileName, stateDirs, UNCOMMITTED_DIR, WORKER_JOURNAL_RE } from '../run-folder/layout.js';
import { checkShardLine, type ShardJournalLine } from '../run-folder/lines.js';

/** One line of a stage-1 journal (its type and validator live in src/run-folder/lines.ts). */
export type { ShardJournalLine };

/** A committed shard file, as {@link committedShards} lists it. */
export interface CommittedShard {
  readonly worker: number;
  /** File name, e.g. `shard-000000.parquet`. */
  readonly shard: string;
  /** Full path under `outDir`. */
  readonly path: string;
  readonly rows: number;
  readonly symbols: readonly string[];
}

/** Options of {@link ShardWriter.open}. */
export interface ShardWriterOptions {
  /** Filesystem layer. @default nodeFs */
  readonly fs?: FsLayer;
  /** Take the worker lock even if a live process (or another host) holds it. @default false */
  readonly steal?: boolean;
  /** Recorded in the lock file (secrets redacted). @default undefined */
  readonly command?: string;
  /** Liveness check for stale-lock recovery. @default signal 0 */
  readonly processAlive?: (pid: number) => boolean;
  /** What to do with uncommitted shards found on open. @default 'move-aside' */
  readonly uncommitted?: 'move-aside' | 'delete';
  /** Parquet codec. @default 'zstd' */
  readonly compression?: ParquetCompression;
}

/** What {@link ShardWriter.commit} returns. */
export interface ShardCommitResult {
  /** Shard file name, or null when the batch had no events. */
  readonly shard: string | null;
  readonly rows: number;
  readonly symbols: readonly string[];
}

/** What {@link ShardWriter.open} cleaned up. */
export interface ShardCleanup {
  /** Uncommitted shard names moved aside or deleted. */
  readonly uncommitted: readonly string[];
  /** Tmp leftovers removed. */
  readonly tmpRemoved: readonly string[];
}

const SHARD_RE = SHARD_FILE_RE;

/**
 * The stage-1 sink's items in a worker folder: its shard files, each item named by its file name
 * (the name a journal line's `shard` field holds). `clean` and `reconcile` classify with it.
 */
export const SHARD_ITEMS: SinkItems<string> = itemsMatching(SHARD_RE);

/** `shard-000042.parquet` (the name rule is src/run-folder/layout.ts's). */
export const shardName = shardFileName;

/** Paths of worker K's files under `outDir`. */
export const shardPaths = detectPaths;

function checkLine(v: unknown, file: string, i: number): ShardJournalLine {
  return checkShardLine(v, `${file}: entry ${i + 1}`);
}

/** A stage-1 worker's shard writer. One per worker folder (guarded by its lock). */
export class ShardWriter {
  readonly outDir: string;
  readonly worker: number;
  /** `events/shards/worker-K`. */
  readonly dir: string;
  readonly journalPath: string;
  /** The held lock (`lock.recovered` names a dead holder whose stale lock was recovered). */
  readonly lock: LockHandle;
  /** What open() cleaned up. */
  readonly cleanup: ShardCleanup;
  readonly #fs: FsLayer;
  readonly #sink: CommitSink<ShardJournalLine>;
  readonly #committed: Set<string>;
  readonly #compression: ParquetCompression;
  #next: number;
  #chain: Promise<unknown> = Promise.resolve();
  #broken: unknown;
  #closed = false;

  private constructor(args: {
    outDir: string;
    worker: number;
    fs: FsLayer;
    lock: LockHandle;
    journal: Journal<ShardJournalLine>;
    committed: Set<string>;
    next: number;
    cleanup: ShardCleanup;
    compression: ParquetCompression;
  }) {
    this.outDir = args.outDir;
    this.worker = args.worker;
    const p = shardPaths(args.outDir, args.worker);
    this.dir = p.dir;
    this.journalPath = p.journal;
    this.#fs = args.fs;
    this.lock = args.lock;
    this.#sink = new CommitSink(args.journal, { fs: args.fs });
    this.#committed = args.committed;
    this.#next = args.next;
    this.cleanup = args.cleanup;
    this.#compression = args.compression;
  }

  /**
   * Takes worker K's lock, loads its journal (truncating a torn tail), moves aside shards no journal
   * line names, removes tmp leftovers, and positions the shard counter at max(committed)+1.
   *
   * @throws LockedError when another live process holds the worker (unless `steal`).
   */
  static async open(outDir: string, worker: number, opts?: ShardWriterOptions): Promise<ShardWriter> {
    validateNonNegInt(worker, 'worker');
    const fs = opts?.fs ?? nodeFs;
    const uncommittedMode = opts?.uncommitted ?? 'move-aside';
    if (uncommittedMode !== 'move-aside' && uncommittedMode !== 'delete') {
      throw new InputError(`ShardWriter: uncommitted must be 'move-aside' or 'delete'`);
    }
    const paths = shardPaths(outDir, worker);
    const lock = await acquireLock(paths.lock, {
      fs,
      steal: opts?.steal ?? false,
      ...(opts?.command !== undefined ? { command: opts.command } : {}),
      ...(opts?.processAlive ? { processAlive: opts.processAlive } : {}),
    });
    let journal: Journal<ShardJournalLine> | undefined;
    try {
      const loaded = await Journal.load<ShardJournalLine>(paths.journal, { fs });
      journal = loaded.journal;
      const committed = new Set<string>();
      const files = new Set<string>();
      let max = -1;
      loaded.entries.forEach((e, i) => {
        const l = checkLine(e, paths.journal, i);
        for (const s of l.symbols) committed.add(s);
        if (l.shard !== null) {
          files.add(l.shard);
          max = Math.max(max, Number(SHARD_RE.exec(l.shard)![1]));
        }
      });
      const cleanup = await cleanWorkerDir(fs, paths.dir, files, uncommittedMode);
      return new ShardWriter({
        outDir,
        worker,
        fs,
        lock,
        journal,
        committed,
        next: max + 1,
        cleanup,
        compression: opts?.compression ?? 'zstd',
      });
    } catch (err) {
      await journal?.close().catch(() => undefined);
      await lock.release().catch(() => undefined);
      throw err;
    }
  }

  /** The number the next shard file will get. */
  get nextShard(): number {
    return this.#next;
  }

  /** Symbols committed in this worker's journal. */
  get committedSymbols(): ReadonlySet<string> {
    return this.#committed;
  }

  /**
   * Commits one batch: publishes `shard-NNNNNN.parquet` atomically (skipped when `events` has no
   * rows), then appends and fsyncs the journal line. Durable when resolved. Commits are serialised.
   * After a failure the writer refuses further commits: close it and open it again (which cleans
   * up whatever the failure left).
   *
   * @throws InputError for an empty batch, an invalid or repeated symbol, or a symbol this worker
   * already committed.
   */
  commit(batch: { readonly symbols: readonly string[]; readonly events: pl.DataFrame }): Promise<ShardCommitResult> {
    const run = this.#chain.then(() => this.#commit(batch));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #commit(batch: { readonly symbols: readonly string[]; readonly events: pl.DataFrame }): Promise<ShardCommitResult> {
    if (this.#closed) throw new InputError(`ShardWriter for worker ${this.worker} is closed`);
    if (this.#broken !== undefined) throw this.#broken;
    const symbols = [...batch.symbols];
    if (symbols.length === 0) throw new InputError('ShardWriter.commit: a batch needs at least one symbol');
    const seen = new Set<string>();
    for (const s of symbols) {
      validateSymbol(s);
      if (seen.has(s)) throw new InputError(`ShardWriter.commit: symbol ${s} appears twice in the batch`);
      if (this.#committed.has(s)) throw new InputError(`ShardWriter.commit: symbol ${s} is already committed by worker ${this.worker}`);
      seen.add(s);
    }
    const rows = batch.events.height;
    try {
      // A batch without events has no file: its line alone commits its symbols.
      const shard = rows > 0 ? shardName(this.#next) : null;
      const files = shard === null ? [] : [parquetFile(join(this.dir, shard), batch.events, { fs: this.#fs, compression: this.#compression })];
      await this.#sink.commit(files, () => ({ shard, symbols, rows }));
      if (shard !== null) this.#next++;
      for (const s of symbols) this.#committed.add(s);
      return { shard, rows, symbols };
    } catch (err) {
      this.#broken = err;
      throw err;
    }
  }

  /** Waits for running commits, closes the journal and releases the lock. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#chain;
    this.#closed = true;
    let first: unknown;
    await this.#sink.journal.close().catch((e: unknown) => (first ??= e));
    await this.lock.release().catch((e: unknown) => (first ??= e));
    if (first !== undefined && this.#broken === undefined) throw first;
  }
}

/**
 * Recovery of a worker folder on open (the lifecycle's rules): tmp files of shards removed,
 * pending shards (no line of this worker's journal names them) moved aside into `.uncommitted/`
 * or deleted, committed shards kept.
 */
async function cleanWorkerDir(
  fs: FsLayer,
  dir: string,
  committedFiles: ReadonlySet<string>,
  mode: 'move-aside' | 'delete',
): Promise<ShardCleanup> {
  try {
    await fs.mkdir(dir);
  } catch (err) {
    throw toDiskError(err, 'creating folder', dir);
  }
  const r = await recoverFolder(dir, SHARD_ITEMS, committedFiles, mode === 'delete' ? 'delete' : { moveAsideTo: join(dir, UNCOMMITTED_DIR) }, fs);
  return { uncommitted: r.pending, tmpRemoved: r.tmpRemoved };
}

/** Options of the readers below. */
export interface ReadShardStateOptions {
  /** Filesystem layer. @default nodeFs */
  readonly fs?: FsLayer;
}

/**
 * Every line of every `state/detect/worker-*.jsonl` (whatever worker count wrote them), torn tails
 * ignored, sorted by worker.
 */
export async function readShardJournals(
  outDir: string,
  opts?: ReadShardStateOptions,
): Promise<{ worker: number; lines: ShardJournalLine[] }[]> {
  const fs = opts?.fs ?? nodeFs;
  const dir = stateDirs(outDir).detect;
  const workers = (await namesOrNone(fs, dir))
    .map((n) => WORKER_JOURNAL_RE.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  return Promise.all(
    workers.map(async (worker) => {
      const file = detectPaths(outDir, worker).journal;
      const { entries } = await loadJournal<ShardJournalLine>(file, { fs });
      return { worker, lines: entries.map((e, i) => checkLine(e, file, i)) };
    }),
  );
}

/**
 * Symbols completed by stage 1: the union of all detect journals, whatever worker count wrote them.
 *
 * @example
 * ```ts
 * const done = await loadCompletedSymbols('/data/out');
 * const todo = universe.filter((s) => !done.has(s));
 * ```
 */
export async function loadCompletedSymbols(outDir: string, opts?: ReadShardStateOptions): Promise<Set<string>> {
  const out = new Set<string>();
  for (const { lines } of await readShardJournals(outDir, opts)) {
    for (const l of lines) for (const s of l.symbols) out.add(s);
  }
  return out;
}

/**
 * The committed shard files named in all detect journals (zero-event batches have no file and are
 * not listed). Consolidation must read exactly these, never a folder listing.
 */
export async function committedShards(outDir: string, opts?: ReadShardStateOptions): Promise<CommittedShard[]> {
  const out: CommittedShard[] = [];
  for (const { worker, lines } of await readShardJournals(outDir, opts)) {
    const dir = shardPaths(outDir, worker).dir;
    for (const l of lines) {
      if (l.shard === null) continue;
      out.push({ worker, shard: l.shard, path: join(dir, l.shard), rows: l.rows, symbols: l.symbols });
    }
  }
  return out;
}
