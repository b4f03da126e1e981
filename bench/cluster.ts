/**
 * `npm run bench:cluster`: cluster mode (BullMQ on Redis) with 1, 2 and 3 worker processes.
 *
 * Row A, scaling: windows/s with N processes on one run, unlimited quota (the client's shared
 * bucket set far above what the machine can use), the `in-play` density (the densest pages, so the
 * CPU per window is what it is on a busy day). Scaling efficiency = rate(N) / (N x rate(1)). On one
 * 2-core machine the processes share 2 cores, so this measures the overhead of the cluster
 * machinery (Redis round trips, claims, per-process journals), not what more hosts would add; the
 * load average before and after each configuration is recorded next to its figure.
 * Row B, quota: 3 processes against a strict simulator quota (sliding second), `--rate` = the
 * quota: the simulator's own 200-responses per second while work remains (min, max, mean,
 * seconds within 97%..101%+1) and its 429s.
 *
 * Needs Redis (REDIS_URL or 127.0.0.1:6379). Figures go to bench/results-cluster.json.
 *
 * @example
 * npm run bench:cluster -- --measure 60 --warm 10 --quota 25 --concurrency 8
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEMO_UNIVERSE } from '../src/cli/demo.js';
import { connectRedis, dropClusterRun } from '../src/cluster/coordinator.js';
import { startSim } from '../src/sim/index.js';
import { machine, sleep } from './lib/common.js';

const { values } = parseArgs({
  options: { measure: { type: 'string', default: '20' }, warm: { type: 'string', default: '6' }, quota: { type: 'string', default: '100' }, procs: { type: 'string', default: '1,2,3' }, concurrency: { type: 'string', default: '8' }, redis: { type: 'string' } },
  strict: true,
});
const measureS = Number(values.measure);
const warmS = Number(values.warm);
const quota = Number(values.quota);
// Windows in flight per process: an in-play window is heavy, and 32 at once on 2 cores all finish
// late together, so a 20 s window of measurement saw none complete.
const concurrency = Number(values.concurrency);
// --procs 0 skips the scaling row (only the quota row).
const procCounts = values.procs!.split(',').map(Number).filter((n) => n > 0);
const redis = values.redis ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const BIN = fileURLToPath(new URL('../../../bin/tickpipe.js', import.meta.url));
const log = (s: string) => void process.stderr.write(`[bench:cluster] ${s}\n`);

interface Proc {
  readonly child: ChildProcess;
  out: string;
  readonly done: Promise<number | null>;
}
function start(args: readonly string[]): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, POLYGON_API_KEY: 'bench-key' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { child, out: '', done: new Promise((r) => child.on('close', (c) => r(c))) };
  child.stdout!.on('data', (d: Buffer) => (p.out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (p.out += d.toString()));
  return p;
}

function committedWindows(out: string): number {
  const dir = join(out, 'state', 'ingest');
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const f of readdirSync(dir)) if (/^part-\d+\.jsonl$/.test(f)) n += readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => l.trim()).length;
  return n;
}

const root = await mkdtemp(join(tmpdir(), 'tickpipe-bench-cluster-'));
const results: Record<string, unknown> = { machine: machine(), measureS, warmS, quota, concurrency, redis: redis.replace(/\/\/[^@]*@/, '//[redacted]@') };
try {
  const universe = join(root, 'universe.txt');
  writeFileSync(universe, [...DEMO_UNIVERSE].sort().join('\n') + '\n');
  // One detect pass (one host) gives the manifest every configuration then ingests from scratch.
  const sim = await startSim({ port: 0, seed: 7, density: 'in-play', latency: { minMs: 20, maxMs: 20 } });
  const base = join(root, 'base');
  const d = start(['run', '--stage', 'detect', '--base-url', sim.url, '--universe', universe, '--from', '2024-01-02', '--to', '2024-03-28', '--out', base, '--no-progress', '--rate', '1000/s']);
  if ((await d.done) !== 0) throw new Error(`detect failed: ${d.out}`);
  log(`manifest ready: ${/events\s+([\d,]+)/.exec(d.out)?.[1] ?? '?'} events`);

  const runCluster = async (label: string, n: number, rate: number, simUrl: string) => {
    const out = join(root, `${label}-${n}`);
    cpSync(base, out, { recursive: true, filter: (src) => !/[/\\](logs|ingest)([/\\]|$)/.test(src) && !/\.lock$/.test(src) });
    // Same seed, another port: the copy names this simulator as its source.
    const spec = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { source: { baseUrl: string } };
    spec.source.baseUrl = simUrl;
    writeFileSync(join(out, 'run.json'), JSON.stringify(spec, null, 2) + '\n');
    const procs = [start(['run', '--cluster', redis, '--stage', 'ingest', '--base-url', simUrl, '--out', out, '--rate', `${rate}/s`, '--concurrency', String(concurrency), '--no-progress'])];
    for (let k = 1; k < n; k++) procs.push(start(['worker', '--cluster', redis, '--out', out, '--concurrency', String(concurrency)]));
    const loadBefore = loadavg()[0]!;
    while (committedWindows(out) === 0) await sleep(200);
    await sleep(warmS * 1000);
    const t0 = Date.now();
    const w0 = committedWindows(out);
    await sleep(measureS * 1000);
    const w1 = committedWindows(out);
    const t1 = Date.now();
    const load = { before: +loadBefore.toFixed(2), after: +loadavg()[0]!.toFixed(2) };
    for (const p of procs) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.done));
    const { runId } = JSON.parse(readFileSync(join(out, 'state', 'cluster', 'cluster.json'), 'utf8')) as { runId: string };
    const conn = connectRedis(redis);
    await dropClusterRun(conn, runId);
    conn.disconnect();
    return { windowsPerSec: ((w1 - w0) * 1000) / (t1 - t0), at: { t0, t1 }, load };
  };

  const scaling: Record<number, number> = {};
  const loads: Record<number, { before: number; after: number }> = {};
  for (const n of procCounts) {
    const r = await runCluster('unlimited', n, 100_000, sim.url);
    scaling[n] = r.windowsPerSec;
    loads[n] = r.load;
    log(`${n} process(es), unlimited quota, in-play: ${r.windowsPerSec.toFixed(1)} windows/s (load average ${r.load.before} before, ${r.load.after} after)`);
  }
  await sim.close();
  if (procCounts.length > 0) {
    const one = procCounts[0]!;
    results.scaling = { density: 'in-play', windowsPerSec: scaling, efficiency: Object.fromEntries(procCounts.map((n) => [n, (scaling[n]! * one) / (n * scaling[one]!)])), loadAverage: loads };
  }

  const qsim = await startSim({ port: 0, seed: 7, rate: quota, quotaMode: 'strict', latency: { minMs: 20, maxMs: 20 } });
  const since = qsim.stats().since;
  const r = await runCluster('quota', 3, quota, qsim.url);
  const s = qsim.stats();
  const first = Math.ceil((r.at.t0 - since) / 1000);
  const last = Math.floor((r.at.t1 - since) / 1000) - 1;
  const secs = s.okPerSecond.slice(first, last + 1);
  const within = secs.filter((x) => x >= 0.97 * quota && x <= quota * 1.01 + 1).length;
  results.quota = { quota, quotaMode: 'strict', loadAverage: r.load, perSecond: secs, min: Math.min(...secs), max: Math.max(...secs), mean: secs.reduce((a, b) => a + b, 0) / secs.length, secondsWithin: within, seconds: secs.length, rateLimited: s.rateLimited };
  log(`3 processes, quota ${quota}/s: per second min ${Math.min(...secs)} max ${Math.max(...secs)} mean ${(secs.reduce((a, b) => a + b, 0) / secs.length).toFixed(1)}, ${within}/${secs.length} s within 97%..101%+1, 429s ${s.rateLimited}`);
  await qsim.close();
} finally {
  await rm(root, { recursive: true, force: true });
}
writeFileSync(fileURLToPath(new URL('../../../bench/results-cluster.json', import.meta.url)), JSON.stringify(results, null, 2) + '\n');
console.log(JSON.stringify(results, null, 2));
