import { from, Observable, type ObservableInput, Subscription } from 'rxjs';

export interface PullMapOptions {
  /**
   * While this emits `true`, no new item is pulled (work already started finishes). Typically
   * `pauseFlag$(dir + '/PAUSE')`. Until it emits, pulling is allowed.
   * @default undefined (never paused)
   */
  readonly paused$?: Observable<boolean>;
}

function isAsyncIterable<T>(x: Iterable<T> | AsyncIterable<T>): x is AsyncIterable<T> {
  return typeof (x as AsyncIterable<T>)[Symbol.asyncIterator] === 'function';
}

function isPromiseLike<T>(x: unknown): x is PromiseLike<T> {
  return typeof (x as PromiseLike<T> | null)?.then === 'function';
}

/**
 * `mergeMap` with backpressure: pulls the next item from `source` only when one of `concurrency`
 * slots is free, so at most `concurrency` items are pulled-but-unfinished at any time and a
 * million-row manifest never sits in RxJS's buffer.
 *
 * Errors from the iterator or from `project` (thrown or emitted) propagate and stop pulling.
 * Unsubscribing (or an error) calls `iterator.return()`, so a generator's `finally` runs.
 * Completes when the iterator is done and every inner observable has completed.
 *
 * @example
 * pullMap(filterAsync(readManifest(path), (e) => !done.has(e.eventId)), (e) => fetchWindow(e), 64)
 *   .subscribe(...)
 * @throws {RangeError} if `concurrency` is not a whole number ≥ 1.
 */
export function pullMap<T, R>(
  source: Iterable<T> | AsyncIterable<T>,
  project: (item: T, index: number) => ObservableInput<R>,
  concurrency: number,
  options: PullMapOptions = {},
): Observable<R> {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`pullMap: concurrency must be a whole number >= 1, got ${String(concurrency)} (${typeof concurrency})`);
  }
  return new Observable<R>((subscriber) => {
    const iterator: Iterator<T> | AsyncIterator<T> = isAsyncIterable(source)
      ? source[Symbol.asyncIterator]()
      : source[Symbol.iterator]();
    const inners = new Subscription();
    let active = 0;
    let index = 0;
    let exhausted = false;
    let closed = false;
    let awaitingNext = false;
    let paused = false;
    let pumping = false;
    let again = false;

    const fail = (err: unknown): void => {
      if (closed) return;
      closed = true;
      subscriber.error(err);
    };

    const start = (item: T): void => {
      const i = index++;
      active++;
      let input: ObservableInput<R>;
      try {
        input = project(item, i);
      } catch (err) {
        fail(err);
        return;
      }
      const inner = new Subscription();
      inners.add(inner);
      let finished = false;
      const sub = from(input).subscribe({
        next: (v) => subscriber.next(v),
        error: fail,
        complete: () => {
          finished = true;
          inners.remove(inner);
          active--;
          pump();
        },
      });
      if (!finished) inner.add(sub);
    };

    const onResult = (res: IteratorResult<T>): void => {
      if (closed) return;
      if (res.done) exhausted = true;
      else start(res.value);
    };

    // A loop, not recursion: synchronous iterators with synchronous inners would otherwise nest
    // one stack frame per item.
    const pump = (): void => {
      if (pumping) {
        again = true;
        return;
      }
      pumping = true;
      try {
        do {
          again = false;
          while (!closed && !exhausted && !awaitingNext && !paused && active < concurrency) {
            let res: IteratorResult<T> | Promise<IteratorResult<T>>;
            try {
              res = iterator.next();
            } catch (err) {
              fail(err);
              return;
            }
            if (isPromiseLike<IteratorResult<T>>(res)) {
              awaitingNext = true;
              res.then(
                (r) => {
                  awaitingNext = false;
                  onResult(r);
                  pump();
                },
                (err: unknown) => {
                  awaitingNext = false;
                  fail(err);
                },
              );
            } else onResult(res);
          }
        } while (again && !closed);
      } finally {
        pumping = false;
      }
      if (!closed && exhausted && active === 0 && !awaitingNext) {
        closed = true;
        subscriber.complete();
      }
    };

    const pauseSub = options.paused$?.subscribe({
      next: (p) => {
        paused = p;
        if (!p) pump();
      },
      error: fail,
    });
    pump();

    return () => {
      const wasExhausted = exhausted;
      closed = true;
      pauseSub?.unsubscribe();
      inners.unsubscribe();
      if (!wasExhausted && typeof iterator.return === 'function') {
        try {
          const r = iterator.return();
          if (isPromiseLike(r)) r.then(undefined, () => undefined);
        } catch {
          // The consumer is gone; an iterator failing to clean up has nobody to report to.
        }
      }
    };
  });
}

/**
 * Lazily filters a (sync or async) iterable. Skipped items never reach `pullMap`, so skipping
 * costs no concurrency slot. `return()` reaches the source, so its `finally` runs on unsubscribe.
 *
 * @example
 * filterAsync(readManifest(p), (e) => e.index % n === k && !completed.has(e.eventId))
 */
export async function* filterAsync<T>(
  source: Iterable<T> | AsyncIterable<T>,
  predicate: (item: T, index: number) => boolean | Promise<boolean>,
): AsyncGenerator<T, void, undefined> {
  let i = 0;
  for await (const item of source) {
    const keep = predicate(item, i++);
    if (isPromiseLike(keep) ? await keep : keep) yield item;
  }
}

/**
 * Lazily maps a (sync or async) iterable.
 *
 * @example
 * mapAsync(readManifest(p), (e) => ({ ...e, dir: windowDir(e) }))
 */
export async function* mapAsync<T, R>(
  source: Iterable<T> | AsyncIterable<T>,
  fn: (item: T, index: number) => R | Promise<R>,
): AsyncGenerator<R, void, undefined> {
  let i = 0;
  for await (const item of source) {
    const r = fn(item, i++);
    yield isPromiseLike<R>(r) ? await r : r;
  }
}
