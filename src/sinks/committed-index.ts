/**
 * The committed index, `state/ingest/committed.idx`: the stage-2 journals' committed event IDs as a
 * {@link CompactIdSet} on disk, so that a resume does not parse a 572,850-line journal again.
 *
 * The journals stay the commit point; the index is a cache of them that can never say more than they
 * do. For every `part-K.jsonl` it covers, it records the byte length of the prefix it was built from
 * (whole committed lines only, never a torn tail), that prefix's line count and its SHA-1. On load,
 * each covered journal must still be at least that long and its first `bytes` must hash to the same
 * digest (the journal is append-only; a journal replaced, truncated or restored from a backup fails
 * this), and no covered journal may be gone; otherwise the index is ignored and every journal is
 * read from its start. Only the bytes after the covered prefix (and journals it does not cover) are
 * then parsed. Membership is exact whatever the hash: a probe compares the full ID bytes.
 *
 * When enough lines were read beyond the index ({@link LoadCommittedOptions.rewriteAfterLines}), a
 * fresh index is published atomically (tmp file + fsync + rename); failing to write it only costs
 * the next start its speed. Deleting the file is always safe: the next start rebuilds it.
 *
 * @example
 * ```ts
 * const c = await loadCommittedWindows('out/state/ingest', ['part-0.jsonl']);
 * c.ids.has('AAPL_flush_20231207_130200_1a2b3c4d');
 * ```
 */
import { createHash, type Hash } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { nodeFs, type FsLayer } from '../fs/fs-layer.js';
import { CompactIdSet, hashString, type IdHash } from './id-set.js';
import { CANONICAL_ID_PACKER } from './key-packers.js';
import { scanWindowJournal, type ScanFrom } from '../run-folder/journal-reader.js';
import { alignUp, cacheHeader, publishCacheFile, readCacheBytes, readCacheHeader, type CacheBytes } from './cache-file.js';
import { COMMITTED_INDEX_NAME, MANIFEST_KEYS_NAME, stateDirs } from '../run-folder/layout.js';

/** File name of the index inside the stage-2 state folder (src/run-folder/layout.ts). */
export { COMMITTED_INDEX_NAME };

/** The folder of the stage-2 journals, the index and the key file: `OUT/state/ingest`. */
export function ingestStateDir(outDir: string): string {
  return stateDirs(outDir).ingest;
}

/** File name of the manifest key file (`manifest-keys.ts`) inside `state/ingest/`, beside the index. */
export { MANIFEST_KEYS_NAME };

// Version 2: canonical IDs packed (id-set.ts); a version-1 file is 'unreadable' and rebuilt once.
const MAGIC = Buffer.from('TPCIDX\u0000\u0002', 'latin1');

/** What a journal's covered prefix was when the index was written. */
export interface CoveredJournal {
  readonly name: string;
  readonly bytes: number;
  readonly lines: number;
  readonly sha1: string;
}

interface IndexHeader {
  readonly hash: string;
  readonly journals: readonly CoveredJournal[];
  /** Committed lines, and trades/quotes summed over each ID's first line (null = NaN). */
  readonly lines: number;
  readonly trades: number | null;
  readonly quotes: number | null;
  readonly count: number;
  readonly poolBytes: number;
  readonly tableLength: number;
  readonly wide: readonly string[];
  /** The packed IDs' prefixes by code ({@link IdSetSections.prefixes}). */
  readonly prefixes: readonly string[];
  readonly fileBytes: number;
}

/** How the index was used by a load (for logs, tests and benchmarks). */
export type IndexUse = 'used' | 'absent' | 'stale' | 'unreadable' | 'not-used';

/** Every committed window over the stage-2 journals. */
export interface CommittedWindows {
  readonly ids: CompactIdSet;
  /** Committed journal lines (a repeated ID counts each time). */
  readonly lines: number;
  /** Trades and quotes summed over the first line of each ID. */
  readonly trades: number;
  readonly quotes: number;
  readonly index: IndexUse;
  /** Whether a fresh index was published by this load. */
  readonly indexWritten: boolean;
}

export interface LoadCommittedOptions {
  /** Filesystem layer; any other than nodeFs (fault injection) reads the journals without the index. */
  readonly fs?: FsLayer;
  /** Publish a fresh index once this many lines were read beyond it. @default 10,000 */
  readonly rewriteAfterLines?: number;
  /** The set's hash, named (tests force collisions with a tiny one). @default FNV-1a 32 */
  readonly hash?: { readonly name: string; readonly fn: IdHash };
}

const DEFAULT_HASH = { name: 'fnv1a32', fn: hashString };

/**
 * The committed windows of the journals `names` (sorted `part-K.jsonl` names) in `dir`, from the
 * index plus the journal bytes it does not cover. Same IDs, line count and sums as reading every
 * journal; same errors for an invalid line in the part read.
 */
export async function loadCommittedWindows(dir: string, names: readonly string[], opts: LoadCommittedOptions = {}): Promise<CommittedWindows> {
  const fs = opts.fs ?? nodeFs;
  const hash = opts.hash ?? DEFAULT_HASH;
  const useIndex = fs === nodeFs;
  const loaded = useIndex ? await openIndex(dir, names, hash) : ({ use: 'not-used' } as const);
  const idx = 'header' in loaded ? loaded : undefined;
  let bytes = 0;
  if (!idx) for (const n of names) bytes += await fsp.stat(join(dir, n)).then((st) => st.size, () => 0);
  // Sized from the journals' bytes (~95 per line as tickpipe writes them) so the set rarely grows;
  // packed: 14 bytes per canonical ID instead of ~45 (the set is most of a resume's memory).
  const ids = idx ? idx.ids : new CompactIdSet(bytes / 95, hash.fn, CANONICAL_ID_PACKER);
  let lines = idx?.header.lines ?? 0;
  let trades = idx ? (idx.header.trades ?? Number.NaN) : 0;
  let quotes = idx ? (idx.header.quotes ?? Number.NaN) : 0;
  let readLines = 0;
  const covered: CoveredJournal[] = [];
  for (const name of names) {
    const prior = idx?.prefixes.get(name);
    const digest = prior?.digest ?? createHash('sha1');
    const from: ScanFrom = prior ? { offset: prior.covered.bytes, lines: prior.covered.lines, digest } : { digest };
    const r = await scanWindowJournal(
      join(dir, name),
      (e) => {
        readLines++;
        lines++;
        if (ids.add(e.event)) {
          trades += e.trades;
          quotes += e.quotes;
        }
      },
      fs,
      from,
    );
    covered.push({ name, bytes: r.end, lines: r.lines, sha1: digest.digest('hex') });
  }
  let indexWritten = false;
  if (idx) ids.persistedEntries = idx.header.count;
  if (useIndex && names.length > 0 && readLines >= (opts.rewriteAfterLines ?? 10_000)) {
    indexWritten = await writeIndex(dir, ids, { hash: hash.name, journals: covered, lines, trades, quotes });
    if (indexWritten) ids.persistedEntries = ids.poolEntries;
  }
  return { ids, lines, trades, quotes, index: loaded.use, indexWritten };
}

interface OpenedIndex {
  readonly use: 'used';
  readonly header: Pick<IndexHeader, 'lines' | 'trades' | 'quotes' | 'count'>;
  readonly ids: CompactIdSet;
  /** Per covered journal: its record and a SHA-1 fed its covered prefix (to continue with the tail). */
  readonly prefixes: Map<string, { covered: CoveredJournal; digest: Hash }>;
}

/** The index if it matches the journals, else why not. Never throws for a bad index. */
async function openIndex(dir: string, names: readonly string[], hash: { name: string; fn: IdHash }): Promise<OpenedIndex | { use: IndexUse }> {
  let bytes: CacheBytes;
  try {
    bytes = await readCacheBytes(join(dir, COMMITTED_INDEX_NAME));
  } catch {
    return { use: 'absent' };
  }
  let header: IndexHeader;
  let ids: CompactIdSet;
  try {
    ({ header, ids } = decodeIndex(bytes, hash));
  } catch {
    bytes.release();
    return { use: 'unreadable' };
  }
  const prefixes = new Map<string, { covered: CoveredJournal; digest: Hash }>();
  const stale = (): { use: IndexUse } => {
    ids.release();
    return { use: 'stale' };
  };
  for (const c of header.journals) {
    if (!names.includes(c.name)) return stale(); // a covered journal is gone: its IDs must not count
    const digest = await prefixDigest(join(dir, c.name), c.bytes);
    if (digest === undefined || digest.copy().digest('hex') !== c.sha1) return stale();
    prefixes.set(c.name, { covered: c, digest });
  }
  return { use: 'used', header, ids, prefixes };
}

/** SHA-1 fed the first `bytes` of the file, or undefined when the file is shorter or unreadable. */
async function prefixDigest(path: string, bytes: number): Promise<Hash | undefined> {
  let h: fsp.FileHandle;
  try {
    h = await fsp.open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const digest = createHash('sha1');
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let pos = 0; pos < bytes; ) {
      const { bytesRead } = await h.read(buf, 0, Math.min(buf.length, bytes - pos), pos);
      if (bytesRead <= 0) return undefined;
      digest.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    return digest;
  } catch {
    return undefined;
  } finally {
    await h.close().catch(() => undefined);
  }
}

const align4 = (n: number): number => alignUp(n, 4);

/** The set is views of `bytes` (released with it: {@link CompactIdSet.release}). */
function decodeIndex(file: CacheBytes, hash: { name: string; fn: IdHash }): { header: IndexHeader; ids: CompactIdSet } {
  const buf = file.buf; // byte offset 0: the views below are aligned
  const { header, bodyStart } = readCacheHeader<IndexHeader>(buf, MAGIC, 4);
  if (header.hash !== hash.name) throw new Error('index of another hash');
  let at = bodyStart;
  const u32 = (n: number): Uint32Array => {
    const a = new Uint32Array(buf.buffer, buf.byteOffset + at, n);
    at += n * 4;
    return a;
  };
  const bytes = (n: number): Uint8Array => {
    const a = new Uint8Array(buf.buffer, buf.byteOffset + at, n);
    at = align4(at + n);
    return a;
  };
  const pool = bytes(header.poolBytes);
  const packed = bytes((header.count >> 3) + 1);
  const starts = u32(header.count + 1);
  const hashes = u32(header.count);
  const table = u32(header.tableLength);
  if (at !== buf.length) throw new Error('index length mismatch');
  return { header, ids: CompactIdSet.fromSections({ pool, starts, hashes, table, wide: header.wide, packed, prefixes: header.prefixes }, hash.fn, CANONICAL_ID_PACKER, file) };
}

/** Publishes the index atomically; false (and nothing changed) when it cannot be written. */
async function writeIndex(
  dir: string,
  ids: CompactIdSet,
  h: { hash: string; journals: CoveredJournal[]; lines: number; trades: number; quotes: number },
): Promise<boolean> {
  const s = ids.sections();
  const packed = s.packed ?? new Uint8Array((s.hashes.length >> 3) + 1); // a set loaded without packing: all raw
  const draft = { ...h, trades: Number.isNaN(h.trades) ? null : h.trades, quotes: Number.isNaN(h.quotes) ? null : h.quotes, count: s.hashes.length, poolBytes: s.pool.length, tableLength: s.table.length, wide: s.wide, prefixes: s.prefixes ?? [] };
  const body = align4(s.pool.length) + align4(packed.length) + (s.starts.length + s.hashes.length + s.table.length) * 4;
  const head = cacheHeader(MAGIC, draft, body, 4);
  const pad = (n: number): Buffer => Buffer.alloc(align4(n) - n);
  const bytesOf = (a: Uint32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  // On false nothing was published: a cache, the next start reads the journals again.
  return publishCacheFile(join(dir, COMMITTED_INDEX_NAME), [head, s.pool, pad(s.pool.length), packed, pad(packed.length), bytesOf(s.starts), bytesOf(s.hashes), bytesOf(s.table)]);
}
