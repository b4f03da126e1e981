/**
 * A user detector: "gap_up", the first regular-session bar of a day that opens at least
 * `minGapPct` percent above the previous trading day's last close.
 *
 * It is a plain object implementing tickpipe's `Detector` interface, exactly like the four
 * built-ins. Compiled (`npx tsc -p tsconfig.examples.json`), this file is also a valid
 * `--detector-module` for the CLI: its default export is a `gap_up` detector with default settings.
 *
 *   tickpipe run --detector-module dist-examples/gap-up.js --detectors gap_up,flush
 */
import pl from 'nodejs-polars';
import { InputError, type Detector } from 'tickpipe';

/** Options of {@link gapUp}. */
export interface GapUpOptions {
  /** Smallest gap, in percent of the previous day's close. @default 5 */
  readonly minGapPct?: number;
}

/**
 * @example
 * detectStage({ ..., detectors: [gapUp({ minGapPct: 8 }), ...builtinDetectors()] });
 */
export function gapUp(opts: GapUpOptions = {}): Detector {
  const minGapPct = opts.minGapPct ?? 5;
  if (typeof minGapPct !== 'number' || !Number.isFinite(minGapPct) || minGapPct <= 0) {
    throw new InputError(`gapUp: minGapPct must be a number > 0, got ${String(minGapPct)} (${typeof minGapPct})`);
  }
  // Built once per detector, not per symbol: building nodejs-polars Exprs is the expensive part.
  const newDay = pl.col('day').neq(pl.col('day').shift(1));
  // The previous row's close on a day's first row is the previous day's last close; carry it forward.
  const prevClose = pl.when(newDay).then(pl.col('c').shift(1)).otherwise(pl.lit(null)).forwardFill();
  const isRth = pl.col('session').eq(pl.lit('RTH'));
  const firstRth = isRth.and(isRth.cast(pl.Int32).cumSum().over('day').eq(1));
  const gapPct = pl.col('o').div(prevClose).sub(1).mul(100);
  const withMeasures = [gapPct.alias('measure'), firstRth.alias('first_rth')];
  const isGap = pl.col('first_rth').and(pl.col('measure').gtEq(minGapPct));
  const columns = [pl.col('t'), pl.col('o').alias('price'), pl.col('v').alias('volume'), pl.col('day_vwap').alias('vwap'), pl.col('measure')];
  return Object.freeze({
    name: 'gap_up',
    description: `first RTH bar opens >= ${minGapPct}% above the previous day's close; once per day`,
    measure: 'gap_pct',
    oncePerDay: true,
    settings: Object.freeze({ minGapPct }),
    // Measures are computed over the whole day before filtering: shift/over on filtered rows would be wrong.
    candidates: (bars: pl.LazyDataFrame) => bars.withColumns(...withMeasures).filter(isGap).select(...columns),
  });
}

/** The `--detector-module` form: one `gap_up` detector with default settings. */
export default gapUp();
