import { existsSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ReplaySubject, share, tap, type Observable } from 'rxjs';
import { parseDay } from '../detect/calendar.js';
import type { Detector } from '../detect/detector.js';
import type { DetectorModule } from '../detect/module-loader.js';
import { InputError, LockedError, UsageError } from '../errors.js';
import { openRunLogs, type RunLogs } from '../log.js';
import { TokenBucket } from '../operators/token-bucket.js';
import { DEFAULT_WINDOW, type EventWindow } from '../pipeline/ingest-stage.js';
import { detectCompleteness, incompleteDetection, refuseStaleManifest } from '../pipeline/manifest-freshness.js';
import { ownedWorkers, parsePartition, WHOLE, type Partition } from '../pipeline/partition.js';
import { runSummary, type RunSummary } from '../ops/summary.js';
import { describeLock, isLockStale, isProcessAlive, readLock } from '../run-folder/lock-file.js';
import { ensureRunSpec, hashUniverse, type RunSpec } from '../run-folder/run-spec.js';
import { shardPaths } from '../sinks/shard-sink.js';
import { pauseFlag$ } from '../streams/pause-flag.js';
import { checkManifestHead } from '../streams/manifest.js';
import { PolygonClient } from '../streams/polygon-client.js';
import { readUniverse } from '../streams/universe.js';
import { resolveApiKey } from './api-key.js';
import { parseDuration, parseIntInRange, parseRate } from '../args.js';
import { DEMO_FROM, DEMO_SIM, DEMO_TO, DEMO_UNIVERSE } from './demo.js';
import { outDir, type CommandIo } from './command.js';
import { ProgressView } from './progress-view.js';
import { parseWindow, usesEmbeddedSim, type RunValues as Values } from './run-flags.js';
import { runDetect, runIngest, type Job } from './run-stages.js';
import { formatSummary, type StopInfo } from '../ops/run-summary.js';
import { datasetPaths } from '../dataset/layout.js';
import { ingestPaths, JOURNAL_GLOBS, manifestPath, runLogPaths } from '../run-folder/layout.js';
import { exitStatusForSignal, gracefulStop } from '../signals.js';

interface Source {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly spec: RunSpec['source'];
  /** The server's quota when it is known (the embedded simulator's); a real API does not say. */
  readonly quota: number | undefined;
  close(): Promise<void>;
}

async function openSource(values: { sim?: boolean; 'base-url'?: string; 'api-key'?: string; 'sim-seed'?: string }, apiKey: string | undefined, embedded: boolean): Promise<Source> {
  const baseUrl = values['base-url'];
  if (!embedded) {
    if (!apiKey) throw new UsageError('--base-url needs an API key: set POLYGON_API_KEY or pass --api-key-file');
    const url = baseUrl ?? 'https://api.polygon.io';
    let origin: string;
    try {
      const u = new URL(url);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http(s)');
      origin = u.origin;
    } catch {
      throw new UsageError(`--base-url: expected an http(s) URL, got ${JSON.stringify(url)}`);
    }
    return { baseUrl: origin, apiKey, spec: { baseUrl: origin }, quota: undefined, close: async () => {} };
  }
  const seed = values['sim-seed'] === undefined ? DEMO_SIM.seed : parseIntInRange('--sim-seed', values['sim-seed'], 0, 2 ** 31 - 1);
  const { startSimThread } = await import('../sim/index.js');
  const sim = await startSimThread({ seed, port: 0, rate: DEMO_SIM.rate, latency: DEMO_SIM.latency });
  return { baseUrl: sim.url, apiKey: 'demo-key', spec: { sim: { seed } }, quota: DEMO_SIM.rate, close: () => sim.close() };
}

/** A `run` command line, checked: everything `runJob` needs before it touches the run folder. */
interface CheckedRun {
  readonly stage: 'detect' | 'ingest' | undefined;
  readonly doDetect: boolean;
  readonly doIngest: boolean;
  readonly out: string;
  readonly workers: number;
  readonly batchSize: number;
  readonly concurrency: number | undefined;
  readonly partition: Partition;
  readonly userRate: number | undefined;
  readonly window: EventWindow;
  readonly quotesHz: number;
  readonly detectors: readonly Detector[];
  readonly detectorModule: DetectorModule | undefined;
  readonly embedded: boolean;
  readonly apiKey: string | undefined;
  readonly manifest: string;
  readonly maxServerPauseMs: number | undefined;
}

/** The stage flags and the numbers: one line for what is wrong. */
function checkStageAndNumbers(values: Values): Pick<CheckedRun, 'stage' | 'doDetect' | 'doIngest' | 'out' | 'workers' | 'batchSize' | 'concurrency' | 'partition' | 'userRate' | 'window' | 'quotesHz' | 'maxServerPauseMs'> {
  const stage = values.stage;
  if (stage !== undefined && stage !== 'detect' && stage !== 'ingest') {
    throw new UsageError(`--stage: expected detect or ingest, got ${JSON.stringify(stage)}`);
  }
  if (stage === undefined && values.partition !== undefined && parsePartition('--partition', values.partition).count > 1) {
    // The manifest must be consolidated once, from every partition's shards, before any ingest half
    // reads it: positions in it decide who owns an event.
    throw new UsageError('--partition i/N needs --stage detect or --stage ingest: run every detect half, then `tickpipe consolidate`, then the ingest halves');
  }
  const out = resolve(outDir(values));
  refuseFileAsFolder('--out', outDir(values), out);
  const quotesHz = values['quotes-hz'] === undefined ? 1 : Number(values['quotes-hz']);
  if (!Number.isFinite(quotesHz) || quotesHz < 0 || quotesHz > 1000) {
    throw new UsageError(`--quotes-hz: expected a number from 0 to 1000, got ${JSON.stringify(values['quotes-hz'])}`);
  }
  const maxServerPauseMs = values['max-server-pause'] === undefined ? undefined : parseDuration('--max-server-pause', values['max-server-pause']);
  if (maxServerPauseMs !== undefined && !(maxServerPauseMs >= 1000 && maxServerPauseMs <= 86_400_000)) {
    throw new UsageError(`--max-server-pause: expected a duration from 1s to 24h, got ${JSON.stringify(values['max-server-pause'])}`);
  }
  return {
    stage,
    doDetect: stage !== 'ingest',
    doIngest: stage !== 'detect',
    out,
    workers: values.workers === undefined ? 4 : parseIntInRange('--workers', values.workers, 1, 256),
    batchSize: values['batch-size'] === undefined ? 50 : parseIntInRange('--batch-size', values['batch-size'], 1, 100_000),
    concurrency: values.concurrency === undefined ? undefined : parseIntInRange('--concurrency', values.concurrency, 1, 4096),
    partition: values.partition === undefined ? WHOLE : parsePartition('--partition', values.partition),
    userRate: values.rate === undefined ? undefined : parseRate('--rate', values.rate),
    window: values.window === undefined ? DEFAULT_WINDOW : parseWindow('--window', values.window),
    quotesHz,
    maxServerPauseMs,
  };
}

/** The universe and the day range of the detect stage (the demo's with the embedded simulator). */
async function checkUniverse(values: Values, io: CommandIo, embedded: boolean): Promise<{ symbols: string[]; from: string; to: string }> {
  let symbols: string[];
  let from = values.from;
  let to = values.to;
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
    throw new UsageError('--universe FILE is required with a real API (the demo universe is for the simulator only; --sim runs the demo even with POLYGON_API_KEY set)');
  }
  if (from === undefined || to === undefined) throw new UsageError('--from and --to (YYYY-MM-DD) are required with --universe');
  parseDay(from);
  parseDay(to);
  if (from > to) throw new InputError(`--from ${from} is after --to ${to}`);
  return { symbols, from, to };
}

/** Rows of the ingest manifest decoded before anything is written (see checkManifestHead). */
const MANIFEST_ROWS_CHECKED_FIRST = 1000;

/** The manifest of the ingest stage: it exists, has its columns, and is not older than the shards. */
async function checkManifest(values: Values, c: Pick<CheckedRun, 'out' | 'doDetect' | 'doIngest'>): Promise<string> {
  const manifest = values.manifest !== undefined ? resolve(values.manifest) : manifestPath(c.out);
  if (c.doIngest && !c.doDetect && values.manifest === undefined && !existsSync(manifest)) {
    throw new InputError(`no manifest at ${manifest}: run the detect stage first or pass --manifest`);
  }
  // A manifest that is missing or lacks a column is refused before run.json, logs/ or state/ exist;
  // so is one whose first rows hold values no event can be made of (seconds for milliseconds, an
  // unparsable time): such a mistake is in every row. A bad row further down stops the run there.
  if (c.doIngest && (values.manifest !== undefined || !c.doDetect)) await checkManifestHead(manifest, MANIFEST_ROWS_CHECKED_FIRST);
  // A manifest consolidated before some shards were committed would silently leave their events out.
  if (c.doIngest && !c.doDetect && values.manifest === undefined) await refuseStaleManifest(c.out);
  return manifest;
}

export async function runJob(values: Values, io: CommandIo): Promise<number> {
  // Everything that can be wrong with the input is checked before the run folder is touched.
  const c = checkStageAndNumbers(values);
  // A plain ingest-only run never uses a detector, and building the default ones (their Polars
  // expressions) cost ≈ 0.4 s of CPU at every start (measured, issue 17). Still built and checked
  // when asked for by a flag, and for cluster mode, which records them.
  const needDetectors = c.doDetect || values.detectors !== undefined || values['detector-module'] !== undefined || values.cluster !== undefined || Boolean(io.env.TICKPIPE_REDIS_URL);
  // The detectors (and Polars, which they are built with) are loaded only then: ~27 MB of RSS.
  const loader = needDetectors ? await import('../detect/module-loader.js') : undefined;
  const detectorModule = loader === undefined || values['detector-module'] === undefined ? undefined : await loader.loadDetectorModule(values['detector-module'], { label: '--detector-module' });
  const detectors: readonly Detector[] = loader ? loader.selectDetectors(values.detectors?.split(',').map((s) => s.trim()), detectorModule) : [];
  // A key from any source (--api-key, --api-key-file, POLYGON_API_KEY) or --base-url means the real API, unless --sim.
  const embedded = usesEmbeddedSim(values, io.env);
  const apiKey = embedded ? undefined : resolveApiKey(values, io.env);
  const { symbols, from, to } = c.doDetect ? await checkUniverse(values, io, embedded) : { symbols: [] as string[], from: values.from!, to: values.to! };
  const manifest = await checkManifest(values, c);
  const cluster = (await import('../cluster/url.js')).clusterUrl(values.cluster, io.env);
  if (cluster !== undefined) {
    const { stage, out, partition, userRate, window, quotesHz, batchSize, concurrency } = c;
    return (await import('../cluster/run-command.js')).runClusterJob({ values, io, out, embedded, stage, partition, userRate, symbols, from, to, detectors, detectorModule, window, quotesHz, batchSize, concurrency, url: cluster });
  }
  const checked: CheckedRun = { ...c, detectors, detectorModule, embedded, apiKey, manifest };
  const source = await openSource(values, apiKey, embedded);
  try {
    return await runWithSource(values, io, checked, { symbols, from, to }, source);
  } finally {
    await source.close();
  }
}

/** Preflight against the source, then run.json, the logs, and the stages. */
async function runWithSource(values: Values, io: CommandIo, c: CheckedRun, days: { symbols: string[]; from: string; to: string }, source: Source): Promise<number> {
  const rate = c.userRate ?? (c.embedded ? (source.quota ?? DEMO_SIM.rate) : 100 / c.partition.count);
  const bucket = new TokenBucket({ rate, adaptive: values.adaptive ?? false, ...(c.maxServerPauseMs !== undefined ? { maxServerPauseMs: c.maxServerPauseMs } : {}) });
  // Retries and 429s go to tickpipe.log, which exists only once preflight has passed.
  let appLog: RunLogs['log'] | undefined;
  const logger = { warn: (o: object, m?: string) => appLog?.warn(o, m), debug: (o: object, m?: string) => appLog?.debug(o, m) };
  const client = new PolygonClient({ baseUrl: source.baseUrl, apiKey: source.apiKey, bucket, connections: 128, logger });
  try {
    // A refused key or an unreachable host is reported before anything is written.
    await client.preflight(days.symbols[0] ?? 'AAPL');
    const spec: RunSpec = {
      version: 1,
      source: source.spec,
      ...(c.doDetect
        ? {
            universe: { hash: hashUniverse(days.symbols), count: days.symbols.length },
            from: days.from,
            to: days.to,
            detectors: (await import('../detect/module-loader.js')).detectorSpec(c.detectors, c.detectorModule) as RunSpec['detectors'],
          }
        : {}),
      ...(c.doIngest ? { window: c.window, quotesHz: c.quotesHz } : {}),
    };
    if (!(values['steal-locks'] ?? false)) {
      await refuseHeldLocks(c.out, c.doDetect ? ownedWorkers(c.workers, c.partition) : [], c.doIngest ? c.partition.index : undefined);
    }
    await ensureRunSpec(c.out, spec);
    const logs = openRunLogs(runLogPaths(c.out));
    appLog = logs.log;
    try {
      return await execute({
        io, out: c.out, logs, client, bucket, quota: source.quota, rate, adaptive: values.adaptive ?? false, doDetect: c.doDetect, doIngest: c.doIngest,
        symbols: days.symbols, from: days.from, to: days.to, workers: c.workers, partition: c.partition, batchSize: c.batchSize, concurrency: c.concurrency,
        detectors: c.detectors, manifest: c.manifest, window: c.window, quotesHz: c.quotesHz, retryFailed: values['retry-failed'] ?? false,
        stealLocks: values['steal-locks'] ?? false, progress: !(values['no-progress'] ?? false),
        compact: values['no-compact'] ? undefined : { removeWindows: values['remove-windows'] ?? false },
      });
    } finally {
      logs.flush();
    }
  } finally {
    await client.close();
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
  if (ingestPart !== undefined) paths.push(ingestPaths(out, ingestPart).lock);
  for (const p of paths) {
    const holder = await readLock(p);
    if (!holder || holder.pid === process.pid) continue;
    if (isLockStale(holder, { host: hostname(), alive: isProcessAlive })) continue;
    throw new LockedError(`${p} is locked by ${describeLock(holder)}: another run is using this folder; stop it or pass --steal-locks to take the lock over`);
  }
}

/**
 * `--out` must be a folder (or not exist yet, under folders): a file there, or a file where one of
 * its parents belongs, gets one line, not an ENOTDIR from deep inside.
 */
function refuseFileAsFolder(flag: string, given: string, path: string): void {
  for (let p = resolve(path); ; ) {
    let st;
    try {
      st = statSync(p);
    } catch {
      const parent = dirname(p);
      if (parent === p) return;
      p = parent;
      continue;
    }
    if (st.isDirectory()) return;
    if (p === resolve(path)) throw new InputError(`${flag} ${given} is a file, not a folder: give a folder for the run (it is created if missing)`);
    throw new InputError(`${flag} ${given}: ${p} is a file, not a folder, so the run folder cannot be created below it`);
  }
}

const rssMB = () => Math.round(process.memoryUsage().rss / 1_048_576);

/** What the stages of one `run` did, for the summary and the exit status. */
interface StagesOutcome {
  failures: number;
  ingestActiveMs: number | undefined;
  /** Events of the ingest manifest as the stage counted them (a `--manifest` outside the folder has no events/events.parquet). */
  manifestEvents: number | undefined;
  stoppedIn: 'detect' | 'ingest' | undefined;
  failedBefore: number;
}

/** The PAUSE flag as a shared stream; a change is shown and logged once, whichever stage sees it. */
function watchPause(job: Job, view: ProgressView): Observable<boolean> {
  // Each subscription (per stage) re-emits the current state; only a change is news.
  let wasPaused = false;
  return pauseFlag$(join(job.out, 'PAUSE')).pipe(
    tap((p) => {
      if (p === wasPaused) return;
      wasPaused = p;
      view.line(p ? `tickpipe: PAUSE flag found: nothing new starts (work in flight finishes) until ${join(job.out, 'PAUSE')} is removed` : 'tickpipe: PAUSE flag removed: resuming');
      job.logs.log.info({ paused: p }, p ? 'paused' : 'resumed');
    }),
    // The stage and the progress fold both subscribe, at different times: a late one must still
    // get the current state, or it would wait for the next change.
    share({ connector: () => new ReplaySubject<boolean>(1), resetOnRefCountZero: true }),
  );
}

/** Detect, consolidate, ingest and compact, as the job asks, until done or `signal` aborts. */
async function runStages(job: Job, view: ProgressView, paused$: Observable<boolean>, signal: AbortSignal): Promise<StagesOutcome> {
  const o: StagesOutcome = { failures: 0, ingestActiveMs: undefined, stoppedIn: undefined, failedBefore: 0, manifestEvents: undefined };
  if (job.doDetect) {
    const r = await runDetect(job, view, paused$, signal, rssMB);
    o.failures += r.failed;
    if (signal.aborted) o.stoppedIn = 'detect';
  }
  if (job.doDetect && !signal.aborted && job.partition.count > 1) {
    view.line(`detect: partition ${job.partition.index}/${job.partition.count} done; once every partition is, run \`tickpipe consolidate --out ${job.out}\``);
  } else if (job.doDetect && !signal.aborted) {
    const consolidated = await (await import('../pipeline/consolidate.js')).consolidate(job.out);
    const incomplete = incompleteDetection(await detectCompleteness(job.out));
    view.line(`consolidated ${consolidated.events} events from ${consolidated.shards} shards (${consolidated.duplicates} duplicates)${consolidated.unchanged ? ', manifest unchanged' : ''}${incomplete ? `; ${incomplete}: rerun to retry them` : ''}`);
    job.logs.log.info({ ...consolidated }, 'consolidated');
  }
  if (job.doIngest && !signal.aborted) {
    const r = await runIngest(job, view, paused$, signal, rssMB);
    // Failures journaled by an earlier run and skipped now are still failures: exit 1 until retried.
    o.failures += r.failed + r.failedBefore;
    o.failedBefore = r.failedBefore;
    o.manifestEvents = r.manifestEvents;
    // A resumed run with nothing left to fetch measures no rate: its one request is the preflight.
    if (r.windows + r.failed > 0) o.ingestActiveMs = r.activeMs;
    if (signal.aborted) o.stoppedIn = 'ingest';
  }
  if (job.doIngest && job.compact && !signal.aborted) {
    // Loaded only when compacting (it loads Polars, ~27 MB of RSS, only when it writes a part).
    const { compactAfterIngest, formatCompact } = await import('./compact.js');
    const c = await compactAfterIngest(job.out, { removeWindows: job.compact.removeWindows, command: 'tickpipe run' });
    view.line(c ? formatCompact(c) : 'compaction skipped: another process is compacting this folder');
    // The missing windows are counted and sampled, not listed: a folder whose 572,850 windows lack
    // their files logged one 27 MB line (+64 MB of peak RSS) here. `tickpipe verify` names them all.
    const logged = c ? { ...c, missingWindows: c.missingWindows.length, missingSample: c.missingWindows.slice(0, 10) } : 'skipped: locked';
    job.logs.log.info({ compaction: logged }, 'compacted');
  }
  return o;
}

/** The summary on stdout, the leftover warnings on stderr, and the exit status. */
async function finish(job: Job, started: number, o: StagesOutcome, sig: NodeJS.Signals | undefined): Promise<number> {
  const { io, logs } = job;
  const summary: RunSummary = await runSummary(job.out, {
    wallMs: Date.now() - started,
    metrics: job.client.metrics(),
    quota: job.quota ?? job.rate,
    // Paused time is left out of the rate, as in the live view.
    ingestElapsedMs: o.ingestActiveMs,
    manifestEvents: o.manifestEvents,
  });
  logs.log.info({ summary, signal: sig }, 'run finished');
  const stopInfo: StopInfo | undefined = sig ? { signal: sig, stage: o.stoppedIn ?? (job.doIngest ? 'ingest' : 'detect') } : undefined;
  const dataset = existsSync(datasetPaths(job.out).datasetDir);
  io.stdout.write(formatSummary(summary, { out: job.out, rate: job.rate, quota: job.quota, adaptive: job.adaptive, stop: stopInfo, partitioned: job.partition.count > 1, dataset, manifestInFolder: existsSync(manifestPath(job.out)) }) + '\n');
  const logFailure = logs.failure();
  if (logFailure) {
    io.stderr.write(`tickpipe run: ${logFailure.message}\n`);
    return 1;
  }
  if (o.failedBefore > 0) {
    io.stderr.write(
      `tickpipe run: ${o.failedBefore} window(s) failed permanently in an earlier run and were not retried (${JOURNAL_GLOBS.failed}); run again with --retry-failed to try them\n`,
    );
  }
  if (sig) return exitStatusForSignal(sig);
  return o.failures > 0 ? 1 : 0;
}

async function execute(job: Job): Promise<number> {
  const { io, logs } = job;
  const started = Date.now();
  const view = new ProgressView({ stream: io.stderr, tty: job.progress ? undefined : false });
  const stop = gracefulStop(
    (sig) => {
      view.line(`tickpipe: ${sig} received: finishing the items in flight, then stopping (Ctrl-C again to stop at once)`);
      logs.log.warn({ signal: sig }, 'graceful stop requested');
    },
    () => logs.flush(),
  );
  // A log file that cannot be written (disk full) ends the run like a graceful stop, then exit 1.
  const logBroken = new AbortController();
  logs.onFailure(() => {
    view.line('tickpipe: cannot write the logs: finishing items in flight, then stopping');
    logBroken.abort();
  });
  const signal = AbortSignal.any([stop.signal, logBroken.signal]);
  // Items only waiting out a rate-limit pause are dropped (redone next run) instead of waited for;
  // after the abort, so the stages see their signal aborted when those waits end.
  // On the combined signal, not stop.signal: Node aborts an AbortSignal.any() only after the source's
  // own listeners ran, and the stages must already see their signal aborted when the waits end.
  signal.addEventListener('abort', () => job.bucket.stopWaitingWhilePaused(), { once: true });
  logs.log.info({ out: job.out, stageDetect: job.doDetect, stageIngest: job.doIngest, rate: job.rate, workers: job.workers, partition: job.partition }, 'run started');
  let outcome: StagesOutcome;
  try {
    outcome = await runStages(job, view, watchPause(job, view), signal);
  } finally {
    view.end();
    stop.dispose();
  }
  return finish(job, started, outcome, stop.received());
}
