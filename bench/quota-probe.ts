/**
 * One quota configuration of benchmark 9, with what the table leaves out: how often the client's
 * bucket had nobody waiting (the pipeline, not the quota, set the pace), and the CPU of the client
 * and of the simulator child. Not part of `npm run bench`.
 *
 *   npx tsc -p tsconfig.bench.json
 *   node dist/.bench/bench/quota-probe.js QUOTA MODE DENSITY [CONCURRENCY|-] [CLIENT_RATE] [adaptive|x] [PAGE_THREADS]
 *   node dist/.bench/bench/quota-probe.js 100 tolerant busy
 *   node dist/.bench/bench/quota-probe.js 50 strict busy - 100 adaptive
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startIngest } from './lib/ingest.js';
import { openSim } from './lib/sim.js';
import { syntheticEvents, writeManifest, sleep } from './lib/common.js';
import { LATENCY, concurrencyFor } from './lib/quota.js';
import { hostCpu, hostCpuShares } from './lib/host-cpu.js';

const quota = Number(process.argv[2] ?? 100);
const mode = (process.argv[3] ?? 'tolerant') as 'tolerant' | 'strict';
const density = (process.argv[4] ?? 'busy') as 'sparse' | 'busy' | 'in-play';
const clientRate = Number(process.argv[6] ?? quota);
const adaptive = process.argv[7] === 'adaptive';
const conc = process.argv[5] && process.argv[5] !== '-' ? Number(process.argv[5]) : concurrencyFor(clientRate);
const dir = mkdtempSync(join(tmpdir(), 'tickpipe-quota-probe-'));
const manifest = join(dir, 'm.parquet');
writeManifest(manifest, syntheticEvents(30_000, 4).sort((a, b) => a.symbol.localeCompare(b.symbol) || a.timestamp - b.timestamp));
const pt = process.argv[8];
const sim = await openSim({ rate: quota, latency: LATENCY, seed: 7, quotaMode: mode, density, ...(pt !== undefined ? { pageThreads: Number(pt) } : {}) }, 'child');
const run = startIngest({ url: sim.url, manifestPath: manifest, outDir: join(dir, 'out'), rate: clientRate, adaptive, concurrency: conc });
await sleep(4000);
const a = await sim.stats();
const c0 = await sim.cpuUs();
const p0 = process.cpuUsage();
const h0 = hostCpu();
const waits: number[] = [];
const t = setInterval(() => waits.push(run.bucket!.stats().waiting), 20);
const t0 = performance.now();
await sleep(20000);
clearInterval(t);
const sec = (performance.now() - t0) / 1000;
const b = await sim.stats();
const simCpu = ((await sim.cpuUs()) - c0) / 1e6 / sec;
const p = process.cpuUsage(p0);
const host = hostCpuShares(h0, hostCpu());
const zero = waits.filter((w) => w === 0).length / waits.length;
console.log(`quota ${quota} ${mode} ${density} conc ${conc} client ${clientRate}${adaptive ? ' adaptive' : ''} (final ${run.bucket!.stats().rate.toFixed(1)}): use ${(((b.ok - a.ok) / sec / quota) * 100).toFixed(1)}% 429 ${b.rateLimited - a.rateLimited}; no waiter in ${(zero * 100).toFixed(1)}% of samples; mean waiters ${(waits.reduce((x, y) => x + y, 0) / waits.length).toFixed(1)}; sim cores ${simCpu.toFixed(2)}, client cores ${((p.user + p.system) / 1e6 / sec).toFixed(2)}; host busy ${host ? (host.busy * 100).toFixed(1) : '?'}% steal ${host ? (host.steal * 100).toFixed(1) : '?'}%`);
const per = b.requestsPerSecond.slice(Math.floor((a.requestsPerSecond.length)));
console.log('arrivals/s', JSON.stringify(per));
await run.stop();
await sim.close();
rmSync(dir, { recursive: true, force: true });
