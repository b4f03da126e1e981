/**
 * Benchmark 3: the full ingest path against a server with no quota and no added latency, beside a
 * bare undici `Pool.request` loop fetching the same URLs from the same server (the loopback
 * ceiling). The ratio is the pipeline's own overhead.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import type { EventRow } from '../../src/types.js';
import { sleep, withTmp } from './common.js';
import { startIngest } from './ingest.js';
import { openSim, type SimMode } from './sim.js';

export interface ThroughputMeasure {
  readonly simMode: SimMode;
  readonly windowsPerSec: number;
  readonly pipelineReqPerSec: number;
  readonly bareReqPerSec: number;
  /** pipelineReqPerSec / bareReqPerSec. */
  readonly ratio: number;
}

const NS = 1_000_000n;
const CONCURRENCY = 64;

function paths(events: readonly EventRow[]): string[] {
  const out: string[] = [];
  for (const e of events) {
    const gte = BigInt(e.timestamp - 600_000) * NS;
    const lte = BigInt(e.timestamp + 1_200_000) * NS;
    for (const kind of ['trades', 'quotes']) {
      out.push(`/v3/${kind}/${e.symbol}?timestamp.gte=${gte}&timestamp.lte=${lte}&order=asc&limit=50000&sort=timestamp&apiKey=bench-key`);
    }
  }
  return out;
}

/** Requests/s of `CONCURRENCY` loops doing `Pool.request` + reading the body, nothing else. */
async function bareLoop(url: string, events: readonly EventRow[], warmMs: number, measureMs: number): Promise<number> {
  const pool = new Pool(url, { connections: CONCURRENCY * 2, pipelining: 1 });
  const targets = paths(events);
  let next = 0;
  let ok = 0;
  let stop = false;
  const loop = async (): Promise<void> => {
    while (!stop) {
      const res = await pool.request({ method: 'GET', path: targets[next++ % targets.length]! });
      await res.body.arrayBuffer();
      if (res.statusCode === 200) ok++;
    }
  };
  const all = Promise.all(Array.from({ length: CONCURRENCY * 2 }, loop));
  await sleep(warmMs);
  const a = ok;
  const t0 = performance.now();
  await sleep(measureMs);
  const n = ok - a;
  const sec = (performance.now() - t0) / 1000;
  stop = true;
  await all;
  await pool.close();
  return n / sec;
}

export async function measureThroughput(
  events: readonly EventRow[],
  manifestPath: string,
  simMode: SimMode,
  warmMs: number,
  measureMs: number,
): Promise<ThroughputMeasure> {
  const sim = await openSim({ seed: 7 }, simMode);
  try {
    const pipe = await withTmp('tput', async (outDir) => {
      // The pipeline's real settings: `tickpipe run` passes 128 connections and 64 windows in flight.
      const run = startIngest({ url: sim.url, manifestPath, outDir, rate: 1_000_000, concurrency: CONCURRENCY, connections: 128 });
      await sleep(warmMs);
      const a = await sim.stats();
      const w0 = run.windows();
      const t0 = performance.now();
      await sleep(measureMs);
      const b = await sim.stats();
      const w1 = run.windows();
      const sec = (performance.now() - t0) / 1000;
      await run.stop();
      return { windowsPerSec: (w1 - w0) / sec, reqPerSec: (b.ok - a.ok) / sec };
    });
    const bare = await bareLoop(sim.url, events, warmMs, measureMs);
    return { simMode, windowsPerSec: pipe.windowsPerSec, pipelineReqPerSec: pipe.reqPerSec, bareReqPerSec: bare, ratio: pipe.reqPerSec / bare };
  } finally {
    await sim.close();
  }
}
