/**
 * Benchmark 4: detector throughput over in-memory minute bars (no HTTP), and stage 1 end to end
 * (detectStage against the simulator) in symbols/s.
 */
import { performance } from 'node:perf_hooks';
import { lastValueFrom, tap } from 'rxjs';
import { builtinDetectors, detectEvents } from '../../src/detect/index.js';
import { detectStage } from '../../src/pipeline/detect-stage.js';
import { PolygonClient } from '../../src/streams/polygon-client.js';
import type { Bar } from '../../src/types.js';
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

export interface DetectMeasure {
  readonly bars: number;
  readonly symbols: number;
  readonly events: number;
  /** Seconds inside detectEvents only (bar generation excluded). */
  readonly sec: number;
  readonly barsPerSec: number;
}

/** `total` bars in `symbols` symbols; each symbol's bars are made just before its timing starts. */
export async function measureDetect(total: number, symbols: number): Promise<DetectMeasure> {
  const per = Math.floor(total / symbols);
  const detectors = builtinDetectors();
  let sec = 0;
  let events = 0;
  for (let i = 0; i < symbols; i++) {
    const bars = synthBars(per, i + 1);
    const t0 = performance.now();
    events += (await detectEvents(bars, tickerOf(i), detectors)).length;
    sec += (performance.now() - t0) / 1000;
  }
  return { bars: per * symbols, symbols, events, sec, barsPerSec: (per * symbols) / sec };
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
