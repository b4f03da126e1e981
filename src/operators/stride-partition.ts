import { groupBy, type GroupedObservable, type OperatorFunction } from 'rxjs';
import { wholeNumber } from '../options.js';

/**
 * Splits a stream into `n` partitions by `index(item) % n`: `groupBy` with a stable key. `index`
 * must be the item's position in the run's sorted, de-duplicated universe (or manifest), so
 * separate processes (`--partition k/N`) and restarts agree on who owns an item without talking.
 *
 * @example
 * const idx = universeIndex(symbols);
 * from(symbols).pipe(
 *   stridePartition(4, (s) => idx.get(s)!),
 *   mergeMap((part$) => part$.pipe(mergeMap(fetchBars, 8))), // one worker per partition
 * );
 * @throws {InputError} if `n` is not a whole number ≥ 1; the stream errors (RangeError) if `index` returns
 *   anything but a whole number ≥ 0.
 */
export function stridePartition<T>(
  n: number,
  index: (item: T) => number,
): OperatorFunction<T, GroupedObservable<number, T>> {
  wholeNumber('stridePartition', 'n', n);
  return groupBy((item: T) => {
    const i = index(item);
    if (!Number.isSafeInteger(i) || i < 0) {
      // A NaN or missing index would silently form a partition nobody owns.
      throw new RangeError(`stridePartition: index must be a whole number >= 0, got ${String(i)} (${typeof i})`);
    }
    return i % n;
  });
}
