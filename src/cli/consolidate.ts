import { existsSync } from 'node:fs';
import { InputError } from '../errors.js';
import { runSpecPath } from '../run-folder/layout.js';
import { parseFlags } from '../args.js';
import type { Command } from './command.js';

const HELP = `Usage: tickpipe consolidate --out DIR [--partial]

Writes DIR/events/events.parquet from the committed stage-1 shards only, sorted by
(symbol, timestamp) and de-duplicated on (symbol, event_type, timestamp), and reports the counts.
Refuses (exit 2) while a detect process holds a lock or symbols of the universe are not committed
yet, since stage 2 would then miss their events without a word.

Options:
  --partial   consolidate what is committed anyway (run it again once detection is done)`;

export const consolidateCommand: Command = {
  name: 'consolidate',
  summary: 'write events/events.parquet from the committed shards',
  async run(argv, io) {
    const { values } = parseFlags('consolidate', argv, { out: { type: 'string' }, partial: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
    if (values.help) {
      io.stdout.write(HELP + '\n');
      return 0;
    }
    const out = values.out ?? 'tickpipe-data';
    if (!existsSync(runSpecPath(out))) throw new InputError(`not a tickpipe run folder (no run.json): ${out}`);
    const { detectCompleteness, incompleteDetection } = await import('../pipeline/manifest-freshness.js');
    const incomplete = incompleteDetection(await detectCompleteness(out));
    if (incomplete !== undefined && !values.partial) {
      throw new InputError(`${incomplete}; finish detection first, or pass --partial to consolidate what is committed`);
    }
    if (incomplete !== undefined) io.stderr.write(`tickpipe consolidate: warning: ${incomplete}; the manifest is partial\n`);
    const { consolidate } = await import('../pipeline/consolidate.js');
    const r = await consolidate(out);
    io.stdout.write(
      `consolidated ${r.shards} shards: ${r.rows} rows -> ${r.events} events (${r.duplicates} duplicates removed) in ${r.path}\n`,
    );
    return 0;
  },
};
