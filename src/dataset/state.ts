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
import { describeLock, isLockStale, isProcessAlive, readLock } from '../sinks/lock-file.js';
import { isNotFound, nodeFs, type FsLayer } from '../sinks/fs-layer.js';
import { loadJournal } from '../sinks/journal.js';
import { tmpFinalName } from '../sinks/publish-atomically.js';
import { classify } from '../sinks/commit-lifecycle.js';
import { toDiskError } from '../sinks/paths.js';
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
