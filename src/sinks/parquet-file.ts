/**
 * Writing a Parquet file, atomically: the part of the Parquet output that a main thread needs to
 * publish a window or shard whose frame lives here or in a worker thread. It calls methods of the
 * frame it is given and never the nodejs-polars namespace, so importing it does not load Polars
 * (~27 MB of RSS at start, measured in issue 17): a `run` whose windows are encoded in worker
 * threads never loads Polars on its main thread. Frames and schemas are in ./parquet.ts.
 *
 * Engine choice (measured on the 2-core box, nodejs-polars 0.24.1, zstd): for 1M rows × 3
 * columns `df.writeParquet()` took ≈ 55–80 ms and blocked the event loop for all of it (max timer
 * lag ≈ 50–77 ms), while `df.lazy().sinkParquet(path, …).collect()` took ≈ 50–60 ms with a max
 * loop lag of ≈ 4–6 ms, and the file is complete when the promise resolves. For small frames the
 * sink costs more CPU (2 rows: 0.50 vs 0.95 ms; 10k rows: 2.5 vs 4.7 ms) and blocking is short, so
 * the default engine `'auto'` uses writeParquet up to 20,000 rows (≤ ~5 ms on the loop) and the
 * sink above. Note that `sinkParquet` alone returns a LazyDataFrame and writes nothing: the write
 * happens on `.collect()`; its wrapper defaults `maintainOrder: false`, so the sink options are
 * always passed explicitly here (order kept, no sync-on-close because {@link publishAtomically}
 * fsyncs through the injectable fs layer).
 */
import { dirname } from 'node:path';
import type pl from 'nodejs-polars';
import { InputError } from '../errors.js';
import { nodeFs } from '../fs/fs-layer.js';
import { publishFile, type FileToPublish, type PublishOptions } from '../fs/publish-atomically.js';
import { nativeWriteError } from './native-write-error.js';

/** Parquet compression codecs. */
export type ParquetCompression = 'zstd' | 'snappy' | 'lz4' | 'gzip' | 'brotli' | 'uncompressed';

/** Options of {@link writeParquetAtomically}. */
export interface WriteParquetOptions extends PublishOptions {
  /** Codec. @default 'zstd' */
  readonly compression?: ParquetCompression;
  /** Codec level (zstd 1..22). @default undefined (the codec's default) */
  readonly compressionLevel?: number;
  /**
   * `'sink'`: `lazy().sinkParquet().collect()`, off the event loop. `'write'`: `writeParquet()`,
   * blocks the loop (~0.1 s per million rows). `'auto'`: `'write'` up to `syncMaxRows` rows (cheaper
   * for small frames, blocks at most a few ms), `'sink'` above. @default 'auto'
   */
  readonly engine?: 'auto' | 'sink' | 'write';
  /** Largest frame `'auto'` writes on the event loop (≈ 5 ms of blocking). @default 20000 */
  readonly syncMaxRows?: number;
}

/** What was written. */
export interface ParquetWriteResult {
  readonly rows: number;
  readonly bytes: number;
}

const CODECS: readonly ParquetCompression[] = ['zstd', 'snappy', 'lz4', 'gzip', 'brotli', 'uncompressed'];

/**
 * Writes `df` as Parquet to `finalPath` atomically (tmp file, fsync, rename, folder fsync).
 *
 * @throws DiskError on filesystem failures (ENOSPC, EACCES, …), InputError on bad options.
 */
export async function writeParquetAtomically(
  finalPath: string,
  df: pl.DataFrame | DeferredParquet,
  opts?: WriteParquetOptions,
): Promise<ParquetWriteResult> {
  return publishFile(parquetFile(finalPath, df, opts), opts);
}

/**
 * One Parquet file to publish (with {@link publishFile} or a commit sink): its writer encodes `df`
 * into the tmp path the publish chose (a {@link DeferredParquet} writes itself, in a worker
 * thread) and reports rows and bytes. Options are checked here, before anything is written.
 *
 * @throws InputError on bad options.
 */
export function parquetFile(finalPath: string, df: pl.DataFrame | DeferredParquet, opts?: WriteParquetOptions): FileToPublish<ParquetWriteResult> {
  const compression = opts?.compression ?? 'zstd';
  const engine = opts?.engine ?? 'auto';
  const syncMaxRows = opts?.syncMaxRows ?? 20_000;
  const level = opts?.compressionLevel;
  if (!CODECS.includes(compression)) throw new InputError(`writeParquetAtomically: unknown compression ${String(compression)}`);
  if (engine !== 'sink' && engine !== 'write' && engine !== 'auto') {
    throw new InputError(`writeParquetAtomically: engine must be 'auto', 'sink' or 'write'`);
  }
  if (!Number.isInteger(syncMaxRows) || syncMaxRows < 0) throw new InputError(`writeParquetAtomically: syncMaxRows must be an integer >= 0`);
  if (level !== undefined && (!Number.isInteger(level) || level < 1 || level > 22)) {
    throw new InputError(`writeParquetAtomically: compressionLevel must be an integer in 1..22`);
  }
  const fs = opts?.fs ?? nodeFs;
  const settings: ParquetFileSettings = { compression, engine, syncMaxRows, ...(level !== undefined ? { compressionLevel: level } : {}) };
  return {
    path: finalPath,
    async write(tmp) {
      try {
        if (isDeferred(df)) await df.write(tmp, settings);
        else await writeParquetFile(tmp, df, settings);
      } catch (err) {
        throw await nativeWriteError(err, finalPath, dirname(tmp));
      }
      return { rows: isDeferred(df) ? df.rows : df.height, bytes: (await fs.stat(tmp)).size };
    },
  };
}

/** How a Parquet file is encoded (the part of {@link WriteParquetOptions} a writer in another thread needs). */
export interface ParquetFileSettings {
  readonly compression: ParquetCompression;
  readonly compressionLevel?: number;
  readonly engine: 'auto' | 'sink' | 'write';
  readonly syncMaxRows: number;
}

/**
 * A frame that lives elsewhere (a window held by a worker thread, src/workers/): it writes itself
 * into the tmp path {@link writeParquetAtomically} chose, with {@link writeParquetFile}, so the
 * bytes are those of the same frame written here; fsync, rename and journal stay with the caller.
 */
export interface DeferredParquet {
  readonly rows: number;
  write(tmpPath: string, settings: ParquetFileSettings): Promise<void>;
}

function isDeferred(df: pl.DataFrame | DeferredParquet): df is DeferredParquet {
  return typeof (df as Partial<pl.DataFrame>).lazy !== 'function' && typeof (df as Partial<DeferredParquet>).write === 'function';
}

/** Writes `df` to `path` (no fsync, no rename): the one place the Parquet engine is chosen. */
export async function writeParquetFile(path: string, df: pl.DataFrame, s: ParquetFileSettings): Promise<void> {
  const useSink = s.engine === 'sink' || (s.engine === 'auto' && df.height > s.syncMaxRows);
  if (useSink) {
    await df
      .lazy()
      .sinkParquet(path, {
        compression: s.compression,
        ...(s.compressionLevel !== undefined ? { compressionLevel: s.compressionLevel } : {}),
        statistics: true,
        sinkOptions: { syncOnClose: 'none', maintainOrder: true, mkdir: false },
      })
      .collect();
  } else {
    // writeParquet takes no level; statistics are written by default.
    df.writeParquet(path, { compression: s.compression });
  }
}
