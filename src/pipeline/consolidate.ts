import { basename, dirname } from 'node:path';
import pl from 'nodejs-polars';
import { acquireLock, committedShards, sweepStaleTmps, writeParquetAtomically } from '../sinks/index.js';
import { canonicalEventId } from '../streams/event-id.js';
import { consolidateLockPath, manifestPath as layoutManifestPath } from '../run-folder/layout.js';

/** What {@link consolidate} wrote. */
export interface ConsolidateResult {
  /** Path of the manifest written. */
  readonly path: string;
  readonly shards: number;
  /** Rows across the committed shards. */
  readonly rows: number;
  /** Rows in the manifest after de-duplication on (symbol, event_type, timestamp). */
  readonly events: number;
  /** rows - events: duplicate rows the shards held (0 when the commit protocol held). */
  readonly duplicates: number;
  readonly byType: Readonly<Record<string, number>>;
  /**
   * True when the manifest on disk already held exactly these rows and was left alone: a resume
   * does not rewrite a file that a notebook may hold open (on Windows a held file cannot be replaced).
   */
  readonly unchanged?: boolean;
}

/** Whether the manifest at `path` holds exactly `frame` (false when absent or unreadable). */
async function sameManifest(path: string, frame: pl.DataFrame): Promise<boolean> {
  try {
    const existing = pl.readParquet(path);
    return existing.height === frame.height && existing.frameEqual(frame);
  } catch {
    return false;
  }
}

/** Where the consolidated manifest of a run folder lives. */
export function manifestPath(outDir: string): string {
  return layoutManifestPath(outDir);
}

/**
 * Writes `events/events.parquet` from the shards named in the detect journals only (never from a
 * directory listing, so an uncommitted shard can never leak in), sorted by (symbol, timestamp) and
 * de-duplicated on (symbol, event_type, timestamp). All Polars work is lazy and collected off the
 * event loop.
 *
 * @example
 * const { events, duplicates, byType } = await consolidate('./tickpipe-data'); // duplicates === 0
 */
export async function consolidate(outDir: string): Promise<ConsolidateResult> {
  const shards = (await committedShards(outDir)).filter((s) => s.rows > 0);
  const out = manifestPath(outDir);
  let frame: pl.DataFrame;
  let rows = 0;
  for (const s of shards) rows += s.rows;
  if (shards.length === 0) {
    const { eventsToDataFrame } = await import('../detect/index.js');
    frame = eventsToDataFrame([]);
  } else {
    const all = pl.concat(shards.map((s) => pl.scanParquet(s.path)));
    frame = await all
      .unique({ subset: ['symbol', 'event_type', 'timestamp'], keep: 'first', maintainOrder: false })
      .sort({ by: ['symbol', 'timestamp', 'event_type'] })
      .collect();
  }
  frame = withEventIds(frame);
  // One consolidation at a time: the sweep below must never remove another one's file in flight.
  const lock = await acquireLock(consolidateLockPath(outDir));
  let unchanged = false;
  try {
    await sweepStaleTmps(dirname(out), [basename(out)]);
    unchanged = await sameManifest(out, frame);
    if (!unchanged) await writeParquetAtomically(out, frame);
  } finally {
    await lock.release();
  }
  const byType: Record<string, number> = {};
  if (frame.height > 0) {
    const counts = await frame.lazy().groupBy('event_type').agg(pl.len().alias('n')).sort('event_type').collect();
    const types = counts.getColumn('event_type').toArray() as string[];
    const ns = counts.getColumn('n').toArray() as Array<number | bigint>;
    types.forEach((t, i) => (byType[t] = Number(ns[i])));
  }
  return { path: out, shards: shards.length, rows, events: frame.height, duplicates: rows - frame.height, byType, unchanged };
}

/**
 * Appends `event_id` (the canonical ID the windows and the dataset are keyed by), so the manifest
 * joins to `dataset/` without recomputing IDs. Timestamps are whole ms, exact as JS numbers.
 */
function withEventIds(frame: pl.DataFrame): pl.DataFrame {
  const symbols = frame.getColumn('symbol').toArray() as string[];
  const types = frame.getColumn('event_type').toArray() as string[];
  const ms = frame.getColumn('timestamp').cast(pl.Int64).toArray() as Array<number | bigint>;
  const ids = symbols.map((s, i) => canonicalEventId(s, types[i]!, Number(ms[i])));
  return frame.withColumn(pl.Series('event_id', ids, pl.String));
}
