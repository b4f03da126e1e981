import { from, Observable, type ObservableInput, type Subscriber, Subscription } from 'rxjs';
import { wholeNumber } from '../options.js';

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
 * @throws {InputError} if `concurrency` is not a whole number ≥ 1.
 */
export function pullMap<T, R>(
  source: Iterable<T> | AsyncIterable<T>,
  project: (item: T, index: number) => ObservableInput<R>,
  concurrency: number,
  options: PullMapOptions = {},
): Observable<R> {
  wholeNumber('pullMap', 'concurrency', concurrency);
  return new Observable<R>((subscriber) => {
    const run = new PullRun(source, project, concurrency, subscriber);
    run.watchPause(options.paused$);
    run.pump();
    return () => run.teardown();
  });
}

/**
 * The state of one `pullMap` subscription: how many inners are active, whether the iterator is
 * exhausted or a `next()` is awaited, and whether pulling is paused. A class rather than closures
 * so each step (start an inner, take a result, pump, tear down) is a small method.
 */
class PullRun<T, R> {
  private readonly iterator: Iterator<T> | AsyncIterator<T>;
  private readonly inners = new Subscription();
  private pauseSub: Subscription | undefined;
  private active = 0;
  private index = 0;
  private exhausted = false;
  private closed = false;
  private awaitingNext = false;
  private paused = false;
  private pumping = false;
  private again = false;

  constructor(
    source: Iterable<T> | AsyncIterable<T>,
    private readonly project: (item: T, index: number) => ObservableInput<R>,
    private readonly concurrency: number,
    private readonly subscriber: Subscriber<R>,
  ) {
    this.iterator = isAsyncIterable(source) ? source[Symbol.asyncIterator]() : source[Symbol.iterator]();
  }

  watchPause(paused$: Observable<boolean> | undefined): void {
    this.pauseSub = paused$?.subscribe({
      next: (p) => {
        this.paused = p;
        if (!p) this.pump();
      },
      error: (err: unknown) => this.fail(err),
    });
  }

  private fail(err: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.subscriber.error(err);
  }

  private start(item: T): void {
    const i = this.index++;
    this.active++;
    let input: ObservableInput<R>;
    try {
      input = this.project(item, i);
    } catch (err) {
      this.fail(err);
      return;
    }
    const inner = new Subscription();
    this.inners.add(inner);
    let finished = false;
    const sub = from(input).subscribe({
      next: (v) => this.subscriber.next(v),
      error: (err: unknown) => this.fail(err),
      complete: () => {
        finished = true;
        this.inners.remove(inner);
        this.active--;
        this.pump();
      },
    });
    if (!finished) inner.add(sub);
  }

  private onResult(res: IteratorResult<T>): void {
    if (this.closed) return;
    if (res.done) this.exhausted = true;
    else this.start(res.value);
  }

  private canPull(): boolean {
    return !this.closed && !this.exhausted && !this.awaitingNext && !this.paused && this.active < this.concurrency;
  }

  /** Pulls one item; false when pulling must stop (the iterator threw). */
  private pullOne(): boolean {
    let res: IteratorResult<T> | Promise<IteratorResult<T>>;
    try {
      res = this.iterator.next();
    } catch (err) {
      this.fail(err);
      return false;
    }
    if (!isPromiseLike<IteratorResult<T>>(res)) {
      this.onResult(res);
      return true;
    }
    this.awaitingNext = true;
    res.then(
      (r) => {
        this.awaitingNext = false;
        this.onResult(r);
        this.pump();
      },
      (err: unknown) => {
        this.awaitingNext = false;
        this.fail(err);
      },
    );
    return true;
  }

  // A loop, not recursion: synchronous iterators with synchronous inners would otherwise nest
  // one stack frame per item.
  pump(): void {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.again = false;
        while (this.canPull()) if (!this.pullOne()) return;
      } while (this.again && !this.closed);
    } finally {
      this.pumping = false;
    }
    if (!this.closed && this.exhausted && this.active === 0 && !this.awaitingNext) {
      this.closed = true;
      this.subscriber.complete();
    }
  }

  teardown(): void {
    const wasExhausted = this.exhausted;
    this.closed = true;
    this.pauseSub?.unsubscribe();
    this.inners.unsubscribe();
    if (wasExhausted || typeof this.iterator.return !== 'function') return;
    try {
      const r = this.iterator.return();
      if (isPromiseLike(r)) r.then(undefined, () => undefined);
    } catch {
      // The consumer is gone; an iterator failing to clean up has nobody to report to.
    }
  }
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
