import { defer, filter, type MonoTypeOperatorFunction, type Observable } from 'rxjs';
import { optionError } from '../options.js';

/** Options of {@link skipCompleted}. */
export interface SkipCompletedOptions<T> {
  /**
   * Called after each skipped item with the running count for this subscription (the heartbeat's
   * "skipped").
   * @default undefined
   */
  readonly onSkip?: (skipped: number, item: T) => void;
}

/**
 * Drops items already journaled as complete, given either a predicate or the set of completed
 * keys and a key function. Apply it after partitioning, so ownership never depends on progress.
 *
 * @example
 * symbols$.pipe(skipCompleted(doneSymbols, (s) => s, { onSkip: (n) => (stats.skipped = n) }));
 * events$.pipe(skipCompleted((e) => isWindowOnDisk(e)));
 */
export function skipCompleted<T>(
  isCompleted: (item: T) => boolean,
  options?: SkipCompletedOptions<T>,
): MonoTypeOperatorFunction<T>;
export function skipCompleted<T>(
  completed: ReadonlySet<string>,
  key: (item: T) => string,
  options?: SkipCompletedOptions<T>,
): MonoTypeOperatorFunction<T>;
export function skipCompleted<T>(
  a: ((item: T) => boolean) | ReadonlySet<string>,
  b?: ((item: T) => string) | SkipCompletedOptions<T>,
  c?: SkipCompletedOptions<T>,
): MonoTypeOperatorFunction<T> {
  let isCompleted: (item: T) => boolean;
  let options: SkipCompletedOptions<T> | undefined;
  if (typeof a === 'function') {
    isCompleted = a;
    options = b as SkipCompletedOptions<T> | undefined;
  } else if (a instanceof Set || (a && typeof (a as ReadonlySet<string>).has === 'function')) {
    if (typeof b !== 'function') {
      throw optionError('skipCompleted', 'key', 'a function (required with a set of completed keys)', b);
    }
    const set = a as ReadonlySet<string>;
    const key = b as (item: T) => string;
    isCompleted = (item) => set.has(key(item));
    options = c;
  } else {
    throw optionError('skipCompleted', 'completed', 'a predicate or a Set', a);
  }
  const onSkip = options?.onSkip;
  return (source: Observable<T>) =>
    defer(() => {
      // Per subscription, so a resubscribed (retried) stream counts from zero.
      let skipped = 0;
      return source.pipe(
        filter((item) => {
          if (!isCompleted(item)) return true;
          skipped++;
          onSkip?.(skipped, item);
          return false;
        }),
      );
    });
}
