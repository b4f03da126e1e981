import { asyncScheduler, interval, Observable, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import { finiteNumber } from '../options.js';

/**
 * Calls `beat(value)` for every source value and `beat(undefined)` every `intervalMs` while the
 * source is live, passing values through unchanged. A slow stage still shows it is alive, and a
 * fast one is reported per item, which is what `tickpipe tail` and stall detection read.
 *
 * @example
 * symbols$.pipe(heartbeat((s) => log.info({ symbol: s?.symbol, done }), 5_000))
 */
export function heartbeat<T>(
  beat: (value: T | undefined) => void,
  intervalMs = 5_000,
  scheduler: SchedulerLike = asyncScheduler,
): MonoTypeOperatorFunction<T> {
  finiteNumber('heartbeat', 'intervalMs', intervalMs, 0, false);
  return (source) =>
    new Observable<T>((subscriber) => {
      const ticks = interval(intervalMs, scheduler).subscribe(() => beat(undefined));
      const values = source.subscribe({
        next(v) {
          beat(v);
          subscriber.next(v);
        },
        error(e) {
          ticks.unsubscribe();
          subscriber.error(e);
        },
        complete() {
          ticks.unsubscribe();
          subscriber.complete();
        },
      });
      return () => {
        ticks.unsubscribe();
        values.unsubscribe();
      };
    });
}

