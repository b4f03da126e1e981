/**
 * The one smoothed rate of tickpipe: an exponentially weighted moving average of a counter's
 * growth over *active* time (time not paused), with a time constant of about 30 s. The run view,
 * the heartbeat (and so `tail` and `report`) all show a rate made by this function, so they agree.
 *
 * Bias-corrected: the average and its weight decay together, so the first seconds show the plain
 * mean rate instead of a value dragged towards zero by an empty history.
 *
 * @example
 * ```ts
 * let r = startRate(0, 0);
 * r = stepRate(r, 1_000, 12); // 12 items after 1 s of active time
 * rateValue(r);               // 12 items/s
 * ```
 */

/** Default time constant of the average, ms. */
export const RATE_TAU_MS = 30_000;

/** Accumulators of one smoothed rate (plain data, safe to keep in an RxJS `scan` state). */
export interface SmoothedRate {
  /** Active time of the last step, ms. */
  readonly t: number;
  /** Counter value at the last step. */
  readonly count: number;
  /** Weighted sum of per-step rates. */
  readonly sum: number;
  /** Sum of weights (→ 1 once the history is much longer than tau). */
  readonly weight: number;
}

/** A rate with no history, starting at active time `t` and counter `count`. */
export function startRate(t: number, count: number): SmoothedRate {
  return { t, count, sum: 0, weight: 0 };
}

/**
 * Folds the counter's value at active time `t` into the average. A step with no active time passed
 * (a pause, or two events in the same millisecond) only moves the counter base forward when
 * `t` advanced; otherwise it is kept for the next step. A counter that went down (a restart) is
 * taken as a new base.
 */
export function stepRate(r: SmoothedRate, t: number, count: number, tauMs = RATE_TAU_MS): SmoothedRate {
  const dt = t - r.t;
  if (!(dt > 0)) return r;
  if (count < r.count) return { ...r, t, count };
  const instant = ((count - r.count) / dt) * 1000;
  const keep = Math.exp(-dt / tauMs);
  return { t, count, sum: r.sum * keep + instant * (1 - keep), weight: r.weight * keep + (1 - keep) };
}

/** Items per second, or null before any active time has passed. */
export function rateValue(r: SmoothedRate): number | null {
  return r.weight > 0 ? r.sum / r.weight : null;
}

/**
 * Seconds to do `remaining` items at `perSec`, or null when unknown (no rate, no total). Nothing
 * remaining is 0 even without a rate: a stage that finished before its first rate sample (25 demo
 * symbols detected in one batch) showed `ETA ?` on its last line.
 */
export function etaSeconds(remaining: number | null, perSec: number | null): number | null {
  if (remaining === null) return null;
  if (remaining <= 0) return 0;
  if (perSec === null) return null;
  return perSec > 0 ? Math.round(remaining / perSec) : null;
}
