/**
 * The retry layer: {@link retryBackoff} around one request (never a whole listing, so a retry
 * repeats only the page that failed). It wraps the bucket's gate, so every retry waits for a new
 * token; with a bucket, a 429 is requeued at once, since the bucket itself pauses all dispatch.
 */
import type { MonoTypeOperatorFunction } from 'rxjs';
import type { TickpipeError } from '../../errors.js';
import { retryBackoff, type RetryBackoffOptions } from '../../operators/retry-backoff.js';
import type { HttpLogger } from './layer.js';
import type { HttpMetrics } from './metrics.js';

/** The retry operator for a request of `label`; `false` disables retries. */
export function retryLayer<T>(
  r: RetryBackoffOptions | false,
  hasBucket: boolean,
  label: string,
  metrics: HttpMetrics,
  logger: HttpLogger | undefined,
): MonoTypeOperatorFunction<T> {
  if (r === false) return (source) => source;
  return retryBackoff<T>({
    ...r,
    // The bucket pauses for the 429 (capped Retry-After); the retry just queues for a token.
    ...(hasBucket ? { rateLimitedWaitsInBucket: true } : {}),
    onRetry: (err, attempt, delayMs) => {
      metrics.retries++;
      logger?.warn?.({ path: label, code: (err as TickpipeError)?.code, attempt, delayMs }, 'retrying request');
      r.onRetry?.(err, attempt, delayMs);
    },
  });
}
