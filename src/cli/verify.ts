import type { VerifyProblemKind, VerifyResult } from '../ops/verify.js';
import { parseIntInRange } from '../args.js';
import { commandHelp, defineCommand, JSON_FLAG, OUT_FLAG, OUT_OPTION, outDir } from './command.js';

const HELP = commandHelp(
  `Usage: tickpipe verify [--out DIR] [--json] [--concurrency N]

Checks a run folder against its journals, reading the files themselves: duplicate event rows,
symbols or windows journaled twice, windows missing a file, Parquet files that do not open or whose
row count disagrees with the journal, journal lines without files, complete windows not journaled,
uncommitted shards, orphan tmp files, torn or corrupt journal lines.
Exit 0 when clean, 1 when problems were found.`,
  21,
  [
    OUT_OPTION,
    ['--json', 'print { ok, problems: { kind: { count, examples } }, checked }'],
    ['--concurrency N', 'window folders checked at once (default 32)'],
  ],
);

export const verifyCommand = defineCommand({
  name: 'verify',
  help: HELP,
  flags: { ...OUT_FLAG, ...JSON_FLAG, concurrency: { type: 'string' } },
  async run(values, io) {
    const concurrency = values.concurrency === undefined ? 32 : parseIntInRange('--concurrency', values.concurrency, 1, 1024);
    const { verifyRun, VERIFY_PROBLEMS } = await import('../ops/verify.js');
    const r = await verifyRun(outDir(values), { concurrency, onProgress: (m) => io.stderr.write(`${m}\n`) });
    if (r.heldLocks.length > 0) {
      io.stderr.write(`tickpipe verify: warning: a run may be active (${r.heldLocks.length} lock(s) held): files in flight can show as problems\n`);
    }
    if (r.runningCompaction) {
      const { describeHolder } = await import('../run-folder/index.js'); // loaded already by ops/verify
      io.stderr.write(`tickpipe verify: a compaction is running (${describeHolder(r.runningCompaction)}): the files it has in flight were not checked; verify again when it ends\n`);
    }
    io.stdout.write((values.json ? JSON.stringify({ ok: r.ok, problems: r.problems, checked: r.checked }) : formatVerify(r, VERIFY_PROBLEMS)) + '\n');
    return r.ok ? 0 : 1;
  },
});

/** The text form: one table row per kind of problem found. */
export function formatVerify(r: VerifyResult, descriptions: Readonly<Record<string, string>> = {}): string {
  const c = r.checked;
  const head = `checked ${c.journals} journals (${c.journalLines} lines), ${c.shards} shards, ${c.windows} window folders, ${c.parquetFiles} Parquet files in ${(r.elapsedMs / 1000).toFixed(1)} s`;
  if (r.ok) return `${head}\nOK: no problems found`;
  const kinds = Object.keys(r.problems) as VerifyProblemKind[];
  const w = Math.max('problem'.length, ...kinds.map((k) => k.length));
  const lines = [head, `${'problem'.padEnd(w)}  ${'count'.padStart(6)}  examples`];
  for (const k of kinds) {
    const p = r.problems[k]!;
    lines.push(`${k.padEnd(w)}  ${String(p.count).padStart(6)}  ${p.examples[0] ?? ''}`);
    for (const e of p.examples.slice(1, 3)) lines.push(`${''.padEnd(w)}  ${''.padStart(6)}  ${e}`);
  }
  lines.push(`${kinds.reduce((n, k) => n + r.problems[k]!.count, 0)} problem(s) of ${kinds.length} kind(s):`);
  for (const k of kinds) if (descriptions[k]) lines.push(`  ${k}: ${descriptions[k]}`);
  return lines.join('\n');
}
