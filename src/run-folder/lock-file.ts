/**
 * Partition lock files: one writer per journal.
 *
 * The lock is created with an exclusive create (`open(path, 'wx')`, O_CREAT|O_EXCL: EEXIST if it
 * exists), then its JSON content (`{pid, host, startedAt, bootedAt, command?, token}` — never
 * secrets) is written and fsync'd. Exclusive create works on exFAT/FAT (external `D:` drives) and
 * SMB shares, where the hard links an earlier version used fail with EPERM. A reader that finds the
 * lock empty or half-written while it is young (under {@link LOCK_SETTLE_MS}) takes it as being
 * written and waits; an old unreadable lock is debris of a crash and is recovered.
 *
 * If the lock exists: when the holder is on this host and its pid is dead (`process.kill(pid, 0)`
 * → ESRCH), or it was taken before this machine last booted (so its pid may now be another
 * program's: PID reuse after a reboot, common on Windows), the lock is stale and is recovered
 * (`handle.recovered` names the dead holder); when the
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
import { readFileSync } from 'node:fs';
import { hostname as osHostname, uptime } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { InputError, LockedError } from '../errors.js';
import { redactSecrets } from '../secrets.js';
import { errnoCode, isNotFound, nodeFs, type FsLayer } from '../fs/fs-layer.js';
import { toDiskError } from '../fs/paths.js';
import { tmpFinalName, tmpPathFor } from '../fs/publish-atomically.js';

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
  /** ISO-8601 UTC time the holder's machine booted (absent in locks of older versions). */
  readonly bootedAt?: string;
}

/**
 * An unreadable lock younger than this is taken as being written by its creator. Writing a lock is
 * one exclusive create plus one write of ~200 bytes and an fsync: well under a second even on an SMB
 * share. Longer would make every restart after a crash mid-write wait that long (the stage-1
 * crash-injection property spent 220 of its 282 s waiting out 10 s here).
 */
export const LOCK_SETTLE_MS = 1_000;

/** Boot times of one machine measured at different moments differ by clock adjustments: allow this much. */
const BOOT_TOLERANCE_MS = 120_000;

/** When this machine booted, ms since the epoch. */
export function bootTimeMs(): number {
  return Date.now() - uptime() * 1000;
}

/**
 * Whether a lock's holder is certainly gone: on this host, and its pid is dead or the lock was
 * taken before the machine's last boot. A lock of another host is never stale by this rule.
 */
export function isLockStale(info: LockInfo, ctx: { readonly host: string; readonly alive: (pid: number) => boolean; readonly bootedAtMs?: number }): boolean {
  if (info.host !== ctx.host) return false;
  const heldBoot = info.bootedAt === undefined ? Number.NaN : Date.parse(info.bootedAt);
  const boot = ctx.bootedAtMs ?? bootTimeMs();
  if (Number.isFinite(heldBoot) && heldBoot < boot - BOOT_TOLERANCE_MS) return true;
  return !ctx.alive(info.pid);
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
  /** When this machine booted, ms since the epoch. @default now - os.uptime() */
  readonly bootedAtMs?: number;
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

/**
 * Default liveness check: signal 0. ESRCH → dead; EPERM → alive (another user's process). On Linux
 * a process that is exiting or has exited but is not yet reaped still answers signal 0; its
 * `/proc/PID/stat` says so (state Z or X, or the PF_EXITING flag), and it counts as dead: a rerun
 * started right after a SIGKILL must not be refused by the lock of a process that is going away.
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return errnoCode(err) !== 'ESRCH';
  }
  return !isExiting(pid);
}

/** PF_EXITING in the flags of /proc/PID/stat (include/linux/sched.h). */
const PF_EXITING = 0x4;

/** Whether /proc shows `pid` exiting or exited (Linux only; false wherever it cannot tell). */
export function isExiting(pid: number): boolean {
  if (process.platform !== 'linux') return false;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return false;
  }
  // "pid (comm) state ppid pgrp session tty_nr tpgid flags …": comm may hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const flags = Number(fields[6]);
  return state === 'Z' || state === 'X' || (Number.isFinite(flags) && (flags & PF_EXITING) !== 0);
}

/** Redacts API keys (flags, `apiKey=` query members, Bearer tokens) from text before it is stored anywhere: the one scrubber. */
export { redactSecrets } from '../secrets.js';

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
      ...(typeof v.bootedAt === 'string' ? { bootedAt: v.bootedAt } : {}),
    };
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function ageMs(fs: FsLayer, path: string): Promise<number> {
  const st = await fs.stat(path).catch(() => undefined);
  return st ? Date.now() - st.mtimeMs : Number.POSITIVE_INFINITY;
}

/**
 * Creates `path` with `content` if it does not exist (O_CREAT|O_EXCL), fsync'd. False when it
 * exists. A failed write removes the half-made lock so it cannot block anyone.
 */
async function createExclusive(fs: FsLayer, path: string, content: string): Promise<boolean> {
  let h;
  try {
    h = await fs.open(path, 'wx');
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') return false;
    throw toDiskError(err, 'creating lock', path);
  }
  try {
    try {
      await h.write(content);
      await h.sync();
    } finally {
      await h.close();
    }
  } catch (err) {
    await fs.unlink(path).catch(() => undefined);
    throw toDiskError(err, 'writing lock', path);
  }
  return true;
}

/**
 * Removes the lock judged stale (or stolen): moves it aside, then checks it moved the lock it
 * judged (not a fresh one taken meanwhile, which it puts back). True when the lock is gone.
 */
async function removeJudgedLock(fs: FsLayer, path: string, judged: LockInfo | null): Promise<boolean> {
  const aside = tmpPathFor(path);
  try {
    await fs.rename(path, aside);
  } catch (err) {
    if (isNotFound(err)) return true;
    throw toDiskError(err, 'removing stale lock', path);
  }
  const content = await fs.readFile(aside).catch(() => Buffer.alloc(0));
  const moved = parseLock(content);
  const same = judged === null ? moved === undefined : moved?.token === judged.token;
  if (!same) await createExclusive(fs, path, content.toString('utf8')).catch(() => false); // put the fresh lock back
  await fs.unlink(aside).catch(() => undefined);
  return same;
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
  const bootedAtMs = opts?.bootedAtMs ?? bootTimeMs();
  const info: LockInfo = {
    pid,
    host,
    startedAt: new Date().toISOString(),
    ...(opts?.command !== undefined ? { command: redactSecrets(opts.command) } : {}),
    token: randomBytes(8).toString('hex'),
    bootedAt: new Date(Math.round(bootedAtMs / 1000) * 1000).toISOString(),
  };
  const dir = dirname(path);
  try {
    await fs.mkdir(dir);
  } catch (err) {
    throw toDiskError(err, 'creating folder', dir);
  }

  let recovered: LockInfo | undefined;
  let stolen = false;
  for (let attempt = 0; ; attempt++) {
    if (attempt > 200) throw new LockedError(`could not take lock ${path}: it keeps changing hands`);
    if (await createExclusive(fs, path, `${JSON.stringify(info)}\n`)) break;
    const holder = await readLock(path, { fs });
    if (holder === undefined) continue; // released meanwhile
    if (holder === null && (await ageMs(fs, path)) < LOCK_SETTLE_MS) {
      await sleep(50); // its creator is writing it right now
      continue;
    }
    const dead = holder !== null && isLockStale(holder, { host, alive, bootedAtMs });
    if (holder !== null && !dead && !steal) {
      const why = holder.host === host ? 'that process is still running' : 'it is on another host, so whether it is alive cannot be checked';
      throw new LockedError(`${path} is locked by ${describeLock(holder)}: ${why}; stop it or pass --steal-locks to take the lock over`);
    }
    if (!(await removeJudgedLock(fs, path, holder))) continue;
    if (holder !== null) {
      if (dead) recovered = holder;
      else stolen = true;
    }
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
