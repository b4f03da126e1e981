/**
 * Response bytes → typed columns, without a JS object per row (issue 16).
 *
 * A single forward pass over the UTF-8 bytes of a v3 trades or quotes page. Known fields go straight
 * into growable typed columns; nanosecond integers are assembled as two exact 32-bit halves and
 * stored in a BigInt64Array through its Uint32 view (no bigint, no double on the way); prices are
 * parsed with the exact fast path (integer mantissa below 2^53 divided by an exact power of ten is
 * correctly rounded, so it equals JSON.parse), anything else falls back to `Number()` on the token.
 * Unknown fields of any shape are skipped. Quotes are downsampled while they are read: a quote in
 * the same epoch-aligned bucket as the previous one marks that one dropped, and the page's kept
 * rows are compacted once at its end (no object, and no row copied per dropped quote). The top-level `status`, `request_id`, `next_url`, `resultsCount` and whether
 * `results` was present (and the `error`/`message` text) are surfaced for the page-status rule (src/streams/http/page-status.ts).
 * Malformed or truncated bytes throw {@link ProtocolError} (retryable). A row that is valid JSON but
 * cannot be stored (an integer beyond Int64, a fraction or a string where an integer belongs, a
 * required field missing or null, quotes going back in time) throws {@link RowValueError} (E_DATA,
 * not retried: the server will send the same row again) — but only once the whole body has been
 * read, so a body that is also truncated or malformed stays a retryable ProtocolError.
 */
import { ProtocolError, RowValueError } from '../errors.js';
import { pageStatusProblem } from './http/page-status.js';

export type TickKind = 'trades' | 'quotes';

/** What the page said about itself, besides its rows. */
export interface PageHeader {
  readonly status: string | undefined;
  readonly requestId: string | undefined;
  readonly nextUrl: string | undefined;
  readonly resultsCount: number | undefined;
  readonly hasResults: boolean;
  /** The body's `error` (or else `message`) text, for the page-status rule's message. */
  readonly detail: string | undefined;
  /** Rows read from this page (before downsampling). */
  readonly rowsRead: number;
}

// Column ids. Int64 (ns and sequence numbers), Float64, Int32, string, list-of-int32 encoded "1,2".
const F = {
  sip_timestamp: 0,
  participant_timestamp: 1,
  trf_timestamp: 2,
  sequence_number: 3,
  id: 4,
  price: 5,
  size: 6,
  exchange: 7,
  tape: 8,
  conditions: 9,
  correction: 10,
  trf_id: 11,
  bid_price: 12,
  bid_size: 13,
  bid_exchange: 14,
  ask_price: 15,
  ask_size: 16,
  ask_exchange: 17,
  indicators: 18,
} as const;
type FieldName = keyof typeof F;
const FIELD_COUNT = 19;
type Slot = 'i64' | 'f64' | 'i32' | 'str' | 'list';
const SLOT: readonly Slot[] = ['i64', 'i64', 'i64', 'i64', 'str', 'f64', 'f64', 'i32', 'i32', 'list', 'i32', 'i32', 'f64', 'f64', 'i32', 'f64', 'f64', 'i32', 'list'];
/** SLOT as small integers for the per-value switch: 0 i64, 1 f64, 2 i32, 3 str, 4 list. */
const SLOT_CODE = Uint8Array.from(SLOT, (k) => ['i64', 'f64', 'i32', 'str', 'list'].indexOf(k));

export const TRADE_FIELDS: readonly FieldName[] = ['sip_timestamp', 'participant_timestamp', 'trf_timestamp', 'sequence_number', 'id', 'price', 'size', 'exchange', 'tape', 'conditions', 'correction', 'trf_id'];
export const QUOTE_FIELDS: readonly FieldName[] = ['sip_timestamp', 'participant_timestamp', 'trf_timestamp', 'sequence_number', 'bid_price', 'bid_size', 'bid_exchange', 'ask_price', 'ask_size', 'ask_exchange', 'tape', 'conditions', 'indicators'];
const REQUIRED: Readonly<Record<TickKind, readonly FieldName[]>> = {
  trades: ['sip_timestamp', 'sequence_number', 'id', 'price', 'size', 'exchange', 'tape'],
  quotes: ['sip_timestamp', 'sequence_number', 'bid_price', 'bid_size', 'bid_exchange', 'ask_price', 'ask_size', 'ask_exchange', 'tape'],
};

/** Field lookup by the key's bytes: a hash to candidates, then a byte comparison. */
const KEY_BYTES = new Map<number, Array<{ bytes: Uint8Array; id: number }>>();
/** Each field's name as bytes. */
const NAME_BYTES: Uint8Array[] = [];
/**
 * Each field's key token as the scanner meets it after the opening quote, `name":`, in
 * little-endian 32-bit words (the last one zero-padded). The predicted key is compared four bytes
 * at a time.
 */
const TOKEN_WORDS: Uint32Array[] = [];
const TOKEN_LEN: number[] = [];
function hashKey(b: Uint8Array, s: number, e: number): number {
  let h = 2166136261;
  for (let i = s; i < e; i++) h = Math.imul(h ^ b[i]!, 16777619);
  return h >>> 0;
}
for (const [name, id] of Object.entries(F)) {
  const bytes = Buffer.from(name, 'latin1');
  NAME_BYTES[id] = bytes;
  const token = Buffer.from(`${name}":`, 'latin1');
  const words = new Uint32Array(Math.ceil(token.length / 4));
  for (let i = 0; i < token.length; i++) words[i >>> 2]! |= token[i]! << (8 * (i & 3));
  TOKEN_WORDS[id] = words;
  TOKEN_LEN[id] = token.length;
  const h = hashKey(bytes, 0, bytes.length);
  const list = KEY_BYTES.get(h) ?? [];
  list.push({ bytes, id });
  KEY_BYTES.set(h, list);
}
function fieldOf(b: Uint8Array, s: number, e: number): number {
  const cands = KEY_BYTES.get(hashKey(b, s, e));
  if (!cands) return -1;
  outer: for (const c of cands) {
    if (c.bytes.length !== e - s) continue;
    for (let i = 0; i < c.bytes.length; i++) if (c.bytes[i] !== b[s + i]) continue outer;
    return c.id;
  }
  return -1;
}
/** 1 for the slot kinds whose values live in a heap (strings: bytes; lists: Int32 values). */
const IN_HEAP = (f: number): boolean => SLOT_CODE[f]! >= 3;

/**
 * The columns of one window of trades or quotes, filled page by page. `length` rows are valid.
 * Null masks (`present`) are 1 where a value is present. Strings are kept as UTF-8 bytes and lists
 * as Int32 values, each in one heap per TickColumns, a row pointing at its part with `start`/`len`
 * (no JS string or array per row); {@link stringAt} and {@link listAt} read them back.
 */
export class TickColumns {
  length = 0;
  capacity: number;
  readonly i64: (BigInt64Array | undefined)[] = new Array(FIELD_COUNT).fill(undefined);
  readonly f64: (Float64Array | undefined)[] = new Array(FIELD_COUNT).fill(undefined);
  readonly i32: (Int32Array | undefined)[] = new Array(FIELD_COUNT).fill(undefined);
  /** Strings and lists: where a row's bytes (strings) or Int32 values (lists) start in the heap, and how many. */
  readonly start: (Int32Array | undefined)[] = new Array(FIELD_COUNT).fill(undefined);
  readonly len: (Int32Array | undefined)[] = new Array(FIELD_COUNT).fill(undefined);
  readonly present: Uint8Array[] = [];
  /** UTF-8 bytes of the string fields; `bytesUsed` of them are filled. */
  bytes = new Uint8Array(256);
  bytesUsed = 0;
  /** Int32 values of the list fields; `intsUsed` of them are filled. */
  ints = new Int32Array(64);
  intsUsed = 0;
  /** Uint32 views of the Int64 columns (refreshed when they grow): ns are written as two halves. */
  readonly u32: (Uint32Array | undefined)[] = new Array(FIELD_COUNT).fill(undefined);
  /** 1 for the fields of this kind. */
  readonly want = new Uint8Array(FIELD_COUNT);
  /** The field that followed field f in the last row read (FIELD_COUNT: the row's first key): keys are matched by prediction first. */
  readonly nextKey = new Int8Array(FIELD_COUNT + 1).fill(-1);
  /** Rows dropped by {@link dropRepeatsOf} as exact repeats of rows already in this window. */
  repeatedRows = 0;
  /** Bucket (hi, lo 32-bit halves of floor(sip / bucketNs)) of the last row, for downsampling. */
  private lastBucketHi = -1;
  private lastBucketLo = -1;
  /** The last row's bucket as [start, end) sip_timestamps in signed (hi, lo) halves: a row inside it needs no division. */
  private bucketStartHi = 0;
  private bucketStartLo = 0;
  private bucketEndHi = -2147483648;
  private bucketEndLo = 0;
  /** Downsampling: 1 for a row a later row of its bucket superseded (see {@link bucketRow}); how many are marked. */
  private drop = new Uint8Array(0);
  private dropped = 0;
  /** Scratch of {@link compact}: the indices of the kept rows. */
  private keptIdx = new Int32Array(0);
  readonly fields: readonly FieldName[];
  /** Column ids of this kind's fields, and of its required ones. */
  readonly ids: Int8Array;
  readonly required: Int8Array;
  /** The same as bit masks (bit f: field f), for the per-row presence bookkeeping of readRow. */
  readonly wantMask: number;
  readonly requiredMask: number;
  /** This kind's column ids by storage: Int64, Float64, Int32, heap (strings and lists). */
  readonly ids64: Int8Array;
  readonly idsF64: Int8Array;
  readonly idsI32: Int8Array;
  readonly idsHeap: Int8Array;

  constructor(
    readonly kind: TickKind,
    /** Quotes only: keep the last quote per bucket of this many ns (0 = keep all). */
    readonly bucketNs = 0,
    capacity = 1024,
  ) {
    this.fields = kind === 'trades' ? TRADE_FIELDS : QUOTE_FIELDS;
    this.ids = Int8Array.from(this.fields, (n) => F[n]);
    this.required = Int8Array.from(REQUIRED[kind], (n) => F[n]);
    this.wantMask = this.ids.reduce((m, f) => m | (1 << f), 0);
    this.requiredMask = this.required.reduce((m, f) => m | (1 << f), 0);
    const of = (k: number): Int8Array => this.ids.filter((f) => SLOT_CODE[f] === k || (k === 3 && IN_HEAP(f)));
    this.ids64 = of(0);
    this.idsF64 = of(1);
    this.idsI32 = of(2);
    this.idsHeap = of(3);
    this.capacity = capacity;
    for (let f = 0; f < FIELD_COUNT; f++) this.present.push(new Uint8Array(0));
    for (const name of this.fields) {
      this.want[F[name]] = 1;
      this.alloc(F[name], capacity);
    }
  }

  private alloc(f: number, cap: number): void {
    const grow = <T extends { length: number; set(a: ArrayLike<number | bigint>): void }>(old: T | undefined, make: (n: number) => T): T => {
      const a = make(cap);
      if (old) a.set(old as unknown as ArrayLike<number>);
      return a;
    };
    switch (SLOT[f]) {
      case 'i64': {
        const a = grow(this.i64[f], (n) => new BigInt64Array(n) as never) as BigInt64Array;
        this.i64[f] = a;
        this.u32[f] = new Uint32Array(a.buffer, a.byteOffset, a.length * 2);
        break;
      }
      case 'f64':
        this.f64[f] = grow(this.f64[f], (n) => new Float64Array(n));
        break;
      case 'i32':
        this.i32[f] = grow(this.i32[f], (n) => new Int32Array(n));
        break;
      default:
        this.start[f] = grow(this.start[f], (n) => new Int32Array(n));
        this.len[f] = grow(this.len[f], (n) => new Int32Array(n));
    }
    const p = new Uint8Array(cap);
    p.set(this.present[f]!.subarray(0, Math.min(this.present[f]!.length, cap)));
    this.present[f] = p;
  }

  /**
   * Empties the columns, keeping their memory (the scanner's per-page scratch is reused: growing a
   * fresh one from 256 rows to a 50,000-row page cost ≈ 10% of the scan in allocation and copies).
   * Presence is not cleared: the scanner writes every wanted field's presence for each row it reads.
   */
  reset(): void {
    this.length = 0;
    this.bytesUsed = 0;
    this.intsUsed = 0;
    this.repeatedRows = 0;
    this.lastBucketHi = -1;
    this.lastBucketLo = -1;
    this.bucketStartHi = 0;
    this.bucketStartLo = 0;
    this.bucketEndHi = -2147483648;
    this.bucketEndLo = 0;
    this.dropped = 0;
  }

  /** Makes room for one more row. */
  ensure(): void {
    if (this.length < this.capacity) return;
    this.capacity *= 2;
    for (const name of this.fields) this.alloc(F[name], this.capacity);
  }

  /** Room for `n` more bytes in the string heap; returns where they go. */
  reserveBytes(n: number): number {
    const at = this.bytesUsed;
    if (at + n > this.bytes.length) {
      const b = new Uint8Array(Math.max(2 * this.bytes.length, at + n));
      b.set(this.bytes.subarray(0, at));
      this.bytes = b;
    }
    this.bytesUsed = at + n;
    return at;
  }

  /** Appends one Int32 to the list heap. */
  pushInt(v: number): void {
    if (this.intsUsed === this.ints.length) {
      const a = new Int32Array(2 * this.ints.length);
      a.set(this.ints);
      this.ints = a;
    }
    this.ints[this.intsUsed++] = v;
  }

  /** The string in field `f` of `row` (null when absent). */
  stringAt(f: number, row: number): string | null {
    if (this.present[f]![row] !== 1) return null;
    const s = this.start[f]![row]!;
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + s, this.len[f]![row]!).toString('utf8');
  }

  /** The list in field `f` of `row` (null when absent). */
  listAt(f: number, row: number): number[] | null {
    if (this.present[f]![row] !== 1) return null;
    const s = this.start[f]![row]!;
    return Array.from(this.ints.subarray(s, s + this.len[f]![row]!));
  }

  /**
   * Appends the rows of `page` (scanned with the same kind and bucket). With downsampling, a page
   * whose first row falls in the bucket of this window's last row replaces that row: the last quote
   * of a bucket wins across page boundaries as within a page.
   */
  append(page: TickColumns, label = 'TickColumns.append'): void {
    if (page.kind !== this.kind || page.bucketNs !== this.bucketNs) throw new TypeError('TickColumns.append: kind or bucket differs');
    if (page.length === 0) return;
    let at = this.length;
    if (this.bucketNs > 0 && at > 0) {
      const u = page.u32[F.sip_timestamp]!;
      const [qHi, qLo] = divU64(u[1]!, u[0]!, this.bucketNs);
      if (qHi < this.lastBucketHi || (qHi === this.lastBucketHi && qLo < this.lastBucketLo)) {
        throw new RowValueError(label, `quotes sip_timestamp: earlier than the previous page's last quote at row 0 of the page (window row ${at})`);
      }
      if (qHi === this.lastBucketHi && qLo === this.lastBucketLo) at--;
    }
    const need = at + page.length;
    if (need > this.capacity) {
      while (this.capacity < need) this.capacity *= 2;
      for (const name of this.fields) this.alloc(F[name], this.capacity);
    }
    const n = page.length;
    // The page's heaps go after this window's; its rows' starts are shifted by as much.
    const byteBase = this.reserveBytes(page.bytesUsed);
    this.bytes.set(page.bytes.subarray(0, page.bytesUsed), byteBase);
    const intBase = this.intsUsed;
    for (let i = 0; i < page.intsUsed; i++) this.pushInt(page.ints[i]!);
    for (const name of this.fields) {
      const f = F[name];
      this.present[f]!.set(page.present[f]!.subarray(0, n), at);
      switch (SLOT[f]) {
        case 'i64':
          this.i64[f]!.set(page.i64[f]!.subarray(0, n), at);
          break;
        case 'f64':
          this.f64[f]!.set(page.f64[f]!.subarray(0, n), at);
          break;
        case 'i32':
          this.i32[f]!.set(page.i32[f]!.subarray(0, n), at);
          break;
        default: {
          const base = SLOT[f] === 'str' ? byteBase : intBase;
          const dst = this.start[f]!;
          const src = page.start[f]!;
          for (let i = 0; i < n; i++) dst[at + i] = src[i]! + base;
          this.len[f]!.set(page.len[f]!.subarray(0, n), at);
        }
      }
    }
    this.length = at + n;
    this.lastBucketHi = page.lastBucketHi;
    this.lastBucketLo = page.lastBucketLo;
    this.bucketStartHi = page.bucketStartHi;
    this.bucketStartLo = page.bucketStartLo;
    this.bucketEndHi = page.bucketEndHi;
    this.bucketEndLo = page.bucketEndLo;
  }

  /**
   * Drops this page's leading rows that exactly repeat rows already in `window` (a server whose
   * cursor re-serves the end of the previous page): they would be stored twice. Pages are ascending
   * by sip_timestamp, so only rows at or before the window's last sip_timestamp can be repeats; each
   * is compared field by field (presence and value of every stored field, sequence_number included)
   * with the window's rows of the same sip_timestamp. The normal path is one comparison and no
   * allocation. Returns the number of rows dropped.
   *
   * Downsampled quotes: both this page and the window hold the quotes kept after downsampling, so
   * an exact repeat is judged on kept quotes (the last of each bucket). When the server re-serves a
   * contiguous end of the previous page, the stored result equals dropping the raw repeats first:
   * every re-served bucket ends on the same quote as before, and the bucket the new rows continue
   * is overwritten by them as usual. The count is of kept quotes dropped (re-served quotes that
   * were overwritten inside the page are never rows). A re-served quote that is not the last of its
   * bucket, followed by new data, reads as quotes going back in time: the window fails (E_DATA).
   */
  dropRepeatsOf(window: TickColumns): number {
    const n = this.length;
    const last = window.length - 1;
    if (n === 0 || last < 0) return 0;
    const pu = this.u32[F.sip_timestamp]!;
    const wu = window.u32[F.sip_timestamp]!;
    if (cmpSip(pu, 0, wu, last) > 0) return 0;
    // First window row at or after the page's first sip_timestamp (binary search).
    let lo = 0;
    let hi = window.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cmpSip(wu, mid, pu, 0) < 0) lo = mid + 1;
      else hi = mid;
    }
    let j = lo;
    let kept = 0;
    for (let i = 0; i < n; i++) {
      let repeat = false;
      if (cmpSip(pu, i, wu, last) <= 0) {
        while (j <= last && cmpSip(wu, j, pu, i) < 0) j++;
        for (let k = j; k <= last && cmpSip(wu, k, pu, i) === 0 && !repeat; k++) repeat = sameRow(this, i, window, k);
      }
      if (repeat) continue;
      if (kept !== i) copyRow(this, i, kept);
      kept++;
    }
    if (kept < n && kept > 0 && this.bucketNs > 0) {
      [this.lastBucketHi, this.lastBucketLo] = divU64(pu[2 * kept - 1]!, pu[2 * kept - 2]!, this.bucketNs);
      this.setBucketRange();
    }
    this.length = kept;
    return n - kept;
  }

  /** [start, end) of the last row's bucket, from lastBucketHi/Lo (once per bucket, so bigint is fine here). */
  private setBucketRange(): void {
    const d = BigInt(this.bucketNs);
    const q = (BigInt(this.lastBucketHi >>> 0) << 32n) | BigInt(this.lastBucketLo >>> 0);
    const s = q * d;
    const e = s + d > 0xffffffffffffffffn ? 0xffffffffffffffffn : s + d;
    this.bucketStartHi = Number(s >> 32n);
    this.bucketStartLo = Number(s & 0xffffffffn);
    this.bucketEndHi = Number(e >> 32n);
    this.bucketEndLo = Number(e & 0xffffffffn);
  }

  /**
   * Downsampling: called once a row's sip_timestamp is in slot `row`. When the row falls in the
   * previous row's bucket, that row is marked dropped (it is no longer the last of its bucket) and
   * removed by {@link compact} at the end of the page. Returns false when the row's bucket is
   * earlier than the previous row's (quotes going back in time). A row inside the previous row's
   * bucket range is decided by two comparisons, without a division.
   *
   * Performance: the previous design copied each superseded row over its predecessor (every field,
   * ≈ 2 of 3 busy quotes at 1 Hz): ≈ 15% of the scan. Marking costs one byte per row; the kept
   * rows are moved once, column by column, in {@link compact}.
   */
  bucketRow(row: number): boolean {
    const u = this.u32[F.sip_timestamp]!;
    const hi = u[2 * row + 1]!;
    const lo = u[2 * row]!;
    if (row >= this.drop.length) {
      const d = new Uint8Array(Math.max(this.capacity, row + 1));
      d.set(this.drop);
      this.drop = d;
    }
    this.drop[row] = 0;
    if (row > 0) {
      const afterStart = hi > this.bucketStartHi || (hi === this.bucketStartHi && lo >= this.bucketStartLo);
      const beforeEnd = hi < this.bucketEndHi || (hi === this.bucketEndHi && lo < this.bucketEndLo);
      if (afterStart && beforeEnd) return this.dropPrevious(row);
    }
    const [qHi, qLo] = divU64(hi, lo, this.bucketNs);
    if (row > 0 && qHi === this.lastBucketHi && qLo === this.lastBucketLo) return this.dropPrevious(row);
    if (row > 0 && (qHi < this.lastBucketHi || (qHi === this.lastBucketHi && qLo < this.lastBucketLo))) return false;
    this.lastBucketHi = qHi;
    this.lastBucketLo = qLo;
    this.setBucketRange();
    return true;
  }

  private dropPrevious(row: number): boolean {
    this.drop[row - 1] = 1;
    this.dropped++;
    return true;
  }

  /**
   * Removes the rows {@link bucketRow} marked, at or after `from` (no marked row lies before it):
   * the kept rows' indices are listed once, then each column is gathered in place (a kept row only
   * moves up, so no value is overwritten before it is read).
   */
  compact(from: number): void {
    if (this.dropped === 0) return;
    const n = this.length;
    const drop = this.drop;
    if (this.keptIdx.length < n - from) this.keptIdx = new Int32Array(Math.max(n - from, 2 * this.keptIdx.length));
    const idx = this.keptIdx;
    let k = 0;
    for (let i = from; i < n; i++) if (drop[i] === 0) idx[k++] = i;
    for (let j = 0; j < this.ids.length; j++) gatherCells(this.present[this.ids[j]!]!, idx, k, from);
    for (let j = 0; j < this.ids64.length; j++) gatherPairs(this.u32[this.ids64[j]!]!, idx, k, from);
    for (let j = 0; j < this.idsF64.length; j++) gatherCells(this.f64[this.idsF64[j]!]!, idx, k, from);
    for (let j = 0; j < this.idsI32.length; j++) gatherCells(this.i32[this.idsI32[j]!]!, idx, k, from);
    for (let j = 0; j < this.idsHeap.length; j++) {
      gatherCells(this.start[this.idsHeap[j]!]!, idx, k, from);
      gatherCells(this.len[this.idsHeap[j]!]!, idx, k, from);
    }
    drop.fill(0, from, n);
    this.dropped = 0;
    this.length = from + k;
  }
}

/** a[at + j] = a[idx[j]] for j < k (idx ascending, idx[j] >= at + j: safe in place). */
function gatherCells(a: Uint8Array | Int32Array | Float64Array, idx: Int32Array, k: number, at: number): void {
  for (let j = 0; j < k; j++) a[at + j] = a[idx[j]!]!;
}

/** The same for the Uint32 view of an Int64 column: two halves per row (no bigint). */
function gatherPairs(u: Uint32Array, idx: Int32Array, k: number, at: number): void {
  for (let j = 0; j < k; j++) {
    const i = idx[j]!;
    u[2 * (at + j)] = u[2 * i]!;
    u[2 * (at + j) + 1] = u[2 * i + 1]!;
  }
}

/** Row `from` over row `to` (same columns): the presence and value of every field of the kind. */
function copyRow(c: TickColumns, from: number, to: number): void {
  copyCells(c.present, c.ids, from, to);
  const i64 = c.ids64;
  for (let k = 0; k < i64.length; k++) {
    const u = c.u32[i64[k]!]!;
    u[2 * to] = u[2 * from]!;
    u[2 * to + 1] = u[2 * from + 1]!;
  }
  copyCells(c.f64, c.idsF64, from, to);
  copyCells(c.i32, c.idsI32, from, to);
  copyCells(c.start, c.idsHeap, from, to);
  copyCells(c.len, c.idsHeap, from, to);
}

/**
 * Cell `from` over cell `to` in the arrays of the fields `ids`. Called with three typed-array kinds
 * (Uint8, Float64, Int32): a polymorphic site V8 still inlines, and no allocation per row.
 */
function copyCells(arrays: readonly (Uint8Array | Float64Array | Int32Array | undefined)[], ids: Int8Array, from: number, to: number): void {
  for (let k = 0; k < ids.length; k++) {
    const a = arrays[ids[k]!]!;
    a[to] = a[from]!;
  }
}

/** Signed comparison of sip_timestamp of row i of `a` with row j of `b` (Uint32 views, no bigint). */
function cmpSip(a: Uint32Array, i: number, b: Uint32Array, j: number): number {
  const ah = a[2 * i + 1]! | 0;
  const bh = b[2 * j + 1]! | 0;
  if (ah !== bh) return ah < bh ? -1 : 1;
  const al = a[2 * i]!;
  const bl = b[2 * j]!;
  return al === bl ? 0 : al < bl ? -1 : 1;
}

/** Whether row i of `a` and row k of `b` (same kind) have the same presence and value in every field. */
function sameRow(a: TickColumns, i: number, b: TickColumns, k: number): boolean {
  for (const name of a.fields) {
    const f = F[name];
    const p = a.present[f]![i];
    if (p !== b.present[f]![k]) return false;
    if (p === 0) continue;
    switch (SLOT[f]) {
      case 'i64': {
        const x = a.u32[f]!;
        const y = b.u32[f]!;
        if (x[2 * i] !== y[2 * k] || x[2 * i + 1] !== y[2 * k + 1]) return false;
        break;
      }
      case 'f64':
        if (a.f64[f]![i] !== b.f64[f]![k]) return false;
        break;
      case 'i32':
        if (a.i32[f]![i] !== b.i32[f]![k]) return false;
        break;
      default: {
        const n = a.len[f]![i]!;
        if (n !== b.len[f]![k]) return false;
        const sa = a.start[f]![i]!;
        const sb = b.start[f]![k]!;
        const [ha, hb] = SLOT[f] === 'str' ? [a.bytes, b.bytes] : [a.ints, b.ints];
        for (let x = 0; x < n; x++) if (ha[sa + x] !== hb[sb + x]) return false;
      }
    }
  }
  return true;
}

/** floor((hi * 2^32 + lo) / d) for d < 2^30, as [quotient hi 32 bits, quotient lo 32 bits]; exact. */
function divU64(hi: number, lo: number, d: number): [number, number] {
  const digits = [hi >>> 16, hi & 0xffff, lo >>> 16, lo & 0xffff];
  let r = 0;
  const q = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    const cur = r * 65536 + digits[i]!;
    q[i] = Math.floor(cur / d);
    r = cur - q[i]! * d;
  }
  return [q[0]! * 65536 + q[1]!, q[2]! * 65536 + q[3]!];
}

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

/** A byte cursor with the JSON grammar's pieces; every error names where it happened. */
class Scanner {
  pos = 0;
  /** The body as a DataView, for four-byte key comparisons. */
  readonly dv: DataView;
  /** The first value that cannot be stored; thrown once the whole body has been read. */
  valueError: RowValueError | undefined;
  constructor(
    readonly b: Uint8Array,
    readonly label: string,
    /** "trades" or "quotes", the start of every value problem's message. */
    readonly kind = 'rows',
  ) {
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  /** Records a value problem (the first one wins) and lets the scan go on checking the syntax. */
  valueFail(detail: string): void {
    this.valueError ??= new RowValueError(this.label, `${this.kind} ${detail}`);
  }

  /** The bytes of [s, pos) as text, shortened for a message. */
  token(s: number): string {
    const t = Buffer.from(this.b.buffer, this.b.byteOffset + s, Math.min(this.pos - s, 48)).toString('utf8');
    return this.pos - s > 48 ? `${t}…` : t;
  }

  /** Skips a value of the wrong type (checking its syntax) and records it as a value problem. */
  wrongType(field: string, expected: string, rowNo: number): void {
    this.ws();
    const s = this.pos;
    this.skip();
    this.valueFail(`${field}: expected ${expected} at row ${rowNo}, got ${this.token(s)}`);
  }

  fail(what: string): never {
    const why = this.pos >= this.b.length ? `truncated JSON (${this.b.length} bytes)` : `malformed JSON at byte ${this.pos}`;
    throw new ProtocolError(`${this.label}: ${why}: ${what}`, 200);
  }

  ws(): void {
    const b = this.b;
    let p = this.pos;
    while (p < b.length) {
      const c = b[p]!;
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      p++;
    }
    this.pos = p;
  }

  expect(c: number, what: string): void {
    this.ws();
    if (this.b[this.pos] !== c) this.fail(`expected ${what}`);
    this.pos++;
  }

  /** [start, end) of the last string's raw content and whether it has escapes (set by {@link rawString}). */
  strStart = 0;
  strEnd = 0;
  strEsc = false;

  /** Skips a string, leaving [strStart, strEnd) and strEsc (no array per string: this runs for every key). */
  rawString(): void {
    this.ws();
    if (this.b[this.pos] !== 0x22) this.fail('expected a string');
    const s = ++this.pos;
    const b = this.b;
    let esc = false;
    for (let p = s; p < b.length; p++) {
      const c = b[p]!;
      if (c === 0x22) {
        this.pos = p + 1;
        this.strStart = s;
        this.strEnd = p;
        this.strEsc = esc;
        return;
      }
      if (c === 0x5c) {
        esc = true;
        p++;
      } else if (c < 0x20) {
        this.pos = p;
        this.fail('control character in a string');
      }
    }
    this.pos = b.length;
    this.fail('unterminated string');
  }

  string(): string {
    this.rawString();
    const s = this.strStart;
    const e = this.strEnd;
    if (!this.strEsc) return Buffer.from(this.b.buffer, this.b.byteOffset + s, e - s).toString('utf8');
    try {
      return JSON.parse(Buffer.from(this.b.buffer, this.b.byteOffset + s - 1, e - s + 2).toString('utf8')) as string;
    } catch {
      return this.fail('bad escape in a string');
    }
  }

  /** Skips any JSON value. */
  skip(depth = 0): void {
    if (depth > 64) this.fail('nesting too deep');
    this.ws();
    const c = this.b[this.pos];
    if (c === 0x22) {
      this.rawString();
    } else if (c === 0x7b || c === 0x5b) {
      const close = c === 0x7b ? 0x7d : 0x5d;
      this.pos++;
      this.ws();
      if (this.b[this.pos] === close) {
        this.pos++;
        return;
      }
      for (;;) {
        if (c === 0x7b) {
          this.rawString();
          this.expect(0x3a, "':'");
        }
        this.skip(depth + 1);
        this.ws();
        const d = this.b[this.pos];
        this.pos++;
        if (d === close) return;
        if (d !== 0x2c) {
          this.pos--;
          this.fail("expected ',' or a closing bracket");
        }
      }
    } else if (c === 0x74) this.literal('true');
    else if (c === 0x66) this.literal('false');
    else if (c === 0x6e) this.literal('null');
    else this.number();
  }

  literal(word: string): void {
    for (let i = 0; i < word.length; i++) if (this.b[this.pos + i] !== word.charCodeAt(i)) this.fail(`expected ${word}`);
    this.pos += word.length;
  }

  isNull(): boolean {
    this.ws();
    if (this.b[this.pos] !== 0x6e) return false;
    this.literal('null');
    return true;
  }

  /** A JSON number as a double, exactly as JSON.parse would give it. */
  number(): number {
    this.ws();
    const b = this.b;
    const s = this.pos;
    const neg = b[s] === 0x2d;
    let p = neg ? s + 1 : s;
    let m = 0;
    let digits = 0;
    let frac = 0;
    const d0 = p;
    while (p < b.length && b[p]! >= 0x30 && b[p]! <= 0x39) m = m * 10 + (b[p++]! - 0x30);
    digits = p - d0;
    if (digits === 0 || (digits > 1 && b[d0] === 0x30)) {
      this.pos = p;
      this.fail('bad number');
    }
    if (b[p] === 0x2e) {
      p++;
      const f0 = p;
      while (p < b.length && b[p]! >= 0x30 && b[p]! <= 0x39) m = m * 10 + (b[p++]! - 0x30);
      frac = p - f0;
      if (frac === 0) {
        this.pos = p;
        this.fail('bad number');
      }
      digits += frac;
    }
    let exp = false;
    if (b[p] === 0x65 || b[p] === 0x45) {
      exp = true;
      p++;
      if (b[p] === 0x2b || b[p] === 0x2d) p++;
      const e0 = p;
      while (p < b.length && b[p]! >= 0x30 && b[p]! <= 0x39) p++;
      if (p === e0) {
        this.pos = p;
        this.fail('bad number');
      }
    }
    if (p >= b.length) {
      this.pos = p;
      this.fail('number at end of body');
    }
    this.pos = p;
    // Exact fast path: m < 2^53 (at most 15 digits) and 10^frac exact; one correctly rounded division.
    if (!exp && digits <= 15) {
      const v = frac === 0 ? m : m / POW10[frac]!;
      return neg ? -v : v;
    }
    return Number(Buffer.from(b.buffer, b.byteOffset + s, p - s).toString('latin1'));
  }

  /**
   * An integer into slot `row` of a BigInt64Array, through its Uint32 view: exact for all of Int64,
   * no bigint or double in between. A valid number that is a fraction, has an exponent or lies
   * beyond Int64 is a value problem (recorded, the slot left as is); a malformed one fails.
   */
  int64Into(u: Uint32Array, row: number, field: string, rowNo: number): void {
    this.ws();
    const b = this.b;
    const s = this.pos;
    const neg = b[s] === 0x2d;
    let p = neg ? s + 1 : s;
    const d0 = p;
    // Up to 15 digits are exact in one double (a); up to 4 more (r, k of them) make 19, all of Int64.
    // Performance: one unsigned comparison per digit, and two divisions per value (by 2^32) rather
    // than one per digit after the 15th (a ns timestamp has 19 digits).
    const end = b.length;
    const head = Math.min(end, d0 + 15);
    let a = 0;
    for (let c = 0; p < head && (c = b[p]! - 0x30) >>> 0 <= 9; p++) a = a * 10 + c;
    let r = 0;
    let k = 0;
    if (p === head) {
      for (let c = 0; p < end && (c = b[p]! - 0x30) >>> 0 <= 9; p++, k++) if (k < 4) r = r * 10 + c;
    }
    let hi = Math.floor(a / 4294967296);
    let lo = a - hi * 4294967296;
    // More than 19 digits never fit; up to 19: (hi, lo) · 10^k + r, exact (lo · 10^4 + r < 2^46).
    const overflow = k > 4;
    if (k > 0 && !overflow) {
      const x = lo * POW10[k]! + r;
      const carry = Math.floor(x / 4294967296);
      lo = x - carry * 4294967296;
      hi = hi * POW10[k]! + carry;
    }
    const c = b[p];
    if (p === d0 || (p - d0 > 1 && b[d0] === 0x30) || p >= b.length || c === 0x2e || c === 0x65 || c === 0x45) {
      // Not a plain integer: number() checks the token's syntax (malformed or cut short fails there).
      this.pos = s;
      this.number();
      this.valueFail(`${field}: expected an integer at row ${rowNo}, got ${this.token(s)}`);
      return;
    }
    this.pos = p;
    if (overflow || hi > 0x80000000 || (hi === 0x80000000 && (lo !== 0 || !neg))) {
      this.valueFail(`${field}: value does not fit in Int64 at row ${rowNo}, got ${this.token(s)}`);
      return;
    }
    if (neg) {
      // Two's complement of (hi, lo).
      lo = (~lo >>> 0) + 1;
      hi = ~hi >>> 0;
      if (lo === 4294967296) {
        lo = 0;
        hi = (hi + 1) >>> 0;
      }
    }
    u[2 * row] = lo;
    u[2 * row + 1] = hi;
  }

  /** `[1, 2, 3]` into the list heap of `cols` as row `row` of field `f`; other values are value problems. */
  intListInto(cols: TickColumns, f: number, row: number, field: string, rowNo: number): void {
    this.expect(0x5b, `'[' (${field})`);
    const first = cols.intsUsed;
    this.ws();
    if (this.b[this.pos] === 0x5d) {
      this.pos++;
    } else {
      for (;;) {
        this.ws();
        const s = this.pos;
        const c = this.b[s];
        if (c !== 0x2d && !(c! >= 0x30 && c! <= 0x39)) this.wrongType(field, 'a list of 32-bit integers', rowNo);
        else {
          const v = this.number();
          if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) this.valueFail(`${field}: expected 32-bit integers at row ${rowNo}, got ${this.token(s)}`);
          cols.pushInt(v);
        }
        this.ws();
        const d = this.b[this.pos++];
        if (d === 0x5d) break;
        if (d !== 0x2c) {
          this.pos--;
          this.fail(`${field}: expected ',' or ']'`);
        }
      }
    }
    cols.start[f]![row] = first;
    cols.len[f]![row] = cols.intsUsed - first;
  }

  /** A string's UTF-8 bytes into the string heap of `cols` as row `row` of field `f` (escapes decoded). */
  stringInto(cols: TickColumns, f: number, row: number): void {
    this.rawString();
    const s = this.strStart;
    const e = this.strEnd;
    if (!this.strEsc) {
      const at = cols.reserveBytes(e - s);
      const heap = cols.bytes;
      const b = this.b;
      for (let i = s; i < e; i++) heap[at + i - s] = b[i]!;
      cols.start[f]![row] = at;
      cols.len[f]![row] = e - s;
      return;
    }
    this.pos = s - 1;
    const bytes = Buffer.from(this.string(), 'utf8');
    const at = cols.reserveBytes(bytes.length);
    cols.bytes.set(bytes, at);
    cols.start[f]![row] = at;
    cols.len[f]![row] = bytes.length;
  }
}

/** The byte a value of each slot kind starts with (numbers: '-' or a digit, checked apart). */
const OPEN_BYTE = [0, 0, 0, 0x22, 0x5b];
const EXPECTED = ['an integer', 'a number', 'a 32-bit integer', 'a string', 'a list of 32-bit integers'];

/**
 * One row object of `results` into slot `row` of `cols`; `rowNo` is its position in the page, for
 * messages. A value that cannot be stored is recorded on `sc` (the row must then not be kept).
 *
 * Performance (≈ 215 bytes a row, more than half of them keys): a key is first matched against the
 * one that followed the previous key last time, in one pass over its bytes ({@link predictedKey});
 * only a wrong guess pays the generic string scan and the hash lookup. Which fields were stored is
 * one bit each in a mask, so the required-field check and clearing the presence of absent fields
 * are a few integer operations per row, not a loop over every field.
 */
function readRow(sc: Scanner, cols: TickColumns, row: number, rowNo: number): void {
  sc.expect(0x7b, "'{' (a row)");
  let seen = 0;
  sc.ws();
  if (sc.b[sc.pos] === 0x7d) {
    sc.pos++;
  } else {
    let prev = FIELD_COUNT;
    for (;;) {
      const guess = cols.nextKey[prev]!;
      let f = guess >= 0 ? predictedKey(sc, guess) : -2;
      if (f === -2) {
        sc.rawString();
        f = fieldOf(sc.b, sc.strStart, sc.strEnd);
        if (f >= 0) cols.nextKey[prev] = f;
        sc.expect(0x3a, "':'");
      }
      if (f >= 0) prev = f;
      if (f >= 0 && cols.want[f] === 1) {
        // A repeated key wins as in JSON.parse: its null (or bad value) clears the earlier one.
        if (readValue(sc, cols, f, row, rowNo)) seen |= 1 << f;
        else seen &= ~(1 << f);
      } else sc.skip();
      sc.ws();
      const d = sc.b[sc.pos++];
      if (d === 0x7d) break;
      if (d !== 0x2c) {
        sc.pos--;
        sc.fail("expected ',' or '}' in a row");
      }
    }
  }
  // Absent (or null) fields: presence 0, the row slot may hold an earlier row's (downsampling).
  for (let absent = cols.wantMask & ~seen; absent !== 0; absent &= absent - 1) cols.present[31 - Math.clz32(absent & -absent)]![row] = 0;
  const missing = cols.requiredMask & ~seen;
  if (missing !== 0) {
    const req = cols.required;
    for (let k = 0; k < req.length; k++) if ((missing & (1 << req[k]!)) !== 0) sc.valueFail(`${FIELD_NAMES[req[k]!]}: missing at row ${rowNo}`);
  }
}

/**
 * Whether the key at the cursor is field `f` (the predicted one), followed by its colon: the bytes
 * after the opening quote are compared with `name":` four at a time (a DataView read is one load),
 * with no string scan first. The quote after the name proves the key ends there (a name holds no
 * backslash to escape it). Returns `f` with the cursor after the colon, or -2 with the cursor
 * unmoved (a wrong guess, whitespace around the colon, or the end of the body: the generic path
 * then reads the key and reports any syntax problem).
 */
function predictedKey(sc: Scanner, f: number): number {
  const b = sc.b;
  let p = sc.pos;
  if (b[p] !== 0x22) {
    sc.ws();
    p = sc.pos;
    if (b[p] !== 0x22) return -2;
  }
  const len = TOKEN_LEN[f]!;
  const words = TOKEN_WORDS[f]!;
  const last = words.length - 1;
  // Whole words only: the last word is read where it ends at the token's end (it may overlap the one before).
  if (p + 1 + len > b.length) return -2;
  const dv = sc.dv;
  for (let i = 0; i < last; i++) if (dv.getUint32(p + 1 + 4 * i, true) !== words[i]) return -2;
  if (dv.getUint32(p + 1 + len - 4, true) >>> (8 * (4 * words.length - len)) !== words[last]) return -2;
  sc.pos = p + 1 + len;
  return f;
}

/**
 * One wanted field's value into slot `row`: returns whether a value was stored (false for null,
 * or a value of the wrong type, which is recorded on `sc`).
 */
function readValue(sc: Scanner, cols: TickColumns, f: number, row: number, rowNo: number): boolean {
  sc.ws();
  const slot = SLOT_CODE[f]!;
  const c = sc.b[sc.pos]!;
  if (c === 0x6e) {
    sc.literal('null');
    return false;
  }
  if (slot < 3 ? c !== 0x2d && !(c >= 0x30 && c <= 0x39) : c !== OPEN_BYTE[slot]) {
    sc.wrongType(FIELD_NAMES[f]!, EXPECTED[slot]!, rowNo);
    return false;
  }
  switch (slot) {
    case 0:
      sc.int64Into(cols.u32[f]!, row, FIELD_NAMES[f]!, rowNo);
      break;
    case 1:
      cols.f64[f]![row] = sc.number();
      break;
    case 2: {
      const s = sc.pos;
      const v = sc.number();
      if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) sc.valueFail(`${FIELD_NAMES[f]}: expected a 32-bit integer at row ${rowNo}, got ${sc.token(s)}`);
      cols.i32[f]![row] = v;
      break;
    }
    case 3:
      sc.stringInto(cols, f, row);
      break;
    default:
      sc.intListInto(cols, f, row, FIELD_NAMES[f]!, rowNo);
  }
  cols.present[f]![row] = 1;
  return true;
}

const FIELD_NAMES: readonly FieldName[] = (() => {
  const out: FieldName[] = [];
  for (const [name, id] of Object.entries(F)) out[id] = name as FieldName;
  return out;
})();

/**
 * Reads one page's bytes, appending its rows to `cols` (downsampled for quotes when `cols` has a
 * bucket), and returns what the page said about itself. Throws ProtocolError on malformed or
 * truncated bytes; once the bytes are known to be whole, RowValueError for the first row that
 * cannot be stored (`cols` then holds an unspecified part of the page: scan into a scratch page).
 */
export function scanTicksPage(body: Uint8Array, cols: TickColumns, label: string): PageHeader {
  const sc = new Scanner(body, label, cols.kind);
  let status: string | undefined;
  let requestId: string | undefined;
  let nextUrl: string | undefined;
  let resultsCount: number | undefined;
  let hasResults = false;
  let error: string | undefined;
  let message: string | undefined;
  let rowsRead = 0;
  // Rows from here on may be dropped by downsampling; so may the last row already there (its bucket may go on).
  const from = Math.max(0, cols.length - 1);
  sc.expect(0x7b, "'{'");
  sc.ws();
  if (body[sc.pos] === 0x7d) sc.pos++;
  else {
    for (;;) {
      const key = sc.string();
      sc.expect(0x3a, "':'");
      if (key === 'results') {
        if (sc.isNull()) {
          hasResults = false;
        } else {
          hasResults = true;
          sc.expect(0x5b, "'[' (results)");
          sc.ws();
          if (body[sc.pos] === 0x5d) sc.pos++;
          else {
            for (;;) {
              if (sc.valueError) sc.skip(); // only the syntax of the rest still matters
              else readPageRow(sc, cols, rowsRead);
              rowsRead++;
              sc.ws();
              const d = body[sc.pos++];
              if (d === 0x5d) break;
              if (d !== 0x2c) {
                sc.pos--;
                sc.fail("expected ',' or ']' in results");
              }
            }
          }
        }
      } else if (key === 'status' || key === 'request_id' || key === 'next_url') {
        const v = sc.isNull() ? undefined : sc.string();
        if (key === 'status') status = v;
        else if (key === 'request_id') requestId = v;
        else nextUrl = v === '' ? undefined : v;
      } else if ((key === 'error' || key === 'message') && (sc.ws(), body[sc.pos] === 0x22)) {
        if (key === 'error') error = sc.string();
        else message = sc.string();
      } else if (key === 'resultsCount' || key === 'count') {
        const v = sc.isNull() ? undefined : sc.number();
        if (key === 'resultsCount' || resultsCount === undefined) resultsCount = v;
      } else sc.skip();
      sc.ws();
      const d = body[sc.pos++];
      if (d === 0x7d) break;
      if (d !== 0x2c) {
        sc.pos--;
        sc.fail("expected ',' or '}'");
      }
    }
  }
  sc.ws();
  if (sc.pos !== body.length) sc.fail('extra bytes after the JSON value');
  if (sc.valueError) throw sc.valueError;
  cols.compact(from);
  return { status, requestId, nextUrl, resultsCount, hasResults, detail: error ?? message, rowsRead };
}

/** One row into the next slot of `cols`, downsampled; kept only when all its values can be stored. */
function readPageRow(sc: Scanner, cols: TickColumns, rowNo: number): void {
  cols.ensure();
  const row = cols.length;
  readRow(sc, cols, row, rowNo);
  if (sc.valueError) return;
  if (cols.bucketNs > 0 && !cols.bucketRow(row)) sc.valueFail(`sip_timestamp: earlier than the quote before at row ${rowNo}`);
  else cols.length = row + 1;
}

/**
 * Where {@link PolygonClient.tickColumns$} puts a listing's pages: a window's {@link TickColumns}
 * in this thread, or the same held by a worker thread (src/workers/window-pool.ts). `scan` reads
 * one page's bytes and keeps its rows, or throws (nothing kept): ProtocolError (retried) or
 * RowValueError (not retried).
 */
export interface PageTarget {
  readonly kind: TickKind;
  scan(body: Buffer, label: string): PageHeader | Promise<PageHeader>;
}

/**
 * One page into `into`: scanned into a scratch page, checked (a 200 that is not data must never
 * read as an empty page), rows the server re-served from the previous page dropped (counted on
 * `into`), then appended (quotes going back in time across pages: RowValueError).
 */
export function scanPageInto(into: TickColumns, body: Uint8Array, label: string): PageHeader {
  const page = scratchPage(into.kind, into.bucketNs);
  const header = scanTicksPage(body, page, label);
  const problem = pageStatusProblem({ status: header.status, hasResults: header.hasResults, resultsCount: undefined, kind: 'v3', label, detail: header.detail });
  if (problem) throw problem;
  into.repeatedRows += page.dropRepeatsOf(into);
  into.append(page, label);
  return header;
}

/** One reusable scratch page per kind and bucket in this thread (scanPageInto is synchronous: never shared). */
const scratch = new Map<string, TickColumns>();

/** The emptied scratch page for `kind` and `bucketNs`; it keeps the size of the largest page seen. */
function scratchPage(kind: TickKind, bucketNs: number): TickColumns {
  const key = `${kind}:${bucketNs}`;
  let page = scratch.get(key);
  if (!page) scratch.set(key, (page = new TickColumns(kind, bucketNs, 1024)));
  page.reset();
  return page;
}

/** A window's columns in this thread as a {@link PageTarget}. */
export function localTarget(into: TickColumns): PageTarget {
  return { kind: into.kind, scan: (body, label) => scanPageInto(into, body, label) };
}

/** Name → column id, for the frame builder. */
export function fieldId(name: FieldName): number {
  return F[name];
}
export type { FieldName };
