/**
 * Parquet row counts from the footer alone, for the readers of a run folder (`verify`,
 * `reconcile`, `status`, the dataset checks): a million files take seconds.
 */
import { open } from 'node:fs/promises';

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

