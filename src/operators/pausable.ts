import { Observable, type MonoTypeOperatorFunction } from 'rxjs';

/**
 * While `paused$` last emitted `true`, values are held (never dropped); on `false` they are released
 * in order, then live values flow again. Completion waits until held values are released; an error
 * (from the source or `paused$`) is forwarded at once and held values are discarded — they were never
 * started. Before `paused$` first emits, values flow. No scheduler is involved: release happens
 * synchronously inside `paused$`'s `false` notification.
 *
 * This holds values that were already produced. To stop *pulling* work from a large source, pass
 * `paused$` to `pullMap` instead.
 *
 * @example
 * symbols$.pipe(pausable(pauseFlag$(join(out, 'PAUSE'))), mergeMap(fetchBars, 8));
 */
export function pausable<T>(paused$: Observable<boolean>): MonoTypeOperatorFunction<T> {
  return (source) =>
    new Observable<T>((subscriber) => {
      let paused = false;
      let held: T[] = [];
      let head = 0; // index of the next held value: avoids O(n) Array.shift
      let sourceDone = false;
      let draining = false;

      const drain = (): void => {
        // A value released here may synchronously re-pause; the loop honours that.
        if (draining) return;
        draining = true;
        try {
          while (!paused && head < held.length && !subscriber.closed) {
            const v = held[head]!;
            held[head++] = undefined as T;
            subscriber.next(v);
          }
          if (head === held.length) {
            held = [];
            head = 0;
          }
        } finally {
          draining = false;
        }
        if (sourceDone && head === held.length && !subscriber.closed) subscriber.complete();
      };

      const pausedSub = paused$.subscribe({
        next: (p) => {
          paused = p;
          if (!p) drain();
        },
        error: (err: unknown) => subscriber.error(err),
      });
      const sourceSub = source.subscribe({
        next: (v) => {
          if (paused || head < held.length) held.push(v);
          else subscriber.next(v);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          sourceDone = true;
          if (!paused) drain();
        },
      });
      return () => {
        held = [];
        pausedSub.unsubscribe();
        sourceSub.unsubscribe();
      };
    });
}
