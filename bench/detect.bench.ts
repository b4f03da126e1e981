/**
 * detectEvents throughput over synthetic minute bars (1M bars in 50 symbols by default).
 * Run: `npx vitest bench --run bench/detect.bench.ts` (TICKPIPE_BENCH_BARS / _SYMBOLS to resize).
 * Prints bars/s; asserts nothing.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { bench } from 'vitest';
import { builtinDetectors, detectEvents } from '../src/detect/index.js';
import type { Bar } from '../src/types.js';

const TOTAL = Number(process.env['TICKPIPE_BENCH_BARS'] ?? 1_000_000);
const SYMBOLS = Number(process.env['TICKPIPE_BENCH_SYMBOLS'] ?? 50);

/** Deterministic small-cap-like random walk: every minute 04:00–20:00 NY on weekdays, with bursts. */
function synthBars(count: number, seed: number): Bar[] {
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const out: Bar[] = new Array(count);
  let day = Date.UTC(2024, 0, 2);
  let minute = 0;
  let price = 5 + rnd() * 20;
  for (let i = 0; i < count; i++) {
    if (minute === 960) {
      minute = 0;
      do day += 86_400_000;
      while ([0, 6].includes(new Date(day).getUTCDay()));
    }
    // 04:00 NY is 09:00 UTC in winter; a one-hour error in summer does not matter for throughput.
    const t = day + 9 * 3_600_000 + minute * 60_000;
    minute++;
    const shock = rnd() < 0.002 ? (rnd() < 0.5 ? -0.15 : 0.1) : 0;
    const o = price;
    price = Math.max(0.5, price * (1 + (rnd() - 0.5) * 0.01 + shock));
    const h = Math.max(o, price) * (1 + rnd() * 0.003);
    const l = Math.min(o, price) * (1 - rnd() * 0.003);
    const v = Math.floor(1000 + rnd() * 5000) * (rnd() < 0.003 ? 20 : 1);
    out[i] = { t, o, h, l, c: price, v, vw: (h + l + price) / 3, n: Math.ceil(v / 100) };
  }
  return out;
}

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
