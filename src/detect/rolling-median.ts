/**
 * The median of the last `size` values pushed, as Polars' `rollingMedian({ windowSize: size,
 * minPeriods })` computes it at the row of the last value (so the median before a push is Polars'
 * `rollingMedian(...).shift(1)` at the row being pushed). Polars takes quantile 0.5 with linear
 * interpolation: for an even count the two middle values a <= b give `a + (b - a) * 0.5`, which is
 * not always the same double as `(a + b) / 2` (checked on 200,000 random windows against
 * nodejs-polars 0.24.1: 0 differences with this formula, ~30% with `(a + b) / 2`).
 */
export class RollingMedian {
  /** The window's values in arrival order (ring buffer of `size`). */
  private readonly ring: Float64Array;
  /** The same values sorted ascending (first `count` entries). */
  private readonly sorted: Float64Array;
  private head = 0;
  private count = 0;

  constructor(
    private readonly size: number,
    private readonly minPeriods: number,
  ) {
    this.ring = new Float64Array(size);
    this.sorted = new Float64Array(size);
  }

  /** Empties the window (a new symbol, or a new day when the window does not span days). */
  clear(): void {
    this.head = 0;
    this.count = 0;
    this.median = Number.NaN;
  }

  /**
   * Median of the window before the last {@link step}, or NaN with fewer than `minPeriods` values.
   * A field rather than a return value: V8 boxes a double returned by a call it does not inline,
   * garbage at every bar.
   */
  median = Number.NaN;

  /**
   * Sets {@link median} for the window as it stands, then adds `src[slot]` (dropping the oldest
   * value once the window is full). Equal values are interchangeable in the sorted copy; -0 and 0
   * compare equal here, which can only swap the sign of a zero median, and a zero median never makes
   * an event (median > 0 is required). The input comes in a Float64Array for the same reason.
   */
  step(src: Float64Array, slot: number): void {
    const x = src[slot]!;
    const s = this.sorted;
    let n = this.count;
    if (n < this.minPeriods) this.median = Number.NaN;
    else if ((n & 1) === 1) this.median = s[(n - 1) >> 1]!;
    else {
      const a = s[(n >> 1) - 1]!;
      this.median = a + (s[n >> 1]! - a) * 0.5;
    }
    // Replace the oldest value in place (or append), then move the new one to its sorted position:
    // one pass over the values between the two positions, no native copy calls (which cost more
    // than the move for the default 30-bar window).
    let at = n === this.size ? lowerBound(s, n, this.ring[this.head]!) : n++;
    this.count = n;
    while (at > 0 && s[at - 1]! > x) {
      s[at] = s[at - 1]!;
      at--;
    }
    while (at < n - 1 && s[at + 1]! < x) {
      s[at] = s[at + 1]!;
      at++;
    }
    s[at] = x;
    this.ring[this.head] = x;
    this.head = this.head + 1 === this.size ? 0 : this.head + 1;
  }
}

/** First index in s[0, n) whose value is >= x. */
function lowerBound(s: Float64Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
