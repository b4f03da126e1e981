/**
 * What one cluster worker process does with each job: the stage-1 symbol and the stage-2 window
 * handlers (skip what any process committed, fetch, claim, commit), and the slot's heartbeat line
 * built from the same counts.
 */
import { hostname } from 'node:os';
import type { Job } from 'bullmq';
import { lastValueFrom } from 'rxjs';
import { detectEvents, type Detector } from '../detect/index.js';
import { AuthError, HttpError, WorkerError } from '../errors.js';
import type { RunLogs } from '../log.js';
import { fetchMinuteBars } from '../pipeline/detect-stage.js';
import { windowFiles, type WindowFiles } from '../pipeline/ingest-stage.js';
import type { PageRepeatCount } from '../operators/drop-page-repeats.js';
import type { WindowPool } from '../workers/window-pool.js';
import { HEARTBEAT_VERSION, type SlotBeatFields } from '../progress/heartbeat.js';
import type { ShardWriter, WindowWriter } from '../sinks/index.js';
import type { PolygonClient } from '../streams/polygon-client.js';
import type { EventRow } from '../types.js';
import type { CommittedIndex } from './committed-index.js';
import type { ClusterMeta, StageJob, WindowJob } from './coordinator.js';
import { ClaimedElsewhereError, type ShardBatcher } from './shard-batcher.js';

/** What this process did so far. */
export interface SlotCounts {
  symbols: number;
  symbolsFailed: number;
  windows: number;
  windowsFailed: number;
  /** Re-delivered jobs found already committed and skipped. */
  skippedCommitted: number;
  trades: number;
  quotes: number;
}

const rssMB = () => Math.round(process.memoryUsage().rss / 1_048_576);

/** The slot's heartbeat lines (`logs/heartbeat.slot-K.ndjson`): what `tail`, `status` and `report` read. */
export class SlotHeartbeat {
  readonly host = hostname();
  readonly counts: SlotCounts = { symbols: 0, symbolsFailed: 0, windows: 0, windowsFailed: 0, skippedCommitted: 0, trades: 0, quotes: 0 };
  /** The item handled last (symbol or event ID). */
  last = '-';
  #prev = { at: Date.now(), ok: 0 };
  #reqPerSec = 0;

  constructor(
    private readonly slot: number,
    private readonly logs: RunLogs,
    private readonly client: PolygonClient,
    private readonly quota: number,
  ) {}

  /** `ended`: the last line of this process (tail shows the slot finished, not stalled). */
  beat(stage: 'detect' | 'ingest', ended = false): void {
    const m = this.client.metrics();
    const now = Date.now();
    if (now - this.#prev.at >= 1000) {
      this.#reqPerSec = ((m.ok - this.#prev.ok) * 1000) / (now - this.#prev.at);
      this.#prev = { at: now, ok: m.ok };
    }
    const c = this.counts;
    const common: SlotBeatFields & { readonly v: number } = {
      v: HEARTBEAT_VERSION,
      host: this.host,
      slot: this.slot,
      ...(ended ? { ended: true as const } : {}),
      requests: m.requests,
      ok: m.ok,
      rateLimited: m.rateLimited,
      reqPerSec: +this.#reqPerSec.toFixed(1),
      rate: +this.client.bucket!.currentRate.toFixed(1),
      quota: this.quota,
      skippedCommitted: c.skippedCommitted,
      rssMB: rssMB(),
    };
    if (stage === 'detect') {
      const done = c.symbols + c.symbolsFailed;
      this.logs.heartbeat.info({ stage, worker: this.slot, symbol: this.last, done, total: done, workerDone: done, workerTotal: done, failed: c.symbolsFailed, ...common });
    } else {
      const total = c.windows + c.windowsFailed;
      this.logs.heartbeat.info({ stage, partition: this.slot, last: this.last, processed: c.windows, failed: c.windowsFailed, skipped: 0, total, trades: c.trades, quotes: c.quotes, latencyP50Ms: m.latencyP50Ms, latencyP95Ms: m.latencyP95Ms, etaSec: null, ...common });
    }
  }
}

/** What the job handlers work with. */
export interface JobContext {
  readonly slot: number;
  readonly meta: ClusterMeta;
  readonly client: PolygonClient;
  readonly detectors: readonly Detector[];
  readonly logs: RunLogs;
  readonly shards: ShardWriter;
  readonly windows: WindowWriter;
  readonly batcher: ShardBatcher;
  readonly detectDone: CommittedIndex;
  readonly ingestDone: CommittedIndex;
  /** Worker threads that scan and encode windows off the main loop (undefined: on the main thread). */
  readonly pool: WindowPool | undefined;
  readonly heartbeat: SlotHeartbeat;
  /** Takes the short Redis claim of an item about to be journaled; false if another process holds it. */
  readonly claim: (item: string) => Promise<boolean>;
}

const NS_PER_MS = 1_000_000n;

/**
 * The BullMQ processors of one worker process. A refused key (AuthError) or an unexpected error is
 * fatal for the process ({@link fatal}); an HTTP failure of one item is journaled as failed.
 */
export class JobHandlers {
  /** The first fatal error: the worker loop stops on it. */
  fatal: unknown;
  /** Windows being committed by this process (the same job can arrive twice after Redis lost its data). */
  readonly #committing = new Set<string>();

  constructor(private readonly c: JobContext) {}

  get #counts(): SlotCounts {
    return this.c.heartbeat.counts;
  }

  #redelivered(job: Job, id: string): boolean {
    if (job.attemptsStarted <= 1 && job.stalledCounter === 0) return false;
    this.c.logs.log.info({ slot: this.c.slot, job: id, attemptsStarted: job.attemptsStarted, stalledCounter: job.stalledCounter }, 'redelivered job');
    return true;
  }

  #noteFatal(err: unknown): unknown {
    if (err instanceof AuthError) this.fatal ??= err;
    return err;
  }

  readonly processSymbol = async (job: Job<StageJob>): Promise<string> => {
    const { symbol } = job.data;
    const { detectDone, shards } = this.c;
    if (this.#redelivered(job, symbol)) await detectDone.refresh();
    if (detectDone.has(symbol) || shards.committedSymbols.has(symbol)) {
      this.#counts.skippedCommitted++;
      return 'already committed';
    }
    let rows: readonly EventRow[];
    try {
      const bars = await lastValueFrom(fetchMinuteBars(this.c.client, symbol, this.c.meta.from, this.c.meta.to));
      rows = await detectEvents(bars, symbol, this.c.detectors);
    } catch (err) {
      if (err instanceof AuthError || !(err instanceof HttpError)) throw this.#noteFatal(err);
      this.#counts.symbolsFailed++;
      this.c.logs.log.error({ stage: 'detect', slot: this.c.slot, symbol, code: err.code, status: err.status, err: err.message }, 'symbol failed');
      return `failed: ${err.code}`;
    }
    await this.c.batcher.add(symbol, rows);
    this.#counts.symbols++;
    this.c.heartbeat.last = symbol;
    this.c.heartbeat.beat('detect');
    return 'committed';
  };

  readonly processWindow = async (job: Job<WindowJob>): Promise<string> => {
    const e = job.data;
    const { ingestDone } = this.c;
    await ingestDone.refresh(this.#redelivered(job, e.eventId) ? 0 : 250);
    if (ingestDone.has(e.eventId)) {
      this.#counts.skippedCommitted++;
      return 'already committed';
    }
    try {
      if (!(await this.#fetchAndCommit(e))) return 'already committed';
    } catch (err) {
      // As on one host: a permanent API failure, or a window whose pool worker kept dying, is journaled as failed.
      if (err instanceof AuthError || !(err instanceof HttpError || err instanceof WorkerError)) throw this.#noteFatal(err);
      const status = err instanceof HttpError ? err.status : undefined;
      await this.c.windows.fail({ eventId: e.eventId, symbol: e.symbol, status, code: err.code, reason: err.message });
      this.#counts.windowsFailed++;
      this.c.logs.log.error({ stage: 'ingest', slot: this.c.slot, event: e.eventId, code: err.code, status, err: err.message }, 'window failed');
    }
    this.c.heartbeat.last = e.eventId;
    if ((this.#counts.windows + this.#counts.windowsFailed) % 100 === 0) this.c.heartbeat.beat('ingest');
    return 'committed';
  };

  /** Downloads one window and journals it, unless another process committed it meanwhile (then false). */
  async #fetchAndCommit(e: WindowJob): Promise<boolean> {
    const { meta, client } = this.c;
    const gte = BigInt(e.t - meta.window.beforeMs) * NS_PER_MS;
    const lte = BigInt(e.t + meta.window.afterMs) * NS_PER_MS;
    const repeats: PageRepeatCount = { rows: 0 };
    // The same fetch as a one-host ingest (pages scanned into columns, encoded in the worker pool):
    // a cluster worker writes the same bytes at the same CPU per row.
    const fetch = { client, pool: this.c.pool, hz: meta.quotesHz };
    const done = await lastValueFrom(windowFiles(fetch, { symbol: e.symbol, eventId: e.eventId, gte, lte }, repeats, (files) => this.#commitOnce(e, files)));
    if (done === undefined) {
      this.#counts.skippedCommitted++;
      return false;
    }
    this.#counts.windows++;
    this.#counts.trades += done.tradeRows;
    this.#counts.quotes += done.quoteRows;
    return true;
  }

  /** Journals a fetched window once across all processes; undefined if another process committed it meanwhile. */
  async #commitOnce(e: WindowJob, files: WindowFiles): Promise<WindowFiles | undefined> {
    const { ingestDone } = this.c;
    // Files are keyed by event: a duplicate publish rewrites identical bytes; only the journal line must stay single.
    await ingestDone.refresh();
    if (ingestDone.has(e.eventId)) return undefined;
    // Two live processes can hold one job (a worker too busy to renew its lock looks dead): the claim
    // lets one journal it; the other retries later and then finds it committed. Within this process
    // the same job can arrive twice too (re-enqueued after Redis lost its data): `committing` guards that.
    if (this.#committing.has(e.eventId) || !(await this.c.claim(`ev=${e.eventId}`))) throw new ClaimedElsewhereError(e.eventId);
    this.#committing.add(e.eventId);
    try {
      await this.c.windows.commit({ symbol: e.symbol, eventId: e.eventId, trades: files.trades, quotes: files.quotes });
      ingestDone.add(e.eventId);
    } finally {
      this.#committing.delete(e.eventId);
    }
    return files;
  }
}
