/**
 * The dataset's read model: which windows are committed (stage-2 journals), which are compacted
 * (compaction journal), and the state of every part, as types rather than file-name conventions.
 *
 * A part moves through these states (like Flink's FileSink):
 * - `in-progress`: a staged tmp file is being written (`…parquet.tmp-<random>` in staging);
 * - `pending`: staged, but no journal line names it. Not part of the dataset: discarded on recovery
 *   (its windows are still windows, so they are compacted again);
 * - `committed`: the journal line exists (the commit point) but a file is still in staging: recovery
 *   rolls it forward by renaming it into `dataset/`;
 * - `published`: journaled, both files in `dataset/`. Readers that glob `dataset/` see exactly these.
 *
 * A committed window is `window` (not compacted yet), `compacted` (its rows are in one part, its
 * folder kept) or `removed` (compacted and its folder removed with `--remove-windows`). A removed
 * window stays in the stage-2 journal, so it is still "done" for resume.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describeLock, isLockStale, isProcessAlive, readLock } from '../run-folder/lock-file.js';
import { isNotFound, nodeFs, type FsLayer } from '../fs/fs-layer.js';
import { CompactIdSet, hashString } from '../sinks/id-set.js';
import { CANONICAL_ID_PACKER } from '../sinks/key-packers.js';
import { loadJournal } from '../sinks/journal.js';
import { scanJournalLines, windowLineShape } from '../run-folder/journal-reader.js';
import { tmpFinalName } from '../fs/publish-atomically.js';
import { classify } from '../sinks/commit-lifecycle.js';
import { toDiskError } from '../fs/paths.js';
import { InputError } from '../errors.js';
import { journalNamesInOrder, PART_JOURNAL_RE } from '../run-folder/layout.js';
import {
  partPaths,
  STAGED_FILE_RE,
  SYMBOL_DIR_RE,
  TABLE_KINDS,
  validateCompactionLine,
  type CompactionLine,
  type DatasetPaths,
  type TableKind,
} from './layout.js';

/** A committed stage-2 window as its journal line describes it. */
export interface CommittedWindow {
  readonly event: string;
  readonly symbol: string;
  readonly trades: number;
  readonly quotes: number;
}

/** A file in staging, classified. */
export type StagedFile =
  | { readonly state: 'in-progress'; readonly path: string }
  | { readonly state: 'pending'; readonly path: string; readonly symbol: string; readonly part: number; readonly kind: TableKind }
  | { readonly state: 'committed'; readonly path: string; readonly symbol: string; readonly part: number; readonly kind: TableKind };

/** A journaled part, by where its two files are. */
export interface CommittedPart {
  readonly line: CompactionLine;
  /** `published`: both files in dataset/; `committed`: at least one still staged (roll forward); `lost`: a file is neither staged nor published. */
  readonly state: 'published' | 'committed' | 'lost';
  readonly missing: readonly TableKind[];
}

/** What the compaction journal says. */
export interface CompactionJournal {
  readonly lines: readonly CompactionLine[];
  /** Event ID → the line that compacted it (the first line wins; `duplicates` lists the others). */
  readonly compacted: ReadonlyMap<string, CompactionLine>;
  /** Events named by two lines: must never happen; `verify` reports them. */
  readonly duplicates: readonly string[];
  readonly tornTail: boolean;
}

/** Committed windows over every stage-2 journal, first line per event wins. */
export async function loadCommittedWindows(paths: DatasetPaths, fs: FsLayer = nodeFs): Promise<Map<string, CommittedWindow>> {
  const out = new Map<string, CommittedWindow>();
  let names: string[];
  try {
    names = await fs.readdir(paths.ingestStateDir);
  } catch (err) {
    if (isNotFound(err)) return out;
    throw toDiskError(err, 'listing', paths.ingestStateDir);
  }
  for (const n of journalNamesInOrder(names, PART_JOURNAL_RE)) {
    const path = join(paths.ingestStateDir, n);
    await loadJournal<CommittedWindow>(path, {
      fs,
      onEntry: (e, line) => {
        if (!e || typeof e.event !== 'string' || typeof e.symbol !== 'string') throw new InputError(`${path}:${line}: entry has no event or symbol`);
        if (!out.has(e.event)) out.set(e.event, { event: e.event, symbol: e.symbol, trades: e.trades, quotes: e.quotes });
      },
    });
  }
  return out;
}

/**
 * Committed stage-2 windows not compacted yet, kept compactly: IDs end to end in a byte pool,
 * symbols as codes, counts in typed arrays (≈ 80 bytes a window instead of an object, a string and
 * a Map entry each); windows become objects one symbol at a time ({@link windowsOf}).
 */
export class PendingWindows {
  readonly #ids = new CompactIdSet(1024);
  readonly #symbols: string[] = [];
  readonly #symbolCode = new Map<string, number>();
  #sym = new Uint32Array(1024);
  #counts = new Float64Array(2048);
  #bySymbol: Map<number, Uint32Array> | undefined;

  /** Adds a window unless its event was added before (the first journal line wins). */
  add(event: string, symbol: string, trades: number, quotes: number): void {
    if (!this.#ids.add(event)) return;
    const k = this.#ids.size - 1;
    if (k >= this.#sym.length) {
      const sym = new Uint32Array(this.#sym.length * 2);
      sym.set(this.#sym);
      this.#sym = sym;
      const counts = new Float64Array(this.#counts.length * 2);
      counts.set(this.#counts);
      this.#counts = counts;
    }
    let c = this.#symbolCode.get(symbol);
    if (c === undefined) {
      c = this.#symbols.length;
      this.#symbols.push(symbol);
      this.#symbolCode.set(symbol, c);
    }
    this.#sym[k] = c;
    this.#counts[2 * k] = trades;
    this.#counts[2 * k + 1] = quotes;
    this.#bySymbol = undefined;
  }

  get size(): number {
    return this.#ids.size;
  }

  /** Symbols with pending windows, sorted. */
  symbols(): string[] {
    return [...this.#symbols].sort();
  }

  /** The pending windows of one symbol, in journal order. */
  windowsOf(symbol: string): CommittedWindow[] {
    const code = this.#symbolCode.get(symbol);
    if (code === undefined) return [];
    this.#bySymbol ??= this.#group();
    return [...this.#bySymbol.get(code)!].map((k) => ({ event: this.#ids.entryAt(k), symbol, trades: this.#counts[2 * k]!, quotes: this.#counts[2 * k + 1]! }));
  }

  #group(): Map<number, Uint32Array> {
    const n = this.#ids.size;
    const sizes = new Uint32Array(this.#symbols.length);
    for (let k = 0; k < n; k++) sizes[this.#sym[k]!]!++;
    const out = new Map<number, Uint32Array>();
    sizes.forEach((size, c) => out.set(c, new Uint32Array(size)));
    const fill = new Uint32Array(this.#symbols.length);
    for (let k = 0; k < n; k++) {
      const c = this.#sym[k]!;
      out.get(c)![fill[c]!++] = k;
    }
    return out;
  }
}

/**
 * The committed windows of every stage-2 journal that are not in `compacted` (and, with `only`, of
 * those symbols), streamed: a line of the shape tickpipe writes whose event is compacted is skipped
 * from its bytes (no string, no parse), so a fully compacted 572,850-line journal costs a byte scan.
 * Same torn-tail rule and errors as {@link loadCommittedWindows}.
 */
export async function scanPendingWindows(paths: DatasetPaths, compacted: CompactIdSet, only: ReadonlySet<string> | undefined, fs: FsLayer = nodeFs): Promise<PendingWindows> {
  const out = new PendingWindows();
  for (const n of journalNamesInOrder(await listOrEmpty(fs, paths.ingestStateDir), PART_JOURNAL_RE)) {
    const path = join(paths.ingestStateDir, n);
    await scanJournalLines(
      path,
      (buf, start, end, line) => {
        const w = windowLineShape(buf, start, end);
        if (w) {
          if (compacted.indexOfBytes(buf, w.idStart, w.idEnd) >= 0) return true;
          const symbol = buf.toString('latin1', w.symStart, w.symEnd);
          if (!only || only.has(symbol)) out.add(buf.toString('latin1', w.idStart, w.idEnd), symbol, w.trades, w.quotes);
          return true;
        }
        let e: Partial<CommittedWindow> | null;
        try {
          e = JSON.parse(buf.toString('utf8', start, end)) as Partial<CommittedWindow> | null;
        } catch {
          return false; // the torn-tail rule decides
        }
        if (!e || typeof e.event !== 'string' || typeof e.symbol !== 'string') throw new InputError(`${path}:${line}: entry has no event or symbol`);
        if (!compacted.has(e.event) && (!only || only.has(e.symbol))) out.add(e.event, e.symbol, e.trades as number, e.quotes as number);
        return true;
      },
      fs,
    );
  }
  return out;
}

/**
 * The compaction journal as compaction needs it: its lines without their event lists (symbol, part
 * and counts, for recovery and part numbers) and the set of compacted events, instead of every
 * line's list of IDs as JS strings.
 */
export async function loadCompactionSummary(paths: DatasetPaths, fs: FsLayer = nodeFs): Promise<{ lines: CompactionLine[]; compacted: CompactIdSet }> {
  const lines: CompactionLine[] = [];
  // Sized from the journal (≥ ~40 bytes a listed ID) and packed (14 bytes a canonical ID): grown by
  // doubling from 4,096, a 572,850-ID set left ~80 MB of outgrown arrays for the next GC, which
  // was the peak of a resume's end-of-run compaction (issue 17).
  const bytes = await fs.stat(paths.journal).then((st) => st.size, () => 0);
  const compacted = new CompactIdSet(Math.max(4096, bytes / 40), hashString, CANONICAL_ID_PACKER);
  await loadJournal<unknown>(paths.journal, {
    fs,
    onEntry: (e, line) => {
      const l = validateCompactionLine(e, `${paths.journal}:${line}`);
      for (const id of l.events) compacted.add(id);
      lines.push({ ...l, events: [] });
    },
  });
  return { lines, compacted };
}

/** Loads (read-only) the compaction journal. A torn tail is ignored, as for every journal. */
export async function loadCompactionJournal(paths: DatasetPaths, fs: FsLayer = nodeFs): Promise<CompactionJournal> {
  const lines: CompactionLine[] = [];
  const { tornTail } = await loadJournal<unknown>(paths.journal, {
    fs,
    onEntry: (e, line) => lines.push(validateCompactionLine(e, `${paths.journal}:${line}`)),
  });
  return indexCompactionLines(lines, tornTail);
}

export function indexCompactionLines(lines: readonly CompactionLine[], tornTail = false): CompactionJournal {
  const compacted = new Map<string, CompactionLine>();
  const duplicates: string[] = [];
  for (const l of lines) {
    for (const e of l.events) {
      if (compacted.has(e)) duplicates.push(e);
      else compacted.set(e, l);
    }
  }
  return { lines, compacted, duplicates, tornTail };
}

/** The next free part number of every symbol. */
export function nextPartNumbers(lines: readonly CompactionLine[]): Map<string, number> {
  const next = new Map<string, number>();
  for (const l of lines) next.set(l.symbol, Math.max(next.get(l.symbol) ?? 0, l.part + 1));
  return next;
}

async function exists(fs: FsLayer, path: string): Promise<boolean> {
  try {
    return (await fs.stat(path)).isFile();
  } catch (err) {
    if (isNotFound(err)) return false;
    throw toDiskError(err, 'checking', path);
  }
}

/** Classifies every journaled part by where its files are. */
export async function classifyCommittedParts(paths: DatasetPaths, lines: readonly CompactionLine[], fs: FsLayer = nodeFs): Promise<CommittedPart[]> {
  const out: CommittedPart[] = [];
  for (const line of lines) {
    const p = partPaths(paths, line.symbol, line.part);
    const missing: TableKind[] = [];
    let staged = false;
    for (const k of TABLE_KINDS) {
      if (await exists(fs, p.final[k])) continue;
      if (await exists(fs, p.staged[k])) staged = true;
      else missing.push(k);
    }
    out.push({ line, state: missing.length > 0 ? 'lost' : staged ? 'committed' : 'published', missing });
  }
  return out;
}

/** Classifies every file in staging against the journal lines (the commit lifecycle's classify; anything not a staged part counts as in progress). */
export async function classifyStaging(paths: DatasetPaths, lines: readonly CompactionLine[], fs: FsLayer = nodeFs): Promise<StagedFile[]> {
  const journaled = new Set(lines.map((l) => `${l.symbol}\u0000${l.part}`));
  const out: StagedFile[] = [];
  for (const dirName of await listOrEmpty(fs, paths.stagingDir)) {
    const sym = SYMBOL_DIR_RE.exec(dirName);
    const dir = join(paths.stagingDir, dirName);
    const parts = { itemOf: (name: string) => (sym && STAGED_FILE_RE.test(name) ? `${sym[1]!}\u0000${Number(STAGED_FILE_RE.exec(name)![1])}` : undefined) };
    for (const name of await listOrEmpty(fs, dir)) {
      const s = classify(dir, name, parts, journaled);
      if (s === undefined || s.state === 'in-progress') {
        out.push({ state: 'in-progress', path: join(dir, name) });
        continue;
      }
      const m = STAGED_FILE_RE.exec(name)!;
      out.push({ state: s.state, path: s.paths[0]!, symbol: sym![1]!, part: Number(m[1]), kind: m[2] as TableKind });
    }
  }
  return out;
}

/** Names in a folder, or [] when it does not exist. */
export async function listOrEmpty(fs: FsLayer, dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw toDiskError(err, 'listing', dir);
  }
}

/** True when `name` is a tmp file of a staged part (for callers that sweep by name). */
export function isStagedTmp(name: string): boolean {
  const f = tmpFinalName(name);
  return f !== undefined && STAGED_FILE_RE.test(f);
}

/**
 * Who may hold `state/compact/compact.lock`: undefined when no compaction holds it (absent, or its
 * holder is certainly gone), else a sentence naming the holder. `clean` refuses to touch staging
 * while a compaction may be writing there: deleting a staged file between its write and its
 * journal line would commit a part whose file is gone.
 */
export async function compactionHolder(paths: DatasetPaths, opts: { readonly processAlive?: (pid: number) => boolean } = {}): Promise<string | undefined> {
  const info = await readLock(paths.lock);
  if (info === undefined) return undefined;
  if (info === null) return `${paths.lock} is unreadable`;
  if (isLockStale(info, { host: hostname(), alive: opts.processAlive ?? isProcessAlive })) return undefined;
  return `${paths.lock} is held by ${describeLock(info)}`;
}
