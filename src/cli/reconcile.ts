import type { ReconcileChange, ReconcileResult, RemovedWindowFolder } from '../ops/reconcile.js';
import { ingestJournalName } from '../run-folder/layout.js';
import { commandHelp, defineCommand, JSON_FLAG, OUT_FLAG, OUT_OPTION, outDir } from './command.js';

const HELP = commandHelp(
  `Usage: tickpipe reconcile [--out DIR] [--json]

Rebuilds the journals from what is on disk (refused while a run holds a lock):
- detect: drops lines whose shard file is missing or unreadable (their symbols are redone), repeated
  and redundant lines; corrects row counts. A shard no journal names is not adopted (its batch's
  symbol list is unknown): it stays uncommitted and 'tickpipe clean' removes it.
- ingest: drops lines whose window is incomplete or unreadable (downloaded again), repeats; corrects
  counts; journals complete windows found on disk (into ${ingestJournalName(0)}).
- a window compacted into dataset/ stays done: an incomplete or unreadable folder of it is a broken
  copy of rows its part holds, so it is removed (as 'compact --remove-windows' would).
- drops torn tails and corrupt lines. Each journal is replaced atomically; no other file is touched.`,
  14,
  [
    OUT_OPTION,
    ['--json', 'print the result as JSON'],
  ],
);

export const reconcileCommand = defineCommand({
  name: 'reconcile',
  help: HELP,
  flags: { ...OUT_FLAG, ...JSON_FLAG },
  async run(values, io) {
    const { reconcileRun } = await import('../ops/reconcile.js');
    const r = await reconcileRun(outDir(values), { onProgress: (m) => io.stderr.write(`${m}\n`) });
    io.stdout.write((values.json ? JSON.stringify(r) : formatReconcile(r)) + '\n');
    return 0;
  },
});

function list(title: string, changes: readonly ReconcileChange[], max = 10): string[] {
  if (changes.length === 0) return [];
  const out = [`  ${title}: ${changes.length}`];
  for (const c of changes.slice(0, max)) out.push(`    ${c.journal}${c.line !== undefined ? `:${c.line}` : ''} ${c.item}: ${c.reason}`);
  if (changes.length > max) out.push(`    … and ${changes.length - max} more`);
  return out;
}

/** One line per removed folder of a compacted window, naming the part that holds its rows. */
function removedFolders(removed: readonly RemovedWindowFolder[], max = 10): string[] {
  if (removed.length === 0) return [];
  const out = [`  removed damaged folders of compacted windows (still done): ${removed.length}`];
  for (const r of removed.slice(0, max)) out.push(`    ${r.folder}: ${r.damage}; its rows are in ${r.part.join(' and ')}`);
  if (removed.length > max) out.push(`    … and ${removed.length - max} more`);
  return out;
}

/** One line on the dataset's unfinished states (reported, never changed by reconcile). */
function formatDatasetStates(d: NonNullable<ReconcileResult['dataset']>): string {
  const notes = [
    d.unpublished.length ? `${d.unpublished.length} committed part(s) still staged (tickpipe compact publishes them): ${d.unpublished.slice(0, 10).join(', ')}` : '',
    d.uncommittedStaged.length ? `${d.uncommittedStaged.length} uncommitted staged file(s) (tickpipe clean removes them): ${d.uncommittedStaged.slice(0, 10).join(', ')}` : '',
    d.lost.length ? `${d.lost.length} committed part(s) with a file missing (see tickpipe verify): ${d.lost.slice(0, 10).join(', ')}` : '',
    d.compactedWindowsKept ? `${d.compactedWindowsKept} compacted window(s) still in windows/ (kept; tickpipe compact --remove-windows removes them)` : '',
  ].filter(Boolean);
  return `dataset: ${d.published} published part(s)${notes.length ? `; ${notes.join('; ')}` : ''} (reported only: reconcile does not change the dataset)`;
}

/** The text form of a reconcile result. */
export function formatReconcile(r: ReconcileResult): string {
  const lines = [
    `detect: kept ${r.detect.kept} line(s)`,
    ...list('dropped', r.detect.dropped),
    ...list('corrected', r.detect.corrected),
    ...(r.detect.notAdopted.length ? [`  not adopted (uncommitted; 'tickpipe clean' removes them): ${r.detect.notAdopted.join(', ')}`] : []),
    `ingest: kept ${r.ingest.kept} line(s)`,
    ...list('added', r.ingest.added),
    ...list('dropped', r.ingest.dropped),
    ...list('corrected', r.ingest.corrected),
    ...removedFolders(r.ingest.removedFolders),
    ...list('failure-journal lines dropped', r.failedDropped),
    ...(r.dataset ? [formatDatasetStates(r.dataset)] : []),
    r.rewritten.length ? `rewrote ${r.rewritten.join(', ')}` : 'journals already agree with the disk: nothing rewritten',
  ];
  return lines.join('\n');
}
