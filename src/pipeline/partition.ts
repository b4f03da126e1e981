import { UsageError } from '../errors.js';

/** Which share of a run this process owns: items whose key mod `count` equals `index`. */
export interface Partition {
  readonly index: number;
  readonly count: number;
}

/** The whole run in one process. */
export const WHOLE: Partition = { index: 0, count: 1 };

/** Parses `i/N` (0 ≤ i < N). */
export function parsePartition(flag: string, value: string): Partition {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(value);
  if (!m) throw new UsageError(`${flag}: expected i/N such as 0/2, got ${JSON.stringify(value)}`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index >= count) {
    throw new UsageError(`${flag}: expected 0 <= i < N, got ${JSON.stringify(value)}`);
  }
  return { index, count };
}

/**
 * Workers (stage 1 shard writers) this process runs: worker k owns universe positions
 * p with p % workers === k, and process i/N runs the workers k with k % N === i, so processes
 * and restarts agree on ownership without talking to each other.
 */
export function ownedWorkers(workers: number, partition: Partition): number[] {
  if (workers < partition.count) {
    throw new UsageError(
      `--workers ${workers} is smaller than the partition count ${partition.count}: every process needs at least one worker`,
    );
  }
  const out: number[] = [];
  for (let k = 0; k < workers; k++) if (k % partition.count === partition.index) out.push(k);
  return out;
}
