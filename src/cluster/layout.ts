/**
 * The Redis keys and BullMQ queue names of a cluster run. The run-folder files cluster mode adds
 * (slot journals, slot log files, `cluster.json`) are named in src/run-folder/layout.ts and
 * re-exported here.
 *
 * Each worker process of a cluster run takes a *slot* K (from a Redis counter, confirmed by taking
 * K's lock files) and writes only its own files, named like the ones a one-host worker K writes, so
 * every existing reader (status, verify, tail, report, the resume skip sets) reads them unchanged.
 * K starts at {@link SLOT_BASE}, far above any `--workers` count, so a one-host resume of the same
 * folder never shares a journal with a cluster process.
 */
export { clusterFilePath, HEARTBEAT_FILE_RE, SLOT_BASE, slotLogNames } from '../run-folder/layout.js';

/** Contents of `cluster.json` ({@link clusterFilePath}). No secrets: the Redis URL's password is never written. */
export interface ClusterFile {
  readonly version: 1;
  /** Random id of this folder's queues; kept across restarts of the run so jobs de-duplicate. */
  readonly runId: string;
}

/** Phases of a cluster run, kept in Redis. */
export type ClusterPhase = 'detect' | 'ingest' | 'done';

/** Redis key names and queue names of one run (all under one prefix, so runs never collide). */
export interface ClusterKeys {
  /** BullMQ key prefix. */
  readonly prefix: string;
  readonly detectQueue: string;
  readonly ingestQueue: string;
  /** String: the current {@link ClusterPhase}. */
  readonly phase: string;
  /** JSON of the run's work settings (dates, detectors, window…), written by the coordinator. */
  readonly meta: string;
  /** "1" once every job of the stage is enqueued. */
  readonly enqueued: (stage: 'detect' | 'ingest') => string;
  /** Short-lived lock of the process moving the run from one phase to the next. */
  readonly transition: string;
  /** Counter handing out worker slots. */
  readonly slots: string;
  /** Hash of the shared token bucket. */
  readonly bucket: string;
  /** Short-lived claim of the process about to journal an item (see the worker's commit). */
  readonly claim: (item: string) => string;
  /** SCAN patterns that together match every key of the run: its own and its BullMQ queues'. */
  readonly patterns: readonly string[];
}

/** The keys of run `runId`; `namespace` (default `tickpipe`) lets tests and teams share one Redis. */
export function clusterKeys(runId: string, namespace = 'tickpipe'): ClusterKeys {
  const base = `${namespace}:${runId}`;
  const prefix = `${namespace}-bull`;
  return {
    prefix,
    detectQueue: `${runId}-detect`,
    ingestQueue: `${runId}-ingest`,
    phase: `${base}:phase`,
    meta: `${base}:meta`,
    enqueued: (stage) => `${base}:enqueued:${stage}`,
    transition: `${base}:transition`,
    slots: `${base}:slots`,
    bucket: `${base}:bucket`,
    claim: (item) => `${base}:claim:${item}`,
    patterns: [`${base}:*`, `${prefix}:${runId}-*`],
  };
}

/** Job ids are the item's own identity, so enqueuing twice is a no-op. BullMQ forbids ':' in custom ids. */
export function detectJobId(symbol: string): string {
  return `sym=${symbol}`;
}

export function ingestJobId(eventId: string): string {
  return `ev=${eventId}`;
}
