/**
 * Append-only NDJSON journals: one JSON value per line, one writer per file (callers hold a lock).
 *
 * - `append()` resolves only once the line is durable (written and fsync'd).
 * - `groupCommitMs = 0` (default): every append is written and fsync'd at once; appends that arrive
 *   while an fsync is in flight are written together and share the next fsync (each still resolves
 *   only after an fsync that covers it).
 * - `groupCommitMs > 0`: appends are buffered and one write + fsync every ~groupCommitMs covers all
 *   of them; each promise resolves after that fsync.
 * - A torn last line (crash mid-append: no trailing newline, or a last line that is not valid JSON)
 *   is ignored by {@link loadJournal} and truncated by {@link Journal.open} before anything is
 *   appended, so it can never glue onto the next line.
 * - A failed write or fsync breaks the journal: the pending appends and every later one reject
 *   with the same DiskError (reopen it: the partial line is then truncated).
 *
 * @example
 * ```ts
 * import { Journal, loadJournal } from 'tickpipe/sinks';
 * const j = await Journal.open<{ event: string }>(ingestPaths('/out', 0).journal, { groupCommitMs: 200 });
 * await j.append({ event: 'AAPL_flush_20231207_130200_1a2b3c4d' }); // durable now
 * await j.close();
 * const { entries, tornTail } = await loadJournal<{ event: string }>(ingestPaths('/out', 0).journal);
 * ```
 */
import { isAscii } from 'node:buffer';
import * as fsp from 'node:fs/promises';
import { dirname } from 'node:path';
import { InputError } from '../errors.js';
import { isNotFound, nodeFs, type FsFileHandle, type FsLayer } from '../fs/fs-layer.js';
import { toDiskError } from '../fs/paths.js';
import { scanJournalBuffer } from '../run-folder/journal-reader.js';

/** Options of {@link Journal.open}. */
export interface JournalOptions {
  /**
   * Group-commit interval in ms: 0 fsyncs every append at once; > 0 shares one fsync among the
   * appends of each interval. @default 0
   */
  readonly groupCommitMs?: number;
  /** Filesystem layer. @default nodeFs */
  readonly fs?: FsLayer;
}

/** Options of {@link loadJournal}. */
export interface LoadJournalOptions<T = unknown> {
  /** Filesystem layer. @default nodeFs */
  readonly fs?: FsLayer;
  /**
   * Called with each committed entry instead of collecting them (`entries` is then empty): a
   * 600k-line journal then costs what the caller keeps (e.g. a Set of IDs), not every parsed line.
   * @default undefined (collect)
   */
  readonly onEntry?: (entry: T, line: number) => void;
}

/** What {@link loadJournal} returns. */
export interface LoadedJournal<T> {
  /** The committed entries, in order. */
  readonly entries: T[];
  /** True when the last line was torn (and ignored). */
  readonly tornTail: boolean;
  /** Byte length of the valid prefix (where a torn tail starts). */
  readonly validBytes: number;
}

interface Pending {
  readonly line: string;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

const NL = 0x0a;

/**
 * Parses journal bytes. Blank lines are skipped. A torn last line is reported, not thrown; an
 * invalid line before the last throws InputError naming the file and the 1-based line number.
 */
export function parseJournal<T>(buf: Buffer, path: string, onEntry?: (entry: T, line: number) => void): LoadedJournal<T> {
  // The rule is the run-folder journal reader's (a last non-blank line that is not JSON, e.g. zero
  // bytes a crash left before a newline on some FS, is torn too); this only parses the entries.
  const entries: T[] = [];
  // Journals are ASCII in practice: then one decode of the whole file and a slice per line (byte
  // and character offsets agree) instead of a decode per line (measured: ~20% of a 600k-line load).
  const text = isAscii(buf) ? buf.toString('latin1') : undefined;
  const r = scanJournalBuffer(buf, path, (b, start, end, line) => {
    let entry: T;
    try {
      entry = JSON.parse(text !== undefined ? text.slice(start, end) : b.toString('utf8', start, end)) as T;
    } catch {
      return false;
    }
    if (onEntry) onEntry(entry, line);
    else entries.push(entry);
    return true;
  });
  return { entries, tornTail: r.tornTail, validBytes: r.end };
}

/**
 * Where the valid prefix of a journal ends, by the rule of {@link parseJournal}, reading only as
 * much of the file's end as that needs when `fs` is the real filesystem. Lines before the last
 * are not checked here: loading the journal does that.
 */
export async function journalTail(path: string, fs: FsLayer = nodeFs): Promise<{ tornTail: boolean; validBytes: number }> {
  if (fs !== nodeFs) {
    let buf: Buffer;
    try {
      buf = await fs.readFile(path);
    } catch (err) {
      if (isNotFound(err)) return { tornTail: false, validBytes: 0 };
      throw toDiskError(err, 'reading', path);
    }
    return tailOf(buf, 0, buf.byteLength);
  }
  let h: fsp.FileHandle;
  try {
    h = await fsp.open(path, 'r');
  } catch (err) {
    if (isNotFound(err)) return { tornTail: false, validBytes: 0 };
    throw toDiskError(err, 'reading', path);
  }
  try {
    const size = (await h.stat()).size;
    for (let want = 64 * 1024; ; want *= 4) {
      const len = Math.min(size, want);
      const buf = Buffer.allocUnsafe(len);
      let got = 0;
      while (got < len) {
        const { bytesRead } = await h.read(buf, got, len - got, size - len + got);
        if (bytesRead <= 0) break;
        got += bytesRead;
      }
      const r = tailOf(buf.subarray(0, got), size - len, size);
      if (r !== undefined) return r;
    }
  } catch (err) {
    throw toDiskError(err, 'reading', path);
  } finally {
    await h.close().catch(() => undefined);
  }
}

/** The torn-tail rule on `buf` = bytes [base, size) of the file; undefined if `buf` is too short to tell. */
function tailOf(buf: Buffer, base: number, size: number): { tornTail: boolean; validBytes: number } | undefined;
function tailOf(buf: Buffer, base: 0, size: number): { tornTail: boolean; validBytes: number };
function tailOf(buf: Buffer, base: number, size: number): { tornTail: boolean; validBytes: number } | undefined {
  const n = buf.byteLength;
  if (size === 0) return { tornTail: false, validBytes: 0 };
  const whole = base === 0;
  if (buf[n - 1] !== NL) {
    const at = buf.lastIndexOf(NL);
    if (at < 0 && !whole) return undefined;
    return { tornTail: true, validBytes: base + at + 1 };
  }
  // The last non-blank line decides (blank lines after it are not lines of the journal).
  let lineEnd = n - 1;
  for (;;) {
    const at = lineEnd >= 1 ? buf.lastIndexOf(NL, lineEnd - 1) : -1;
    if (at < 0 && !whole) return undefined;
    const last = buf.toString('utf8', at + 1, lineEnd);
    if (last.trim() !== '') {
      if (!isJson(last)) return { tornTail: true, validBytes: base + at + 1 };
      break;
    }
    if (at < 0) break;
    lineEnd = at;
  }
  return { tornTail: false, validBytes: size };
}

function isJson(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

/**
 * Loads a journal: every committed entry, ignoring a torn last line. A missing file is an empty
 * journal.
 *
 * @example
 * ```ts
 * const { entries } = await loadJournal<{ shard: string }>(detectPaths('/out', 0).journal);
 * ```
 * @throws InputError when a line other than the last is not valid JSON (names file and line).
 */
export async function loadJournal<T>(path: string, opts?: LoadJournalOptions<T>): Promise<LoadedJournal<T>> {
  const fs = opts?.fs ?? nodeFs;
  let buf: Buffer;
  try {
    buf = await fs.readFile(path);
  } catch (err) {
    if (isNotFound(err)) return { entries: [], tornTail: false, validBytes: 0 };
    throw toDiskError(err, 'reading', path);
  }
  return parseJournal<T>(buf, path, opts?.onEntry);
}

function validateJournalOptions(opts: JournalOptions | undefined): { groupCommitMs: number; fs: FsLayer } {
  const groupCommitMs = opts?.groupCommitMs ?? 0;
  if (typeof groupCommitMs !== 'number' || !Number.isFinite(groupCommitMs) || groupCommitMs < 0 || groupCommitMs > 60_000) {
    throw new InputError(`Journal: groupCommitMs must be a number in 0..60000, got ${String(groupCommitMs)}`);
  }
  return { groupCommitMs, fs: opts?.fs ?? nodeFs };
}

/** An open append-only journal. Create with {@link Journal.open} or {@link Journal.load}. */
export class Journal<T> {
  readonly path: string;
  readonly groupCommitMs: number;
  readonly #fs: FsLayer;
  #handle: FsFileHandle;
  #queue: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #broken: unknown;
  #closed = false;
  #fsyncs = 0;

  private constructor(path: string, handle: FsFileHandle, groupCommitMs: number, fs: FsLayer) {
    this.path = path;
    this.#handle = handle;
    this.groupCommitMs = groupCommitMs;
    this.#fs = fs;
  }

  /**
   * Opens (creating it and its folder if missing) a journal for appending. A torn tail left by a
   * crash is truncated first.
   */
  static async open<T>(path: string, opts?: JournalOptions): Promise<Journal<T>> {
    return (await Journal.#openFile<T>(path, opts, false)).journal;
  }

  /** Like {@link Journal.open}, also returning the committed entries (one read of the file). */
  static async load<T>(
    path: string,
    opts?: JournalOptions,
  ): Promise<{ journal: Journal<T>; entries: T[]; tornTail: boolean }> {
    return Journal.#openFile<T>(path, opts, true);
  }

  static async #openFile<T>(
    path: string,
    opts: JournalOptions | undefined,
    wantEntries: boolean,
  ): Promise<{ journal: Journal<T>; entries: T[]; tornTail: boolean }> {
    const { groupCommitMs, fs } = validateJournalOptions(opts);
    try {
      await fs.mkdir(dirname(path));
    } catch (err) {
      throw toDiskError(err, 'creating folder', dirname(path));
    }
    // Opening only needs to know where a torn tail starts: with the real filesystem only the file's
    // end is read (a 572,850-line journal is ~45 MB), instead of parsing every line to throw it away.
    const loaded = wantEntries ? await loadJournal<T>(path, { fs }) : { entries: [] as T[], ...(await journalTail(path, fs)) };
    if (loaded.tornTail) {
      try {
        const h = await fs.open(path, 'r+');
        try {
          await h.truncate(loaded.validBytes);
          await h.sync();
        } finally {
          await h.close();
        }
      } catch (err) {
        throw toDiskError(err, 'truncating the torn tail of', path);
      }
    }
    let handle: FsFileHandle;
    try {
      handle = await fs.open(path, 'a');
    } catch (err) {
      throw toDiskError(err, 'opening', path);
    }
    if (loaded.validBytes === 0) {
      // A new journal file: make its directory entry durable too.
      try {
        await fs.fsyncDir(dirname(path));
      } catch (err) {
        await handle.close().catch(() => undefined);
        throw toDiskError(err, 'syncing folder of', path);
      }
    }
    return { journal: new Journal<T>(path, handle, groupCommitMs, fs), entries: loaded.entries, tornTail: loaded.tornTail };
  }

  /** Number of fsyncs done so far (for tests and metrics). */
  get fsyncCount(): number {
    return this.#fsyncs;
  }

  /** Appends not yet durable. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Appends one entry; resolves once it is durable. */
  append(entry: T): Promise<void> {
    if (this.#closed) return Promise.reject(new InputError(`journal ${this.path} is closed`));
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    const json = JSON.stringify(entry);
    if (json === undefined) return Promise.reject(new InputError(`journal ${this.path}: entry is not JSON-serialisable`));
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ line: `${json}\n`, resolve, reject });
      this.#schedule();
    });
  }

  /** Writes and fsyncs everything pending now (without waiting for the group-commit timer). */
  async flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#flushing || (this.#queue.length > 0 && this.#broken === undefined)) {
      if (!this.#flushing) this.#flushing = this.#flushLoop(true);
      await this.#flushing;
    }
    if (this.#broken !== undefined) throw this.#broken;
  }

  /** Flushes pending appends and closes the file. Later appends reject. */
  async close(): Promise<void> {
    if (this.#closed) return;
    let flushErr: unknown;
    try {
      await this.flush();
    } catch (err) {
      flushErr = err;
    }
    this.#closed = true;
    try {
      await this.#handle.close();
    } catch (err) {
      flushErr ??= toDiskError(err, 'closing', this.path);
    }
    if (flushErr !== undefined && this.#broken === undefined) throw flushErr;
  }

  #schedule(): void {
    if (this.#flushing) return; // the running flush picks the queue up when it ends
    if (this.groupCommitMs === 0) {
      this.#flushing = this.#flushLoop(true);
    } else if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        if (!this.#flushing) this.#flushing = this.#flushLoop(false);
      }, this.groupCommitMs);
    }
  }

  async #flushLoop(drain: boolean): Promise<void> {
    try {
      while (this.#queue.length > 0 && this.#broken === undefined) {
        const batch = this.#queue.splice(0);
        try {
          await this.#handle.write(batch.length === 1 ? batch[0]!.line : batch.map((p) => p.line).join(''));
          await this.#handle.sync();
          this.#fsyncs++;
        } catch (err) {
          this.#broken = toDiskError(err, 'appending to', this.path);
          for (const p of batch) p.reject(this.#broken);
          for (const p of this.#queue.splice(0)) p.reject(this.#broken);
          break;
        }
        for (const p of batch) p.resolve();
        if (!drain) break;
      }
    } finally {
      this.#flushing = undefined;
      if (this.#queue.length > 0 && this.#broken === undefined && !this.#closed) this.#schedule();
    }
  }
}
