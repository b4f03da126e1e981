import { map, type OperatorFunction } from 'rxjs';
import { losslessStringify } from '../codec/lossless-json.js';

/** Counts the rows {@link dropPageRepeats} dropped. */
export interface PageRepeatCount {
  rows: number;
}

/**
 * Drops rows of a page that exactly repeat a row of the page before (a server whose cursor
 * re-serves the boundary of the previous page, or the whole page): they would be stored twice.
 * Pages are sorted ascending by `sip_timestamp`, so only rows at or before the previous page's last
 * timestamp can be repeats; those are compared field by field with the previous page's rows of the
 * same timestamp and sequence number. Memory: the previous page only.
 *
 * @example
 * client.trades$(sym, range).pipe(map((p) => p.results), dropPageRepeats(counter))
 */
export function dropPageRepeats<T extends { readonly sip_timestamp: bigint; readonly sequence_number?: number }>(
  count: PageRepeatCount,
): OperatorFunction<T[], T[]> {
  return (source) => {
    let prev: T[] = [];
    return source.pipe(
      map((page) => {
        const last = prev.length > 0 ? prev[prev.length - 1]!.sip_timestamp : undefined;
        if (last === undefined || page.length === 0 || page[0]!.sip_timestamp > last) {
          prev = page;
          return page;
        }
        const keyOf = (r: T): string => `${r.sip_timestamp}|${r.sequence_number ?? ''}`;
        const before = new Map<string, string[]>();
        const low = page[0]!.sip_timestamp;
        for (let i = prev.length - 1; i >= 0 && prev[i]!.sip_timestamp >= low; i--) {
          const k = keyOf(prev[i]!);
          const list = before.get(k);
          if (list) list.push(losslessStringify(prev[i]));
          else before.set(k, [losslessStringify(prev[i])]);
        }
        const kept: T[] = [];
        for (const r of page) {
          const seen = r.sip_timestamp <= last ? before.get(keyOf(r)) : undefined;
          if (seen && seen.includes(losslessStringify(r))) {
            count.rows++;
            continue;
          }
          kept.push(r);
        }
        prev = page;
        return kept;
      }),
    );
  };
}
