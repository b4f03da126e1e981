import { Observable, type OperatorFunction } from 'rxjs';
import type { Quote } from '../types.js';
import { optionError } from '../options.js';

/**
 * Bucket width in ns for `hz` samples per second: `round(1e9 / hz)` (so 3 Hz → 333,333,333 ns).
 * @throws {InputError} unless `hz` is a finite number > 0 and ≤ 1e9.
 */
export function bucketNsForHz(hz: number): bigint {
  if (typeof hz !== 'number' || !Number.isFinite(hz) || hz <= 0 || hz > 1e9) {
    throw optionError('downsampleQuotes', 'hz', 'a number in (0, 1e9] or 0 to disable', hz);
  }
  return BigInt(Math.round(1e9 / hz));
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b < 0n ? q - 1n : q;
}

/**
 * Downsamples ascending pages of quotes to at most one per bucket of `1e9/hz` ns, keeping the LAST
 * quote of each bucket (the NBBO in force at the bucket's end). Buckets are aligned to the epoch
 * (`floor(sip_timestamp / bucketNs)`, bigint math), so they do not depend on where pages split: a
 * bucket that continues across a page boundary is held until a later bucket (or completion) shows
 * up. The output, flattened, equals downsampling the concatenated input; at most one quote is held.
 * Pages that release nothing are not emitted. `hz = 0` passes pages through unchanged.
 *
 * @example
 * client.quotes$(symbol, from, to).pipe(map((p) => p.results), downsampleQuotes(10)); // ≤ 10/s
 * @throws {InputError} for a bad `hz`; the stream errors (RangeError) if a quote goes back to an earlier bucket.
 */
export function downsampleQuotes(hz: number): OperatorFunction<Quote[], Quote[]> {
  if (hz === 0) return (source) => source;
  const bucketNs = bucketNsForHz(hz);
  return (source) =>
    new Observable<Quote[]>((subscriber) => {
      let held: Quote | undefined;
      let heldBucket = 0n;
      return source.subscribe({
        next: (page) => {
          const out: Quote[] = [];
          for (const q of page) {
            const b = floorDiv(q.sip_timestamp, bucketNs);
            if (held === undefined || b === heldBucket) {
              held = q;
              heldBucket = b;
            } else if (b > heldBucket) {
              out.push(held);
              held = q;
              heldBucket = b;
            } else {
              subscriber.error(
                new RangeError(
                  `downsampleQuotes: quotes out of order (sip_timestamp ${q.sip_timestamp} after ${held.sip_timestamp})`,
                ),
              );
              return;
            }
          }
          if (out.length > 0) subscriber.next(out);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          if (held !== undefined) subscriber.next([held]);
          held = undefined;
          subscriber.complete();
        },
      });
    });
}
