/**
 * Stage 1 of a cluster worker: detected symbols are gathered into shards and committed once each,
 * with a Redis claim per symbol so that of two processes holding one re-delivered job, one writes.
 */
import { eventsToDataFrame } from '../detect/index.js';
import type { ShardWriter } from '../sinks/index.js';
import type { EventRow } from '../types.js';
import type { CommittedIndex } from './committed-index.js';

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
export class ShardBatcher {
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

