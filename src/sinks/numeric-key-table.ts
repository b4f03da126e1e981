/**
 * An exact hash table from a numeric key (two small integers and a double) to a 32-bit value, in
 * typed arrays: the Parquet half of the manifest key file (`manifest-keys.ts`), whose keys are
 * (symbol code, event-type code × 2 + unit, timestamp value). A probe hashes and compares numbers:
 * no bytes are written, no string is made. Open addressing, load ≤ 1/2; a probe compares all three
 * parts, so two keys that hash alike are never confused.
 */

/** The table as typed arrays (what the key file stores; read back without copying). */
export interface NumericKeySections {
  readonly ts: Float64Array;
  readonly a: Int32Array;
  readonly b: Int32Array;
  readonly values: Uint32Array;
  /** Entry + 1, 0 = empty; a power of two long. */
  readonly table: Uint32Array;
}

const TWO_32 = 4294967296;

function hashKey(a: number, b: number, ts: number): number {
  // Whole timestamps (every key that can be added) split exactly into two 32-bit halves.
  const hi = Math.floor(ts / TWO_32);
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ b;
  h = Math.imul(h ^ (ts - hi * TWO_32), 0xc2b2ae35);
  h = Math.imul(h ^ hi, 0x27d4eb2f);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca6b);
  return (h ^ (h >>> 13)) >>> 0;
}

export class NumericKeyTable {
  #ts: Float64Array;
  #a: Int32Array;
  #b: Int32Array;
  #values: Uint32Array;
  #table: Uint32Array;
  #count: number;

  constructor(s?: NumericKeySections) {
    if (s) {
      const n = s.ts.length;
      if (s.a.length !== n || s.b.length !== n || s.values.length !== n || s.table.length < 32 || (s.table.length & (s.table.length - 1)) !== 0 || n * 2 > s.table.length) {
        throw new RangeError('NumericKeyTable: inconsistent sections');
      }
    }
    this.#ts = s?.ts ?? new Float64Array(1024);
    this.#a = s?.a ?? new Int32Array(1024);
    this.#b = s?.b ?? new Int32Array(1024);
    this.#values = s?.values ?? new Uint32Array(1024);
    this.#table = s?.table ?? new Uint32Array(2048);
    this.#count = s ? s.ts.length : 0;
  }

  get size(): number {
    return this.#count;
  }

  /** The value of key (a, b, ts), or -1. */
  get(a: number, b: number, ts: number): number {
    const mask = this.#table.length - 1;
    for (let slot = hashKey(a, b, ts) & mask; ; slot = (slot + 1) & mask) {
      const e = this.#table[slot]!;
      if (e === 0) return -1;
      const k = e - 1;
      if (this.#ts[k] === ts && this.#a[k] === a && this.#b[k] === b) return this.#values[k]!;
    }
  }

  /** Adds key (a, b, ts) → value; false (and nothing changed) when the key is there already. */
  add(a: number, b: number, ts: number, value: number): boolean {
    if (!Number.isFinite(ts)) return false;
    const mask = this.#table.length - 1;
    let slot = hashKey(a, b, ts) & mask;
    for (; ; slot = (slot + 1) & mask) {
      const e = this.#table[slot]!;
      if (e === 0) break;
      const k = e - 1;
      if (this.#ts[k] === ts && this.#a[k] === a && this.#b[k] === b) return false;
    }
    const k = this.#count;
    if (k >= this.#ts.length) this.#grow();
    this.#ts[k] = ts;
    this.#a[k] = a;
    this.#b[k] = b;
    this.#values[k] = value;
    this.#count = k + 1;
    this.#table[slot] = k + 1;
    if (this.#count * 2 > this.#table.length) this.#rehash();
    return true;
  }

  sections(): NumericKeySections {
    const n = this.#count;
    return { ts: this.#ts.subarray(0, n), a: this.#a.subarray(0, n), b: this.#b.subarray(0, n), values: this.#values.subarray(0, n), table: this.#table };
  }

  #grow(): void {
    const cap = Math.max(1024, this.#ts.length * 2);
    const copy = <T extends Float64Array | Int32Array | Uint32Array>(from: T, to: T): T => {
      to.set(from.subarray(0, this.#count));
      return to;
    };
    this.#ts = copy(this.#ts, new Float64Array(cap));
    this.#a = copy(this.#a, new Int32Array(cap));
    this.#b = copy(this.#b, new Int32Array(cap));
    this.#values = copy(this.#values, new Uint32Array(cap));
  }

  #rehash(): void {
    const table = new Uint32Array(this.#table.length * 2);
    const mask = table.length - 1;
    for (let k = 0; k < this.#count; k++) {
      let slot = hashKey(this.#a[k]!, this.#b[k]!, this.#ts[k]!) & mask;
      while (table[slot] !== 0) slot = (slot + 1) & mask;
      table[slot] = k + 1;
    }
    this.#table = table;
  }
}
