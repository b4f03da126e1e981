/**
 * Feeds one symbol's `Bar` objects to the {@link BuiltinKernel} directly, without building the
 * typed columns of prepare.ts first: the same sorting, de-duplication, session filter, validation
 * (same checks in the same order, same errors) and day VWAP as `prepareSteps`, fused with the
 * detectors in one read of each bar. The NY calendar is evaluated once per NY day, not per bar.
 */
import { AH_END_MINUTE, PM_START_MINUTE, nyOffsetMinutes, rthEndMinute } from './calendar.js';
import { InputError } from '../errors.js';
import type { Bar, EventRow } from '../types.js';
import { REG_C, REG_H, REG_MINUTE, REG_T, REG_V, REG_VWAP, type BuiltinKernel } from './kernel.js';
import { SLICE_BARS, checkMinute, checkPrices, isSorted, readOrder, yieldToLoop } from './prepare.js';

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

const OUTSIDE = 0;
const SAME_DAY = 1;
const NEW_DAY = 2;

/**
 * The NY day of the last bar, as the UTC span of its 04:00–20:00. Inside that span the UTC offset
 * cannot change (DST switches at 02:00 local), so a bar in it has the same day and its minute is
 * plain subtraction: exactly prepare.ts's `(local - epochDay * DAY_MS) / MINUTE_MS`.
 */
class DayClock {
  lo = Number.NaN;
  hi = Number.NaN;
  midnight = 0;
  rthEnd = 0;
  private epochDay = Number.NaN;

  /** Moves to the day of `t` (the computation of prepare.ts); OUTSIDE when `t` is not in 04:00–20:00 NY. */
  move(t: number): number {
    const off = nyOffsetMinutes(t);
    const local = t + off * MINUTE_MS;
    const epochDay = Math.floor(local / DAY_MS);
    const mod = (local - epochDay * DAY_MS) / MINUTE_MS;
    if (mod < PM_START_MINUTE || mod >= AH_END_MINUTE) return OUTSIDE;
    if (epochDay === this.epochDay) return SAME_DAY;
    this.epochDay = epochDay;
    this.midnight = epochDay * DAY_MS - off * MINUTE_MS;
    this.lo = this.midnight + PM_START_MINUTE * MINUTE_MS;
    this.hi = this.midnight + AH_END_MINUTE * MINUTE_MS;
    this.rthEnd = rthEndMinute(epochDay);
    return NEW_DAY;
  }
}

/** Where a scan stopped; doubles kept in a Float64Array so that saving them allocates nothing. */
interface ScanState {
  readonly bars: readonly Bar[];
  readonly symbol: string;
  readonly kernel: BuiltinKernel;
  /** Prepare's read order, or undefined for input order. */
  readonly order: Uint32Array | undefined;
  /** Optimistic first read in input order: stop at the first `t` not above the previous one. */
  readonly fast: boolean;
  readonly clock: DayClock;
  /** [previous t, day's sum of vw × v, day's sum of v]. */
  readonly sums: Float64Array;
}

const UNSORTED = -1;

/**
 * Scans bars [from, to) of `s` (in prepare's order), feeding the kernel. A plain function over a
 * slice rather than a generator: V8 boxes the doubles a generator keeps, garbage at every bar.
 * With `fast` it returns UNSORTED at the first bar whose `t` does not exceed the previous one
 * (the caller then rescans in prepare's order); otherwise `to`.
 */
function scanSlice(s: ScanState, from: number, to: number): number {
  const { bars, symbol, order, clock, fast } = s;
  const k = s.kernel;
  const reg = k.reg;
  let prevT = s.sums[0]!, cumPv = s.sums[1]!, cumV = s.sums[2]!;
  for (let j = from; j < to; j++) {
    const i = order === undefined ? j : order[j]!;
    const b = bars[i]!;
    const bt = b.t;
    if (fast && !(bt > prevT)) return UNSORTED;
    checkMinute(symbol, i, bt);
    if (bt === prevT) continue;
    prevT = bt;
    let day = SAME_DAY;
    if (!(bt >= clock.lo && bt < clock.hi)) {
      day = clock.move(bt);
      if (day === OUTSIDE) continue;
    }
    checkPrices(symbol, i, b);
    const bo = b.o, bh = b.h, bl = b.l, bc = b.c, bv = b.v;
    const bvw = Number.isFinite(b.vw) ? b.vw : bc;
    if (day === NEW_DAY) {
      k.newDay(clock.rthEnd);
      cumPv = 0;
      cumV = 0;
    }
    cumPv += bvw * bv;
    cumV += bv;
    reg[REG_T] = bt;
    reg[REG_H] = bh;
    reg[REG_C] = bc;
    reg[REG_V] = bv;
    reg[REG_VWAP] = cumV > 0 ? cumPv / cumV : Number.NaN;
    reg[REG_MINUTE] = (bt - clock.midnight) / MINUTE_MS;
    k.bar();
  }
  s.sums[0] = prevT;
  s.sums[1] = cumPv;
  s.sums[2] = cumV;
  return to;
}

/**
 * Scans all of a symbol's bars in slices of {@link SLICE_BARS}, giving the event loop a turn
 * between slices. False when read in input order and found unsorted.
 */
async function scan(bars: readonly Bar[], symbol: string, kernel: BuiltinKernel, fast: boolean, order?: Uint32Array): Promise<boolean> {
  kernel.begin(symbol);
  const s: ScanState = { bars, symbol, kernel, order, fast, clock: new DayClock(), sums: new Float64Array([Number.NEGATIVE_INFINITY, 0, 0]) };
  const len = bars.length;
  for (let from = 0; from < len; from += SLICE_BARS) {
    if (from > 0) await yieldToLoop();
    if (scanSlice(s, from, Math.min(len, from + SLICE_BARS)) === UNSORTED) return false;
  }
  return true;
}

/**
 * The events of one symbol's bars from `kernel` (unsorted), giving the event loop a turn every
 * {@link SLICE_BARS} bars. Bars in time order (what the API serves) are read once; otherwise, or
 * when a bar is bad, the bars are rescanned in prepare's order so that the rows, or the
 * {@link InputError}, are exactly those of the Polars path.
 */
export async function scanSymbol(bars: readonly Bar[], symbol: string, kernel: BuiltinKernel): Promise<EventRow[]> {
  if (!Array.isArray(bars)) throw new InputError(`${symbol}: bars must be an array, got ${String(bars)} (${typeof bars})`);
  let complete: boolean;
  try {
    complete = await scan(bars, symbol, kernel, true);
  } catch (err) {
    // Sorted input was read in prepare's order: its error stands. Unsorted input is read in sorted
    // order by prepare, which may meet a different bad bar first.
    if (isSorted(bars)) throw err;
    complete = false;
  }
  // readOrder gives undefined when the bars are sorted after all (a lone bar with a NaN t): then
  // this second scan in input order is prepare's, and it throws prepare's error.
  if (!complete) await scan(bars, symbol, kernel, false, readOrder(bars, symbol));
  return kernel.rows;
}
