/** Runs detectors over one symbol's bars: the shared plan for one symbol (see shared-plan.ts). */
import type { Bar, EventRow } from '../types.js';
import type { Detector } from './detector.js';
import { detectEventsBatch } from './shared-plan.js';
import { validateSymbol } from './validate.js';

export { validateDetectors } from './validate.js';
export { detectEventsPerSymbol } from './per-symbol-pass.js';
export { DEFAULT_MAX_BARS_PER_PLAN, detectEventsBatch, type DetectBatchOptions, type SymbolBars } from './shared-plan.js';

/**
 * Events of one symbol: every detector's candidates, then per (detector, NY day) the first candidate
 * and each next one at least `cooldownMinutes` after the last kept event (only the first with
 * `oncePerDay`). Rows are sorted by (timestamp, event_type).
 *
 * Detectors with a `plan` part run in one lazy plan (shared columns computed once) finished by the
 * asynchronous `collect()`, so the event loop stays free while Polars works; detectors without one
 * run their `candidates` in a second per-symbol plan, also collected asynchronously. The bar
 * preparation (a typed-array pass) runs on the event loop in slices of 65,536 bars. Only an
 * unsorted input's sort is one uninterrupted step. For many symbols, {@link detectEventsBatch}
 * runs several per plan.
 * Throws {@link InputError} for bad bars (see prepareColumns) or a bad detector list.
 *
 * @example
 * ```ts
 * const rows = await detectEvents(bars, 'ABCD', detectorsByName(['flush', 'vwap_break']));
 * ```
 */
export async function detectEvents(bars: readonly Bar[], symbol: string, detectors: readonly Detector[]): Promise<EventRow[]> {
  validateSymbol(symbol);
  const [rows] = await detectEventsBatch([{ symbol, bars }], detectors);
  return rows!;
}
