/**
 * Read-only views of the dataset for `verify`, `reconcile` and `status`: problems found, and the
 * per-window row counts the published parts hold (so a window removed after compaction still counts
 * as present).
 */
import { basename, join, relative } from 'node:path';
import pl from 'nodejs-polars';
import { parquetRowCount } from '../run-folder/index.js';
import { isTmpName } from '../fs/publish-atomically.js';
import { nodeFs as nodeFsLike } from '../fs/fs-layer.js';
import { datasetPaths, PART_FILE_RE, partPaths, SYMBOL_DIR_RE, TABLE_KINDS, type TableKind } from './layout.js';
import {
  classifyCommittedParts,
  classifyStaging,
  listOrEmpty,
  loadCommittedWindows,
  loadCompactionJournal,
  type CommittedWindow,
  type CompactionJournal,
} from './state.js';

/** Kinds of dataset problem `verify` reports, with what they mean. */
export const DATASET_PROBLEMS = {
  'dataset-window-compacted-twice': 'windows named by more than one compaction journal line (their rows would be counted twice)',
  'dataset-window-not-committed': 'compaction lines naming a window that no ingest journal commits',
  'dataset-part-missing': 'committed parts with a file neither staged nor published',
  'dataset-part-unpublished': 'committed parts still in staging (tickpipe compact publishes them)',
  'dataset-uncommitted-part': 'part files no compaction line names, in staging or dataset/ (tickpipe compact discards staged ones)',
  'dataset-rows-mismatch': 'parts or windows whose rows in dataset/ disagree with the journals',
  'dataset-unreadable-part': 'parts that do not open',
  'dataset-corrupt-journal': 'a compaction journal line before the last that is not a valid line',
} as const;

export type DatasetProblemKind = keyof typeof DATASET_PROBLEMS;

/** Receives each problem found: kind, one example line, how many. */
export type ProblemSink = (kind: DatasetProblemKind, example: string, n?: number) => void;

/** Per-window rows found in the published parts: event → { symbol, trades, quotes }. */
export async function rowsInParts(outDir: string, lines: CompactionJournal['lines']): Promise<Map<string, { symbol: string; trades: number; quotes: number }>> {
  const p = datasetPaths(outDir);
  const out = new Map<string, { symbol: string; trades: number; quotes: number }>();
  for (const kind of TABLE_KINDS) {
    const files = lines.map((l) => ({ symbol: l.symbol, path: partPaths(p, l.symbol, l.part).final[kind] }));
    for (const f of files) {
      const ok = await parquetRowCount(f.path);
      if (!ok.ok || ok.rows === 0) continue;
      const counts = await pl.scanParquet(f.path).groupBy('event_id').agg(pl.len().alias('n')).collect();
      const ids = counts.getColumn('event_id').toArray() as string[];
      const ns = counts.getColumn('n').toArray() as Array<number | bigint>;
      ids.forEach((id, i) => {
        const e = out.get(id) ?? { symbol: f.symbol, trades: 0, quotes: 0 };
        e[kind] += Number(ns[i]);
        out.set(id, e);
      });
    }
  }
  return out;
}

/**
 * Checks the dataset against the compaction and ingest journals; reports through `add`. With
 * `compactionRunning` (a live process holds the compaction lock: `tickpipe compact`, or `run`
 * compacting during ingest) the files a compaction has in flight are not problems and are skipped:
 * staged parts with or without their journal line yet, a committed part not renamed yet (and its
 * windows' rows), and the listing of `dataset/` for parts no line names (one may be renamed there
 * after this check read the journal). Every part the journal names is still checked.
 */
export async function verifyDataset(outDir: string, add: ProblemSink, opts?: { readonly compactionRunning?: boolean }): Promise<{ parts: number; compacted: ReadonlySet<string> }> {
  const running = opts?.compactionRunning === true;
  const p = datasetPaths(outDir);
  const rel = (x: string): string => relative(outDir, x);
  let journal: CompactionJournal;
  try {
    journal = await loadCompactionJournal(p);
  } catch (err) {
    add('dataset-corrupt-journal', (err as Error).message);
    return { parts: 0, compacted: new Set() };
  }
  if (journal.lines.length === 0 && (await listOrEmpty(nodeFsLike, p.datasetDir)).length === 0) return { parts: 0, compacted: new Set() };
  const windows = await loadCommittedWindows(p);
  for (const e of journal.duplicates) add('dataset-window-compacted-twice', e);
  for (const [e, l] of journal.compacted) {
    const w = windows.get(e);
    if (!w || w.symbol !== l.symbol) add('dataset-window-not-committed', `${e} (part ${l.part} of ${l.symbol})`);
  }
  const published = new Set<string>();
  const inFlight = new Set<string>(); // events of committed parts a running compaction is still renaming
  for (let part of await classifyCommittedParts(p, journal.lines)) {
    // A running compaction may rename a file between the check of its final and its staged path:
    // look once more before calling the part lost.
    if (running && part.state === 'lost') part = (await classifyCommittedParts(p, [part.line]))[0]!;
    const name = `${part.line.symbol} part ${part.line.part}`;
    if (part.state === 'lost') add('dataset-part-missing', `${name}: ${part.missing.join(', ')}`);
    else if (part.state === 'committed') {
      if (running) for (const e of part.line.events) inFlight.add(e);
      else add('dataset-part-unpublished', name);
    }
    else await checkPartCounts(p, part.line, windows, add, rel);
    for (const k of TABLE_KINDS) published.add(partPaths(p, part.line.symbol, part.line.part).final[k]);
  }
  // A tmp file in staging is verify's `orphan-tmp` (found by its walk of the folder): reported once, there.
  if (!running) for (const f of await classifyStaging(p, journal.lines)) if (f.state !== 'committed' && !isTmpName(basename(f.path))) add('dataset-uncommitted-part', rel(f.path));
  for (const k of running ? [] : TABLE_KINDS) {
    for (const d of await listOrEmpty(nodeFsLike, join(p.datasetDir, k))) {
      if (!SYMBOL_DIR_RE.test(d)) continue;
      for (const n of await listOrEmpty(nodeFsLike, join(p.datasetDir, k, d))) {
        const abs = join(p.datasetDir, k, d, n);
        if (PART_FILE_RE.test(n) && !published.has(abs)) add('dataset-uncommitted-part', rel(abs));
      }
    }
  }
  await checkWindowRows(outDir, journal, windows, add, running ? inFlight : undefined);
  return { parts: journal.lines.length, compacted: new Set(journal.compacted.keys()) };
}

async function checkPartCounts(
  p: ReturnType<typeof datasetPaths>,
  line: CompactionJournal['lines'][number],
  windows: ReadonlyMap<string, CommittedWindow>,
  add: ProblemSink,
  rel: (x: string) => string,
): Promise<void> {
  for (const k of TABLE_KINDS) {
    const path = partPaths(p, line.symbol, line.part).final[k];
    const c = await parquetRowCount(path);
    if (!c.ok) add('dataset-unreadable-part', `${rel(path)}: ${c.reason}`);
    else if (c.rows !== line[k]) add('dataset-rows-mismatch', `${rel(path)}: ${c.rows} rows, its compaction line says ${line[k]}`);
    const want = line.events.reduce((n, e) => n + (windows.get(e)?.[k] ?? 0), 0);
    if (want !== line[k]) add('dataset-rows-mismatch', `${line.symbol} part ${line.part}: ${line[k]} ${k}, its windows' ingest lines say ${want}`);
  }
}

/**
 * Every compacted window's rows are in the parts exactly once: per-event counts match the ingest
 * journals. `inFlight` (a compaction is running): the events of parts it has committed but not yet
 * renamed, whose rows are not in `dataset/` yet, are not checked.
 */
async function checkWindowRows(outDir: string, journal: CompactionJournal, windows: ReadonlyMap<string, CommittedWindow>, add: ProblemSink, inFlight?: ReadonlySet<string>): Promise<void> {
  const found = await rowsInParts(outDir, journal.lines);
  for (const [e] of journal.compacted) {
    const w = windows.get(e);
    if (!w || inFlight?.has(e)) continue;
    const f = found.get(e) ?? { trades: 0, quotes: 0 };
    for (const k of TABLE_KINDS as readonly TableKind[]) {
      if (f[k] !== w[k]) add('dataset-rows-mismatch', `${e}: ${f[k]} ${k} rows in dataset/, ingest journal says ${w[k]}`);
    }
  }
  for (const [e] of found) if (!journal.compacted.has(e)) add('dataset-rows-mismatch', `${e}: rows in dataset/ but no compaction line names it`);
}

/** A window whose rows are in published parts (for `reconcile`). */
export interface CompactedWindowRows {
  readonly symbol: string;
  readonly trades: number;
  readonly quotes: number;
  /**
   * The files of the part whose compaction line names the window (relative to the run folder),
   * when that part is published and both its files open: then the window's folder is a redundant
   * copy. Undefined otherwise (no line names it, or the part is lost, staged or unreadable).
   */
  readonly part: readonly string[] | undefined;
}

/** Windows whose rows are in published parts, with the rows found there and the part holding them (for `reconcile`). */
export async function compactedWindowsOnDisk(outDir: string): Promise<Map<string, CompactedWindowRows>> {
  const p = datasetPaths(outDir);
  let journal: CompactionJournal;
  try {
    journal = await loadCompactionJournal(p);
  } catch {
    return new Map(); // verify reports a corrupt compaction journal; reconcile then keeps only what is in windows/
  }
  const intact = new Set<CompactionJournal['lines'][number]>();
  for (const c of await classifyCommittedParts(p, journal.lines)) {
    if (c.state !== 'published') continue;
    const opens = await Promise.all(TABLE_KINDS.map(async (k) => (await parquetRowCount(partPaths(p, c.line.symbol, c.line.part).final[k])).ok));
    if (opens.every(Boolean)) intact.add(c.line);
  }
  const partOf = (line: CompactionJournal['lines'][number] | undefined): readonly string[] | undefined =>
    line === undefined || !intact.has(line) ? undefined : TABLE_KINDS.map((k) => relative(outDir, partPaths(p, line.symbol, line.part).final[k]));
  const out = new Map<string, CompactedWindowRows>();
  for (const [event, rows] of await rowsInParts(outDir, journal.lines)) out.set(event, { ...rows, part: partOf(journal.compacted.get(event)) });
  // A window without trades or quotes has no row in its part, yet an intact part that names it holds all of it (nothing).
  for (const [event, line] of journal.compacted) {
    if (!out.has(event) && intact.has(line)) out.set(event, { symbol: line.symbol, trades: 0, quotes: 0, part: partOf(line) });
  }
  return out;
}

/**
 * The dataset's states that are not "published", for `reconcile` to report (it never changes them):
 * what the next `tickpipe compact` finishes, what `tickpipe clean` removes, and compacted windows
 * whose folders are still on disk. Paths are relative to the run folder.
 */
export interface DatasetStates {
  readonly published: number;
  /** Journaled parts with a file still in staging: the next compaction publishes them. */
  readonly unpublished: readonly string[];
  /** Journaled parts with a file neither staged nor published (verify reports them). */
  readonly lost: readonly string[];
  /** Staged files no journal line names, and tmp files in staging: clean removes them. */
  readonly uncommittedStaged: readonly string[];
  /** Compacted windows whose folder is still in windows/ (kept by default; `compact --remove-windows` removes them). */
  readonly compactedWindowsKept: number;
}

/** `windowsOnDisk`: the events whose window folder holds both files (reconcile has walked them already). */
export async function datasetStates(outDir: string, windowsOnDisk: ReadonlySet<string>): Promise<DatasetStates | null> {
  const p = datasetPaths(outDir);
  const journal = await loadCompactionJournal(p).catch(() => undefined);
  const staged = await classifyStaging(p, journal?.lines ?? []);
  if ((!journal || journal.lines.length === 0) && staged.length === 0) return null;
  const lines = journal?.lines ?? [];
  const parts = await classifyCommittedParts(p, lines);
  const name = (symbol: string, part: number): string => `${symbol} part ${part}`;
  let kept = 0;
  for (const l of lines) for (const e of l.events) if (windowsOnDisk.has(e)) kept++;
  return {
    published: parts.filter((x) => x.state === 'published').length,
    unpublished: parts.filter((x) => x.state === 'committed').map((x) => name(x.line.symbol, x.line.part)),
    lost: parts.filter((x) => x.state === 'lost').map((x) => name(x.line.symbol, x.line.part)),
    uncommittedStaged: staged.filter((x) => x.state !== 'committed').map((x) => relative(outDir, x.path)),
    compactedWindowsKept: kept,
  };
}

import type { DatasetSummary } from './format.js';
export type { DatasetSummary } from './format.js';

/** Summary of the dataset, or null when nothing was ever compacted. */
export async function datasetSummary(outDir: string): Promise<DatasetSummary | null> {
  const p = datasetPaths(outDir);
  const journal = await loadCompactionJournal(p).catch(() => undefined);
  if (!journal || journal.lines.length === 0) return null;
  const windows = await loadCommittedWindows(p);
  const parts = await classifyCommittedParts(p, journal.lines);
  const staged = await classifyStaging(p, journal.lines);
  let pending = 0;
  for (const e of windows.keys()) if (!journal.compacted.has(e)) pending++;
  return {
    parts: parts.filter((x) => x.state === 'published').length,
    symbols: new Set(journal.lines.map((l) => l.symbol)).size,
    windowsCompacted: journal.compacted.size,
    windowsPending: pending,
    trades: journal.lines.reduce((n, l) => n + l.trades, 0),
    quotes: journal.lines.reduce((n, l) => n + l.quotes, 0),
    partsUnpublished: parts.filter((x) => x.state === 'committed').length,
    stagedUncommitted: staged.filter((x) => x.state !== 'committed').length,
  };
}

export { formatDatasetSummary } from './format.js';
