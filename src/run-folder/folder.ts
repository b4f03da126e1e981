/**
 * Opening a run folder and listing what is in it: run.json, the journals (one-host and cluster
 * ones alike: a cluster slot's journals are named like a worker's), the locks and their holders,
 * the window folders. Plus the small helpers every reader needs (bounded concurrency, throttled
 * progress). Everything here only reads, so it is safe while a run is active in another process.
 *
 * @example
 * ```ts
 * import { openRunFolder, listJournals } from 'tickpipe/ops';
 * const { dir, spec } = await openRunFolder('./tickpipe-data');
 * const { detect, ingest } = await listJournals(dir);
 * ```
 */
import { readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { InputError, LockedError } from '../errors.js';
import { describeLock, isLockStale, isProcessAlive, readLock, type LockInfo } from './lock-file.js';
import { readRunSpec, type StoredRunSpec } from './run-spec.js';
import {
  datasetPaths,
  EVENT_DIR_PREFIX,
  HEARTBEAT_FILE_RE,
  LOG_NAMES,
  logsDir,
  FAILED_JOURNAL_RE,
  PART_JOURNAL_RE,
  PART_LOCK_RE,
  stateDirs,
  SYMBOL_DIR_PREFIX,
  windowsRoot,
  WORKER_JOURNAL_RE,
  WORKER_LOCK_RE,
} from './layout.js';

/** A run folder: its absolute path and run.json. */
export interface RunFolder {
  readonly dir: string;
  readonly spec: StoredRunSpec;
}

/**
 * Resolves `outDir` and reads its run.json.
 *
 * @throws InputError (one line) when the folder has no run.json, or run.json is not a run spec.
 */
export async function openRunFolder(outDir: string): Promise<RunFolder> {
  if (typeof outDir !== 'string' || outDir.length === 0) {
    throw new InputError(`run folder must be a non-empty path, got ${JSON.stringify(outDir)} (${typeof outDir})`);
  }
  const dir = resolve(outDir);
  const spec = await readRunSpec(dir);
  if (!spec) throw new InputError(`not a tickpipe run folder (no run.json): ${outDir}`);
  return { dir, spec };
}

/** A journal file with its worker or partition number. */
export interface JournalFile {
  readonly index: number;
  readonly path: string;
  readonly name: string;
}

/** The journals of a run folder, sorted by index. */
export interface JournalFiles {
  readonly detect: readonly JournalFile[];
  readonly ingest: readonly JournalFile[];
  readonly failed: readonly JournalFile[];
}

/** Names in `dir`, or [] when it does not exist. */
export async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw err;
  }
}

function pick(dir: string, names: readonly string[], re: RegExp): JournalFile[] {
  const out: JournalFile[] = [];
  for (const name of names) {
    const m = re.exec(name);
    if (m) out.push({ index: Number(m[1]), path: join(dir, name), name });
  }
  return out.sort((a, b) => a.index - b.index);
}

/** Lists `state/detect/worker-*.jsonl`, `state/ingest/part-*.jsonl` and `part-*.failed.jsonl`. */
export async function listJournals(dir: string): Promise<JournalFiles> {
  const s = stateDirs(dir);
  const [d, i] = await Promise.all([namesIn(s.detect), namesIn(s.ingest)]);
  return { detect: pick(s.detect, d, WORKER_JOURNAL_RE), ingest: pick(s.ingest, i, PART_JOURNAL_RE), failed: pick(s.ingest, i, FAILED_JOURNAL_RE) };
}

/** What a lock file says about its holder. */
export type LockStateKind =
  /** Holder on this host, pid alive. */
  | 'live'
  /** Holder on this host, pid dead: the next run recovers it. */
  | 'stale'
  /** Holder on another host: cannot be checked, so treated as live. */
  | 'foreign'
  /** The lock file cannot be parsed: a run recovers it like a stale one. */
  | 'unreadable';

/** One lock file of a run folder. */
export interface LockState {
  readonly stage: 'detect' | 'ingest';
  /** Worker (detect) or partition (ingest) number. */
  readonly index: number;
  readonly path: string;
  readonly state: LockStateKind;
  readonly info: LockInfo | null;
}

/** Options of {@link readLocks}. */
export interface ReadLocksOptions {
  /** Liveness check of a pid on this host. @default isProcessAlive (signal 0) */
  readonly processAlive?: (pid: number) => boolean;
  /** This host's name. @default os.hostname() */
  readonly host?: string;
}

/** Every `worker-K.lock` and `part-K.lock` of the folder, with the state of its holder. */
export async function readLocks(dir: string, opts?: ReadLocksOptions): Promise<LockState[]> {
  const alive = opts?.processAlive ?? isProcessAlive;
  const host = opts?.host ?? hostname();
  const s = stateDirs(dir);
  const found: Array<{ stage: 'detect' | 'ingest'; f: JournalFile }> = [
    ...pick(s.detect, await namesIn(s.detect), WORKER_LOCK_RE).map((f) => ({ stage: 'detect' as const, f })),
    ...pick(s.ingest, await namesIn(s.ingest), PART_LOCK_RE).map((f) => ({ stage: 'ingest' as const, f })),
  ];
  const out: LockState[] = [];
  for (const { stage, f } of found) {
    const info = await readLock(f.path);
    if (info === undefined) continue; // released meanwhile
    out.push({ stage, index: f.index, path: f.path, state: holderState(info, host, alive), info });
  }
  return out;
}

function holderState(info: LockInfo | null, host: string, alive: (pid: number) => boolean): LockStateKind {
  return info === null ? 'unreadable' : info.host !== host ? 'foreign' : isLockStale(info, { host, alive }) ? 'stale' : 'live';
}

/** The compaction's lock, `state/compact/compact.lock` (one compaction at a time). */
export interface CompactLockState {
  readonly path: string;
  readonly state: LockStateKind;
  readonly info: LockInfo | null;
}

/**
 * The compaction's lock with the state of its holder, or undefined when there is none. Apart from
 * {@link readLocks}, whose locks are one per worker or partition and which `run`, `clean` and
 * `reconcile` refuse on; a stale one is left by a compaction that was killed, and the next one
 * finishes or discards its staged parts.
 */
export async function readCompactLock(dir: string, opts?: ReadLocksOptions): Promise<CompactLockState | undefined> {
  const path = datasetPaths(dir).lock;
  const info = await readLock(path);
  if (info === undefined) return undefined;
  return { path, state: holderState(info, opts?.host ?? hostname(), opts?.processAlive ?? isProcessAlive), info };
}

/** Whether a lock may belong to a running process (live, or on another host). */
export function mayBeHeld(l: Pick<LockState, 'state'>): boolean {
  return l.state === 'live' || l.state === 'foreign';
}

/** "state/ingest/part-0.lock is held by pid 123 on host-a since …". */
export function describeHolder(l: Pick<LockState, 'path' | 'state' | 'info'>): string {
  const who = l.info ? describeLock(l.info) : 'an unreadable lock file';
  const why = l.state === 'foreign' ? ' (another host: liveness cannot be checked)' : '';
  return `${l.path} is held by ${who}${why}`;
}

/**
 * Throws a LockedError naming the first lock of `locks` that may be held by a running process.
 * `doing` completes "refusing to …".
 */
export function refuseIfHeld(locks: readonly LockState[], doing: string): void {
  const held = locks.filter(mayBeHeld);
  if (held.length === 0) return;
  const more = held.length > 1 ? ` (and ${held.length - 1} more lock${held.length > 2 ? 's' : ''})` : '';
  throw new LockedError(`refusing to ${doing} while a run may be active: ${describeHolder(held[0]!)}${more}; stop it first`);
}

/**
 * Runs `fn` over `items` (any iterable or async iterable, consumed lazily) with at most `limit`
 * calls in flight. Rejects with the first error after in-flight calls settle.
 */
export async function forEachConcurrent<T>(
  items: Iterable<T> | AsyncIterable<T>,
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  if (!Number.isInteger(limit) || limit < 1) throw new InputError(`forEachConcurrent: limit must be a whole number >= 1, got ${String(limit)}`);
  const it = (Symbol.asyncIterator in items ? (items as AsyncIterable<T>)[Symbol.asyncIterator]() : (items as Iterable<T>)[Symbol.iterator]()) as
    | AsyncIterator<T>
    | Iterator<T>;
  let failed: { err: unknown } | undefined;
  let done = false;
  const worker = async (): Promise<void> => {
    while (!done && !failed) {
      const next = await it.next();
      if (next.done) {
        done = true;
        return;
      }
      try {
        await fn(next.value);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  if (failed) throw failed.err;
}

/** One event-window folder found on disk. */
export interface WindowDir {
  readonly symbol: string;
  readonly event: string;
  readonly dir: string;
  /** Names in the folder. */
  readonly names: readonly string[];
}

/**
 * Walks `windows/symbol=S/event=ID/` lazily, one folder listing per window (a million windows
 * never sit in memory at once). Entries not of that shape are skipped.
 */
export async function* walkWindows(dir: string): AsyncGenerator<WindowDir> {
  const root = windowsRoot(dir);
  for (const s of (await namesIn(root)).sort()) {
    if (!s.startsWith(SYMBOL_DIR_PREFIX)) continue;
    const sdir = join(root, s);
    for (const e of (await namesIn(sdir)).sort()) {
      if (!e.startsWith(EVENT_DIR_PREFIX)) continue;
      const edir = join(sdir, e);
      yield { symbol: s.slice(SYMBOL_DIR_PREFIX.length), event: e.slice(EVENT_DIR_PREFIX.length), dir: edir, names: await namesIn(edir) };
    }
  }
}

/**
 * Every file under `dir` (recursively) except below the folders in `skip` (absolute paths),
 * yielded as absolute paths.
 */
export async function* walkFiles(dir: string, skip: ReadonlySet<string> = new Set()): AsyncGenerator<string> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
    throw err;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (!skip.has(p)) yield* walkFiles(p, skip);
    } else {
      yield p;
    }
  }
}

/** Progress reporter that writes at most once per `everyMs` (no-op without a callback). */
export function throttled(onProgress: ((msg: string) => void) | undefined, everyMs = 2_000): (msg: () => string) => void {
  let last = Date.now();
  return (msg) => {
    if (!onProgress) return;
    const now = Date.now();
    if (now - last < everyMs) return;
    last = now;
    onProgress(msg());
  };
}

/** Every heartbeat file of a run folder (the one-host file first, then each slot's). */
export async function heartbeatFiles(outDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(logsDir(outDir));
  } catch {
    return [];
  }
  return names
    .filter((n) => HEARTBEAT_FILE_RE.test(n))
    .sort((a, b) => (a === LOG_NAMES.heartbeat ? -1 : b === LOG_NAMES.heartbeat ? 1 : a.localeCompare(b, 'en', { numeric: true })))
    .map((n) => join(logsDir(outDir), n));
}

