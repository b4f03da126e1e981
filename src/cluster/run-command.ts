/** `tickpipe run --cluster URL`: the checks and the run spec of `run`, then the coordinator. */
import { existsSync } from 'node:fs';
import { formatSummary } from '../ops/run-summary.js';
import { exitStatusForSignal, gracefulStop } from '../signals.js';
import type { Detector } from '../detect/index.js';
import { datasetSummary, formatDatasetSummary } from '../dataset/check.js';
import { datasetPaths } from '../dataset/layout.js';
import { detectorSpec, type DetectorModule } from '../detect/module-loader.js';
import { UsageError } from '../errors.js';
import type { EventWindow } from '../pipeline/ingest-stage.js';
import type { Partition } from '../pipeline/partition.js';
import { ensureRunSpec, hashUniverse, sanitizeBaseUrl, type RunSpec } from '../sinks/index.js';
import { PolygonClient } from '../streams/polygon-client.js';
import { redactRedisUrl } from './url.js';
import { runClusterCoordinator, type ClusterIo, type ClusterRunOutcome } from './cli.js';
import { formatSlotTotals } from './run-totals.js';

export interface ClusterJobArgs {
  readonly values: { readonly 'base-url'?: string | undefined; readonly 'api-key'?: string | undefined; readonly manifest?: string | undefined; readonly adaptive?: boolean | undefined; readonly 'retry-failed'?: boolean | undefined; readonly 'no-progress'?: boolean | undefined; readonly 'no-compact'?: boolean | undefined; readonly 'remove-windows'?: boolean | undefined };
  readonly io: ClusterIo;
  readonly out: string;
  readonly embedded: boolean;
  readonly stage: string | undefined;
  readonly partition: Partition;
  readonly userRate: number | undefined;
  readonly symbols: readonly string[];
  readonly from: string;
  readonly to: string;
  readonly detectors: readonly Detector[];
  readonly detectorModule: DetectorModule | undefined;
  readonly window: EventWindow;
  readonly quotesHz: number;
  readonly batchSize: number;
  readonly concurrency: number | undefined;
  readonly url: string;
}

export async function runClusterJob(a: ClusterJobArgs): Promise<number> {
  if (a.embedded) throw new UsageError('--cluster needs --base-url and an API key: other hosts cannot reach the embedded simulator (start `tickpipe sim --host ADDR` for a shared one)');
  if (a.partition.count > 1) throw new UsageError('--cluster and --partition do not mix: the queue hands out the work');
  if (a.values.manifest !== undefined) throw new UsageError('--cluster reads the run folder\'s own manifest (events/events.parquet); --manifest is not supported with it');
  const apiKey = a.values['api-key'] ?? a.io.env.POLYGON_API_KEY ?? '';
  if (!apiKey) throw new UsageError('--base-url needs an API key: set POLYGON_API_KEY or pass --api-key');
  let baseUrl: string;
  try {
    baseUrl = new URL(a.values['base-url'] ?? 'https://api.polygon.io').origin;
  } catch {
    throw new UsageError(`--base-url: expected an http(s) URL, got ${JSON.stringify(a.values['base-url'])}`);
  }
  const doDetect = a.stage !== 'ingest';
  const doIngest = a.stage !== 'detect';
  // A refused key or an unreachable API is reported before anything is written or enqueued.
  const probe = new PolygonClient({ baseUrl, apiKey });
  try {
    await probe.preflight(a.symbols[0] ?? 'AAPL');
  } finally {
    await probe.close();
  }
  const spec: RunSpec = {
    version: 1,
    source: { baseUrl: sanitizeBaseUrl(baseUrl) },
    ...(doDetect ? { universe: { hash: hashUniverse(a.symbols), count: a.symbols.length }, from: a.from, to: a.to, detectors: detectorSpec(a.detectors, a.detectorModule) as RunSpec['detectors'] } : {}),
    ...(doIngest ? { window: a.window, quotesHz: a.quotesHz, manifest: 'events/events.parquet' } : {}),
  };
  await ensureRunSpec(a.out, spec);
  const rate = a.userRate ?? 100;
  const stop = gracefulStop((sig) => a.io.stderr.write(`tickpipe: ${sig} received: finishing jobs in flight (again to stop at once)\n`), () => undefined);
  try {
    a.io.stderr.write(`cluster: Redis ${redactRedisUrl(a.url)}, combined rate ${rate}/s for every host\n`);
    const outcome = await runClusterCoordinator({
      io: a.io,
      url: a.url,
      out: a.out,
      baseUrl,
      apiKey,
      symbols: a.symbols,
      detectorNames: a.detectors.map((d) => d.name),
      detectors: a.detectors,
      meta: {
        from: a.from,
        to: a.to,
        detectors: a.detectors.map((d) => d.name),
        batchSize: a.batchSize,
        window: a.window,
        quotesHz: a.quotesHz,
        doDetect,
        doIngest,
        retryFailed: a.values['retry-failed'] ?? false,
        rate,
        adaptive: a.values.adaptive ?? false,
        quota: rate,
        compact: a.values['no-compact'] ? null : { removeWindows: a.values['remove-windows'] ?? false },
      },
      concurrency: a.concurrency,
      signal: stop.signal,
    });
    const sig = stop.received();
    const notCompacted = await reportClusterRun(a, outcome, rate, sig);
    if (sig) return exitStatusForSignal(sig);
    const { summary, result, failedJobs } = outcome;
    return summary.windowsFailed > 0 || result.symbolsFailed > 0 || failedJobs > 0 || notCompacted > 0 ? 1 : 0;
  } finally {
    stop.dispose();
  }
}

/**
 * Prints the summary of a cluster run: the folder's totals (every host's journals), what each
 * host committed, the dataset's state, and what this process did. Returns how many committed
 * windows are not compacted although compaction was asked (the run then exits 1).
 */
async function reportClusterRun(a: ClusterJobArgs, o: ClusterRunOutcome, rate: number, sig: NodeJS.Signals | undefined): Promise<number> {
  const compactAsked = !a.values['no-compact'] && a.stage !== 'detect' && sig === undefined;
  const dataset = existsSync(datasetPaths(a.out).datasetDir) ? await datasetSummary(a.out) : null;
  const details = [
    ...formatSlotTotals(o.slots, o.result.slot),
    `This process (slot ${o.result.slot}): ${o.result.symbols} symbols, ${o.result.windows} windows, ${o.result.skippedCommitted} re-delivered jobs already committed`,
    ...(compactAsked || dataset ? [`Dataset: ${formatDatasetSummary(dataset)}`] : []),
    ...(o.failedJobs > 0 ? [`${o.failedJobs} job(s) failed on every attempt (see logs/tickpipe.slot-*.log); rerun the same command to retry them`] : []),
  ];
  const stop = sig ? { signal: sig, stage: 'ingest' as const } : undefined;
  a.io.stdout.write(formatSummary(o.summary, { out: a.out, rate, quota: undefined, adaptive: a.values.adaptive ?? false, stop, partitioned: false, dataset: dataset !== null, details }) + '\n');
  if (!compactAsked || o.summary.windows === 0) return 0;
  return dataset ? dataset.windowsPending : o.summary.windows;
}
