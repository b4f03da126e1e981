import { asyncScheduler, retry, throwError, timer, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import { isRetryable, RateLimitedError } from '../errors.js';
import { optionError } from '../options.js';

/** Options of {@link retryBackoff}; all optional, validated when the operator is created. */
export interface RetryBackoffOptions {
  /**
   * Total tries including the first subscription; `1` disables retries.
   * @default 8
   */
  readonly maxAttempts?: number;
  /**
   * Backoff ceiling of the first retry, doubled on each further one.
   * @default 200
   */
  readonly baseMs?: number;
  /**
   * Largest backoff ceiling.
   * @default 30_000
   */
  readonly capMs?: number;
  /**
   * Whether the error of failed try number `attempt` (1-based) is worth another try.
   * @default isRetryable (tickpipe errors that declare themselves retryable)
   */
  readonly shouldRetry?: (err: unknown, attempt: number) => boolean;
  /**
   * Scheduler of the backoff timers.
   * @default asyncScheduler
   */
  readonly scheduler?: SchedulerLike;
  /**
   * Source of jitter in [0, 1).
   * @default Math.random
   */
  readonly random?: () => number;
  /** Called before each retry with the error, the failed try number (1-based) and the delay. */
  readonly onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /**
   * Reset the try counter whenever the source emits (for long-lived sources).
   * @default false
   */
  readonly resetOnValue?: boolean;
  /**
   * A 429 ({@link RateLimitedError}) is retried at once, without a backoff timer or waiting its
   * Retry-After here: for callers whose every try waits for a token of a TokenBucket that was told
   * about the 429 (`onRateLimited`) and pauses all dispatch itself. The request is simply requeued,
   * and a graceful stop can drop it while the bucket is paused.
   * @default false
   */
  readonly rateLimitedWaitsInBucket?: boolean;
}


/** Backoff ceiling before retry number `attempt` (1-based): `min(capMs, baseMs * 2^(attempt-1))`. */
export function backoffCeiling(attempt: number, baseMs: number, capMs: number): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

/**
 * Resubscribes the source after a retryable error, waiting an exponential backoff with full jitter:
 * `delay = random() * min(capMs, baseMs * 2^(attempt - 1))` where `attempt` is the 1-based number of
 * the try that failed. A {@link RateLimitedError} with `retryAfterMs` waits at least that long.
 *
 * Non-retryable errors pass through at once. When `maxAttempts` tries have failed, the last error is
 * rethrown unchanged (not wrapped), so callers keep classifying on its `code`.
 *
 * Put it around a single request (not a whole paged listing) so a retry repeats only what failed.
 *
 * @example
 * defer(() => send(req)).pipe(retryBackoff({ maxAttempts: 5, onRetry: (e, n, ms) => log.warn({ n, ms }, 'retry') }));
 */
export function retryBackoff<T>(options: RetryBackoffOptions = {}): MonoTypeOperatorFunction<T> {
  if (options === null || typeof options !== 'object') throw optionError('retryBackoff', 'options', 'an options object', options);
  const maxAttempts = options.maxAttempts ?? 8;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw optionError('retryBackoff', 'maxAttempts', 'an integer >= 1', maxAttempts);
  const baseMs = options.baseMs ?? 200;
  if (typeof baseMs !== 'number' || !Number.isFinite(baseMs) || baseMs < 0) throw optionError('retryBackoff', 'baseMs', 'a finite number >= 0', baseMs);
  const capMs = options.capMs ?? 30_000;
  if (typeof capMs !== 'number' || !Number.isFinite(capMs) || capMs < 0) throw optionError('retryBackoff', 'capMs', 'a finite number >= 0', capMs);
  const shouldRetry = options.shouldRetry ?? ((err: unknown) => isRetryable(err));
  if (typeof shouldRetry !== 'function') throw optionError('retryBackoff', 'shouldRetry', 'a function', shouldRetry);
  const random = options.random ?? Math.random;
  if (typeof random !== 'function') throw optionError('retryBackoff', 'random', 'a function', random);
  const scheduler = options.scheduler ?? asyncScheduler;
  if (typeof scheduler !== 'object' || typeof scheduler.schedule !== 'function') throw optionError('retryBackoff', 'scheduler', 'a SchedulerLike', scheduler);
  const onRetry = options.onRetry;
  const waitsInBucket = options.rateLimitedWaitsInBucket ?? false;
  if (onRetry !== undefined && typeof onRetry !== 'function') throw optionError('retryBackoff', 'onRetry', 'a function', onRetry);

  return retry<T>({
    resetOnSuccess: options.resetOnValue ?? false,
    delay: (err: unknown, attempt: number) => {
      if (attempt >= maxAttempts || !shouldRetry(err, attempt)) return throwError(() => err);
      if (waitsInBucket && err instanceof RateLimitedError) {
        onRetry?.(err, attempt, 0);
        return timer(0, scheduler);
      }
      const r = random();
      let delay = Math.floor((Number.isFinite(r) ? Math.min(1, Math.max(0, r)) : 0) * backoffCeiling(attempt, baseMs, capMs));
      if (err instanceof RateLimitedError && err.retryAfterMs !== undefined && err.retryAfterMs > delay) {
        delay = err.retryAfterMs;
      }
      onRetry?.(err, attempt, delay);
      return timer(delay, scheduler);
    },
  });
}
