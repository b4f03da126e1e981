import { existsSync } from 'node:fs';
import { compact } from '../dataset/compact.js';
import { formatCompact } from '../dataset/run-compaction.js';
import { IncrementalCompactor } from '../dataset/incremental.js';
import { InputError } from '../errors.js';
import { JOURNAL_GLOBS, runSpecPath } from '../run-folder/layout.js';
import { commandHelp, defineCommand, OUT_FLAG, OUT_OPTION, outDir } from './command.js';

const HELP = commandHelp(
  `Usage: tickpipe compact [--out DIR] [--remove-windows]

Rewrites every committed, not yet compacted event window into the query-ready dataset
DIR/dataset/{trades,quotes}/symbol=S/part-NNNNNN.parquet (rows carry event_id, event_type and
event_timestamp; sorted by event, then sip_timestamp). The compaction journal
(${JOURNAL_GLOBS.compact}) is the commit point: a killed compaction is finished by the next one,
and no window is ever counted twice. \`tickpipe run\` does this at the end of ingest.`,
  22,
  [
    OUT_OPTION,
    ['--remove-windows', `delete each window folder once its rows are in a committed part (they stay\n"done" for resume); default: keep them`],
  ],
);

// Shared with `run` and the cluster's end-of-run compaction (src/dataset/run-compaction.ts).
export { compactAfterIngest, formatCompact } from '../dataset/run-compaction.js';

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
      // Symbols whose windows all failed compact nothing: no line saying "0 windows into 0 part(s)".
      if (r.windows > 0 || r.rolledForward > 0 || r.discarded > 0 || r.missingWindows.length > 0) line(`during ingest: ${formatCompact(r)} (${symbols.length} finished symbol(s))`);
      log.info({ compaction: r, symbols: symbols.length, incremental: true }, 'compacted during ingest');
    },
    onError: (err, symbols) => {
      const message = err instanceof Error ? err.message : String(err);
      line(`during ingest: compaction of ${symbols.length} finished symbol(s) failed (${message}); retried at the end of ingest`);
      log.warn({ err: message, symbols: symbols.length }, 'compaction during ingest failed');
    },
  });
}

export const compactCommand = defineCommand({
  name: 'compact',
  help: HELP,
  flags: { ...OUT_FLAG, 'remove-windows': { type: 'boolean' } },
  async run(values, io) {
    const out = outDir(values);
    if (!existsSync(runSpecPath(out))) throw new InputError(`not a tickpipe run folder (no run.json): ${out}`);
    const r = await compact(out, { removeWindows: values['remove-windows'] ?? false, command: 'tickpipe compact' });
    io.stdout.write(formatCompact(r) + '\n');
    return r.missingWindows.length > 0 ? 1 : 0;
  },
});
