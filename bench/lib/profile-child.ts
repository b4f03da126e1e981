/**
 * Child of the profile: the ingest path (64 windows in flight, no added latency) for a fixed time,
 * meant to run under `node --cpu-prof` (one .cpuprofile per thread: main and each window worker).
 * The simulator is in another process, so the profiles hold only the pipeline. Prints one JSON
 * line: windows, rows the server sent, and this process's CPU time (all threads).
 *
 * Args: JSON `{ url, manifestPath, outDir, ms, rate? }` (rate omitted: no token bucket, as benchmark 12).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { startIngest } from './ingest.js';
import { peakRssMB, sleep } from './common.js';

/**
 * CPU ms of each OS thread of this process by thread name (/proc/self/task/<tid>/stat, Linux; 10 ms
 * ticks), summed per name: the main and worker JS threads, V8's GC helpers, libuv's pool and
 * Polars' own pool each show up, which a per-thread V8 profile does not.
 */
function threadCpuMs(): Record<string, number> {
  const out: Record<string, number> = {};
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields 14 and 15 of stat (utime, stime) are the 12th and 13th after the name.
      const ms = ((Number(f[11]) + Number(f[12])) * 1000) / 100;
      // Unnamed threads (worker_threads, libuv's pool, V8's platform threads all say "node") by tid.
      const key = t === String(process.pid) ? 'main' : name === 'node' ? `node/${t}` : name;
      out[key] = (out[key] ?? 0) + ms;
    } catch {
      // A thread that ended between the listing and the read.
    }
  }
  return out;
}

const a = JSON.parse(process.argv[2]!) as { url: string; manifestPath: string; outDir: string; ms: number; rate?: number };
const run = startIngest({ url: a.url, manifestPath: a.manifestPath, outDir: a.outDir, rate: a.rate, concurrency: 64, connections: 128 });
const cpu0 = process.cpuUsage();
const threads0 = threadCpuMs();
await sleep(a.ms);
const threads1 = threadCpuMs();
const r = await run.stop();
const cpu = process.cpuUsage(cpu0);
const threadMs = Object.fromEntries(Object.entries(threads1).map(([k, v]) => [k, v - (threads0[k] ?? 0)]));
console.log(JSON.stringify({ windows: r.windows, rows: run.rowsRead(), cpuMs: (cpu.user + cpu.system) / 1000, threadMs, sec: a.ms / 1000, maxRssMB: peakRssMB() }));
