/**
 * The CPU profile of the ingest path: runs profile-child under `node --cpu-prof` and reduces the
 * .cpuprofile of every thread (the main thread and each window worker) to self time per function
 * and per code area, per thread and summed. Benchmark 7 profiles benchmark 3's sparse data through
 * a token bucket; `density` 'busy' or 'in-play' without a bucket profiles benchmark 12's path.
 */
import type { Density } from '../../src/sim/market.js';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runChild, withTmp } from './common.js';
import { openSim } from './sim.js';

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  readonly name: string;
  readonly ms: number;
  readonly share: number;
}

/** One thread's profile, reduced like the whole. */
export interface ThreadProfile {
  /** The profile's file name (main thread first, then workers by thread id). */
  readonly file: string;
  readonly totalMs: number;
  readonly topFunctions: ProfileEntry[];
  readonly areas: ProfileEntry[];
}

export interface ProfileResult {
  readonly sec: number;
  readonly windows: number;
  /** Trades and quotes rows the server sent during the run. */
  readonly rows: number;
  /** CPU time of the child process, all threads (process.cpuUsage). */
  readonly cpuMs: number;
  /** CPU ms per OS thread name while measuring (Linux /proc; 10 ms ticks): main, workers, GC helpers, Polars' pool… */
  readonly threadMs: Record<string, number>;
  /** Samples of all threads, idle included. */
  readonly totalMs: number;
  readonly topFunctions: ProfileEntry[];
  readonly areas: ProfileEntry[];
  readonly threads: ThreadProfile[];
}

/** Where a frame's code lives, coarse enough to name the slow part of the pipeline. */
function area(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)') return 'idle';
  if (fn === '(program)') return 'native/program (incl. polars & fs threads handing back)';
  const m = /\/src\/([^/]+)\/([^/]+)\.js/.exec(url);
  if (m) return `tickpipe src/${m[1]}/${m[2]}`;
  if (url.includes('node_modules/undici')) return 'undici';
  if (url.includes('node_modules/rxjs')) return 'rxjs';
  if (url.includes('nodejs-polars')) return 'nodejs-polars (JS side)';
  if (url.startsWith('node:')) return `node core ${url.replace(/^node:internal\//, '').split('/')[0]}`;
  if (url === '') return `native ${fn || '(anonymous)'}`;
  return url;
}

function threadOf(file: string): number {
  return Number(file.split('.').at(-3) ?? 0);
}

function shortUrl(url: string): string {
  const i = url.lastIndexOf('/src/');
  if (i >= 0) return url.slice(i + 1);
  const n = url.lastIndexOf('node_modules/');
  if (n >= 0) return url.slice(n + 'node_modules/'.length);
  return url.replace(/^file:\/\//, '');
}

/** Self time per function and per area; several profiles (threads) are summed. */
export function reduceProfile(ps: CpuProfile | readonly CpuProfile[], top = 15): { totalMs: number; topFunctions: ProfileEntry[]; areas: ProfileEntry[] } {
  const fn = new Map<string, number>();
  const ar = new Map<string, number>();
  let total = 0;
  for (const p of Array.isArray(ps) ? ps : [ps]) total += addProfile(p as CpuProfile, fn, ar);
  const list = (m: Map<string, number>, n: number): ProfileEntry[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: us / 1000, share: us / total }));
  return { totalMs: total / 1000, topFunctions: list(fn, top), areas: list(ar, 20) };
}

/** Adds one profile's self time (µs) into the per-function and per-area maps; returns its total. */
function addProfile(p: CpuProfile, fn: Map<string, number>, ar: Map<string, number>): number {
  const byId = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const cf = byId.get(p.samples[i]!)!;
    const us = p.timeDeltas[i] ?? 0;
    total += us;
    const key = `${cf.functionName || '(anonymous)'} ${cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : ''}`.trim();
    fn.set(key, (fn.get(key) ?? 0) + us);
    const a = area(cf.url, cf.functionName);
    ar.set(a, (ar.get(a) ?? 0) + us);
  }
  return total;
}

/**
 * Profiles the ingest path for `ms` against a simulator child. Without `density`: benchmark 7
 * (sparse data, a token bucket far above what the server does). With it: benchmark 12's setting
 * (that density, no bucket).
 */
export async function profileIngest(manifestPath: string, ms: number, density?: Density): Promise<ProfileResult> {
  const sim = await openSim({ seed: 7, ...(density ? { density } : {}) });
  try {
    return await withTmp('prof', async (dir) => {
      const profDir = join(dir, 'prof');
      const outDir = join(dir, 'out');
      const r = await runChild<{ windows: number; rows: number; cpuMs: number; threadMs: Record<string, number>; sec: number }>(
        'profile-child',
        [JSON.stringify({ url: sim.url, manifestPath, outDir, ms, ...(density ? {} : { rate: 1_000_000 }) })],
        ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
      );
      // Node names them CPU.<date>.<time>.<pid>.<threadId>.<seq>.cpuprofile: thread 0 is the main thread.
      const files = (await readdir(profDir)).filter((n) => n.endsWith('.cpuprofile')).sort((a, b) => threadOf(a) - threadOf(b));
      if (files.length === 0) throw new Error('no .cpuprofile written');
      const ps = await Promise.all(files.map(async (f) => JSON.parse(await readFile(join(profDir, f), 'utf8')) as CpuProfile));
      const threads = ps.map((p, i) => ({ file: files[i]!, ...reduceProfile(p) }));
      return { sec: r.sec, windows: r.windows, rows: r.rows, cpuMs: r.cpuMs, threadMs: r.threadMs, ...reduceProfile(ps), threads };
    });
  } finally {
    await sim.close();
  }
}
