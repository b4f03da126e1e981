/**
 * Reversible short forms of the keys a {@link CompactIdSet} holds by the hundred thousand, so that a
 * resume's sets cost a third of their raw bytes (peak RSS, issue 17). A packed record is a 4-byte
 * code of the key's prefix (in a dictionary beside the set: a few thousand symbol/event-type
 * prefixes serve 572,850 keys) and a tail that decodes to exactly the rest of the key's bytes. It is
 * an encoding, not a hash: two keys have the same record only if they are the same key, so the
 * set's exactness needs no fallback. A key of another shape is stored raw.
 *
 * Packers read Latin-1 bytes (one byte per character), the form the set stores keys in.
 *
 * @example
 * ```ts
 * const done = new CompactIdSet(1024, hashString, CANONICAL_ID_PACKER);
 * done.add('AAPL_flush_20231207_130200_1a2b3c4d'); // 14 bytes instead of 36
 * ```
 */

/** How a pack-mode {@link CompactIdSet} shortens keys of one shape. */
export interface KeyPacker {
  /** Longest tail {@link writeTail} writes. */
  readonly maxTail: number;
  /**
   * End of the dictionary-coded prefix of the key `buf[start, end)`, when the rest can be packed
   * (then {@link writeTail} succeeds), else -1 (the key is stored raw).
   */
  prefixEnd(buf: Uint8Array, start: number, end: number): number;
  /** Writes the packed form of `buf[from, end)` at `out[at]`; returns its length. */
  writeTail(out: Uint8Array, at: number, buf: Uint8Array, from: number, end: number): number;
  /** The characters a tail written by {@link writeTail} stands for. */
  readTail(pool: Uint8Array, at: number, len: number): string;
}

const US = 0x5f; // '_'

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Digits `buf[from, to)` as a number (the caller checked they are digits). */
function digitsAt(buf: Uint8Array, from: number, to: number): number {
  let v = 0;
  for (let i = from; i < to; i++) v = v * 10 + buf[i]! - 0x30;
  return v;
}

function hexValue(c: number): number {
  return c <= 0x39 ? c - 0x30 : c - 0x57;
}

/** Little-endian u32 / u48 writes and reads (records are byte arrays: no alignment). */
export function writeU32(out: Uint8Array, at: number, v: number): void {
  out[at] = v & 0xff;
  out[at + 1] = (v >>> 8) & 0xff;
  out[at + 2] = (v >>> 16) & 0xff;
  out[at + 3] = v >>> 24;
}

export function readU32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) + b[at + 3]! * 16777216;
}

/**
 * Canonical event IDs, `PREFIX_YYYYMMDD_HHMMSS_hhhhhhhh` (src/streams/event-id.ts; PREFIX is
 * `symbol_eventType`): the 14 stamp digits as one 48-bit integer and the 8 lower-case hex digits
 * as 32 bits, 10 bytes (14 with the prefix code, from ~45). Only that exact spelling is packed, so
 * decoding gives back the same characters.
 */
export const CANONICAL_ID_PACKER: KeyPacker = {
  maxTail: 10,
  prefixEnd(buf, start, end) {
    if (end - start < 26 || buf[end - 9] !== US || buf[end - 16] !== US || buf[end - 25] !== US) return -1;
    for (let i = end - 24; i < end - 9; i++) if (i !== end - 16 && !isDigit(buf[i]!)) return -1;
    for (let i = end - 8; i < end; i++) {
      const c = buf[i]!;
      if (!isDigit(c) && !(c >= 0x61 && c <= 0x66)) return -1;
    }
    return end - 25;
  },
  writeTail(out, at, buf, from) {
    const s = from + 1;
    // YYYYMMDDHHMMSS < 10^14 < 2^47: exact in a double, split into a low 32 and a high 16 bits.
    const stamp = digitsAt(buf, s, s + 8) * 1e6 + digitsAt(buf, s + 9, s + 15);
    let hex = 0;
    for (let i = s + 16; i < s + 24; i++) hex = hex * 16 + hexValue(buf[i]!);
    const lo = stamp % 4294967296;
    const hi = (stamp - lo) / 4294967296;
    writeU32(out, at, lo);
    out[at + 4] = hi & 0xff;
    out[at + 5] = hi >>> 8;
    writeU32(out, at + 6, hex);
    return 10;
  },
  readTail(pool, at) {
    const digits = String(readU32(pool, at) + (pool[at + 4]! | (pool[at + 5]! << 8)) * 4294967296).padStart(14, '0');
    return `_${digits.slice(0, 8)}_${digits.slice(8)}_${readU32(pool, at + 6).toString(16).padStart(8, '0')}`;
  },
};

/** The 16 characters a CSV line's last cell is packed from, two per byte: a time's characters. */
const NIBBLE_CHARS = '0123456789-:T+ .';
const NIBBLE_OF = new Int8Array(256).fill(-1);
for (let i = 0; i < NIBBLE_CHARS.length; i++) NIBBLE_OF[NIBBLE_CHARS.charCodeAt(i)] = i;

/** Longest last cell a CSV line record packs (a time with microseconds and an offset is 32). */
const MAX_CELL = 64;

/**
 * CSV manifest lines (the key file's CSV keys: the raw bytes of a record): the part up to the last
 * comma (`symbol,event_type` in a tickpipe manifest) is the prefix; the last cell, when it is made
 * only of digits and `-:T+ .` (an ISO time, Unix ms), is stored two characters per byte after a
 * length byte: `2024-01-02T14:45:00+00:00` takes 13 + 1 bytes (18 with the code, from ~48).
 */
export const CSV_LINE_PACKER: KeyPacker = {
  maxTail: 1 + MAX_CELL / 2,
  prefixEnd(buf, start, end) {
    let comma = -1;
    for (let i = end - 1; i >= start; i--) {
      if (buf[i] === 0x2c) {
        comma = i;
        break;
      }
    }
    if (comma < 0 || end - comma - 1 > MAX_CELL) return -1;
    for (let i = comma + 1; i < end; i++) if (NIBBLE_OF[buf[i]!]! < 0) return -1;
    return comma;
  },
  writeTail(out, at, buf, from, end) {
    const n = end - from - 1;
    out[at] = n;
    for (let j = 0; j < n; j += 2) {
      const hi = NIBBLE_OF[buf[from + 1 + j]!]!;
      const lo = j + 1 < n ? NIBBLE_OF[buf[from + 2 + j]!]! : 0;
      out[at + 1 + (j >> 1)] = (hi << 4) | lo;
    }
    return 1 + ((n + 1) >> 1);
  },
  readTail(pool, at) {
    const n = pool[at]!;
    let s = ',';
    for (let j = 0; j < n; j++) {
      const b = pool[at + 1 + (j >> 1)]!;
      s += NIBBLE_CHARS[j & 1 ? b & 15 : b >> 4];
    }
    return s;
  },
};
