/**
 * The compacted dataset's constants. Its paths and file names live in src/run-folder/layout.ts and
 * its journal line in src/run-folder/lines.ts (the one run-folder module); they are re-exported here
 * so the dataset code keeps one import.
 *
 * @example
 * ```ts
 * const p = datasetPaths('./tickpipe-data');
 * partPaths(p, 'AAOI', 0).final.trades; // ./tickpipe-data/dataset/trades/symbol=AAOI/part-000000.parquet
 * ```
 */
export {
  datasetPaths,
  partFileName,
  partPaths,
  PART_FILE_RE,
  STAGED_FILE_RE,
  SYMBOL_DIR_RE,
  TABLE_KINDS,
  tableSymbolDir,
  type DatasetPaths,
  type PartPaths,
  type TableKind,
} from '../run-folder/layout.js';
export { validateCompactionLine, type CompactionLine } from '../run-folder/lines.js';

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
