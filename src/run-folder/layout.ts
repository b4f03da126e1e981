/**
 * The layout of a run folder: every folder name, file name and file-name pattern, in one place
 * (docs/ARCHITECTURE.md, "Where each fact lives"). Nothing else in `src/` spells a folder or a
 * journal name; it asks this file.
 *
 * ```
 * run.json                                            the run's identity (RunSpec)
 * events/shards/worker-K/shard-NNNNNN.parquet         stage-1 shards of worker K
 * events/shards/worker-K/.uncommitted/                shards no journal line named, moved aside
 * events/events.parquet                               the consolidated manifest
 * windows/symbol=S/event=ID/{trades,quotes}.parquet   stage-2 windows
 * dataset/{trades,quotes}/symbol=S/part-NNNNNN.parquet the compacted dataset
 * state/detect/worker-K.jsonl (+ .lock)               stage-1 journal of worker K
 * state/ingest/part-K.jsonl (+ .lock)                 stage-2 journal of partition K
 * state/ingest/part-K.failed.jsonl                    stage-2 permanent failures
 * state/ingest/committed.idx                          the committed index of the stage-2 journals
 * state/compact/compact.jsonl (+ .lock, staging/)     the compaction journal and its staging area
 * state/consolidate.lock                              one consolidation at a time
 * state/cluster/cluster.json                          which Redis queues serve this folder
 * logs/tickpipe.log, logs/heartbeat.ndjson            one-host logs
 * logs/tickpipe.slot-K.log, logs/heartbeat.slot-K.ndjson   cluster slot K's logs
 * ```
 *
 * A cluster worker process takes a slot K >= {@link SLOT_BASE} and writes files named exactly like
 * a one-host worker K's, so every reader reads them without knowing about the cluster.
 *
 * This file imports only the path-component validation (a leaf), so the sinks that write these
 * files may import it without an import circle.
 *
 * @example
 * ```ts
 * import { shardPaths, windowPaths } from 'tickpipe/sinks'; // this file's detectPaths and windowPaths
 * shardPaths('/out', 0).journal;                  // /out/state/detect/worker-0.jsonl
 * windowPaths('/out', 'AAPL', 'AAPL_x_1').trades; // /out/windows/symbol=AAPL/event=AAPL_x_1/trades.parquet
 * ```
 */
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { validateEventId, validateNonNegInt, validateSymbol } from '../fs/paths.js';

// --- the run folder's top level ---

/** The run folder of every command when `--out` is not given (relative to the working directory). */
export const DEFAULT_OUT_DIR = 'tickpipe-data';
/** The run's identity file. */
export const RUN_SPEC_FILE = 'run.json';
/** Top-level folder names (for callers that join paths with another path module, e.g. win32). */
export const DIR_NAMES = { state: 'state', events: 'events', windows: 'windows', logs: 'logs', dataset: 'dataset' } as const;
const { state: STATE, events: EVENTS, windows: WINDOWS, logs: LOGS, dataset: DATASET } = DIR_NAMES;

export function runSpecPath(outDir: string): string {
  return join(outDir, RUN_SPEC_FILE);
}

/** The folders of the stage-1 and stage-2 journals and locks. */
export function stateDirs(outDir: string): { readonly detect: string; readonly ingest: string } {
  return { detect: join(outDir, STATE, 'detect'), ingest: join(outDir, STATE, 'ingest') };
}

/** The root of `state/`: readers watch it for new journals. */
export function stateRoot(outDir: string): string {
  return join(outDir, STATE);
}

/** Lock of `consolidate` (one at a time). */
export function consolidateLockPath(outDir: string): string {
  return join(outDir, STATE, 'consolidate.lock');
}

/** `state/cluster/cluster.json`: which Redis queues serve this folder (written by `run --cluster`). */
export function clusterFilePath(outDir: string): string {
  return join(outDir, STATE, 'cluster', 'cluster.json');
}

// --- stage 1 ---

export const WORKER_JOURNAL_RE = /^worker-(\d+)\.jsonl$/;
export const WORKER_LOCK_RE = /^worker-(\d+)\.lock$/;
export const SHARD_FILE_RE = /^shard-(\d{6})\.parquet$/;
export const WORKER_DIR_RE = /^worker-(\d+)$/;
/** Name of the folder ShardWriter moves uncommitted shards into. */
export const UNCOMMITTED_DIR = '.uncommitted';

/** `worker-K`: stage-1 worker K's name, the stem of its shard folder, journal and lock. */
export function detectWorkerName(worker: number): string {
  return `worker-${worker}`;
}

/** Base name of worker K's journal (`worker-K.jsonl`). */
export function detectJournalName(worker: number): string {
  return `${detectWorkerName(worker)}.jsonl`;
}

/** `events/shards/`: every worker's shard folder. */
export function shardsRoot(outDir: string): string {
  return join(outDir, EVENTS, 'shards');
}

/** `shard-000042.parquet`. */
export function shardFileName(n: number): string {
  validateNonNegInt(n, 'shard number');
  if (n > 999_999) throw new InputError(`shard number ${n} exceeds 6 digits`);
  return `shard-${String(n).padStart(6, '0')}.parquet`;
}

/** Worker K's shard folder, journal and lock. */
export function detectPaths(outDir: string, worker: number): { readonly dir: string; readonly journal: string; readonly lock: string } {
  validateNonNegInt(worker, 'worker');
  const name = detectWorkerName(worker);
  const state = stateDirs(outDir).detect;
  return { dir: join(shardsRoot(outDir), name), journal: join(state, detectJournalName(worker)), lock: join(state, `${name}.lock`) };
}

/** The file a stage-1 journal line of worker K names. */
export function shardPath(outDir: string, worker: number, shard: string): string {
  return join(shardsRoot(outDir), detectWorkerName(worker), shard);
}

/** `events/events.parquet`: the consolidated manifest. */
export function manifestPath(outDir: string): string {
  return join(outDir, EVENTS, 'events.parquet');
}

/** The folder holding the manifest (and the shards). */
export function eventsDir(outDir: string): string {
  return join(outDir, EVENTS);
}

/** The manifest's file name inside {@link eventsDir}. */
export const MANIFEST_FILE = 'events.parquet';

// --- stage 2 ---

export const PART_JOURNAL_RE = /^part-(\d+)\.jsonl$/;
export const FAILED_JOURNAL_RE = /^part-(\d+)\.failed\.jsonl$/;
export const PART_LOCK_RE = /^part-(\d+)\.lock$/;
/** The committed index's name in `state/ingest/`. */
export const COMMITTED_INDEX_NAME = 'committed.idx';
/** The manifest key file's name in `state/ingest/` (raw manifest keys of committed rows, a cache like the index). */
export const MANIFEST_KEYS_NAME = 'committed.keys';

/** `part-K`: stage-2 partition K's name, the stem of its journals and lock. */
export function ingestPartName(index: number): string {
  return `part-${index}`;
}

/** Partition K's journal, failure journal and lock. */
export function ingestPaths(outDir: string, index: number): { readonly journal: string; readonly failed: string; readonly lock: string } {
  validateNonNegInt(index, 'partition');
  const dir = stateDirs(outDir).ingest;
  const name = ingestPartName(index);
  return { journal: join(dir, ingestJournalName(index)), failed: join(dir, `${name}.failed.jsonl`), lock: join(dir, `${name}.lock`) };
}

/** Base name of partition K's journal (`part-K.jsonl`). */
export function ingestJournalName(index: number): string {
  return `${ingestPartName(index)}.jsonl`;
}

/** `windows/`: every window folder. */
export function windowsRoot(outDir: string): string {
  return join(outDir, WINDOWS);
}

/** File names of a window's two tables. */
export const WINDOW_FILES = { trades: 'trades.parquet', quotes: 'quotes.parquet' } as const;
export const SYMBOL_DIR_PREFIX = 'symbol=';
export const EVENT_DIR_PREFIX = 'event=';

/** Folder and files of one event window. Validates symbol and event ID. */
export function windowPaths(outDir: string, symbol: string, eventId: string): { dir: string; trades: string; quotes: string } {
  const dir = join(windowsRoot(outDir), `${SYMBOL_DIR_PREFIX}${validateSymbol(symbol)}`, `${EVENT_DIR_PREFIX}${validateEventId(eventId)}`);
  return { dir, trades: join(dir, WINDOW_FILES.trades), quotes: join(dir, WINDOW_FILES.quotes) };
}

/** `windows/symbol=S/event=ID` relative to the run folder (for messages). */
export function windowRelPath(symbol: string, event: string): string {
  return `${WINDOWS}/${SYMBOL_DIR_PREFIX}${symbol}/${EVENT_DIR_PREFIX}${event}`;
}

// --- logs ---

/** `logs/`. */
export function logsDir(outDir: string): string {
  return join(outDir, LOGS);
}

/** The one-host log files. */
export const LOG_NAMES = { heartbeat: 'heartbeat.ndjson', log: 'tickpipe.log' } as const;

/** The one-host heartbeat file. */
export function heartbeatPath(outDir: string): string {
  return join(logsDir(outDir), LOG_NAMES.heartbeat);
}

/** First cluster slot number: cluster journals are `worker-1001.jsonl`, `part-1001.jsonl`, … */
export const SLOT_BASE = 1000;

/** Per-process log files of cluster slot K (one writer each). */
export function slotLogNames(slot: number): { heartbeat: string; log: string } {
  return { heartbeat: `heartbeat.slot-${slot}.ndjson`, log: `tickpipe.slot-${slot}.log` };
}

/** The log and heartbeat file of a one-host run, or of cluster slot `slot`. */
export function runLogPaths(outDir: string, slot?: number): { readonly log: string; readonly heartbeat: string } {
  const names = slot === undefined ? LOG_NAMES : slotLogNames(slot);
  return { log: join(logsDir(outDir), names.log), heartbeat: join(logsDir(outDir), names.heartbeat) };
}

/** Matches a cluster slot's heartbeat file; group 1 is the slot. */
export const SLOT_HEARTBEAT_RE = /^heartbeat\.slot-(\d+)\.ndjson$/;

/** Matches every heartbeat file of a run folder: the one-host `heartbeat.ndjson` and each slot's. */
export const HEARTBEAT_FILE_RE = /^heartbeat(?:\.slot-\d+)?\.ndjson$/;

// --- the compacted dataset ---

/** The two tables of the dataset. */
export type TableKind = 'trades' | 'quotes';
export const TABLE_KINDS: readonly TableKind[] = ['trades', 'quotes'];

/** Folders and files of the dataset and its state. */
export interface DatasetPaths {
  readonly outDir: string;
  readonly datasetDir: string;
  readonly stateDir: string;
  readonly stagingDir: string;
  readonly journal: string;
  readonly lock: string;
  /** Where the stage-2 journals are (the input of compaction). */
  readonly ingestStateDir: string;
  /** The per-window folders (`windows/symbol=S/event=ID/`). */
  readonly windowsDir: string;
}

/**
 * ```
 * dataset/trades/symbol=S/part-000000.parquet      published parts (what readers glob)
 * state/compact/staging/symbol=S/part-000000.trades.parquet   written before the commit line, renamed after
 * state/compact/compact.jsonl                      one CompactionLine per part: the commit point
 * state/compact/compact.lock                       one compaction at a time
 * ```
 * Staging lives outside `dataset/`, so a reader globbing `dataset/trades/*\/*.parquet` never sees a
 * part that is not committed.
 */
export function datasetPaths(outDir: string): DatasetPaths {
  const stateDir = join(outDir, STATE, 'compact');
  return {
    outDir,
    datasetDir: join(outDir, DATASET),
    stateDir,
    stagingDir: join(stateDir, 'staging'),
    journal: join(stateDir, 'compact.jsonl'),
    lock: join(stateDir, 'compact.lock'),
    ingestStateDir: stateDirs(outDir).ingest,
    windowsDir: windowsRoot(outDir),
  };
}

/** Base name of dataset part `n`: `part-000042.parquet`. */
export function partFileName(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 999_999) throw new InputError(`invalid part number ${String(n)}`);
  return `part-${String(n).padStart(6, '0')}.parquet`;
}

export const PART_FILE_RE = /^part-(\d{6})\.parquet$/;
export const STAGED_FILE_RE = /^part-(\d{6})\.(trades|quotes)\.parquet$/;
export const SYMBOL_DIR_RE = /^symbol=(.+)$/;

/** Final (published) and staged paths of one part of one symbol. */
export interface PartPaths {
  readonly final: Readonly<Record<TableKind, string>>;
  readonly staged: Readonly<Record<TableKind, string>>;
}

export function partPaths(p: DatasetPaths, symbol: string, part: number): PartPaths {
  const sym = `${SYMBOL_DIR_PREFIX}${validateSymbol(symbol)}`;
  const name = partFileName(part);
  const stem = name.replace(/\.parquet$/, '');
  return {
    final: { trades: join(p.datasetDir, 'trades', sym, name), quotes: join(p.datasetDir, 'quotes', sym, name) },
    staged: { trades: join(p.stagingDir, sym, `${stem}.trades.parquet`), quotes: join(p.stagingDir, sym, `${stem}.quotes.parquet`) },
  };
}

/** Folder of a symbol's parts of one table. */
export function tableSymbolDir(p: DatasetPaths, kind: TableKind, symbol: string): string {
  return join(p.datasetDir, kind, `${SYMBOL_DIR_PREFIX}${validateSymbol(symbol)}`);
}

/** The journals as globs relative to the run folder, for messages and help texts. */
export const JOURNAL_GLOBS = {
  detect: 'state/detect/worker-*.jsonl',
  ingest: 'state/ingest/part-*.jsonl',
  failed: 'state/ingest/part-*.failed.jsonl',
  compact: 'state/compact/compact.jsonl',
} as const;

/** A path relative to the run folder, for messages: `heartbeat` is `logs/heartbeat.ndjson`. */
export const REL_PATHS = {
  heartbeat: `${LOGS}/${LOG_NAMES.heartbeat}`,
  manifest: `${EVENTS}/${MANIFEST_FILE}`,
} as const;

/**
 * The names of `names` that match a journal pattern (`WORKER_JOURNAL_RE`, `PART_JOURNAL_RE`, …), in
 * reading order: by worker or partition number, numerically (`part-2` before `part-10` and
 * `part-1001`). The duplicate-line rule (model.ts) depends on this order.
 */
export function journalNamesInOrder(names: readonly string[], re: RegExp): string[] {
  return names
    .map((name) => ({ name, m: re.exec(name) }))
    .filter((x): x is { name: string; m: RegExpExecArray } => x.m !== null)
    .sort((a, b) => Number(a.m[1]) - Number(b.m[1]))
    .map((x) => x.name);
}
