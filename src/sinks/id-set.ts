import { createHash } from 'node:crypto';

/**
 * A compact, exact set of ID strings (event IDs of committed windows, IDs seen in a manifest pass).
 *
 * A JS `Set` of 572,850 event IDs costs ~100 MB of heap (a string object and a hash-table entry per
 * ID). Here the IDs' bytes sit end to end in one growable byte pool, and an open-addressing table
 * of 32-bit slots points into it: ≈ 50 bytes per ID of pool plus 12–20 bytes of index. The
 * membership test is exact: a probe first compares the stored 32-bit hash, then the full bytes, so
 * a hash collision can never report an ID as present that was not added.
 *
 * IDs made of characters above U+00FF (never produced by tickpipe; possible in an adopted tree)
 * are kept in a plain `Set` beside the pool.
 *
 * With `pack` (the committed set), an ID of the canonical shape `PREFIX_YYYYMMDD_HHMMSS_hhhhhhhh`
 * (src/streams/event-id.ts) is stored as a 14-byte record instead of its ~45 characters: the code
 * of `PREFIX` (symbol and event type) in a dictionary, the 14 stamp digits as one integer and the 8
 * hex digits as 32 bits ({@link packCanonicalId}). The record decodes to exactly the ID, so this is
 * not a hash: membership stays exact with no fallback needed. 572,850 committed IDs: 26 MB of pool
 * bytes become 8 MB. Every ID of that shape is packed (so a packable probe is compared with packed
 * entries only, any other with the raw ones).
 *
 * @example
 * ```ts
 * const done = new CompactIdSet();
 * done.add('AAPL_flush_20231207_130200_1a2b3c4d');
 * done.has('AAPL_flush_20231207_130200_1a2b3c4d'); // true
 * ```
 */
export class CompactIdSet {
  #pool: Uint8Array;
  #poolUsed = 0;
  /** Per entry: start in the pool; entry k's bytes are [starts[k], starts[k + 1]). */
  #starts: Uint32Array;
  #hashes: Uint32Array;
  #count = 0;
  /** Open-addressing table: entry index + 1, 0 = empty. Size is a power of two, load ≤ 1/2. */
  #table: Uint32Array;
  #wide = new Set<string>();
  readonly #hash: IdHash;
  /** Pack mode: one bit per entry, set when the entry is a packed record (else its raw bytes). */
  #packed: Uint8Array | undefined;
  /** Pack mode: the prefixes of packed IDs, by code (append-only: codes are stable). */
  #prefixes: string[] = [];
  readonly #prefixCode = new Map<string, number>();
  /** The probe's packed record ({@link indexOf} packs it once, then compares bytes). */
  readonly #probe = new Uint8Array(PACKED_BYTES);
  /**
   * Entries 0..persistedEntries-1 are the ones a file on disk holds in this order (the committed
   * index sets it when it loads or writes the set): entry numbers below it are stable across starts.
   */
  persistedEntries = 0;

  /**
   * @param expected IDs expected (sizes the first allocation; it grows as needed).
   * @param hash the 32-bit hash of the table; tests pass a tiny one to force collisions (the set
   * stays exact: a probe compares the full bytes).
   * @param pack store canonical event IDs as 14-byte records (see the class comment).
   */
  constructor(expected = 1024, hash: IdHash = hashString, pack = false) {
    const n = Math.max(16, Math.ceil(expected));
    this.#pool = new Uint8Array(n * (pack ? PACKED_BYTES : 48));
    this.#starts = new Uint32Array(n + 1);
    this.#hashes = new Uint32Array(n);
    this.#table = new Uint32Array(tableSizeFor(n));
    this.#hash = hash;
    this.#packed = pack ? new Uint8Array((n >> 3) + 1) : undefined;
  }

  /** Whether canonical IDs are stored packed. */
  get packs(): boolean {
    return this.#packed !== undefined;
  }

  /**
   * The set as byte sections ({@link CompactIdSet.fromSections} reads them back without copying):
   * what the committed index (`committed-index.ts`) writes to disk.
   */
  sections(): IdSetSections {
    return {
      pool: this.#pool.subarray(0, this.#poolUsed),
      starts: this.#starts.subarray(0, this.#count + 1),
      hashes: this.#hashes.subarray(0, this.#count),
      table: this.#table,
      wide: [...this.#wide],
      ...(this.#packed ? { packed: this.#packed.subarray(0, (this.#count >> 3) + 1), prefixes: this.#prefixes } : {}),
    };
  }

  /**
   * A set over sections written by {@link sections} (typed-array views are kept, not copied; the
   * first `add` that needs room copies into larger arrays). The sections must come from a set built
   * with the same `hash`.
   */
  static fromSections(s: IdSetSections, hash: IdHash = hashString): CompactIdSet {
    const set = new CompactIdSet(16, hash, s.packed !== undefined);
    const count = s.hashes.length;
    if (s.starts.length !== count + 1 || s.starts[count] !== s.pool.length || s.table.length < 32 || (s.table.length & (s.table.length - 1)) !== 0 || count * 2 > s.table.length) {
      throw new RangeError('CompactIdSet.fromSections: inconsistent sections');
    }
    if (s.packed !== undefined) {
      if (s.packed.length !== (count >> 3) + 1 || s.prefixes === undefined) throw new RangeError('CompactIdSet.fromSections: inconsistent packed sections');
      set.#packed = s.packed;
      set.#prefixes = [...s.prefixes];
      s.prefixes.forEach((p, i) => set.#prefixCode.set(p, i));
    }
    set.#pool = s.pool;
    set.#poolUsed = s.pool.length;
    set.#starts = s.starts;
    set.#hashes = s.hashes;
    set.#count = count;
    set.#table = s.table;
    for (const id of s.wide) set.#wide.add(id);
    return set;
  }

  /** Number of distinct IDs. */
  get size(): number {
    return this.#count + this.#wide.size;
  }

  /** Whether `id` was added. Exact. */
  has(id: string): boolean {
    return this.indexOf(id) >= 0;
  }

  /**
   * The entry number of `id` (0 ≤ n < size, stable for the set's life), or -1. Lets a caller keep
   * one bit per entry (e.g. "seen in this manifest pass") instead of a second set.
   */
  indexOf(id: string): number {
    const h = this.#hash(id);
    if (h < 0) {
      if (!this.#wide.has(id)) return -1;
      return this.#count + [...this.#wide].indexOf(id); // rare path; never taken for tickpipe IDs
    }
    const packed = this.#packProbe(id);
    if (packed === NOT_HELD) return -1;
    const mask = this.#table.length - 1;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const e = this.#table[slot]!;
      if (e === 0) return -1;
      const k = e - 1;
      if (this.#hashes[k] === h && (packed ? this.#equalsProbe(k) : this.#equals(k, id))) return k;
    }
  }

  /**
   * Pack mode: packs `id` into the probe record. True when packed, false when `id` is not of the
   * canonical shape (it can only be a raw entry), {@link NOT_HELD} when its prefix has no code (no
   * packed entry can be it). Always false outside pack mode.
   */
  #packProbe(id: string): boolean | typeof NOT_HELD {
    if (this.#packed === undefined) return false;
    const prefixEnd = canonicalPrefixEnd(id);
    if (prefixEnd < 0) return false;
    const code = this.#prefixCode.get(id.slice(0, prefixEnd));
    if (code === undefined) return NOT_HELD;
    writePacked(this.#probe, 0, code, id, prefixEnd);
    return true;
  }

  /**
   * {@link indexOf} of a key given as bytes `[start, end)` of `buf` (each byte one character, as
   * Latin-1 reads it): no string is made, so a caller can probe raw file bytes.
   */
  indexOfBytes(buf: Uint8Array, start: number, end: number): number {
    // Packed records are not the IDs' bytes: compare as a string (the committed set is probed by ID).
    if (this.#packed !== undefined) return this.indexOf(Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1'));
    const h = hashBytes(buf, start, end, this.#hash);
    const mask = this.#table.length - 1;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const e = this.#table[slot]!;
      if (e === 0) return -1;
      const k = e - 1;
      if (this.#hashes[k] === h && this.#equalsBytes(k, buf, start, end)) return k;
    }
  }

  /**
   * A SHA-1 over the first `n` entries (their bytes and boundaries): equal digests mean entries
   * 0..n-1 are the same IDs in the same order, so an entry number below `n` names the same ID in
   * both sets. Undefined when the set has fewer than `n` byte-pool entries.
   */
  prefixDigest(n: number): string | undefined {
    if (!Number.isInteger(n) || n < 0 || n > this.#count) return undefined;
    const starts = this.#starts.subarray(0, n + 1);
    const digest = createHash('sha1')
      .update(this.#pool.subarray(0, this.#starts[n]!))
      .update(new Uint8Array(starts.buffer, starts.byteOffset, starts.byteLength));
    if (this.#packed !== undefined) {
      // Packed records name prefixes by code: the same bytes mean the same IDs only under the same
      // codes. Entries 0..n-1 use codes below (their largest + 1): codes are given in order of use.
      let codes = 0;
      for (let k = 0; k < n; k++) if (this.#isPacked(k)) codes = Math.max(codes, readCode(this.#pool, this.#starts[k]!) + 1);
      digest.update(this.#packed.subarray(0, (n + 7) >> 3).map((b, i) => (i === n >> 3 ? b & ((1 << (n & 7)) - 1) : b)));
      digest.update(JSON.stringify(this.#prefixes.slice(0, codes)));
    }
    return digest.digest('hex');
  }

  /** The ID of byte-pool entry `k` (0 ≤ k < {@link poolEntries}). */
  entryAt(k: number): string {
    const start = this.#starts[k]!;
    if (this.#isPacked(k)) return unpack(this.#pool, start, this.#prefixes);
    return Buffer.from(this.#pool.buffer, this.#pool.byteOffset + start, this.#starts[k + 1]! - start).toString('latin1');
  }

  #isPacked(k: number): boolean {
    return this.#packed !== undefined && (this.#packed[k >> 3]! & (1 << (k & 7))) !== 0;
  }

  /** Entries held in the byte pool (entry numbers 0..poolEntries-1; IDs above U+00FF come after). */
  get poolEntries(): number {
    return this.#count;
  }

  /** Adds `id`; returns true if it was not there yet. */
  add(id: string): boolean {
    const h = this.#hash(id);
    if (h < 0) {
      if (this.#wide.has(id)) return false;
      this.#wide.add(id);
      return true;
    }
    let packed = this.#packProbe(id);
    if (packed === NOT_HELD) {
      // A new prefix: give it the next code (append-only, so codes already stored keep their meaning).
      const prefix = id.slice(0, canonicalPrefixEnd(id));
      this.#prefixCode.set(prefix, this.#prefixes.length);
      this.#prefixes.push(prefix);
      packed = this.#packProbe(id);
    }
    const mask = this.#table.length - 1;
    let slot = h & mask;
    for (; ; slot = (slot + 1) & mask) {
      const e = this.#table[slot]!;
      if (e === 0) break;
      const k = e - 1;
      if (this.#hashes[k] === h && (packed ? this.#equalsProbe(k) : this.#equals(k, id))) return false;
    }
    this.#append(id, h, packed === true);
    this.#table[slot] = this.#count; // entry index + 1
    if (this.#count * 2 > this.#table.length) this.#rehash();
    return true;
  }

  /** Entry `k` is the packed probe record. */
  #equalsProbe(k: number): boolean {
    if (!this.#isPacked(k)) return false;
    const s = this.#starts[k]!;
    const pool = this.#pool;
    const probe = this.#probe;
    for (let i = 0; i < PACKED_BYTES; i++) if (pool[s + i] !== probe[i]) return false;
    return true;
  }

  /** Entry `k` holds the raw bytes of `id`. */
  #equals(k: number, id: string): boolean {
    if (this.#isPacked(k)) return false;
    const start = this.#starts[k]!;
    const end = this.#starts[k + 1]!;
    if (end - start !== id.length) return false;
    const pool = this.#pool;
    for (let i = 0; i < id.length; i++) if (pool[start + i] !== id.charCodeAt(i)) return false;
    return true;
  }

  #equalsBytes(k: number, buf: Uint8Array, start: number, end: number): boolean {
    const s = this.#starts[k]!;
    if (this.#starts[k + 1]! - s !== end - start) return false;
    const pool = this.#pool;
    for (let i = start; i < end; i++) if (pool[s + i - start] !== buf[i]) return false;
    return true;
  }

  #append(id: string, h: number, packed: boolean): void {
    const k = this.#count;
    const bytes = packed ? PACKED_BYTES : id.length;
    if (this.#packed !== undefined && (k >> 3) >= this.#packed.length - 1) {
      const bits = new Uint8Array(Math.max(64, this.#packed.length * 2));
      bits.set(this.#packed);
      this.#packed = bits;
    }
    if (k + 1 >= this.#starts.length) {
      const starts = new Uint32Array(Math.max(32, this.#starts.length * 2));
      starts.set(this.#starts);
      this.#starts = starts;
      const hashes = new Uint32Array(starts.length);
      hashes.set(this.#hashes);
      this.#hashes = hashes;
    }
    if (this.#poolUsed + bytes > this.#pool.length) {
      // Doubling, except for a large pool (a loaded index adds a journal's tail): +25%.
      const grown = this.#pool.length >= 1 << 24 ? this.#pool.length + (this.#pool.length >> 2) : this.#pool.length * 2;
      const pool = new Uint8Array(Math.max(grown, this.#poolUsed + bytes, 64));
      pool.set(this.#pool.subarray(0, this.#poolUsed));
      this.#pool = pool;
    }
    const pool = this.#pool;
    let p = this.#poolUsed;
    if (packed) {
      pool.set(this.#probe, p);
      p += PACKED_BYTES;
      this.#packed![k >> 3]! |= 1 << (k & 7);
    } else {
      for (let i = 0; i < id.length; i++) pool[p++] = id.charCodeAt(i);
    }
    this.#poolUsed = p;
    this.#hashes[k] = h;
    this.#count = k + 1;
    this.#starts[k + 1] = p;
  }

  #rehash(): void {
    const table = new Uint32Array(this.#table.length * 2);
    const mask = table.length - 1;
    for (let k = 0; k < this.#count; k++) {
      let slot = this.#hashes[k]! & mask;
      while (table[slot] !== 0) slot = (slot + 1) & mask;
      table[slot] = k + 1;
    }
    this.#table = table;
  }

  /** Every ID, in insertion order (pool entries first). */
  *[Symbol.iterator](): IterableIterator<string> {
    for (let k = 0; k < this.#count; k++) yield this.entryAt(k);
    yield* this.#wide;
  }

  /** Bytes held by the pool and the index (for benchmarks and logs). */
  get bytes(): number {
    return this.#pool.byteLength + this.#starts.byteLength + this.#hashes.byteLength + this.#table.byteLength + (this.#packed?.byteLength ?? 0);
  }
}

/** A 32-bit hash of an ID for {@link CompactIdSet}: unsigned, or -1 for an ID that does not fit the byte pool. */
export type IdHash = (id: string) => number;

/** The parts of a {@link CompactIdSet}, as stored by the committed index. */
export interface IdSetSections {
  /** The IDs' bytes, end to end. */
  readonly pool: Uint8Array;
  /** Entry k's bytes are pool[starts[k], starts[k + 1]); length = entries + 1. */
  readonly starts: Uint32Array;
  /** Hash of each entry. */
  readonly hashes: Uint32Array;
  /** Open-addressing table (entry + 1, 0 empty), a power of two long. */
  readonly table: Uint32Array;
  /** IDs with characters above U+00FF. */
  readonly wide: readonly string[];
  /** Pack mode only: one bit per entry (packed record or raw bytes), `(entries >> 3) + 1` bytes. */
  readonly packed?: Uint8Array;
  /** Pack mode only: the prefix of each code. */
  readonly prefixes?: readonly string[];
}

/** Bytes of a packed canonical ID: prefix code (u32), 14 stamp digits (48 bits), 8 hex digits (u32), little-endian. */
export const PACKED_BYTES = 14;

/** {@link CompactIdSet}'s "prefix has no code": no packed entry can be the ID. */
const NOT_HELD = 2;

/**
 * End of the `PREFIX` of an ID of the canonical shape `PREFIX_YYYYMMDD_HHMMSS_hhhhhhhh` (a non-empty
 * prefix, digits, lower-case hex), or -1. Only that exact spelling is packed, so that unpacking
 * gives back the same characters.
 */
export function canonicalPrefixEnd(id: string): number {
  const n = id.length;
  if (n < 26 || id.charCodeAt(n - 9) !== 0x5f || id.charCodeAt(n - 16) !== 0x5f || id.charCodeAt(n - 25) !== 0x5f) return -1;
  for (let i = n - 24; i < n - 9; i++) if (i !== n - 16 && !isDigit(id.charCodeAt(i))) return -1;
  for (let i = n - 8; i < n; i++) {
    const c = id.charCodeAt(i);
    if (!isDigit(c) && !(c >= 0x61 && c <= 0x66)) return -1;
  }
  return n - 25;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Digits `id[from, to)` as a number (the caller checked they are digits). */
function digitsAt(id: string, from: number, to: number): number {
  let v = 0;
  for (let i = from; i < to; i++) v = v * 10 + id.charCodeAt(i) - 0x30;
  return v;
}

/** Writes the packed record of canonical `id` (prefix code `code`, prefix ending at `prefixEnd`) at `out[at]`. */
function writePacked(out: Uint8Array, at: number, code: number, id: string, prefixEnd: number): void {
  const s = prefixEnd + 1;
  // YYYYMMDDHHMMSS < 10^14 < 2^47: exact in a double, split into a low 32 and a high 16 bits.
  const stamp = digitsAt(id, s, s + 8) * 1e6 + digitsAt(id, s + 9, s + 15);
  const hex = Number.parseInt(id.slice(s + 16), 16);
  const lo = stamp % 4294967296;
  const hi = (stamp - lo) / 4294967296;
  writeU32(out, at, code);
  writeU32(out, at + 4, lo);
  out[at + 8] = hi & 0xff;
  out[at + 9] = hi >>> 8;
  writeU32(out, at + 10, hex);
}

function writeU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v & 0xff;
  out[at + 1] = (v >>> 8) & 0xff;
  out[at + 2] = (v >>> 16) & 0xff;
  out[at + 3] = v >>> 24;
}

function readU32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) + b[at + 3]! * 16777216;
}

function readCode(pool: Uint8Array, at: number): number {
  return readU32(pool, at);
}

/** The ID a packed record at `pool[at]` stands for. */
function unpack(pool: Uint8Array, at: number, prefixes: readonly string[]): string {
  const stamp = readU32(pool, at + 4) + (pool[at + 8]! | (pool[at + 9]! << 8)) * 4294967296;
  const digits = String(stamp).padStart(14, '0');
  const hex = readU32(pool, at + 10).toString(16).padStart(8, '0');
  return `${prefixes[readCode(pool, at)]!}_${digits.slice(0, 8)}_${digits.slice(8)}_${hex}`;
}

function tableSizeFor(n: number): number {
  let size = 32;
  while (size < n * 2) size *= 2;
  return size;
}

/**
 * The set's hash of the Latin-1 string of `buf[start, end)`: FNV-1a over the bytes when the set uses
 * {@link hashString} (the same value, without making the string), else the string through `hash`.
 */
function hashBytes(buf: Uint8Array, start: number, end: number, hash: IdHash): number {
  if (hash !== hashString && hash !== mixedHashString) return hash(Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1'));
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return hash === mixedHashString ? fmix32(h) : h >>> 0;
}

/** MurmurHash3's finalizer: every input bit reaches the low bits (FNV-1a's low bits see only the bytes' low bits). */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * {@link hashString} through MurmurHash3's finalizer: for binary keys (many zero bytes, keys that
 * differ in a few bits), whose plain FNV-1a values cluster in the table's low bits.
 */
export function mixedHashString(s: string): number {
  const h = hashString(s);
  return h < 0 ? h : fmix32(h);
}

/**
 * FNV-1a over the UTF-16 code units, as an unsigned 32-bit number; -1 when a code unit is above
 * 0xFF (such an ID does not fit the byte pool).
 */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) return -1;
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h >>> 0;
}
