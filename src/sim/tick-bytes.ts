/**
 * Trades and quotes rows written straight into bytes, without a string per row. The text is the
 * API's (field order, exact nanoseconds, prices as Number#toString writes them); the test keeps the
 * template-string version this replaced as its oracle.
 *
 * Why: the simulator is the benchmarks' referee and shares the machine with the client it
 * measures. Building rows as template strings and encoding them to UTF-8 cost 1.6–3.4 µs a row
 * (a busy 30-minute window: ~30 ms), so at 100 busy requests/s the server took most of a core
 * from the client on a 2-core box. Digits written into one growing buffer cost a fraction of that.
 */
import { conditionCodes, type DayTicks } from './market.js';
import { FRACTION } from './json.js';

const enc = (s: string): Uint8Array => Buffer.from(s, 'latin1');

// Every fixed piece of a row, encoded once.
const T_EXCHANGE = enc('"exchange":');
const T_ID = enc(',"id":"');
const T_PART = enc('","participant_timestamp":');
const T_PRICE = enc(',"price":');
const T_SEQ = enc(',"sequence_number":');
const T_SIP = enc(',"sip_timestamp":');
const T_SIZE = enc(',"size":');
const T_DECIMAL = enc(',"decimal_size":"');
const T_TAPE = enc('.0","tape":');
const T_TRF_ID = enc(',"trf_id":');
const T_TRF_TS = enc(',"trf_timestamp":');
const Q_ASK_EXCH = enc('{"ask_exchange":');
const Q_ASK_PRICE = enc(',"ask_price":');
const Q_ASK_SIZE = enc(',"ask_size":');
const Q_BID_EXCH = enc(',"bid_exchange":');
const Q_BID_PRICE = enc(',"bid_price":');
const Q_BID_SIZE = enc(',"bid_size":');
const Q_PART = enc(',"participant_timestamp":');
const Q_SEQ = enc(',"sequence_number":');
const Q_SIP = enc(',"sip_timestamp":');
const Q_TAPE = enc(',"tape":');

/** `{` plus the conditions member for each combination of condition bits. */
const T_OPEN: Uint8Array[] = Array.from({ length: 8 }, (_, bits) => {
  const codes = conditionCodes(bits);
  return enc(codes.length === 0 ? '{' : `{"conditions":[${codes.join(',')}],`);
});

const FRACTION_BYTES: Uint8Array[] = FRACTION.map(enc);

const ZERO = 48;
/** Longest constant {@link ByteWriter.bytes} copies byte by byte. */
const SHORT_COPY = 32;
const INT32_LIMIT = 2 ** 31;
/** "00" to "99" as byte pairs: two digits per division. */
const PAIRS = Uint8Array.from({ length: 200 }, (_, k) => ZERO + (k & 1 ? (k >> 1) % 10 : Math.floor((k >> 1) / 10)));
/** `,` between rows. */
export const COMMA = 44;
const CLOSE = 125;

/** A growing byte buffer for one reply body (every page of the simulator's data routes). */
export class ByteWriter {
  private buf: Buffer;
  private pos = 0;
  /** The last whole second {@link ns} wrote, and its digits (with a sign). */
  private lastSec = Number.NaN;
  private secLen = 0;
  private readonly secDigits = new Uint8Array(24);

  /** `sizeHint`: the expected body length (a good guess saves regrowing). */
  constructor(sizeHint = 64 * 1024) {
    // Not a slice of Node's shared pool of small Buffers: a finished body is kept (or copied into a
    // page thread's slab) whole, and must not pin that pool.
    this.buf = Buffer.allocUnsafeSlow(Math.max(1, sizeHint));
  }

  /** Room for `n` more bytes. */
  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  bytes(b: Uint8Array): void {
    const n = b.length;
    this.room(n);
    // A row's constants are 5–25 bytes: a plain loop beats TypedArray#set's call for those
    // (measured: `set` was a quarter of a busy page's time).
    if (n <= SHORT_COPY) {
      const buf = this.buf;
      let pos = this.pos;
      for (let k = 0; k < n; k++) buf[pos++] = b[k]!;
      this.pos = pos;
      return;
    }
    this.buf.set(b, this.pos);
    this.pos += n;
  }

  byte(c: number): void {
    this.room(1);
    this.buf[this.pos++] = c;
  }

  /** Any text, UTF-8. */
  text(s: string): void {
    this.room(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** A whole number in [0, 2^53), as Number#toString writes it. */
  uint(n: number): void {
    this.room(16);
    const buf = this.buf;
    if (n < 10) {
      buf[this.pos++] = ZERO + n;
      return;
    }
    let digits = 1;
    for (let p = 10; p <= n && digits < 16; p *= 10) digits++;
    let at = this.pos + digits;
    this.pos = at;
    // Two digits per division while int32 arithmetic is exact (every field but a few large IDs).
    while (n >= 100 && n < INT32_LIMIT) {
      const q = (n / 100) | 0;
      const r = (n - q * 100) << 1;
      buf[--at] = PAIRS[r + 1]!;
      buf[--at] = PAIRS[r]!;
      n = q;
    }
    while (n >= 10) {
      const q = Math.floor(n / 10);
      buf[--at] = ZERO + (n - q * 10);
      n = q;
    }
    buf[--at] = ZERO + n;
  }

  /** A whole number, negative too. */
  int(n: number): void {
    if (n < 0) {
      this.byte(45);
      this.uint(-n);
    } else this.uint(n);
  }

  /** Exact decimal ns of `baseMs` (whole ms) plus an integral ns offset (may be negative), beyond 2^53. */
  ns(baseMs: number, offNs: number): void {
    const baseSec = Math.floor(baseMs / 1000);
    const extraNs = (baseMs - baseSec * 1000) * 1e6 + offNs;
    const sec = Math.floor(extraNs / 1e9);
    let nanos = extraNs - sec * 1e9; // an integer in [0, 1e9): int32 arithmetic is exact
    const s = baseSec + sec;
    // Rows come in time order, so most share the previous row's second: its digits are copied.
    if (s !== this.lastSec) {
      const from = this.pos;
      this.int(s);
      this.lastSec = s;
      this.secLen = this.pos - from;
      for (let k = 0; k < this.secLen; k++) this.secDigits[k] = this.buf[from + k]!;
    } else {
      const n = this.secLen;
      this.room(n);
      const buf = this.buf;
      const d = this.secDigits;
      let pos = this.pos;
      for (let k = 0; k < n; k++) buf[pos++] = d[k]!;
      this.pos = pos;
    }
    this.room(9);
    const buf = this.buf;
    let at = this.pos + 9;
    this.pos = at;
    for (let k = 0; k < 4; k++) {
      const q = (nanos / 100) | 0;
      const r = (nanos - q * 100) << 1;
      buf[--at] = PAIRS[r + 1]!;
      buf[--at] = PAIRS[r]!;
      nanos = q;
    }
    buf[--at] = ZERO + nanos;
  }

  /** An E4 price as dollars: the digits of json.ts's priceText (Number#toString of e4 / 1e4). */
  price(e4: number): void {
    const whole = Math.floor(e4 / 1e4);
    this.int(whole);
    this.bytes(FRACTION_BYTES[e4 - whole * 1e4]!);
  }

  /** The bytes written: a view of this writer's own buffer (not pooled). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** One trade row. */
export function writeTrade(w: ByteWriter, d: DayTicks, i: number): void {
  w.bytes(T_OPEN[d.tCond[i]!]!);
  w.bytes(T_EXCHANGE);
  w.uint(d.tExch[i]!);
  w.bytes(T_ID);
  w.uint(i + 1);
  w.bytes(T_PART);
  w.ns(d.baseMs, d.tPart[i]!);
  w.bytes(T_PRICE);
  w.price(d.tPrice[i]!);
  w.bytes(T_SEQ);
  w.int(d.tSeq[i]!);
  w.bytes(T_SIP);
  w.ns(d.baseMs, d.tSip[i]!);
  const size = d.tSize[i]!;
  w.bytes(T_SIZE);
  w.int(size);
  w.bytes(T_DECIMAL);
  w.int(size);
  w.bytes(T_TAPE);
  w.uint(d.tape);
  const trf = d.tTrf[i]!;
  if (trf === trf) {
    w.bytes(T_TRF_ID);
    w.int(d.tTrfId[i]!);
    w.bytes(T_TRF_TS);
    w.ns(d.baseMs, trf);
  }
  w.byte(CLOSE);
}

/** One quote row. */
export function writeQuote(w: ByteWriter, d: DayTicks, i: number): void {
  w.bytes(Q_ASK_EXCH);
  w.uint(d.qAskExch[i]!);
  w.bytes(Q_ASK_PRICE);
  w.price(d.qAsk[i]!);
  w.bytes(Q_ASK_SIZE);
  w.int(d.qAskSize[i]!);
  w.bytes(Q_BID_EXCH);
  w.uint(d.qBidExch[i]!);
  w.bytes(Q_BID_PRICE);
  w.price(d.qBid[i]!);
  w.bytes(Q_BID_SIZE);
  w.int(d.qBidSize[i]!);
  w.bytes(Q_PART);
  w.ns(d.baseMs, d.qPart[i]!);
  w.bytes(Q_SEQ);
  w.int(d.qSeq[i]!);
  w.bytes(Q_SIP);
  w.ns(d.baseMs, d.qSip[i]!);
  w.bytes(Q_TAPE);
  w.uint(d.tape);
  w.byte(CLOSE);
}
