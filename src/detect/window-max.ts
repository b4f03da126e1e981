/**
 * flush's window high: the highest value among the bars of the current NY day that started at or
 * after `t - span` and strictly before `t` (the membership rule of flush's Polars expressions).
 * A monotonic deque: each bar enters and leaves once, so the cost per bar is constant whatever
 * the lookback, where the Polars plan evaluates one shifted column per lookback minute.
 */
export class WindowMax {
  /** Times and values of the candidates for the maximum, values strictly decreasing from `head`. */
  private readonly times: Float64Array;
  private readonly values: Float64Array;
  private readonly mask: number;
  private head = 0;
  private tail = 0;

  /**
   * `capacity` bounds how many bars can be in the window at once: with bars on distinct whole
   * minutes a window of `span` minutes holds at most `span` + 1 of them.
   */
  constructor(
    private readonly span: number,
    capacity: number,
  ) {
    let size = 1;
    while (size < capacity) size *= 2;
    this.times = new Float64Array(size);
    this.values = new Float64Array(size);
    this.mask = size - 1;
  }

  /** Empties the window (a new symbol or NY day). */
  clear(): void {
    this.head = 0;
    this.tail = 0;
  }

  /**
   * Highest value among the bars added at or after `t - span`, or NaN when there is none; set by
   * {@link step}. A field rather than a return value: V8 boxes a double returned by a call it does
   * not inline, garbage at every bar.
   */
  max = Number.NaN;

  /**
   * The bar at `src[tSlot]` with value `src[xSlot]`: sets {@link max} over the earlier bars of the
   * window, then adds the bar. Inputs come in a Float64Array for the same reason as {@link max}.
   */
  step(src: Float64Array, tSlot: number, xSlot: number): void {
    const t = src[tSlot]!;
    const x = src[xSlot]!;
    const times = this.times, values = this.values, mask = this.mask;
    const oldest = t - this.span;
    while (this.head !== this.tail && times[this.head & mask]! < oldest) this.head++;
    this.max = this.head === this.tail ? Number.NaN : values[this.head & mask]!;
    // Earlier values <= x can never be the maximum again (x stays in the window at least as long);
    // dropping equal ones keeps the same maximum value.
    while (this.tail !== this.head && values[(this.tail - 1) & mask]! <= x) this.tail--;
    times[this.tail & mask] = t;
    values[this.tail & mask] = x;
    this.tail++;
  }
}
