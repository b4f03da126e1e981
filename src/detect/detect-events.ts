/** Runs detectors over one symbol's bars: the JS kernel for the built-ins, Polars for the others. */
import type { Bar, EventRow } from '../types.js';
import { sortEventRows } from './cooldown.js';
import type { Detector } from './detector.js';
import { kernelEvents, splitDetectors } from './kernel-detect.js';
import { detectEventsPerSymbol, perSymbolPass } from './per-symbol-pass.js';
import { prepareColumnsAsync } from './prepare.js';
import { validateDetectors, validateSymbol } from './validate.js';

export { validateDetectors } from './validate.js';
export { detectEventsPerSymbol };
export { DEFAULT_MAX_BARS_PER_PLAN, detectEventsBatch, type DetectBatchOptions, type DetectEngine, type SymbolBars } from './shared-plan.js';

/**
 * Events of one symbol: every detector's candidates, then per (detector, NY day) the first candidate
 * and each next one at least `cooldownMinutes` after the last kept event (only the first with
 * `oncePerDay`). Rows are sorted by (timestamp, event_type).
 *
 * The built-in detectors (as their factories return them) run in the JS kernel: one pass over the
 * `Bar` objects computing all four, yielding to the event loop every 65,536 bars; it gives exactly
 * the rows of their Polars plans (tested on random and simulator bars) at several times the speed
 * (BENCHMARKS.md, benchmark 4). Any other detector runs through its `candidates` in the per-symbol
 * Polars pass, collected asynchronously, after the kernel. {@link detectEventsPerSymbol} runs every
 * detector through Polars (the reference).
 * Throws {@link InputError} for bad bars (see prepareColumns) or a bad detector list.
 *
 * @example
 * ```ts
 * const rows = await detectEvents(bars, 'ABCD', detectorsByName(['flush', 'vwap_break']));
 * ```
 */
export async function detectEvents(bars: readonly Bar[], symbol: string, detectors: readonly Detector[]): Promise<EventRow[]> {
  // Symbol first, then detectors: the order of the checks (and so of the errors) before the kernel.
  validateSymbol(symbol);
  validateDetectors(detectors);
  const { kernel, polars } = splitDetectors(detectors);
  if (kernel.length === 0) return detectEventsPerSymbol(bars, symbol, detectors);
  const rows = await kernelEvents(bars, symbol, kernel);
  // The kernel has validated the bars by prepare's rules, so preparing them again cannot fail.
  if (polars.length > 0) rows.push(...(await perSymbolPass(await prepareColumnsAsync(bars, symbol), symbol, polars)));
  return sortEventRows(rows);
}
