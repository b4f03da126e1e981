/**
 * A manifest consolidated while detection was incomplete (a live detect process, symbols not yet
 * committed, one `--partition` half done) limits stage 2 to the events it holds, and nothing said
 * so: ingest processed 446 of 858 events and exited 0. `consolidate` refuses such a state unless told
 * otherwise, and `run --stage ingest` refuses a manifest older than the newest committed shard.
 */
import { stat } from 'node:fs/promises';
import { InputError } from '../errors.js';
import { detectWorkerName, mayBeHeld, readLocks } from '../run-folder/index.js';
import { manifestPath } from '../run-folder/layout.js';
import { describeLock } from '../run-folder/lock-file.js';
import { readRunSpec } from '../run-folder/run-spec.js';
import { committedShards, loadCompletedSymbols } from '../sinks/shard-sink.js';
import { polars } from '../polars.js';

/** How far detection of a run folder has come. */
export interface DetectCompleteness {
  /** Universe size recorded in run.json, when it has one. */
  readonly universe: number | undefined;
  /** Symbols committed by some detect journal. */
  readonly committed: number;
  /** Detect locks that a running process may hold, described for a message. */
  readonly heldBy: readonly string[];
}

export async function detectCompleteness(outDir: string): Promise<DetectCompleteness> {
  const spec = await readRunSpec(outDir);
  const committed = (await loadCompletedSymbols(outDir)).size;
  const heldBy = (await readLocks(outDir))
    .filter((l) => l.stage === 'detect' && mayBeHeld(l))
    .map((l) => `${detectWorkerName(l.index)} (${l.info ? describeLock(l.info) : 'unreadable lock'})`);
  return { universe: spec?.universe?.count, committed, heldBy };
}

/** Why consolidating now would write a partial manifest, or undefined when detection is complete. */
export function incompleteDetection(c: DetectCompleteness): string | undefined {
  if (c.heldBy.length > 0) return `detection is still running: ${c.heldBy.join(', ')}`;
  if (c.universe !== undefined && c.committed < c.universe) {
    return `detection is incomplete: ${c.committed} of ${c.universe} symbols committed (a partition half not run yet, or symbols that failed)`;
  }
  return undefined;
}

/**
 * Throws {@link InputError} when the run folder's own manifest is older than a committed shard
 * (consolidated before some detection was committed). Only for `events/events.parquet`: a user's
 * `--manifest` file is not derived from the shards.
 */
export async function refuseStaleManifest(outDir: string): Promise<void> {
  const manifest = manifestPath(outDir);
  const made = (await stat(manifest)).mtimeMs;
  let newest: { path: string; at: number } | undefined;
  for (const s of await committedShards(outDir)) {
    if (s.rows === 0) continue;
    const at = (await stat(s.path).catch(() => undefined))?.mtimeMs;
    if (at !== undefined && (newest === undefined || at > newest.at)) newest = { path: s.path, at };
  }
  // The mtimes are only a cheap first look: a copied or restored folder (another drive, a backup)
  // gets new mtimes in any order, so a newer shard is confirmed against the manifest's content.
  if (newest !== undefined && newest.at > made && (await shardEventsMissingFrom(manifest, (await committedShards(outDir)).filter((s) => s.rows > 0).map((s) => s.path))) > 0) {
    throw new InputError(
      `${manifest} is older than the committed shard ${newest.path}: it misses events; run \`tickpipe consolidate --out ${outDir}\` first`,
    );
  }
}

/** How many distinct events of the committed shards `manifest` lacks (by symbol, type and time). */
async function shardEventsMissingFrom(manifest: string, shards: readonly string[]): Promise<number> {
  if (shards.length === 0) return 0;
  const pl = await polars();
  const keys = ['symbol', 'event_type', 'timestamp'];
  const inShards = pl.concat(shards.map((p) => pl.scanParquet(p).select(...keys))).unique();
  const missing = await inShards.join(pl.scanParquet(manifest).select(...keys), { on: keys, how: 'anti' }).collect();
  return missing.height;
}
