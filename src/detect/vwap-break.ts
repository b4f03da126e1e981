/** `vwap_break`: the close crosses above the day's VWAP. */
import pl from 'nodejs-polars';
import { candidateColumns, type Detector } from './detector.js';
import { registerKernelSpec } from './kernel-spec.js';
import { MAX_COOLDOWN_MINUTES, checkKeys, numberOption } from './options.js';

/** Options of {@link vwapBreak}. */
export interface VwapBreakOptions {
  /** Minutes after an event during which further breaks of the same day are dropped. @default 15 */
  readonly cooldownMinutes?: number;
}

const NAME = 'vwap_break';

/**
 * A bar whose close is strictly above the day VWAP (cumulative from 04:00 NY) while the previous bar
 * of the same NY day closed strictly below the VWAP as it stood at that bar. Any session.
 * measure `vwap_dist_pct` = (close / day VWAP - 1) * 100.
 */
export function vwapBreak(options: VwapBreakOptions = {}): Detector {
  checkKeys(NAME, options, ['cooldownMinutes']);
  const cooldownMinutes = numberOption(NAME, 'cooldownMinutes', options.cooldownMinutes, 15, {
    min: 0,
    max: MAX_COOLDOWN_MINUTES,
  });
  // Built once per detector: Expr construction is the expensive part in nodejs-polars (see flush.ts).
  const c = pl.col('c');
  const vwap = pl.col('day_vwap');
  // A plain shift plus a same-day test is cheaper than shift().over('day') (no grouping).
  const crossed = pl
    .col('day')
    .shift(1)
    .eq(pl.col('day'))
    .and(c.shift(1).lt(vwap.shift(1)))
    .and(c.gt(vwap))
    .fillNull(false);
  const measure = c.div(vwap).sub(1).mul(100);
  const columns = candidateColumns(measure);
  // In the shared plan the same test, with sym_day as "same symbol and NY day".
  const symDay = pl.col('sym_day');
  const crossedInBatch = symDay.shift(1).eq(symDay).and(c.shift(1).lt(vwap.shift(1))).and(c.gt(vwap)).fillNull(false);
  return registerKernelSpec({
    name: NAME,
    description: `close crosses above the day VWAP (from 04:00 NY) after the previous bar closed below it; cooldown ${cooldownMinutes} min`,
    measure: 'vwap_dist_pct',
    cooldownMinutes,
    settings: { cooldownMinutes },
    candidates: (bars) => bars.filter(crossed).select(...columns),
    plan: { candidate: crossedInBatch, measure },
  }, { kind: NAME });
}
