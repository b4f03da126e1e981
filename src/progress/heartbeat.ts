/**
 * The heartbeat line (one per line of a run folder's heartbeat files): its one type, its one writer-side constructor
 * ({@link toHeartbeat}, from a {@link ProgressState}) and its one parser ({@link parseHeartbeat}),
 * used by `tail`, `report` and `status`. pino adds `level`, `time` and `pid` to every line.
 *
 * Lines of older versions (no `v`) are still read: their `quota` field was the client's own rate,
 * so it is read as `rate`, and they carry no smoothed rates, pause or 429 fields.
 */
import { activeMs, partFigures, progressFigures, type ProgressStage, type ProgressState } from './model.js';

/** Version of the heartbeat fields written by this code. */
export const HEARTBEAT_VERSION = 2;

/** Fields common to both stages. `null` means unknown. */
export interface HeartbeatCommon {
  readonly v: number;
  readonly stage: ProgressStage;
  /** `item`: written when an item finished; `tick`: written on a timer (alive, paused, rates). */
  readonly beat: 'item' | 'tick';
  /** This process's stage progress: done (resumed + finished here) of total; total null while counting. */
  readonly done: number;
  readonly total: number | null;
  readonly failed: number;
  /** Smoothed (EWMA ~30 s, paused time left out) items/s of this process's stage. */
  readonly itemsPerSec: number | null;
  /** Seconds left at that rate; null when paused or unknown. */
  readonly etaSec: number | null;
  /** Smoothed successful requests/s. */
  readonly reqPerSec: number | null;
  /** The configured client rate (--rate), and the rate it is at now (lower under --adaptive). */
  readonly configuredRate: number;
  readonly rate: number;
  /** 429 answers so far, and their smoothed rate per second. */
  readonly rateLimited: number;
  readonly rateLimitedPerSec: number | null;
  /** 429s keep coming: the server's limit is below the configured rate. */
  readonly throttled: boolean;
  readonly requests: number;
  readonly paused: boolean;
  /** ISO time the current pause began. */
  readonly pausedSince: string | null;
  /** Paused time so far, ms. */
  readonly pausedMs: number;
  /** Time not paused since the stage started, ms. */
  readonly activeMs: number;
  /** The server asked to wait until then (ISO), or null. */
  readonly serverPausedUntil: string | null;
  readonly rssMB: number;
}

/** A stage-1 line: one worker of the process. */
export interface DetectHeartbeat extends HeartbeatCommon {
  readonly stage: 'detect';
  readonly worker: number;
  readonly symbol: string;
  readonly workerDone: number;
  readonly workerTotal: number | null;
  readonly workerItemsPerSec: number | null;
  readonly batch: number;
  readonly totalBatches: number;
  readonly bars?: number;
  readonly events?: number;
}

/** A stage-2 line: the partition of the process. */
export interface IngestHeartbeat extends HeartbeatCommon {
  readonly stage: 'ingest';
  readonly partition: number;
  readonly last: string;
  readonly processed: number;
  readonly skipped: number;
  readonly trades: number;
  readonly quotes: number;
  readonly mbWritten: number;
  readonly latencyP50Ms: number | null;
  readonly latencyP95Ms: number | null;
}

export type HeartbeatFields = DetectHeartbeat | IngestHeartbeat;

/** A parsed line: the fields plus what pino added. Fields a line lacks are filled in as unknown. */
export type Heartbeat = HeartbeatFields & { readonly t: number; readonly pid: number };

const round1 = (n: number | null): number | null => (n === null ? null : Math.round(n * 10) / 10);
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The common fields of a heartbeat from a progress state. */
export function heartbeatCommon(s: ProgressState, beat: 'item' | 'tick', rssMB: number): HeartbeatCommon {
  const f = progressFigures(s);
  return {
    v: HEARTBEAT_VERSION,
    stage: s.stage,
    beat,
    done: f.done,
    total: f.total,
    failed: s.failed,
    itemsPerSec: round1(f.itemsPerSec),
    etaSec: f.etaSec,
    reqPerSec: round1(f.okPerSec),
    configuredRate: round1(s.configuredRate) ?? 0,
    rate: round1(s.rate) ?? 0,
    rateLimited: s.rateLimited,
    rateLimitedPerSec: f.rateLimitedPerSec === null ? null : Math.round(f.rateLimitedPerSec * 100) / 100,
    throttled: f.throttled,
    requests: s.requests,
    paused: f.paused,
    pausedSince: iso(f.pausedSince),
    pausedMs: Math.round(f.pausedMs),
    activeMs: Math.round(activeMs(s)),
    serverPausedUntil: iso(s.serverPausedUntil),
    rssMB,
  };
}

/** A stage-1 heartbeat for worker `worker` (its part key is the worker number). */
export function detectHeartbeat(
  s: ProgressState,
  worker: number,
  extra: { readonly beat: 'item' | 'tick'; readonly rssMB: number; readonly batch: number; readonly totalBatches: number; readonly bars?: number; readonly events?: number },
): DetectHeartbeat {
  const p = s.parts[String(worker)];
  return {
    ...heartbeatCommon(s, extra.beat, extra.rssMB),
    stage: 'detect',
    worker,
    symbol: p?.last ?? '-',
    workerDone: p?.done ?? 0,
    workerTotal: p?.total ?? null,
    workerItemsPerSec: p ? round1(partFigures(p).itemsPerSec) : null,
    batch: extra.batch,
    totalBatches: extra.totalBatches,
    ...(extra.bars !== undefined ? { bars: extra.bars } : {}),
    ...(extra.events !== undefined ? { events: extra.events } : {}),
  };
}

/** A stage-2 heartbeat for partition `partition`. */
export function ingestHeartbeat(
  s: ProgressState,
  partition: number,
  extra: { readonly beat: 'item' | 'tick'; readonly rssMB: number; readonly trades: number; readonly quotes: number; readonly bytes: number; readonly latencyP50Ms: number | null; readonly latencyP95Ms: number | null },
): IngestHeartbeat {
  return {
    ...heartbeatCommon(s, extra.beat, extra.rssMB),
    stage: 'ingest',
    partition,
    last: s.last,
    processed: s.processed - s.failed,
    skipped: s.skipped,
    trades: extra.trades,
    quotes: extra.quotes,
    mbWritten: Math.round((extra.bytes / 1_048_576) * 100) / 100,
    latencyP50Ms: extra.latencyP50Ms,
    latencyP95Ms: extra.latencyP95Ms,
  };
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const numOrNull = (v: unknown): number | null => num(v) ?? null;
const str = (v: unknown, d: string): string => (typeof v === 'string' ? v : d);
const isoOrNull = (v: unknown): string | null => (typeof v === 'string' && Number.isFinite(Date.parse(v)) ? v : null);

/**
 * Parses one line of a heartbeat file (any version). Never throws: blank, torn or foreign
 * lines give undefined.
 */
export function parseHeartbeat(line: string): Heartbeat | undefined {
  if (line.trim() === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const r = v as Record<string, unknown>;
  const t = typeof r.time === 'string' ? Date.parse(r.time) : num(r.time);
  if (t === undefined || !Number.isFinite(t)) return undefined;
  const pid = num(r.pid) ?? 0;
  const version = num(r.v) ?? 1;
  const failed = num(r.failed) ?? 0;
  const common = {
    v: version,
    beat: r.beat === 'tick' ? ('tick' as const) : ('item' as const),
    failed,
    itemsPerSec: numOrNull(r.itemsPerSec),
    etaSec: numOrNull(r.etaSec),
    reqPerSec: numOrNull(r.reqPerSec),
    // Version 1 called the client's own rate "quota".
    configuredRate: num(r.configuredRate) ?? num(r.quota) ?? num(r.rate) ?? 0,
    rate: num(r.rate) ?? num(r.quota) ?? 0,
    rateLimited: num(r.rateLimited) ?? 0,
    rateLimitedPerSec: numOrNull(r.rateLimitedPerSec),
    throttled: r.throttled === true,
    requests: num(r.requests) ?? 0,
    paused: r.paused === true,
    pausedSince: isoOrNull(r.pausedSince),
    pausedMs: num(r.pausedMs) ?? 0,
    activeMs: num(r.activeMs) ?? 0,
    serverPausedUntil: isoOrNull(r.serverPausedUntil),
    rssMB: num(r.rssMB) ?? 0,
    t,
    pid,
  };
  if (r.stage === 'detect' && num(r.worker) !== undefined) {
    return {
      ...common,
      stage: 'detect',
      worker: r.worker as number,
      symbol: str(r.symbol, '-'),
      done: num(r.done) ?? 0,
      total: r.total === null ? null : (num(r.total) ?? null),
      workerDone: num(r.workerDone) ?? 0,
      workerTotal: numOrNull(r.workerTotal),
      workerItemsPerSec: numOrNull(r.workerItemsPerSec),
      batch: num(r.batch) ?? 0,
      totalBatches: num(r.totalBatches) ?? 0,
      ...(num(r.bars) !== undefined ? { bars: r.bars as number } : {}),
      ...(num(r.events) !== undefined ? { events: r.events as number } : {}),
    };
  }
  if (r.stage === 'ingest' && num(r.partition) !== undefined) {
    const skipped = num(r.skipped) ?? 0;
    const processed = num(r.processed) ?? 0;
    return {
      ...common,
      stage: 'ingest',
      partition: r.partition as number,
      last: str(r.last, '-'),
      // Version 1 had no `done`: it was skipped + processed + failed.
      done: num(r.done) ?? skipped + processed + failed,
      total: r.total === null ? null : (num(r.total) ?? null),
      processed,
      skipped,
      trades: num(r.trades) ?? 0,
      quotes: num(r.quotes) ?? 0,
      mbWritten: num(r.mbWritten) ?? 0,
      latencyP50Ms: numOrNull(r.latencyP50Ms),
      latencyP95Ms: numOrNull(r.latencyP95Ms),
    };
  }
  return undefined;
}

/**
 * The fields a cluster worker process writes into each of its heartbeat lines
 * (`logs/heartbeat.slot-K.ndjson`), beside the stage fields: written by the worker's
 * `SlotHeartbeat`, read by `tail`, `status`/`report` (hosts view) and the cluster run's summary,
 * all through {@link readSlotBeat}.
 */
export interface SlotBeatFields {
  readonly host: string;
  readonly slot: number;
  /** Only on the process's last line: it finished (tail shows it done, not stalled). */
  readonly ended?: true;
  readonly requests: number;
  /** 2xx answers. */
  readonly ok: number;
  readonly rateLimited: number;
  readonly reqPerSec: number;
  readonly rate: number;
  readonly quota: number;
  /** Re-delivered jobs this process found already committed (another process had done them). */
  readonly skippedCommitted: number;
  readonly rssMB: number;
}

/** A cluster slot's heartbeat line as its readers see it (missing numbers read as 0). */
export interface SlotBeat {
  readonly host: string;
  readonly slot: number;
  readonly pid: number | null;
  readonly ended: boolean;
  readonly stage: string;
  /** The line's ISO time as written, and as ms (undefined when it does not parse). */
  readonly time: string;
  readonly timeMs: number | undefined;
  readonly requests: number;
  readonly ok: number;
  readonly rateLimited: number;
  readonly reqPerSec: number;
  readonly skippedCommitted: number;
  /** Stage 1: symbols done (failed included) and failed; stage 2: windows processed and failed. */
  readonly done: number;
  readonly processed: number;
  readonly failed: number;
}

/** The cluster fields of a parsed heartbeat line, or undefined for a one-host line (no numeric `slot`). */
export function readSlotBeat(r: Readonly<Record<string, unknown>>): SlotBeat | undefined {
  if (typeof r.slot !== 'number') return undefined;
  const time = typeof r.time === 'string' ? r.time : '';
  const t = Date.parse(time);
  return {
    host: typeof r.host === 'string' ? r.host : '?',
    slot: r.slot,
    pid: num(r.pid) ?? null,
    ended: r.ended === true,
    stage: typeof r.stage === 'string' ? r.stage : '?',
    time,
    timeMs: Number.isFinite(t) ? t : undefined,
    requests: num(r.requests) ?? 0,
    ok: num(r.ok) ?? 0,
    rateLimited: num(r.rateLimited) ?? 0,
    reqPerSec: num(r.reqPerSec) ?? 0,
    skippedCommitted: num(r.skippedCommitted) ?? 0,
    done: num(r.done) ?? 0,
    processed: num(r.processed) ?? 0,
    failed: num(r.failed) ?? 0,
  };
}
