/** Small helpers shared by the benchmarks: statistics, temp folders, synthetic manifests, child runs. */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventsToDataFrame } from '../../src/detect/index.js';
import type { EventRow } from '../../src/types.js';

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A fresh folder under the OS temp dir; `keep` leaves it for inspection. */
export async function withTmp<T>(label: string, fn: (dir: string) => Promise<T>, keep = false): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), `tickpipe-bench-${label}-`));
  try {
    return await fn(dir);
  } finally {
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}

const TYPES = ['opening_range_break', 'vwap_break', 'flush', 'volume_spike'] as const;
const DAY_MS = 86_400_000;

/** A ticker name from a number: B, C, … then BA, BB … (valid sim tickers, no collisions). */
export function tickerOf(i: number): string {
  let s = '';
  let n = i;
  do {
    s = String.fromCharCode(65 + (n % 26)) + s;
    n = Math.floor(n / 26);
  } while (n > 0);
  return `X${s}`;
}

/**
 * `count` distinct synthetic events on `symbols` sim tickers, on weekdays from 2024-01-02, during
 * regular hours (14:45–20:00 UTC), so every window has trades and quotes in the simulator.
 * `offset` shifts the sequence so two calls give disjoint events.
 */
export function syntheticEvents(count: number, symbols = 200, offset = 0): EventRow[] {
  const out: EventRow[] = new Array(count);
  const base = Date.UTC(2024, 0, 2);
  for (let k = 0; k < count; k++) {
    const i = k + offset;
    const sym = i % symbols;
    const j = Math.floor(i / symbols);
    const slot = j % 300; // 300 one-minute slots per day and symbol
    let day = Math.floor(j / 300);
    // weekdays only: 5 of every 7 days
    day = Math.floor(day / 5) * 7 + (day % 5);
    const t = base + day * DAY_MS + (14 * 60 + 45 + slot) * 60_000;
    out[k] = {
      symbol: tickerOf(sym),
      event_type: TYPES[i % TYPES.length]!,
      timestamp: t,
      session: 'RTH',
      price: 5,
      volume: 1000,
      vwap: 5,
      measure: 1,
    };
  }
  return out;
}

/** Writes events as a manifest Parquet (the consolidated events schema). */
export function writeManifest(path: string, events: readonly EventRow[]): void {
  eventsToDataFrame(events).writeParquet(path, { compression: 'zstd' });
}

export function machine(): { cpus: string; cores: number; node: string; platform: string; date: string } {
  const c = cpus();
  return {
    cpus: c[0]?.model ?? 'unknown',
    cores: c.length,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
  };
}

const HERE = fileURLToPath(new URL('.', import.meta.url));

/**
 * Runs `bench/lib/<script>.js` in a fresh Node process and returns the JSON object it printed
 * last on stdout (each child reports its own `process.resourceUsage().maxRSS`).
 */
export async function runChild<T>(script: string, args: readonly string[], execArgv: readonly string[] = []): Promise<T> {
  const child = spawn(process.execPath, [...execArgv, join(HERE, `${script}.js`), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const last = out.trim().split('\n').pop() ?? '';
  if (code !== 0) throw new Error(`bench child ${script} ${args.join(' ')} exited with ${String(code)}: ${last}`);
  return JSON.parse(last) as T;
}

/** Peak resident set size of this process so far, in MB. */
export function peakRssMB(): number {
  return process.resourceUsage().maxRSS / 1024;
}
