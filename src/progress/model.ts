/**
 * The live progress of one stage of `tickpipe run`, as a pure fold over events: the run view and
 * the heartbeat lines are both drawn from the same {@link ProgressState}, built with RxJS `scan`
 * ({@link progressScan}). Time never comes from a clock in here: every event carries its `at`.
 *
 * Extending it (a field another feature adds to the view and the heartbeat): add an event kind
 * (or a field of `tick`), fold it in {@link reduceProgress}, expose it in {@link progressFigures},
 * and write it in `toHeartbeat` (src/progress/heartbeat.ts); readers get it from
 * `parseHeartbeat`. `total: null` (still counting), `serverPausedUntil` and `parts` (per worker,
 * partition or host) are such fields already.
 *
 * @example
 * ```ts
 * import { scan } from 'rxjs';
 * events$.pipe(progressScan(initialProgress({ stage: 'ingest', at: Date.now(), total: 1000, done: 0 })))
 *   .subscribe((s) => draw(progressFigures(s)));
 * ```
 */
import { scan, type OperatorFunction } from 'rxjs';
import { etaSeconds, rateValue, startRate, stepRate, type SmoothedRate } from './rate.js';

export type ProgressStage = 'detect' | 'ingest';

/** What happened, with when (ms since the epoch). */
export type ProgressEvent =
  /** The stage knows its work: restarts the counters (keeping a pause that began before it). */
  | ({ readonly kind: 'start' } & Omit<ProgressStart, 'stage' | 'configuredRate'>)
  /** One item (symbol or window) finished in `part`; `ok: false` is a permanent failure. */
  | { readonly kind: 'item'; readonly at: number; readonly part: string; readonly ok: boolean; readonly last: string }
  /** Items committed (journaled) in `part`, e.g. a stage-1 shard of symbols. */
  | { readonly kind: 'commit'; readonly at: number; readonly part: string; readonly count: number }
  /** Counters of the HTTP client and the rate it is set to; also what moves the smoothed rates on. */
  | { readonly kind: 'tick'; readonly at: number; readonly requests: number; readonly ok: number; readonly rateLimited: number; readonly rate: number }
  /** The PAUSE flag appeared (true) or went away (false). */
  | { readonly kind: 'pause'; readonly at: number; readonly paused: boolean }
  /** The server asked to wait until `until` (a 429 with Retry-After), or null when that is over. */
  | { readonly kind: 'server-pause'; readonly at: number; readonly until: number | null }
  /**
   * The total became known (or changed); null while it is still being counted. `done`, when given,
   * is what was already done before this process started (known once a manifest pass is through).
   */
  | { readonly kind: 'total'; readonly at: number; readonly total: number | null; readonly part?: string; readonly done?: number };

/** Progress of one worker, partition or host. */
export interface PartProgress {
  readonly done: number;
  readonly total: number | null;
  readonly failed: number;
  readonly committed: number;
  readonly last: string;
  readonly rate: SmoothedRate;
}

/** The accumulated progress of one stage in this process. */
export interface ProgressState {
  readonly stage: ProgressStage;
  readonly startedAt: number;
  /** Time of the newest event. */
  readonly now: number;
  /** Items of the stage owned by this process, null while counting. */
  readonly total: number | null;
  /** Items done before this process started (resumed). */
  readonly skipped: number;
  /** Items finished by this process (ok + failed). */
  readonly processed: number;
  readonly failed: number;
  /** Items journaled by this process (stage 1 commits symbols in shards, later than it detects them). */
  readonly committed: number;
  readonly last: string;
  readonly paused: boolean;
  readonly pausedSince: number | null;
  /**
   * While paused, since when no request has gone out: the paused time counted so far starts here.
   * PAUSE stops new items; the windows in flight still fetch their remaining pages, and that time
   * is active (the requests are in every rate), so this moves up with every tick that saw requests.
   */
  readonly idleSince: number | null;
  /** Paused time of pauses that ended, ms (from each pause's idleSince to its end). */
  readonly pausedMs: number;
  readonly serverPausedUntil: number | null;
  readonly requests: number;
  readonly ok: number;
  readonly rateLimited: number;
  /** The rate the client is set to now (lowered by --adaptive), req/s. */
  readonly rate: number;
  /** The rate the user configured (--rate, or its default), req/s. */
  readonly configuredRate: number;
  readonly items: SmoothedRate;
  readonly okRequests: SmoothedRate;
  readonly rateLimitedRate: SmoothedRate;
  readonly parts: Readonly<Record<string, PartProgress>>;
}

/** Where a stage starts. */
export interface ProgressStart {
  readonly stage: ProgressStage;
  readonly at: number;
  readonly total: number | null;
  /** Items already done when the stage started. */
  readonly done: number;
  readonly configuredRate?: number;
  /** Initial per-part totals and done counts. */
  readonly parts?: Readonly<Record<string, { readonly total: number | null; readonly done: number }>>;
}

export function initialProgress(s: ProgressStart): ProgressState {
  const parts: Record<string, PartProgress> = {};
  for (const [k, p] of Object.entries(s.parts ?? {})) parts[k] = { done: p.done, total: p.total, failed: 0, committed: 0, last: '-', rate: startRate(0, p.done) };
  return {
    stage: s.stage,
    startedAt: s.at,
    now: s.at,
    total: s.total,
    skipped: s.done,
    processed: 0,
    failed: 0,
    committed: 0,
    last: '-',
    paused: false,
    pausedSince: null,
    idleSince: null,
    pausedMs: 0,
    serverPausedUntil: null,
    requests: 0,
    ok: 0,
    rateLimited: 0,
    rate: s.configuredRate ?? 0,
    configuredRate: s.configuredRate ?? 0,
    items: startRate(0, 0),
    okRequests: startRate(0, 0),
    rateLimitedRate: startRate(0, 0),
    parts,
  };
}

/** Time the stage was not paused (or paused with requests still going out), from its start to `at`, ms. */
export function activeMs(s: ProgressState, at: number = s.now): number {
  const open = s.paused && s.idleSince !== null ? Math.max(0, at - s.idleSince) : 0;
  return Math.max(0, at - s.startedAt - s.pausedMs - open);
}

function part(s: ProgressState, key: string): PartProgress {
  return s.parts[key] ?? { done: 0, total: null, failed: 0, committed: 0, last: '-', rate: startRate(activeMs(s), 0) };
}

/** Folds one event into the state (pure). */
export function reduceProgress(s: ProgressState, e: ProgressEvent): ProgressState {
  const now = Math.max(s.now, e.at);
  switch (e.kind) {
    case 'start': {
      const fresh = initialProgress({ ...e, stage: s.stage, configuredRate: s.configuredRate });
      return s.paused ? { ...fresh, now, paused: true, pausedSince: Math.max(e.at, s.pausedSince ?? e.at), idleSince: Math.max(e.at, s.idleSince ?? e.at) } : { ...fresh, now };
    }
    case 'item': {
      const p = part(s, e.part);
      const np: PartProgress = { ...p, done: p.done + 1, failed: p.failed + (e.ok ? 0 : 1), last: e.last };
      return { ...s, now, processed: s.processed + 1, failed: s.failed + (e.ok ? 0 : 1), last: e.last, parts: { ...s.parts, [e.part]: np } };
    }
    case 'commit': {
      const p = part(s, e.part);
      return { ...s, now, committed: s.committed + e.count, parts: { ...s.parts, [e.part]: { ...p, committed: p.committed + e.count } } };
    }
    case 'tick': {
      if (s.paused && e.requests === s.requests) return { ...s, now, requests: e.requests, ok: e.ok, rateLimited: e.rateLimited, rate: e.rate };
      // Paused, but the windows in flight sent requests since the last tick: not idle yet.
      const active = s.paused ? { ...s, idleSince: now } : s;
      const t = activeMs(active, now);
      const parts: Record<string, PartProgress> = {};
      for (const [k, p] of Object.entries(s.parts)) parts[k] = { ...p, rate: stepRate(p.rate, t, p.done) };
      return {
        ...active,
        now,
        requests: e.requests,
        ok: e.ok,
        rateLimited: e.rateLimited,
        rate: e.rate,
        items: stepRate(s.items, t, s.processed),
        okRequests: stepRate(s.okRequests, t, e.ok),
        rateLimitedRate: stepRate(s.rateLimitedRate, t, e.rateLimited),
        parts,
      };
    }
    case 'pause': {
      if (e.paused === s.paused) return { ...s, now };
      if (e.paused) return { ...s, now, paused: true, pausedSince: e.at, idleSince: e.at };
      const closed = s.idleSince === null ? 0 : Math.max(0, e.at - s.idleSince);
      return { ...s, now, paused: false, pausedSince: null, idleSince: null, pausedMs: s.pausedMs + closed };
    }
    case 'server-pause':
      return { ...s, now, serverPausedUntil: e.until };
    case 'total': {
      if (e.part === undefined) return { ...s, now, total: e.total, ...(e.done !== undefined ? { skipped: e.done } : {}) };
      const p = part(s, e.part);
      // A part's done counts its items finished here too: the ones done before are added once.
      const done = e.done !== undefined ? p.done + e.done : p.done;
      return { ...s, now, parts: { ...s.parts, [e.part]: { ...p, total: e.total, done } } };
    }
  }
}

/** `scan` over progress events: the live progress of a stage. */
export function progressScan(start: ProgressState): OperatorFunction<ProgressEvent, ProgressState> {
  return scan(reduceProgress, start);
}

/** 429s per second (smoothed) from which the run says the server's limit is below the rate. */
export const THROTTLED_429_PER_SEC = 0.2;

/** The numbers every view shows, derived from a state the same way everywhere. */
export interface ProgressFigures {
  readonly done: number;
  readonly total: number | null;
  readonly remaining: number | null;
  readonly itemsPerSec: number | null;
  readonly okPerSec: number | null;
  readonly rateLimitedPerSec: number | null;
  readonly etaSec: number | null;
  readonly paused: boolean;
  readonly pausedSince: number | null;
  /** Paused time so far (ended pauses and the current one, idle parts only: see ProgressState.idleSince), ms. */
  readonly pausedMs: number;
  /** 429s keep coming: the server's limit is below the configured rate. */
  readonly throttled: boolean;
}

export function progressFigures(s: ProgressState): ProgressFigures {
  const done = s.skipped + s.processed;
  const remaining = s.total === null ? null : Math.max(0, s.total - done);
  const itemsPerSec = rateValue(s.items);
  const rateLimitedPerSec = rateValue(s.rateLimitedRate);
  return {
    done,
    total: s.total,
    remaining,
    itemsPerSec,
    okPerSec: rateValue(s.okRequests),
    rateLimitedPerSec,
    etaSec: s.paused ? null : etaSeconds(remaining, itemsPerSec),
    paused: s.paused,
    pausedSince: s.pausedSince,
    pausedMs: s.pausedMs + (s.paused && s.idleSince !== null ? Math.max(0, s.now - s.idleSince) : 0),
    throttled: s.rateLimited >= 10 && rateLimitedPerSec !== null && rateLimitedPerSec >= THROTTLED_429_PER_SEC,
  };
}

/** Figures of one part (worker, partition, host). */
export function partFigures(p: PartProgress): { readonly itemsPerSec: number | null; readonly etaSec: number | null } {
  const itemsPerSec = rateValue(p.rate);
  return { itemsPerSec, etaSec: etaSeconds(p.total === null ? null : p.total - p.done, itemsPerSec) };
}

/** The one-line advice when 429s keep coming (null otherwise). */
export function throttleAdvice(s: ProgressState, adaptive: boolean): string | null {
  if (!progressFigures(s).throttled) return null;
  const rate = Math.round(s.configuredRate * 10) / 10;
  return adaptive
    ? `the server keeps answering 429 (${s.rateLimited} so far): its limit is below ${rate}/s; --adaptive is lowering the rate, or pass a lower --rate`
    : `the server keeps answering 429 (${s.rateLimited} so far): its limit is below --rate ${rate}/s; pass --adaptive or a lower --rate`;
}
