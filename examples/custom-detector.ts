/**
 * Example: run your own detector (gap_up) next to a built-in one over a small universe, with the
 * same guarantees as `tickpipe run --stage detect`: run.json identity check, per-worker locks,
 * atomic shards, journal lines as commit points, resume that skips committed symbols, and a
 * consolidated events/events.parquet that `tickpipe verify` accepts.
 *
 *   npx tsc -p tsconfig.examples.json && node dist-examples/custom-detector.js --out ./gap-run
 *   (add --base-url URL with POLYGON_API_KEY for a real API; without it an in-process simulator is used)
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { lastValueFrom, reduce } from 'rxjs';
import {
  PolygonClient,
  TokenBucket,
  consolidate,
  detectStage,
  detectorsByName,
  ensureRunSpec,
  hashUniverse,
  type ConsolidateResult,
  type RunSpec,
} from 'tickpipe';
import { startSim } from 'tickpipe/sim';
import { gapUp } from './gap-up.js';

/** Options of {@link main}. */
export interface CustomDetectorOptions {
  /** Run folder. */
  readonly outDir: string;
  /** API origin. @default an in-process simulator (seed 7) */
  readonly baseUrl?: string;
  /** @default process.env.POLYGON_API_KEY, or a dummy key for the simulator */
  readonly apiKey?: string;
  /** @default six demo small caps */
  readonly symbols?: readonly string[];
  /** @default '2024-03-04' */
  readonly from?: string;
  /** @default '2024-03-15' */
  readonly to?: string;
  /** Requests per second. @default 100 */
  readonly rate?: number;
}

/** What one call did. */
export interface CustomDetectorResult {
  readonly symbolsDetected: number;
  readonly symbolsSkipped: number;
  readonly shardsCommitted: number;
  readonly consolidated: ConsolidateResult;
}

export async function main(opts: CustomDetectorOptions): Promise<CustomDetectorResult> {
  const sim = opts.baseUrl === undefined ? await startSim({ seed: 7 }) : undefined;
  const baseUrl = opts.baseUrl ?? sim!.url;
  const apiKey = opts.apiKey ?? process.env.POLYGON_API_KEY ?? 'simulator';
  // The stage's partitioning relies on the universe being sorted and de-duplicated.
  const symbols = [...new Set(opts.symbols ?? ['AAOI', 'ABVC', 'ADTX', 'AEHL', 'AGRI', 'AIRI'])].sort();
  const from = opts.from ?? '2024-03-04';
  const to = opts.to ?? '2024-03-15';
  const detectors = [gapUp({ minGapPct: 5 }), ...detectorsByName(['flush'])];

  // One bucket for every request of the process: the quota guarantee.
  const client = new PolygonClient({ baseUrl, apiKey, bucket: new TokenBucket({ rate: opts.rate ?? 100 }) });
  try {
    const spec: RunSpec = {
      version: 1,
      source: sim ? { sim: { seed: 7 } } : { baseUrl },
      universe: { hash: hashUniverse(symbols), count: symbols.length },
      from,
      to,
      detectors: Object.fromEntries(detectors.map((d) => [d.name, d.settings ?? {}])),
    };
    // Refuses to resume a folder written with another universe, dates or detector settings.
    await ensureRunSpec(opts.outDir, spec, { stage: 'detect' });
    const counts = await lastValueFrom(
      detectStage({ outDir: opts.outDir, symbols, from, to, client, detectors, workers: 2, batchSize: 2 }).pipe(
        reduce(
          (acc, p) => {
            if (p.kind === 'start') acc.skipped = p.skipped;
            if (p.kind === 'symbol') acc.detected++;
            if (p.kind === 'batch') acc.shards++;
            if (p.kind === 'failed') throw new Error(`${p.symbol}: ${p.message}`);
            return acc;
          },
          { detected: 0, skipped: 0, shards: 0 },
        ),
      ),
    );
    const consolidated = await consolidate(opts.outDir);
    return { symbolsDetected: counts.detected, symbolsSkipped: counts.skipped, shardsCommitted: counts.shards, consolidated };
  } finally {
    await client.close();
    await sim?.close();
  }
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const baseUrl = flag('base-url');
  const result = await main({ outDir: resolve(flag('out') ?? 'gap-up-run'), ...(baseUrl ? { baseUrl } : {}) });
  console.log(JSON.stringify(result, null, 2));
}
