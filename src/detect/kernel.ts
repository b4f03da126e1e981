/**
 * The four built-in detectors as one JS pass over a symbol's prepared bars, bar by bar: the day
 * VWAP, opening range, flush window high and volume median are kept as running state instead of
 * Polars columns. Every test and every measure uses the same double operations, in the same order,
 * as the detectors' Polars expressions, so the candidates (and so the events) are the same rows,
 * bit for bit: test/detect/kernel-equivalence.test.ts and kernel-sim.test.ts compare them.
 *
 * Null in Polars is NaN here: every comparison with NaN is false, as a null comparison becomes
 * false through the expressions' `fillNull(false)`.
 */
import { RTH_START_MINUTE } from './calendar.js';
import { CooldownGate } from './cooldown.js';
import type { Detector } from './detector.js';
import type { KernelSpec } from './kernel-spec.js';
import { RollingMedian } from './rolling-median.js';
import { WindowMax } from './window-max.js';
import type { EventRow } from '../types.js';

const MINUTE_MS = 60_000;

/** Slots of {@link BuiltinKernel.reg}. */
export const REG_T = 0;
export const REG_H = 1;
export const REG_C = 2;
export const REG_V = 3;
export const REG_VWAP = 4;
export const REG_MINUTE = 5;

/** A built-in detector with its kernel settings. */
export interface KernelDetector {
  readonly detector: Detector;
  readonly spec: KernelSpec;
}

/** Which of the built-ins run, with their settings and gates; absent ones cost one test a bar. */
interface Parts {
  vwapBreak?: CooldownGate;
  flush?: { gate: CooldownGate; ratio: number; window: WindowMax };
  spike?: { gate: CooldownGate; multiple: number; minDollarVolume: number; acrossDays: boolean; window: RollingMedian };
  orb?: { gate: CooldownGate; rangeEnd: number };
}

function partsOf(detectors: readonly KernelDetector[]): Parts {
  const p: Parts = {};
  for (const { detector, spec } of detectors) {
    const gate = new CooldownGate(detector);
    if (spec.kind === 'vwap_break') p.vwapBreak = gate;
    else if (spec.kind === 'flush') {
      // dropPct / 100 is the literal of the Polars expression, computed in JS the same way.
      p.flush = { gate, ratio: spec.dropPct / 100, window: new WindowMax(spec.lookbackMinutes * MINUTE_MS, spec.lookbackMinutes + 1) };
    } else if (spec.kind === 'volume_spike') {
      const { multiple, minDollarVolume, acrossDays } = spec;
      p.spike = { gate, multiple, minDollarVolume, acrossDays, window: new RollingMedian(spec.windowBars, spec.minBars) };
    } else p.orb = { gate, rangeEnd: RTH_START_MINUTE + spec.rangeMinutes };
  }
  return p;
}

/**
 * Runs a fixed list of built-in detectors over symbols one after another: {@link begin} a symbol,
 * then feed its prepared bars in time order ({@link newDay} at each NY day's first bar, then
 * {@link bar}); the admitted events collect in {@link rows}.
 */
export class BuiltinKernel {
  /** Events admitted by the cooldown so far, in bar order (not yet sorted by event_type). */
  rows: EventRow[] = [];
  /**
   * The current bar, written by the scan before each {@link bar} call (see the REG_ slots). Passed
   * in a Float64Array rather than as arguments: doubles passed to a call V8 does not inline are
   * boxed as heap numbers, ~50 bytes a bar of garbage, and every scavenge of it walks a heap of
   * millions of Bar objects (measured: scavenges of 5–140 ms every ~50 ms).
   */
  readonly reg = new Float64Array(6);
  private readonly p: Parts;
  private symbol = '';
  private prevC = Number.NaN;
  private prevVwap = Number.NaN;
  private orHigh = Number.NaN;
  private orDone = false;
  private rthEnd = 0;

  constructor(detectors: readonly KernelDetector[]) {
    this.p = partsOf(detectors);
  }

  /** Starts a symbol: clears every window and gate, and the collected rows. */
  begin(symbol: string): void {
    const p = this.p;
    this.symbol = symbol;
    this.rows = [];
    p.vwapBreak?.reset();
    p.flush?.gate.reset();
    p.spike?.gate.reset();
    p.orb?.gate.reset();
    p.spike?.window.clear();
  }

  /** The next bar opens NY day with regular close at minute `rthEnd` (780 on early closes). */
  newDay(rthEnd: number): void {
    const p = this.p;
    this.rthEnd = rthEnd;
    // NaN: the first bar of a day has no previous bar of the day (vwap_break's shift is masked).
    this.prevC = Number.NaN;
    this.prevVwap = Number.NaN;
    this.orHigh = Number.NaN;
    this.orDone = false;
    p.flush?.window.clear();
    if (p.spike !== undefined && !p.spike.acrossDays) p.spike.window.clear();
  }

  /**
   * One prepared bar, read from {@link reg}: UTC ms, high, close, volume, day VWAP so far (NaN
   * before volume), NY minute. One small method per detector, none taking or returning a double:
   * one large method outgrew V8's inlining budget, and the calls it then made boxed their doubles.
   */
  bar(): void {
    const p = this.p;
    if (p.vwapBreak !== undefined) this.vwapBreak(p.vwapBreak);
    if (p.flush !== undefined) this.flush(p.flush);
    if (p.spike !== undefined) this.spike(p.spike);
    if (p.orb !== undefined) this.openingRange(p.orb);
  }

  /** The close crosses above the VWAP: previous bar of the day below its VWAP, this one above. */
  private vwapBreak(gate: CooldownGate): void {
    const r = this.reg;
    const c = r[REG_C]!, vwap = r[REG_VWAP]!;
    if (this.prevC < this.prevVwap && c > vwap) this.emit(gate, c, vwap, (c / vwap - 1) * 100);
    this.prevC = c;
    this.prevVwap = vwap;
  }

  /** Compared as a difference, as flush.ts does (a drop of exactly dropPct is kept). */
  private flush(f: NonNullable<Parts['flush']>): void {
    const r = this.reg;
    f.window.step(r, REG_T, REG_H);
    const c = r[REG_C]!, high = f.window.max;
    if (high - c >= high * f.ratio && high > 0) this.emit(f.gate, c, r[REG_VWAP]!, ((high - c) / high) * 100);
  }

  /**
   * Against the median of the previous bars' volumes, then this bar's volume joins the window.
   * `v >= min × multiple` is necessary for `v >= median × multiple` (median >= min, multiple > 0,
   * and rounding is monotonic), so the median is only computed for bars passing it.
   */
  private spike(s: NonNullable<Parts['spike']>): void {
    const r = this.reg;
    const c = r[REG_C]!, v = r[REG_V]!;
    const w = s.window;
    if (w.count >= w.minPeriods && c * v >= s.minDollarVolume && v >= w.min * s.multiple) {
      const med = w.median();
      if (med > 0 && v >= med * s.multiple) this.emit(s.gate, c, r[REG_VWAP]!, v / med);
    }
    w.push(r, REG_V);
  }

  /**
   * The range high grows over [09:30, rangeEnd); bars are in time order, so it is complete before
   * the first bar that can break it. Polars' max keeps the first of equal values (seen for 0 and
   * -0), hence "replace only when greater".
   */
  private openingRange(o: NonNullable<Parts['orb']>): void {
    const r = this.reg;
    const minute = r[REG_MINUTE]!;
    if (minute < o.rangeEnd) {
      const h = r[REG_H]!;
      if (minute >= RTH_START_MINUTE && (this.orHigh !== this.orHigh || h > this.orHigh)) this.orHigh = h;
      return;
    }
    const c = r[REG_C]!;
    if (!this.orDone && minute < this.rthEnd && c > this.orHigh) {
      this.orDone = true;
      this.emit(o.gate, c, r[REG_VWAP]!, (c / this.orHigh - 1) * 100);
    }
  }

  /** A candidate at the current bar (price = close, volume = the bar's) through the detector's cooldown. */
  private emit(gate: CooldownGate, price: number, vwap: number, measure: number): void {
    const r = this.reg;
    const row = gate.admit(this.symbol, r[REG_T]!, { price, volume: r[REG_V]!, vwap, measure });
    if (row !== undefined) this.rows.push(row);
  }
}
