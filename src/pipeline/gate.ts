import { EMPTY, defer, filter, fromEvent, map, of, take, takeUntil, type Observable } from 'rxjs';

/**
 * Completes without emitting when a graceful stop has been requested, waits while `paused$` says
 * paused, then emits once. Putting this in front of each item's work (inside the mergeMap) makes
 * pause and stop take effect even though RxJS has already handed the item to mergeMap's buffer.
 */
export function admission(paused$: Observable<boolean> | undefined, signal: AbortSignal | undefined): Observable<true> {
  return defer(() => {
    if (signal?.aborted) return EMPTY;
    const ready$: Observable<true> = paused$
      ? paused$.pipe(
          filter((p) => !p && !signal?.aborted),
          take(1),
          map((): true => true),
        )
      : of(true as const);
    return signal ? ready$.pipe(takeUntil(fromEvent(signal, 'abort'))) : ready$;
  });
}
