import type { CleanResult } from '../ops/clean.js';
import { commandHelp, defineCommand, JSON_FLAG, OUT_FLAG, OUT_OPTION, outDir } from './command.js';

const HELP = commandHelp(
  `Usage: tickpipe clean [--out DIR] [--dry-run] [--json]

Removes what interrupted runs left behind: tmp files (a window's or the manifest's tmp whose final
file is missing is promoted when it is a complete Parquet file), moved-aside .uncommitted/ shard
folders and shard files no journal names. Refused while a run holds the lock of a partition
concerned, so in-flight files of a live run are never touched.`,
  15,
  [
    OUT_OPTION,
    ['--dry-run', 'report what would be done, change nothing'],
    ['--json', 'print the actions as JSON'],
  ],
);

export const cleanCommand = defineCommand({
  name: 'clean',
  help: HELP,
  flags: { ...OUT_FLAG, 'dry-run': { type: 'boolean' }, ...JSON_FLAG },
  async run(values, io) {
    const { cleanRun } = await import('../ops/clean.js');
    const r = await cleanRun(outDir(values), { dryRun: values['dry-run'] ?? false });
    io.stdout.write((values.json ? JSON.stringify(r) : formatClean(r)) + '\n');
    return 0;
  },
});

/** The text form: one line per action. */
export function formatClean(r: CleanResult): string {
  if (r.actions.length === 0) return 'nothing to clean';
  const verb = (k: string) =>
    ({ 'delete-tmp': 'delete', 'promote-tmp': 'promote', 'delete-uncommitted-shard': 'delete', 'remove-uncommitted-dir': 'remove' })[k] ?? k;
  const lines = r.actions.map((a) => `${r.dryRun ? 'would ' : ''}${verb(a.kind)} ${a.path}${a.target ? ` -> ${a.target}` : ''}  (${a.reason})`);
  lines.push(`${r.actions.length} action(s)${r.dryRun ? ' planned (dry run: nothing changed)' : ' done'}`);
  return lines.join('\n');
}
