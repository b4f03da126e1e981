/**
 * The CPU profile of benchmark 3's ingest path: runs profile-child under `node --cpu-prof` and
 * reduces the .cpuprofile to self time per function and per code area.
 */
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

export interface ProfileResult {
  readonly sec: number;
  readonly windows: number;
  readonly totalMs: number;
  readonly topFunctions: ProfileEntry[];
  readonly areas: ProfileEntry[];
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

function shortUrl(url: string): string {
  const i = url.lastIndexOf('/src/');
  if (i >= 0) return url.slice(i + 1);
  const n = url.lastIndexOf('node_modules/');
  if (n >= 0) return url.slice(n + 'node_modules/'.length);
  return url.replace(/^file:\/\//, '');
}

export function reduceProfile(p: CpuProfile, top = 15): { totalMs: number; topFunctions: ProfileEntry[]; areas: ProfileEntry[] } {
  const byId = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  const fn = new Map<string, number>();
  const ar = new Map<string, number>();
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
  const list = (m: Map<string, number>, n: number): ProfileEntry[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: us / 1000, share: us / total }));
  return { totalMs: total / 1000, topFunctions: list(fn, top), areas: list(ar, 20) };
}

export async function profileIngest(manifestPath: string, ms: number): Promise<ProfileResult> {
  const sim = await openSim({ seed: 7 });
  try {
    return await withTmp('prof', async (dir) => {
      const profDir = join(dir, 'prof');
      const outDir = join(dir, 'out');
      const r = await runChild<{ windows: number; sec: number }>(
        'profile-child',
        [JSON.stringify({ url: sim.url, manifestPath, outDir, ms })],
        ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
      );
      const file = (await readdir(profDir)).find((n) => n.endsWith('.cpuprofile'));
      if (!file) throw new Error('no .cpuprofile written');
      const p = JSON.parse(await readFile(join(profDir, file), 'utf8')) as CpuProfile;
      return { sec: r.sec, windows: r.windows, ...reduceProfile(p) };
    });
  } finally {
    await sim.close();
  }
}
