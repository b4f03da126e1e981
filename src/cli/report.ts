/**
 * `tickpipe report`: writes one self-contained HTML report of a run folder (see src/ops/report.ts).
 *
 * @example
 * ```sh
 * tickpipe report --out ./tickpipe-data                    # ./tickpipe-data/report.html
 * tickpipe report --out ./tickpipe-data --output /tmp/r.html
 * ```
 */
import { commandHelp, defineCommand, OUT_FLAG, OUT_OPTION, outDir } from './command.js';

const HELP = commandHelp(
  `Usage: tickpipe report --out DIR [--output FILE]

Writes a single HTML file (inline SVG charts and CSS, no script, no network references): throughput
and requests/s against the quota over time, 429s and failures over time, events by type and by
session, per-worker progress. Safe while a run is active (it only reads).`,
  19,
  [
    OUT_OPTION,
    ['--output FILE', 'where to write (default DIR/report.html); written atomically'],
  ],
);

export const reportCommand = defineCommand({
  name: 'report',
  help: HELP,
  flags: { ...OUT_FLAG, output: { type: 'string' } },
  async run(values, io) {
    const { writeReport } = await import('../ops/report.js');
    const { path, data } = await writeReport(outDir(values), values.output === undefined ? {} : { output: values.output });
    io.stdout.write(`report written to ${path} (${data.heartbeatLines} heartbeat lines, ${data.events} events, ${data.workers.length} workers)\n`);
    return 0;
  },
});
