/** `volume_spike`: a bar trading many times its recent median volume. */
import pl from 'nodejs-polars';
import { candidateColumns, type Detector } from './detector.js';
import { registerKernelSpec } from './kernel-spec.js';
import { MAX_COOLDOWN_MINUTES, booleanOption, checkKeys, numberOption } from './options.js';

/** Options of {@link volumeSpike}. */
export interface VolumeSpikeOptions {
  /** Minimum ratio of the bar's volume to the rolling median. @default 5 */
  readonly multiple?: number;
  /** Number of previous bars (not minutes) in the rolling median. @default 30 */
  readonly windowBars?: number;
  /** Fewest previous bars needed for a median; fewer, no event. @default 10 */
  readonly minBars?: number;
  /** Minimum dollar volume of the bar, close × volume. @default 50000 */
  readonly minDollarVolume?: number;
  /**
   * Whether the window reaches back into previous days. With `true` the first bars of a day are
   * compared with the end of the previous trading day (so an early pre-market spike is caught);
   * with `false` the window restarts each NY day and the first `minBars` bars of a day never fire.
   * @default true
   */
  readonly acrossDays?: boolean;
  /** Minutes after an event during which further spikes of the same day are dropped. @default 15 */
  readonly cooldownMinutes?: number;
}

const NAME = 'volume_spike';

/**
 * A bar with volume >= `multiple` × the median volume of the previous `windowBars` bars (at least
 * `minBars` of them; median > 0) and close × volume >= `minDollarVolume`. The window counts bars of
 * the symbol within 04:00–20:00 NY, across days unless `acrossDays` is false. Any session.
 * Dollar volume uses the close rather than `vw` because some feeds leave `vw` empty.
 * measure `volume_ratio` = volume / median.
 */
export function volumeSpike(options: VolumeSpikeOptions = {}): Detector {
  checkKeys(NAME, options, ['multiple', 'windowBars', 'minBars', 'minDollarVolume', 'acrossDays', 'cooldownMinutes']);
  const multiple = numberOption(NAME, 'multiple', options.multiple, 5, { min: 0, minExclusive: true });
  const windowBars = numberOption(NAME, 'windowBars', options.windowBars, 30, { min: 1, max: 10_000, integer: true });
  const minBars = numberOption(NAME, 'minBars', options.minBars, Math.min(10, windowBars), {
    min: 1,
    max: windowBars,
    integer: true,
  });
  const minDollarVolume = numberOption(NAME, 'minDollarVolume', options.minDollarVolume, 50_000, { min: 0 });
  const acrossDays = booleanOption(NAME, 'acrossDays', options.acrossDays, true);
  const cooldownMinutes = numberOption(NAME, 'cooldownMinutes', options.cooldownMinutes, 15, {
    min: 0,
    max: MAX_COOLDOWN_MINUTES,
  });
  // Built once per detector: Expr construction is the expensive part in nodejs-polars (see flush.ts).
  const v = pl.col('v');
  // Median of bars i-windowBars..i-1 is the rolling median ending at i-1, shifted down one row.
  let rolling = v.rollingMedian({ windowSize: windowBars, minPeriods: minBars }).shift(1);
  if (!acrossDays) rolling = rolling.over('day');
  const median = rolling.alias('median_v');
  const med = pl.col('median_v');
  const isSpike = med
    .gt(0)
    .and(v.gtEq(med.mul(multiple)))
    .and(pl.col('c').mul(v).gtEq(minDollarVolume))
    .fillNull(false);
  const columns = candidateColumns(v.div(med));
  // Shared plan: the same window, restarted at each symbol (and each symbol-day without acrossDays).
  const batchMedian = v
    .rollingMedian({ windowSize: windowBars, minPeriods: minBars })
    .shift(1)
    .over(acrossDays ? 'sym' : 'sym_day')
    .alias('volume_spike_median');
  const batchMed = pl.col('volume_spike_median');
  const isSpikeInBatch = batchMed
    .gt(0)
    .and(v.gtEq(batchMed.mul(multiple)))
    .and(pl.col('c').mul(v).gtEq(minDollarVolume))
    .fillNull(false);
  return registerKernelSpec({
    name: NAME,
    description:
      `volume >= ${multiple}x the median of the previous ${windowBars} bars (min ${minBars}, ` +
      `${acrossDays ? 'across days' : 'same day'}) and close*volume >= $${minDollarVolume}; cooldown ${cooldownMinutes} min`,
    measure: 'volume_ratio',
    cooldownMinutes,
    settings: { multiple, windowBars, minBars, minDollarVolume, acrossDays, cooldownMinutes },
    candidates: (bars) => bars.withColumns(median).filter(isSpike).select(...columns),
    plan: { columns: [[batchMedian]], candidate: isSpikeInBatch, measure: v.div(batchMed) },
  }, { kind: NAME, multiple, windowBars, minBars, minDollarVolume, acrossDays });
}
