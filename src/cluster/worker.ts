import { hostname } from 'node:os';
import { Worker, type Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { forkJoin, lastValueFrom } from 'rxjs';
import type { Detector } from '../detect/index.js';
import { detectEvents, eventsToDataFrame } from '../detect/index.js';
import { AuthError, HttpError, LockedError } from '../errors.js';
import { openRunLogs, type RunLogs } from '../log.js';
import { HEARTBEAT_VERSION } from '../progress/heartbeat.js';
import { fetchMinuteBars } from '../pipeline/detect-stage.js';
import { fetchQuotes, fetchTrades } from '../pipeline/ingest-stage.js';
import { ShardWriter, WindowWriter, quotesFrame, tradesFrame } from '../sinks/index.js';
import type { PolygonClient } from '../streams/polygon-client.js';
import type { EventRow } from '../types.js';
import { CommittedIndex } from './committed-index.js';
import { advancePhase, type ClusterMeta, type StageJob, type WindowJob } from './coordinator.js';
import { RedisTokenBucket } from './redis-bucket.js';
import { SLOT_BASE, slotLogNames, type ClusterKeys, type ClusterPhase } from './layout.js';
import { detectJournalName, ingestJournalName } from '../run-folder/layout.js';

/** Lock and stall settings: a dead host's jobs are handed to others within lockDuration + stalledInterval. */
export const LOCK_DURATION_MS = 6_000;
export const STALLED_INTERVAL_MS = 3_000;

/** What a worker process did (for the summary and the tests). */
export interface WorkerResult {
  readonly slot: number;
  readonly symbols: number;
  readonly symbolsFailed: number;
  readonly windows: number;
  readonly windowsFailed: number;
  /** Re-delivered jobs found already committed and skipped. */
  readonly skippedCommitted: number;
  readonly phase: ClusterPhase | null;
}

/** Everything a worker process needs; the caller owns and closes `redis`, queues and client. */
export interface ClusterWorkerOptions {
  readonly outDir: string;
  readonly redisUrl: string;
  readonly redis: Redis;
  readonly keys: ClusterKeys;
  readonly queues: { readonly detect: Queue; readonly ingest: Queue };
  readonly meta: ClusterMeta;
  readonly client: PolygonClient;
  readonly detectors: readonly Detector[];
  /** Windows in flight in this process. @default 64 */
  readonly concurrency?: number;
  /** Symbols in flight in this process. @default 16 */
  readonly detectConcurrency?: number;
  /** Graceful stop: no new job is taken; jobs in flight finish and are committed. */
  readonly signal: AbortSignal;
  /** One line for the terminal. */
  readonly say: (line: string) => void;
  /** Called when the run's state vanished from Redis (e.g. Redis restarted empty). */
  readonly onStateLost?: () => Promise<void>;
}

/** Takes the first free slot: a Redis counter proposes, the lock files decide. */
async function claimSlot(o: ClusterWorkerOptions): Promise<{ slot: number; shards: ShardWriter; windows: WindowWriter }> {
  for (let tries = 0; tries < 64; tries++) {
    const slot = SLOT_BASE + Number(await o.redis.incr(o.keys.slots));
    let shards: ShardWriter | undefined;
    try {
      shards = await ShardWriter.open(o.outDir, slot, { command: 'tickpipe worker' });
      const windows = await WindowWriter.open(o.outDir, { index: slot, count: slot + 1 }, { command: 'tickpipe worker', groupCommitMs: 100 });
      return { slot, shards, windows };
    } catch (err) {
      await shards?.close().catch(() => undefined);
      if (!(err instanceof LockedError)) throw err;
    }
  }
  throw new LockedError('no free worker slot after 64 tries (every slot lock is held)');
}

/** Thrown for an item another live process is committing right now: BullMQ retries the job later. */
export class ClaimedElsewhereError extends Error {
  constructor(item: string) {
    super(`${item} is being committed by another process; the job is retried later`);
  }
}

/** Claims the right to journal `item` for {@link CLAIM_MS}: of two processes holding one re-delivered job, one writes. */
export const CLAIM_MS = 30_000;

interface Pending {
  readonly symbol: string;
  readonly rows: readonly EventRow[];
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Collects detected symbols into shards of `batchSize` (or whatever arrived within `maxWaitMs`),
 * commits each shard once, and only then lets their jobs complete: a job is never acknowledged
 * before its symbol is durable.
 */
class ShardBatcher {
  #pending: Pending[] = [];
  #timer: NodeJS.Timeout | undefined;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly writer: ShardWriter,
    private readonly done: CommittedIndex,
    private readonly batchSize: number,
    private readonly maxWaitMs: number,
    private readonly onCommit: (symbols: readonly string[], rows: number, shard: string | null) => void,
    private readonly claim: (item: string) => Promise<boolean>,
  ) {}

  #inFlight = new Set<string>();

  add(symbol: string, rows: readonly EventRow[]): Promise<void> {
    // The same symbol twice in this process (re-enqueued while its first job was still here): retried later.
    if (this.#inFlight.has(symbol)) return Promise.reject(new ClaimedElsewhereError(symbol));
    this.#inFlight.add(symbol);
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ symbol, rows, resolve, reject });
      if (this.#pending.length >= this.batchSize) this.flush();
      else this.#timer ??= setTimeout(() => this.flush(), this.maxWaitMs);
    });
  }

  flush(): Promise<unknown> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return this.#chain;
    this.#chain = this.#chain.then(async () => {
      try {
        // A re-delivered symbol another process committed meanwhile is dropped here, never written twice.
        await this.done.refresh();
        const unseen = batch.filter((p) => !this.done.has(p.symbol) && !this.writer.committedSymbols.has(p.symbol));
        const fresh: Pending[] = [];
        for (const p of unseen) {
          if (await this.claim(p.symbol)) fresh.push(p);
          else p.reject(new ClaimedElsewhereError(p.symbol));
        }
        if (fresh.length > 0) {
          const rows = fresh.flatMap((p) => p.rows);
          const { shard } = await this.writer.commit({ symbols: fresh.map((p) => p.symbol), events: eventsToDataFrame([...rows]) });
          for (const p of fresh) this.done.add(p.symbol);
          this.onCommit(fresh.map((p) => p.symbol), rows.length, shard);
        }
        for (const p of batch) p.resolve(); // the rejected ones stay rejected
      } catch (err) {
        for (const p of batch) p.reject(err);
      } finally {
        for (const p of batch) this.#inFlight.delete(p.symbol);
      }
    });
    return this.#chain;
  }
}

const NS_PER_MS = 1_000_000n;
const rssMB = () => Math.round(process.memoryUsage().rss / 1_048_576);

/**
 * One worker process of a cluster run: claims a slot, takes detect and ingest jobs until the run's
 * phase is `done` (or `signal` fires), commits each item with the one-host commit protocol into its
 * own journals, skips re-delivered items that are already committed, and moves the run from stage
 * to stage when it finds a stage finished.
 */
export async function runClusterWorker(o: ClusterWorkerOptions): Promise<WorkerResult> {
  const host = hostname();
  const { slot, shards, windows } = await claimSlot(o);
  const logs: RunLogs = openRunLogs(o.outDir, slotLogNames(slot));
  const detectDone = CommittedIndex.detect(o.outDir);
  const ingestDone = CommittedIndex.ingest(o.outDir);
  await Promise.all([detectDone.refresh(), ingestDone.refresh()]);
  const counts = { symbols: 0, symbolsFailed: 0, windows: 0, windowsFailed: 0, skippedCommitted: 0, trades: 0, quotes: 0 };
  let fatal: unknown;
  let last = '-';
  const t0 = Date.now();
  let prev = { at: t0, ok: 0, items: 0 };
  let reqPerSec = 0;
  o.say(`worker: slot ${slot} on ${host} (journals ${detectJournalName(slot)}, ${ingestJournalName(slot)})`);
  logs.log.info({ slot, host, pid: process.pid }, 'cluster worker started');

  /** `ended`: the last line of this process (tail shows the slot finished, not stalled). */
  const beat = (stage: 'detect' | 'ingest', ended = false) => {
    const m = o.client.metrics();
    const now = Date.now();
    const items = counts.symbols + counts.windows;
    if (now - prev.at >= 1000) {
      reqPerSec = ((m.ok - prev.ok) * 1000) / (now - prev.at);
      prev = { at: now, ok: m.ok, items };
    }
    const common = { v: HEARTBEAT_VERSION, host, slot, ...(ended ? { ended } : {}), requests: m.requests, rateLimited: m.rateLimited, reqPerSec: +reqPerSec.toFixed(1), rate: +o.client.bucket!.currentRate.toFixed(1), quota: o.meta.quota, skippedCommitted: counts.skippedCommitted, rssMB: rssMB() };
    if (stage === 'detect') {
      const done = counts.symbols + counts.symbolsFailed;
      logs.heartbeat.info({ stage, worker: slot, symbol: last, done, total: done, workerDone: done, workerTotal: done, failed: counts.symbolsFailed, ...common });
    } else {
      logs.heartbeat.info({ stage, partition: slot, last, processed: counts.windows, failed: counts.windowsFailed, skipped: 0, total: counts.windows + counts.windowsFailed, trades: counts.trades, quotes: counts.quotes, latencyP50Ms: m.latencyP50Ms, latencyP95Ms: m.latencyP95Ms, etaSec: null, ...common });
    }
  };

  const claim = async (item: string): Promise<boolean> => (await o.redis.set(o.keys.claim(item), String(slot), 'PX', CLAIM_MS, 'NX')) === 'OK';
  const batcher = new ShardBatcher(
    shards,
    detectDone,
    o.meta.batchSize,
    1_000,
    (symbols, rows, shard) => logs.log.info({ stage: 'detect', slot, shard, symbols: symbols.length, rows }, 'shard committed'),
    (symbol) => claim(`sym=${symbol}`),
  );

  const redelivered = (job: Job, id: string): boolean => {
    if (job.attemptsStarted <= 1 && job.stalledCounter === 0) return false;
    logs.log.info({ slot, job: id, attemptsStarted: job.attemptsStarted, stalledCounter: job.stalledCounter }, 'redelivered job');
    return true;
  };

  const processSymbol = async (job: Job<StageJob>): Promise<string> => {
    const { symbol } = job.data;
    if (redelivered(job, symbol)) await detectDone.refresh();
    if (detectDone.has(symbol) || shards.committedSymbols.has(symbol)) {
      counts.skippedCommitted++;
      return 'already committed';
    }
    let rows: readonly EventRow[];
    try {
      const bars = await lastValueFrom(fetchMinuteBars(o.client, symbol, o.meta.from, o.meta.to));
      rows = await detectEvents(bars, symbol, o.detectors);
    } catch (err) {
      if (err instanceof AuthError || !(err instanceof HttpError)) throw noteFatal(err);
      counts.symbolsFailed++;
      logs.log.error({ stage: 'detect', slot, symbol, code: err.code, status: err.status, err: err.message }, 'symbol failed');
      return `failed: ${err.code}`;
    }
    await batcher.add(symbol, rows);
    counts.symbols++;
    last = symbol;
    beat('detect');
    return 'committed';
  };

  const committing = new Set<string>();
  const processWindow = async (job: Job<WindowJob>): Promise<string> => {
    const e = job.data;
    await ingestDone.refresh(redelivered(job, e.eventId) ? 0 : 250);
    if (ingestDone.has(e.eventId)) {
      counts.skippedCommitted++;
      return 'already committed';
    }
    const gte = BigInt(e.t - o.meta.window.beforeMs) * NS_PER_MS;
    const lte = BigInt(e.t + o.meta.window.afterMs) * NS_PER_MS;
    try {
      const [trades, quotes] = await lastValueFrom(forkJoin([fetchTrades(o.client, e.symbol, gte, lte), fetchQuotes(o.client, e.symbol, gte, lte, o.meta.quotesHz)]));
      // Files are keyed by event: a duplicate publish rewrites identical bytes; only the journal line must stay single.
      await ingestDone.refresh();
      if (ingestDone.has(e.eventId)) {
        counts.skippedCommitted++;
        return 'already committed';
      }
      // Two live processes can hold one job (a worker too busy to renew its lock looks dead): the claim
      // lets one journal it; the other retries later and then finds it committed. Within this process
      // the same job can arrive twice too (re-enqueued after Redis lost its data): `committing` guards that.
      if (committing.has(e.eventId) || !(await claim(`ev=${e.eventId}`))) throw new ClaimedElsewhereError(e.eventId);
      committing.add(e.eventId);
      try {
        await windows.commit({ symbol: e.symbol, eventId: e.eventId, trades: tradesFrame(trades), quotes: quotesFrame(quotes) });
        ingestDone.add(e.eventId);
      } finally {
        committing.delete(e.eventId);
      }
      counts.windows++;
      counts.trades += trades.length;
      counts.quotes += quotes.length;
    } catch (err) {
      if (err instanceof AuthError || !(err instanceof HttpError)) throw noteFatal(err);
      await windows.fail({ eventId: e.eventId, symbol: e.symbol, status: err.status, code: err.code, reason: err.message });
      counts.windowsFailed++;
      logs.log.error({ stage: 'ingest', slot, event: e.eventId, code: err.code, status: err.status, err: err.message }, 'window failed');
    }
    last = e.eventId;
    if ((counts.windows + counts.windowsFailed) % 100 === 0) beat('ingest');
    return 'committed';
  };

  const noteFatal = (err: unknown): unknown => {
    if (err instanceof AuthError) fatal ??= err;
    return err;
  };

  const workerOpts = (concurrency: number) => ({
    connection: { url: o.redisUrl, maxRetriesPerRequest: null },
    prefix: o.keys.prefix,
    concurrency,
    lockDuration: LOCK_DURATION_MS,
    stalledInterval: STALLED_INTERVAL_MS,
    maxStalledCount: 10,
  });
  let redisDown = false;
  const onError = (err: Error) => {
    logs.log.warn({ slot, err: err.message }, 'queue error');
    if (!redisDown && /ECONNREFUSED|ETIMEDOUT|Connection is closed|ENOTFOUND|EHOSTUNREACH/.test(err.message)) {
      redisDown = true;
      o.say(`worker ${slot}: Redis unreachable (${err.message.split('\n')[0]}); work in flight is committed to disk, waiting for Redis to come back`);
    }
  };
  const detectWorker = new Worker<StageJob, string>(o.keys.detectQueue, processSymbol, workerOpts(o.detectConcurrency ?? 16));
  const ingestWorker = new Worker<WindowJob, string>(o.keys.ingestQueue, processWindow, workerOpts(o.concurrency ?? 64));
  for (const w of [detectWorker, ingestWorker]) {
    w.on('error', onError);
    // A retry is normal (an item claimed by another process); the log keeps the why.
    w.on('failed', (job, err) => logs.log.warn({ slot, job: job?.id, attemptsMade: job?.attemptsMade, err: err.message }, 'job attempt failed'));
  }

  let phase: ClusterPhase | null = null;
  let lost = false;
  let lastBeat = 0;
  let beatPhase: ClusterPhase | null = null;
  try {
    while (!o.signal.aborted && fatal === undefined) {
      try {
        phase = await advancePhase({ redis: o.redis, keys: o.keys, outDir: o.outDir, meta: o.meta, detectQueue: o.queues.detect, ingestQueue: o.queues.ingest, note: (m, f) => (o.say(m), logs.log.info({ slot, ...f }, m)) });
        if (redisDown) {
          redisDown = false;
          o.say(`worker ${slot}: Redis is back`);
        }
      } catch (err) {
        onError(err as Error);
      }
      if (phase === 'done') break;
      if (phase === null && !lost) {
        lost = true;
        o.say(`worker ${slot}: the run's state is gone from Redis (restarted without persistence?)${o.onStateLost ? ': enqueuing the uncommitted items again' : ': waiting for `tickpipe run --cluster` to enqueue them again'}`);
        await o.onStateLost?.().catch(onError);
      } else if (phase !== null) lost = false;
      // A new stage is shown at once (a host killed in its first seconds of stage 2 must still have
      // a stage-2 row in tail/status), then every 5 s.
      if (phase !== null && (Date.now() - lastBeat >= 5_000 || phase !== beatPhase)) {
        beat(phase === 'detect' ? 'detect' : 'ingest');
        lastBeat = Date.now();
        beatPhase = phase;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    // close() waits for jobs in flight; the batcher must be flushed for detect jobs to finish.
    const closing = Promise.allSettled([detectWorker.close(), ingestWorker.close()]);
    const flusher = setInterval(() => void batcher.flush(), 200);
    await closing;
    clearInterval(flusher);
    await batcher.flush();
    // 'done' means stage 2 was the last one worked on.
    if (phase !== null) beat(phase === 'detect' ? 'detect' : 'ingest', true);
    await Promise.allSettled([shards.close(), windows.close()]);
    const bucket = o.client.bucket;
    if (bucket instanceof RedisTokenBucket) {
      logs.log.info({ slot, granted: bucket.stats().granted, redated: bucket.redated, quotaBoundSpans: bucket.quotaBoundSpans }, 'quota bucket');
    }
    logs.log.info({ slot, ...counts, phase }, 'cluster worker stopped');
    logs.flush();
  }
  if (fatal !== undefined) throw fatal;
  return { slot, symbols: counts.symbols, symbolsFailed: counts.symbolsFailed, windows: counts.windows, windowsFailed: counts.windowsFailed, skippedCommitted: counts.skippedCommitted, phase };
}
