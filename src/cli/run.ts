import { FLAGS } from './run-flags.js';
import { commandHelp, defineCommand, OUT_OPTION } from './command.js';

export { FLAGS, parseWindow, usesEmbeddedSim, type RunValues } from './run-flags.js';

/*
 * Only what `run --help` and flag parsing need is loaded here; the job itself (Polars, the
 * pipeline) is in run-job.ts and loaded when a run starts, so help and usage errors are instant.
 */

const HELP = commandHelp(
  `Usage: tickpipe run [options]

Runs stage 1 (detect events from minute bars), consolidates the manifest, then stage 2 (download
the trades and quotes around every event). Every item is committed exactly once; rerunning resumes.
With --sim, or with no --base-url and no API key, it runs on the embedded simulator (a demo
universe unless --universe is given); \`npm start\` is \`tickpipe run --sim\`.`,
  27,
  [
    ['--stage detect|ingest', 'run one stage only (default: both, with consolidate between)'],
    ['--universe FILE', 'symbols: .txt (one a line, # comments), .csv or .parquet (symbol|ticker column)'],
    ['--from YYYY-MM-DD', 'first day of minute bars (inclusive)'],
    ['--to YYYY-MM-DD', 'last day (inclusive)'],
    OUT_OPTION,
    ['--workers N', 'stage-1 worker partitions (default 4)'],
    ['--batch-size B', 'symbols per stage-1 shard (default 50)'],
    ['--concurrency C', 'symbols in flight per worker (default 4) / windows in flight (default 64)'],
    ['--rate R', `requests per second for this process, e.g. 100/s or 300/min\n(default 100/s, divided by N with --partition i/N; the simulator's quota on the demo)`],
    ['--adaptive', 'lower the rate on 429s (AIMD) and recover it slowly'],
    ['--max-server-pause D', `longest pause a 429's Retry-After may impose, e.g. 90s (default 60s)`],
    ['--partition i/N', 'run only share i of N (separate processes on one run folder)'],
    ['--manifest FILE', 'stage-2 events (Parquet/CSV: symbol, event_type, timestamp); default events/events.parquet'],
    ['--window -10m,+20m', 'time around each event (default -10m,+20m)'],
    ['--quotes-hz H', 'quotes kept per second, last NBBO per bucket; 0 keeps all (default 1)'],
    ['--retry-failed', 'try events of the failure journal again'],
    ['--detectors a,b', `detectors to run (default all: opening_range_break,vwap_break,flush,volume_spike,\nplus every detector of --detector-module)`],
    ['--detector-module FILE', `ES module whose default export or \`detectors\` export is a Detector or an array of them`],
    ['--base-url URL', 'API origin (default https://api.polygon.io when a key is given)'],
    ['--api-key KEY', `API key (default $POLYGON_API_KEY); never logged or written, but visible\nto every user of this machine in \`ps\` while the run lasts: prefer\nPOLYGON_API_KEY or --api-key-file`],
    ['--api-key-file FILE', 'read the API key from the first line of FILE'],
    ['--steal-locks', 'take over partition locks held by another live process or host'],
    ['--sim', 'use the embedded simulator even when POLYGON_API_KEY is set'],
    ['--sim-seed N', 'seed of the embedded simulator (default 7)'],
    ['--no-progress', 'no live view; plain lines only'],
    ['--cluster URL', `several hosts: enqueue the run's work on Redis (redis://HOST:PORT, default\n$TICKPIPE_REDIS_URL) and work on it; \`tickpipe worker\` on other hosts joins.\n--rate is then the combined rate of every host (one bucket in Redis)`],
    ['--no-compact', 'do not compact the windows into dataset/ (during and at the end of ingest)'],
    ['--remove-windows', 'remove each window folder once compacted (default: keep them)'],
  ],
);

export const runCommand = defineCommand({
  name: 'run',
  help: HELP,
  flags: FLAGS,
  async run(values, io) {
    const { runJob } = await import('./run-job.js');
    return runJob(values, io);
  },
});

