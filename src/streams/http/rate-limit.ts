/**
 * The rate-limit layer: the one place that talks to the bucket (a {@link RateLimiter}: the local
 * TokenBucket, or the cluster's RedisTokenBucket). Every try waits for a token before it is sent
 * ({@link gateByBucket}); every reply is fed back ({@link rateLimitFeedback}): a success to
 * `onSuccess` (ends a run of 429s, recovers an adaptive rate), a 429 to `onRateLimited` with the
 * server's Retry-After, which the bucket caps; the RateLimitedError handed up carries the capped
 * value, so the retry never waits longer than the bucket does.
 *
 * Why the bucket sits in the client and not as a `rateLimit` operator in the stages' streams: the
 * quota counts requests, and only the client sees each of them. One window of stage 2 is an unknown
 * number of pages (next_url), and each page may be tried several times; a `rateLimit` before
 * `mergeMap(window)` would take one token per window and let its other pages and all retries through
 * unpaced. The `rateLimit` operator stays for streams where one value is one request.
 */
import { concatMap, defer, finalize, Observable } from 'rxjs';
import { RateLimitedError } from '../../errors.js';
import type { RateLimiter } from '../../operators/token-bucket.js';
import type { HttpLogger, Interceptor } from './layer.js';
import type { HttpMetrics } from './metrics.js';

/** Longest Retry-After honoured when there is no bucket to cap it (the bucket's own default cap). */
const UNBUCKETED_RETRY_AFTER_CAP_MS = 60_000;

/**
 * `try$` subscribed only once `bucket` grants a token (at once without a bucket). `try$` gets the
 * callback to call when its request is written (the transport calls it): a bucket that tracks sends
 * counts its sliding second by when requests left, not when they were granted; a try that ends
 * without sending tells the bucket so.
 */
export function gateByBucket<T>(bucket: RateLimiter | undefined, try$: (onSent?: () => void) => Observable<T>): Observable<T> {
  if (!bucket) return defer(() => try$());
  return defer(() => bucket.acquire()).pipe(
    concatMap(() => {
      // Synchronously inside the grant: the bucket counts this request before it grants the next.
      const report = bucket.trackSend?.();
      return report ? defer(() => try$(report.sent)).pipe(finalize(report.unsent)) : try$();
    }),
  );
}

/** Feeds every reply of the layers below back to `bucket`, counting and logging 429s. */
export function rateLimitFeedback(bucket: RateLimiter | undefined, metrics: HttpMetrics, logger: HttpLogger | undefined): Interceptor {
  return (next) => async (req) => {
    let res;
    try {
      res = await next(req);
    } catch (e) {
      if (!(e instanceof RateLimitedError)) throw e;
      const askedMs = e.retryAfterMs;
      // A Retry-After of an hour must not stop the run for an hour: the bucket caps the pause, and
      // the retry of this request waits no longer than the bucket does.
      const retryAfterMs = bucket ? bucket.capRetryAfter(askedMs) : askedMs === undefined ? undefined : Math.min(askedMs, UNBUCKETED_RETRY_AFTER_CAP_MS);
      metrics.rateLimited++;
      bucket?.onRateLimited(askedMs);
      logger?.warn?.({ path: req.label, retryAfterMs, ...(askedMs !== retryAfterMs ? { serverAskedMs: askedMs } : {}) }, 'rate limited (429)');
      throw retryAfterMs === askedMs ? e : new RateLimitedError(e.message, retryAfterMs);
    }
    bucket?.onSuccess();
    return res;
  };
}
