/**
 * The pluggable detector interface. The four built-in detectors implement exactly this interface;
 * a user detector is any object of the same shape.
 */
import pl from 'nodejs-polars';

/** What a detector knows besides the bars. */
export interface DetectorContext {
  readonly symbol: string;
}

/**
 * An event detector: a lazy Polars query over the prepared minute bars of ONE symbol.
 *
 * `candidates` returns every bar that qualifies; {@link detectEvents} then keeps at most one event
 * per `cooldownMinutes` (or per NY day with `oncePerDay`) for each detector and NY day, in time order.
 * Building the query must be cheap and must not collect: all detectors of a symbol run in one
 * asynchronous `collect()`, off the event loop.
 *
 * Columns available in `bars` (see {@link prepareBars}): `t` (UTC ms, Float64), `o h l c v vw n`
 * (Float64), `day` (NY date as YYYYMMDD, Int32), `minute` (NY minute of the day, Int32),
 * `session` ('PM' | 'RTH' | 'AH'), `day_vwap` (VWAP of the NY day from 04:00, Float64, null before
 * the first traded volume). Rows are sorted by `t`, unique in `t`, on whole minutes, within 04:00–20:00 NY.
 *
 * Build the Polars expressions once, outside `candidates`: in nodejs-polars every Expr method call
 * allocates a large JS wrapper (~0.1 ms), so a plan rebuilt per symbol can cost more than running it.
 *
 * @example
 * ```ts
 * import pl from 'nodejs-polars';
 * import { builtinDetectors, candidateColumns, detectEvents, type Detector } from 'tickpipe';
 *
 * // A close at least 20% above the previous close of the same NY day.
 * const gain = pl.col('c').div(pl.col('c').shift(1)).sub(1).mul(100);
 * // Computed before the filter: after it, shift(1) would see the previous candidate, not the previous bar.
 * const withGain = gain.alias('gain');
 * const isGap = pl.col('day').shift(1).eq(pl.col('day')).and(pl.col('gain').gtEq(20));
 * const columns = candidateColumns(pl.col('gain'));
 * const gapUp: Detector = {
 *   name: 'gap_up',
 *   description: 'close >= 20% above the previous close of the same NY day; cooldown 60 min',
 *   measure: 'gain_pct',
 *   cooldownMinutes: 60,
 *   candidates: (bars) => bars.withColumns(withGain).filter(isGap).select(...columns),
 * };
 * const rows = await detectEvents(bars, 'ABCD', [...builtinDetectors(), gapUp]);
 * ```
 */
export interface Detector {
  /** `event_type` written in the rows, e.g. 'flush'. Unique among the detectors of a run. */
  readonly name: string;
  /** Human description including the thresholds in force. */
  readonly description: string;
  /** Name of the detector's measure (stored in the row's `measure`), e.g. 'drop_pct'. */
  readonly measure: string;
  /**
   * Given the prepared bars of one symbol, a LazyFrame of candidate rows with at least the columns
   * `t` (the bar's UTC ms), `price`, `volume`, `vwap`, `measure` (numbers). Extra columns are ignored.
   */
  candidates(bars: pl.LazyDataFrame, ctx: DetectorContext): pl.LazyDataFrame;
  /**
   * After an event, further candidates of the same NY day are dropped until this many minutes
   * have passed (a candidate exactly `cooldownMinutes` later is kept).
   * @default 0 (every candidate bar is an event)
   */
  readonly cooldownMinutes?: number;
  /** At most one event per NY day (the first candidate). @default false */
  readonly oncePerDay?: boolean;
  /** The settings in force, for run identity and reports (JSON-serialisable). */
  readonly settings?: Readonly<Record<string, number | boolean | string>>;
  /**
   * Optional: the detector's part of the shared batch plan. With it, the detector runs inside the
   * one lazy plan that `detectEventsBatch` builds over a batch of symbols (shared columns computed
   * once, one asynchronous `collect()`); without it, `candidates` runs as its own per-symbol pass.
   * `detectEvents` (and so `run`'s stage 1) uses `candidates`: for one symbol that pass is faster
   * (BENCHMARKS.md, benchmark 4). The built-in detectors have both, but as their factories return
   * them they run in neither: `detectEvents` and `detectEventsBatch` compute them in a JS kernel
   * giving the same rows (`engine: 'polars'` of detectEventsBatch runs their plan parts instead).
   */
  readonly plan?: SharedPlanPart;
}

/**
 * A detector's expressions in the shared plan. The plan's frame holds SEVERAL symbols one after
 * another, sorted by (`sym`, `t`): besides the columns listed on {@link Detector}, it has `sym`
 * (Int32, the symbol's position in the batch) and `sym_day` (Int32, one value per symbol and NY
 * day, increasing down the rows). So a window must not cross a symbol: use `over('sym')` where a
 * per-symbol frame would need no grouping, `over('sym_day')` instead of `over('day')`, and
 * `pl.col('sym_day').shift(k).eq(pl.col('sym_day'))` as the "same symbol, same NY day" test.
 *
 * Every candidate reports price = close, volume = `v`, vwap = `day_vwap` (as
 * {@link candidateColumns}), and `measure`.
 *
 * @example
 * ```ts
 * // gap_up of the Detector example, as a shared-plan part:
 * const gain = pl.col('c').div(pl.col('c').shift(1)).sub(1).mul(100);
 * const plan = {
 *   columns: [[gain.alias('gap_up_gain')]],
 *   candidate: pl.col('sym_day').shift(1).eq(pl.col('sym_day')).and(pl.col('gap_up_gain').gtEq(20)),
 *   measure: pl.col('gap_up_gain'),
 * };
 * ```
 */
export interface SharedPlanPart {
  /**
   * Columns the detector adds to the shared frame, as successive `withColumns` stages (stage k of
   * every detector is added in one `withColumns`). Name them after the detector (e.g.
   * `flush_window_high`): names must not clash with another detector's.
   */
  readonly columns?: readonly (readonly pl.Expr[])[];
  /** Boolean: this bar is a candidate (null counts as false). Evaluated over every row. */
  readonly candidate: pl.Expr;
  /**
   * The candidate's measure. Evaluated on the candidate rows only, after the filter: it must be
   * row-local (put shifts and windows in `columns`).
   */
  readonly measure: pl.Expr;
}

/**
 * The usual candidate columns of a bar-level event: `t`, `price` = close, `volume` = bar volume,
 * `vwap` = day VWAP, and the given `measure`.
 */
export function candidateColumns(measure: pl.Expr): pl.Expr[] {
  return [
    pl.col('t'),
    pl.col('c').alias('price'),
    pl.col('v').alias('volume'),
    pl.col('day_vwap').alias('vwap'),
    measure.alias('measure'),
  ];
}
