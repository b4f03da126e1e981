import { existsSync } from 'node:fs';
import { compact, type CompactOptions, type CompactResult } from '../dataset/compact.js';
import { IncrementalCompactor } from '../dataset/incremental.js';
import { datasetPaths } from '../dataset/layout.js';
import { JOURNAL_GLOBS, runSpecPath } from '../run-folder/layout.js';
import { compactionHolder } from '../dataset/state.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { InputError, LockedError } from '../errors.js';
import { parseFlags } from '../args.js';
import type { Command } from './command.js';

const HELP = `Usage: tickpipe compact [--out DIR] [--remove-windows]

Rewrites every committed, not yet compacted event window into the query-ready dataset
DIR/dataset/{trades,quotes}/symbol=S/part-NNNNNN.parquet (rows carry event_id, event_type and
event_timestamp; sorted by event, then sip_timestamp). The compaction journal
(${JOURNAL_GLOBS.compact}) is the commit point: a killed compaction is finished by the next one,
and no window is ever counted twice. \`tickpipe run\` does this at the end of ingest.

Options:
  --out DIR           run folder (default ./tickpipe-data)
  --remove-windows    delete each window folder once its rows are in a committed part (they stay
                      "done" for resume); default: keep them
  -h, --help          this help`;

/** One line describing a compaction, shared by `compact` and `run`. */
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
 * Compaction at the end of `run`. Another process's compaction (a partition of the same run, an
 * incremental one, or `tickpipe compact`) is not an error: this one waits for it (polling the lock
 * every second, at most `waitMs`), then compacts what is left, so windows committed while the other
 * was running are not left out. Returns undefined if the lock is still held after `waitMs`.
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

/**
 * The incremental compactor of `run` (rule: src/dataset/incremental.ts): each compaction during
 * ingest is one line of the run's output and of its log; a failure is logged, and the compaction
 * at the end of ingest tries again.
 */
export function ingestCompactor(
  out: string,
  removeWindows: boolean,
  line: (s: string) => void,
  log: { info(o: object, msg: string): void; warn(o: object, msg: string): void },
): IncrementalCompactor {
  return new IncrementalCompactor(out, {
    removeWindows,
    command: 'tickpipe run (incremental compaction)',
    onCompacted: (r, symbols) => {
      line(`during ingest: ${formatCompact(r)} (${symbols.length} finished symbol(s))`);
      log.info({ compaction: r, symbols: symbols.length, incremental: true }, 'compacted during ingest');
    },
    onError: (err, symbols) => {
      const message = err instanceof Error ? err.message : String(err);
      line(`during ingest: compaction of ${symbols.length} finished symbol(s) failed (${message}); retried at the end of ingest`);
      log.warn({ err: message, symbols: symbols.length }, 'compaction during ingest failed');
    },
  });
}

export const compactCommand: Command = {
  name: 'compact',
  summary: 'compact committed windows into dataset/ (Hive-partitioned Parquet, exactly once)',
  async run(argv, io) {
    const { values } = parseFlags('compact', argv, {
      out: { type: 'string' },
      'remove-windows': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      io.stdout.write(HELP + '\n');
      return 0;
    }
    const out = values.out ?? 'tickpipe-data';
    if (!existsSync(runSpecPath(out))) throw new InputError(`not a tickpipe run folder (no run.json): ${out}`);
    const r = await compact(out, { removeWindows: values['remove-windows'] ?? false, command: 'tickpipe compact' });
    io.stdout.write(formatCompact(r) + '\n');
    return r.missingWindows.length > 0 ? 1 : 0;
  },
};
