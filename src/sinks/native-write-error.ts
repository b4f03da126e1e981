/**
 * nodejs-polars reports a full disk inside a Parquet write sometimes as "(os error 28)" (handled by
 * toDiskError) and sometimes only as `Invalid thrift: transport error`, naming neither the file nor
 * the cause. This turns such an I/O-looking native error into a DiskError that names the file, and
 * says ENOSPC when the filesystem has (almost) no space left.
 */
import { statfs } from 'node:fs/promises';
import { DiskError } from '../errors.js';
import { errnoCode } from '../fs/fs-layer.js';

/** Below this many free bytes a failed write is taken for a full disk. */
export const NEARLY_FULL_BYTES = 1_048_576;

const NATIVE_IO = /thrift|transport error|i\/o error|io error|failed to write|broken pipe|unexpected eof/i;

/**
 * What to throw for `err` raised by a native writer of `finalPath`, given the free bytes of its
 * filesystem (undefined when unknown). Errors that carry an errno, or that do not look like I/O,
 * are returned unchanged.
 */
export function classifyNativeWriteError(err: unknown, finalPath: string, freeBytes: number | undefined): unknown {
  if (!(err instanceof Error) || errnoCode(err) !== undefined || /os error \d+/.test(err.message)) return err;
  if (!NATIVE_IO.test(err.message)) return err;
  const said = err.message.replace(/\s+/g, ' ').trim().slice(0, 200);
  if (freeBytes !== undefined && freeBytes < NEARLY_FULL_BYTES) {
    return new DiskError(`disk full writing ${finalPath} (ENOSPC; the Parquet writer said: ${said})`, { cause: err });
  }
  return new DiskError(`writing ${finalPath} failed: ${said}`, { cause: err });
}

/** {@link classifyNativeWriteError} with the free space of `dir` looked up. */
export async function nativeWriteError(err: unknown, finalPath: string, dir: string): Promise<unknown> {
  let free: number | undefined;
  try {
    const s = await statfs(dir);
    free = Number(s.bavail) * Number(s.bsize);
  } catch {
    free = undefined;
  }
  return classifyNativeWriteError(err, finalPath, free);
}
