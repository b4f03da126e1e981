/**
 * The one place that knows where the compacted dataset lives and what its journal lines look like,
 * so the run-folder refactor (issue 11) can fold it into its layout model in one move.
 *
 * ```
 * dataset/trades/symbol=S/part-000000.parquet      published parts (what readers glob)
 * dataset/quotes/symbol=S/part-000000.parquet
 * state/compact/staging/symbol=S/part-000000.trades.parquet   written before the commit line, renamed after
 * state/compact/staging/symbol=S/part-000000.quotes.parquet
 * state/compact/compact.jsonl                      one CompactionLine per part: the commit point
 * state/compact/compact.lock                       one compaction at a time
 * ```
 *
 * Staging lives outside `dataset/`, so a reader globbing `dataset/trades/*\/*.parquet` never sees a
 * part that is not committed.
 *
 * @example
 * ```ts
 * const p = datasetPaths('./tickpipe-data');
 * partPaths(p, 'AAOI', 0).final.trades; // ./tickpipe-data/dataset/trades/symbol=AAOI/part-000000.parquet
 * ```
 */
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { validateEventId, validateSymbol } from '../sinks/paths.js';

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

export function datasetPaths(outDir: string): DatasetPaths {
  const stateDir = join(outDir, 'state', 'compact');
  return {
    outDir,
    datasetDir: join(outDir, 'dataset'),
    stateDir,
    stagingDir: join(stateDir, 'staging'),
    journal: join(stateDir, 'compact.jsonl'),
    lock: join(stateDir, 'compact.lock'),
    ingestStateDir: join(outDir, 'state', 'ingest'),
    windowsDir: join(outDir, 'windows'),
  };
}

/** Base name of part `n`: `part-000042.parquet`. */
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
  const sym = `symbol=${validateSymbol(symbol)}`;
  const name = partFileName(part);
  const stem = name.replace(/\.parquet$/, '');
  return {
    final: { trades: join(p.datasetDir, 'trades', sym, name), quotes: join(p.datasetDir, 'quotes', sym, name) },
    staged: { trades: join(p.stagingDir, sym, `${stem}.trades.parquet`), quotes: join(p.stagingDir, sym, `${stem}.quotes.parquet`) },
  };
}

/** Folder of a symbol's parts of one table. */
export function tableSymbolDir(p: DatasetPaths, kind: TableKind, symbol: string): string {
  return join(p.datasetDir, kind, `symbol=${validateSymbol(symbol)}`);
}

/**
 * One line of `state/compact/compact.jsonl`: part `part` of `symbol` holds exactly the windows
 * `events` (sorted by event time, then ID), with `trades` and `quotes` rows. Appending it is the
 * commit point of that part.
 */
export interface CompactionLine {
  readonly symbol: string;
  readonly part: number;
  readonly events: readonly string[];
  readonly trades: number;
  readonly quotes: number;
}

/** Checks one parsed journal line; throws InputError naming the file and line. */
export function validateCompactionLine(v: unknown, where: string): CompactionLine {
  const bad = (what: string): never => {
    throw new InputError(`${where}: invalid compaction line (${what})`);
  };
  if (!v || typeof v !== 'object') return bad('not an object');
  const o = v as Record<string, unknown>;
  if (typeof o['symbol'] !== 'string') bad('no symbol');
  if (!Number.isInteger(o['part']) || (o['part'] as number) < 0) bad('no part number');
  if (!Array.isArray(o['events']) || !(o['events'] as unknown[]).every((e) => typeof e === 'string')) bad('no events list');
  for (const k of ['trades', 'quotes']) if (!Number.isInteger(o[k]) || (o[k] as number) < 0) bad(`no ${k} count`);
  validateSymbol(o['symbol'] as string);
  for (const e of o['events'] as string[]) validateEventId(e);
  return o as unknown as CompactionLine;
}

/** Columns every dataset row carries in front of the API fields (symbol comes from the folder). */
export const EVENT_COLUMNS = ['event_id', 'event_type', 'event_timestamp'] as const;

/**
 * Rows per Parquet row group: 122,880, the row-group size Polars' streaming sink writes (measured:
 * a 500,000-row sink gives groups of 122,880 and a last one of 8,480; DuckDB's own default is the
 * same number). Not passed explicitly because nodejs-polars takes `rowGroupSize` as a 16-bit
 * integer (at most 32,767, which would be 4x the groups); this constant records it for tests and
 * docs. Why this size suits the dataset: DuckDB and Polars parallelise a scan per row group and
 * prune row groups by their min/max statistics; parts are sorted by event, so one event's rows sit
 * in one or two row groups; ~1–4 MB of zstd per group makes the per-group overhead (footer entries,
 * statistics, decoder set-up) negligible, yet a busy symbol's part has several groups for a 2-core
 * reader to split, and a point lookup by event reads a few MB, not the whole part.
 */
export const ROW_GROUP_ROWS = 122_880;

/**
 * Largest part, in rows of one table: a symbol's new windows are split into parts of at most this
 * many trades (or quotes; a single window larger than this gets a part of its own). Bounds the
 * memory of compacting one part (the rows are sorted in memory) and the size of one file.
 */
export const DEFAULT_MAX_PART_ROWS = 4_000_000;
