import { existsSync } from 'node:fs';
import { InputError } from '../errors.js';
import { runSpecPath } from '../run-folder/layout.js';
import { defineCommand, OUT_FLAG, outDir } from './command.js';

const HELP = `Usage: tickpipe consolidate --out DIR [--partial]

Writes DIR/events/events.parquet from the committed stage-1 shards only, sorted by
(symbol, timestamp) and de-duplicated on (symbol, event_type, timestamp), and reports the counts.
Refuses (exit 2) while a detect process holds a lock or symbols of the universe are not committed
yet, since stage 2 would then miss their events without a word.

Options:
  --out DIR   run folder (default ./tickpipe-data)
  --partial   consolidate what is committed anyway (run it again once detection is done)
  -h, --help  this help`;

export const consolidateCommand = defineCommand({
  name: 'consolidate',
  help: HELP,
  flags: { ...OUT_FLAG, partial: { type: 'boolean' } },
  async run(values, io) {
    const out = outDir(values);
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
});
