/**
 * The one streaming journal reader of a run folder, with the torn-tail rule written once: a last
 * line without a newline, or a last non-blank line that is not JSON, is a torn tail (a crash
 * mid-append) and is ignored. An invalid line *before* the last is corruption: the pipeline's
 * readers ({@link scanJournalLines}, {@link scanWindowJournal}) throw an InputError naming file and
 * line; the operating commands ({@link streamJournal}) collect it and go on, so that `verify` and
 * `reconcile` can report and repair it. (`loadJournal` in src/sinks/journal.ts applies the same
 * rule to a buffer it already holds.)
 *
 * A 572,850-line `part-K.jsonl` is read in 1 MiB chunks, and each line that has exactly the shape
 * tickpipe writes, `{"event":"ID","symbol":"S","trades":N,"quotes":M}`, is read straight from the
 * bytes (such a line is valid JSON by construction); any other line goes through `JSON.parse`. No
 * array of lines, no object per line, no whole-file buffer: memory is what the caller keeps.
 */
import * as fsp from 'node:fs/promises';
import { InputError } from '../errors.js';
import { isNotFound, nodeFs, type FsLayer } from '../fs/fs-layer.js';
import { toDiskError } from '../fs/paths.js';

/** One window journal line as the scanner reports it. */
export interface ScannedWindowLine {
  readonly event: string;
  /** Row counts (NaN when the line does not carry a number there). */
  readonly trades: number;
  readonly quotes: number;
}

const NL = 0x0a;
const CHUNK = 1 << 20;

/** Where a journal scan may start, and what it reports back (for the committed index). */
export interface ScanFrom {
  /** File offset to start at: the end of a newline-terminated line. @default 0 */
  readonly offset?: number;
  /** Physical lines before `offset` (so that errors name the right line). @default 0 */
  readonly lines?: number;
  /** Fed every byte of the committed lines read (up to {@link ScanResult.end}), in order. */
  readonly digest?: { update(data: Uint8Array): unknown };
  /**
   * Collect invalid lines before the last here (line number and their first 120 characters) and
   * read on, instead of throwing. The committed prefix ({@link ScanResult.end}) then ends after the
   * last valid line. Not with `digest`. @default undefined (throw)
   */
  readonly corrupt?: Array<{ line: number; text: string }>;
}

/** How far a scan got: the prefix of the file made of whole lines that are all committed. */
export interface ScanResult {
  /** File offset after the last newline-terminated line before any line that is not JSON. */
  readonly end: number;
  /** Physical lines in `[0, end)`. */
  readonly lines: number;
  /** The last line is torn (no newline, or not JSON) and was ignored. */
  readonly tornTail: boolean;
}

/**
 * Calls `onLine` with every committed line of a journal file, in order. A missing file is empty.
 * `onLine` receives the line's bytes `[start, end)` of `buf` (valid only during the call) and its
 * 1-based number, and returns false when the line is not valid JSON (the scanner then applies the
 * torn-tail rule). With `from`, the scan starts at a line boundary inside the file (the committed
 * index covers the bytes before it).
 */
export async function scanJournalLines(
  path: string,
  onLine: (buf: Buffer, start: number, end: number, line: number) => boolean,
  fs: FsLayer = nodeFs,
  from: ScanFrom = {},
): Promise<ScanResult> {
  if (from.corrupt && from.digest) throw new InputError('scanJournalLines: corrupt and digest exclude each other');
  const v = new LineVisitor(path, onLine, from.lines ?? 0, from.corrupt);
  const base = from.offset ?? 0;
  if (fs !== nodeFs) {
    let buf: Buffer;
    try {
      buf = await fs.readFile(path);
    } catch (err) {
      if (isNotFound(err)) return { end: 0, lines: 0, tornTail: false };
      throw toDiskError(err, 'reading', path);
    }
    const r = scanBuffer(buf, base, v);
    from.digest?.update(buf.subarray(base, r.end));
    return r;
  }
  let h: fsp.FileHandle;
  try {
    h = await fsp.open(path, 'r');
  } catch (err) {
    if (isNotFound(err)) return { end: 0, lines: 0, tornTail: false };
    throw toDiskError(err, 'reading', path);
  }
  try {
    return await scanChunks(h, path, base, v, from.digest);
  } finally {
    await h.close().catch(() => undefined);
  }
}

/** Visits the lines of `buf` from `base` (a line boundary); a last line without newline is torn. */
function scanBuffer(buf: Buffer, base: number, v: LineVisitor): ScanResult {
  const end = buf.lastIndexOf(NL) + 1;
  let good = base;
  for (let s = base; s < end; ) {
    const e = buf.indexOf(NL, s);
    if (v.visit(buf, s, e)) good = e + 1;
    s = e + 1;
  }
  const tornTail = v.tornAfterBad(buf, end, buf.length);
  return { end: good, lines: v.goodLines, tornTail };
}

/**
 * The journal rule over bytes already in memory: `onLine` gets each line's bytes and returns false
 * when it is not JSON. An invalid line before the last throws InputError naming `path` and line.
 */
export function scanJournalBuffer(buf: Buffer, path: string, onLine: (buf: Buffer, start: number, end: number, line: number) => boolean): ScanResult {
  return scanBuffer(buf, 0, new LineVisitor(path, onLine, 0, undefined));
}

/** The torn-tail rule over the lines of one scan, and how far its committed prefix goes. */
class LineVisitor {
  /** A line that was not JSON: torn if it is the last non-blank one. */
  badLine = 0;
  lineNo: number;
  /** Physical lines in the committed prefix. */
  goodLines: number;
  /** The text of {@link badLine} (kept only when collecting). */
  badText = '';
  constructor(
    readonly path: string,
    readonly onLine: (buf: Buffer, start: number, end: number, line: number) => boolean,
    lines: number,
    readonly corrupt: Array<{ line: number; text: string }> | undefined,
  ) {
    this.lineNo = lines;
    this.goodLines = lines;
  }

  /** Visits one newline-terminated line; true when the committed prefix now ends after it. */
  visit(buf: Buffer, start: number, end: number): boolean {
    this.lineNo++;
    if (isBlank(buf, start, end)) return this.#good(this.badLine === 0);
    if (this.badLine > 0) this.#corruptLine();
    if (!this.onLine(buf, start, end, this.lineNo)) {
      this.badLine = this.lineNo;
      if (this.corrupt) this.badText = buf.toString('utf8', start, Math.min(end, start + 480)).slice(0, 120);
      return false;
    }
    return this.#good(true);
  }

  /**
   * At the end of the file: whether the tail is torn. Two torn lines cannot both be the last: an
   * invalid line followed by an unterminated one is corrupt.
   */
  tornAfterBad(buf: Buffer, start: number, end: number): boolean {
    const rest = end > start;
    if (this.badLine > 0 && !isBlank(buf, start, end)) this.#corruptLine();
    return rest || this.badLine > 0;
  }

  /** The pending invalid line is not the last: corruption, thrown or collected. */
  #corruptLine(): void {
    if (!this.corrupt) throw new InputError(`${this.path}:${this.badLine}: invalid journal line (not JSON)`);
    this.corrupt.push({ line: this.badLine, text: this.badText });
    this.badLine = 0;
  }

  #good(good: boolean): boolean {
    if (good) this.goodLines = this.lineNo;
    return good;
  }
}

/** The file from `base` in 1 MiB chunks (no whole-file buffer); lines longer than a chunk grow it. */
async function scanChunks(h: fsp.FileHandle, path: string, base: number, v: LineVisitor, digest: ScanFrom['digest']): Promise<ScanResult> {
  let buf = Buffer.allocUnsafe(CHUNK);
  let have = 0; // bytes [0, have) of buf hold the unread rest
  let pos = base; // file offset of buf[0]
  let good = base; // file offset after the last line of the committed prefix
  for (;;) {
    if (have === buf.length) {
      const bigger = Buffer.allocUnsafe(buf.length * 2); // a line longer than the chunk
      buf.copy(bigger, 0, 0, have);
      buf = bigger;
    }
    let bytesRead: number;
    try {
      ({ bytesRead } = await h.read(buf, have, buf.length - have, pos + have));
    } catch (err) {
      throw toDiskError(err, 'reading', path);
    }
    if (bytesRead <= 0) {
      const tornTail = v.tornAfterBad(buf, 0, have); // what is left has no newline: a torn tail, ignored
      return { end: good, lines: v.goodLines, tornTail };
    }
    have += bytesRead;
    let s = 0;
    const goodBefore = good;
    for (let e = buf.indexOf(NL, s); e >= 0 && e < have; e = buf.indexOf(NL, s)) {
      if (v.visit(buf, s, e)) good = pos + e + 1;
      s = e + 1;
    }
    // The prefix only grows while no bad line was met, so it is contiguous with what was hashed.
    if (good > goodBefore) digest?.update(buf.subarray(goodBefore - pos, good - pos));
    buf.copy(buf, 0, s, have);
    have -= s;
    pos += s;
  }
}

function isBlank(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d) return false;
  }
  return true;
}

/**
 * Every committed line of a stage-2 journal (`part-K.jsonl` or `part-K.failed.jsonl`) as
 * `{ event, trades, quotes }`; lines of another shape are parsed with `JSON.parse`.
 * @throws InputError for an invalid line before the last, or a line without an event ID.
 */
export async function scanWindowJournal(path: string, onLine: (l: ScannedWindowLine) => void, fs: FsLayer = nodeFs, from: ScanFrom = {}): Promise<ScanResult> {
  return scanJournalLines(
    path,
    (buf, start, end, line) => {
      const fast = fastWindowLine(buf, start, end);
      if (fast !== undefined) {
        onLine(fast);
        return true;
      }
      let entry: unknown;
      try {
        entry = JSON.parse(buf.toString('utf8', start, end));
      } catch {
        return false;
      }
      const e = entry as { event?: unknown; trades?: unknown; quotes?: unknown } | null;
      if (!e || typeof e !== 'object' || typeof e.event !== 'string') throw new InputError(`${path}:${line}: entry has no event ID`);
      onLine({ event: e.event, trades: typeof e.trades === 'number' ? e.trades : Number.NaN, quotes: typeof e.quotes === 'number' ? e.quotes : Number.NaN });
      return true;
    },
    fs,
    from,
  );
}

const EVENT_KEY = Buffer.from('{"event":"');
const SYMBOL_KEY = Buffer.from('","symbol":"');
const TRADES_KEY = Buffer.from('","trades":');
const QUOTES_KEY = Buffer.from(',"quotes":');

function matchAt(buf: Buffer, at: number, key: Buffer): boolean {
  if (at + key.length > buf.length) return false;
  for (let i = 0; i < key.length; i++) if (buf[at + i] !== key[i]) return false;
  return true;
}

/** End of a plain JSON string body starting at `at` (printable ASCII, no `"` or `\`), or -1. */
function plainString(buf: Buffer, at: number, end: number): number {
  for (let i = at; i < end; i++) {
    const c = buf[i]!;
    if (c === 0x22) return i;
    if (c < 0x20 || c > 0x7e || c === 0x5c) return -1;
  }
  return -1;
}

/** A JSON non-negative integer without leading zeros at `at`: [value, end] or undefined. */
function plainInt(buf: Buffer, at: number, end: number): [number, number] | undefined {
  let v = 0;
  let i = at;
  for (; i < end && i - at < 15; i++) {
    const c = buf[i]!;
    if (c < 0x30 || c > 0x39) break;
    v = v * 10 + (c - 0x30);
  }
  if (i === at || (buf[at] === 0x30 && i - at > 1)) return undefined;
  return [v, i];
}

/** `{"event":"ID","symbol":"S","trades":N,"quotes":M}` exactly, else undefined. */
function fastWindowLine(buf: Buffer, start: number, end: number): ScannedWindowLine | undefined {
  const w = windowLineShape(buf, start, end);
  return w && { event: buf.toString('latin1', w.idStart, w.idEnd), trades: w.trades, quotes: w.quotes };
}

/** Where the parts of a window journal line are in its bytes (printable ASCII strings). */
export interface WindowLineShape {
  readonly idStart: number;
  readonly idEnd: number;
  readonly symStart: number;
  readonly symEnd: number;
  readonly trades: number;
  readonly quotes: number;
}

/**
 * `{"event":"ID","symbol":"S","trades":N,"quotes":M}` exactly (the shape tickpipe writes, valid
 * JSON by construction), read in place without making strings; undefined for any other line.
 */
export function windowLineShape(buf: Buffer, start: number, end: number): WindowLineShape | undefined {
  if (!matchAt(buf, start, EVENT_KEY)) return undefined;
  const idStart = start + EVENT_KEY.length;
  const idEnd = plainString(buf, idStart, end);
  if (idEnd < 0 || !matchAt(buf, idEnd, SYMBOL_KEY)) return undefined;
  const symStart = idEnd + SYMBOL_KEY.length;
  const symEnd = plainString(buf, symStart, end);
  if (symEnd < 0 || !matchAt(buf, symEnd, TRADES_KEY)) return undefined;
  const trades = plainInt(buf, symEnd + TRADES_KEY.length, end);
  if (trades === undefined || !matchAt(buf, trades[1], QUOTES_KEY)) return undefined;
  const quotes = plainInt(buf, trades[1] + QUOTES_KEY.length, end);
  if (quotes === undefined || quotes[1] !== end - 1 || buf[end - 1] !== 0x7d) return undefined;
  return { idStart, idEnd, symStart, symEnd, trades: trades[0], quotes: quotes[0] };
}

/** What {@link streamJournal} found besides the entries. */
export interface JournalScan {
  /** Non-blank lines that are JSON (torn tail and corrupt lines excluded). */
  readonly lines: number;
  /** The last line is torn (no newline, or not JSON): ignored, like loadJournal does. */
  readonly tornTail: boolean;
  /** Byte length of the valid prefix (up to the end of the last valid line). */
  readonly validBytes: number;
  /** Lines before the last that are not JSON (the pipeline refuses the whole file for these). */
  readonly corrupt: ReadonlyArray<{ readonly line: number; readonly text: string }>;
  readonly mtimeMs: number;
}

/**
 * Streams an NDJSON journal for the operating commands, calling `onEntry(value, lineNo)` for each
 * JSON line, with the torn-tail rule of {@link scanJournalLines} but collecting invalid earlier
 * lines instead of throwing. A missing file is empty. Memory stays flat whatever the journal's size.
 */
export async function streamJournal(path: string, onEntry: (value: unknown, line: number) => void): Promise<JournalScan> {
  let mtimeMs = 0;
  try {
    mtimeMs = (await fsp.stat(path)).mtimeMs;
  } catch (err) {
    if (isNotFound(err)) return { lines: 0, tornTail: false, validBytes: 0, corrupt: [], mtimeMs: 0 };
    throw toDiskError(err, 'reading', path);
  }
  const corrupt: Array<{ line: number; text: string }> = [];
  let lines = 0;
  const r = await scanJournalLines(
    path,
    (buf, start, end, line) => {
      let v: unknown;
      try {
        v = JSON.parse(buf.toString('utf8', start, end));
      } catch {
        return false;
      }
      lines++;
      onEntry(v, line);
      return true;
    },
    nodeFs,
    { corrupt },
  );
  return { lines, tornTail: r.tornTail, validBytes: r.end, corrupt, mtimeMs };
}
