/**
 * Detection throughput over synthetic minute bars (1M bars in 50 symbols by default): the JS kernel
 * (all symbols in one `detectEventsBatch` call, and one symbol per `detectEvents` call as the
 * pipeline calls it), the Polars shared plan (`detectEventsBatch` with `engine: 'polars'`), and the
 * per-symbol pass (`detectEventsPerSymbol`).
 * Run: `npx vitest bench --run bench/detect.bench.ts` (TICKPIPE_BENCH_BARS / _SYMBOLS to resize).
 * Prints bars/s; asserts nothing.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { bench } from 'vitest';
import { builtinDetectors, detectEvents, detectEventsBatch, detectEventsPerSymbol } from '../src/detect/index.js';
import type { EventRow } from '../src/types.js';
import type { Bar } from '../src/types.js';
import { synthBars } from './lib/detection.js';

const TOTAL = Number(process.env['TICKPIPE_BENCH_BARS'] ?? 1_000_000);
const SYMBOLS = Number(process.env['TICKPIPE_BENCH_SYMBOLS'] ?? 50);

type Path = (sets: readonly Bar[][]) => Promise<EventRow[][]>;

const perCall =
  (f: typeof detectEvents): Path =>
  async (sets) => {
    const out: EventRow[][] = [];
    for (let i = 0; i < sets.length; i++) out.push(await f(sets[i]!, `SYM${i}`, builtinDetectors()));
    return out;
  };
const batched =
  (engine: 'auto' | 'polars'): Path =>
  (sets) =>
    detectEventsBatch(
      sets.map((bars, i) => ({ symbol: `SYM${i}`, bars })),
      builtinDetectors(),
      { engine },
    );

async function measure(label: string, sets: readonly Bar[][], path: Path): Promise<void> {
  let events = 0;
  let bars = 0;
  // Detection runs beside HTTP timers in the pipeline: report how long the event loop was held.
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const t0 = performance.now();
  for (const rows of await path(sets)) events += rows.length;
  for (const s of sets) bars += s.length;
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

bench(`detectEventsBatch ${perSymbol * SYMBOLS} bars / ${SYMBOLS} symbols`, () => measure('JS kernel, batched', data, batched('auto')), opts);
bench(`detectEvents ${perSymbol * SYMBOLS} bars / ${SYMBOLS} symbols`, () => measure('JS kernel, per call', data, perCall(detectEvents)), opts);
bench(`detectEventsBatch polars ${perSymbol * SYMBOLS} bars / ${SYMBOLS} symbols`, () => measure('Polars shared plan, batched', data, batched('polars')), opts);
bench(`detectEventsPerSymbol ${perSymbol * SYMBOLS} bars / ${SYMBOLS} symbols`, () => measure('per-symbol pass', data, perCall(detectEventsPerSymbol)), opts);
bench(`detectEvents ${perSymbol * SYMBOLS} bars / 1 symbol`, () => measure('one symbol', one, perCall(detectEvents)), opts);
