/**
 * Benchmarks 1 and 2: share of the server's quota turned into successful requests, and the 429
 * share, over a steady window after warm-up, read from the simulator's own counters.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { TokenBucket } from '../../src/operators/token-bucket.js';
import type { SimStats } from '../../src/sim/index.js';
import type { EventRow } from '../../src/types.js';
import { sleep, withTmp } from './common.js';
import { hostCpu, hostCpuShares } from './host-cpu.js';
import { startIngest } from './ingest.js';
import { startOldDesign } from './old-design.js';
import { openSim, type SimMode } from './sim.js';

export const LATENCY = { medianMs: 100, p99Ms: 600 } as const;

export interface QuotaMeasure {
  readonly design: 'tickpipe' | 'old';
  readonly quota: number;
  readonly clientRate: number;
  readonly adaptive: boolean;
  readonly concurrency: number;
  readonly windowSec: number;
  /** Event window length in minutes. */
  readonly eventWindowMin: number;
  /** Successful (complete 200) responses per second in the window. */
  readonly okPerSec: number;
  /** okPerSec / quota. */
  readonly quotaUse: number;
  /** 429 responses / all requests in the window. */
  readonly share429: number;
  readonly requests: number;
  /** Event windows completed per second in the window (tickpipe: committed to disk; old: downloaded). */
  readonly eventsPerSec: number;
  /** Client bucket's rate at the end (adaptive mode). */
  readonly finalRate?: number;
  /** The simulator's quota mode and tick density (issue 16 rows). */
  readonly quotaMode?: 'tolerant' | 'strict';
  readonly density?: 'sparse' | 'busy' | 'in-play';
  /** Event-loop delay p99 of the pipeline's process in the window, ms. */
  readonly loopDelayP99Ms?: number;
  /** Process CPU (all threads) per successful request in the window, ms. */
  readonly cpuMsPerRequest?: number;
  /** CPU cores the simulator used in the window (its own process when `simMode` is 'child'). */
  readonly simCores?: number;
  /** The machine in the window (/proc/stat): share of both cores busy, and share stolen by the hypervisor. */
  readonly hostBusy?: number;
  readonly hostSteal?: number;
}

export interface QuotaSetup {
  readonly quota: number;
  readonly clientRate: number;
  readonly adaptive: boolean;
  readonly warmMs: number;
  readonly measureMs: number;
  readonly manifestPath: string;
  readonly events: readonly EventRow[];
  readonly simMode: SimMode;
  /** Event window; undefined: the stage's default (30 minutes). */
  readonly window?: { readonly beforeMs: number; readonly afterMs: number };
  readonly quotaMode?: 'tolerant' | 'strict';
  readonly density?: 'sparse' | 'busy' | 'in-play';
}

function delta(a: SimStats, b: SimStats): { ok: number; requests: number; rateLimited: number } {
  return { ok: b.ok - a.ok, requests: b.requests - a.requests, rateLimited: b.rateLimited - a.rateLimited };
}

/** Windows in flight so that requests in flight cover rate × p99 latency with room to spare. */
export function concurrencyFor(rate: number): number {
  return Math.max(16, Math.ceil(rate * (LATENCY.p99Ms / 1000)));
}

export async function measureQuota(design: 'tickpipe' | 'old', s: QuotaSetup): Promise<QuotaMeasure> {
  const sim = await openSim({ rate: s.quota, latency: LATENCY, seed: 7, ...(s.quotaMode ? { quotaMode: s.quotaMode } : {}), ...(s.density ? { density: s.density } : {}) }, s.simMode);
  try {
    return await withTmp('quota', async (outDir) => {
      const concurrency = design === 'old' ? 6 : concurrencyFor(s.clientRate);
      let bucket: TokenBucket | undefined;
      const run =
        design === 'old'
          ? (() => {
              const r = startOldDesign({ url: sim.url, apiKey: 'bench-key', rate: s.clientRate, events: s.events, ...(s.window ? { window: s.window } : {}) });
              return { events: () => r.events(), stop: async () => void (await r.stop()) };
            })()
          : (() => {
              const r = startIngest({ url: sim.url, manifestPath: s.manifestPath, outDir, rate: s.clientRate, adaptive: s.adaptive, concurrency, ...(s.window ? { window: s.window } : {}) });
              bucket = r.bucket;
              return { events: () => r.windows(), stop: async () => void (await r.stop()) };
            })();
      await sleep(s.warmMs);
      const a = await sim.stats();
      const ev0 = run.events();
      const loop = monitorEventLoopDelay({ resolution: 10 });
      loop.enable();
      const cpu0 = process.cpuUsage();
      const sim0 = await sim.cpuUs();
      const host0 = hostCpu();
      const t0 = performance.now();
      await sleep(s.measureMs);
      const cpu = process.cpuUsage(cpu0);
      const host = hostCpuShares(host0, hostCpu());
      const simUs = (await sim.cpuUs()) - sim0;
      loop.disable();
      const b = await sim.stats();
      const ev1 = run.events();
      const sec = (performance.now() - t0) / 1000;
      const finalRate = bucket?.currentRate;
      await run.stop();
      const d = delta(a, b);
      const okPerSec = d.ok / sec;
      return {
        design,
        quota: s.quota,
        clientRate: s.clientRate,
        adaptive: s.adaptive,
        concurrency,
        windowSec: sec,
        eventWindowMin: s.window ? (s.window.beforeMs + s.window.afterMs) / 60_000 : 30,
        okPerSec,
        quotaUse: okPerSec / s.quota,
        share429: d.requests > 0 ? d.rateLimited / d.requests : 0,
        requests: d.requests,
        eventsPerSec: (ev1 - ev0) / sec,
        ...(finalRate !== undefined ? { finalRate } : {}),
        ...(s.quotaMode ? { quotaMode: s.quotaMode } : {}),
        ...(s.density ? { density: s.density } : {}),
        loopDelayP99Ms: loop.percentile(99) / 1e6,
        cpuMsPerRequest: d.ok > 0 ? (cpu.user + cpu.system) / 1000 / d.ok : Number.NaN,
        ...(s.simMode === 'child' ? { simCores: simUs / 1e6 / sec } : {}),
        ...(host ? { hostBusy: host.busy, hostSteal: host.steal } : {}),
      };
    });
  } finally {
    await sim.close();
  }
}
