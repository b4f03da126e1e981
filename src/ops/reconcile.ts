/**
 * `reconcile`: rebuilds the journals from what is on disk (the disk is the truth, the journal its
 * index), reporting every line added, dropped or corrected.
 *
 * Rules:
 * - Stage 1 (worker K's journal): a line is kept when its shard file opens (or it has
 *   no shard); its `rows` is corrected to the file's row count. Dropped: lines whose shard is
 *   missing or unreadable (their symbols are then redone by the next run), a repeat of a shard
 *   already committed, and redundant lines — every symbol already committed by an earlier line and
 *   every row already present in earlier kept shards (e.g. a copied shard). A shard on disk that no
 *   line names is NOT adopted: the symbol list of its batch (including symbols without events) is
 *   unknown, so it stays uncommitted (`clean` removes it; the next run redoes its symbols).
 * - Stage 2 (partition K's journal): a line is kept when both files of its window open; its
 *   counts are corrected to the files'. Dropped: lines whose window is incomplete or unreadable
 *   (downloaded again by the next run) and repeats of an event. Complete windows on disk that no
 *   line names are added to partition 0's journal (`loadIngestState` reads every partition's).
 * - A compacted window (its rows in a published part whose files open) is on disk in dataset/:
 *   its line is kept with the part's counts, whatever its folder holds. A damaged or incomplete
 *   folder of such a window is only a broken redundant copy, so it is removed the way
 *   `compact --remove-windows` removes folders (compacted → removed; the line keeps it done), and
 *   reported with the part that holds its rows. Without that, the folder would stay broken forever:
 *   the window is done, so no resume downloads it again.
 * - Torn tails and corrupt lines are dropped from every journal, failure journals included.
 * - Refuses while a running process may hold any lock; holds every partition lock itself while it
 *   works, so no run starts meanwhile. Each changed journal is written with publishAtomically: a
 *   crash leaves the old or the new journal, never a mix. Unchanged journals are not rewritten.
 * - Files are never deleted or changed (that is `clean`'s job), except those damaged folders.
 * - The dataset (its compaction journal, staging, the published parts) is reported, not changed:
 *   journaled parts still staged (the next `tickpipe compact` publishes them), staged files no
 *   line names (`clean` removes them), lost parts, and compacted windows still in windows/.
 *
 * @example
 * ```ts
 * import { reconcileRun } from 'tickpipe/ops';
 * const r = await reconcileRun('./tickpipe-data');
 * console.log(r.ingest.added.length, 'windows journaled', r.rewritten);
 * ```
 */
import { open } from 'node:fs/promises';
import { join, relative } from 'node:path';
import pl from 'nodejs-polars';
import { compactedWindowsOnDisk, datasetStates, type DatasetStates } from '../dataset/check.js';
import { removeWindowFolder } from '../dataset/compact.js';
import { datasetPaths } from '../dataset/layout.js';
import { compactionHolder } from '../dataset/state.js';
import { InputError, LockedError } from '../errors.js';
import { acquireLock, classify, publishAtomically, publishedState, SHARD_ITEMS, type LockHandle } from '../sinks/index.js';
import {
  asShardLine,
  asWindowLine,
  PART_JOURNAL_RE,
  WORKER_DIR_RE,
  forEachConcurrent,
  listJournals,
  namesIn,
  openRunFolder,
  parquetRowCount,
  readLocks,
  refuseIfHeld,
  streamJournal,
  throttled,
  walkWindows,
  IngestFold,
  type JournalFile,
} from '../run-folder/index.js';
import { detectPaths, ingestJournalName, ingestPaths, shardPath, shardsRoot, windowsRoot } from '../run-folder/layout.js';


/** One journal line reconcile added, dropped or corrected. */
export interface ReconcileChange {
  /** Journal path relative to the run folder. */
  readonly journal: string;
  /** 1-based line in the old journal (absent for added lines). */
  readonly line?: number;
  /** The shard file or event ID concerned. */
  readonly item: string;
  readonly reason: string;
}

/** A damaged or incomplete folder of a compacted window, removed by reconcile (its line stays). */
export interface RemovedWindowFolder {
  /** The window folder, relative to the run folder. */
  readonly folder: string;
  readonly event: string;
  /** What was wrong with it. */
  readonly damage: string;
  /** The part's files that hold the window's rows (relative). */
  readonly part: readonly string[];
}

/** What {@link reconcileRun} did. */
export interface ReconcileResult {
  readonly detect: {
    readonly kept: number;
    readonly dropped: readonly ReconcileChange[];
    readonly corrected: readonly ReconcileChange[];
    /** Shard files no journal names: left uncommitted (see the module comment). */
    readonly notAdopted: readonly string[];
  };
  readonly ingest: {
    readonly kept: number;
    readonly added: readonly ReconcileChange[];
    readonly dropped: readonly ReconcileChange[];
    readonly corrected: readonly ReconcileChange[];
    /** Damaged folders of compacted windows, removed (their lines are kept: still done). */
    readonly removedFolders: readonly RemovedWindowFolder[];
  };
  /** Failure-journal lines dropped (torn tails, corrupt lines). */
  readonly failedDropped: readonly ReconcileChange[];
  /** Journals written (relative paths). */
  readonly rewritten: readonly string[];
  /**
   * The compacted dataset's states, reported only (reconcile never changes dataset/ or the
   * compaction journal): null when there is no dataset.
   */
  readonly dataset: DatasetStates | null;
}

/** Options of {@link reconcileRun}. */
export interface ReconcileOptions {
  /** Window folders checked at once. @default 32 */
  readonly concurrency?: number;
  /** Progress lines on long runs. @default undefined */
  readonly onProgress?: (message: string) => void;
}

interface Line<T> {
  readonly line: number;
  readonly value: T;
}

interface LoadedJournal<T> {
  readonly file: JournalFile;
  readonly good: Array<Line<T>>;
  /** Lines that were not entries of the right shape, torn tail included. */
  readonly bad: Array<{ line: number; reason: string }>;
}

async function load<T>(file: JournalFile, shape: (v: unknown) => T | undefined): Promise<LoadedJournal<T>> {
  const good: Array<Line<T>> = [];
  const bad: Array<{ line: number; reason: string }> = [];
  let last = 0;
  const s = await streamJournal(file.path, (v, line) => {
    last = line;
    const l = shape(v);
    if (l === undefined) bad.push({ line, reason: 'not a journal entry of the right shape' });
    else good.push({ line, value: l });
  });
  for (const c of s.corrupt) bad.push({ line: c.line, reason: 'not valid JSON' });
  if (s.tornTail) bad.push({ line: last + 1, reason: 'torn tail' });
  return { file, good, bad };
}

async function writeJournal(path: string, entries: readonly unknown[]): Promise<void> {
  await publishAtomically(path, async (tmp) => {
    const h = await open(tmp, 'wx');
    try {
      let buf = '';
      for (const e of entries) {
        buf += `${JSON.stringify(e)}\n`;
        if (buf.length > 1 << 20) {
          await h.write(buf);
          buf = '';
        }
      }
      if (buf.length > 0) await h.write(buf);
    } finally {
      await h.close();
    }
  });
}

/**
 * Rebuilds the journals of a run folder from its files (see the module comment for the rules).
 *
 * @throws InputError when `outDir` is not a run folder; LockedError naming the holder when a
 * running process may hold a lock.
 */
export async function reconcileRun(outDir: string, opts?: ReconcileOptions): Promise<ReconcileResult> {
  const concurrency = opts?.concurrency ?? 32;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1024) {
    throw new InputError(`reconcile: concurrency must be a whole number in 1..1024, got ${String(concurrency)} (${typeof concurrency})`);
  }
  const { dir } = await openRunFolder(outDir);
  refuseIfHeld(await readLocks(dir), 'reconcile');
  const journals = await listJournals(dir);
  const lockPaths = new Set<string>([
    ...journals.detect.map((f) => detectPaths(dir, f.index).lock),
    ...[...journals.ingest, ...journals.failed].map((f) => ingestPaths(dir, f.index).lock),
    // part-0 receives the windows found on disk but not journaled.
    ...(journals.ingest.length > 0 || (await namesIn(windowsRoot(dir))).length > 0 ? [ingestPaths(dir, 0).lock] : []),
    ...(await readLocks(dir)).map((l) => l.path),
  ]);
  const held: LockHandle[] = [];
  try {
    // acquireLock refuses a live holder (race-free), recovers a stale one.
    for (const p of [...lockPaths].sort()) held.push(await acquireLock(p, { command: 'tickpipe reconcile' }));
    return await reconcileLocked(dir, journals, concurrency, opts?.onProgress);
  } finally {
    for (const l of held.reverse()) await l.release().catch(() => undefined);
  }
}

type Journals = Awaited<ReturnType<typeof listJournals>>;
type ShardLine = NonNullable<ReturnType<typeof asShardLine>>;
type WindowCounts = { symbol: string; trades: number; quotes: number };
const EVENT_KEYS = ['symbol', 'event_type', 'timestamp'];

/**
 * One reconcile pass under the locks: each stage rebuilds its journals from the files and records
 * what it changed. A class so the stages share the folder and the list of rewritten journals.
 */
class Reconciler {
  readonly rewritten: string[] = [];

  constructor(private readonly dir: string) {}

  rel(p: string): string {
    return relative(this.dir, p);
  }

  private async rewrite(path: string, entries: readonly unknown[]): Promise<void> {
    await writeJournal(path, entries);
    this.rewritten.push(this.rel(path));
  }

  /** Stage 1: keep each journal line whose shard opens (rows corrected) and adds something new. */
  async detect(journals: Journals): Promise<ReconcileResult['detect']> {
    const shardsDir = shardsRoot(this.dir);
    const r = { kept: 0, dropped: [] as ReconcileChange[], corrected: [] as ReconcileChange[] };
    const kept = { symbols: new Set<string>(), shards: [] as string[] };
    const named = new Map<number, Set<string>>();
    for (const f of journals.detect) {
      const j = await load(f, asShardLine);
      const journal = this.rel(f.path);
      const out: unknown[] = [];
      const mine = new Set<string>();
      named.set(f.index, mine);
      let changed = j.bad.length > 0;
      for (const b of j.bad) r.dropped.push({ journal, line: b.line, item: '-', reason: b.reason });
      for (const { line, value: l } of j.good) {
        const path = l.shard === null ? undefined : shardPath(this.dir, f.index, l.shard);
        const drop = (reason: string): void => {
          r.dropped.push({ journal, line, item: l.shard ?? `(no shard: ${l.symbols.join(',')})`, reason });
          changed = true;
        };
        const opened = await this.openShard(l, path, mine);
        if ('drop' in opened) {
          drop(opened.drop);
          continue;
        }
        if (opened.rows !== l.rows) {
          r.corrected.push({ journal, line, item: l.shard!, reason: `rows ${l.rows} -> ${opened.rows} (the file's count)` });
          changed = true;
        }
        const redundant = await this.redundant(l, path, kept);
        if (redundant !== undefined) {
          drop(redundant);
          continue;
        }
        for (const sym of l.symbols) kept.symbols.add(sym);
        if (path !== undefined) {
          mine.add(l.shard!);
          kept.shards.push(path);
        }
        out.push(opened.rows === l.rows ? l : { ...(l as unknown as Record<string, unknown>), rows: opened.rows });
        r.kept++;
      }
      if (changed) await this.rewrite(f.path, out);
    }
    return { ...r, notAdopted: await this.unnamedShards(shardsDir, named) };
  }

  /** The shard a detect line names opens, with the file's row count; or why the line goes. */
  private async openShard(l: ShardLine, path: string | undefined, mine: ReadonlySet<string>): Promise<{ rows: number } | { drop: string }> {
    if (path === undefined) return { rows: l.rows };
    if (mine.has(l.shard!)) return { drop: 'names a shard an earlier line already committed' };
    const c = await parquetRowCount(path);
    if (!c.ok) return { drop: c.reason.includes('ENOENT') ? 'shard file is gone' : `shard does not open: ${c.reason}` };
    return { rows: c.rows };
  }

  /** Why a line is redundant (nothing new in its symbols, and its rows all in the shards kept so far), if it is. */
  private async redundant(l: ShardLine, path: string | undefined, kept: { readonly symbols: ReadonlySet<string>; readonly shards: readonly string[] }): Promise<string | undefined> {
    if (!l.symbols.every((sym) => kept.symbols.has(sym))) return undefined;
    if (path === undefined) return 'redundant: its symbols are already committed';
    const mineRows = pl.scanParquet(path).select(...EVENT_KEYS);
    const fresh =
      kept.shards.length === 0
        ? mineRows
        : mineRows.join(pl.concat(kept.shards.map((p) => pl.scanParquet(p).select(...EVENT_KEYS))).unique(), { on: EVENT_KEYS, how: 'anti' });
    const n = Number((await fresh.select(pl.len().alias('n')).collect()).getColumn('n').get(0));
    return n === 0 ? 'redundant: its symbols are already committed and its rows are in earlier shards' : undefined;
  }

  /** Shard files no journal line names: left uncommitted (see the module comment). */
  private async unnamedShards(shardsDir: string, named: ReadonlyMap<number, ReadonlySet<string>>): Promise<string[]> {
    const notAdopted: string[] = [];
    for (const w of (await namesIn(shardsDir)).sort()) {
      const m = WORKER_DIR_RE.exec(w);
      if (!m) continue;
      const mine = named.get(Number(m[1])) ?? new Set<string>();
      for (const n of (await namesIn(join(shardsDir, w))).sort()) {
        if (classify(join(shardsDir, w), n, SHARD_ITEMS, mine)?.state === 'pending') notAdopted.push(this.rel(join(shardsDir, w, n)));
      }
    }
    return notAdopted;
  }

  /**
   * Stage 2, the files: every complete window on disk (or compacted into dataset/), why the others
   * are not, and the damaged folders of compacted windows (see the module comment).
   */
  async windowsOnDisk(
    concurrency: number,
    onProgress: ((m: string) => void) | undefined,
  ): Promise<{ onDisk: Map<string, WindowCounts>; broken: Map<string, string>; redundant: RemovedWindowFolder[]; dataset: DatasetStates | null }> {
    const progress = throttled(onProgress);
    const onDisk = new Map<string, WindowCounts>();
    const broken = new Map<string, string>();
    const brokenFolders: Array<{ event: string; symbol: string; dir: string; damage: string }> = [];
    let seen = 0;
    await forEachConcurrent(walkWindows(this.dir), concurrency, async (w) => {
      seen++;
      progress(() => `reconcile: ${seen.toLocaleString('en-US')} window folders read`);
      const hasT = w.names.includes('trades.parquet');
      const hasQ = w.names.includes('quotes.parquet');
      const brokenAs = (damage: string): void => {
        broken.set(w.event, damage);
        brokenFolders.push({ event: w.event, symbol: w.symbol, dir: w.dir, damage });
      };
      if (!hasT || !hasQ) {
        brokenAs(hasT || hasQ ? `${hasT ? 'quotes' : 'trades'}.parquet is missing` : 'window files are gone');
        return;
      }
      const [t, q] = await Promise.all([parquetRowCount(join(w.dir, 'trades.parquet')), parquetRowCount(join(w.dir, 'quotes.parquet'))]);
      if (!t.ok || !q.ok) {
        brokenAs(`${!t.ok ? 'trades' : 'quotes'}.parquet does not open: ${(!t.ok ? t : (q as { reason: string })).reason}`);
        return;
      }
      onDisk.set(w.event, { symbol: w.symbol, trades: t.rows, quotes: q.rows });
    });
    // The dataset's unfinished states, reported as found (compact finishes them, clean removes the rest).
    const dataset = await datasetStates(this.dir, new Set(onDisk.keys()));
    // Windows removed after compaction are on disk in dataset/: journal them with the parts' counts.
    const compacted = await compactedWindowsOnDisk(this.dir);
    for (const [event, c] of compacted) {
      if (!onDisk.has(event)) {
        onDisk.set(event, { symbol: c.symbol, trades: c.trades, quotes: c.quotes });
        broken.delete(event);
      }
    }
    const redundant: RemovedWindowFolder[] = [];
    for (const b of brokenFolders) {
      const c = compacted.get(b.event);
      if (c?.part !== undefined && c.symbol === b.symbol) redundant.push({ folder: this.rel(b.dir), event: b.event, damage: b.damage, part: c.part });
    }
    redundant.sort((a, b) => (a.folder < b.folder ? -1 : 1));
    return { onDisk, broken, redundant, dataset };
  }

  /** Removes the damaged folders of compacted windows (see the module comment); refused while a compaction may be active, as in `clean`. */
  async removeRedundant(redundant: readonly RemovedWindowFolder[]): Promise<void> {
    if (redundant.length === 0) return;
    const compacting = await compactionHolder(datasetPaths(this.dir));
    if (compacting) throw new LockedError(`refusing to remove the damaged folder ${redundant[0]!.folder} of a compacted window while a compaction may be active: ${compacting}; stop it first`);
    for (const r of redundant) await removeWindowFolder(join(this.dir, r.folder));
  }

  /** Stage 2, the journals: one line per window on disk with the files' counts; windows no journal named go to part-0. */
  async ingest(journals: Journals, onDisk: ReadonlyMap<string, WindowCounts>, broken: ReadonlyMap<string, string>): Promise<Omit<ReconcileResult['ingest'], 'removedFolders'>> {
    const r = { kept: 0, added: [] as ReconcileChange[], dropped: [] as ReconcileChange[], corrected: [] as ReconcileChange[] };
    // The model's rule: the first line of an event commits it, a later one is a repeat.
    const lines = new IngestFold(false);
    const journaled = new Set<string>();
    const part0 = journals.ingest.find((f) => f.index === 0) ?? { index: 0, path: ingestPaths(this.dir, 0).journal, name: ingestJournalName(0) };
    const parts = journals.ingest.some((f) => f.index === 0) ? journals.ingest : [part0, ...journals.ingest];
    const outputs = new Map<string, { entries: unknown[]; changed: boolean }>();
    for (const f of parts) {
      if (!PART_JOURNAL_RE.test(f.name)) continue;
      const j = await load(f, asWindowLine);
      const journal = this.rel(f.path);
      const o = { entries: [] as unknown[], changed: j.bad.length > 0 };
      for (const b of j.bad) r.dropped.push({ journal, line: b.line, item: '-', reason: b.reason });
      for (const { line, value: l } of j.good) {
        const d = onDisk.get(l.event);
        const { repeatOf } = lines.add(l, `${f.name}:${line}`);
        const dropReason = repeatOf !== undefined ? 'repeats an event journaled earlier' : !d || d.symbol !== l.symbol ? (broken.get(l.event) ?? 'window files are gone') : undefined;
        if (dropReason !== undefined || !d) {
          r.dropped.push({ journal, line, item: l.event, reason: dropReason ?? 'window files are gone' });
          o.changed = true;
          continue;
        }
        let entry = l as unknown as Record<string, unknown>;
        if (d.trades !== l.trades || d.quotes !== l.quotes) {
          r.corrected.push({ journal, line, item: l.event, reason: `trades ${l.trades} -> ${d.trades}, quotes ${l.quotes} -> ${d.quotes} (the files' counts)` });
          entry = { ...entry, trades: d.trades, quotes: d.quotes };
          o.changed = true;
        }
        journaled.add(l.event);
        o.entries.push(entry);
        r.kept++;
      }
      outputs.set(f.path, o);
    }
    const missing = [...onDisk.entries()].filter(([e]) => publishedState(e, journaled) === 'pending').sort((a, b) => (a[0] < b[0] ? -1 : 1));
    if (missing.length > 0) {
      const o = outputs.get(part0.path)!;
      for (const [event, d] of missing) {
        o.entries.push({ event, symbol: d.symbol, trades: d.trades, quotes: d.quotes });
        r.added.push({ journal: this.rel(part0.path), item: event, reason: 'complete window on disk that no journal named' });
      }
      o.changed = true;
    }
    for (const [path, o] of outputs) if (o.changed) await this.rewrite(path, o.entries);
    return r;
  }

  /** Failure journals: only torn tails and corrupt lines go. */
  async failed(journals: Journals): Promise<ReconcileChange[]> {
    const dropped: ReconcileChange[] = [];
    for (const f of journals.failed) {
      const j = await load(f, (v) => (v !== null && typeof v === 'object' && typeof (v as { event?: unknown }).event === 'string' ? v : undefined));
      if (j.bad.length === 0) continue;
      for (const b of j.bad) dropped.push({ journal: this.rel(f.path), line: b.line, item: '-', reason: b.reason });
      await this.rewrite(
        f.path,
        j.good.map((g) => g.value),
      );
    }
    return dropped;
  }
}

async function reconcileLocked(dir: string, journals: Journals, concurrency: number, onProgress: ((m: string) => void) | undefined): Promise<ReconcileResult> {
  const r = new Reconciler(dir);
  const detect = await r.detect(journals);
  const { onDisk, broken, redundant, dataset } = await r.windowsOnDisk(concurrency, onProgress);
  // Before the journals: a refusal (compaction active) then leaves stage 2 as it was.
  await r.removeRedundant(redundant);
  const ingest = await r.ingest(journals, onDisk, broken);
  const failedDropped = await r.failed(journals);
  return { detect, ingest: { ...ingest, removedFolders: redundant }, failedDropped, rewritten: r.rewritten, dataset };
}
