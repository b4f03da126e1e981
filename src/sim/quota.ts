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
