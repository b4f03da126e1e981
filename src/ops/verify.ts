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
  SHARD_FILE_RE,
  WORKER_DIR_RE,
  forEachConcurrent,
  listJournals,
  mayBeHeld,
  namesIn,
  openRunFolder,
  parquetRowCount,
  readLocks,
  streamJournal,
  throttled,
  walkFiles,
  walkWindows,
  type JournalFile,
  type LockState,
} from './run-folder.js';

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
  'manifest-stale': 'events/events.parquet disagrees with the committed shards (events missing from it or not in any shard): run `tickpipe consolidate`',
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
  /** Locks that a running process may hold (in-flight files may then show as problems). */
  readonly heldLocks: readonly LockState[];
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

/** A detect journal line, if `v` has that shape. */
export function asShardLine(v: unknown): { shard: string | null; symbols: string[]; rows: number } | undefined {
  const l = v as { shard?: unknown; symbols?: unknown; rows?: unknown } | null;
  if (l === null || typeof l !== 'object') return undefined;
  const shardOk = l.shard === null || (typeof l.shard === 'string' && SHARD_FILE_RE.test(l.shard));
  const symbolsOk = Array.isArray(l.symbols) && l.symbols.every((s) => typeof s === 'string');
  const rowsOk = Number.isInteger(l.rows) && (l.rows as number) >= 0;
  return shardOk && symbolsOk && rowsOk ? (l as { shard: string | null; symbols: string[]; rows: number }) : undefined;
}

/** An ingest journal line, if `v` has that shape. */
export function asWindowLine(v: unknown): { event: string; symbol: string; trades: number; quotes: number } | undefined {
  const l = v as { event?: unknown; symbol?: unknown; trades?: unknown; quotes?: unknown } | null;
  if (l === null || typeof l !== 'object') return undefined;
  const ok =
    typeof l.event === 'string' &&
    typeof l.symbol === 'string' &&
    Number.isInteger(l.trades) &&
    (l.trades as number) >= 0 &&
    Number.isInteger(l.quotes) &&
    (l.quotes as number) >= 0;
  return ok ? (l as { event: string; symbol: string; trades: number; quotes: number }) : undefined;
}

interface JournaledWindow {
  readonly symbol: string;
  readonly trades: number;
  readonly quotes: number;
  readonly where: string;
  seen: boolean;
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
  const rel = (p: string): string => relative(dir, p) || '.';
  const problems = new Problems(maxExamples);
  const progress = throttled(opts?.onProgress);
  const heldLocks = (await readLocks(dir)).filter(mayBeHeld);
  const journals = await listJournals(dir);
  let journalLines = 0;
  let parquetFiles = 0;

  const scan = async (f: JournalFile, onEntry: (v: unknown, line: number) => void): Promise<void> => {
    const s = await streamJournal(f.path, onEntry);
    journalLines += s.lines;
    if (s.tornTail) problems.add('torn-journal-tail', `${rel(f.path)} (torn after byte ${s.validBytes})`);
    for (const c of s.corrupt) problems.add('corrupt-journal-line', `${rel(f.path)}:${c.line}: ${c.text.slice(0, 60)}`);
  };

  // --- stage 1: detect journals and shards ---
  const symbolAt = new Map<string, string>();
  const twice = new Set<string>();
  const committed = new Map<number, Set<string>>();
  const shardLines: Array<{ worker: number; shard: string; rows: number; where: string }> = [];
  for (const f of journals.detect) {
    const names = new Set<string>();
    committed.set(f.index, names);
    await scan(f, (v, line) => {
      const where = `${f.name}:${line}`;
      const l = asShardLine(v);
      if (!l) {
        problems.add('corrupt-journal-line', `${rel(f.path)}:${line}: not a shard line`);
        return;
      }
      for (const s of l.symbols) {
        const first = symbolAt.get(s);
        if (first === undefined) symbolAt.set(s, where);
        else if (!twice.has(s)) {
          twice.add(s);
          problems.add('symbol-journaled-twice', `${s} (${first}, ${where})`);
        }
      }
      if (l.shard !== null) {
        names.add(l.shard);
        shardLines.push({ worker: f.index, shard: l.shard, rows: l.rows, where });
      }
    });
  }
  const shardsDir = join(dir, 'events', 'shards');
  const readableShards: string[] = [];
  await forEachConcurrent(shardLines, concurrency, async (s) => {
    const path = join(shardsDir, `worker-${s.worker}`, s.shard);
    const c = await parquetRowCount(path);
    parquetFiles++;
    if (!c.ok) {
      if (c.reason.includes('ENOENT')) problems.add('journal-line-without-files', `${s.where}: ${rel(path)} is gone`);
      else problems.add('unreadable-parquet', `${rel(path)}: ${c.reason}`);
      return;
    }
    readableShards.push(path);
    if (c.rows !== s.rows) problems.add('row-count-mismatch', `${rel(path)}: ${c.rows} rows, ${s.where} says ${s.rows}`);
  });
  for (const w of (await namesIn(shardsDir)).sort()) {
    const m = WORKER_DIR_RE.exec(w);
    if (!m) continue;
    const names = committed.get(Number(m[1])) ?? new Set<string>();
    for (const n of (await namesIn(join(shardsDir, w))).sort()) {
      if (SHARD_FILE_RE.test(n) && !names.has(n)) problems.add('uncommitted-shard', rel(join(shardsDir, w, n)));
    }
  }
  if (readableShards.length > 0) {
    // Shards are small next to windows (one row per event), so one lazy group-by over all of them is cheap.
    readableShards.sort();
    const keys = ['symbol', 'event_type', 'timestamp'];
    const dups = await pl
      .concat(readableShards.map((p) => pl.scanParquet(p).select(...keys)))
      .groupBy(keys)
      .agg(pl.len().alias('n'))
      .filter(pl.col('n').gt(1))
      .sort(keys)
      .collect();
    if (dups.height > 0) {
      const n = dups.getColumn('n').toArray().map(Number);
      const sym = dups.getColumn('symbol').toArray() as string[];
      const et = dups.getColumn('event_type').toArray() as string[];
      const ts = dups.getColumn('timestamp').toArray() as unknown[];
      for (let i = 0; i < dups.height; i++) {
        const t = ts[i] instanceof Date ? (ts[i] as Date).toISOString() : String(ts[i]);
        problems.add('duplicate-event-rows', `${sym[i]} ${et[i]} ${t} x${n[i]}`, n[i]! - 1);
      }
    }
  }
  const manifest = join(dir, 'events', 'events.parquet');
  if ((await namesIn(join(dir, 'events'))).includes('events.parquet')) {
    const c = await parquetRowCount(manifest);
    parquetFiles++;
    if (!c.ok) problems.add('unreadable-parquet', `${rel(manifest)}: ${c.reason}`);
    else await compareManifest(manifest, readableShards, problems);
  }

  // --- stage 2: ingest journals and windows ---
  const journaled = new Map<string, JournaledWindow>();
  const twiceW = new Set<string>();
  for (const f of journals.ingest) {
    await scan(f, (v, line) => {
      const where = `${f.name}:${line}`;
      const l = asWindowLine(v);
      if (!l) {
        problems.add('corrupt-journal-line', `${rel(f.path)}:${line}: not a window line`);
        return;
      }
      const prev = journaled.get(l.event);
      if (prev && !twiceW.has(l.event)) {
        twiceW.add(l.event);
        problems.add('window-journaled-twice', `${l.event} (${prev.where}, ${where})`);
      }
      // The last line wins, as for loadIngestState.
      journaled.set(l.event, { symbol: l.symbol, trades: l.trades, quotes: l.quotes, where, seen: prev?.seen ?? false });
    });
  }
  for (const f of journals.failed) await scan(f, () => undefined);

  let windows = 0;
  await forEachConcurrent(walkWindows(dir), concurrency, async (w) => {
    windows++;
    progress(() => `verify: ${windows.toLocaleString('en-US')} window folders checked`);
    const wrel = `windows/symbol=${w.symbol}/event=${w.event}`;
    for (const n of w.names) if (isTmpName(n)) problems.add('orphan-tmp', `${wrel}/${n}`);
    const j = journaled.get(w.event);
    const entry = j && j.symbol === w.symbol ? j : undefined;
    if (entry) entry.seen = true;
    const hasT = w.names.includes('trades.parquet');
    const hasQ = w.names.includes('quotes.parquet');
    if (!hasT && !hasQ) {
      if (entry) problems.add('journal-line-without-files', `${entry.where}: ${wrel} has neither file`);
      return;
    }
    if (!hasT || !hasQ) {
      problems.add('window-missing-file', `${wrel}: ${hasT ? 'quotes' : 'trades'}.parquet absent${entry ? ` (journaled ${entry.where})` : ''}`);
    }
    let readable = hasT && hasQ;
    for (const [name, want] of [
      ['trades.parquet', entry?.trades],
      ['quotes.parquet', entry?.quotes],
    ] as const) {
      if (!w.names.includes(name)) continue;
      const c = await parquetRowCount(join(w.dir, name));
      parquetFiles++;
      if (!c.ok) {
        readable = false;
        problems.add('unreadable-parquet', `${wrel}/${name}: ${c.reason}`);
      } else if (want !== undefined && c.rows !== want) {
        problems.add('row-count-mismatch', `${wrel}/${name}: ${c.rows} rows, ${entry!.where} says ${want}`);
      }
    }
    if (readable && !entry) problems.add('unjournaled-window', wrel);
  });
  // The compacted dataset; a window removed after compaction is present there, not gone.
  const dataset = await verifyDataset(dir, (kind, example, n) => problems.add(kind, example, n));
  for (const [event, j] of journaled) {
    if (!j.seen && !dataset.compacted.has(event)) problems.add('journal-line-without-files', `${j.where}: windows/symbol=${j.symbol}/event=${event} is gone`);
  }

  // --- tmp leftovers outside the window folders ---
  for await (const p of walkFiles(dir, new Set([join(dir, 'windows')]))) {
    if (isTmpName(basename(p))) problems.add('orphan-tmp', rel(p));
  }

  const found = problems.result();
  return {
    ok: Object.keys(found).length === 0,
    problems: found,
    checked: { journals: journals.detect.length + journals.ingest.length + journals.failed.length, journalLines, shards: shardLines.length, windows, parquetFiles },
    heldLocks,
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
  if (shards.length === 0) return show(inManifest.unique(), 'in events/events.parquet but in no committed shard');
  const inShards = pl.concat(shards.map((p) => pl.scanParquet(p).select(...keys))).unique();
  await show(inShards.join(inManifest, { on: keys, how: 'anti' }), 'of committed shards missing from events/events.parquet');
  await show(inManifest.unique().join(inShards, { on: keys, how: 'anti' }), 'in events/events.parquet but in no committed shard');
}
