/**
 * Atomic publishing: a file appears under its final name complete and durable, or not at all.
 *
 * Protocol (docs/ARCHITECTURE.md, "The commit protocol"): write `NAME.tmp-<random>` in the destination folder (created if
 * missing), fsync the file, rename it onto `NAME`, fsync the folder. A rename failing with
 * EPERM/EBUSY (a virus scanner or indexer holding the file on Windows; EACCES too on Windows) is
 * retried with exponential backoff, then fails loudly. On any failure the tmp file is removed (best
 * effort) and the error is rethrown as a {@link DiskError} with one clear line naming the path and
 * the reason ("disk full writing /out/x.parquet (ENOSPC)"). A final file is never half-written.
 *
 * @example
 * ```ts
 * import { publishAtomically, publishBytes } from 'tickpipe/sinks';
 * await publishBytes('/data/out/run.json', JSON.stringify(spec) + '\n');
 * await publishAtomically('/data/out/x.parquet', async (tmp) => { await writeSomehow(tmp); });
 * ```
 */
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { DiskError, InputError } from '../errors.js';
import { errnoCode, nodeFs, type FsLayer } from './fs-layer.js';
import { toDiskError } from './paths.js';

/** Options of {@link publishAtomically}. */
export interface PublishOptions {
  /** Filesystem layer. @default nodeFs */
  readonly fs?: FsLayer;
  /**
   * How many times a rename failing with EPERM/EBUSY (EACCES on Windows) is retried at most.
   * @default unlimited within {@link PublishOptions.renameTimeoutMs}
   */
  readonly renameRetries?: number;
  /** First retry delay in ms; doubles each retry, up to 1 s between tries. @default 50 */
  readonly renameBackoffMs?: number;
  /**
   * How long a held file (a notebook, a virus scanner or an indexer on Windows) is waited for
   * before the rename gives up; graceful-fs waits as long. @default 60000
   */
  readonly renameTimeoutMs?: number;
  /** Platform whose rename quirks apply (EACCES retried on win32). @default process.platform */
  readonly platform?: NodeJS.Platform;
}

interface ResolvedPublishOptions {
  readonly fs: FsLayer;
  readonly renameRetries: number;
  readonly renameBackoffMs: number;
  readonly renameTimeoutMs: number;
  readonly platform: NodeJS.Platform;
}

function resolveOptions(opts: PublishOptions | undefined): ResolvedPublishOptions {
  const o = opts ?? {};
  const renameRetries = o.renameRetries ?? Number.MAX_SAFE_INTEGER;
  const renameBackoffMs = o.renameBackoffMs ?? 50;
  const renameTimeoutMs = o.renameTimeoutMs ?? 60_000;
  if (o.renameRetries !== undefined && (!Number.isInteger(renameRetries) || renameRetries < 0 || renameRetries > 1000)) {
    throw new InputError(`publishAtomically: renameRetries must be an integer in 0..1000, got ${String(renameRetries)}`);
  }
  if (!Number.isFinite(renameTimeoutMs) || renameTimeoutMs < 0 || renameTimeoutMs > 3_600_000) {
    throw new InputError(`publishAtomically: renameTimeoutMs must be in 0..3600000, got ${String(renameTimeoutMs)}`);
  }
  if (!Number.isFinite(renameBackoffMs) || renameBackoffMs < 0 || renameBackoffMs > 60_000) {
    throw new InputError(`publishAtomically: renameBackoffMs must be in 0..60000, got ${String(renameBackoffMs)}`);
  }
  return { fs: o.fs ?? nodeFs, renameRetries, renameBackoffMs, renameTimeoutMs, platform: o.platform ?? process.platform };
}

const TMP_RE = /^(.+)\.tmp-[0-9a-f]{12}$/;

/** True when `name` (a base name) is a tmp file left by {@link publishAtomically}. */
export function isTmpName(name: string): boolean {
  return TMP_RE.test(name);
}

/** The final name a tmp file would have been published as, or undefined if `name` is not a tmp name. */
export function tmpFinalName(name: string): string | undefined {
  const m = TMP_RE.exec(name);
  return m ? m[1] : undefined;
}

/**
 * Tmp paths this process is writing right now. A sweep never removes them: two commits of one
 * window in flight at once (a repeated manifest row) would otherwise delete each other's tmp file
 * and fail the rename with ENOENT.
 */
const writingNow = new Set<string>();

/** Whether `path` is a tmp file a publish of this process is still writing. */
export function isTmpBeingWritten(path: string): boolean {
  return writingNow.has(path);
}

/** A fresh tmp path next to `finalPath`. */
export function tmpPathFor(finalPath: string): string {
  return join(dirname(finalPath), `${basename(finalPath)}.tmp-${randomBytes(6).toString('hex')}`);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function renameRetryable(err: unknown, platform: NodeJS.Platform): boolean {
  const code = errnoCode(err);
  return code === 'EPERM' || code === 'EBUSY' || (code === 'EACCES' && platform === 'win32');
}

/**
 * Publishes `finalPath` atomically: `write(tmpPath)` must create and fill `tmpPath` (any writer:
 * fs, nodejs-polars…); then the file is fsync'd, renamed onto `finalPath`, and the folder fsync'd.
 * An existing `finalPath` is replaced atomically (readers see the old or the new file).
 *
 * @throws DiskError for filesystem failures (message names the path and the reason).
 * Errors thrown by `write` that are not system errors are rethrown unchanged.
 */
export async function publishAtomically(
  finalPath: string,
  write: (tmpPath: string) => Promise<void>,
  opts?: PublishOptions,
): Promise<void> {
  const o = resolveOptions(opts);
  const fs = o.fs;
  const dir = dirname(finalPath);
  if (basename(finalPath) === '' || /[\\/]$/.test(finalPath)) {
    throw new InputError(`publishAtomically: not a file path: ${finalPath}`);
  }
  try {
    await fs.mkdir(dir);
  } catch (err) {
    throw toDiskError(err, 'creating folder', dir);
  }
  const tmp = tmpPathFor(finalPath);
  let renamed = false;
  writingNow.add(tmp);
  try {
    try {
      await write(tmp);
    } catch (err) {
      throw toDiskError(err, 'writing', finalPath);
    }
    // fsync the data. 'r+' rather than 'r': Windows refuses to flush a read-only handle.
    try {
      const h = await fs.open(tmp, 'r+');
      try {
        await h.sync();
      } finally {
        await h.close();
      }
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') {
        throw new DiskError(`writing ${finalPath}: the writer did not create ${tmp}`, { cause: err });
      }
      throw toDiskError(err, 'syncing', finalPath);
    }
    const renameStart = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        await fs.rename(tmp, finalPath);
        renamed = true;
        break;
      } catch (err) {
        const delay = Math.min(1_000, o.renameBackoffMs * 2 ** Math.min(attempt, 20));
        const inTime = Date.now() - renameStart + delay <= o.renameTimeoutMs;
        if (attempt < o.renameRetries && inTime && renameRetryable(err, o.platform)) {
          await sleep(delay);
          continue;
        }
        const e = toDiskError(err, 'renaming onto', finalPath);
        if (e instanceof DiskError && renameRetryable(err, o.platform)) {
          throw new DiskError(`${e.message}; gave up after ${attempt + 1} attempts (another program may hold the file)`, {
            cause: err,
          });
        }
        throw e;
      }
    }
    try {
      await fs.fsyncDir(dir);
    } catch (err) {
      throw toDiskError(err, 'syncing folder of', finalPath);
    }
  } catch (err) {
    if (!renamed) {
      await fs.unlink(tmp).catch(() => undefined);
    }
    throw err;
  } finally {
    writingNow.delete(tmp);
  }
}

/**
 * A file to publish: `write(tmpPath)` creates and fills the tmp path the publish chose (the
 * in-progress state of src/sinks/commit-lifecycle.ts; any writer: fs, nodejs-polars, a window
 * worker thread) and returns what it wants to report (rows, bytes, how the file was made).
 */
export interface FileToPublish<R = void> {
  /** The final path. */
  readonly path: string;
  write(tmpPath: string): Promise<R>;
}

/** Publishes `file` atomically (see {@link publishAtomically}); returns what its writer reported. */
export async function publishFile<R>(file: FileToPublish<R>, opts?: PublishOptions): Promise<R> {
  let result: { value: R } | undefined;
  await publishAtomically(
    file.path,
    async (tmp) => {
      result = { value: await file.write(tmp) };
    },
    opts,
  );
  return result!.value;
}

/**
 * Publishes `data` as `finalPath` atomically (see {@link publishAtomically}).
 *
 * @example
 * ```ts
 * await publishBytes('/out/run.json', '{"version":1}\n');
 * ```
 */
export async function publishBytes(finalPath: string, data: Uint8Array | string, opts?: PublishOptions): Promise<void> {
  const fs = opts?.fs ?? nodeFs;
  await publishAtomically(
    finalPath,
    async (tmp) => {
      const h = await fs.open(tmp, 'wx');
      try {
        await h.write(data);
      } finally {
        await h.close();
      }
    },
    opts,
  );
}
