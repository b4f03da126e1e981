/** Which detectors the kernel takes, runs mixing kernel and Polars detectors, the engine option, yielding. */
import { describe, expect, test } from 'vitest';
import { InputError } from '../../src/errors.js';
import { builtinDetectors, detectEvents, detectEventsBatch, detectEventsPerSymbol, flush, type Detector } from '../../src/detect/index.js';
import { splitDetectors } from '../../src/detect/kernel-detect.js';
import type { Bar } from '../../src/types.js';
import { jumpUp } from './helpers.js';
import { simMinuteBars } from './sim-bars.js';

describe('splitDetectors', () => {
  test('built-ins as their factories return them go to the kernel; copies, altered ones and user detectors to Polars', () => {
    const [orb, vwap, fl, spike] = builtinDetectors() as [Detector, Detector, Detector, Detector];
    const tuned = flush({ dropPct: 3 });
    const copy: Detector = { ...vwap };
    // Same name and settings, but its own candidates: only Polars knows what it computes.
    const altered: Detector = Object.assign(flush({ dropPct: 3 }), { candidates: jumpUp.candidates });
    const split = splitDetectors([orb, vwap, fl, spike, tuned, copy, altered, jumpUp]);
    expect(split.kernel.map((k) => k.detector)).toEqual([orb, vwap, fl, spike, tuned]);
    expect(split.kernel.map((k) => k.spec.kind)).toEqual(['opening_range_break', 'vwap_break', 'flush', 'volume_spike', 'flush']);
    expect(split.polars).toEqual([copy, altered, jumpUp]);
  });
});

describe('runs mixing the kernel and Polars', () => {
  const bars: Bar[] = simMinuteBars(7, 'EQA', '2024-03-01', '2024-03-15');

  test('built-ins plus a user detector: the rows of the per-symbol pass, both entry points', async () => {
    const detectors = [...builtinDetectors(), jumpUp];
    const want = await detectEventsPerSymbol(bars, 'EQA', detectors);
    expect(new Set(want.map((r) => r.event_type)).size).toBeGreaterThanOrEqual(4);
    expect(await detectEvents(bars, 'EQA', detectors)).toStrictEqual(want);
    expect(await detectEventsBatch([{ symbol: 'EQA', bars }], detectors)).toStrictEqual([want]);
  });

  test("engine 'polars' gives the same rows; an unknown engine is an InputError", async () => {
    const want = await detectEventsBatch([{ symbol: 'EQA', bars }], builtinDetectors());
    expect(await detectEventsBatch([{ symbol: 'EQA', bars }], builtinDetectors(), { engine: 'polars' })).toStrictEqual(want);
    const bad = detectEventsBatch([{ symbol: 'EQA', bars }], builtinDetectors(), { engine: 'gpu' as 'auto' });
    await expect(bad).rejects.toThrow(InputError);
    await expect(bad).rejects.toMatchObject({ code: 'E_INPUT', message: "detectEventsBatch: expected `engine` to be 'auto' or 'polars', got `\"gpu\"` (string)" });
  });
});

/** How many times the event loop ran an immediate while `work` ran. */
async function turnsDuring(work: () => Promise<void>): Promise<number> {
  let turns = 0;
  let done = false;
  const tick = (): void => {
    turns++;
    if (!done) setImmediate(tick);
  };
  setImmediate(tick);
  await work();
  done = true;
  return turns;
}

describe('the kernel yields to the event loop', () => {
  test('a symbol of more than 65,536 bars lets immediates run while it is scanned', async () => {
    const bars = simMinuteBars(7, 'EQB', '2024-01-02', '2024-12-31', 'in-play');
    expect(bars.length).toBeGreaterThan(2 * 65_536);
    let rows = 0;
    const turns = await turnsDuring(async () => {
      rows = (await detectEvents(bars, 'EQB', builtinDetectors())).length;
    });
    expect(rows).toBeGreaterThan(0);
    // Two slice boundaries at least: the event loop turned while the kernel was running.
    expect(turns).toBeGreaterThanOrEqual(2);
  }, 60_000);

  test('each detectEvents call of a small symbol gives the event loop a turn before it resolves', async () => {
    const bars = simMinuteBars(7, 'EQC', '2024-03-04', '2024-03-05');
    expect(bars.length).toBeLessThan(65_536);
    const turns = await turnsDuring(async () => {
      for (let i = 0; i < 5; i++) await detectEvents(bars, 'EQC', builtinDetectors());
    });
    expect(turns).toBeGreaterThanOrEqual(5);
  });
});
