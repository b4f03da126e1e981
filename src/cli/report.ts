/**
 * `tickpipe report`: writes one self-contained HTML report of a run folder (see src/ops/report.ts).
 *
 * @example
 * ```sh
 * tickpipe report --out ./tickpipe-data                    # ./tickpipe-data/report.html
 * tickpipe report --out ./tickpipe-data --output /tmp/r.html
 * ```
 */
import { parseFlags } from '../args.js';
import type { Command } from './command.js';

const HELP = `Usage: tickpipe report --out DIR [--output FILE]

Writes a single HTML file (inline SVG charts and CSS, no script, no network references): throughput
and requests/s against the quota over time, 429s and failures over time, events by type and by
session, per-worker progress. Safe while a run is active (it only reads).

Options:
  --out DIR        run folder (default ./tickpipe-data)
  --output FILE    where to write (default DIR/report.html); written atomically
  -h, --help       this help`;

const FLAGS = {
  out: { type: 'string' },
  output: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const reportCommand: Command = {
  name: 'report',
  summary: 'write a self-contained HTML report (charts of throughput, quota, 429s, events, workers)',
  async run(argv, io) {
    const { values } = parseFlags('report', argv, FLAGS);
    if (values.help) {
      io.stdout.write(HELP + '\n');
      return 0;
    }
    const { writeReport } = await import('../ops/report.js');
    const { path, data } = await writeReport(values.out ?? 'tickpipe-data', values.output === undefined ? {} : { output: values.output });
    io.stdout.write(`report written to ${path} (${data.heartbeatLines} heartbeat lines, ${data.events} events, ${data.workers.length} workers)\n`);
    return 0;
  },
};
