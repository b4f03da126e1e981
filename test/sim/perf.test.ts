/** Figures only (printed, never asserted): the simulator must never be the pipeline's bottleneck. */
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startSim } from '../../src/sim/index.js';
import { route } from '../../src/sim/routes.js';
import { barsFromCore, dayPlan, dayTicks, tradeCore } from '../../src/sim/market.js';
import { formatDay, isSessionDay, parseDay } from '../../src/sim/calendar.js';

function page(path: string): { ms: number; rows: number; bytes: number } {
  const t0 = performance.now();
  const r = route({ seed: 21, eventiness: 0.5, tickerCount: 5000, origin: 'http://127.0.0.1:1', requestId: 'x', url: new URL(path, 'http://x'), repeatCursor: false });
  const ms = performance.now() - t0;
  expect(r.status).toBe(200);
  const text = r.body.toString('utf8');
  return { ms, rows: (text.match(/"sip_timestamp"|"vw"/g) ?? []).length, bytes: r.body.length };
}

describe('sim performance figures', () => {
  it('50,000-row pages and day generation', async () => {
    const lines: string[] = [];
    for (const kind of ['trades', 'quotes'] as const) {
      const path = `/v3/${kind}/PERF?timestamp.gte=2024-04-01&timestamp.lte=2024-04-26&order=asc&limit=50000`;
      const cold = page(path);
      const warm = [page(path), page(path), page(path)].sort((a, b) => a.ms - b.ms)[1]!;
      lines.push(`${kind} page of ${warm.rows} rows (${(warm.bytes / 1e6).toFixed(1)} MB): ${warm.ms.toFixed(1)} ms cached days, ${cold.ms.toFixed(1)} ms including day generation`);
    }
    const aggPath = '/v2/aggs/ticker/PERF/range/1/minute/2023-01-01/2023-12-31?limit=50000';
    const bars = page(aggPath);
    const barsWarm = page(aggPath);
    lines.push(`minute aggs page of ${bars.rows} bars: ${bars.ms.toFixed(1)} ms including generation of ~${Math.round(bars.rows / 550)} days, ${barsWarm.ms.toFixed(1)} ms cached`);

    const sim = await startSim({ seed: 21 });
    try {
      const url = `${sim.url}/v3/quotes/PERF?timestamp.gte=2024-04-01&timestamp.lte=2024-04-26&order=asc&limit=50000&apiKey=k`;
      await (await request(url)).body.text();
      const t0 = performance.now();
      const text = await (await request(url)).body.text();
      lines.push(`HTTP round trip of that quotes page (${(text.length / 1e6).toFixed(1)} MB): ${(performance.now() - t0).toFixed(1)} ms`);
    } finally {
      await sim.close();
    }

    let planBars = 0;
    let ticks = 0;
    let days = 0;
    let trades = 0;
    let quotes = 0;
    let nbars = 0;
    // Two passes over different tickers: the second one, with the JIT warm, is reported.
    for (let pass = 0; pass < 2; pass++) {
    planBars = ticks = days = trades = quotes = nbars = 0;
    for (let d = parseDay('2022-01-03')!; days < 60; d++) {
      if (!isSessionDay(d)) continue;
      const t0 = performance.now();
      const plan = dayPlan(21, `D${pass}X${days}`, d);
      const core = tradeCore(plan);
      const b = barsFromCore(core);
      const t1 = performance.now();
      const t = dayTicks(plan, core);
      ticks += performance.now() - t1;
      planBars += t1 - t0;
      trades += t.tradeCount;
      quotes += t.quoteCount;
      nbars += b.count;
      days++;
      void formatDay;
    }
    }
    lines.push(
      `day generation (mean of ${days} ticker-days): minute bars ${(planBars / days).toFixed(2)} ms; trades+quotes ${(ticks / days).toFixed(2)} ms more` +
        ` (${(nbars / days).toFixed(0)} bars, ${(trades / days).toFixed(0)} trades, ${(quotes / days).toFixed(0)} quotes per day)`,
    );
    console.log(`[sim perf]\n${lines.join('\n')}`);
  });
});
