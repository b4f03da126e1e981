import { Observable, type OperatorFunction } from 'rxjs';
import { wholeNumber } from '../options.js';

/**
 * Groups consecutive items into arrays of `size`; the last, partial batch is emitted on completion
 * (nothing for an empty source). Unlike `bufferCount`, this is explicit about errors: a partial batch
 * is dropped when the source errors, because an uncommitted partial batch must never be published
 * (its items are re-done on restart).
 *
 * @example
 * symbolsWithEvents$.pipe(batchBySymbols(50), concatMap((batch) => publishShard(batch)));
 * @throws {InputError} if `size` is not a whole number ≥ 1.
 */
export function batchBySymbols<T>(size: number): OperatorFunction<T, T[]> {
  wholeNumber('batchBySymbols', 'size', size);
  return (source) =>
    new Observable<T[]>((subscriber) => {
      let batch: T[] = [];
      const sub = source.subscribe({
        next: (item) => {
          batch.push(item);
          if (batch.length === size) {
            const full = batch;
            batch = [];
            subscriber.next(full);
          }
        },
        error: (err: unknown) => {
          batch = [];
          subscriber.error(err);
        },
        complete: () => {
          if (batch.length > 0) {
            const last = batch;
            batch = [];
            subscriber.next(last);
          }
          subscriber.complete();
        },
      });
      return () => {
        batch = [];
        sub.unsubscribe();
      };
    });
}
