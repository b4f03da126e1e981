import { parseIntInRange } from '../args.js';
import { DEFAULT_OUT_DIR } from '../run-folder/layout.js';
import { commandHelp, defineCommand, OUT_FLAG, outDir } from './command.js';
import { exitStatusForSignal, gracefulStop } from '../signals.js';

const HELP = commandHelp(
  `Usage: tickpipe worker --cluster redis://HOST:PORT --out DIR [options]

Joins the cluster run of DIR (a folder every host mounts) that \`tickpipe run --cluster\` started,
takes its jobs (stage-1 symbols, then stage-2 windows) until the run is done, and exits 0.
Start it on any number of hosts, before or after the run starts; a host that dies loses nothing
(its jobs go to the others). The data source comes from DIR/run.json; the API key from this host.
When stage 2 is finished, the process that finds it so compacts the windows into DIR/dataset/
(unless the run was started with --no-compact); every process exits once that is done.`,
  27,
  [
    ['--cluster URL', 'Redis of the run (default $TICKPIPE_REDIS_URL)'],
    ['--out DIR', `the run folder (default ./${DEFAULT_OUT_DIR})`],
    ['--concurrency C', 'windows in flight in this process (default 64)'],
    ['--detect-concurrency C', 'symbols in flight in this process (default 16)'],
    ['--api-key KEY', 'API key (default $POLYGON_API_KEY); never logged, never sent to Redis'],
    ['--base-url URL', `reach the API by another address than run.json's (same API)`],
    ['--detector-module FILE', `the run's --detector-module, if it used one`],
  ],
);

export const workerCommand = defineCommand({
  name: 'worker',
  help: HELP,
  flags: {
    cluster: { type: 'string' },
    ...OUT_FLAG,
    concurrency: { type: 'string' },
    'detect-concurrency': { type: 'string' },
    'api-key': { type: 'string' },
    'base-url': { type: 'string' },
    'detector-module': { type: 'string' },
  },
  async run(values, io) {
    const url = (await import('../cluster/url.js')).clusterUrl(values.cluster, io.env);
    if (url === undefined) {
      const { UsageError } = await import('../errors.js');
      throw new UsageError('--cluster redis://HOST:PORT (or TICKPIPE_REDIS_URL) is required');
    }
    const concurrency = values.concurrency === undefined ? undefined : parseIntInRange('--concurrency', values.concurrency, 1, 4096);
    const detectConcurrency = values['detect-concurrency'] === undefined ? undefined : parseIntInRange('--detect-concurrency', values['detect-concurrency'], 1, 4096);
    const { runWorkerCommand } = await import('../cluster/cli.js');
    const stop = gracefulStop((sig) => io.stderr.write(`tickpipe worker: ${sig} received: finishing jobs in flight (again to stop at once)\n`), () => undefined);
    try {
      const r = await runWorkerCommand({
        io,
        url,
        out: outDir(values),
        apiKey: values['api-key'] ?? io.env.POLYGON_API_KEY,
        baseUrl: values['base-url'],
        detectorModule: values['detector-module'],
        concurrency,
        detectConcurrency,
        signal: stop.signal,
      });
      if (r) {
        io.stdout.write(
          `worker slot ${r.slot}: ${r.symbols} symbols (${r.symbolsFailed} failed), ${r.windows} windows (${r.windowsFailed} failed), ${r.skippedCommitted} re-delivered jobs already committed; run ${r.phase ?? 'state unknown'}\n`,
        );
      }
      const sig = stop.received();
      if (sig) return exitStatusForSignal(sig);
      return r && r.symbolsFailed + r.windowsFailed > 0 ? 1 : 0;
    } finally {
      stop.dispose();
    }
  },
});
