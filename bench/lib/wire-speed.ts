/**
 * Benchmark 12 (issue 16): stage 2 at wire speed on dense data. The real ingest path (ingestStage +
 * PolygonClient, window pool, no quota) against a simulator in its own process, default 30-minute
 * windows, beside a bare loop (undici Pool.request + JSON.parse, following next_url) fetching the
 * same windows' pages from the same server in the same run. For each: windows/s, requests/s, client
 * CPU per row the server sent (process.cpuUsage: all threads, workers included), event-loop delay
 * p99 (monitorEventLoopDelay) and the simulator's CPU share (its process's CPU time ÷ wall time, as
 * a share of one core and of the machine), to tell when the server is the limit.
 */
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import type { Density } from '../../src/sim/market.js';
import type { EventRow } from '../../src/types.js';
import { sleep, withTmp } from './common.js';
import { hostCpu, hostCpuShares } from './host-cpu.js';
import { startIngest } from './ingest.js';
import { openSim, type SimHandle, type SimMode } from './sim.js';

export interface WireSide {
  readonly windowsPerSec: number;
  readonly reqPerSec: number;
  readonly rows: number;
  readonly cpuUsPerRow: number;
  readonly loopP99Ms: number;
  /** Simulator CPU ÷ wall time (1 = one core busy). */
  readonly simCores: number;
  /** The machine in the window (/proc/stat): share of both cores busy, share stolen by the hypervisor. */
  readonly hostBusy?: number;
  readonly hostSteal?: number;
  /** Bare loop only: windows lost to a failed request (not counted in windows/s). */
  readonly errors?: number;
}

export interface WireSpeed {
  readonly density: Density;
  readonly workers: number | 'default';
  readonly pipeline: WireSide;
  readonly bare: WireSide;
  /** pipeline ÷ bare. */
  readonly windowsRatio: number;
  readonly requestsRatio: number;
  readonly cores: number;
}

const NS = 1_000_000n;
const CONCURRENCY = 64;

interface Probe {
  stop(): Promise<WireSide>;
}

/** Starts measuring: CPU of this process, of the simulator, the event loop, and the given counters. */
async function probe(sim: SimHandle, counters: () => { windows: number; requests: number; rows: number }): Promise<Probe> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  const c0 = counters();
  const cpu0 = process.cpuUsage();
  const sim0 = await sim.cpuUs();
  const host0 = hostCpu();
  const t0 = performance.now();
  h.enable();
  return {
    async stop() {
      h.disable();
      const sec = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const host = hostCpuShares(host0, hostCpu());
      const simUs = (await sim.cpuUs()) - sim0;
      const c = counters();
      const rows = c.rows - c0.rows;
      return {
        windowsPerSec: (c.windows - c0.windows) / sec,
        reqPerSec: (c.requests - c0.requests) / sec,
        rows,
        cpuUsPerRow: (cpu.user + cpu.system) / Math.max(1, rows),
        loopP99Ms: h.percentile(99) / 1e6,
        simCores: simUs / 1e6 / sec,
        ...(host ? { hostBusy: host.busy, hostSteal: host.steal } : {}),
      };
    },
  };
}

/** `CONCURRENCY` loops, each fetching one window's trades and quotes (all pages) and JSON.parse-ing them. */
async function bareLoop(sim: SimHandle, events: readonly EventRow[], warmMs: number, measureMs: number): Promise<WireSide> {
  const pool = new Pool(sim.url, { connections: CONCURRENCY * 2, pipelining: 1 });
  let next = 0;
  let windows = 0;
  let requests = 0;
  let rows = 0;
  let errors = 0;
  let stop = false;
  const listing = async (path: string): Promise<void> => {
    let target: string | undefined = path;
    while (target !== undefined) {
      const res = await pool.request({ method: 'GET', path: target });
      const body = JSON.parse(await res.body.text()) as { results?: unknown[]; next_url?: string };
      requests++;
      rows += body.results?.length ?? 0;
      target = body.next_url ? `${new URL(body.next_url).pathname}${new URL(body.next_url).search}&apiKey=bench-key` : undefined;
    }
  };
  const loop = async (): Promise<void> => {
    while (!stop) {
      const e = events[next++ % events.length]!;
      const q = `timestamp.gte=${BigInt(e.timestamp - 600_000) * NS}&timestamp.lte=${BigInt(e.timestamp + 1_200_000) * NS}&order=asc&limit=50000&sort=timestamp&apiKey=bench-key`;
      try {
        await Promise.all([listing(`/v3/trades/${e.symbol}?${q}`), listing(`/v3/quotes/${e.symbol}?${q}`)]);
        windows++;
      } catch {
        // A connection the server closed (keep-alive timeout under load): that window is not counted.
        errors++;
      }
    }
  };
  const all = Promise.all(Array.from({ length: CONCURRENCY }, loop));
  await sleep(warmMs);
  const p = await probe(sim, () => ({ windows, requests, rows }));
  await sleep(measureMs);
  const side = await p.stop();
  stop = true;
  await all;
  await pool.close();
  return { ...side, errors };
}

export async function measureWireSpeed(density: Density, manifestPath: string, events: readonly EventRow[], simMode: SimMode, warmMs: number, measureMs: number, workers?: number): Promise<WireSpeed> {
  const sim = await openSim({ seed: 7, density }, simMode);
  try {
    const pipeline = await withTmp('wire', async (outDir) => {
      const run = startIngest({ url: sim.url, manifestPath, outDir, rate: undefined, concurrency: CONCURRENCY, connections: CONCURRENCY * 2, ...(workers !== undefined ? { threads: workers } : {}) });
      await sleep(warmMs);
      const p = await probe(sim, () => ({ windows: run.windows(), requests: run.client.metrics().ok, rows: run.rowsRead() }));
      await sleep(measureMs);
      const side = await p.stop();
      await run.stop();
      return side;
    });
    const bare = await bareLoop(sim, events, warmMs, measureMs);
    return {
      density,
      workers: workers ?? 'default',
      pipeline,
      bare,
      windowsRatio: pipeline.windowsPerSec / bare.windowsPerSec,
      requestsRatio: pipeline.reqPerSec / bare.reqPerSec,
      cores: availableParallelism(),
    };
  } finally {
    await sim.close();
  }
}
