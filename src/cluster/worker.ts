import { Worker, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Detector } from '../detect/index.js';
import { LockedError } from '../errors.js';
import { openRunLogs, type RunLogs } from '../log.js';
import { ShardWriter, WindowWriter } from '../sinks/index.js';
import type { PolygonClient } from '../streams/polygon-client.js';
import { CommittedIndex } from './committed-index.js';
import { advancePhase, type ClusterMeta, type StageJob, type WindowJob } from './coordinator.js';
import { JobHandlers, SlotHeartbeat } from './job-handlers.js';
import { RedisTokenBucket } from './redis-bucket.js';
import { SLOT_BASE, type ClusterKeys, type ClusterPhase } from './layout.js';
import { detectJournalName, ingestJournalName, runLogPaths } from '../run-folder/layout.js';
import { CLAIM_MS, ShardBatcher } from './shard-batcher.js';
import { WindowPool, defaultWorkers } from '../workers/window-pool.js';

export { ClaimedElsewhereError, CLAIM_MS } from './shard-batcher.js';

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
  /**
   * How long stage 2 ran as this process saw it: from the first time it found the run in `ingest`
   * to the first time it found the ingest queue drained (undefined if it saw neither).
   */
  readonly ingestMs: number | undefined;
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
  /** Called with the run's phase each time the loop reads it, and the slot's log (the coordinator's incremental compaction). */
  readonly onPhase?: (phase: ClusterPhase | null, log: RunLogs['log']) => void;
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


/** The BullMQ errors that mean Redis cannot be reached (the loop says so once, then waits). */
const REDIS_DOWN_RE = /ECONNREFUSED|ETIMEDOUT|Connection is closed|ENOTFOUND|EHOSTUNREACH/;

/** Says once that Redis went away and once that it came back; every error goes to the log. */
class RedisOutage {
  #down = false;

  constructor(
    private readonly slot: number,
    private readonly logs: RunLogs,
    private readonly say: (line: string) => void,
  ) {}

  readonly onError = (err: Error): void => {
    this.logs.log.warn({ slot: this.slot, err: err.message }, 'queue error');
    if (!this.#down && REDIS_DOWN_RE.test(err.message)) {
      this.#down = true;
      this.say(`worker ${this.slot}: Redis unreachable (${err.message.split('\n')[0]}); work in flight is committed to disk, waiting for Redis to come back`);
    }
  };

  /** A Redis command went through. */
  reached(): void {
    if (!this.#down) return;
    this.#down = false;
    this.say(`worker ${this.slot}: Redis is back`);
  }
}

/** A slot's open files and the state every step of {@link runClusterWorker} shares. */
interface SlotRun {
  readonly o: ClusterWorkerOptions;
  readonly slot: number;
  readonly shards: ShardWriter;
  readonly windows: WindowWriter;
  readonly logs: RunLogs;
  readonly heartbeat: SlotHeartbeat;
  readonly batcher: ShardBatcher;
  readonly handlers: JobHandlers;
  readonly outage: RedisOutage;
  /** The phase last read from Redis. */
  phase: ClusterPhase | null;
  ingestSeenAt: number | undefined;
  ingestDrainedAt: number | undefined;
}

/** Claims a slot, opens its logs and journals, and builds the job handlers. */
async function openSlotRun(o: ClusterWorkerOptions): Promise<SlotRun> {
  const { slot, shards, windows } = await claimSlot(o);
  const logs: RunLogs = openRunLogs(runLogPaths(o.outDir, slot));
  const detectDone = CommittedIndex.detect(o.outDir);
  const ingestDone = CommittedIndex.ingest(o.outDir);
  await Promise.all([detectDone.refresh(), ingestDone.refresh()]);
  const heartbeat = new SlotHeartbeat(slot, logs, o.client, o.meta.quota);
  const claim = async (item: string): Promise<boolean> => (await o.redis.set(o.keys.claim(item), String(slot), 'PX', CLAIM_MS, 'NX')) === 'OK';
  const batcher = new ShardBatcher(
    shards,
    detectDone,
    o.meta.batchSize,
    1_000,
    (symbols, rows, shard) => logs.log.info({ stage: 'detect', slot, shard, symbols: symbols.length, rows }, 'shard committed'),
    (symbol) => claim(`sym=${symbol}`),
  );
  // The one-host ingest's worker threads (the same default size): windows scanned and encoded off this loop.
  const pool = WindowPool.shared(defaultWorkers());
  const handlers = new JobHandlers({ slot, meta: o.meta, client: o.client, detectors: o.detectors, logs, shards, windows, batcher, detectDone, ingestDone, heartbeat, claim, pool });
  o.say(`worker: slot ${slot} on ${heartbeat.host} (journals ${detectJournalName(slot)}, ${ingestJournalName(slot)})`);
  logs.log.info({ slot, host: heartbeat.host, pid: process.pid }, 'cluster worker started');
  const outage = new RedisOutage(slot, logs, o.say);
  return { o, slot, shards, windows, logs, heartbeat, batcher, handlers, outage, phase: null, ingestSeenAt: undefined, ingestDrainedAt: undefined };
}

/** The two BullMQ workers (stage-1 symbols, stage-2 windows) of this process. */
function startBullWorkers(r: SlotRun): Array<Worker<StageJob, string> | Worker<WindowJob, string>> {
  const { o, logs, slot } = r;
  const workerOpts = (concurrency: number) => ({
    connection: { url: o.redisUrl, maxRetriesPerRequest: null },
    prefix: o.keys.prefix,
    concurrency,
    lockDuration: LOCK_DURATION_MS,
    stalledInterval: STALLED_INTERVAL_MS,
    maxStalledCount: 10,
  });
  const detectWorker = new Worker<StageJob, string>(o.keys.detectQueue, r.handlers.processSymbol, workerOpts(o.detectConcurrency ?? 16));
  const ingestWorker = new Worker<WindowJob, string>(o.keys.ingestQueue, r.handlers.processWindow, workerOpts(o.concurrency ?? 64));
  for (const w of [detectWorker, ingestWorker]) {
    w.on('error', r.outage.onError);
    // A retry is normal (an item claimed by another process); the log keeps the why.
    w.on('failed', (job, err) => logs.log.warn({ slot, job: job?.id, attemptsMade: job?.attemptsMade, err: err.message }, 'job attempt failed'));
  }
  return [detectWorker, ingestWorker];
}

/**
 * Writes the slot's heartbeat every 5 s, and at once when the phase changes (a host killed in its
 * first seconds of stage 2 must still have a stage-2 row in tail/status). A timer of its own, so a
 * long step of the phase loop (consolidating, compacting) does not make the slot look stalled.
 */
function startBeats(r: SlotRun): NodeJS.Timeout {
  let lastBeat = 0;
  let beatPhase: ClusterPhase | null = null;
  return setInterval(() => {
    const phase = r.phase;
    if (phase === null || (Date.now() - lastBeat < 5_000 && phase === beatPhase)) return;
    r.heartbeat.beat(phase === 'detect' ? 'detect' : 'ingest');
    lastBeat = Date.now();
    beatPhase = phase;
  }, 250);
}

/** Moves the run on and watches it until it is done, this process is stopped, or a fatal error. */
async function phaseLoop(r: SlotRun): Promise<void> {
  const { o, slot, logs } = r;
  let lost = false;
  const note = (m: string, f?: object) => (o.say(m), logs.log.info({ slot, ...f }, m));
  const onDrained = (stage: 'detect' | 'ingest') => {
    if (stage === 'ingest') r.ingestDrainedAt ??= Date.now();
  };
  while (!o.signal.aborted && r.handlers.fatal === undefined) {
    try {
      r.phase = await advancePhase({ redis: o.redis, keys: o.keys, outDir: o.outDir, meta: o.meta, detectQueue: o.queues.detect, ingestQueue: o.queues.ingest, note, onDrained });
      r.outage.reached();
    } catch (err) {
      r.outage.onError(err as Error);
    }
    if (r.phase === 'ingest') r.ingestSeenAt ??= Date.now();
    o.onPhase?.(r.phase, logs.log);
    if (r.phase === 'done') break;
    if (r.phase === null && !lost) {
      lost = true;
      o.say(`worker ${slot}: the run's state is gone from Redis (restarted without persistence?)${o.onStateLost ? ': enqueuing the uncommitted items again' : ': waiting for `tickpipe run --cluster` to enqueue them again'}`);
      await o.onStateLost?.().catch(r.outage.onError);
    } else if (r.phase !== null) lost = false;
    await new Promise((res) => setTimeout(res, 500));
  }
}

/** Lets the jobs in flight finish and commit, writes the last heartbeat and closes the journals. */
async function closeSlotRun(r: SlotRun, workers: ReadonlyArray<{ close(): Promise<void> }>): Promise<void> {
  const { o, slot, logs } = r;
  // close() waits for jobs in flight; the batcher must be flushed for detect jobs to finish.
  const closing = Promise.allSettled(workers.map((w) => w.close()));
  const flusher = setInterval(() => void r.batcher.flush(), 200);
  await closing;
  clearInterval(flusher);
  await r.batcher.flush();
  // 'done' means stage 2 was the last one worked on.
  if (r.phase !== null) r.heartbeat.beat(r.phase === 'detect' ? 'detect' : 'ingest', true);
  await Promise.allSettled([r.shards.close(), r.windows.close()]);
  const bucket = o.client.bucket;
  if (bucket instanceof RedisTokenBucket) {
    logs.log.info({ slot, granted: bucket.stats().granted, redated: bucket.redated, sentLate: bucket.sentLate, quotaBoundSpans: bucket.quotaBoundSpans }, 'quota bucket');
  }
  logs.log.info({ slot, ...r.heartbeat.counts, phase: r.phase }, 'cluster worker stopped');
  logs.flush();
}

/**
 * One worker process of a cluster run: claims a slot, takes detect and ingest jobs until the run's
 * phase is `done` (or `signal` fires), commits each item with the one-host commit protocol into its
 * own journals, skips re-delivered items that are already committed, and moves the run from stage
 * to stage when it finds a stage finished.
 */
export async function runClusterWorker(o: ClusterWorkerOptions): Promise<WorkerResult> {
  const r = await openSlotRun(o);
  const workers = startBullWorkers(r);
  const beats = startBeats(r);
  try {
    await phaseLoop(r);
  } finally {
    clearInterval(beats);
    await closeSlotRun(r, workers);
  }
  if (r.handlers.fatal !== undefined) throw r.handlers.fatal;
  const c = r.heartbeat.counts;
  const ingestMs = r.ingestSeenAt !== undefined && r.ingestDrainedAt !== undefined ? Math.max(0, r.ingestDrainedAt - r.ingestSeenAt) : undefined;
  return { slot: r.slot, symbols: c.symbols, symbolsFailed: c.symbolsFailed, windows: c.windows, windowsFailed: c.windowsFailed, skippedCommitted: c.skippedCommitted, phase: r.phase, ingestMs };
}
