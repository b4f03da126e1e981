/**
 * Benchmark 4: detector throughput over in-memory minute bars (no HTTP), the shared batch plan
 * against the per-symbol pass on the same bars, and stage 1 end to end (detectStage against the
 * simulator) in symbols/s.
 */
import { performance } from 'node:perf_hooks';
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
  /** The shared batch plan (`detectEventsBatch`, `groupBars` bars per call, default plan size). */
  readonly shared: DetectPathMeasure;
  /** The per-symbol pass every detector took before (`detectEventsPerSymbol`, one call per symbol). */
  readonly perSymbol: DetectPathMeasure;
  /** Whether both paths gave the same rows, every column exact. */
  readonly identical: boolean;
  /** Headline figure: the shared plan's bars/s. */
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
 * `total` bars in `symbols` symbols through both paths. Bars are made per group of `groupBars`
 * before the group's timing starts (10 M bars of JS objects at once would not fit comfortably);
 * the shared path gets each group in one `detectEventsBatch` call, the per-symbol path one call
 * per symbol. Both see the same bars, and their rows are compared.
 */
export async function measureDetect(total: number, symbols: number, groupBars = 2_000_000): Promise<DetectMeasure> {
  const per = Math.floor(total / symbols);
  const perGroup = Math.max(1, Math.floor(groupBars / per));
  const detectors = builtinDetectors();
  const shared = { sec: 0, cpu: 0, events: 0 };
  const old = { sec: 0, cpu: 0, events: 0 };
  let identical = true;
  for (let first = 0; first < symbols; first += perGroup) {
    const batch = Array.from({ length: Math.min(perGroup, symbols - first) }, (_, k) => ({ symbol: tickerOf(first + k), bars: synthBars(per, first + k + 1) }));
    let c0 = cpuSeconds();
    let t0 = performance.now();
    const got = await detectEventsBatch(batch, detectors);
    shared.sec += (performance.now() - t0) / 1000;
    shared.cpu += cpuSeconds() - c0;
    c0 = cpuSeconds();
    t0 = performance.now();
    const want: EventRow[][] = [];
    for (const { symbol, bars } of batch) want.push(await detectEventsPerSymbol(bars, symbol, detectors));
    old.sec += (performance.now() - t0) / 1000;
    old.cpu += cpuSeconds() - c0;
    for (const r of got) shared.events += r.length;
    for (const r of want) old.events += r.length;
    identical &&= sameRows(got, want);
  }
  const bars = per * symbols;
  const path = (m: typeof shared): DetectPathMeasure => ({ events: m.events, sec: m.sec, barsPerSec: bars / m.sec, cpuSec: m.cpu });
  const s = path(shared);
  return { bars, symbols, shared: s, perSymbol: path(old), identical, barsPerSec: s.barsPerSec, events: s.events, sec: s.sec };
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
