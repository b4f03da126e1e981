/**
 * The demo's event rate: `npm start` runs the real detectors over the simulator's minute bars of the
 * demo universe for one month, and its run time is proportional to the events found. This computes
 * the same counts straight from the data functions (no HTTP), prints them, and catches a regression
 * of the generator to a rate that makes the demo crawl (or to one where some detector never fires).
 */
import { describe, expect, it } from 'vitest';
import { simMinuteBars } from '../../src/sim/index.js';
import { formatDay, isSessionDay, parseDay } from '../../src/sim/calendar.js';
import { builtinDetectors, detectEvents } from '../../src/detect/index.js';
import { DEMO_FROM, DEMO_SIM, DEMO_TO, DEMO_UNIVERSE } from '../../src/cli/demo.js';
import type { Bar } from '../../src/types.js';

describe('demo event rate', () => {
  it('the demo month yields a moderate number of events of every type (figures printed)', async () => {
    const detectors = builtinDetectors();
    const counts: Record<string, number> = Object.fromEntries(detectors.map((d) => [d.name, 0]));
    let days = 0;
    let total = 0;
    for (const sym of DEMO_UNIVERSE) {
      const bars: Bar[] = [];
      for (let d = parseDay(DEMO_FROM)!; d <= parseDay(DEMO_TO)!; d++) {
        if (!isSessionDay(d)) continue;
        const dayBars = simMinuteBars(DEMO_SIM.seed, sym, formatDay(d));
        for (const b of dayBars) bars.push(b);
        days++;
      }
      const events = await detectEvents(bars, sym, detectors);
      for (const e of events) counts[e.event_type] = (counts[e.event_type] ?? 0) + 1;
      total += events.length;
    }
    const perDay = (n: number): string => (n / days).toFixed(2);
    const lines = Object.entries(counts).map(([k, v]) => `${k.padEnd(20)} ${String(v).padStart(6)}  (${perDay(v)} per symbol-day)`);
    console.log(`[demo events] ${DEMO_UNIVERSE.length} symbols, ${days} symbol-days, ${total} events (${perDay(total)} per symbol-day)\n${lines.join('\n')}`);
    for (const d of detectors) expect(counts[d.name], d.name).toBeGreaterThan(0);
    expect(total).toBeGreaterThan(1_000);
    expect(total).toBeLessThan(4_000);
  });
});
