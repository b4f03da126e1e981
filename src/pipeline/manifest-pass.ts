/**
 * The one pass of stage 2 over the manifest: record batches in, the owned events still to do out.
 *
 * There is no counting pass before the first request: rows are decoded a batch at a time, and each
 * row is dropped here, synchronously, when it repeats an ID seen earlier in the manifest (first
 * position wins, whatever the partition), belongs to another partition, is journaled complete, or
 * failed before (unless retrying). Only the events left cost an asynchronous step, so a resume that
 * skips 572,850 done events spends its time computing IDs, not resolving promises. The counts are
 * final when the pass reaches the end of the file.
 *
 * Memory: the IDs seen so far are needed to drop repeats. An ID that is journaled complete costs one
 * bit (its entry number in the committed set); any other ID goes into a {@link CompactIdSet}.
 *
 * With the manifest key file (`sinks/manifest-keys.ts`), a row whose raw key is there arrives as its
 * committed entry number, without an ID: it is counted exactly as a row whose ID has that entry (the
 * same bit), so requests and counts are those of the slow path. A row that took the slow path and
 * whose ID is committed teaches the file its key; the file is rewritten when the pass ends.
 */
import { CompactIdSet } from '../sinks/id-set.js';
import { loadManifestKeys, saveManifestKeys, type ManifestKeys } from '../sinks/manifest-keys.js';
import { ingestStateDir } from '../sinks/committed-index.js';
import type { IngestState } from '../sinks/window-sink.js';
import type { ManifestBatch, ManifestEvent } from '../streams/manifest.js';
import type { Partition } from './partition.js';

/** The counts of a finished manifest pass, for the owned partition. */
export interface ManifestCounts {
  /** Distinct events owned by this partition. */
  readonly total: number;
  readonly completed: number;
  readonly failedBefore: number;
  /** Rows dropped because an earlier row had the same event ID (all partitions). */
  readonly duplicates: number;
  readonly pending: number;
}

/** Events owned by `partition` among `rows` manifest rows (positions `index % count === index`). */
export function ownedRows(rows: number, partition: Partition): number {
  return rows > partition.index ? Math.floor((rows - 1 - partition.index) / partition.count) + 1 : 0;
}

/** The key file a pass probes and extends, and the folder (`state/ingest/`) it is written back to. */
export interface PassKeys {
  readonly keys: ManifestKeys;
  readonly dir: string;
  /** Keys learned before the file is rewritten at the end of the pass. @default 1,000 */
  readonly minLearned?: number;
}

/** The key file of `outDir`'s stage-2 state folder, checked against the committed set loaded at this start. */
export async function openPassKeys(outDir: string, committed: CompactIdSet, minLearned?: number): Promise<PassKeys> {
  const dir = ingestStateDir(outDir);
  return { keys: await loadManifestKeys(dir, committed), dir, ...(minLearned !== undefined ? { minLearned } : {}) };
}

/** Keys learned before the key file is rewritten at the end of a pass (a rewrite costs ~50 ms per 500k keys). */
const MIN_LEARNED_KEYS = 1_000;

export class ManifestPass {
  readonly #state: IngestState;
  readonly #keys: PassKeys | undefined;
  /** Committed entry of the ID of the row {@link keep} last looked at, else -1. */
  #lastCommitted = -1;
  readonly #partition: Partition;
  readonly #retryFailed: boolean;
  /** One bit per entry of the committed set: already met in this pass. */
  readonly #seenCommitted: Uint8Array;
  readonly #seenOther = new CompactIdSet(4096);
  #total = 0;
  #completed = 0;
  #failedBefore = 0;
  #duplicates = 0;
  #pending = 0;

  constructor(state: IngestState, partition: Partition, retryFailed: boolean, keys?: PassKeys) {
    this.#state = state;
    this.#keys = keys;
    this.#partition = partition;
    this.#retryFailed = retryFailed;
    this.#seenCommitted = new Uint8Array((state.completed.size >> 3) + 1);
  }

  /** The counts so far (final once the manifest is exhausted: the value passed to `onFinished`). */
  counts(): ManifestCounts {
    return { total: this.#total, completed: this.#completed, failedBefore: this.#failedBefore, duplicates: this.#duplicates, pending: this.#pending };
  }

  /** Whether the row at `index` with `eventId` is to be processed by this partition; counts it either way. */
  keep(index: number, eventId: string): boolean {
    const owned = index % this.#partition.count === this.#partition.index;
    const k = this.#state.completed.indexOf(eventId);
    this.#lastCommitted = k;
    if (k >= 0) {
      this.keepCommitted(index, k);
      return false;
    }
    if (!this.#seenOther.add(eventId)) {
      this.#duplicates++;
      return false;
    }
    if (!owned) return false;
    this.#total++;
    if (!this.#retryFailed && this.#state.failed.has(eventId)) {
      this.#failedBefore++;
      return false;
    }
    this.#pending++;
    return true;
  }

  /** Counts the row at `index` whose ID is entry `k` of the committed set (never processed). */
  keepCommitted(index: number, k: number): void {
    const bit = 1 << (k & 7);
    if ((this.#seenCommitted[k >> 3]! & bit) !== 0) {
      this.#duplicates++;
      return;
    }
    this.#seenCommitted[k >> 3]! |= bit;
    if (index % this.#partition.count === this.#partition.index) {
      this.#total++;
      this.#completed++;
    }
  }

  /**
   * The events to process, pulled lazily from `batches`; then, once the manifest is exhausted,
   * `onFinished()`'s value (so a consumer learns the final counts in stream order).
   */
  async *events<M>(batches: AsyncIterable<ManifestBatch>, onFinished: (counts: ManifestCounts) => M): AsyncGenerator<ManifestEvent | M> {
    const keys = this.#keys?.keys;
    for await (const batch of batches) {
      const { ids, known } = batch;
      for (let i = 0; i < batch.length; i++) {
        const k = known[i]!;
        if (k >= 0) this.keepCommitted(batch.offset + i, k);
        else if (this.keep(batch.offset + i, ids[i]!)) yield batch.event(i);
        else if (keys && this.#lastCommitted >= 0) batch.learn(keys, i, this.#lastCommitted);
      }
    }
    if (this.#keys) await saveManifestKeys(this.#keys.dir, this.#keys.keys, this.#state.completed, this.#keys.minLearned ?? MIN_LEARNED_KEYS);
    yield onFinished(this.counts());
  }
}
