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
import { parseDuration } from '../args.js';
import { UsageError } from '../errors.js';
import { commandHelp, type CommandIo, defineCommand, JSON_FLAG, OUT_FLAG, OUT_OPTION, outDir } from './command.js';
import { ProgressView } from './progress-view.js';
import { DIR_NAMES, HEARTBEAT_FILE_RE, heartbeatPath, LOG_NAMES, REL_PATHS } from '../run-folder/layout.js';

const HELP = commandHelp(
  `Usage: tickpipe tail --out DIR [--once] [--json] [--stall-after 60s]

A live view of a run: per worker (detect) and partition (ingest) the last symbol or event,
done/total, items/s, requests/s against the quota, 429s and failures in the last minute, ETA, and a
warning for workers silent longer than --stall-after. Follows ${REL_PATHS.heartbeat} (it may not
exist yet) and state/. Stop with Ctrl-C (exit 0).`,
  23,
  [
    OUT_OPTION,
    ['--once', 'print the current view and exit'],
    ['--json', 'one JSON object per update, one line each (for other tools)'],
    ['--stall-after D', 'silence that makes a worker "stalled" (default 60s)'],
    ['--poll D', `read the files every D (e.g. 1s) instead of waiting for change events: for\nnetwork drives (SMB/NFS), where those do not arrive (1s by default on \\\\server paths)`],
  ],
);

export const tailCommand = defineCommand({
  name: 'tail',
  help: HELP,
  flags: { ...OUT_FLAG, once: { type: 'boolean' }, ...JSON_FLAG, 'stall-after': { type: 'string' }, poll: { type: 'string' } },
  async run(values, io) {
    const stallAfterMs = values['stall-after'] === undefined ? 60_000 : parseDuration('--stall-after', values['stall-after']);
    if (!(stallAfterMs > 0)) throw new UsageError(`--stall-after: expected a duration above zero, got ${JSON.stringify(values['stall-after'])}`);
    const { openRunFolder } = await import('../run-folder/index.js');
    const { dir } = await openRunFolder(outDir(values));
    const pollMs = values.poll === undefined ? (isNetworkPath(dir) ? 1_000 : undefined) : parseDuration('--poll', values.poll);
    if (pollMs !== undefined && !(pollMs >= 50)) throw new UsageError(`--poll: expected an interval of at least 50ms, got ${JSON.stringify(values.poll)}`);
    return tail(dir, { once: values.once ?? false, json: values.json ?? false, stallAfterMs, pollMs }, io);
  },
});

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

type TailModule = typeof import('../ops/tail.js');
type TailState = ReturnType<TailModule['emptyTailState']>;

/**
 * The followed files and the folded state: the one-host heartbeat, every cluster host's heartbeat
 * file (found as they appear), and state/ on disk.
 */
class RunFollower {
  state: TailState;
  #followers: Map<string, InstanceType<TailModule['FileFollower']>>;
  readonly #disk: InstanceType<TailModule['StateReader']>;

  constructor(
    readonly dir: string,
    private readonly m: TailModule,
    private readonly heartbeatFiles: (dir: string) => Promise<string[]>,
  ) {
    const hbPath = heartbeatPath(dir);
    this.state = m.emptyTailState();
    this.#followers = new Map([[hbPath, new m.FileFollower(hbPath)]]);
    this.#disk = new m.StateReader(dir);
  }

  /** Folds what every heartbeat file gained, and re-reads state/. */
  async readAll(): Promise<void> {
    const { m } = this;
    for (const f of await this.heartbeatFiles(this.dir)) if (!this.#followers.has(f)) this.#followers.set(f, new m.FileFollower(f));
    let reset = false;
    for (const follower of this.#followers.values()) await follower.poll((line) => void m.foldHeartbeat(this.state, line), () => (reset = true));
    if (reset) {
      // A rotated or truncated file starts a fresh history: the old counters no longer match it.
      const d = this.state.disk;
      this.state = m.withDisk(m.emptyTailState(), d);
      this.#followers = new Map([...this.#followers.keys()].map((f) => [f, new m.FileFollower(f)]));
      for (const follower of this.#followers.values()) await follower.poll((line) => void m.foldHeartbeat(this.state, line), () => undefined);
    }
    m.withDisk(this.state, await this.#disk.refresh());
  }
}

/** Prints the view: redrawn in place, or one JSON line per real change. */
class TailOutput {
  readonly #pv: ProgressView | undefined;
  #lastJson = '';

  constructor(
    private readonly io: CommandIo,
    private readonly json: boolean,
    private readonly render: (v: TailViewData) => string[],
  ) {
    this.#pv = json ? undefined : new ProgressView({ stream: io.stdout });
  }

  emit(v: TailViewData): void {
    if (!this.json) {
      this.#pv!.update(() => this.render(v));
      return;
    }
    // Print only real changes: the clock alone moving is not an update.
    const key = JSON.stringify({ ...v, at: '', workers: v.workers.map((w) => ({ ...w, silentSec: 0 })) });
    if (key === this.#lastJson) return;
    this.#lastJson = key;
    this.io.stdout.write(JSON.stringify(v) + '\n');
  }

  end(): void {
    this.#pv?.end();
  }
}

/** Runs `step` on each request, one at a time: requests arriving during one cause exactly one more. */
class SerializedUpdates {
  #running: Promise<void> | undefined;
  #dirty = false;

  constructor(
    private readonly step: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  readonly request = (): void => {
    if (this.#running) {
      this.#dirty = true;
      return;
    }
    this.#running = (async () => {
      do {
        this.#dirty = false;
        await this.step();
      } while (this.#dirty);
    })()
      .catch(this.onError)
      .finally(() => (this.#running = undefined));
  };

  /** Waits for the update under way, if any. */
  async settle(): Promise<void> {
    await this.#running?.catch(() => undefined);
  }
}

/** Watches the heartbeats and state/ (never windows/, which can hold a million folders). */
function watchRunFolder(dir: string, pollMs: number | undefined, onChange: () => void, onError: (err: unknown) => void): FSWatcher {
  const wanted = tailWatchFilter(dir);
  const watcher: FSWatcher = watch(dir, {
    ignoreInitial: true,
    depth: 2,
    ignored: (p: string) => !wanted(p),
    ...(pollMs !== undefined ? { usePolling: true, interval: pollMs, binaryInterval: pollMs } : {}),
  });
  watcher.on('all', onChange);
  watcher.on('error', onError);
  watcher.on('ready', onChange); // catch what was appended while the watcher started
  return watcher;
}

async function tail(dir: string, opts: TailOptions, io: CommandIo): Promise<number> {
  const m = await import('../ops/tail.js');
  const { heartbeatFiles } = await import('../ops/hosts-view.js');
  const run = new RunFollower(dir, m, heartbeatFiles);
  await run.readAll();
  const view = (): TailViewData => m.tailView(run.state, Date.now(), { stallAfterMs: opts.stallAfterMs });
  if (opts.once) {
    const v = view();
    io.stdout.write(opts.json ? JSON.stringify(v) + '\n' : m.renderTail(v).join('\n') + '\n');
    return 0;
  }
  return follow(run, view, opts, io, m);
}

/** The live part of `tail`: redraws on every change and when a worker turns stalled, until a signal or an error. */
async function follow(run: RunFollower, view: () => TailViewData, opts: TailOptions, io: CommandIo, m: TailModule): Promise<number> {
  const out = new TailOutput(io, opts.json, m.renderTail);
  const emit = (): void => out.emit(view());
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  let failure: unknown;
  const fail = (err: unknown): void => {
    failure = err;
    stop();
  };
  let stallTimer: NodeJS.Timeout | undefined;
  const armStallTimer = (): void => {
    if (stallTimer) clearTimeout(stallTimer);
    stallTimer = undefined;
    const at = m.nextStallAt(run.state, Date.now(), opts.stallAfterMs);
    if (at !== undefined) stallTimer = setTimeout(emit, Math.max(0, at - Date.now()));
  };
  const updates = new SerializedUpdates(async () => {
    await run.readAll();
    emit();
    armStallTimer();
  }, fail);
  const watcher = watchRunFolder(run.dir, opts.pollMs, updates.request, fail);
  const onSignal = (): void => stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  emit();
  armStallTimer();
  try {
    await stopped;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (stallTimer) clearTimeout(stallTimer);
    await watcher.close();
    await updates.settle();
    out.end();
  }
  if (failure !== undefined) throw failure;
  return 0;
}
