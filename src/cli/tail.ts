/**
 * `tickpipe tail`: a live view of a run folder, driven by chokidar events on
 * the heartbeat files and `state/` (no polling loop of its own). The model lives in
 * src/ops/tail.ts; this file only wires files, timers and output.
 *
 * @example
 * ```sh
 * tickpipe tail --out ./tickpipe-data              # redraws in place on a TTY
 * tickpipe tail --out ./tickpipe-data --once       # prints the current view and exits
 * tickpipe tail --out ./tickpipe-data --json | jq  # one JSON object per update
 * ```
 */
import * as nodePath from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { TailViewData } from '../ops/tail.js';
import { parseDuration, parseFlags } from '../args.js';
import { UsageError } from '../errors.js';
import type { Command, CommandIo } from './command.js';
import { ProgressView } from './progress-view.js';
import { DIR_NAMES, HEARTBEAT_FILE_RE, heartbeatPath, LOG_NAMES, REL_PATHS } from '../run-folder/layout.js';

const HELP = `Usage: tickpipe tail --out DIR [--once] [--json] [--stall-after 60s]

A live view of a run: per worker (detect) and partition (ingest) the last symbol or event,
done/total, items/s, requests/s against the quota, 429s and failures in the last minute, ETA, and a
warning for workers silent longer than --stall-after. Follows ${REL_PATHS.heartbeat} (it may not
exist yet) and state/. Stop with Ctrl-C (exit 0).

Options:
  --out DIR            run folder (default ./tickpipe-data)
  --once               print the current view and exit
  --json               one JSON object per update, one line each (for other tools)
  --stall-after D      silence that makes a worker "stalled" (default 60s)
  --poll D             read the files every D (e.g. 1s) instead of waiting for change events: for
                       network drives (SMB/NFS), where those do not arrive (1s by default on \\\\server paths)
  -h, --help           this help`;

const FLAGS = {
  out: { type: 'string' },
  once: { type: 'boolean' },
  json: { type: 'boolean' },
  'stall-after': { type: 'string' },
  poll: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const tailCommand: Command = {
  name: 'tail',
  summary: 'live view of a run folder: per-worker progress, rates, 429s, ETA, stalls',
  async run(argv, io) {
    const { values } = parseFlags('tail', argv, FLAGS);
    if (values.help) {
      io.stdout.write(HELP + '\n');
      return 0;
    }
    const stallAfterMs = values['stall-after'] === undefined ? 60_000 : parseDuration('--stall-after', values['stall-after']);
    if (!(stallAfterMs > 0)) throw new UsageError(`--stall-after: expected a duration above zero, got ${JSON.stringify(values['stall-after'])}`);
    const { openRunFolder } = await import('../run-folder/index.js');
    const { dir } = await openRunFolder(values.out ?? 'tickpipe-data');
    const pollMs = values.poll === undefined ? (isNetworkPath(dir) ? 1_000 : undefined) : parseDuration('--poll', values.poll);
    if (pollMs !== undefined && !(pollMs >= 50)) throw new UsageError(`--poll: expected an interval of at least 50ms, got ${JSON.stringify(values.poll)}`);
    return tail(dir, { once: values.once ?? false, json: values.json ?? false, stallAfterMs, pollMs }, io);
  },
};

interface TailOptions {
  readonly once: boolean;
  readonly json: boolean;
  readonly stallAfterMs: number;
  /** Poll every this many ms instead of relying on change events (network drives). */
  readonly pollMs: number | undefined;
}

/** A UNC path (`\\\\server\\share\\…`): SMB, where file-change events are unreliable. */
export function isNetworkPath(dir: string): boolean {
  return /^(\\\\|\/\/)[^\\/]/.test(dir);
}

/**
 * Which paths under the run folder `tail` watches: the folder, logs/, the heartbeat and state/
 * (never windows/, which can hold a million folders). Built with the platform's path module, so a
 * Windows folder (backslashes) matches as well as a POSIX one.
 */
export function tailWatchFilter(dir: string, path: Pick<typeof nodePath, 'join' | 'sep'> = nodePath): (p: string) => boolean {
  const watched = new Set([path.join(dir, DIR_NAMES.logs), path.join(dir, DIR_NAMES.logs, LOG_NAMES.heartbeat), path.join(dir, DIR_NAMES.state)]);
  const stateRoot = path.join(dir, DIR_NAMES.state) + path.sep;
  const logsRoot = path.join(dir, DIR_NAMES.logs) + path.sep;
  // Cluster mode: every host's process writes logs/heartbeat.slot-K.ndjson.
  const slotHeartbeat = (p: string) => p.startsWith(logsRoot) && HEARTBEAT_FILE_RE.test(p.slice(logsRoot.length));
  return (p: string) => p === dir || watched.has(p) || p.startsWith(stateRoot) || slotHeartbeat(p);
}

async function tail(dir: string, opts: TailOptions, io: CommandIo): Promise<number> {
  const { emptyTailState, FileFollower, foldHeartbeat, nextStallAt, renderTail, StateReader, tailView, withDisk } = await import('../ops/tail.js');
  const { heartbeatFiles } = await import('../run-folder/folder.js');
  const hbPath = heartbeatPath(dir);
  let state = emptyTailState();
  // The one-host heartbeat, and in cluster mode one file per host process (found as they appear).
  let followers = new Map<string, InstanceType<typeof FileFollower>>([[hbPath, new FileFollower(hbPath)]]);
  const disk = new StateReader(dir);
  const readAll = async (): Promise<void> => {
    for (const f of await heartbeatFiles(dir)) if (!followers.has(f)) followers.set(f, new FileFollower(f));
    let reset = false;
    for (const follower of followers.values()) await follower.poll((line) => void foldHeartbeat(state, line), () => (reset = true));
    if (reset) {
      // A rotated or truncated file starts a fresh history: the old counters no longer match it.
      const d = state.disk;
      state = withDisk(emptyTailState(), d);
      followers = new Map([...followers.keys()].map((f) => [f, new FileFollower(f)]));
      for (const follower of followers.values()) await follower.poll((line) => void foldHeartbeat(state, line), () => undefined);
    }
    withDisk(state, await disk.refresh());
  };
  await readAll();
  const view = (): TailViewData => tailView(state, Date.now(), { stallAfterMs: opts.stallAfterMs });

  if (opts.once) {
    const v = view();
    io.stdout.write(opts.json ? JSON.stringify(v) + '\n' : renderTail(v).join('\n') + '\n');
    return 0;
  }

  const pv = opts.json ? undefined : new ProgressView({ stream: io.stdout });
  let lastJson = '';
  const emit = (): void => {
    const v = view();
    if (opts.json) {
      // Print only real changes: the clock alone moving is not an update.
      const key = JSON.stringify({ ...v, at: '', workers: v.workers.map((w) => ({ ...w, silentSec: 0 })) });
      if (key === lastJson) return;
      lastJson = key;
      io.stdout.write(JSON.stringify(v) + '\n');
    } else {
      pv!.update(() => renderTail(v));
    }
  };

  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  let stallTimer: NodeJS.Timeout | undefined;
  const armStallTimer = (): void => {
    if (stallTimer) clearTimeout(stallTimer);
    stallTimer = undefined;
    const at = nextStallAt(state, Date.now(), opts.stallAfterMs);
    if (at !== undefined) stallTimer = setTimeout(emit, Math.max(0, at - Date.now()));
  };

  // Updates are serialized: events arriving during one set `dirty` and cause exactly one more.
  let running: Promise<void> | undefined;
  let dirty = false;
  let failure: unknown;
  const update = (): void => {
    if (running) {
      dirty = true;
      return;
    }
    running = (async () => {
      do {
        dirty = false;
        await readAll();
        emit();
        armStallTimer();
      } while (dirty);
    })()
      .catch((err: unknown) => {
        failure = err;
        stop();
      })
      .finally(() => (running = undefined));
  };

  const wanted = tailWatchFilter(dir);
  const watcher: FSWatcher = watch(dir, {
    ignoreInitial: true,
    depth: 2,
    // Only the heartbeat and state/: windows/ can hold a million folders.
    ignored: (p: string) => !wanted(p),
    ...(opts.pollMs !== undefined ? { usePolling: true, interval: opts.pollMs, binaryInterval: opts.pollMs } : {}),
  });
  watcher.on('all', () => update());

  const onSignal = (): void => stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  watcher.on('error', (err) => {
    failure = err;
    stop();
  });
  watcher.on('ready', () => update()); // catch what was appended while the watcher started
  emit();
  armStallTimer();
  try {
    await stopped;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (stallTimer) clearTimeout(stallTimer);
    await watcher.close();
    await running?.catch(() => undefined);
    pv?.end();
  }
  if (failure !== undefined) throw failure;
  return 0;
}
