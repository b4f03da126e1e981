/** `flush`: a sharp drop below the recent high. */
import pl from 'nodejs-polars';
import { candidateColumns, type Detector, type SharedPlanPart } from './detector.js';
import { registerKernelSpec } from './kernel-spec.js';
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
  return registerKernelSpec({
    name: NAME,
    description: `close >= ${dropPct}% below the highest high of the previous ${lookbackMinutes} minutes (same day); cooldown ${cooldownMinutes} min`,
    measure: 'drop_pct',
    cooldownMinutes,
    settings: { dropPct, lookbackMinutes, cooldownMinutes },
    candidates: (bars) => bars.withColumns(windowHigh).filter(isFlush).select(...columns),
    plan: sharedPlanPart(dropPct, lookbackMinutes),
  }, { kind: NAME, dropPct, lookbackMinutes });
}

/**
 * flush in the shared plan. One key per bar, `sym_day * 2048 + minute`, makes "same symbol, same NY
 * day, at most `lookbackMinutes` earlier" a single comparison `key[i-k] >= key - lookback`: keys of
 * earlier symbol-days are at least 2048 - 1440 > 240 lower, and inside one NY day's 04:00–20:00 the
 * NY minute advances exactly with UTC (the DST switch is at 02:00). Half the work of the day + time
 * test of `candidates`, the same window, so the same events.
 */
function sharedPlanPart(dropPct: number, lookbackMinutes: number): SharedPlanPart {
  const key = pl.col('sym_day').cast(pl.Float64).mul(2048).add(pl.col('minute'));
  const oldest = pl.col('flush_key').sub(lookbackMinutes);
  const h = pl.col('h');
  const shifted: pl.Expr[] = [];
  for (let k = 1; k <= lookbackMinutes; k++) {
    shifted.push(pl.when(pl.col('flush_key').shift(k).gtEq(oldest)).then(h.shift(k)).otherwise(pl.lit(null)));
  }
  const high = pl.col('flush_window_high');
  const c = pl.col('c');
  return {
    columns: [[key.alias('flush_key')], [pl.maxHorizontal(shifted).alias('flush_window_high')]],
    candidate: high.sub(c).gtEq(high.mul(dropPct / 100)).and(high.gt(0)).fillNull(false),
    measure: high.sub(c).div(high).mul(100),
  };
}
