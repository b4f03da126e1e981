/**
 * The cooldown rule shared by both detection paths: per (detector, symbol, NY day) the first
 * candidate, then each next one at least `cooldownMinutes` after the last kept event (only the
 * first with `oncePerDay`).
 */
import { InputError } from '../errors.js';
import type { EventRow } from '../types.js';
import { nyEpochDay, sessionOf } from './calendar.js';
import type { Detector } from './detector.js';

const MINUTE_MS = 60_000;

/** One candidate bar as the detectors report it. */
export interface CandidateValues {
  readonly price: number;
  readonly volume: number;
  readonly vwap: number;
  readonly measure: number;
}

/**
 * Keeps or drops the candidates of ONE detector for ONE symbol, fed in time order (call
 * {@link CooldownGate.reset} before the next symbol).
 *
 * @example
 * ```ts
 * const gate = new CooldownGate(flush());
 * for (const c of candidates) { const row = gate.admit('ABCD', c.t, c); if (row) out.push(row); }
 * ```
 */
export class CooldownGate {
  private lastDay = Number.NaN;
  private lastT = Number.NEGATIVE_INFINITY;
  private readonly cooldownMs: number;

  constructor(private readonly detector: Detector) {
    this.cooldownMs = (detector.cooldownMinutes ?? 0) * MINUTE_MS;
  }

  /** Forget the last event: the next candidate starts a new symbol. */
  reset(): void {
    this.lastDay = Number.NaN;
  }

  /**
   * The event row for a candidate at `t` (UTC ms), or undefined when the cooldown drops it.
   * Throws {@link InputError} for a candidate outside 04:00–20:00 New York time.
   */
  admit(symbol: string, t: number, v: CandidateValues): EventRow | undefined {
    const day = nyEpochDay(t);
    if (day === this.lastDay) {
      if (this.detector.oncePerDay === true) return undefined;
      // A repeated t is the same bar: never a second event, even without a cooldown.
      if (t <= this.lastT || t < this.lastT + this.cooldownMs) return undefined;
    }
    const session = sessionOf(t);
    if (session === undefined) {
      throw new InputError(`detector ${this.detector.name} returned a candidate at t=${t}, outside 04:00-20:00 New York time`);
    }
    this.lastDay = day;
    this.lastT = t;
    return { symbol, event_type: this.detector.name, timestamp: t, session, price: v.price, volume: v.volume, vwap: v.vwap, measure: v.measure };
  }
}

/** Sorts one symbol's rows by (timestamp, event_type), in place. */
export function sortEventRows(rows: EventRow[]): EventRow[] {
  return rows.sort((a, b) => a.timestamp - b.timestamp || (a.event_type < b.event_type ? -1 : a.event_type > b.event_type ? 1 : 0));
}
