/**
 * `tickpipe adopt`: imports the windows and checkpoints of the older Python scripts into a run
 * folder (rules in src/ops/adopt.ts).
 *
 * @example
 * ```sh
 * tickpipe adopt --from /old/output --out ./tickpipe-data
 * tickpipe run --stage ingest --out ./tickpipe-data --manifest /old/events.parquet   # skips what was adopted
 * ```
 */
import type { AdoptResult } from '../ops/adopt.js';
import { UsageError } from '../errors.js';
import { commandHelp, defineCommand, OUT_FLAG, OUT_OPTION, outDir } from './command.js';

const HELP = commandHelp(
  `Usage: tickpipe adopt --from PATH --out DIR [--checkpoint FILE]... [--trust-symbols] [--copy]

Starts a run folder from a tree written by the older Python scripts: every
event=<ID>/{trades,quotes}.parquet under PATH whose files open and have tickpipe's columns is
hard-linked (same filesystem) or copied into DIR/windows/ and journaled, so the next ingest skips
it. Checkpoints ({"completed_events": [...]} / {"completed_symbols": [...]}) are read from the
*.json files under PATH and from --checkpoint. DIR gets a minimal run.json if it has none.
Refuses while a run holds locks in DIR.`,
  23,
  [
    ['--from PATH', 'root of the old output tree (required)'],
    OUT_OPTION,
    ['--checkpoint FILE', 'a checkpoint file outside PATH (repeatable)'],
    ['--trust-symbols', `journal the symbols of detect checkpoints so stage 1 skips them (their\nevents then come only from a --manifest you supply; default: report them)`],
    ['--copy', 'always copy files instead of hard-linking them'],
    ['--compact', `then compact the adopted windows into dataset/ (as \`tickpipe compact\`)`],
    ['--base-url URL', 'source recorded in a new run.json (default https://api.polygon.io)'],
  ],
);

export const adoptCommand = defineCommand({
  name: 'adopt',
  help: HELP,
  flags: {
    from: { type: 'string' },
    ...OUT_FLAG,
    checkpoint: { type: 'string', multiple: true },
    'trust-symbols': { type: 'boolean' },
    copy: { type: 'boolean' },
    compact: { type: 'boolean' },
    'base-url': { type: 'string' },
  },
  async run(values, io) {
    if (values.from === undefined) throw new UsageError('adopt: --from PATH is required');
    const { adopt } = await import('../ops/adopt.js');
    const r = await adopt({
      from: values.from,
      out: outDir(values),
      checkpoints: values.checkpoint ?? [],
      trustSymbols: values['trust-symbols'] ?? false,
      mode: values.copy ? 'copy' : 'auto',
      ...(values['base-url'] !== undefined ? { source: { baseUrl: values['base-url'] } } : {}),
      onProgress: (m) => io.stderr.write(m + '\n'),
    });
    io.stdout.write(formatAdopt(r) + '\n');
    if (values.compact) {
      const { compact } = await import('../dataset/compact.js');
      const { formatCompact } = await import('./compact.js');
      io.stdout.write(formatCompact(await compact(outDir(values), { command: 'tickpipe adopt --compact' })) + '\n');
    }
    return 0;
  },
});

/** The report printed by `tickpipe adopt`. */
export function formatAdopt(r: AdoptResult): string {
  const lines: string[] = [];
  if (r.runJsonCreated) lines.push('created run.json (minimal: version and source; stages extend it)');
  for (const c of r.checkpoints) lines.push(`checkpoint ${c.path}: ${c.kind}, ${c.entries} entries`);
  const by = (m: string): number => r.imported.filter((w) => w.method === m).length;
  lines.push(`imported ${r.imported.length} windows (${by('link')} hard-linked, ${by('copy')} copied, ${by('converted')} converted to tickpipe's schema)`);
  if (r.skipped.length) {
    lines.push(`skipped ${r.skipped.length}:`);
    for (const s of r.skipped.slice(0, 20)) lines.push(`  ${s.event}: ${s.reason}`);
    if (r.skipped.length > 20) lines.push(`  … and ${r.skipped.length - 20} more`);
  }
  if (r.invalid.length) {
    lines.push(`invalid ${r.invalid.length}:`);
    for (const s of r.invalid.slice(0, 50)) lines.push(`  ${s.what}: ${s.reason}`);
    if (r.invalid.length > 50) lines.push(`  … and ${r.invalid.length - 50} more`);
  }
  if (r.symbols.listed.length) {
    lines.push(
      r.symbols.journaled > 0 || r.symbols.listed.length === 0
        ? `detect checkpoint: ${r.symbols.listed.length} symbols listed, ${r.symbols.journaled} journaled as done (stage 1 skips them: supply their events with --manifest)`
        : `detect checkpoint: ${r.symbols.listed.length} symbols listed but NOT marked done (tickpipe has no shards for them; pass --trust-symbols to skip them in stage 1)`,
    );
  }
  lines.push(`total: ${r.imported.length} imported, ${r.skipped.length} skipped, ${r.invalid.length} invalid`);
  return lines.join('\n');
}
