/**
 * The model behind `tickpipe tail` (and the per-worker part of `tickpipe report`): heartbeat lines
 * and a snapshot of `state/` folded into a view of every worker, with rates over a sliding window
 * and stall detection. Nothing here reads a clock: `now` is always a parameter, so every rule is
 * unit-testable without timers. The accumulator ({@link TailState}) is mutated in place by
 * {@link foldHeartbeat} because a heartbeat file of a week-long run holds millions of lines.
 *
 * Also here: {@link LineSplitter} (bytes → complete lines, keeping a partial tail) and
 * {@link followPlan} (where to read a growing file from next, detecting truncation and rotation),
 * plus {@link FileFollower}, the small I/O piece that uses both.
 *
 * Heartbeat fields are typed in src/progress/heartbeat.ts (one writer, `tickpipe run`; this is one
 * of its readers). Lines of version 2 carry the writer's smoothed rates (EWMA ~30 s, paused time
 * left out), which this view shows as they are, so `tail` and the run view agree; for older lines
 * the rates are computed here over a sliding window.
 *
 * @example
 * ```ts
 * import { emptyTailState, foldHeartbeat, tailView, renderTail } from 'tickpipe/ops';
 * const state = emptyTailState();
 * for (const line of text.split('\n')) foldHeartbeat(state, line);
 * console.log(renderTail(tailView(state, Date.now(), { stallAfterMs: 60_000 })).join('\n'));
 * ```
 */
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { bar, formatDuration, pausedText } from '../progress/format.js';
import { parseHeartbeat as parseHeartbeatLine, readSlotBeat, type Heartbeat as HeartbeatLine } from '../progress/heartbeat.js';
import { InputError } from '../errors.js';
import { CompactIdSet } from '../sinks/id-set.js';
import { FAILED_JOURNAL_RE, lineItems, namesIn, PART_JOURNAL_RE, readCompactLock, readLocks, stageTotals, stateDirs, WORKER_JOURNAL_RE } from '../run-folder/index.js';
import { readRunSpec } from '../run-folder/run-spec.js';
import { detectWorkerName, ingestPartName, REL_PATHS } from '../run-folder/layout.js';

/** Stage of a heartbeat line. */
export type Stage = 'detect' | 'ingest';

/** One point of a worker's cumulative counters. */
export interface Sample {
  /** Heartbeat time, ms since the epoch. */
  readonly t: number;
  readonly done: number;
  readonly failed: number;
  readonly rateLimited: number;
  /** Requests/s the process measured at that time (ingest only). */
  readonly reqPerSec: number | undefined;
}

/** What the heartbeat log says about one worker (detect) or partition (ingest). */
export interface WorkerState {
  readonly stage: Stage;
  /** Worker number (detect) or partition index (ingest). */
  readonly id: number;
  pid: number;
  /** Last symbol (detect) or event ID (ingest). */
  last: string;
  /** Detect: symbols this worker detected in this process; ingest: skipped + processed + failed. */
  done: number;
  /** Ingest: events of the partition; detect: undefined (the heartbeat has process totals only). */
  total: number | undefined;
  failed: number;
  rateLimited: number;
  reqPerSec: number | undefined;
  /** The configured client rate (version 1 lines called it `quota`). */
  rate: number | undefined;
  /**
   * The last line came from a writer that smooths its own rates (version 2): its items/s and ETA
   * are shown as they are, null included. A null there means "no rate yet" (e.g. a resume that
   * skipped every window and downloaded none); computing one here from `done` would count items
   * this process only found already committed as its own throughput.
   */
  writerRates: boolean;
  /** The writer's smoothed items/s and ETA (version 2 lines), used instead of local rates. */
  smoothedItemsPerSec: number | null;
  smoothedEtaSec: number | null;
  paused: boolean;
  pausedSinceMs: number | null;
  throttled: boolean;
  batch: number;
  totalBatches: number;
  firstSeenMs: number;
  lastSeenMs: number;
  /** Cluster mode: the host of this slot's process (lines of `logs/heartbeat.slot-K.ndjson`); else undefined. */
  host: string | undefined;
  /** Cluster mode: the process wrote its last line (it stopped: run done, or Ctrl-C). */
  ended: boolean;
  /** Samples of the last window (plus the newest one older than it, as the base of rates). */
  samples: Sample[];
}

/** Latest process-level progress of one pid in one stage. */
export interface ProcessState {
  readonly pid: number;
  readonly stage: Stage;
  done: number;
  total: number;
  lastSeenMs: number;
}

/** What `state/` says (read by the caller; see {@link readDiskState} in the CLI). */
export interface DiskState {
  /** Lock files: `stage/index` → holder state. */
  readonly locks: ReadonlyArray<{ readonly stage: Stage; readonly index: number; readonly state: 'live' | 'stale' | 'foreign' | 'unreadable'; readonly pid: number | undefined }>;
  /** Distinct symbols committed by stage 1 (the run-folder model's rule: a repeat counts once). */
  readonly symbolsCommitted: number;
  /** Distinct windows committed by stage 2 over all partitions. */
  readonly windowsCommitted: number;
  /** Distinct windows with a failure line that no journal commits. */
  readonly windowsFailed: number;
  /** Symbols of the universe and rows of the manifest (src/run-folder/model.ts `stageTotals`, as `status` reads them); null when unknown. */
  readonly symbolsTotal: number | null;
  readonly windowsTotal: number | null;
  /**
   * Per journal (`worker-K.jsonl`, `part-K.jsonl`): the items it committed first (so they sum to
   * the distinct counts above) and its commit lines (detect: batches).
   */
  readonly journals: ReadonlyArray<{ readonly stage: Stage; readonly index: number; readonly committed: number; readonly lines: number }>;
  /**
   * The holder state of `state/compact/compact.lock`, null without one: while it is there the
   * dataset is not complete even when ingest is (live: compacting; else a compaction was killed).
   */
  readonly compactLock: 'live' | 'stale' | 'foreign' | 'unreadable' | null;
}

/** The accumulator of {@link foldHeartbeat}. */
export interface TailState {
  readonly workers: Map<string, WorkerState>;
  readonly processes: Map<string, ProcessState>;
  /** Heartbeat lines folded, and lines that were not heartbeats (torn, foreign, bad JSON). */
  lines: number;
  badLines: number;
  /** Time of the newest heartbeat, ms (0 before any). */
  lastHeartbeatMs: number;
  disk: DiskState | undefined;
}

/** Options of {@link tailView}. */
export interface TailViewOptions {
  /** A worker silent this long while not finished is reported as stalled. @default 60000 */
  readonly stallAfterMs?: number;
  /** Width of the sliding window of rates. @default 60000 */
  readonly windowMs?: number;
}

/** Status of one worker in a view. */
export type WorkerStatus = 'running' | 'paused' | 'finished' | 'stalled' | 'stopped';

/** One worker row of a view (plain data: this is what `tail --json` prints). */
export interface WorkerView {
  readonly stage: Stage;
  readonly id: number;
  readonly name: string;
  /** Cluster mode: the host this slot runs on (`id` is the slot); null for a one-host run. */
  readonly host: string | null;
  readonly pid: number;
  readonly last: string;
  readonly done: number;
  readonly total: number | null;
  readonly batch: number | null;
  readonly totalBatches: number | null;
  readonly itemsPerSec: number | null;
  readonly reqPerSec: number | null;
  /** The configured client rate, req/s (not the server's quota, which the client cannot know). */
  readonly rate: number | null;
  /** 429s of this process so far. */
  readonly rateLimited: number;
  /** Items this process failed so far. */
  readonly failed: number;
  /** 429s keep coming: the server's limit is below the rate. */
  readonly throttled: boolean;
  /** ISO time the current pause began (status `paused`). */
  readonly pausedSince: string | null;
  readonly rateLimitedLastMin: number | null;
  readonly failedLastMin: number | null;
  readonly etaSec: number | null;
  readonly silentSec: number;
  readonly status: WorkerStatus;
}

/**
 * Progress of one stage, summed over the processes currently owning its workers; or, when none of
 * them is alive any more (`fromJournals`), what the journals committed of the run's total.
 */
export interface StageView {
  readonly done: number;
  /** Null while nobody knows it yet (the manifest pass still counting, no manifest on disk). */
  readonly total: number | null;
  /**
   * Every worker of the stage stopped or stalled: `done`/`total` are the journals' committed
   * items and the run's totals (what `status` shows), not the heartbeats' counts, which include
   * items detected or failed but never committed.
   */
  readonly fromJournals: boolean;
  readonly itemsPerSec: number | null;
  readonly etaSec: number | null;
  readonly finished: boolean;
  /** Every unfinished worker of the stage is paused (the PAUSE flag). */
  readonly paused: boolean;
  /** Cluster mode: how many hosts' slots worked on the stage (its `total` is then what they did, the run's total being in Redis). */
  readonly hosts: number;
}

/** The whole view at one instant. */
export interface TailViewData {
  readonly at: string;
  readonly heartbeatLines: number;
  readonly lastHeartbeatAt: string | null;
  readonly stages: { readonly detect?: StageView; readonly ingest?: StageView };
  readonly workers: readonly WorkerView[];
  readonly stalled: readonly string[];
  readonly disk: DiskState | null;
}

/** A fresh accumulator. */
export function emptyTailState(): TailState {
  return { workers: new Map(), processes: new Map(), lines: 0, badLines: 0, lastHeartbeatMs: 0, disk: undefined };
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * A parsed heartbeat line (see src/progress/heartbeat.ts), with the worker id of its stage; for a
 * cluster process's line (it has a `slot`), the slot as id, its host, and whether it is the last.
 */
export type Heartbeat = HeartbeatLine & { readonly id: number; readonly host?: string; readonly ended?: boolean };

/** Parses one line of a heartbeat file (the one-host one or a cluster slot's). Never throws. */
export function parseHeartbeat(line: string): Heartbeat | undefined {
  const hb = parseHeartbeatLine(line);
  if (!hb) return undefined;
  const plain = { ...hb, id: hb.stage === 'detect' ? hb.worker : hb.partition };
  if (!line.includes('"slot"')) return plain;
  const slot = readSlotBeat(JSON.parse(line) as Record<string, unknown>);
  return slot ? { ...plain, id: slot.slot, host: slot.host, ended: slot.ended } : plain;
}

function prune(samples: Sample[], windowMs: number): void {
  const newest = samples[samples.length - 1];
  if (!newest) return;
  // Keep the newest sample at or before the window start as the base of rates.
  const firstInWindow = samples.findIndex((s) => s.t > newest.t - windowMs);
  if (firstInWindow > 1) samples.splice(0, firstInWindow - 1);
  // Bound memory even when a process beats very often.
  if (samples.length > 10_000) samples.splice(0, samples.length - 10_000);
}

/** A slot's state before its first heartbeat line is folded in. */
function newWorker(hb: Heartbeat): WorkerState {
  return {
    stage: hb.stage,
    id: hb.id,
    pid: hb.pid,
    last: '-',
    done: 0,
    total: undefined,
    failed: 0,
    rateLimited: 0,
    reqPerSec: undefined,
    rate: undefined,
    writerRates: false,
    smoothedItemsPerSec: null,
    smoothedEtaSec: null,
    paused: false,
    pausedSinceMs: null,
    throttled: false,
    batch: 0,
    totalBatches: 0,
    firstSeenMs: hb.t,
    lastSeenMs: hb.t,
    host: hb.host,
    ended: false,
    samples: [],
  };
}

/** The stage's own fields of a heartbeat line (v1 lines have no per-worker counts or rates). */
function applyStageFields(w: WorkerState, hb: Heartbeat): void {
  const v2 = hb.v >= 2;
  w.writerRates = v2;
  if (hb.stage === 'detect') {
    // Version 1 wrote one line per symbol and no per-worker count; version 2 also writes timer lines.
    if (v2) w.done = hb.workerDone;
    else w.done++;
    w.last = hb.symbol !== '-' ? hb.symbol : w.last;
    w.batch = hb.batch || w.batch;
    w.totalBatches = hb.totalBatches || w.totalBatches;
    w.smoothedItemsPerSec = v2 ? hb.workerItemsPerSec : null;
    w.smoothedEtaSec = v2 && hb.workerTotal !== null && hb.workerItemsPerSec ? Math.round(Math.max(0, hb.workerTotal - hb.workerDone) / hb.workerItemsPerSec) : null;
  } else {
    w.last = hb.last !== '-' ? hb.last : w.last;
    w.done = hb.done;
    w.total = hb.total ?? w.total;
    w.failed = hb.failed;
    w.smoothedItemsPerSec = v2 ? hb.itemsPerSec : null;
    w.smoothedEtaSec = v2 ? hb.etaSec : null;
  }
}

/** The process-level totals (one row per pid and stage). */
function foldProcess(state: TailState, hb: Heartbeat, w: WorkerState): void {
  const pkey = `${hb.stage}/${hb.pid}`;
  const p = state.processes.get(pkey) ?? { pid: hb.pid, stage: hb.stage, done: 0, total: 0, lastSeenMs: hb.t };
  if (hb.stage === 'detect') {
    p.done = hb.done;
    p.total = hb.total ?? p.total;
  } else {
    p.done = w.done;
    p.total = w.total ?? p.total;
  }
  p.lastSeenMs = Math.max(p.lastSeenMs, hb.t);
  state.processes.set(pkey, p);
}

/**
 * Folds one heartbeat line into `state` (mutating it) and returns it. A new pid for a worker
 * resets its counters (a restart: counters are per process). Lines that are not heartbeats are
 * counted in `badLines` and otherwise ignored.
 *
 * @param windowMs samples older than this (relative to the worker's newest) are dropped. @default 60000
 */
export function foldHeartbeat(state: TailState, line: string, windowMs = 60_000): TailState {
  const hb = parseHeartbeat(line);
  if (!hb) {
    if (line.trim() !== '') state.badLines++;
    return state;
  }
  state.lines++;
  state.lastHeartbeatMs = Math.max(state.lastHeartbeatMs, hb.t);
  const key = `${hb.stage}/${hb.id}`;
  let w = state.workers.get(key);
  if (!w || w.pid !== hb.pid) {
    w = newWorker(hb);
    state.workers.set(key, w);
  }
  w.lastSeenMs = Math.max(w.lastSeenMs, hb.t);
  w.ended = hb.ended === true;
  applyStageFields(w, hb);
  w.rateLimited = hb.rateLimited;
  w.reqPerSec = hb.reqPerSec ?? w.reqPerSec;
  w.rate = hb.configuredRate || w.rate;
  w.paused = hb.paused;
  w.pausedSinceMs = hb.pausedSince === null ? null : Date.parse(hb.pausedSince);
  w.throttled = hb.throttled;
  const prev = w.samples[w.samples.length - 1];
  // Out-of-order times (a clock step) would make rates negative: keep the counters, skip the sample.
  if (!prev || hb.t >= prev.t) {
    w.samples.push({ t: hb.t, done: w.done, failed: w.failed, rateLimited: w.rateLimited, reqPerSec: hb.stage === 'ingest' ? w.reqPerSec : undefined });
    prune(w.samples, windowMs);
  }
  foldProcess(state, hb, w);
  return state;
}

/** Sets the `state/` snapshot of the view. */
export function withDisk(state: TailState, disk: DiskState | undefined): TailState {
  state.disk = disk;
  return state;
}

interface Rates {
  readonly itemsPerSec: number | null;
  readonly reqPerSec: number | null;
  readonly rateLimited: number | null;
  readonly failed: number | null;
}

/**
 * Rates over the window `(end - windowMs, end]`: items/s and counter deltas from the newest sample
 * at or before the window start (or the first sample, when the worker is younger than the window)
 * to the newest sample; requests/s as the time-weighted mean of the samples in the window.
 */
export function windowRates(samples: readonly Sample[], end: number, windowMs: number): Rates {
  const newest = samples[samples.length - 1];
  if (!newest) return { itemsPerSec: null, reqPerSec: null, rateLimited: null, failed: null };
  const start = end - windowMs;
  let base = samples[0]!;
  for (const s of samples) if (s.t <= start) base = s;
  const span = (end - base.t) / 1000;
  const itemsPerSec = base === newest ? (newest.t <= start ? 0 : null) : span > 0 ? Math.max(0, newest.done - base.done) / span : null;
  let wsum = 0;
  let vsum = 0;
  let prevT = base.t;
  let lastIn: Sample | undefined;
  for (const s of samples) {
    if (s.t <= start || s.reqPerSec === undefined) continue;
    const dt = Math.max(1, s.t - Math.max(prevT, start));
    wsum += dt;
    vsum += dt * s.reqPerSec;
    prevT = s.t;
    lastIn = s;
  }
  const reqPerSec = lastIn ? vsum / wsum : null;
  const inWindow = newest.t > start;
  return {
    itemsPerSec,
    reqPerSec,
    rateLimited: inWindow ? Math.max(0, newest.rateLimited - (base === newest ? 0 : base.rateLimited)) : 0,
    failed: inWindow ? Math.max(0, newest.failed - (base === newest ? 0 : base.failed)) : 0,
  };
}

function lockOf(disk: DiskState | undefined, stage: Stage, id: number) {
  return disk?.locks.find((l) => l.stage === stage && l.index === id);
}

const round1 = (n: number | null): number | null => (n === null ? null : Math.round(n * 10) / 10);

/** The row of one single-host worker (or ingest partition): its status, rates and ETA. */
function localRow(state: TailState, w: WorkerState, now: number, stallAfterMs: number, windowMs: number): WorkerView {
  const disk = state.disk;
  const proc = state.processes.get(`${w.stage}/${w.pid}`);
  const movedOn = w.stage === 'detect' && state.processes.has(`ingest/${w.pid}`);
  const finished =
    w.stage === 'ingest'
      ? w.total !== undefined && w.done >= w.total
      : movedOn || (proc !== undefined && proc.total > 0 && proc.done >= proc.total);
  const lock = lockOf(disk, w.stage, w.id);
  const lockGone = disk !== undefined && (lock === undefined || lock.state === 'stale' || (lock.pid !== undefined && lock.pid !== w.pid && lock.state !== 'foreign'));
  const silentMs = Math.max(0, now - w.lastSeenMs);
  const status: WorkerStatus = finished ? 'finished' : lockGone ? 'stopped' : w.paused ? 'paused' : silentMs > stallAfterMs ? 'stalled' : 'running';
  const name = w.stage === 'detect' ? detectWorkerName(Number(w.id)) : ingestPartName(Number(w.id));
  // A dead worker's own journal is its progress: what it detected or fetched but never committed is lost.
  const dead = disk !== undefined && (status === 'stopped' || status === 'stalled');
  const journal = dead ? disk.journals.find((j) => j.stage === w.stage && j.index === w.id) : undefined;
  const done = dead ? (journal?.committed ?? 0) : w.done;
  // A finished or stopped worker keeps the rates of its last minute of work.
  const end = status === 'running' || status === 'stalled' ? Math.max(now, w.lastSeenMs) : w.lastSeenMs;
  const r = windowRates(w.samples, end, windowMs);
  // The writer's smoothed rate when the line has one (the same figure as the run view).
  const smoothed = w.writerRates;
  const itemsPerSec = smoothed ? w.smoothedItemsPerSec : r.itemsPerSec;
  const remaining = w.total !== undefined ? Math.max(0, w.total - w.done) : undefined;
  const eta =
    finished ? 0
    : status === 'paused' || dead ? null
    : smoothed ? w.smoothedEtaSec
    : remaining !== undefined && itemsPerSec !== null && itemsPerSec > 0 ? Math.round(remaining / itemsPerSec) : null;
  return {
    stage: w.stage,
    id: w.id,
    name,
    host: null,
    pid: w.pid,
    last: w.last,
    done,
    total: w.total ?? null,
    batch: w.stage === 'detect' ? (dead ? (journal?.lines ?? 0) : w.batch) : null,
    totalBatches: w.stage === 'detect' ? w.totalBatches : null,
    itemsPerSec: round1(itemsPerSec),
    reqPerSec: smoothed ? w.reqPerSec ?? null : round1(r.reqPerSec),
    rate: w.rate ?? null,
    rateLimited: w.rateLimited,
    failed: w.failed,
    throttled: w.throttled,
    pausedSince: status === 'paused' && w.pausedSinceMs !== null ? new Date(w.pausedSinceMs).toISOString() : null,
    rateLimitedLastMin: w.stage === 'ingest' ? r.rateLimited : null,
    failedLastMin: w.stage === 'ingest' ? r.failed : null,
    etaSec: eta,
    silentSec: Math.round(silentMs / 1000),
    status,
  };
}

/** One stage's totals over its rows: done and total from the processes, summed rates, an ETA. */
function stageView(state: TailState, stage: Stage, rows: readonly WorkerView[]): StageView | undefined {
  if (rows.length === 0) return undefined;
  const pids = new Set(rows.map((w) => w.pid));
  let done = 0;
  let total = 0;
  for (const pid of pids) {
    const p = state.processes.get(`${stage}/${pid}`);
    if (p) {
      done += p.done;
      total += p.total;
    }
  }
  const finished = rows.every((w) => w.status === 'finished');
  const rates = rows.map((w) => w.itemsPerSec).filter((x): x is number => x !== null);
  const itemsPerSec = rates.length ? round1(rates.reduce((a, b) => a + b, 0)) : null;
  const live = rows.filter((w) => w.status !== 'finished');
  const paused = live.length > 0 && live.every((w) => w.status === 'paused');
  const hosts = new Set(rows.filter((w) => w.host !== null).map((w) => w.id)).size;
  const disk = state.disk;
  // Nobody will commit what a dead process counted in its heartbeats: from then on the stage is
  // what the journals say, by the run-folder model's rule, as `status` counts it. (A cluster stage
  // has its queue in Redis and no total here: it keeps its hosts' counts.)
  if (disk !== undefined && hosts === 0 && rows.every((w) => w.status === 'stopped' || w.status === 'stalled')) {
    const committed = stage === 'detect' ? disk.symbolsCommitted : disk.windowsCommitted;
    const runTotal = stage === 'detect' ? disk.symbolsTotal : disk.windowsTotal;
    return { done: committed, total: runTotal, fromJournals: true, itemsPerSec, etaSec: null, finished: false, paused: false, hosts };
  }
  // A process's total is 0 until it knows it (the manifest pass still counting): unknown, not "all done".
  const known = total > 0 || finished ? total : null;
  const etaSec = finished ? 0 : paused || known === null ? null : itemsPerSec && itemsPerSec > 0 ? Math.round(Math.max(0, known - done) / itemsPerSec) : null;
  return { done, total: known, fromJournals: false, itemsPerSec, etaSec: hosts > 0 && !finished ? null : etaSec, finished, paused, hosts };
}

/**
 * The view of `state` at `now`: one row per worker (newest pid per worker), stage totals summed
 * over the processes that own those workers, and the names of stalled workers.
 *
 * A worker is *finished* when its partition reached its total (ingest), when its process reached
 * its total or went on to ingest (detect); *stopped* when the disk snapshot shows its lock gone or
 * its holder dead; *stalled* when neither and it has been silent for longer than `stallAfterMs`.
 */
export function tailView(state: TailState, now: number, opts?: TailViewOptions): TailViewData {
  const stallAfterMs = opts?.stallAfterMs ?? 60_000;
  const windowMs = opts?.windowMs ?? 60_000;
  if (!Number.isFinite(stallAfterMs) || stallAfterMs <= 0) throw new InputError(`tailView: stallAfterMs must be a number > 0, got ${String(stallAfterMs)} (${typeof stallAfterMs})`);
  if (!Number.isFinite(windowMs) || windowMs <= 0) throw new InputError(`tailView: windowMs must be a number > 0, got ${String(windowMs)} (${typeof windowMs})`);
  const disk = state.disk;
  const workers: WorkerView[] = [];
  const stalled: string[] = [];
  const sorted = [...state.workers.values()].sort((a, b) => (a.stage === b.stage ? a.id - b.id : a.stage === 'detect' ? -1 : 1));
  for (const w of sorted) {
    if (w.host !== undefined) {
      workers.push(clusterRow(w, now, stallAfterMs, windowMs, w.stage === 'detect' && state.workers.get(`ingest/${w.id}`)?.pid === w.pid));
      if (workers[workers.length - 1]!.status === 'stalled') stalled.push(`${w.stage} slot-${w.id} on ${w.host}`);
      continue;
    }
    const row = localRow(state, w, now, stallAfterMs, windowMs);
    if (row.status === 'stalled') stalled.push(`${w.stage} ${row.name}`);
    workers.push(row);
  }
  const stages: { detect?: StageView; ingest?: StageView } = {};
  for (const stage of ['detect', 'ingest'] as const) {
    const view = stageView(state, stage, workers.filter((w) => w.stage === stage));
    if (view) stages[stage] = view;
  }
  return {
    at: new Date(now).toISOString(),
    heartbeatLines: state.lines,
    lastHeartbeatAt: state.lastHeartbeatMs > 0 ? new Date(state.lastHeartbeatMs).toISOString() : null,
    stages,
    workers,
    stalled,
    disk: disk ?? null,
  };
}

/**
 * The row of one cluster slot: its process says how much it did, not how much is left (the run's
 * queue is in Redis), so there is no ETA; it is finished once it wrote its last line (or, for
 * stage 1, went on to stage 2), and stalled (a killed host) when silent longer than `stallAfterMs`.
 */
function clusterRow(w: WorkerState, now: number, stallAfterMs: number, windowMs: number, movedOn: boolean): WorkerView {
  const silentMs = Math.max(0, now - w.lastSeenMs);
  const status: WorkerStatus = w.ended || movedOn ? 'finished' : w.paused ? 'paused' : silentMs > stallAfterMs ? 'stalled' : 'running';
  const r = windowRates(w.samples, status === 'running' || status === 'stalled' ? Math.max(now, w.lastSeenMs) : w.lastSeenMs, windowMs);
  return {
    stage: w.stage,
    id: w.id,
    name: `slot-${w.id}`,
    host: w.host ?? null,
    pid: w.pid,
    last: w.last,
    done: w.done,
    total: null,
    batch: null,
    totalBatches: null,
    itemsPerSec: round1(w.writerRates ? w.smoothedItemsPerSec : r.itemsPerSec),
    reqPerSec: w.reqPerSec ?? null,
    rate: w.rate ?? null,
    rateLimited: w.rateLimited,
    failed: w.failed,
    throttled: w.throttled,
    pausedSince: status === 'paused' && w.pausedSinceMs !== null ? new Date(w.pausedSinceMs).toISOString() : null,
    rateLimitedLastMin: r.rateLimited,
    failedLastMin: r.failed,
    etaSec: null,
    silentSec: Math.round(silentMs / 1000),
    status,
  };
}

/**
 * When the next worker would cross the stall threshold if nothing arrives (ms since the epoch),
 * or undefined: lets a viewer re-render exactly then instead of polling.
 */
export function nextStallAt(state: TailState, now: number, stallAfterMs: number): number | undefined {
  let next: number | undefined;
  for (const w of tailView(state, now, { stallAfterMs }).workers) {
    if (w.status !== 'running') continue;
    const ws = state.workers.get(`${w.stage}/${w.id}`)!;
    const at = ws.lastSeenMs + stallAfterMs + 1;
    if (next === undefined || at < next) next = at;
  }
  return next;
}

const fmt = (n: number | null, digits = 1): string => (n === null ? '-' : n.toFixed(digits));
const eta = (s: number | null, paused = false): string => (paused ? 'paused' : s === null ? '-' : formatDuration(s * 1000));

/** A cluster stage: what each host's slot did, at what rate, its 429s and failures. */
function renderClusterStage(v: TailViewData, stage: Stage, s: StageView, unit: string): string[] {
  const rows = v.workers.filter((x) => x.stage === stage);
  const out = [`${stage.padEnd(6)} ${s.done} ${unit} done by ${s.hosts} host process(es)  ${fmt(s.itemsPerSec)} ${unit}/s${s.finished ? '  finished' : s.paused ? '  PAUSED' : ''}`];
  const now = Date.parse(v.at);
  for (const w of rows) {
    const warn =
      w.status === 'stalled' ? `  STALLED: silent ${formatDuration(w.silentSec * 1000)} (killed? its jobs go to the other hosts)`
      : w.status === 'paused' ? `  ${pausedText(w.pausedSince === null ? null : Date.parse(w.pausedSince), now)}`
      : `  ${w.status}`;
    out.push(
      `  ${w.name} on ${w.host ?? '?'} (pid ${w.pid})  ${w.done} ${unit}  ${fmt(w.itemsPerSec)}/s  req ${fmt(w.reqPerSec)}/s at the shared rate ${w.rate ?? '-'}/s  429s ${w.rateLimited} (${w.rateLimitedLastMin ?? '-'} in 1m)  failed ${w.failed} (${w.failedLastMin ?? '-'} in 1m)  last ${w.last}${warn}`,
    );
  }
  return out;
}

/** After "ingest … finished": a compaction that is running or was killed (its lock is still there). */
function compactionNote(disk: DiskState | null): string {
  const l = disk?.compactLock ?? null;
  if (l === null) return '';
  return l === 'live' || l === 'foreign' ? '; compacting' : '; compaction incomplete (killed, stale state/compact/compact.lock): run tickpipe compact';
}

/** Plain text lines of a view (the TTY block and the `--once` output). */
export function renderTail(v: TailViewData): string[] {
  const out: string[] = [];
  const last = v.lastHeartbeatAt ? `last heartbeat ${v.lastHeartbeatAt}` : 'no heartbeat yet';
  out.push(`tickpipe tail  ${v.at}  ${v.heartbeatLines} heartbeat lines, ${last}`);
  if (v.workers.length === 0) out.push(`  waiting for ${REL_PATHS.heartbeat} …`);
  for (const stage of ['detect', 'ingest'] as const) {
    const s = v.stages[stage];
    if (!s) continue;
    const unit = stage === 'detect' ? 'symbols' : 'windows';
    if (s.hosts > 0) {
      out.push(...renderClusterStage(v, stage, s, unit));
      continue;
    }
    const state = s.finished ? `  finished${stage === 'ingest' ? compactionNote(v.disk) : ''}` : s.paused ? '  PAUSED' : s.fromJournals ? '  stopped: committed in the journals' : '';
    out.push(`${stage.padEnd(6)} ${bar(s.done, s.total)} ${s.done}/${s.total ?? '?'} ${unit}  ${fmt(s.itemsPerSec)} ${unit}/s  ETA ${eta(s.etaSec, s.paused)}${state}`);
    const now = Date.parse(v.at);
    for (const w of v.workers.filter((x) => x.stage === stage)) {
      const progress =
        w.total !== null
          ? `${bar(w.done, w.total, 12)} ${w.done}/${w.total}`
          : `${w.done} ${unit}${w.totalBatches ? `  batch ${Math.min(w.batch ?? 0, w.totalBatches)}/${w.totalBatches}` : ''}`;
      const limited = w.rateLimited > 0 ? `  429s ${w.rateLimited} (${w.rateLimitedLastMin ?? '-'} in 1m)` : '  429s 0';
      const req = stage === 'ingest' ? `  req ${fmt(w.reqPerSec)}/s at --rate ${w.rate ?? '-'}/s${limited}  failed/1m ${w.failedLastMin ?? '-'}` : '';
      const warn =
        w.status === 'stalled' ? `  STALLED: silent ${formatDuration(w.silentSec * 1000)}`
        : w.status === 'paused' ? `  ${pausedText(w.pausedSince === null ? null : Date.parse(w.pausedSince), now)}`
        : `  ${w.status}`;
      out.push(`  ${w.name.padEnd(8)} ${progress}  ${fmt(w.itemsPerSec)}/s${req}  ETA ${eta(w.etaSec, w.status === 'paused')}  last ${w.last}${warn}`);
      if (w.throttled) out.push(`  WARNING: ${w.name}: the server keeps answering 429 (${w.rateLimited} so far): its limit is below --rate ${w.rate ?? '?'}/s; run with --adaptive or a lower --rate`);
    }
  }
  if (v.disk) {
    const live = v.disk.locks.filter((l) => l.state === 'live' || l.state === 'foreign').length;
    const stale = v.disk.locks.filter((l) => l.state === 'stale').length;
    out.push(
      `state  ${v.disk.symbolsCommitted} symbols committed, ${v.disk.windowsCommitted} windows committed, ${v.disk.windowsFailed} failed; ${live} live lock(s)${stale ? `, ${stale} stale` : ''}`,
    );
  }
  if (v.stalled.length) out.push(`WARNING: stalled: ${v.stalled.join(', ')} (silent for longer than the stall threshold)`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Following a growing file.

/** Splits a byte stream into complete lines; a partial last line waits for its newline. */
export class LineSplitter {
  #rest = '';
  #decoder = new TextDecoder('utf-8');

  /** Feeds bytes, returns the lines they completed (without newlines). */
  push(chunk: Uint8Array): string[] {
    const text = this.#rest + this.#decoder.decode(chunk, { stream: true });
    const parts = text.split('\n');
    this.#rest = parts.pop()!;
    return parts;
  }

  /** Forgets a pending partial line (after truncation/rotation). */
  reset(): void {
    this.#rest = '';
    this.#decoder = new TextDecoder('utf-8');
  }

  /** Bytes of a partial line waiting for its newline, as text. */
  get pending(): string {
    return this.#rest;
  }
}

/** Where a follower stands in a file. */
export interface FollowPosition {
  readonly offset: number;
  readonly ino: number | undefined;
}

/**
 * Where to read next, given the last position and the file's current size and inode: from the
 * offset normally, from 0 (`reset`) when the file shrank (truncation) or is another file
 * (rotation: inode changed), nothing when it did not grow.
 */
export function followPlan(pos: FollowPosition, now: { readonly size: number; readonly ino: number }): { readonly from: number; readonly reset: boolean; readonly read: boolean } {
  const rotated = pos.ino !== undefined && pos.ino !== now.ino;
  if (rotated || now.size < pos.offset) return { from: 0, reset: true, read: now.size > 0 };
  return { from: pos.offset, reset: false, read: now.size > pos.offset };
}

/**
 * Reads what was appended to a file since the last call, line by line, in bounded chunks (a big
 * file is streamed, never loaded whole). A missing file is "nothing yet". Not re-entrant: callers
 * serialize calls to {@link FileFollower.poll} (the CLI chains them on one promise).
 */
export class FileFollower {
  readonly path: string;
  #pos: FollowPosition = { offset: 0, ino: undefined };
  readonly #split = new LineSplitter();
  readonly #chunk: number;
  /** How many times the file was found truncated or replaced. */
  resets = 0;

  constructor(path: string, opts?: { readonly chunkBytes?: number }) {
    this.path = path;
    this.#chunk = opts?.chunkBytes ?? 1 << 20;
    if (!Number.isInteger(this.#chunk) || this.#chunk < 1) throw new InputError(`FileFollower: chunkBytes must be a whole number >= 1, got ${String(opts?.chunkBytes)} (${typeof opts?.chunkBytes})`);
  }

  get offset(): number {
    return this.#pos.offset;
  }

  /** Calls `onLine` for every complete line appended since the last call; `onReset` on truncation/rotation. */
  async poll(onLine: (line: string) => void, onReset?: () => void): Promise<number> {
    let st;
    try {
      st = await stat(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        if (this.#pos.ino !== undefined) {
          this.#pos = { offset: 0, ino: undefined };
          this.#split.reset();
        }
        return 0;
      }
      throw err;
    }
    const plan = followPlan(this.#pos, { size: st.size, ino: st.ino });
    if (plan.reset) {
      this.resets++;
      this.#split.reset();
      onReset?.();
    }
    this.#pos = { offset: plan.from, ino: st.ino };
    if (!plan.read) return 0;
    let n = 0;
    const fh = await open(this.path, 'r');
    try {
      const buf = Buffer.alloc(this.#chunk);
      let offset = plan.from;
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        if (bytesRead === 0) break;
        offset += bytesRead;
        for (const line of this.#split.push(buf.subarray(0, bytesRead))) {
          n++;
          onLine(line);
        }
      }
      this.#pos = { offset, ino: st.ino };
    } finally {
      await fh.close();
    }
    return n;
  }
}

/**
 * Keeps a {@link DiskState} of a run folder up to date by following its journals incrementally
 * (each `refresh()` reads only what was appended) and re-reading the lock files.
 */
export class StateReader {
  readonly dir: string;
  readonly #followers = new Map<string, Followed>();
  #items = emptyItems();

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Reads what changed under `state/` and returns the new snapshot. Serialize calls. */
  async refresh(): Promise<DiskState> {
    const files = await this.#journalFiles();
    const gone = [...this.#followers.keys()].some((p) => !files.some((f) => f.path === p));
    if (gone || (await this.#poll(files))) {
      // A journal vanished, was truncated or replaced (reconcile, a torn tail cut): a line read
      // before may be gone, so the distinct items are counted again from every journal's start.
      this.#followers.clear();
      this.#items = emptyItems();
      await this.#poll(files);
    }
    const locks = (await readLocks(this.dir)).map((l) => ({ stage: l.stage, index: l.index, state: l.state, pid: l.info?.pid }));
    const compactLock = (await readCompactLock(this.dir))?.state ?? null;
    let windowsFailed = 0;
    for (const event of this.#items.failed) if (!this.#items.ingest.has(event)) windowsFailed++;
    // run.json is re-read: a later stage extends it (detect writes the universe).
    const totals = await stageTotals(this.dir, await readRunSpec(this.dir));
    return {
      locks,
      symbolsCommitted: this.#items.detect.size,
      windowsCommitted: this.#items.ingest.size,
      windowsFailed,
      symbolsTotal: totals.symbols,
      windowsTotal: totals.manifest?.events ?? null,
      journals: [...this.#followers.values()]
        .filter((e) => e.kind !== 'failed')
        .map((e) => ({ stage: e.kind === 'detect' ? ('detect' as const) : ('ingest' as const), index: e.index, committed: e.committed, lines: e.lines }))
        .sort((a, b) => (a.stage === b.stage ? a.index - b.index : a.stage === 'detect' ? -1 : 1)),
      compactLock,
    };
  }

  async #journalFiles(): Promise<JournalRef[]> {
    const s = stateDirs(this.dir);
    const [dn, inames] = await Promise.all([namesIn(s.detect), namesIn(s.ingest)]);
    const refs = (dir: string, names: readonly string[], re: RegExp, kind: JournalKind): JournalRef[] =>
      names.flatMap((n) => {
        const m = re.exec(n);
        return m ? [{ path: join(dir, n), kind, index: Number(m[1]) }] : [];
      });
    return [...refs(s.detect, dn, WORKER_JOURNAL_RE, 'detect'), ...refs(s.ingest, inames, PART_JOURNAL_RE, 'ingest'), ...refs(s.ingest, inames, FAILED_JOURNAL_RE, 'failed')];
  }

  /** Folds what each journal gained since the last poll; true when one was truncated or replaced. */
  async #poll(files: readonly JournalRef[]): Promise<boolean> {
    let reset = false;
    for (const { path, kind, index } of files) {
      let e = this.#followers.get(path);
      if (!e) this.#followers.set(path, (e = { f: new FileFollower(path), kind, index, committed: 0, lines: 0 }));
      const followed = e;
      const items = this.#items[kind];
      await e.f.poll(
        (line) => {
          const named = lineItems(kind, line);
          if (named.length > 0) followed.lines++;
          for (const item of named) {
            if (items.has(item)) continue;
            items.add(item);
            followed.committed++;
          }
        },
        () => (reset = true),
      );
    }
    return reset;
  }
}

type JournalKind = 'detect' | 'ingest' | 'failed';
interface JournalRef {
  readonly path: string;
  readonly kind: JournalKind;
  /** Worker (detect) or partition (ingest, failed) of the journal's name. */
  readonly index: number;
}
/** A followed journal, with the items it committed first and its commit lines so far. */
interface Followed {
  readonly f: FileFollower;
  readonly kind: JournalKind;
  readonly index: number;
  committed: number;
  lines: number;
}

/**
 * Distinct items per journal kind: the run-folder model's count (a repeated line counts once).
 * Window IDs go to a compact set (src/sinks/id-set.ts: smaller than a Set of strings on a 600k-window run).
 */
function emptyItems(): { detect: Set<string>; ingest: CompactIdSet; failed: Set<string> } {
  return { detect: new Set(), ingest: new CompactIdSet(), failed: new Set() };
}
