/**
 * The server-side quota: a token bucket of capacity one second's worth of requests
 * (`max(rate, 1)` tokens, so rates below 1/s still admit single requests), refilled continuously.
 * It starts full, so a client may burst one second's worth, then sustain `rate` per second.
 */
export class QuotaBucket {
  private tokens: number;
  private last: number;
  readonly capacity: number;

  constructor(
    readonly rate: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.capacity = Math.max(rate, 1);
    this.tokens = this.capacity;
    this.last = this.now();
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
  }

  /** Takes a token; false when none is available. */
  take(): boolean {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /** Whole seconds until a token is available, at least 1 (the Retry-After value). */
  retryAfterSeconds(): number {
    this.refill();
    return Math.max(1, Math.ceil((1 - this.tokens) / this.rate));
  }
}

/**
 * The strict server-side quota: a sliding window. A request is admitted only if fewer than
 * `limit` requests were admitted in the preceding `windowMs` (1000 ms, or `1000 / rate` ms for
 * rates below 1/s with a limit of 1). Refused requests do not count. No burst is tolerated: a
 * client whose token bucket lets `rate + burst` requests into one second gets 429s.
 */
export class SlidingWindowQuota {
  readonly limit: number;
  readonly windowMs: number;
  /** Admission times of the last `limit` admitted requests, as a ring. */
  private readonly ring: Float64Array;
  private next = 0;

  constructor(
    readonly rate: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.limit = Math.max(1, Math.floor(rate));
    this.windowMs = rate >= 1 ? 1000 : 1000 / rate;
    this.ring = new Float64Array(this.limit).fill(-Infinity);
  }

  /** Admits a request; false when `limit` requests were admitted within the last window. */
  take(): boolean {
    const t = this.now();
    // ring[next] is the oldest of the last `limit` admissions.
    if (t - this.ring[this.next]! < this.windowMs) return false;
    this.ring[this.next] = t;
    this.next = (this.next + 1) % this.limit;
    return true;
  }

  /** Whole seconds until the oldest admission leaves the window, at least 1 (the Retry-After value). */
  retryAfterSeconds(): number {
    const wait = this.ring[this.next]! + this.windowMs - this.now();
    return Math.max(1, Math.ceil(wait / 1000));
  }
}
