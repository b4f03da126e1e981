import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { InputError } from '../errors.js';
import { compactAfterIngest, formatCompact } from '../dataset/run-compaction.js';
import { consolidate, manifestPath } from '../pipeline/consolidate.js';
import { loadIngestState, publishBytes } from '../sinks/index.js';
import { readManifest } from '../streams/manifest.js';
import { CommittedIndex } from './committed-index.js';
export { parseRedisUrl, redactRedisUrl } from './url.js';
import { clusterFilePath, clusterKeys, detectJobId, ingestJobId, type ClusterFile, type ClusterKeys, type ClusterPhase } from './layout.js';

/** What every worker needs to know about the run's work, kept in Redis by the coordinator. */
export interface ClusterMeta {
  readonly from: string;
  readonly to: string;
  readonly detectors: readonly string[];
  readonly batchSize: number;
  readonly window: { readonly beforeMs: number; readonly afterMs: number };
  readonly quotesHz: number;
  readonly doDetect: boolean;
  readonly doIngest: boolean;
  readonly retryFailed: boolean;
  /** Combined request rate of every host (the shared bucket's rate). */
  readonly rate: number;
  readonly adaptive: boolean;
  /** What the rate is measured against in reports. */
  readonly quota: number;
  /**
   * Compact the windows into `dataset/` at the end of the run (and during ingest, on the `run
   * --cluster` host): null with `--no-compact`. Absent in the settings of a run started by an
   * earlier version: no compaction, as then.
   */
  readonly compact?: { readonly removeWindows: boolean } | null;
}

export interface StageJob {
  readonly symbol: string;
}

export interface WindowJob {
  readonly symbol: string;
  readonly eventId: string;
  /** Event time, UTC ms. */
  readonly t: number;
}

/** A connection as BullMQ wants it (commands wait through a Redis outage instead of failing). */
export function connectRedis(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, retryStrategy: (n) => Math.min(2000, 100 * n) });
}

/** Reads `state/cluster/cluster.json`, or undefined when no cluster run has started in this folder. */
export async function readClusterFile(outDir: string): Promise<ClusterFile | undefined> {
  try {
    const v = JSON.parse(await readFile(clusterFilePath(outDir), 'utf8')) as ClusterFile;
    if (v.version !== 1 || typeof v.runId !== 'string' || !/^[0-9a-f]{8,64}$/.test(v.runId)) throw new InputError(`${clusterFilePath(outDir)}: not a tickpipe cluster file`);
    return v;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The folder's cluster file, created (atomically) on the first `run --cluster`. */
export async function ensureClusterFile(outDir: string): Promise<ClusterFile> {
  const existing = await readClusterFile(outDir);
  if (existing) return existing;
  const file: ClusterFile = { version: 1, runId: randomBytes(8).toString('hex') };
  await publishBytes(clusterFilePath(outDir), JSON.stringify(file) + '\n');
  return (await readClusterFile(outDir))!;
}

const BULK = 500;
const JOB_OPTS = { removeOnComplete: true, removeOnFail: 10_000, attempts: 8, backoff: { type: 'exponential', delay: 2_000 } } as const;

/** Puts every not-yet-committed symbol on the detect queue (job id = symbol: adding twice is a no-op). */
export async function enqueueDetect(queue: Queue, outDir: string, symbols: readonly string[]): Promise<number> {
  const done = CommittedIndex.detect(outDir);
  await done.refresh();
  const todo = symbols.filter((s) => !done.has(s));
  for (let i = 0; i < todo.length; i += BULK) {
    await queue.addBulk(todo.slice(i, i + BULK).map((symbol) => ({ name: 'symbol', data: { symbol } satisfies StageJob, opts: { jobId: detectJobId(symbol), ...JOB_OPTS } })));
  }
  return todo.length;
}

/** Streams the manifest onto the ingest queue, skipping committed windows (and failed ones unless retried). */
export async function enqueueIngest(queue: Queue, outDir: string, retryFailed: boolean): Promise<number> {
  const state = await loadIngestState(outDir);
  let batch: Array<{ name: string; data: WindowJob; opts: object }> = [];
  let n = 0;
  for await (const e of readManifest(manifestPath(outDir))) {
    if (state.completed.has(e.eventId) || (!retryFailed && state.failed.has(e.eventId))) continue;
    batch.push({ name: 'window', data: { symbol: e.symbol, eventId: e.eventId, t: e.timestampMs }, opts: { jobId: ingestJobId(e.eventId), ...JOB_OPTS } });
    n++;
    if (batch.length >= BULK) {
      await queue.addBulk(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await queue.addBulk(batch);
  return n;
}

/** Whether a queue has nothing left to hand out or finish (failed jobs do not count). */
export async function drained(queue: Queue): Promise<boolean> {
  const c = await queue.getJobCounts('active', 'waiting', 'delayed', 'prioritized', 'waiting-children');
  return Object.values(c).every((v) => v === 0);
}

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/** Context of {@link advancePhase}. */
export interface PhaseContext {
  readonly redis: Redis;
  readonly keys: ClusterKeys;
  readonly outDir: string;
  readonly meta: ClusterMeta;
  readonly detectQueue: Queue;
  readonly ingestQueue: Queue;
  readonly note: (msg: string, fields?: object) => void;
  /** Called each time a stage is found with every job of it enqueued and none left to do. */
  readonly onDrained?: (stage: 'detect' | 'ingest') => void;
}

/**
 * Moves the run on when its stage is finished: detect → (consolidate, enqueue windows) → ingest →
 * (compact) → done. Any process may call it at any time; a short Redis lock makes one of them do
 * the step, and every step is idempotent (consolidate rewrites the same manifest; window jobs
 * de-duplicate; compaction finishes what a killed one started and never compacts a window twice),
 * so a process dying mid-step only means the next one does it again. The run is `done` only once
 * compacted, so every process, `run --cluster` included, exits after the dataset is complete.
 */
export async function advancePhase(ctx: PhaseContext): Promise<ClusterPhase | null> {
  const { redis, keys } = ctx;
  const phase = (await redis.get(keys.phase)) as ClusterPhase | null;
  if (phase !== 'detect' && phase !== 'ingest') return phase;
  const stage = phase;
  if ((await redis.get(keys.enqueued(stage))) !== '1') return phase;
  if (!(await drained(stage === 'detect' ? ctx.detectQueue : ctx.ingestQueue))) return phase;
  ctx.onDrained?.(stage);
  const token = randomBytes(8).toString('hex');
  if ((await redis.set(keys.transition, token, 'PX', 30_000, 'NX')) !== 'OK') return phase;
  const renew = setInterval(() => void redis.pexpire(keys.transition, 30_000).catch(() => undefined), 10_000);
  try {
    if ((await redis.get(keys.phase)) !== stage) return (await redis.get(keys.phase)) as ClusterPhase | null;
    if (stage === 'ingest') {
      await compactAtEnd(ctx);
      await redis.set(keys.phase, 'done');
      await expireDoneRun(redis, keys);
      ctx.note('cluster: ingest finished; run done');
      return 'done';
    }
    const c = await consolidate(ctx.outDir);
    ctx.note(`consolidated ${c.events} events from ${c.shards} shards (${c.duplicates} duplicates)`, { ...c });
    if (!ctx.meta.doIngest) {
      await redis.set(keys.phase, 'done');
      await expireDoneRun(redis, keys);
      return 'done';
    }
    await redis.del(keys.enqueued('ingest'));
    const n = await enqueueIngest(ctx.ingestQueue, ctx.outDir, ctx.meta.retryFailed);
    await redis.set(keys.enqueued('ingest'), '1');
    await redis.set(keys.phase, 'ingest');
    ctx.note(`cluster: ${n} windows enqueued; ingest started`, { enqueued: n });
    return 'ingest';
  } finally {
    clearInterval(renew);
    await redis.eval(RELEASE, 1, keys.transition, token).catch(() => undefined);
  }
}

/**
 * The end-of-run compaction, by the process that found stage 2 finished (under the transition
 * lock, so one process at a time; the compaction lock in the shared folder makes it the only
 * compactor, waiting for an incremental one or a `tickpipe compact` to finish first). A failure
 * is said and logged, and the run still ends: the windows are committed, and `tickpipe compact`
 * finishes the dataset; the summary of `run --cluster` reads what is not compacted from the folder.
 */
async function compactAtEnd(ctx: PhaseContext): Promise<void> {
  const opts = ctx.meta.compact;
  if (!opts) return;
  ctx.note('cluster: ingest finished; compacting the committed windows into dataset/');
  try {
    const r = await compactAfterIngest(ctx.outDir, { removeWindows: opts.removeWindows, command: 'tickpipe run --cluster (end of run)' });
    ctx.note(r ? formatCompact(r) : 'compaction skipped: another process held the compaction lock for 10 minutes (run `tickpipe compact`)', { compaction: r ?? 'skipped: locked' });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    ctx.note(`compaction failed (${message}); the windows are committed: run \`tickpipe compact\` to build dataset/`, { compactionError: message });
  }
}

/** Queues of a run, with the options every process uses. */
export function openQueues(url: string, keys: ClusterKeys): { detect: Queue; ingest: Queue } {
  const connection = { url, maxRetriesPerRequest: null } as const;
  return {
    detect: new Queue(keys.detectQueue, { connection, prefix: keys.prefix }),
    ingest: new Queue(keys.ingestQueue, { connection, prefix: keys.prefix }),
  };
}

/**
 * The coordinator's part of `run --cluster`: publishes the run's settings, sets the phase and
 * enqueues what is not committed yet. Run again (or after Redis lost its data) it re-enqueues only
 * what is still missing.
 */
export async function startClusterRun(args: {
  readonly redis: Redis;
  readonly keys: ClusterKeys;
  readonly queues: { detect: Queue; ingest: Queue };
  readonly outDir: string;
  readonly meta: ClusterMeta;
  readonly symbols: readonly string[];
}): Promise<{ enqueued: number; phase: ClusterPhase }> {
  const { redis, keys, queues, outDir, meta } = args;
  await redis.set(keys.meta, JSON.stringify(meta));
  await redis.del(keys.enqueued('detect'), keys.enqueued('ingest'));
  if (meta.doDetect) {
    await redis.set(keys.phase, 'detect');
    const n = await enqueueDetect(queues.detect, outDir, args.symbols);
    await redis.set(keys.enqueued('detect'), '1');
    return { enqueued: n, phase: 'detect' };
  }
  await redis.set(keys.phase, 'ingest');
  const n = await enqueueIngest(queues.ingest, outDir, meta.retryFailed);
  await redis.set(keys.enqueued('ingest'), '1');
  return { enqueued: n, phase: 'ingest' };
}

export { clusterKeys };

/** Calls `each` with every batch of the run's Redis keys ({@link ClusterKeys.patterns}); returns the sum. */
async function forRunKeys(redis: Redis, keys: ClusterKeys, each: (found: string[]) => Promise<number>): Promise<number> {
  let n = 0;
  for (const pattern of keys.patterns) {
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (found.length > 0) n += await each(found);
    } while (cursor !== '0');
  }
  return n;
}

/** Deletes every Redis key of run `runId` (queues, phase, bucket): for tests and benchmarks on a shared Redis. */
export function dropClusterRun(redis: Redis, runId: string, namespace = 'tickpipe'): Promise<number> {
  return forRunKeys(redis, clusterKeys(runId, namespace), (found) => redis.del(...found));
}

/**
 * How long a finished run's keys stay in Redis. A team's Redis outlives its runs: a finished run
 * leaves nothing behind for good, yet for a day a late `worker` or a rerun of `run --cluster` still
 * reads "done" (and after that, a rerun finds the journals complete and enqueues nothing).
 */
export const DONE_RUN_TTL_MS = 24 * 3600 * 1000;

/** Sets {@link DONE_RUN_TTL_MS} on every key of a finished run. */
async function expireDoneRun(redis: Redis, keys: ClusterKeys): Promise<void> {
  await forRunKeys(redis, keys, async (found) => {
    const m = redis.multi();
    for (const k of found) m.pexpire(k, DONE_RUN_TTL_MS);
    await m.exec();
    return found.length;
  });
}
