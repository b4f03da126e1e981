/** `opening_range_break`: the first RTH close above the high of the opening range. */
import pl from 'nodejs-polars';
import { RTH_END_MINUTE, RTH_START_MINUTE } from './calendar.js';
import { candidateColumns, type Detector } from './detector.js';
import { registerKernelSpec } from './kernel-spec.js';
import { checkKeys, numberOption } from './options.js';

/** Options of {@link openingRangeBreak}. */
export interface OpeningRangeBreakOptions {
  /**
   * Length of the opening range from 09:30 NY: bars with NY time in [09:30, 09:30 + rangeMinutes).
   * @default 5
   */
  readonly rangeMinutes?: number;
}

const NAME = 'opening_range_break';

/**
 * The first RTH bar of a NY day, at or after the end of the opening range (09:35 by default), whose
 * close is strictly above the highest high of the opening-range bars. At most one event per
 * symbol-day; no event on a day without any bar in the opening range.
 * measure `break_pct` = (close / range high - 1) * 100.
 */
export function openingRangeBreak(options: OpeningRangeBreakOptions = {}): Detector {
  checkKeys(NAME, options, ['rangeMinutes']);
  const rangeMinutes = numberOption(NAME, 'rangeMinutes', options.rangeMinutes, 5, {
    min: 1,
    max: RTH_END_MINUTE - RTH_START_MINUTE - 1,
    integer: true,
  });
  const rangeEnd = RTH_START_MINUTE + rangeMinutes;
  // Expressions are built once per detector, not per symbol: every nodejs-polars Expr method call
  // allocates a large JS wrapper, which made per-symbol plan building cost more than the query.
  const minute = pl.col('minute');
  const orHigh = pl
    .when(minute.gtEq(RTH_START_MINUTE).and(minute.lt(rangeEnd)))
    .then(pl.col('h'))
    .otherwise(pl.lit(null))
    .max()
    .over('day')
    .alias('or_high');
  const isBreak = minute
    .gtEq(rangeEnd)
    .and(minute.lt(pl.col('rth_end')))
    .and(pl.col('c').gt(pl.col('or_high')))
    .fillNull(false)
    .alias('is_break');
  // Keeping only the first break of each day in Polars means one row per day crosses into JS
  // instead of every bar that stays above the range.
  const firstBreak = pl.col('is_break').and(pl.col('is_break').cumSum().over('day').eq(1));
  const columns = candidateColumns(pl.col('c').div(pl.col('or_high')).sub(1).mul(100));
  // Shared plan: the same columns per symbol-day.
  const orHighInBatch = pl
    .when(minute.gtEq(RTH_START_MINUTE).and(minute.lt(rangeEnd)))
    .then(pl.col('h'))
    .otherwise(pl.lit(null))
    .max()
    .over('sym_day')
    .alias('orb_high');
  const isBreakInBatch = minute
    .gtEq(rangeEnd)
    .and(minute.lt(pl.col('rth_end')))
    .and(pl.col('c').gt(pl.col('orb_high')))
    .fillNull(false)
    .alias('orb_is_break');
  const brk = pl.col('orb_is_break');
  const plan = {
    columns: [[orHighInBatch], [isBreakInBatch]],
    candidate: brk.and(brk.cumSum().over('sym_day').eq(1)),
    measure: pl.col('c').div(pl.col('orb_high')).sub(1).mul(100),
  };
  return registerKernelSpec({
    name: NAME,
    description: `first RTH close above the high of the first ${rangeMinutes} RTH minutes (09:30 NY onward), once per day`,
    measure: 'break_pct',
    oncePerDay: true,
    settings: { rangeMinutes },
    candidates: (bars) => bars.withColumns(orHigh).withColumns(isBreak).filter(firstBreak).select(...columns),
    plan,
  }, { kind: NAME, rangeMinutes });
}
