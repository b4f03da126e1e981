/**
 * Shared helpers of the operating commands (`status`, `verify`, `reconcile`, `clean`): recognise a
 * run folder, list its journals and locks, stream journals, read Parquet row counts from the footer,
 * walk folders, and run work with bounded concurrency.
 *
 * Everything here only reads, so it is safe while a run is active in another process.
 *
 * @example
 * ```ts
 * import { openRunFolder, listJournals, parquetRowCount } from 'tickpipe/ops';
 * const { dir, spec } = await openRunFolder('./tickpipe-data');
 * const { detect, ingest } = await listJournals(dir);
 * const r = await parquetRowCount(`${dir}/events/events.parquet`); // { ok: true, rows: 247 }
 * ```
 */
import { createReadStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { InputError, LockedError } from '../errors.js';
import { describeLock, isLockStale, isProcessAlive, readLock, readRunSpec, type LockInfo, type StoredRunSpec } from '../sinks/index.js';

export const WORKER_JOURNAL_RE = /^worker-(\d+)\.jsonl$/;
export const PART_JOURNAL_RE = /^part-(\d+)\.jsonl$/;
export const FAILED_JOURNAL_RE = /^part-(\d+)\.failed\.jsonl$/;
export const WORKER_LOCK_RE = /^worker-(\d+)\.lock$/;
export const PART_LOCK_RE = /^part-(\d+)\.lock$/;
export const SHARD_FILE_RE = /^shard-(\d{6})\.parquet$/;
export const WORKER_DIR_RE = /^worker-(\d+)$/;
/** Name of the folder ShardWriter moves uncommitted shards into. */
export const UNCOMMITTED_DIR = '.uncommitted';

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

/** Paths of the state folders. */
export function stateDirs(dir: string): { detect: string; ingest: string } {
  return { detect: join(dir, 'state', 'detect'), ingest: join(dir, 'state', 'ingest') };
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
    const state: LockStateKind = info === null ? 'unreadable' : info.host !== host ? 'foreign' : isLockStale(info, { host, alive }) ? 'stale' : 'live';
    out.push({ stage, index: f.index, path: f.path, state, info });
  }
  return out;
}

/** Whether a lock may belong to a running process (live, or on another host). */
export function mayBeHeld(l: LockState): boolean {
  return l.state === 'live' || l.state === 'foreign';
}

/** "state/ingest/part-0.lock is held by pid 123 on host-a since …". */
export function describeHolder(l: LockState): string {
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

/** What {@link streamJournal} found besides the entries. */
export interface JournalScan {
  /** Newline-terminated, non-blank lines. */
  readonly lines: number;
  /** The last line is torn (no newline, or not JSON): ignored, like loadJournal does. */
  readonly tornTail: boolean;
  /** Byte length of the valid prefix. */
  readonly validBytes: number;
  /** Lines before the last that are not JSON (loadJournal refuses the whole file for these). */
  readonly corrupt: ReadonlyArray<{ readonly line: number; readonly text: string }>;
  readonly mtimeMs: number;
}

/**
 * Streams an NDJSON journal, calling `onEntry(value, lineNo)` for each valid line, with the same
 * torn-tail rule as `loadJournal` (a last line without newline, or whose text is not JSON, is
 * ignored) but collecting invalid earlier lines instead of throwing. A missing file is empty.
 * Memory stays flat whatever the journal's size.
 */
export async function streamJournal(path: string, onEntry: (value: unknown, line: number) => void): Promise<JournalScan> {
  let mtimeMs = 0;
  try {
    mtimeMs = (await stat(path)).mtimeMs;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { lines: 0, tornTail: false, validBytes: 0, corrupt: [], mtimeMs: 0 };
    throw err;
  }
  const corrupt: Array<{ line: number; text: string }> = [];
  let lineNo = 0;
  let lines = 0;
  let bytes = 0;
  let validBytes = 0;
  // A bad line is only "corrupt" if another line follows it; the last one is a torn tail.
  let pendingBad: { line: number; text: string; start: number } | undefined;
  let rest = '';
  const handle = (text: string, start: number, end: number): void => {
    lineNo++;
    if (text.trim() === '') {
      validBytes = end;
      return;
    }
    if (pendingBad) {
      corrupt.push({ line: pendingBad.line, text: pendingBad.text.slice(0, 120) });
      pendingBad = undefined;
    }
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      pendingBad = { line: lineNo, text, start };
      return;
    }
    lines++;
    validBytes = end;
    onEntry(v, lineNo);
  };
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const text = rest + (chunk as string);
    let from = 0;
    for (let nl = text.indexOf('\n', from); nl >= 0; nl = text.indexOf('\n', from)) {
      const line = text.slice(from, nl);
      const len = Buffer.byteLength(line) + 1;
      handle(line, bytes, bytes + len);
      bytes += len;
      from = nl + 1;
    }
    rest = text.slice(from);
  }
  let tornTail = false;
  if (pendingBad) {
    tornTail = true;
    validBytes = pendingBad.start;
  }
  if (rest.length > 0) tornTail = true;
  return { lines, tornTail, validBytes, corrupt, mtimeMs };
}

/** Row count from a Parquet footer, or why the file does not open. */
export type ParquetCheck = { readonly ok: true; readonly rows: number; readonly bytes: number } | { readonly ok: false; readonly reason: string };

const MAGIC = 0x31524150; // "PAR1" little-endian

/**
 * Reads a Parquet file's row count from its footer (FileMetaData.num_rows, Thrift compact), the way
 * a reader opens it: both magics, a sane footer length, a parsable footer whose row groups add up to
 * num_rows. Reads only the last few KB, so a million files take seconds, not the ~2.5 ms each
 * `pl.scanParquet(p).select(pl.len())` costs. Data pages are not decoded: a file damaged only in
 * its middle passes (as it does for `scanParquet(...).select(pl.len())`).
 *
 * @example
 * ```ts
 * const r = await parquetRowCount('/out/windows/symbol=A/event=X/trades.parquet');
 * if (!r.ok) console.log(r.reason); // "truncated: no PAR1 magic at the end"
 * ```
 */
export async function parquetRowCount(path: string): Promise<ParquetCheck> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    return { ok: false, reason: `cannot open (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
  try {
    const size = (await fh.stat()).size;
    if (size < 12) return { ok: false, reason: `too short (${size} bytes)` };
    const tailLen = Math.min(size, 64 * 1024);
    const tail = Buffer.alloc(tailLen);
    await fh.read(tail, 0, tailLen, size - tailLen);
    if (tail.readUInt32LE(tailLen - 4) !== MAGIC) return { ok: false, reason: 'truncated: no PAR1 magic at the end' };
    let head = tail;
    if (tailLen < size) {
      head = Buffer.alloc(4);
      await fh.read(head, 0, 4, 0);
    }
    if (head.readUInt32LE(0) !== MAGIC) return { ok: false, reason: 'no PAR1 magic at the start' };
    const footerLen = tail.readUInt32LE(tailLen - 8);
    if (footerLen <= 0 || footerLen > size - 12) return { ok: false, reason: `bad footer length ${footerLen}` };
    let footer: Buffer;
    if (footerLen + 8 <= tailLen) footer = tail.subarray(tailLen - 8 - footerLen, tailLen - 8);
    else {
      footer = Buffer.alloc(footerLen);
      await fh.read(footer, 0, footerLen, size - 8 - footerLen);
    }
    const rows = parseNumRows(footer);
    if (typeof rows === 'string') return { ok: false, reason: `bad footer: ${rows}` };
    return { ok: true, rows, bytes: size };
  } catch (err) {
    return { ok: false, reason: `read error (${(err as Error).message})` };
  } finally {
    await fh.close().catch(() => undefined);
  }
}

// --- minimal Thrift compact-protocol reader: just enough to find FileMetaData.num_rows ---

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  byte(): number {
    if (this.pos >= this.buf.length) throw new Error('unexpected end');
    return this.buf[this.pos++]!;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 70n) throw new Error('varint too long');
    }
  }
  zigzag(): bigint {
    const v = this.varint();
    return (v >> 1n) ^ -(v & 1n);
  }
  skip(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) throw new Error('unexpected end');
    this.pos += n;
  }
}

function skipValue(r: Reader, type: number, depth: number): void {
  if (depth > 64) throw new Error('nesting too deep');
  switch (type) {
    case 1:
    case 2:
      return; // booleans live in the field header
    case 3:
      r.skip(1);
      return;
    case 4:
    case 5:
    case 6:
      r.varint();
      return;
    case 7:
      r.skip(8);
      return;
    case 8:
      r.skip(Number(r.varint()));
      return;
    case 9:
    case 10: {
      const h = r.byte();
      let n = h >> 4;
      if (n === 15) n = Number(r.varint());
      const et = h & 0x0f;
      for (let i = 0; i < n; i++) {
        if (et === 1 || et === 2) r.skip(1);
        else skipValue(r, et, depth + 1);
      }
      return;
    }
    case 11: {
      const n = Number(r.varint());
      if (n === 0) return;
      const kv = r.byte();
      for (let i = 0; i < n; i++) {
        skipValue(r, kv >> 4, depth + 1);
        skipValue(r, kv & 0x0f, depth + 1);
      }
      return;
    }
    case 12:
      readStruct(r, depth + 1, () => false);
      return;
    default:
      throw new Error(`unknown thrift type ${type}`);
  }
}

/** Reads a struct; `onField(id, type)` returns true when it consumed the value itself. */
function readStruct(r: Reader, depth: number, onField: (id: number, type: number) => boolean): void {
  let last = 0;
  for (;;) {
    const h = r.byte();
    if (h === 0) return;
    const type = h & 0x0f;
    const delta = h >> 4;
    const id = delta === 0 ? Number(r.zigzag()) : last + delta;
    last = id;
    if (!onField(id, type)) skipValue(r, type, depth);
  }
}

function parseNumRows(footer: Buffer): number | string {
  const r = new Reader(footer);
  let numRows: bigint | undefined;
  let groupRows = 0n;
  let sawSchema = false;
  try {
    readStruct(r, 0, (id, type) => {
      if (id === 2 && type === 9) sawSchema = true;
      if (id === 3 && type === 6) {
        numRows = r.zigzag();
        return true;
      }
      if (id === 4 && type === 9) {
        const h = r.byte();
        let n = h >> 4;
        if (n === 15) n = Number(r.varint());
        if ((h & 0x0f) !== 12) throw new Error('row_groups is not a list of structs');
        for (let i = 0; i < n; i++) {
          readStruct(r, 1, (gid, gtype) => {
            if (gid === 3 && gtype === 6) {
              groupRows += r.zigzag();
              return true;
            }
            return false;
          });
        }
        return true;
      }
      return false;
    });
  } catch (err) {
    return (err as Error).message;
  }
  if (!sawSchema) return 'no schema';
  if (numRows === undefined) return 'no num_rows';
  if (numRows < 0n || numRows > BigInt(Number.MAX_SAFE_INTEGER)) return `num_rows ${numRows} out of range`;
  if (groupRows !== numRows) return `row groups hold ${groupRows} rows, footer says ${numRows}`;
  return Number(numRows);
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
  const root = join(dir, 'windows');
  for (const s of (await namesIn(root)).sort()) {
    if (!s.startsWith('symbol=')) continue;
    const sdir = join(root, s);
    for (const e of (await namesIn(sdir)).sort()) {
      if (!e.startsWith('event=')) continue;
      const edir = join(sdir, e);
      yield { symbol: s.slice('symbol='.length), event: e.slice('event='.length), dir: edir, names: await namesIn(edir) };
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
