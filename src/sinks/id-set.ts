import { createHash } from 'node:crypto';
import { readU32, writeU32, type KeyPacker } from './key-packers.js';

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
 * With a {@link KeyPacker} (src/sinks/key-packers.ts), a key of the packer's shape is stored as a
 * short record that decodes to exactly its bytes: the code of its prefix in a dictionary beside the
 * pool, and a packed tail. It is not a hash: membership stays exact with no fallback needed. The
 * committed set's 572,850 canonical IDs: 26 MB of pool bytes become 8 MB. Every key of that shape is
 * packed, so a packable probe is compared with packed entries only, any other with the raw ones.
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
  readonly #packer: KeyPacker | undefined;
  /** Pack mode: one bit per entry, set when the entry is a packed record (else its raw bytes). */
  #packed: Uint8Array | undefined;
  /** Pack mode: the prefixes, a code being an entry number (append-only: stored codes keep their meaning). */
  readonly #prefixSet: CompactIdSet | undefined;
  /** Pack mode: the probe's record (a probe is packed once, then compared byte for byte). */
  readonly #probe: Uint8Array;
  /** Pack mode: a string key's bytes, for the byte-level packer. */
  #keyBytes = new Uint8Array(64);
  /** Pack mode: where the last probed key's prefix ended. */
  #prefixEnd = -1;
  /** Read back by {@link fromSections}: the arrays are views of a file's bytes, exactly full. */
  #frozen = false;
  /** The file bytes the sections are views of ({@link fromSections}), given back by {@link release}. */
  #backing: { release(): void } | undefined;
  /** Set by {@link release}: every later use throws (an empty set would answer "not committed"). */
  #released = false;
  /**
   * Entries added to a frozen set, numbered after its own: growing the views would copy pool,
   * starts and hashes (~20 MB at 572,850 IDs) while the file buffer stays pinned by the table, for
   * the handful of IDs a resume's summary adds. Merged in ({@link #absorb}) before the set is written.
   */
  #overflow: CompactIdSet | undefined;
  /**
   * Entries 0..persistedEntries-1 are the ones a file on disk holds in this order (the committed
   * index sets it when it loads or writes the set): entry numbers below it are stable across starts.
   */
  persistedEntries = 0;

  /**
   * @param expected IDs expected (sizes the first allocation; it grows as needed).
   * @param hash the 32-bit hash of the table; tests pass a tiny one to force collisions (the set
   * stays exact: a probe compares the full bytes).
   * @param packer stores keys of its shape as short records (see the class comment).
   */
  constructor(expected = 1024, hash: IdHash = hashString, packer?: KeyPacker) {
    const n = Math.max(16, Math.ceil(expected));
    this.#pool = new Uint8Array(n * (packer ? 4 + packer.maxTail : 48));
    this.#starts = new Uint32Array(n + 1);
    this.#hashes = new Uint32Array(n);
    this.#table = new Uint32Array(tableSizeFor(n));
    this.#hash = hash;
    this.#packer = packer;
    this.#packed = packer ? new Uint8Array((n >> 3) + 1) : undefined;
    this.#prefixSet = packer ? new CompactIdSet(256) : undefined;
    this.#probe = new Uint8Array(packer ? 4 + packer.maxTail : 0);
  }

  /**
   * The set as byte sections ({@link CompactIdSet.fromSections} reads them back without copying):
   * what the committed index (`committed-index.ts`) writes to disk.
   */
  sections(): IdSetSections {
    this.#live();
    this.#absorb();
    return {
      pool: this.#pool.subarray(0, this.#poolUsed),
      starts: this.#starts.subarray(0, this.#count + 1),
      hashes: this.#hashes.subarray(0, this.#count),
      table: this.#table,
      wide: [...this.#wide],
      ...(this.#packed ? { packed: this.#packed.subarray(0, (this.#count >> 3) + 1), prefixes: [...this.#prefixSet!] } : {}),
    };
  }

  /**
   * A set over sections written by {@link sections} (typed-array views are kept, not copied; the
   * first `add` that needs room copies into larger arrays). The sections must come from a set built
   * with the same `hash`.
   */
  static fromSections(s: IdSetSections, hash: IdHash = hashString, packer?: KeyPacker, backing?: { release(): void }): CompactIdSet {
    const set = new CompactIdSet(16, hash, packer);
    const count = s.hashes.length;
    if (s.starts.length !== count + 1 || s.starts[count] !== s.pool.length || s.table.length < 32 || (s.table.length & (s.table.length - 1)) !== 0 || count * 2 > s.table.length) {
      throw new RangeError('CompactIdSet.fromSections: inconsistent sections');
    }
    if ((s.packed !== undefined) !== (packer !== undefined)) throw new RangeError('CompactIdSet.fromSections: packed sections need their packer');
    if (s.packed !== undefined) {
      if (s.packed.length !== (count >> 3) + 1 || s.prefixes === undefined) throw new RangeError('CompactIdSet.fromSections: inconsistent packed sections');
      set.#packed = s.packed;
      for (const p of s.prefixes) if (!set.#prefixSet!.add(p)) throw new RangeError('CompactIdSet.fromSections: repeated prefix');
    }
    set.#pool = s.pool;
    set.#poolUsed = s.pool.length;
    set.#starts = s.starts;
    set.#hashes = s.hashes;
    set.#count = count;
    set.#table = s.table;
    for (const id of s.wide) set.#wide.add(id);
    set.#frozen = true;
    set.#backing = backing;
    return set;
  }

  /**
   * Gives the set's memory back at once: the file bytes it was read from (`backing` of
   * {@link fromSections}) are released and its arrays dropped. For a holder that is done with a large
   * set while the process goes on (the manifest pass's committed set, ~21 MB at 572,850 IDs, before
   * the window workers load Polars). Any later use throws: a released set must never answer "absent".
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#overflow?.release();
    this.#overflow = undefined;
    this.#backing?.release();
    this.#backing = undefined;
    this.#pool = new Uint8Array(0);
    this.#starts = new Uint32Array(1);
    this.#hashes = new Uint32Array(0);
    this.#table = new Uint32Array(0);
    this.#packed = undefined;
    this.#count = 0;
    this.#poolUsed = 0;
    this.#wide.clear();
  }

  #live(): void {
    if (this.#released) throw new Error('CompactIdSet used after release()');
  }

  /** Moves the overflow's entries into the set's own arrays (copied into larger ones), same numbers. */
  #absorb(): void {
    const extra = this.#overflow;
    if (!extra) return;
    this.#overflow = undefined;
    this.#frozen = false;
    for (const id of extra) this.add(id);
  }

  /** Number of distinct IDs. */
  get size(): number {
    return this.poolEntries + this.#wide.size;
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
    this.#live();
    const h = this.#hash(id);
    if (h < 0) {
      if (!this.#wide.has(id)) return -1;
      return this.poolEntries + [...this.#wide].indexOf(id); // rare path; never taken for tickpipe IDs
    }
    const k = this.#indexOfOwn(id, h);
    if (k >= 0 || !this.#overflow) return k;
    const j = this.#overflow.indexOf(id);
    return j < 0 ? -1 : this.#count + j;
  }

  /** {@link indexOf} among the set's own entries (not the overflow's). */
  #indexOfOwn(id: string, h: number): number {
    if (this.#packer) return this.#find(h, this.#bytesOf(id), 0, id.length);
    const mask = this.#table.length - 1;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const e = this.#table[slot]!;
      if (e === 0) return -1;
      const k = e - 1;
      if (this.#hashes[k] === h && this.#equals(k, id)) return k;
    }
  }

  /** Pack mode: the entry of the key `buf[start, end)` whose hash is `h`, or -1. */
  #find(h: number, buf: Uint8Array, start: number, end: number): number {
    const len = this.#probeKey(buf, start, end);
    if (len < 0) return -1;
    const mask = this.#table.length - 1;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const e = this.#table[slot]!;
      if (e === 0) return -1;
      const k = e - 1;
      if (this.#hashes[k] === h && (len > 0 ? this.#equalsProbe(k, len) : this.#equalsBytes(k, buf, start, end))) return k;
    }
  }

  /** Pack mode: a string key's Latin-1 bytes (the caller checked every code unit is ≤ 0xFF), in a reused buffer. */
  #bytesOf(id: string): Uint8Array {
    if (id.length > this.#keyBytes.length) this.#keyBytes = new Uint8Array(id.length * 2);
    const b = this.#keyBytes;
    for (let i = 0; i < id.length; i++) b[i] = id.charCodeAt(i);
    return b;
  }

  /**
   * Pack mode: packs the key `buf[start, end)` into the probe record. Its length when packed, 0 when
   * the key is not of the packer's shape (it can only be a raw entry), -1 when its prefix has no
   * code (no packed entry can be it; {@link #prefixEnd} says where the prefix ends).
   */
  #probeKey(buf: Uint8Array, start: number, end: number): number {
    const packer = this.#packer!;
    const prefixEnd = packer.prefixEnd(buf, start, end);
    this.#prefixEnd = prefixEnd;
    if (prefixEnd < 0) return 0;
    const code = this.#prefixSet!.indexOfBytes(buf, start, prefixEnd);
    if (code < 0) return -1;
    writeU32(this.#probe, 0, code);
    return 4 + packer.writeTail(this.#probe, 4, buf, prefixEnd, end);
  }

  /**
   * {@link indexOf} of a key given as bytes `[start, end)` of `buf` (each byte one character, as
   * Latin-1 reads it): no string is made, so a caller can probe raw file bytes.
   */
  indexOfBytes(buf: Uint8Array, start: number, end: number): number {
    this.#live();
    const k = this.#indexOfBytesOwn(buf, start, end);
    if (k >= 0 || !this.#overflow) return k;
    const j = this.#overflow.indexOfBytes(buf, start, end);
    return j < 0 ? -1 : this.#count + j;
  }

  #indexOfBytesOwn(buf: Uint8Array, start: number, end: number): number {
    const h = hashBytes(buf, start, end, this.#hash);
    if (this.#packer) return this.#find(h, buf, start, end);
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
    this.#live();
    if (n > this.#count) this.#absorb();
    if (!Number.isInteger(n) || n < 0 || n > this.#count) return undefined;
    const starts = this.#starts.subarray(0, n + 1);
    const digest = createHash('sha1')
      .update(this.#pool.subarray(0, this.#starts[n]!))
      .update(new Uint8Array(starts.buffer, starts.byteOffset, starts.byteLength));
    if (this.#packed !== undefined) {
      // Packed records name prefixes by code: the same bytes mean the same IDs only under the same
      // codes. Entries 0..n-1 use codes below (their largest + 1): codes are given in order of use.
      let codes = 0;
      for (let k = 0; k < n; k++) if (this.#isPacked(k)) codes = Math.max(codes, readU32(this.#pool, this.#starts[k]!) + 1);
      digest.update(this.#packed.subarray(0, (n + 7) >> 3).map((b, i) => (i === n >> 3 ? b & ((1 << (n & 7)) - 1) : b)));
      const prefixes: string[] = [];
      for (let c = 0; c < codes; c++) prefixes.push(this.#prefixSet!.entryAt(c));
      digest.update(JSON.stringify(prefixes));
    }
    return digest.digest('hex');
  }

  /** The ID of byte-pool entry `k` (0 ≤ k < {@link poolEntries}). */
  entryAt(k: number): string {
    this.#live();
    if (k >= this.#count && this.#overflow) return this.#overflow.entryAt(k - this.#count);
    const start = this.#starts[k]!;
    if (this.#isPacked(k)) return this.#prefixSet!.entryAt(readU32(this.#pool, start)) + this.#packer!.readTail(this.#pool, start + 4, this.#starts[k + 1]! - start - 4);
    return Buffer.from(this.#pool.buffer, this.#pool.byteOffset + start, this.#starts[k + 1]! - start).toString('latin1');
  }

  #isPacked(k: number): boolean {
    return this.#packed !== undefined && (this.#packed[k >> 3]! & (1 << (k & 7))) !== 0;
  }

  /** Entries held in the byte pool (entry numbers 0..poolEntries-1; IDs above U+00FF come after). */
  get poolEntries(): number {
    return this.#count + (this.#overflow?.poolEntries ?? 0);
  }

  /** Adds `id`; returns true if it was not there yet. */
  add(id: string): boolean {
    this.#live();
    const h = this.#hash(id);
    if (h < 0) {
      if (this.#wide.has(id)) return false;
      this.#wide.add(id);
      return true;
    }
    if (this.#frozen) {
      if (this.#indexOfOwn(id, h) >= 0) return false;
      this.#overflow ??= new CompactIdSet(1024, this.#hash, this.#packer);
      return this.#overflow.add(id);
    }
    let len = 0;
    if (this.#packer) {
      const bytes = this.#bytesOf(id);
      len = this.#probeKey(bytes, 0, id.length);
      if (len < 0) {
        // A new prefix: the next code (append-only, so codes already stored keep their meaning).
        this.#prefixSet!.add(id.slice(0, this.#prefixEnd));
        len = this.#probeKey(bytes, 0, id.length);
      }
    }
    const mask = this.#table.length - 1;
    let slot = h & mask;
    for (; ; slot = (slot + 1) & mask) {
      const e = this.#table[slot]!;
      if (e === 0) break;
      const k = e - 1;
      if (this.#hashes[k] === h && (len > 0 ? this.#equalsProbe(k, len) : this.#equals(k, id))) return false;
    }
    this.#append(id, h, len);
    this.#table[slot] = this.#count; // entry index + 1
    if (this.#count * 2 > this.#table.length) this.#rehash();
    return true;
  }

  /** Entry `k` is the packed probe record of `len` bytes. */
  #equalsProbe(k: number, len: number): boolean {
    const s = this.#starts[k]!;
    if (this.#starts[k + 1]! - s !== len || !this.#isPacked(k)) return false;
    const pool = this.#pool;
    const probe = this.#probe;
    for (let i = 0; i < len; i++) if (pool[s + i] !== probe[i]) return false;
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
    if (this.#starts[k + 1]! - s !== end - start || this.#isPacked(k)) return false;
    const pool = this.#pool;
    for (let i = start; i < end; i++) if (pool[s + i - start] !== buf[i]) return false;
    return true;
  }

  /** Appends `id` as entry `count`: the probe record's `packedLen` bytes, or (0) its raw bytes. */
  #append(id: string, h: number, packedLen: number): void {
    const k = this.#count;
    const bytes = packedLen > 0 ? packedLen : id.length;
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
    if (packedLen > 0) {
      pool.set(this.#probe.subarray(0, packedLen), p);
      p += packedLen;
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
    this.#live();
    for (let k = 0; k < this.poolEntries; k++) yield this.entryAt(k);
    yield* this.#wide;
  }

  /** Bytes held by the pool and the index (for benchmarks and logs). */
  get bytes(): number {
    return this.#pool.byteLength + this.#starts.byteLength + this.#hashes.byteLength + this.#table.byteLength + (this.#packed?.byteLength ?? 0) + (this.#overflow?.bytes ?? 0);
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
