/**
 * Benchmark 4: detector throughput over in-memory minute bars (no HTTP): the JS kernel (what
 * `detectEvents`, `detectEventsBatch` and stage 1 run for the built-ins) against the Polars shared
 * batch plan and the per-symbol pass on the same bars, and stage 1 end to end (detectStage against
 * the simulator) in symbols/s.
 */
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { lastValueFrom, tap } from 'rxjs';
import { builtinDetectors, detectEventsBatch, detectEventsPerSymbol } from '../../src/detect/index.js';
import { detectStage } from '../../src/pipeline/detect-stage.js';
import { PolygonClient } from '../../src/streams/polygon-client.js';
import type { Bar, EventRow } from '../../src/types.js';
import { tickerOf, withTmp } from './common.js';
import { openSim, type SimMode } from './sim.js';

/** Deterministic small-cap-like random walk, every minute 04:00–20:00 NY on weekdays (also used by detect.bench.ts). */
export function synthBars(count: number, seed: number): Bar[] {
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
      while (new Date(day).getUTCDay() % 6 === 0);
    }
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

/** One path's figures over the same bars. */
export interface DetectPathMeasure {
  readonly events: number;
  /** Seconds inside detection only (bar generation excluded). */
  readonly sec: number;
  readonly barsPerSec: number;
  /** Process CPU seconds (all threads, Polars' included) inside detection. */
  readonly cpuSec: number;
}

export interface DetectMeasure {
  readonly bars: number;
  readonly symbols: number;
  /** The JS kernel (`detectEventsBatch` with the default engine, `groupBars` bars per call). */
  readonly kernel: DetectPathMeasure;
  /** The Polars shared batch plan (`detectEventsBatch` with `engine: 'polars'`, default plan size). */
  readonly shared: DetectPathMeasure;
  /** The per-symbol pass every detector took before (`detectEventsPerSymbol`, one call per symbol). */
  readonly perSymbol: DetectPathMeasure;
  /** Whether the three paths gave the same rows, every column exact. */
  readonly identical: boolean;
  /** Headline figure: the kernel's bars/s. */
  readonly barsPerSec: number;
  readonly events: number;
  readonly sec: number;
}

const cpuSeconds = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};

function sameRows(a: readonly EventRow[][], b: readonly EventRow[][]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.length !== y.length) return false;
    for (let k = 0; k < x.length; k++) {
      const p = x[k]!;
      const q = y[k]!;
      for (const f of ['symbol', 'event_type', 'timestamp', 'session', 'price', 'volume', 'vwap', 'measure'] as const) {
        if (!Object.is(p[f], q[f])) return false;
      }
    }
  }
  return true;
}

/**
 * A full garbage collection, callable without starting node with --expose-gc (the documented
 * setFlagsFromString + vm pattern).
 */
function fullGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

const collect = fullGc();

/** Idle time after the full collection, for V8's concurrent sweeping of the freed heap to finish. */
const SETTLE_MS = 500;

/**
 * Runs `f` and adds its wall and CPU seconds to `m`. A full collection and a short idle first,
 * untimed: making a group's 2 M bars leaves ~400 MB of young objects to promote and mark, and
 * whichever path ran first after it paid for that; right after a forced collection, its concurrent
 * sweeping ran on the helper threads during the timing instead (measured on the kernel: 3.9–4.3 M
 * bars per CPU-second without the idle, 5.6–7.0 M with 500 ms). The path's own garbage is still
 * collected inside its timing.
 */
async function timed<T>(m: { sec: number; cpu: number }, f: () => Promise<T>): Promise<T> {
  collect();
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const c0 = cpuSeconds();
  const t0 = performance.now();
  const r = await f();
  m.sec += (performance.now() - t0) / 1000;
  m.cpu += cpuSeconds() - c0;
  return r;
}

/**
 * `total` bars in `symbols` symbols through the three paths. Bars are made per group of
 * `groupBars` before the group's timing starts (10 M bars of JS objects at once would not fit
 * comfortably); the kernel and the shared plan get each group in one `detectEventsBatch` call, the
 * per-symbol pass one call per symbol. All see the same bars, and their rows are compared.
 */
export async function measureDetect(total: number, symbols: number, groupBars = 2_000_000): Promise<DetectMeasure> {
  const per = Math.floor(total / symbols);
  const perGroup = Math.max(1, Math.floor(groupBars / per));
  const detectors = builtinDetectors();
  const kernel = { sec: 0, cpu: 0, events: 0 };
  const shared = { sec: 0, cpu: 0, events: 0 };
  const old = { sec: 0, cpu: 0, events: 0 };
  let identical = true;
  for (let first = 0; first < symbols; first += perGroup) {
    const batch = Array.from({ length: Math.min(perGroup, symbols - first) }, (_, k) => ({ symbol: tickerOf(first + k), bars: synthBars(per, first + k + 1) }));
    const got = await timed(kernel, () => detectEventsBatch(batch, detectors));
    const plan = await timed(shared, () => detectEventsBatch(batch, detectors, { engine: 'polars' }));
    const want = await timed(old, async () => {
      const rows: EventRow[][] = [];
      for (const { symbol, bars } of batch) rows.push(await detectEventsPerSymbol(bars, symbol, detectors));
      return rows;
    });
    for (const r of got) kernel.events += r.length;
    for (const r of plan) shared.events += r.length;
    for (const r of want) old.events += r.length;
    identical &&= sameRows(got, want) && sameRows(plan, want);
  }
  const bars = per * symbols;
  const path = (m: typeof shared): DetectPathMeasure => ({ events: m.events, sec: m.sec, barsPerSec: bars / m.sec, cpuSec: m.cpu });
  const k = path(kernel);
  return { bars, symbols, kernel: k, shared: path(shared), perSymbol: path(old), identical, barsPerSec: k.barsPerSec, events: k.events, sec: k.sec };
}

export interface Stage1Measure {
  readonly symbols: number;
  readonly from: string;
  readonly to: string;
  readonly sec: number;
  readonly symbolsPerSec: number;
  readonly events: number;
}

/** detectStage over `count` sim tickers for one month, no quota and no added latency. */
export async function measureStage1(count: number, from: string, to: string, simMode: SimMode): Promise<Stage1Measure> {
  const sim = await openSim({ seed: 7 }, simMode);
  try {
    return await withTmp('stage1', async (outDir) => {
      const client = new PolygonClient({ baseUrl: sim.url, apiKey: 'bench-key', connections: 32 });
      const symbols = Array.from({ length: count }, (_, i) => tickerOf(i)).sort();
      let events = 0;
      const t0 = performance.now();
      try {
        await lastValueFrom(
          detectStage({ outDir, symbols, from, to, client, detectors: builtinDetectors() }).pipe(
            tap((p) => {
              if (p.kind === 'symbol') events += p.events;
              else if (p.kind === 'failed') throw new Error(`stage 1 failed on ${p.symbol}: ${p.message}`);
            }),
          ),
          { defaultValue: undefined },
        );
      } finally {
        await client.close();
      }
      const sec = (performance.now() - t0) / 1000;
      return { symbols: count, from, to, sec, symbolsPerSec: count / sec, events };
    });
  } finally {
    await sim.close();
  }
}
