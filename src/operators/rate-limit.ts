import { concatMap, map, type MonoTypeOperatorFunction } from 'rxjs';
import { TokenBucket } from './token-bucket.js';
import { optionError } from '../options.js';

/**
 * Delays each source value until it holds a token of `bucket`; order is kept.
 *
 * Share one bucket between every stream that talks to the same quota: the bucket, not the operator,
 * is the limit. Values wait in the operator while the previous one waits for its token, so at most
 * one waiter per subscription sits in the bucket's FIFO and concurrent streams are served fairly.
 *
 * @example
 * const bucket = new TokenBucket({ rate: 20 });
 * symbols$.pipe(rateLimit(bucket), mergeMap((s) => fetchBars(s), 16));
 */
export function rateLimit<T>(bucket: TokenBucket): MonoTypeOperatorFunction<T> {
  if (!(bucket instanceof TokenBucket)) {
    throw optionError('rateLimit', 'bucket', 'a TokenBucket', bucket);
  }
  return concatMap((value: T) => bucket.acquire().pipe(map(() => value)));
}
