/**
 * One line describing the compacted dataset, for `tickpipe status`. Its own module (no Polars) so
 * `status --help` stays instant.
 */
import type { DatasetSummary } from './check.js';

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
