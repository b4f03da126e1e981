/**
 * One line describing the compacted dataset, for `tickpipe status`. Its own module (no Polars) so
 * `status --help` stays instant.
 */

/** The dataset's state for `status` and `report`, from the journals (no Parquet is opened). */
export interface DatasetSummary {
  /** Published parts (both files in dataset/). */
  readonly parts: number;
  readonly symbols: number;
  readonly windowsCompacted: number;
  /** Committed windows not compacted yet. */
  readonly windowsPending: number;
  readonly trades: number;
  readonly quotes: number;
  /** Committed parts still in staging (the next compaction publishes them). */
  readonly partsUnpublished: number;
  /** Staged files no journal line names (the next compaction discards them). */
  readonly stagedUncommitted: number;
}

/** One line for `status`. */
export function formatDatasetSummary(d: DatasetSummary | null | undefined): string {
  if (!d) return 'not compacted yet (tickpipe compact)';
  const fmt = (n: number): string => n.toLocaleString('en-US');
  const extra = [
    d.windowsPending > 0 ? `${fmt(d.windowsPending)} committed windows not compacted yet` : 'every committed window compacted',
    d.partsUnpublished > 0 ? `${d.partsUnpublished} committed part(s) unpublished` : '',
    d.stagedUncommitted > 0 ? `${d.stagedUncommitted} uncommitted staged file(s)` : '',
  ].filter(Boolean);
  return `${fmt(d.parts)} parts over ${fmt(d.symbols)} symbols, ${fmt(d.windowsCompacted)} windows, trades ${fmt(d.trades)}, quotes ${fmt(d.quotes)}; ${extra.join('; ')}`;
}
