/** `flush`: a sharp drop below the recent high. */
import pl from 'nodejs-polars';
import { candidateColumns, type Detector } from './detector.js';
import { MAX_COOLDOWN_MINUTES, checkKeys, numberOption } from './options.js';

/** Options of {@link flush}. */
export interface FlushOptions {
  /** Minimum drop of the close below the lookback high, in percent. @default 10 */
  readonly dropPct?: number;
  /** Length of the time-based lookback window, in minutes. @default 15 */
  readonly lookbackMinutes?: number;
  /** Minutes after an event during which further flushes of the same day are dropped. @default 30 */
  readonly cooldownMinutes?: number;
}

const NAME = 'flush';
const MINUTE_MS = 60_000;
/** Each lookback minute costs one shifted column; beyond a session-length window it stops making sense. */
const MAX_LOOKBACK_MINUTES = 240;

/**
 * A bar whose close is at least `dropPct` % below the highest high of the bars of the same NY day
 * that started strictly before it and no more than `lookbackMinutes` earlier
 * (t - lookback <= t_prev < t). The window is time-based: missing minutes shrink it, they do not
 * stretch it back. No previous bar in the window, no event. Any session.
 * measure `drop_pct` = (window high - close) / window high * 100.
 */
export function flush(options: FlushOptions = {}): Detector {
  checkKeys(NAME, options, ['dropPct', 'lookbackMinutes', 'cooldownMinutes']);
  const dropPct = numberOption(NAME, 'dropPct', options.dropPct, 10, { min: 0, minExclusive: true, max: 100 });
  const lookbackMinutes = numberOption(NAME, 'lookbackMinutes', options.lookbackMinutes, 15, {
    min: 1,
    max: MAX_LOOKBACK_MINUTES,
    integer: true,
  });
  const cooldownMinutes = numberOption(NAME, 'cooldownMinutes', options.cooldownMinutes, 30, {
    min: 0,
    max: MAX_COOLDOWN_MINUTES,
  });
  const lookbackMs = lookbackMinutes * MINUTE_MS;
  // Every nodejs-polars Expr method call allocates a JS wrapper with hundreds of closures (~0.1-0.5 ms
  // here); building these ~100 calls per symbol cost more than running the query, so they are built
  // once per detector and reused for every symbol.
  //
  // nodejs-polars 0.24 has no time-based rolling window. Bars are unique whole minutes
  // (prepareBars), so the window holds at most `lookbackMinutes` bars: the k-th previous bar
  // for k = 1..lookback, masked when it is too old or from another day, covers it exactly.
  const t = pl.col('t');
  const day = pl.col('day');
  const h = pl.col('h');
  const oldest = t.sub(lookbackMs);
  const shifted: pl.Expr[] = [];
  for (let k = 1; k <= lookbackMinutes; k++) {
    shifted.push(pl.when(day.shift(k).eq(day).and(t.shift(k).gtEq(oldest))).then(h.shift(k)).otherwise(pl.lit(null)));
  }
  const windowHigh = pl.maxHorizontal(shifted).alias('window_high');
  const high = pl.col('window_high');
  const c = pl.col('c');
  // Compared as a difference rather than a ratio so that a drop of exactly dropPct
  // (10 → 9 at 10%) is not lost to rounding.
  const isFlush = high.sub(c).gtEq(high.mul(dropPct / 100)).and(high.gt(0)).fillNull(false);
  const columns = candidateColumns(high.sub(c).div(high).mul(100));
  return {
    name: NAME,
    description: `close >= ${dropPct}% below the highest high of the previous ${lookbackMinutes} minutes (same day); cooldown ${cooldownMinutes} min`,
    measure: 'drop_pct',
    cooldownMinutes,
    settings: { dropPct, lookbackMinutes, cooldownMinutes },
    candidates: (bars) => bars.withColumns(windowHigh).filter(isFlush).select(...columns),
  };
}
