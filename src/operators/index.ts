/**
 * tickpipe operators: one per file, each an RxJS `OperatorFunction` (or the token bucket behind
 * `rateLimit`).
 *
 * @example
 * import { TokenBucket, rateLimit, retryBackoff, stridePartition } from 'tickpipe/operators';
 */
export { TokenBucket, type TokenBucketOptions, type AdaptiveOptions, type TokenBucketStats, type RateLimiter, type SendReport } from './token-bucket.js';
export { rateLimit } from './rate-limit.js';
export { retryBackoff, backoffCeiling, type RetryBackoffOptions } from './retry-backoff.js';
export { stridePartition } from './stride-partition.js';
export { skipCompleted, type SkipCompletedOptions } from './skip-completed.js';
export { batchBySymbols } from './batch-by-symbols.js';
export { pausable } from './pausable.js';
export { downsampleQuotes, bucketNsForHz } from './downsample-quotes.js';
export { heartbeat } from './heartbeat.js';
export { dropPageRepeats, type PageRepeatCount } from './drop-page-repeats.js';
