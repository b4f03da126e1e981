/**
 * Partition lock files: one writer per journal.
 *
 * The lock is created atomically and complete: its JSON content (`{pid, host, startedAt, command?,
 * token}` — never secrets) is written and fsync'd to a tmp file which is then hard-linked onto the
 * lock name (`link` fails with EEXIST if the lock exists, like O_EXCL, but a reader can never see an
 * empty or half-written lock).
 *
 * If the lock exists: when the holder is on this host and its pid is dead (`process.kill(pid, 0)`
 * → ESRCH) the lock is stale and is recovered (`handle.recovered` names the dead holder); when the
 * holder is alive or on another host a {@link LockedError} names it (pid, host, since) unless
 * `steal: true` (then `handle.stolen` is true). Removal of a stale lock renames it aside first and
 * checks it is still the same lock, so two processes recovering at once cannot delete each other's
 * fresh lock.
 *
 * @example
 * ```ts
 * import { acquireLock } from 'tickpipe/sinks';
 * const lock = await acquireLock('/out/state/detect/worker-0.lock', { command: 'tickpipe run' });
 * if (lock.recovered) log.warn({ holder: lock.recovered }, 'recovered stale lock');
 * try { ... } finally { await lock.release(); }
 * ```
 */
import { randomBytes } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { InputError, LockedError } from '../errors.js';
import { errnoCode, isNotFound, nodeFs, type FsLayer } from './fs-layer.js';
import { toDiskError } from './paths.js';
import { tmpFinalName, tmpPathFor } from './publish-atomically.js';

/** Content of a lock file. */
export interface LockInfo {
  readonly pid: number;
  readonly host: string;
  /** ISO-8601 UTC time the lock was taken. */
  readonly startedAt: string;
  /** What holds it, e.g. "tickpipe run --stage detect" (secrets redacted). */
  readonly command?: string;
  /** Random token telling this lock apart from a later one of the same pid. */
  readonly token: string;
}

/** Options of {@link acquireLock}. */
export interface AcquireLockOptions {
  /** Take the lock even when its holder is alive or on another host. @default false */
  readonly steal?: boolean;
  /** Filesystem layer. @default nodeFs */
  readonly fs?: FsLayer;
  /** Recorded in the lock for status commands; `--api-key`/`apiKey=` values are redacted. @default undefined */
  readonly command?: string;
  /** Whether a pid on this host is alive. @default `process.kill(pid, 0)` (ESRCH → dead) */
  readonly processAlive?: (pid: number) => boolean;
  /** This host's name. @default os.hostname() */
  readonly host?: string;
  /** This process's pid. @default process.pid */
  readonly pid?: number;
}

/** A held lock. */
export interface LockHandle {
  readonly path: string;
  readonly info: LockInfo;
  /** The dead holder whose stale lock was recovered, if any. */
  readonly recovered: LockInfo | undefined;
  /** True when a live (or foreign-host) holder's lock was taken with `steal`. */
  readonly stolen: boolean;
  /** Removes the lock if it is still ours; returns whether it removed it. Idempotent. */
  release(): Promise<boolean>;
}

/** Default liveness check: signal 0. ESRCH → dead; EPERM → alive (another user's process). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) !== 'ESRCH';
  }
}

/** Redacts API keys (flags, `apiKey=` query members, Bearer tokens) from text before it is stored anywhere. */
export function redactSecrets(command: string): string {
  return command
    .replace(/(--api-key|--apikey|--key|--token)(=|\s+)\S+/gi, '$1$2[redacted]')
    .replace(/(apiKey|api_key|token|key)=([^&\s]+)/gi, '$1=[redacted]')
    .replace(/(Bearer\s+)\S+/gi, '$1[redacted]');
}

/** One-line description of a holder: "pid 123 on host-a since 2024-…". */
export function describeLock(info: LockInfo): string {
  return `pid ${info.pid} on ${info.host} since ${info.startedAt}${info.command ? ` (${info.command})` : ''}`;
}

/**
 * Tmp files of this lock left by processes killed while taking it. Only those whose writer is
 * provably dead (same host, pid gone) or that hold no lock record are removed: a live process may
 * be taking the lock at this very moment with its own tmp file.
 */
async function sweepDeadLockTmps(fs: FsLayer, path: string, host: string, alive: (pid: number) => boolean): Promise<void> {
  const dir = dirname(path);
  const own = basename(path);
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (tmpFinalName(name) !== own) continue;
    const p = join(dir, name);
    const info = parseLock(await fs.readFile(p).catch(() => Buffer.alloc(0)));
    if (info && (info.host !== host || alive(info.pid))) continue;
    // A record-less tmp may be one a live process is writing right now: only old ones are debris.
    if (!info && Date.now() - ((await fs.stat(p).catch(() => undefined))?.mtimeMs ?? Date.now()) < 60_000) continue;
    await fs.unlink(p).catch(() => undefined);
  }
}

function parseLock(buf: Buffer): LockInfo | undefined {
  try {
    const v = JSON.parse(buf.toString('utf8')) as Partial<LockInfo>;
    if (typeof v.pid !== 'number' || typeof v.host !== 'string' || typeof v.startedAt !== 'string') return undefined;
    return {
      pid: v.pid,
      host: v.host,
      startedAt: v.startedAt,
      token: typeof v.token === 'string' ? v.token : '',
      ...(typeof v.command === 'string' ? { command: v.command } : {}),
    };
  } catch {
    return undefined;
  }
}

/** What a lock file holds: its info, `null` if it exists but is unreadable, `undefined` if absent. */
export async function readLock(path: string, opts?: { readonly fs?: FsLayer }): Promise<LockInfo | null | undefined> {
  const fs = opts?.fs ?? nodeFs;
  try {
    return parseLock(await fs.readFile(path)) ?? null;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw toDiskError(err, 'reading lock', path);
  }
}

/**
 * Takes the lock at `path` (creating its folder). See the module comment for the rules.
 *
 * @throws LockedError naming the holder when it is alive or on another host and `steal` is not set.
 */
export async function acquireLock(path: string, opts?: AcquireLockOptions): Promise<LockHandle> {
  const fs = opts?.fs ?? nodeFs;
  const steal = opts?.steal ?? false;
  if (typeof steal !== 'boolean') throw new InputError(`acquireLock: steal must be a boolean`);
  const alive = opts?.processAlive ?? isProcessAlive;
  const host = opts?.host ?? osHostname();
  const pid = opts?.pid ?? process.pid;
  const info: LockInfo = {
    pid,
    host,
    startedAt: new Date().toISOString(),
    ...(opts?.command !== undefined ? { command: redactSecrets(opts.command) } : {}),
    token: randomBytes(8).toString('hex'),
  };
  const dir = dirname(path);
  try {
    await fs.mkdir(dir);
  } catch (err) {
    throw toDiskError(err, 'creating folder', dir);
  }
  const tmp = tmpPathFor(path);
  try {
    const h = await fs.open(tmp, 'wx');
    try {
      await h.write(`${JSON.stringify(info)}\n`);
      await h.sync();
    } finally {
      await h.close();
    }
  } catch (err) {
    await fs.unlink(tmp).catch(() => undefined);
    throw toDiskError(err, 'writing lock', path);
  }

  let recovered: LockInfo | undefined;
  let stolen = false;
  try {
    for (let attempt = 0; ; attempt++) {
      if (attempt > 20) throw new LockedError(`could not take lock ${path}: it keeps changing hands`);
      try {
        await fs.link(tmp, path);
        break;
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw toDiskError(err, 'creating lock', path);
      }
      const holder = await readLock(path, { fs });
      if (holder === undefined) continue; // released meanwhile
      const dead = holder !== null && holder.host === host && !alive(holder.pid);
      const unreadable = holder === null;
      if (!dead && !unreadable && !steal) {
        const why =
          holder.host === host
            ? 'that process is still running'
            : 'it is on another host, so whether it is alive cannot be checked';
        throw new LockedError(
          `${path} is locked by ${describeLock(holder)}: ${why}; stop it or pass --steal-locks to take the lock over`,
        );
      }
      // Move it aside, then check we moved the lock we judged (not a fresh one taken meanwhile).
      const aside = tmpPathFor(path);
      try {
        await fs.rename(path, aside);
      } catch (err) {
        if (isNotFound(err)) continue;
        throw toDiskError(err, 'removing stale lock', path);
      }
      const moved = parseLock(await fs.readFile(aside).catch(() => Buffer.alloc(0)));
      const same = holder === null ? moved === undefined : moved?.token === holder.token;
      if (!same) {
        await fs.link(aside, path).catch(() => undefined); // put the fresh lock back
        await fs.unlink(aside).catch(() => undefined);
        continue;
      }
      await fs.unlink(aside).catch(() => undefined);
      if (holder !== null) {
        if (dead) recovered = holder;
        else stolen = true;
      }
    }
  } finally {
    await fs.unlink(tmp).catch(() => undefined);
  }
  try {
    await fs.fsyncDir(dir);
  } catch (err) {
    throw toDiskError(err, 'syncing folder of', path);
  }
  await sweepDeadLockTmps(fs, path, host, alive);

  let released = false;
  return {
    path,
    info,
    recovered,
    stolen,
    async release(): Promise<boolean> {
      if (released) return false;
      const cur = await readLock(path, { fs });
      released = true;
      if (!cur || cur.token !== info.token) return false;
      try {
        await fs.unlink(path);
        await fs.fsyncDir(dir);
      } catch (err) {
        if (isNotFound(err)) return false;
        throw toDiskError(err, 'releasing lock', path);
      }
      return true;
    },
  };
}
