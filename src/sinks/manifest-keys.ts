/**
 * The manifest key file, `state/ingest/committed.keys`: for manifest rows whose event ID is
 * committed, the raw key the ID was computed from, mapped to the ID's entry number in the committed
 * set ({@link CompactIdSet}). A resume looks a row's raw key up here and, when it is found, skips
 * the row without computing its ID (no timestamp parse, no ISO string, no sha1 in JS).
 *
 * Keys (exactly what the ID is a function of, so equal keys always mean equal IDs):
 * - Parquet: the symbol and event type (as dictionary codes) and the timestamp value the manifest
 *   reader turns into the ID (Unix ms of an integer column, µs of a Datetime/Date column, tagged
 *   with which of the two), 17 bytes;
 * - CSV: the raw bytes of a one-line record without a quote, valid only under the same header line
 *   (stored): the reader's split and trim of such a line depend on nothing else.
 *
 * Exactness: the journals stay the commit point. A key maps to entry k of the committed set; the
 * file records how many entries it relies on (`n`) and a SHA-1 of those entries' bytes
 * ({@link CompactIdSet.prefixDigest}). It is used only when the committed set loaded at this start
 * has the same first `n` entries, so entry k is the same committed ID; otherwise (another run
 * folder's file, journals replaced, index rebuilt in another order), or when the file is torn,
 * corrupt (CRC-32) or of another byte order, it is ignored and every row's ID is computed. A row
 * whose key is not in the file (a new event, another spelling of a done event's time) takes the slow
 * path; what it teaches is written to a fresh file at the end of the pass (tmp + fsync + rename).
 * Deleting the file is always safe.
 */
import { crc32 } from 'node:zlib';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { CompactIdSet, hashString, mixedHashString, type IdSetSections } from './id-set.js';
import { CSV_LINE_PACKER } from './key-packers.js';
import { MANIFEST_KEYS_NAME } from './committed-index.js';
import { NumericKeyTable } from './numeric-key-table.js';
import { alignUp, cacheHeader, publishCacheFile, readCacheBytes, readCacheHeader, type CacheBytes } from './cache-file.js';

// Version 2: CSV keys packed (key-packers.ts); a version-1 file is 'unreadable' and rebuilt once.
const MAGIC = Buffer.from('TPMKEY\u0000\u0002', 'latin1');

/** How a Parquet timestamp value is read: Unix ms (integer column) or µs (Datetime/Date, converted). */
export type KeyTimeUnit = 'ms' | 'us';

/**
 * CSV keys → committed entries: a byte-keyed {@link CompactIdSet} and the entry number of each key.
 * Lines are packed ({@link CSV_LINE_PACKER}: `symbol,event_type` coded, the time two characters per
 * byte), 18 bytes instead of ~48 a line: the table was 36 MB of a 572,850-line resume's peak RSS.
 */
class ByteKeyTable {
  readonly set: CompactIdSet;
  #values: Uint32Array;
  constructor(set: CompactIdSet, values: Uint32Array) {
    this.set = set;
    this.#values = values;
  }

  static empty(): ByteKeyTable {
    return new ByteKeyTable(new CompactIdSet(1024, mixedHashString, CSV_LINE_PACKER), new Uint32Array(1024));
  }

  get size(): number {
    return this.set.poolEntries;
  }

  /** Committed entry of the key in `buf[start, end)`, or -1. */
  lookup(buf: Uint8Array, start: number, end: number): number {
    const e = this.set.indexOfBytes(buf, start, end);
    return e < 0 ? -1 : this.#values[e]!;
  }

  /** Adds a key (Latin-1 string of its bytes); false when it was there already. */
  add(key: string, committed: number): boolean {
    if (hashString(key) < 0 || !this.set.add(key)) return false; // not bytes: never a key
    const e = this.set.poolEntries - 1;
    if (e >= this.#values.length) {
      const grown = new Uint32Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[e] = committed;
    return true;
  }

  values(): Uint32Array {
    return this.#values.subarray(0, this.size);
  }
}

interface KeysHeader {
  readonly endian: string;
  /** The committed-set entries the keys rely on: their count and {@link CompactIdSet.prefixDigest}. */
  readonly committed: { readonly n: number; readonly sha1: string };
  readonly symbols: readonly string[];
  readonly types: readonly string[];
  /** Latin-1 string of the CSV header line's bytes the CSV keys belong to, or null. */
  readonly csvHeader: string | null;
  readonly parquet: { readonly count: number; readonly tableLength: number };
  readonly csv: { readonly count: number; readonly poolBytes: number; readonly tableLength: number; readonly prefixes: readonly string[] };
  readonly crc: number;
  readonly fileBytes: number;
}

/** How the key file was used by a load (for logs, tests and benchmarks). */
export type KeysUse = 'used' | 'absent' | 'stale' | 'unreadable';

/**
 * The keys of one run folder: looked up by the manifest reader, extended by the manifest pass
 * (rows whose ID it found committed), written back by {@link saveManifestKeys}.
 */
export class ManifestKeys {
  readonly use: KeysUse;
  #parquet: NumericKeyTable;
  #csv: ByteKeyTable;
  /** The key file's bytes the tables are views of (until the first add copies them), for {@link release}. */
  #backing: CacheBytes | undefined;
  readonly symbols: string[];
  readonly types: string[];
  #csvHeader: string | null;
  /** Entries of the committed set keys may name (entry numbers below it are stable across starts). */
  readonly committedLimit: number;
  readonly #symbolCode = new Map<string, number>();
  readonly #typeCode = new Map<string, number>();
  /** Keys added since the load. */
  learned = 0;

  constructor(use: KeysUse, parts: { parquet: NumericKeyTable; csv: ByteKeyTable; symbols: string[]; types: string[]; csvHeader: string | null }, committedLimit: number, backing?: CacheBytes) {
    this.use = use;
    this.#parquet = parts.parquet;
    this.#csv = parts.csv;
    this.#backing = backing;
    this.symbols = parts.symbols;
    this.types = parts.types;
    this.#csvHeader = parts.csvHeader;
    this.committedLimit = committedLimit;
    parts.symbols.forEach((s, i) => this.#symbolCode.set(s, i));
    parts.types.forEach((t, i) => this.#typeCode.set(t, i));
  }

  /** No keys (a first start, or a file that could not be used). */
  static none(use: KeysUse, committed: CompactIdSet): ManifestKeys {
    return new ManifestKeys(use, { parquet: new NumericKeyTable(), csv: ByteKeyTable.empty(), symbols: [], types: [], csvHeader: null }, committed.persistedEntries);
  }

  /** Parquet keys: (symbol code, type code and unit, timestamp value) → committed entry. */
  get parquet(): NumericKeyTable {
    return this.#parquet;
  }

  /** CSV keys: packed raw lines → committed entry. */
  get csv(): ByteKeyTable {
    return this.#csv;
  }

  /**
   * Gives the keys' memory back at once (~20 MB at 572,850 keys; see `CacheBytes`) once the pass
   * that probes them is over and {@link saveManifestKeys} has run. The keys are empty afterwards: a
   * lookup finds nothing, which only sends a row to the slow path (its ID is computed and looked up
   * in the committed set), never skips one.
   */
  release(): void {
    this.#backing?.release();
    this.#backing = undefined;
    this.#parquet = new NumericKeyTable();
    this.#csv = ByteKeyTable.empty();
    this.learned = 0;
  }

  get csvHeader(): string | null {
    return this.#csvHeader;
  }

  /** Whether the CSV keys belong to a file with this header line (Latin-1 of its bytes). */
  csvHeaderMatches(header: string): boolean {
    return this.#csvHeader === header && this.csv.size > 0;
  }

  /**
   * Committed entry of a Parquet row given as dictionary codes (-1: not in the dictionary) and its
   * timestamp value, or -1.
   */
  lookupParquet(symbolCode: number, typeCode: number, unit: KeyTimeUnit, value: number): number {
    if (symbolCode < 0 || typeCode < 0) return -1;
    return this.parquet.get(symbolCode, typeCode * 2 + (unit === 'ms' ? 1 : 0), value);
  }

  /** Records that the Parquet row (symbol, type, timestamp value) has committed entry `k`. */
  learnParquet(symbol: string, eventType: string, unit: KeyTimeUnit, value: number, k: number): void {
    if (k >= this.committedLimit || !Number.isInteger(value)) return; // only whole values can be valid rows' keys
    const s = this.#code(this.#symbolCode, this.symbols, symbol);
    const t = this.#code(this.#typeCode, this.types, eventType);
    if (this.parquet.add(s, t * 2 + (unit === 'ms' ? 1 : 0), value, k)) this.learned++;
  }

  /** Records that the CSV line (Latin-1 string of its raw bytes) under `header` has committed entry `k`. */
  learnCsv(header: string, line: string, k: number): void {
    if (k >= this.committedLimit) return;
    if (this.#csvHeader !== header) {
      if (this.csv.size > 0) return; // keys of another CSV header: kept; this file's rows stay on the slow path
      this.#csvHeader = header;
    }
    if (this.csv.add(line, k)) this.learned++;
  }

  #code(codes: Map<string, number>, list: string[], value: string): number {
    let c = codes.get(value);
    if (c === undefined) {
      c = list.length;
      list.push(value);
      codes.set(value, c);
    }
    return c;
  }
}

/**
 * The key file of `dir` (`state/ingest/`) if it fits the committed set loaded at this start, else
 * an empty one (with why). Never throws for a bad file.
 */
export async function loadManifestKeys(dir: string, committed: CompactIdSet): Promise<ManifestKeys> {
  let bytes: CacheBytes;
  try {
    bytes = await readCacheBytes(join(dir, MANIFEST_KEYS_NAME));
  } catch {
    return ManifestKeys.none('absent', committed);
  }
  let decoded: ReturnType<typeof decodeKeys>;
  try {
    decoded = decodeKeys(bytes.buf);
  } catch {
    bytes.release();
    return ManifestKeys.none('unreadable', committed);
  }
  const { header } = decoded;
  if (header.committed.n > committed.poolEntries || committed.prefixDigest(header.committed.n) !== header.committed.sha1) {
    bytes.release();
    return ManifestKeys.none('stale', committed);
  }
  const limit = Math.max(header.committed.n, committed.persistedEntries);
  return new ManifestKeys('used', { parquet: decoded.parquet, csv: decoded.csv, symbols: [...header.symbols], types: [...header.types], csvHeader: header.csvHeader }, limit, bytes);
}

const align8 = (n: number): number => alignUp(n, 8);

function decodeKeys(buf: Buffer): { header: KeysHeader; parquet: NumericKeyTable; csv: ByteKeyTable } {
  const { header, bodyStart } = readCacheHeader<KeysHeader>(buf, MAGIC, 8);
  if (header.endian !== endianness()) throw new Error('other byte order');
  // `buf` starts at byte 0 of its ArrayBuffer (readCacheBytes): the views below are aligned.
  if (crc32(buf.subarray(bodyStart)) !== header.crc) throw new Error('corrupt');
  let at = bodyStart;
  const view = <T>(C: new (b: ArrayBufferLike, o: number, n: number) => T, bytes: number, n: number): T => {
    const a = new C(buf.buffer, buf.byteOffset + at, n);
    at = align8(at + n * bytes);
    return a;
  };
  const p = header.parquet;
  const parquet = new NumericKeyTable({ ts: view(Float64Array, 8, p.count), a: view(Int32Array, 4, p.count), b: view(Int32Array, 4, p.count), values: view(Uint32Array, 4, p.count), table: view(Uint32Array, 4, p.tableLength) });
  const c = header.csv;
  const pool = view(Uint8Array, 1, c.poolBytes);
  const packed = view(Uint8Array, 1, (c.count >> 3) + 1);
  const sections: IdSetSections = { pool, starts: view(Uint32Array, 4, c.count + 1), hashes: view(Uint32Array, 4, c.count), table: view(Uint32Array, 4, c.tableLength), wide: [], packed, prefixes: c.prefixes };
  const csvValues = view(Uint32Array, 4, c.count);
  if (at !== buf.length) throw new Error('length mismatch');
  for (const values of [parquet.sections().values, csvValues]) {
    for (let i = 0; i < values.length; i++) if (values[i]! >= header.committed.n) throw new Error('key names an entry beyond n');
  }
  // Views of the file are kept; the first add copies into larger arrays.
  return { header, parquet, csv: new ByteKeyTable(CompactIdSet.fromSections(sections, mixedHashString, CSV_LINE_PACKER), csvValues) };
}

/**
 * Writes the keys (those loaded plus those learned) when `minLearned` or more were learned.
 * Returns whether a file was published; failing to write only costs the next start its speed.
 */
export async function saveManifestKeys(dir: string, keys: ManifestKeys, committed: CompactIdSet, minLearned: number): Promise<boolean> {
  if (keys.learned < Math.max(1, minLearned)) return false;
  const n = keys.committedLimit;
  const sha1 = committed.prefixDigest(n);
  if (sha1 === undefined) return false;
  const p = keys.parquet.sections();
  const c = keys.csv.set.sections();
  const parts: Uint8Array[] = [];
  const put = (a: Uint8Array | Float64Array | Int32Array | Uint32Array): void => {
    parts.push(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), new Uint8Array(align8(a.byteLength) - a.byteLength));
  };
  for (const a of [p.ts, p.a, p.b, p.values, p.table, c.pool, c.packed!, c.starts, c.hashes, c.table, keys.csv.values()]) put(a);
  // The parts are written as they are (no concatenated copy of the body: ~20 MB at 572,850 keys);
  // the CRC is chained over them.
  let crc = 0;
  let bodyBytes = 0;
  for (const part of parts) {
    crc = crc32(part, crc);
    bodyBytes += part.length;
  }
  const draft = {
    endian: endianness(),
    committed: { n, sha1 },
    symbols: keys.symbols,
    types: keys.types,
    csvHeader: keys.csvHeader,
    parquet: { count: p.ts.length, tableLength: p.table.length },
    csv: { count: c.hashes.length, poolBytes: c.pool.length, tableLength: c.table.length, prefixes: c.prefixes! },
    crc,
  };
  // On false nothing was published: a cache, the next start computes the IDs again.
  return publishCacheFile(join(dir, MANIFEST_KEYS_NAME), [cacheHeader(MAGIC, draft, bodyBytes, 8), ...parts]);
}
