/**
 * The CLI side of cluster mode: `tickpipe run --cluster URL` (coordinator + a worker) and
 * `tickpipe worker --cluster URL --out DIR` (a worker on any host).
 */
import { resolve } from 'node:path';
import type { Detector } from '../detect/index.js';
import { loadDetectorModule, selectDetectors } from '../detect/module-loader.js';
import { InputError, UsageError } from '../errors.js';
import { runSummary, type RunSummary } from '../ops/summary.js';
import { readRunSpec } from '../sinks/index.js';
import { PolygonClient } from '../streams/polygon-client.js';
import { connectRedis, ensureClusterFile, openQueues, readClusterFile, startClusterRun, type ClusterMeta } from './coordinator.js';
import { redactRedisUrl } from './url.js';
import { clusterKeys, type ClusterKeys } from './layout.js';
import { RedisTokenBucket } from './redis-bucket.js';
import { ClusterIncrementalCompaction } from './incremental.js';
import { slotTotals, waitForFinalBeats, type SlotTotals } from './run-totals.js';
import { runClusterWorker, type WorkerResult } from './worker.js';

export { clusterUrl } from './url.js';

/**
 * What the cluster's command runners use of a command's io: a subset of the CLI's `CommandIo`
 * (which satisfies it), declared here because the cluster layer sits below the command line.
 */
export interface ClusterIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: NodeJS.ProcessEnv;
}

interface Conn {
  readonly redis: ReturnType<typeof connectRedis>;
  readonly keys: ClusterKeys;
  readonly queues: ReturnType<typeof openQueues>;
  close(): Promise<void>;
}

/** Connects and checks Redis is there (a clear error within ~5 s instead of waiting forever). */
async function connect(url: string, runId: string): Promise<Conn> {
  const redis = connectRedis(url);
  redis.on('error', () => undefined); // reported through the commands that fail or wait
  const ping = redis.ping();
  const timeout = new Promise<never>((_, rej) => setTimeout(() => rej(new InputError(`Redis at ${redactRedisUrl(url)} is not reachable (no answer within 5 s)`)), 5_000).unref());
  try {
    await Promise.race([ping, timeout]);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  const keys = clusterKeys(runId);
  const queues = openQueues(url, keys);
  // An outage is reported once by the worker loop; without listeners BullMQ prints every reconnect attempt.
  for (const q of [queues.detect, queues.ingest]) q.on('error', () => undefined);
  return {
    redis,
    keys,
    queues,
    async close() {
      await Promise.allSettled([queues.detect.close(), queues.ingest.close()]);
      redis.disconnect();
    },
  };
}

function makeClient(conn: Conn, meta: ClusterMeta, baseUrl: string, apiKey: string, say: (l: string) => void): { client: PolygonClient; bucket: RedisTokenBucket } {
  let warned = 0;
  const bucket = new RedisTokenBucket({
    redis: conn.redis,
    key: conn.keys.bucket,
    rate: meta.rate,
    adaptive: meta.adaptive,
    onError: (err) => {
      if (Date.now() - warned > 10_000) say(`quota bucket: Redis error (${(err as Error).message.split('\n')[0]}); requests wait`);
      warned = Date.now();
    },
  });
  return { client: new PolygonClient({ baseUrl, apiKey, bucket, connections: 128 }), bucket };
}

/** Parameters of `run --cluster` once `run` has validated its flags. */
export interface ClusterRunArgs {
  readonly io: ClusterIo;
  readonly url: string;
  readonly out: string;
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly symbols: readonly string[];
  readonly detectorNames: readonly string[];
  readonly detectors: readonly Detector[];
  readonly meta: ClusterMeta;
  readonly concurrency: number | undefined;
  readonly signal: AbortSignal;
}

/** What `run --cluster` reports at its end. */
export interface ClusterRunOutcome {
  /** This process's own work. */
  readonly result: WorkerResult;
  /** The run folder's totals (every host's journals), the request figures summed over every host. */
  readonly summary: RunSummary;
  /** What each worker process committed, from its own journals. */
  readonly slots: readonly SlotTotals[];
  /** Jobs that failed on every attempt (in no journal). */
  readonly failedJobs: number;
}

/** `run --cluster`: publishes and enqueues the run, then works on it like any worker until it is done. */
export async function runClusterCoordinator(a: ClusterRunArgs): Promise<ClusterRunOutcome> {
  const say = (l: string) => a.io.stderr.write(l + '\n');
  const started = Date.now();
  const { runId } = await ensureClusterFile(a.out);
  const conn = await connect(a.url, runId);
  try {
    const enqueue = async () => {
      const r = await startClusterRun({ redis: conn.redis, keys: conn.keys, queues: conn.queues, outDir: a.out, meta: a.meta, symbols: a.symbols });
      say(`cluster: run ${runId} on ${redactRedisUrl(a.url)}: ${r.enqueued} ${r.phase === 'detect' ? 'symbols' : 'windows'} enqueued; start workers with: tickpipe worker --cluster URL --out DIR`);
    };
    await enqueue();
    const { client, bucket } = makeClient(conn, a.meta, a.baseUrl, a.apiKey, say);
    let incremental: ClusterIncrementalCompaction | undefined;
    try {
      const result = await runClusterWorker({
        outDir: a.out,
        redisUrl: a.url,
        redis: conn.redis,
        keys: conn.keys,
        queues: conn.queues,
        meta: a.meta,
        client,
        detectors: a.detectors,
        ...(a.concurrency !== undefined ? { concurrency: a.concurrency } : {}),
        signal: a.signal,
        say,
        onStateLost: enqueue,
        onPhase: (phase, log) => {
          if (!a.meta.compact) return;
          incremental ??= new ClusterIncrementalCompaction(a.out, a.meta.compact.removeWindows, { say, log });
          incremental.onPhase(phase);
        },
      });
      // Its last compaction is part of what the summary reports (the finally below is for errors).
      await incremental?.finish();
      // Jobs that failed every attempt (a disk error, say) are not in any journal: rerunning retries them.
      const failedJobs = (await conn.queues.detect.getJobCounts('failed')).failed! + (await conn.queues.ingest.getJobCounts('failed')).failed!;
      return { result, ...(await clusterSummary(a, started, result, client)), failedJobs };
    } finally {
      await incremental?.finish();
      await closeQuotaClient(bucket, client, say);
    }
  } finally {
    await conn.close();
  }
}

/**
 * The summary of a cluster run, from the folder: the totals of every journal, each slot's own
 * totals, and the requests of every process that worked on this run (the last heartbeat of each
 * slot written since this command started), over the time this process saw stage 2 run.
 */
async function clusterSummary(a: ClusterRunArgs, started: number, result: WorkerResult, client: PolygonClient): Promise<{ summary: RunSummary; slots: SlotTotals[] }> {
  // The other hosts see the run done at about the same time: their final counts are worth a short wait.
  await waitForFinalBeats(a.out, started, result.slot);
  const slots = await slotTotals(a.out);
  // Every other slot that beat since this command started worked on this run; this process's own
  // figures are taken from its client (exact: its last heartbeat may be older than its last request).
  const others = slots.filter((s) => s.slot !== result.slot && s.lastBeatMs !== undefined && s.lastBeatMs >= started);
  const sum = (k: 'requests' | 'ok' | 'rateLimited') => others.reduce((n, s) => n + s[k], 0);
  const own = client.metrics();
  const metrics = { ...own, sent: own.sent + sum('requests'), requests: own.requests + sum('requests'), ok: own.ok + sum('ok'), rateLimited: own.rateLimited + sum('rateLimited') };
  const summary = await runSummary(a.out, { wallMs: Date.now() - started, metrics, quota: a.meta.quota, ingestElapsedMs: result.ingestMs !== undefined && result.ingestMs > 0 ? result.ingestMs : undefined });
  return { summary, slots };
}

/** Flags of `tickpipe worker`. */
export interface WorkerArgs {
  readonly io: ClusterIo;
  readonly url: string;
  readonly out: string;
  readonly apiKey: string | undefined;
  readonly baseUrl: string | undefined;
  readonly detectorModule: string | undefined;
  readonly concurrency: number | undefined;
  readonly detectConcurrency: number | undefined;
  readonly signal: AbortSignal;
}

async function waitFor<T>(what: () => Promise<T | undefined>, signal: AbortSignal, onWait: () => void): Promise<T | undefined> {
  let told = false;
  for (;;) {
    const v = await what();
    if (v !== undefined || signal.aborted) return v;
    if (!told) onWait();
    told = true;
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/** `tickpipe worker`: joins the folder's cluster run (waiting for it to start) and works until it is done. */
export async function runWorkerCommand(a: WorkerArgs): Promise<WorkerResult | undefined> {
  const say = (l: string) => a.io.stderr.write(l + '\n');
  const out = resolve(a.out);
  const file = await waitFor(() => readClusterFile(out), a.signal, () => say(`worker: waiting for \`tickpipe run --cluster\` to start a run in ${out}`));
  if (!file) return undefined;
  const spec = await readRunSpec(out);
  if (!spec) throw new InputError(`${out} has a cluster file but no run.json: is this the run folder?`);
  const baseUrl = a.baseUrl ?? ('baseUrl' in spec.source ? spec.source.baseUrl : undefined);
  if (!baseUrl) throw new UsageError('this run uses the embedded simulator, which other hosts cannot reach: start the run with --base-url');
  const apiKey = a.apiKey;
  if (!apiKey) throw new UsageError('an API key is needed: set POLYGON_API_KEY or pass --api-key (each host passes its own; it is never shared through Redis)');
  const conn = await connect(a.url, file.runId);
  try {
    const raw = await waitFor(() => conn.redis.get(conn.keys.meta).then((v) => v ?? undefined), a.signal, () => say('worker: waiting for the run to publish its settings in Redis'));
    if (!raw) return undefined;
    const meta = JSON.parse(raw) as ClusterMeta;
    const mod = a.detectorModule === undefined ? undefined : await loadDetectorModule(a.detectorModule, { label: '--detector-module' });
    const detectors = selectDetectors(meta.detectors, mod);
    const { client, bucket } = makeClient(conn, meta, baseUrl, apiKey, say);
    try {
      return await runClusterWorker({
        outDir: out,
        redisUrl: a.url,
        redis: conn.redis,
        keys: conn.keys,
        queues: conn.queues,
        meta,
        client,
        detectors,
        ...(a.concurrency !== undefined ? { concurrency: a.concurrency } : {}),
        ...(a.detectConcurrency !== undefined ? { detectConcurrency: a.detectConcurrency } : {}),
        signal: a.signal,
        say,
      });
    } finally {
      await closeQuotaClient(bucket, client, say);
    }
  } finally {
    await conn.close();
  }
}

/** Stops this process's share of the Redis quota, says what it was granted, and closes the HTTP client. */
async function closeQuotaClient(bucket: RedisTokenBucket, client: { close(): Promise<void> }, say: (line: string) => void): Promise<void> {
  bucket.close();
  say(`quota bucket: ${bucket.stats().granted} requests granted here, ${bucket.redated} of the grants re-dated (Redis's reply handled late), ${bucket.sentLate} requests re-dated when they left late`);
  await client.close();
}
