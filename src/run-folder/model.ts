/**
 * The read model of a run: what its journals commit (stage-1 symbols and shards, stage-2 windows),
 * the permanent failures still open, what the journals hold that is not a commit (torn tails,
 * corrupt lines, lines of the wrong shape), and the locks. `status`, `verify`, `reconcile`,
 * `tail`, `report` and the run summary are views or repairs over it; they count committed items
 * with the folds below, so they cannot disagree.
 *
 * **The duplicate-line rule: the first line for an item wins.** A stage-1 symbol or shard, or a
 * stage-2 window, is committed by the first valid line that names it, in journal order (journals
 * sorted by worker or partition number, lines in file order); a later line for the same item is a
 * repeat: it commits nothing, its counts are ignored, and `verify` reports it. Why the first:
 * - the first line is the commit point; the writers skip committed items, so a second line only
 *   comes from a repeat of a commit (an adopt or a reconcile over a folder a run also wrote, two
 *   processes, a copied journal), never from new data;
 * - an append-only reader can apply it without looking back: the committed index
 *   (`state/ingest/committed.idx`) and `tail` fold journals incrementally and never revisit an
 *   item, which "last wins" would require (its counts would have to be subtracted again);
 * - `reconcile` keeps exactly these lines and drops the repeats.
 * Failure lines follow the opposite rule on purpose: the **last** failure line of an event wins
 * (it is the newest attempt's reason), and a failure is void once the event is committed in any
 * journal.
 *
 * Which lines count: a line is a commit only if it is JSON of the line type's shape
 * (src/run-folder/lines.ts). The torn-tail rule is the journal reader's (src/run-folder/journal-reader.ts).
 * Cluster processes write journals named like a one-host worker's (`worker-K.jsonl`, `part-K.jsonl`
 * with K >= 1000), so they are read here like any other.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { StoredRunSpec } from './run-spec.js';
import { manifestPath, SHARD_FILE_RE, shardsRoot, WORKER_DIR_RE } from './layout.js';
import { parquetRowCount } from './parquet-footer.js';
import { listJournals, namesIn, openRunFolder, readLocks, type JournalFile, type JournalFiles, type LockState, type ReadLocksOptions } from './folder.js';
import { streamJournal, type JournalScan } from './journal-reader.js';
import { asFailureLine, asShardLine, asWindowLine, type ShardJournalLine, type WindowFailureLine, type WindowJournalLine } from './lines.js';

/** Where a line is: `worker-0.jsonl:12`. */
export type LineRef = string;

/** A committed shard (the first line naming it). */
export interface CommittedShardLine {
  readonly worker: number;
  readonly shard: string;
  readonly rows: number;
  readonly where: LineRef;
}

/** What {@link DetectFold.add} found about one line. */
export interface DetectLineFold {
  /** Symbols of the line that an earlier line committed, with that line. */
  readonly repeatedSymbols: ReadonlyArray<{ readonly symbol: string; readonly first: LineRef }>;
  /** The line names a shard an earlier line of the same worker committed. */
  readonly repeatedShard: boolean;
  /** The line commits something: a new symbol or a new shard. */
  readonly commits: boolean;
}

/** Stage 1's committed items, folded line by line with the first-line rule. */
export class DetectFold {
  /** Symbol → the line that committed it. */
  readonly symbols = new Map<string, LineRef>();
  /** `worker/shard` → the line that committed it. */
  readonly shards = new Map<string, CommittedShardLine>();
  /** Valid lines folded, repeats included. */
  lines = 0;
  /** Symbols named by valid lines, repeats included. */
  symbolMentions = 0;
  /** Event rows of the committed shards. */
  eventRows = 0;

  add(worker: number, line: ShardJournalLine, where: LineRef): DetectLineFold {
    this.lines++;
    const repeatedSymbols: Array<{ symbol: string; first: LineRef }> = [];
    let fresh = false;
    for (const s of line.symbols) {
      this.symbolMentions++;
      const first = this.symbols.get(s);
      if (first === undefined) {
        this.symbols.set(s, where);
        fresh = true;
      } else repeatedSymbols.push({ symbol: s, first });
    }
    let repeatedShard = false;
    if (line.shard !== null) {
      const key = `${worker}/${line.shard}`;
      if (this.shards.has(key)) repeatedShard = true;
      else {
        this.shards.set(key, { worker, shard: line.shard, rows: line.rows, where });
        this.eventRows += line.rows;
        fresh = true;
      }
    }
    return { repeatedSymbols, repeatedShard, commits: fresh };
  }

  /** The shard files of worker K that lines committed. */
  shardNames(worker: number): Set<string> {
    const out = new Set<string>();
    for (const s of this.shards.values()) if (s.worker === worker) out.add(s.shard);
    return out;
  }

  /** Whether a line committed worker K's shard file `shard`. */
  hasShard(worker: number, shard: string): boolean {
    return this.shards.has(`${worker}/${shard}`);
  }
}

/** A shard file no committed line names: what a crash between publish and commit leaves. */
export interface UncommittedShard {
  readonly worker: number;
  readonly name: string;
  readonly path: string;
}

/** The uncommitted shard files of every worker folder (moved-aside ones in `.uncommitted/` excluded), sorted. */
export async function uncommittedShards(dir: string, detect: DetectFold): Promise<UncommittedShard[]> {
  const out: UncommittedShard[] = [];
  const root = shardsRoot(dir);
  for (const w of (await namesIn(root)).sort()) {
    const m = WORKER_DIR_RE.exec(w);
    if (!m) continue;
    const worker = Number(m[1]);
    for (const n of (await namesIn(join(root, w))).sort()) {
      if (SHARD_FILE_RE.test(n) && !detect.hasShard(worker, n)) out.push({ worker, name: n, path: join(root, w, n) });
    }
  }
  return out;
}

/** A committed window (the first line naming it). */
export interface CommittedWindowLine {
  readonly symbol: string;
  readonly trades: number;
  readonly quotes: number;
  readonly where: LineRef;
}

/** Stage 2's committed windows, folded line by line with the first-line rule. */
export class IngestFold {
  /** Event → its committing line, or null when the fold keeps IDs only. */
  readonly windows = new Map<string, CommittedWindowLine | null>();
  /** Valid lines folded, repeats included. */
  lines = 0;
  /** Row sums of the committed lines. */
  trades = 0;
  quotes = 0;

  /** @param detail keep each window's committing line (verify needs it; a count does not). */
  constructor(readonly detail = true) {}

  /** Folds one line; returns the line that committed the event before, if this one is a repeat. */
  add(line: { readonly event: string; readonly symbol: string; readonly trades: number; readonly quotes: number }, where: LineRef): { readonly repeatOf: CommittedWindowLine | null | undefined } {
    this.lines++;
    if (this.windows.has(line.event)) return { repeatOf: this.windows.get(line.event) };
    this.windows.set(line.event, this.detail ? { symbol: line.symbol, trades: line.trades, quotes: line.quotes, where } : null);
    this.trades += line.trades;
    this.quotes += line.quotes;
    return { repeatOf: undefined };
  }

  has(event: string): boolean {
    return this.windows.has(event);
  }
}

/** A permanent failure (the last line naming the event) and the index of the journal holding it. */
export type OpenFailure = WindowFailureLine & { readonly journal: number };

/** Permanent failures: the last line of an event wins; {@link open} drops the committed ones. */
export class FailureFold {
  readonly #byEvent = new Map<string, OpenFailure>();
  lines = 0;

  add(line: WindowFailureLine, journal: number): void {
    this.lines++;
    this.#byEvent.delete(line.event); // re-insert: iteration order is the order of the last lines
    this.#byEvent.set(line.event, { ...line, journal });
  }

  /** The failures whose event no journal commits. */
  open(committed: { has(event: string): boolean }): Map<string, OpenFailure> {
    const out = new Map<string, OpenFailure>();
    for (const [e, f] of this.#byEvent) if (!committed.has(e)) out.set(e, f);
    return out;
  }
}

/** A journal line that is JSON but not a line of its journal's type. */
export interface MisshapenLine {
  readonly file: JournalFile;
  readonly line: number;
  readonly stage: 'detect' | 'ingest' | 'failed';
}

/** Calls to observe a model being read (verify reports from these). */
export interface ModelObserver {
  /** After each journal: its scan (torn tail, corrupt lines). */
  readonly onJournal?: (file: JournalFile, scan: JournalScan) => void;
  readonly onMisshapen?: (l: MisshapenLine) => void;
  readonly onDetectLine?: (file: JournalFile, line: ShardJournalLine, where: LineRef, fold: DetectLineFold) => void;
  /** After each stage-2 line; `repeatOf` undefined: this line commits the window. */
  readonly onWindowLine?: (event: string, where: LineRef, repeatOf: CommittedWindowLine | null | undefined, line: WindowJournalLine, file: JournalFile) => void;
}

/** The read model of a run folder. */
export interface RunFolderModel {
  readonly dir: string;
  readonly spec: StoredRunSpec;
  readonly journals: JournalFiles;
  readonly detect: DetectFold;
  readonly ingest: IngestFold;
  /** Permanent failures of windows no journal commits (last failure line wins). */
  readonly failures: ReadonlyMap<string, OpenFailure>;
  /** Failure lines read (repeats included). */
  readonly failureLines: number;
  /** Journals with a torn last line, and every corrupt line before the last. */
  readonly torn: readonly JournalFile[];
  readonly corrupt: ReadonlyArray<{ readonly file: JournalFile; readonly line: number; readonly text: string }>;
  readonly misshapen: readonly MisshapenLine[];
  /** Latest modification time of a journal (ms; 0 without journals). */
  readonly journalMtimeMs: number;
  readonly locks: readonly LockState[];
}

/** Options of {@link readRunFolder}. */
export interface ReadRunFolderOptions {
  /** Keep each committed window's line (see {@link IngestFold}). @default true */
  readonly windowDetail?: boolean;
  readonly locks?: ReadLocksOptions;
  readonly observer?: ModelObserver;
}

/**
 * Reads a run folder's journals (streamed, any size) and locks into its model.
 *
 * @throws InputError when `outDir` is not a run folder (no run.json).
 */
export async function readRunFolder(outDir: string, opts: ReadRunFolderOptions = {}): Promise<RunFolderModel> {
  const { dir, spec } = await openRunFolder(outDir);
  const journals = await listJournals(dir);
  const r = new ModelReader(opts.windowDetail ?? true, opts.observer ?? {});
  for (const f of journals.detect) await r.detectJournal(f);
  for (const f of journals.ingest) await r.ingestJournal(f);
  for (const f of journals.failed) await r.failedJournal(f);
  return {
    dir,
    spec,
    journals,
    detect: r.detect,
    ingest: r.ingest,
    failures: r.failures.open(r.ingest),
    failureLines: r.failures.lines,
    torn: r.torn,
    corrupt: r.corrupt,
    misshapen: r.misshapen,
    journalMtimeMs: r.mtimeMs,
    locks: await readLocks(dir, opts.locks),
  };
}

/** One pass over the journals, in the order the duplicate rule needs. */
class ModelReader {
  readonly detect = new DetectFold();
  readonly ingest: IngestFold;
  readonly failures = new FailureFold();
  readonly torn: JournalFile[] = [];
  readonly corrupt: Array<{ file: JournalFile; line: number; text: string }> = [];
  readonly misshapen: MisshapenLine[] = [];
  mtimeMs = 0;

  constructor(
    windowDetail: boolean,
    readonly observer: ModelObserver,
  ) {
    this.ingest = new IngestFold(windowDetail);
  }

  async detectJournal(f: JournalFile): Promise<void> {
    await this.scan(f, 'detect', (v, where) => {
      const l = asShardLine(v);
      if (!l) return false;
      const fold = this.detect.add(f.index, l, where);
      this.observer.onDetectLine?.(f, l, where, fold);
      return true;
    });
  }

  async ingestJournal(f: JournalFile): Promise<void> {
    await this.scan(f, 'ingest', (v, where) => {
      const l = asWindowLine(v);
      if (!l) return false;
      const { repeatOf } = this.ingest.add(l, where);
      this.observer.onWindowLine?.(l.event, where, repeatOf, l, f);
      return true;
    });
  }

  async failedJournal(f: JournalFile): Promise<void> {
    await this.scan(f, 'failed', (v) => {
      const l = asFailureLine(v);
      if (!l) return false;
      this.failures.add(l, f.index);
      return true;
    });
  }

  private async scan(f: JournalFile, stage: MisshapenLine['stage'], fold: (v: unknown, where: LineRef) => boolean): Promise<void> {
    const s = await streamJournal(f.path, (v, line) => {
      if (fold(v, `${f.name}:${line}`)) return;
      const m = { file: f, line, stage };
      this.misshapen.push(m);
      this.observer.onMisshapen?.(m);
    });
    this.mtimeMs = Math.max(this.mtimeMs, s.mtimeMs);
    if (s.tornTail) this.torn.push(f);
    for (const c of s.corrupt) this.corrupt.push({ file: f, line: c.line, text: c.text });
    this.observer.onJournal?.(f, s);
  }
}

/** What each stage of a run has to do, as every view counts it (see {@link stageTotals}). */
export interface StageTotals {
  /** Symbols of the universe (run.json's `universe.count`); null when the run has no detect spec. */
  readonly symbols: number | null;
  /** The consolidated manifest and its rows (the windows of stage 2); null when there is no manifest. */
  readonly manifest: { readonly path: string; readonly events: number | null } | null;
}

/**
 * The totals `status` and `tail` put under what the journals committed: the one place both read
 * them, so a stopped run shows the same `done/total` in both. Cheap: run.json is already read, and
 * the manifest's row count comes from its Parquet footer. A run given `--manifest FILE` reads that
 * file, but run.json does not record it (a manifest may change between runs without changing the
 * run), so the total is the consolidated one's.
 */
export async function stageTotals(dir: string, spec: StoredRunSpec | undefined): Promise<StageTotals> {
  const path = manifestPath(dir);
  let manifest: StageTotals['manifest'] = null;
  try {
    await stat(path);
    const c = await parquetRowCount(path);
    manifest = { path, events: c.ok ? c.rows : null };
  } catch {
    // no manifest yet (or it vanished while being replaced): no total
  }
  return { symbols: spec?.universe?.count ?? null, manifest };
}

/** The items one journal line names, by journal kind: symbols (detect) or the event (ingest, failed); [] for a line that is not a commit. */
export function lineItems(kind: 'detect' | 'ingest' | 'failed', text: string): readonly string[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return []; // a torn or corrupt line is not a commit
  }
  if (kind === 'detect') return asShardLine(v)?.symbols ?? [];
  const l = kind === 'ingest' ? asWindowLine(v) : asFailureLine(v);
  return l ? [l.event] : [];
}
