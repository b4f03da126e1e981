/**
 * Compaction as a run does it at its end (one host's `run`, and whichever process of a cluster run
 * finishes stage 2), and the one line that describes a compaction. Its own module, below the
 * command line and the cluster code, so both call the same function.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LockedError } from '../errors.js';
import { compact, type CompactOptions, type CompactResult } from './compact.js';
import { datasetPaths } from './layout.js';
import { compactionHolder } from './state.js';

/** One line describing a compaction, shared by `compact`, `run` and `run --cluster`. */
export function formatCompact(r: CompactResult): string {
  const extra = [
    r.rolledForward > 0 ? `${r.rolledForward} interrupted part(s) finished` : '',
    r.discarded > 0 ? `${r.discarded} uncommitted staged file(s) discarded` : '',
    r.windowsRemoved > 0 ? `${r.windowsRemoved} window folder(s) removed` : '',
    r.missingWindows.length > 0 ? `${r.missingWindows.length} committed window(s) skipped: a file is missing (see tickpipe verify)` : '',
  ].filter(Boolean);
  return `compacted ${r.windows} windows into ${r.parts} part(s): ${r.trades} trades, ${r.quotes} quotes${extra.length ? `; ${extra.join('; ')}` : ''}`;
}

/**
 * Compaction at the end of a run. Another process's compaction (a partition of the same run, an
 * incremental one, another host of a cluster run, or `tickpipe compact`) is not an error: this one
 * waits for it (polling the lock every second, at most `waitMs`), then compacts what is left, so
 * windows committed while the other was running are not left out. Returns undefined if the lock is
 * still held after `waitMs`.
 */
export async function compactAfterIngest(out: string, opts: CompactOptions, waitMs = 600_000): Promise<CompactResult | undefined> {
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      return await compact(out, opts);
    } catch (err) {
      if (!(err instanceof LockedError)) throw err;
      if (Date.now() >= until) return undefined;
    }
    do await sleep(1000);
    while ((await compactionHolder(datasetPaths(out))) !== undefined && Date.now() < until);
  }
}
