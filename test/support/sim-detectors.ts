/**
 * Plain-JS reference versions of the event rules the detect stage uses, run on the simulator's
 * minute bars to measure how often each kind fires per symbol-day (the simulator must make every
 * detector fire regularly). Only for tests of the simulator; the real detectors live in src/detect.
 */
import type { Bar } from '../../src/types.js';

const MIN = 60_000;

export interface DayEventCounts {
  flush: number;
  volume_spike: number;
  vwap_break: number;
  opening_range_break: number;
  gap: number;
  spike: number;
}

/** Minutes since 04:00 NY for a bar of a day whose 04:00 is `baseMs`. */
function minuteOf(bar: Bar, baseMs: number): number {
  return Math.round((bar.t - baseMs) / MIN);
}

/**
 * Counts on one ticker-day. `history` are earlier bars (previous days) for the volume window,
 * `prevClose` the previous session's last regular-hours close (for gaps).
 */
export function countDayEvents(bars: readonly Bar[], baseMs: number, history: readonly Bar[], prevClose: number | undefined): DayEventCounts {
  const out: DayEventCounts = { flush: 0, volume_spike: 0, vwap_break: 0, opening_range_break: 0, gap: 0, spike: 0 };
  // flush: close >= 10% below the highest high of bars in the previous 15 minutes (cooldown 30).
  let lastFlush = -Infinity;
  let lastSpike = -Infinity;
  for (let i = 0; i < bars.length; i++) {
    const b = bars[i]!;
    let hi = 0;
    let lo = Infinity;
    for (let j = i - 1; j >= 0 && bars[j]!.t >= b.t - 15 * MIN; j--) {
      hi = Math.max(hi, bars[j]!.h);
      lo = Math.min(lo, bars[j]!.l);
    }
    if (hi > 0 && hi - b.c >= hi * 0.1 && b.t - lastFlush >= 30 * MIN) {
      out.flush++;
      lastFlush = b.t;
    }
    if (lo < Infinity && b.h >= lo * 1.1 && b.t - lastSpike >= 30 * MIN) {
      out.spike++;
      lastSpike = b.t;
    }
  }
  // volume spike: v >= 5x median of previous 30 bars (>= 10 of them, across days), c*v >= 50k, cooldown 15.
  const all = [...history.slice(-30), ...bars];
  const offset = all.length - bars.length;
  let lastVol = -Infinity;
  for (let i = offset; i < all.length; i++) {
    const window = all.slice(Math.max(0, i - 30), i).map((x) => x.v).sort((a, b) => a - b);
    if (window.length < 10) continue;
    const mid = window.length >> 1;
    const median = window.length % 2 ? window[mid]! : (window[mid - 1]! + window[mid]!) / 2;
    const b = all[i]!;
    if (median > 0 && b.v >= 5 * median && b.c * b.v >= 50_000 && b.t - lastVol >= 15 * MIN) {
      out.volume_spike++;
      lastVol = b.t;
    }
  }
  // vwap break: close crosses above the cumulative day VWAP (cooldown 15).
  let pv = 0;
  let vol = 0;
  let prevBelow = false;
  let lastVwap = -Infinity;
  for (let i = 0; i < bars.length; i++) {
    const b = bars[i]!;
    pv += b.vw * b.v;
    vol += b.v;
    const vwap = pv / vol;
    if (i > 0 && prevBelow && b.c > vwap && b.t - lastVwap >= 15 * MIN) {
      out.vwap_break++;
      lastVwap = b.t;
    }
    prevBelow = b.c < vwap;
  }
  // opening range break: first RTH bar at/after 09:35 closing above the 09:30-09:35 high.
  const orBars = bars.filter((b) => minuteOf(b, baseMs) >= 330 && minuteOf(b, baseMs) < 335);
  if (orBars.length > 0) {
    const orHigh = Math.max(...orBars.map((b) => b.h));
    if (bars.some((b) => minuteOf(b, baseMs) >= 335 && minuteOf(b, baseMs) < 720 && b.c > orHigh)) out.opening_range_break = 1;
  }
  // gap: first regular-session open vs previous close, at least 5%.
  const firstRth = bars.find((b) => minuteOf(b, baseMs) >= 330);
  if (prevClose !== undefined && firstRth && Math.abs(firstRth.o / prevClose - 1) >= 0.05) out.gap = 1;
  return out;
}

/** Last close of the regular session (before 16:00) of a day's bars. */
export function rthClose(bars: readonly Bar[], baseMs: number): number | undefined {
  let c: number | undefined;
  for (const b of bars) if (minuteOf(b, baseMs) < 720) c = b.c;
  return c;
}
