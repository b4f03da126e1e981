/**
 * detectEvents throughput over synthetic minute bars (1M bars in 50 symbols by default).
 * Run: `npx vitest bench --run bench/detect.bench.ts` (TICKPIPE_BENCH_BARS / _SYMBOLS to resize).
 * Prints bars/s; asserts nothing.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { bench } from 'vitest';
import { builtinDetectors, detectEvents } from '../src/detect/index.js';
import type { Bar } from '../src/types.js';
import { synthBars } from './lib/detection.js';

const TOTAL = Number(process.env['TICKPIPE_BENCH_BARS'] ?? 1_000_000);
const SYMBOLS = Number(process.env['TICKPIPE_BENCH_SYMBOLS'] ?? 50);

async function measure(label: string, sets: readonly Bar[][]): Promise<void> {
  let events = 0;
  let bars = 0;
  // Detection runs beside HTTP timers in the pipeline: report how long the event loop was held.
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const t0 = performance.now();
  for (let i = 0; i < sets.length; i++) {
    bars += sets[i]!.length;
    events += (await detectEvents(sets[i]!, `SYM${i}`, builtinDetectors())).length;
  }
  const sec = (performance.now() - t0) / 1000;
  lag.disable();
  console.log(
    `${label}: ${bars} bars, ${sets.length} symbols, ${events} events in ${sec.toFixed(2)} s ` +
      `→ ${Math.round(bars / sec).toLocaleString('en-US')} bars/s; ` +
      `event-loop delay p50 ${(lag.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms, max ${(lag.max / 1e6).toFixed(1)} ms`,
  );
}

const perSymbol = Math.floor(TOTAL / SYMBOLS);
const data = Array.from({ length: SYMBOLS }, (_, i) => synthBars(perSymbol, i + 1));
const one = [synthBars(perSymbol * SYMBOLS, 99)];
const opts = { iterations: 2, warmupIterations: 1, time: 0, warmupTime: 0 };

bench(`detectEvents ${perSymbol * SYMBOLS} bars / ${SYMBOLS} symbols`, () => measure('many symbols', data), opts);
bench(`detectEvents ${perSymbol * SYMBOLS} bars / 1 symbol`, () => measure('one symbol', one), opts);
