/**
 * `verify`: the dedup and integrity check of a run folder, reading the files themselves (not just
 * the journals). Read-only, so it may run while a run is active — but then files in flight (tmp
 * files, a window whose second file is being renamed, a line still in its group commit) can show as
 * problems; {@link VerifyResult.heldLocks} says when that may be the case.
 *
 * Scales to ~600k windows: journals are streamed, window folders are listed one at a time with
 * bounded concurrency, and Parquet row counts come from the footers ({@link parquetRowCount}),
 * never from decoding data.
 *
 * @example
 * ```ts
 * import { verifyRun } from 'tickpipe/ops';
 * const r = await verifyRun('./tickpipe-data');
 * if (!r.ok) for (const [kind, p] of Object.entries(r.problems)) console.log(kind, p.count, p.examples);
 * ```
 */
import { basename, join, relative } from 'node:path';
import pl from 'nodejs-polars';
import { DATASET_PROBLEMS, verifyDataset } from '../dataset/check.js';
import { InputError } from '../errors.js';
import { isTmpName } from '../sinks/index.js';
import {
  forEachConcurrent,
  mayBeHeld,
  namesIn,
  openRunFolder,
  parquetRowCount,
  readCompactLock,
  readRunFolder,
  throttled,
  walkFiles,
  walkWindows,
  type CommittedShardLine,
  type DetectFold,
  uncommittedShards,
  type CommittedWindowLine,
  type CompactLockState,
  type IngestFold,
  type LockState,
  type ModelObserver,
} from '../run-folder/index.js';
import { datasetPaths, eventsDir, MANIFEST_FILE, manifestPath, REL_PATHS, shardPath, windowRelPath, windowsRoot } from '../run-folder/layout.js';

/** Every kind of problem verify reports, in report order, with what it means. */
export const VERIFY_PROBLEMS = {
  'duplicate-event-rows': 'event rows present more than once across committed shards (symbol, event_type, timestamp)',
  'symbol-journaled-twice': 'symbols committed by more than one detect journal line',
  'window-journaled-twice': 'events with more than one ingest journal line',
  'window-missing-file': 'window folders (journaled or on disk) with trades.parquet or quotes.parquet absent',
  'unreadable-parquet': 'Parquet files that do not open (truncated or corrupt footer)',
  'row-count-mismatch': 'Parquet files whose row count disagrees with their journal line',
  'journal-line-without-files': 'journal lines whose files are gone',
  'unjournaled-window': 'complete windows on disk that no ingest journal names (reconcile adds them)',
  'uncommitted-shard': 'shard files no detect journal names (outside .uncommitted/)',
  'orphan-tmp': 'tmp files left by an interrupted atomic publish',
  'torn-journal-tail': 'journals whose last line is torn (ignored on load)',
  'corrupt-journal-line': 'journal lines before the last that are not valid entries (the pipeline refuses these journals)',
  'manifest-stale': `${REL_PATHS.manifest} disagrees with the committed shards (events missing from it or not in any shard): run \`tickpipe consolidate\``,
  ...DATASET_PROBLEMS,
} as const;

export type VerifyProblemKind = keyof typeof VERIFY_PROBLEMS;

/** Count and first examples of one kind of problem. */
export interface VerifyProblem {
  readonly count: number;
  readonly examples: readonly string[];
}

/** What {@link verifyRun} found. */
export interface VerifyResult {
  /** No problem of any kind. */
  readonly ok: boolean;
  /** Only the kinds that were found, in {@link VERIFY_PROBLEMS} order. */
  readonly problems: Partial<Record<VerifyProblemKind, VerifyProblem>>;
  /** What was looked at. */
  readonly checked: {
    readonly journals: number;
    readonly journalLines: number;
    readonly shards: number;
    readonly windows: number;
    readonly parquetFiles: number;
  };
  /**
   * What the journals commit, by the model's rule (first line of an item wins; docs/ARCHITECTURE.md):
   * distinct symbols and shards of stage 1, distinct windows of stage 2, failures of windows no
   * journal commits.
   */
  readonly committed: { readonly symbols: number; readonly shards: number; readonly windows: number; readonly failed: number };
  /** Locks that a running process may hold (in-flight files may then show as problems). */
  readonly heldLocks: readonly LockState[];
  /**
   * The compaction lock when a running process may hold it: its staged files (in
   * `state/compact/staging/`) were then skipped, not reported, as they are in flight.
   */
  readonly runningCompaction?: CompactLockState;
  readonly elapsedMs: number;
}

/** Options of {@link verifyRun}. */
export interface VerifyOptions {
  /** Window folders checked at once. @default 32 */
  readonly concurrency?: number;
  /** Examples kept per kind of problem. @default 5 */
  readonly maxExamples?: number;
  /** Called with a progress line at most every ~2 s on long runs. @default undefined */
  readonly onProgress?: (message: string) => void;
}

class Problems {
  readonly #found = new Map<VerifyProblemKind, { count: number; examples: string[] }>();
  constructor(readonly maxExamples: number) {}
  add(kind: VerifyProblemKind, example: string, n = 1): void {
    let p = this.#found.get(kind);
    if (!p) this.#found.set(kind, (p = { count: 0, examples: [] }));
    p.count += n;
    if (p.examples.length < this.maxExamples) p.examples.push(example);
  }
  result(): Partial<Record<VerifyProblemKind, VerifyProblem>> {
    const out: Partial<Record<VerifyProblemKind, VerifyProblem>> = {};
    for (const k of Object.keys(VERIFY_PROBLEMS) as VerifyProblemKind[]) {
      const p = this.#found.get(k);
      if (p) out[k] = { count: p.count, examples: p.examples };
    }
    return out;
  }
}

function validateOptions(opts: VerifyOptions | undefined): { concurrency: number; maxExamples: number } {
  const concurrency = opts?.concurrency ?? 32;
  const maxExamples = opts?.maxExamples ?? 5;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1024) {
    throw new InputError(`verify: concurrency must be a whole number in 1..1024, got ${String(concurrency)} (${typeof concurrency})`);
  }
  if (!Number.isInteger(maxExamples) || maxExamples < 0) {
    throw new InputError(`verify: maxExamples must be a whole number >= 0, got ${String(maxExamples)} (${typeof maxExamples})`);
  }
  return { concurrency, maxExamples };
}


/**
 * One verify pass over one run folder: each step adds what it finds to {@link problems}. A class so
 * the steps share the folder, the counters and the problem list without one long closure.
 */
class RunVerifier {
  readonly problems: Problems;
  journalLines = 0;
  parquetFiles = 0;
  windows = 0;
  private readonly progress: (line: () => string) => void;

  constructor(
    readonly dir: string,
    private readonly concurrency: number,
    maxExamples: number,
    onProgress: ((message: string) => void) | undefined,
    /** A live process holds the compaction lock: its staged files are in flight, not problems. */
    readonly compactionRunning = false,
  ) {
    this.problems = new Problems(maxExamples);
    this.progress = throttled(onProgress);
  }

  rel(p: string): string {
    return relative(this.dir, p) || '.';
  }

  /**
   * What verify reports while the model is read: torn tails, corrupt and misshapen lines, and
   * repeats (the model keeps the first line of an item; verify names both lines).
   */
  observer(): ModelObserver {
    const symbolsTwice = new Set<string>();
    const windowsTwice = new Set<string>();
    return {
      onJournal: (f, s) => {
        this.journalLines += s.lines;
        if (s.tornTail) this.problems.add('torn-journal-tail', `${this.rel(f.path)} (torn after byte ${s.validBytes})`);
        for (const c of s.corrupt) this.problems.add('corrupt-journal-line', `${this.rel(f.path)}:${c.line}: ${c.text.slice(0, 60)}`);
      },
      onMisshapen: (m) => {
        if (m.stage !== 'failed') this.problems.add('corrupt-journal-line', `${this.rel(m.file.path)}:${m.line}: not a ${m.stage === 'detect' ? 'shard' : 'window'} line`);
      },
      onDetectLine: (_f, _l, where, fold) => {
        for (const { symbol, first } of fold.repeatedSymbols) {
          if (symbolsTwice.has(symbol)) continue;
          symbolsTwice.add(symbol);
          this.problems.add('symbol-journaled-twice', `${symbol} (${first}, ${where})`);
        }
      },
      onWindowLine: (event, where, repeatOf) => {
        if (repeatOf === undefined || windowsTwice.has(event)) return;
        windowsTwice.add(event);
        this.problems.add('window-journaled-twice', `${event} (${repeatOf?.where ?? '?'}, ${where})`);
      },
    };
  }

  /** The journaled shards open and hold the journaled rows; returns the readable ones. */
  async shardFiles(shardLines: readonly CommittedShardLine[]): Promise<string[]> {
    const readable: string[] = [];
    await forEachConcurrent(shardLines, this.concurrency, async (s) => {
      const path = shardPath(this.dir, s.worker, s.shard);
      const c = await parquetRowCount(path);
      this.parquetFiles++;
      if (!c.ok) {
        if (c.reason.includes('ENOENT')) this.problems.add('journal-line-without-files', `${s.where}: ${this.rel(path)} is gone`);
        else this.problems.add('unreadable-parquet', `${this.rel(path)}: ${c.reason}`);
        return;
      }
      readable.push(path);
      if (c.rows !== s.rows) this.problems.add('row-count-mismatch', `${this.rel(path)}: ${c.rows} rows, ${s.where} says ${s.rows}`);
    });
    return readable.sort();
  }

  /** Shard files on disk that no journal line names. */
  async uncommittedShards(detect: DetectFold): Promise<void> {
    for (const s of await uncommittedShards(this.dir, detect)) this.problems.add('uncommitted-shard', this.rel(s.path));
  }

  /** The same event in two committed shards. Shards are small next to windows (one row per event), so one lazy group-by over all of them is cheap. */
  async duplicateEvents(readableShards: readonly string[]): Promise<void> {
    if (readableShards.length === 0) return;
    const keys = ['symbol', 'event_type', 'timestamp'];
    const dups = await pl
      .concat(readableShards.map((p) => pl.scanParquet(p).select(...keys)))
      .groupBy(keys)
      .agg(pl.len().alias('n'))
      .filter(pl.col('n').gt(1))
      .sort(keys)
      .collect();
    if (dups.height === 0) return;
    const n = dups.getColumn('n').toArray().map(Number);
    const sym = dups.getColumn('symbol').toArray() as string[];
    const et = dups.getColumn('event_type').toArray() as string[];
    const ts = dups.getColumn('timestamp').toArray() as unknown[];
    for (let i = 0; i < dups.height; i++) {
      const t = ts[i] instanceof Date ? (ts[i] as Date).toISOString() : String(ts[i]);
      this.problems.add('duplicate-event-rows', `${sym[i]} ${et[i]} ${t} x${n[i]}`, n[i]! - 1);
    }
  }

  /** events.parquet opens and agrees with the shards. */
  async manifest(readableShards: readonly string[]): Promise<void> {
    const manifest = manifestPath(this.dir);
    if (!(await namesIn(eventsDir(this.dir))).includes(MANIFEST_FILE)) return;
    const c = await parquetRowCount(manifest);
    this.parquetFiles++;
    if (!c.ok) this.problems.add('unreadable-parquet', `${this.rel(manifest)}: ${c.reason}`);
    else await compareManifest(manifest, readableShards, this.problems);
  }

  /** Every window folder: both files, readable, the journaled row counts, journaled at all. */
  async windowFolders(journaled: IngestFold['windows'], seen: Set<string>): Promise<void> {
    await forEachConcurrent(walkWindows(this.dir), this.concurrency, async (w) => {
      this.windows++;
      this.progress(() => `verify: ${this.windows.toLocaleString('en-US')} window folders checked`);
      const wrel = windowRelPath(w.symbol, w.event);
      for (const n of w.names) if (isTmpName(n)) this.problems.add('orphan-tmp', `${wrel}/${n}`);
      const j = journaled.get(w.event);
      const entry = j && j.symbol === w.symbol ? j : undefined;
      if (entry) seen.add(w.event);
      const hasT = w.names.includes('trades.parquet');
      const hasQ = w.names.includes('quotes.parquet');
      if (!hasT && !hasQ) {
        if (entry) this.problems.add('journal-line-without-files', `${entry.where}: ${wrel} has neither file`);
        return;
      }
      if (!hasT || !hasQ) {
        this.problems.add('window-missing-file', `${wrel}: ${hasT ? 'quotes' : 'trades'}.parquet absent${entry ? ` (journaled ${entry.where})` : ''}`);
      }
      // Both files are checked even when the first is bad: each problem is reported.
      const tradesOk = await this.windowFile(w, wrel, 'trades.parquet', entry, entry?.trades);
      const quotesOk = await this.windowFile(w, wrel, 'quotes.parquet', entry, entry?.quotes);
      const readable = tradesOk && quotesOk;
      if (readable && !entry) this.problems.add('unjournaled-window', wrel);
    });
  }

  /** One file of a window: false when it is absent or unreadable. */
  private async windowFile(w: { dir: string; names: readonly string[] }, wrel: string, name: string, entry: CommittedWindowLine | undefined, want: number | undefined): Promise<boolean> {
    if (!w.names.includes(name)) return false;
    const c = await parquetRowCount(join(w.dir, name));
    this.parquetFiles++;
    if (!c.ok) {
      this.problems.add('unreadable-parquet', `${wrel}/${name}: ${c.reason}`);
      return false;
    }
    if (want !== undefined && c.rows !== want) this.problems.add('row-count-mismatch', `${wrel}/${name}: ${c.rows} rows, ${entry!.where} says ${want}`);
    return true;
  }

  /** Journaled windows that are neither on disk nor in the compacted dataset. */
  async goneWindows(journaled: IngestFold['windows'], seen: ReadonlySet<string>): Promise<void> {
    // A window removed after compaction is present in the dataset, not gone.
    const dataset = await verifyDataset(this.dir, (kind, example, n) => this.problems.add(kind, example, n), { compactionRunning: this.compactionRunning });
    for (const [event, j] of journaled) {
      if (j && !seen.has(event) && !dataset.compacted.has(event)) this.problems.add('journal-line-without-files', `${j.where}: ${windowRelPath(j.symbol, event)} is gone`);
    }
  }

  /** tmp leftovers outside the window folders (and outside staging while a compaction runs there). */
  async tmpLeftovers(): Promise<void> {
    const skip = new Set([windowsRoot(this.dir), ...(this.compactionRunning ? [datasetPaths(this.dir).stagingDir] : [])]);
    for await (const p of walkFiles(this.dir, skip)) {
      if (isTmpName(basename(p))) this.problems.add('orphan-tmp', this.rel(p));
    }
  }
}

/**
 * Checks a run folder and reports every problem found (see {@link VERIFY_PROBLEMS}).
 *
 * @throws InputError when `outDir` is not a run folder (no run.json) or an option is invalid.
 */
export async function verifyRun(outDir: string, opts?: VerifyOptions): Promise<VerifyResult> {
  const { concurrency, maxExamples } = validateOptions(opts);
  const started = Date.now();
  const { dir } = await openRunFolder(outDir);
  const compactLock = await readCompactLock(dir);
  const runningCompaction = compactLock && mayBeHeld(compactLock) ? compactLock : undefined;
  const v = new RunVerifier(dir, concurrency, maxExamples, opts?.onProgress, runningCompaction !== undefined);
  const model = await readRunFolder(dir, { observer: v.observer() });
  const heldLocks = model.locks.filter(mayBeHeld);
  const { journals } = model;

  const shardLines = [...model.detect.shards.values()];
  const readableShards = await v.shardFiles(shardLines);
  await v.uncommittedShards(model.detect);
  await v.duplicateEvents(readableShards);
  await v.manifest(readableShards);

  const seen = new Set<string>();
  await v.windowFolders(model.ingest.windows, seen);
  await v.goneWindows(model.ingest.windows, seen);
  await v.tmpLeftovers();

  const found = v.problems.result();
  return {
    ok: Object.keys(found).length === 0,
    problems: found,
    checked: {
      journals: journals.detect.length + journals.ingest.length + journals.failed.length,
      journalLines: v.journalLines,
      shards: shardLines.length,
      windows: v.windows,
      parquetFiles: v.parquetFiles,
    },
    committed: { symbols: model.detect.symbols.size, shards: model.detect.shards.size, windows: model.ingest.windows.size, failed: model.failures.size },
    heldLocks,
    ...(runningCompaction ? { runningCompaction } : {}),
    elapsedMs: Date.now() - started,
  };
}

/**
 * A manifest consolidated before every shard was committed (detection still running, or one
 * partition half) silently limits stage 2 to the events it holds: compare it with the shards.
 */
async function compareManifest(manifest: string, shards: readonly string[], problems: Problems): Promise<void> {
  const keys = ['symbol', 'event_type', 'timestamp'];
  const inManifest = pl.scanParquet(manifest).select(...keys);
  const show = async (df: pl.LazyDataFrame, what: string): Promise<void> => {
    const rows = await df.sort(keys).collect();
    if (rows.height === 0) return;
    const sym = rows.getColumn('symbol').toArray() as string[];
    const et = rows.getColumn('event_type').toArray() as string[];
    const ts = rows.getColumn('timestamp').toArray() as unknown[];
    const t0 = ts[0] instanceof Date ? (ts[0] as Date).toISOString() : String(ts[0]);
    problems.add('manifest-stale', `${rows.height} event(s) ${what}, e.g. ${sym[0]} ${et[0]} ${t0}`, rows.height);
  };
  if (shards.length === 0) return show(inManifest.unique(), `in ${REL_PATHS.manifest} but in no committed shard`);
  const inShards = pl.concat(shards.map((p) => pl.scanParquet(p).select(...keys))).unique();
  await show(inShards.join(inManifest, { on: keys, how: 'anti' }), `of committed shards missing from ${REL_PATHS.manifest}`);
  await show(inManifest.unique().join(inShards, { on: keys, how: 'anti' }), `in ${REL_PATHS.manifest} but in no committed shard`);
}
