import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { lastValueFrom, share, tap, type Observable } from 'rxjs';
import type { Detector } from '../detect/index.js';
import { parseDay } from '../detect/index.js';
import { detectorSpec, loadDetectorModule, selectDetectors } from '../detect/module-loader.js';
import { InputError, LockedError, UsageError } from '../errors.js';
import { openRunLogs, type RunLogs } from '../log.js';
import { heartbeat } from '../operators/heartbeat.js';
import { TokenBucket } from '../operators/token-bucket.js';
import { consolidate, manifestPath, type ConsolidateResult } from '../pipeline/consolidate.js';
import { detectStage, type DetectProgress } from '../pipeline/detect-stage.js';
import { DEFAULT_WINDOW, ingestStage, type EventWindow, type IngestProgress } from '../pipeline/ingest-stage.js';
import { ownedWorkers, parsePartition, WHOLE, type Partition } from '../pipeline/partition.js';
import { runSummary, type RunSummary } from '../pipeline/summary.js';
import { describeLock, ensureRunSpec, hashUniverse, isProcessAlive, readLock, shardPaths, type RunSpec } from '../sinks/index.js';
import { pauseFlag$ } from '../streams/pause-flag.js';
import { PolygonClient } from '../streams/polygon-client.js';
import { readUniverse } from '../streams/universe.js';
import { parseDuration, parseFlags, parseIntInRange, parseRate, type ParsedFlags } from './args.js';
import { DEMO_FROM, DEMO_SIM, DEMO_TO, DEMO_UNIVERSE } from './demo.js';
import type { Command, CommandIo } from './main.js';
import { bar, formatDuration, ProgressView } from './progress-view.js';
import { compactAfterIngest, formatCompact } from './compact.js';
import { exitStatusForSignal, gracefulStop } from './signals.js';

const HELP = `Usage: tickpipe run [options]

Runs stage 1 (detect events from minute bars), consolidates the manifest, then stage 2 (download
the trades and quotes around every event). Every item is committed exactly once; rerunning resumes.
With no --base-url and no API key it runs on the embedded simulator with a demo universe.

Options:
  --stage detect|ingest    run one stage only (default: both, with consolidate between)
  --universe FILE          symbols: .txt (one a line, # comments), .csv or .parquet (symbol|ticker column)
  --from YYYY-MM-DD        first day of minute bars (inclusive)
  --to YYYY-MM-DD          last day (inclusive)
  --out DIR                run folder (default ./tickpipe-data)
  --workers N              stage-1 worker partitions (default 4)
  --batch-size B           symbols per stage-1 shard (default 50)
  --concurrency C          symbols in flight per worker (default 4) / windows in flight (default 64)
  --rate R                 requests per second for this process, e.g. 100/s or 300/min
                           (default 100/s, divided by N with --partition i/N; the simulator's quota on the demo)
  --adaptive               lower the rate on 429s (AIMD) and recover it slowly
  --partition i/N          run only share i of N (separate processes on one run folder)
  --manifest FILE          stage-2 events (Parquet/CSV: symbol, event_type, timestamp); default events/events.parquet
  --window -10m,+20m       time around each event (default -10m,+20m)
  --quotes-hz H            quotes kept per second, last NBBO per bucket; 0 keeps all (default 1)
  --retry-failed           try events of the failure journal again
  --detectors a,b          detectors to run (default all: opening_range_break,vwap_break,flush,volume_spike,
                           plus every detector of --detector-module)
  --detector-module FILE   ES module whose default export or \`detectors\` export is a Detector or an array of them
  --base-url URL           API origin (default https://api.polygon.io when a key is given)
  --api-key KEY            API key (default $POLYGON_API_KEY); never logged or written
  --steal-locks            take over partition locks held by another live process or host
  --sim-seed N             seed of the embedded simulator (default 7)
  --no-progress            no live view; plain lines only
  --no-compact             do not compact the windows into dataset/ at the end of ingest
  --remove-windows         remove each window folder once compacted (default: keep them)
  -h, --help               this help`;

const FLAGS = {
  stage: { type: 'string' },
  universe: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  out: { type: 'string' },
  workers: { type: 'string' },
  'batch-size': { type: 'string' },
  concurrency: { type: 'string' },
  rate: { type: 'string' },
  adaptive: { type: 'boolean' },
  partition: { type: 'string' },
  manifest: { type: 'string' },
  window: { type: 'string' },
  'quotes-hz': { type: 'string' },
  'retry-failed': { type: 'boolean' },
  detectors: { type: 'string' },
  'detector-module': { type: 'string' },
  'base-url': { type: 'string' },
  'api-key': { type: 'string' },
  'steal-locks': { type: 'boolean' },
  'sim-seed': { type: 'string' },
  'no-progress': { type: 'boolean' },
  'no-compact': { type: 'boolean' },
  'remove-windows': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `-10m,+20m` → window. */
export function parseWindow(flag: string, value: string): EventWindow {
  const parts = value.split(',').map((s) => s.trim());
  const ok = parts.length === 2 && parts[0]!.startsWith('-') && parts[1]!.startsWith('+');
  if (!ok) throw new UsageError(`${flag}: expected -BEFORE,+AFTER such as -10m,+20m, got ${JSON.stringify(value)}`);
  const beforeMs = parseDuration(flag, parts[0]!.slice(1));
  const afterMs = parseDuration(flag, parts[1]!.slice(1));
  if (beforeMs < 0 || afterMs < 0 || beforeMs + afterMs <= 0) throw new UsageError(`${flag}: the window must not be empty, got ${JSON.stringify(value)}`);
  return { beforeMs, afterMs };
}

interface Source {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly spec: RunSpec['source'];
  /** The quota the rate is measured against (the simulator's, or the configured rate). */
  readonly quota: number;
  close(): Promise<void>;
}

async function openSource(values: { 'base-url'?: string; 'api-key'?: string; 'sim-seed'?: string }, env: NodeJS.ProcessEnv, rate: number | undefined): Promise<Source> {
  const apiKey = values['api-key'] ?? env.POLYGON_API_KEY;
  const baseUrl = values['base-url'];
  if (baseUrl !== undefined || apiKey) {
    if (!apiKey) throw new UsageError('--base-url needs an API key: set POLYGON_API_KEY or pass --api-key');
    const url = baseUrl ?? 'https://api.polygon.io';
    let origin: string;
    try {
      const u = new URL(url);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
      origin = u.origin;
    } catch {
      throw new UsageError(`--base-url: expected an http(s) URL, got ${JSON.stringify(url)}`);
    }
    return { baseUrl: origin, apiKey, spec: { baseUrl: origin }, quota: rate ?? 100, close: async () => {} };
  }
  const seed = values['sim-seed'] === undefined ? DEMO_SIM.seed : parseIntInRange('--sim-seed', values['sim-seed'], 0, 2 ** 31 - 1);
  const { startSimThread } = await import('../sim/index.js');
  const sim = await startSimThread({ seed, port: 0, rate: DEMO_SIM.rate, latency: DEMO_SIM.latency });
  return { baseUrl: sim.url, apiKey: 'demo-key', spec: { sim: { seed } }, quota: DEMO_SIM.rate, close: () => sim.close() };
}

export const runCommand: Command = {
  name: 'run',
  summary: 'detect events and download their trade/quote windows (both stages, resumable)',
  async run(argv, io) {
    const { values } = parseFlags('run', argv, FLAGS);
    if (values.help) {
      io.stdout.write(HELP + '\n');
      return 0;
    }
    return runJob(values, io);
  },
};

type Values = ParsedFlags<typeof FLAGS>['values'];

async function runJob(values: Values, io: CommandIo): Promise<number> {
  // Everything that can be wrong with the input is checked before the run folder is touched.
  const stage = values.stage;
  if (stage !== undefined && stage !== 'detect' && stage !== 'ingest') {
    throw new UsageError(`--stage: expected detect or ingest, got ${JSON.stringify(stage)}`);
  }
  if (stage === undefined && values.partition !== undefined && parsePartition('--partition', values.partition).count > 1) {
    // The manifest must be consolidated once, from every partition's shards, before any ingest half
    // reads it: positions in it decide who owns an event.
    throw new UsageError('--partition i/N needs --stage detect or --stage ingest: run every detect half, then `tickpipe consolidate`, then the ingest halves');
  }
  const doDetect = stage !== 'ingest';
  const doIngest = stage !== 'detect';
  const out = resolve(values.out ?? 'tickpipe-data');
  const workers = values.workers === undefined ? 4 : parseIntInRange('--workers', values.workers, 1, 256);
  const batchSize = values['batch-size'] === undefined ? 50 : parseIntInRange('--batch-size', values['batch-size'], 1, 100_000);
  const concurrency = values.concurrency === undefined ? undefined : parseIntInRange('--concurrency', values.concurrency, 1, 4096);
  const partition: Partition = values.partition === undefined ? WHOLE : parsePartition('--partition', values.partition);
  const userRate = values.rate === undefined ? undefined : parseRate('--rate', values.rate);
  const window = values.window === undefined ? DEFAULT_WINDOW : parseWindow('--window', values.window);
  const quotesHz = values['quotes-hz'] === undefined ? 1 : Number(values['quotes-hz']);
  if (!Number.isFinite(quotesHz) || quotesHz < 0 || quotesHz > 1000) {
    throw new UsageError(`--quotes-hz: expected a number from 0 to 1000, got ${JSON.stringify(values['quotes-hz'])}`);
  }
  const detectorModule = values['detector-module'] === undefined ? undefined : await loadDetectorModule(values['detector-module'], { label: '--detector-module' });
  const detectors: readonly Detector[] = selectDetectors(values.detectors?.split(',').map((s) => s.trim()), detectorModule);
  const embedded = values['base-url'] === undefined && !(values['api-key'] ?? io.env.POLYGON_API_KEY);

  let symbols: string[] = [];
  let from = values.from;
  let to = values.to;
  if (doDetect) {
    if (values.universe !== undefined) {
      const u = await readUniverse(values.universe);
      symbols = u.symbols;
      if (u.duplicates.length > 0) {
        io.stderr.write(`tickpipe run: warning: ${u.duplicates.length} duplicate symbol(s) in ${values.universe} ignored: ${u.duplicates.slice(0, 5).join(', ')}${u.duplicates.length > 5 ? ', …' : ''}\n`);
      }
    } else if (embedded) {
      symbols = [...DEMO_UNIVERSE].sort();
      from ??= DEMO_FROM;
      to ??= DEMO_TO;
    } else {
      throw new UsageError('--universe FILE is required with a real API (the demo universe is for the simulator only)');
    }
    if (from === undefined || to === undefined) throw new UsageError('--from and --to (YYYY-MM-DD) are required with --universe');
    parseDay(from);
    parseDay(to);
    if (from > to) throw new InputError(`--from ${from} is after --to ${to}`);
  }
  const manifest = values.manifest !== undefined ? resolve(values.manifest) : manifestPath(out);
  if (doIngest && !doDetect && !existsSync(manifest)) {
    throw new InputError(
      values.manifest !== undefined ? `manifest not found: ${values.manifest}` : `no manifest at ${manifest}: run the detect stage first or pass --manifest`,
    );
  }

  const source = await openSource(values, io.env, userRate);
  try {
    const rate = userRate ?? (embedded ? source.quota : 100 / partition.count);
    const bucket = new TokenBucket({ rate, adaptive: values.adaptive ?? false });
    // Retries and 429s go to tickpipe.log, which exists only once preflight has passed.
    let appLog: RunLogs['log'] | undefined;
    const logger = { warn: (o: object, m?: string) => appLog?.warn(o, m), debug: (o: object, m?: string) => appLog?.debug(o, m) };
    const client = new PolygonClient({ baseUrl: source.baseUrl, apiKey: source.apiKey, bucket, connections: 128, logger });
    try {
      // A refused key or an unreachable host is reported before anything is written.
      await client.preflight(symbols[0] ?? 'AAPL');
      const spec: RunSpec = {
        version: 1,
        source: source.spec,
        ...(doDetect
          ? {
              universe: { hash: hashUniverse(symbols), count: symbols.length },
              from,
              to,
              detectors: detectorSpec(detectors, detectorModule) as RunSpec['detectors'],
            }
          : {}),
        ...(doIngest ? { window, quotesHz, manifest: values.manifest === undefined ? 'events/events.parquet' : resolve(values.manifest) } : {}),
      };
      if (!(values['steal-locks'] ?? false)) {
        await refuseHeldLocks(out, doDetect ? ownedWorkers(workers, partition) : [], doIngest ? partition.index : undefined);
      }
      await ensureRunSpec(out, spec);
      const logs = openRunLogs(out);
      appLog = logs.log;
      try {
        return await execute({ io, out, logs, client, bucket, quota: source.quota, rate, doDetect, doIngest, symbols, from: from!, to: to!, workers, partition, batchSize, concurrency, detectors, manifest, window, quotesHz, retryFailed: values['retry-failed'] ?? false, stealLocks: values['steal-locks'] ?? false, progress: !(values['no-progress'] ?? false), compact: values['no-compact'] ? undefined : { removeWindows: values['remove-windows'] ?? false } });
      } finally {
        logs.flush();
      }
    } finally {
      await client.close();
    }
  } finally {
    await source.close();
  }
}

/**
 * A second process on the same partitions is refused before it writes anything: the stage locks
 * alone would stop it only at the stage its holder is in, after it had consolidated and logged.
 * Racy by nature (the stages' own lock acquisition stays the guarantee); a stale lock of a dead
 * process on this host is left for the stage to recover.
 */
async function refuseHeldLocks(out: string, workers: readonly number[], ingestPart: number | undefined): Promise<void> {
  const paths = workers.map((k) => shardPaths(out, k).lock);
  if (ingestPart !== undefined) paths.push(join(out, 'state', 'ingest', `part-${ingestPart}.lock`));
  for (const p of paths) {
    const holder = await readLock(p);
    if (!holder || holder.pid === process.pid) continue;
    if (holder.host === hostname() && !isProcessAlive(holder.pid)) continue;
    throw new LockedError(`${p} is locked by ${describeLock(holder)}: another run is using this folder; stop it or pass --steal-locks to take the lock over`);
  }
}

interface Job {
  readonly io: CommandIo;
  readonly out: string;
  readonly logs: RunLogs;
  readonly client: PolygonClient;
  readonly bucket: TokenBucket;
  readonly quota: number;
  readonly rate: number;
  readonly doDetect: boolean;
  readonly doIngest: boolean;
  readonly symbols: readonly string[];
  readonly from: string;
  readonly to: string;
  readonly workers: number;
  readonly partition: Partition;
  readonly batchSize: number;
  readonly concurrency: number | undefined;
  readonly detectors: readonly Detector[];
  readonly manifest: string;
  readonly window: EventWindow;
  readonly quotesHz: number;
  readonly retryFailed: boolean;
  readonly stealLocks: boolean;
  readonly progress: boolean;
  /** Compact into dataset/ after ingest: undefined = no, else whether to remove the windows. */
  readonly compact: { readonly removeWindows: boolean } | undefined;
}

const rssMB = () => Math.round(process.memoryUsage().rss / 1_048_576);

async function execute(job: Job): Promise<number> {
  const { io, logs, client } = job;
  const started = Date.now();
  const view = new ProgressView({ stream: io.stderr, tty: job.progress ? undefined : false });
  const stop = gracefulStop(
    (sig) => {
      view.line(`tickpipe: ${sig} received: finishing items in flight (again to stop at once)`);
      logs.log.warn({ signal: sig }, 'graceful stop requested');
    },
    () => logs.flush(),
  );
  // Each subscription (per stage) re-emits the current state; only a change is news.
  let wasPaused = false;
  const paused$: Observable<boolean> = pauseFlag$(join(job.out, 'PAUSE')).pipe(
    tap((p) => {
      if (p === wasPaused) return;
      wasPaused = p;
      view.line(p ? 'tickpipe: PAUSE flag found: no new requests until it is removed' : 'tickpipe: PAUSE flag removed: resuming');
      logs.log.info({ paused: p }, p ? 'paused' : 'resumed');
    }),
    share({ resetOnRefCountZero: true }),
  );
  let failures = 0;
  let detectResult: { symbols: number; done: number; failed: number; events: number } | undefined;
  let consolidated: ConsolidateResult | undefined;
  let ingestResult: { windows: number; failed: number; elapsedMs: number; requestsOk: number } | undefined;
  logs.log.info({ out: job.out, stageDetect: job.doDetect, stageIngest: job.doIngest, rate: job.rate, workers: job.workers, partition: job.partition }, 'run started');
  try {
    if (job.doDetect) {
      detectResult = await runDetect(job, view, paused$, stop.signal);
      failures += detectResult.failed;
    }
    if (job.doDetect && !stop.signal.aborted && job.partition.count > 1) {
      view.line(`detect: partition ${job.partition.index}/${job.partition.count} done; once every partition is, run \`tickpipe consolidate --out ${job.out}\``);
    } else if (job.doDetect && !stop.signal.aborted) {
      consolidated = await consolidate(job.out);
      view.line(`consolidated ${consolidated.events} events from ${consolidated.shards} shards (${consolidated.duplicates} duplicates)`);
      logs.log.info({ ...consolidated }, 'consolidated');
    }
    if (job.doIngest && !stop.signal.aborted) {
      ingestResult = await runIngest(job, view, paused$, stop.signal);
      failures += ingestResult.failed;
    }
    if (job.doIngest && job.compact && !stop.signal.aborted) {
      const c = await compactAfterIngest(job.out, { removeWindows: job.compact.removeWindows, command: 'tickpipe run' });
      view.line(c ? formatCompact(c) : 'compaction skipped: another process is compacting this folder');
      logs.log.info({ compaction: c ?? 'skipped: locked' }, 'compacted');
    }
  } finally {
    view.end();
    stop.dispose();
  }
  const sig = stop.received();
  const summary: RunSummary = await runSummary(job.out, {
    wallMs: Date.now() - started,
    metrics: client.metrics(),
    quota: job.quota,
    // A resumed run with nothing left to fetch measures no rate: its one request is the preflight.
    ingestElapsedMs: ingestResult && ingestResult.windows + ingestResult.failed > 0 ? ingestResult.elapsedMs : undefined,
  });
  logs.log.info({ summary, signal: sig }, 'run finished');
  io.stdout.write(formatSummary(summary) + '\n');
  if (sig) return exitStatusForSignal(sig);
  return failures > 0 ? 1 : 0;
}

async function runDetect(job: Job, view: ProgressView, paused$: Observable<boolean>, signal: AbortSignal) {
  const { logs } = job;
  const concurrency = job.concurrency ?? 4;
  const perWorker = new Map<number, { done: number; owned: number; last: string; batch: number; totalBatches: number }>();
  let owned = 0;
  let done = 0;
  let failed = 0;
  let events = 0;
  let committed = 0;
  let skippedAtStart = 0;
  const t0 = Date.now();
  const render = () => {
    const rate = done / Math.max(0.001, (Date.now() - t0) / 1000);
    const lines = [`detect ${bar(committed, owned)} ${committed}/${owned} symbols committed, ${done} detected, ${failed} failed, ${events} events, ${rate.toFixed(1)} symbols/s, rss ${rssMB()} MB`];
    for (const [w, s] of [...perWorker.entries()].sort((a, b) => a[0] - b[0])) {
      lines.push(`  worker-${w}: ${bar(s.done, s.owned, 12)} ${s.done}/${s.owned} symbols, batch ${s.batch}/${s.totalBatches}, last ${s.last}`);
    }
    return lines;
  };
  await lastValueFrom(
    detectStage({
      outDir: job.out,
      symbols: job.symbols,
      from: job.from,
      to: job.to,
      client: job.client,
      detectors: job.detectors,
      workers: job.workers,
      partition: job.partition,
      batchSize: job.batchSize,
      concurrency,
      paused$,
      signal,
      stealLocks: job.stealLocks,
    }).pipe(
      tap((p: DetectProgress) => {
        switch (p.kind) {
          case 'start':
            owned = p.owned;
            committed = p.skipped;
            skippedAtStart = p.skipped;
            for (const w of p.workers) {
              const pw = p.perWorker[w] ?? { owned: 0, pending: 0 };
              perWorker.set(w, { done: pw.owned - pw.pending, owned: pw.owned, last: '-', batch: 0, totalBatches: Math.ceil(pw.pending / job.batchSize) });
            }
            logs.log.info({ stage: 'detect', ...p }, 'detect started');
            view.line(`detect: ${p.owned} symbols owned by worker(s) ${p.workers.join(',')}, ${p.skipped} already done, ${p.pending} to go`);
            break;
          case 'symbol': {
            done++;
            events += p.events;
            const w = perWorker.get(p.worker)!;
            w.done++;
            w.last = p.symbol;
            logs.heartbeat.info({ stage: 'detect', worker: p.worker, symbol: p.symbol, batch: Math.min(w.batch + 1, Math.max(1, w.totalBatches)), totalBatches: w.totalBatches, bars: p.bars, events: p.events, workerDone: w.done, workerTotal: w.owned, done: skippedAtStart + done, total: owned, requests: job.client.metrics().requests, rateLimited: job.client.metrics().rateLimited, failed, rssMB: rssMB() });
            break;
          }
          case 'batch': {
            committed += p.symbols.length;
            const w = perWorker.get(p.worker)!;
            w.batch = p.batch;
            w.totalBatches = p.totalBatches;
            logs.log.info({ stage: 'detect', worker: p.worker, shard: p.shard, symbols: p.symbols.length, rows: p.rows }, 'shard committed');
            break;
          }
          case 'failed':
            failed++;
            logs.log.error({ stage: 'detect', worker: p.worker, symbol: p.symbol, code: p.code, status: p.status, err: p.message }, 'symbol failed');
            view.line(`detect: ${p.symbol} failed: ${p.message}`);
            break;
        }
        view.update(render);
      }),
    ),
    { defaultValue: undefined },
  );
  view.update(render);
  view.end();
  return { symbols: owned, done, failed, events };
}

async function runIngest(job: Job, view: ProgressView, paused$: Observable<boolean>, signal: AbortSignal) {
  const { logs, client, bucket } = job;
  const concurrency = job.concurrency ?? 64;
  let total = 0;
  let skipped = 0;
  let processed = 0;
  let failed = 0;
  let trades = 0;
  let quotes = 0;
  let bytes = 0;
  let last = '-';
  const t0 = Date.now();
  let prev = { at: t0, metrics: client.metrics(), processed: 0 };
  let reqPerSec = 0;
  let winPerSec = 0;
  const sample = () => {
    const now = Date.now();
    const m = client.metrics();
    const dt = (now - prev.at) / 1000;
    if (dt >= 1) {
      reqPerSec = (m.ok - prev.metrics.ok) / dt;
      winPerSec = (processed + failed - prev.processed) / dt;
      prev = { at: now, metrics: m, processed: processed + failed };
    }
    return m;
  };
  const beat = () => {
    const m = sample();
    const remaining = total - skipped - processed - failed;
    const eta = winPerSec > 0 ? (remaining / winPerSec) * 1000 : Number.NaN;
    logs.heartbeat.info({
      stage: 'ingest',
      partition: job.partition.index,
      last,
      processed,
      failed,
      skipped,
      total,
      trades,
      quotes,
      mbWritten: +(bytes / 1_048_576).toFixed(2),
      reqPerSec: +reqPerSec.toFixed(1),
      rateLimited: m.rateLimited,
      latencyP50Ms: m.latencyP50Ms,
      latencyP95Ms: m.latencyP95Ms,
      rate: +bucket.currentRate.toFixed(1),
      quota: job.quota,
      etaSec: Number.isFinite(eta) ? Math.round(eta / 1000) : null,
      rssMB: rssMB(),
    });
  };
  const render = () => {
    const m = sample();
    const remaining = total - skipped - processed - failed;
    const eta = winPerSec > 0 ? (remaining / winPerSec) * 1000 : Number.NaN;
    return [
      `ingest ${bar(skipped + processed + failed, total)} ${skipped + processed}/${total} windows, ${failed} failed, ${winPerSec.toFixed(1)} windows/s, ETA ${formatDuration(eta)}`,
      `  requests ${reqPerSec.toFixed(1)}/s of ${job.quota}/s quota, rate ${bucket.currentRate.toFixed(1)}/s, 429s ${m.rateLimited}, p50 ${m.latencyP50Ms} ms p95 ${m.latencyP95Ms} ms, trades ${trades} quotes ${quotes}, ${(bytes / 1_048_576).toFixed(1)} MB, last ${last}`,
    ];
  };
  try {
    await lastValueFrom(
      ingestStage({
        outDir: job.out,
        manifestPath: job.manifest,
        client,
        partition: job.partition,
        concurrency,
        window: job.window,
        quotesHz: job.quotesHz,
        retryFailed: job.retryFailed,
        paused$,
        signal,
        stealLocks: job.stealLocks,
      }).pipe(
        tap((p: IngestProgress) => {
          switch (p.kind) {
            case 'start':
              total = p.total;
              skipped = p.completed + p.failedBefore;
              logs.log.info({ stage: 'ingest', ...p }, 'ingest started');
              view.line(`ingest: ${p.total} events, ${p.completed} already done, ${p.failedBefore} failed before${job.retryFailed ? '' : ' (skipped; --retry-failed to retry)'}, ${p.pending} to go`);
              break;
            case 'window':
              processed++;
              trades += p.trades;
              quotes += p.quotes;
              bytes += p.bytes;
              last = p.eventId;
              break;
            case 'failed':
              failed++;
              last = p.eventId;
              logs.log.error({ stage: 'ingest', event: p.eventId, code: p.code, status: p.status, err: p.message }, 'window failed');
              break;
          }
          view.update(render);
        }),
        // A line every 5 s while the stage is live (so `tail` can tell slow from stalled), and one per 100 windows.
        heartbeat((p) => {
          if (p === undefined || (p.kind === 'window' && processed % 100 === 0)) beat();
        }, 5_000),
      ),
      { defaultValue: undefined },
    );
  } finally {
    beat();
  }
  view.update(render);
  view.end();
  return { windows: processed, failed, elapsedMs: Date.now() - t0, requestsOk: client.metrics().ok };
}

function formatSummary(s: RunSummary): string {
  const fmt = (n: number) => n.toLocaleString('en-US');
  const rows: Array<[string, string]> = [
    ['symbols', `${fmt(s.symbolsDone)} done of ${fmt(s.symbols)}`],
    ['events', `${fmt(s.events)}${Object.keys(s.eventsByType).length ? ` (${Object.entries(s.eventsByType).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')})` : ''}`],
    ['windows', `${fmt(s.windows)} complete, ${fmt(s.windowsFailed)} failed`],
    ['rows', `trades ${fmt(s.tradeRows)}, quotes ${fmt(s.quoteRows)}`],
    ['duplicates found', fmt(s.duplicates)],
    ['wall time', `${(s.wallMs / 1000).toFixed(1)} s`],
    ['requests/s', `${s.quotaShare === undefined ? '-' : s.requestsPerSec.toFixed(1)} (${fmt(s.requests)} requests, ${fmt(s.rateLimited)} 429s = ${(s.rateLimitedShare * 100).toFixed(2)}%)`],
    ['share of quota used', s.quotaShare === undefined ? '- (nothing was left to download)' : `${(s.quotaShare * 100).toFixed(1)}% of ${s.quota} req/s`],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  return ['', 'tickpipe run summary', ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`)].join('\n');
}
