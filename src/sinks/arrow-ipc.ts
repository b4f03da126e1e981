/**
 * One Arrow IPC stream (schema + one record batch + end marker) from column buffers, so a frame is
 * built by a single native `pl.readIPCStream` call instead of a Polars call (and a JS value) per
 * column element: nodejs-polars copies a typed array into a Series element by element (~0.4 µs per
 * value measured), while reading IPC bytes is a buffer copy (a 4,000-row, 4-column frame: 0.4 ms vs
 * ~25 ms). The schema message is the one Polars itself writes for the target schema (taken once from
 * an empty frame), so the types (Int64, Float64, Int32, LargeUtf8, LargeList<Int32>) are exactly
 * what Polars reads back as the frame's dtypes; only the record batch is encoded here.
 *
 * @example
 * const df = pl.readIPCStream(ipcStream(schemaMessage(TRADES_SCHEMA), n, columns));
 */
import pl from 'nodejs-polars';

/** A column's Arrow buffers. `validity` is a bitmap (LSB first), or null when no value is null. */
export type IpcColumn =
  | { readonly type: 'fixed'; readonly validity: Uint8Array | null; readonly nullCount: number; readonly values: Uint8Array }
  | { readonly type: 'utf8'; readonly validity: Uint8Array | null; readonly nullCount: number; readonly offsets: BigInt64Array; readonly data: Uint8Array }
  | { readonly type: 'list'; readonly validity: Uint8Array | null; readonly nullCount: number; readonly offsets: BigInt64Array; readonly values: Int32Array };

const CONTINUATION = 0xffffffff;

/** The Schema message (continuation, length, flatbuffer) Polars writes for `schema`. */
export function schemaMessage(schema: Record<string, pl.DataType>): Buffer {
  const bytes = pl.readRecords([], { schema }).writeIPCStream();
  if (bytes.readUInt32LE(0) !== CONTINUATION) throw new Error('arrow-ipc: unexpected IPC stream framing from Polars');
  return Buffer.from(bytes.subarray(0, 8 + bytes.readInt32LE(4)));
}

const pad8 = (n: number): number => (n + 7) & ~7;

function asBytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** The RecordBatch message's flatbuffer (Message{version V5, header RecordBatch, bodyLength}), laid out by hand. */
function recordBatchMeta(rows: number, nodes: ReadonlyArray<readonly [number, number]>, buffers: ReadonlyArray<readonly [number, number]>, bodyLength: number): Buffer {
  const k = nodes.length;
  const nodesAt = 80;
  const buffersCountAt = nodesAt + 16 * k + 4;
  const b = Buffer.alloc(buffersCountAt + 4 + 16 * buffers.length);
  b.writeUInt32LE(16, 0); // root: the Message table
  // Message vtable at 4: fields version(0) header_type(1) header(2) bodyLength(3)
  for (const [i, v] of [12, 20, 4, 6, 16, 8].entries()) b.writeUInt16LE(v, 4 + 2 * i);
  b.writeInt32LE(16 - 4, 16); // Message table at 16, its vtable 12 bytes before
  b.writeInt16LE(4, 20); // MetadataVersion V5
  b.writeUInt8(3, 22); // MessageHeader.RecordBatch
  b.writeBigInt64LE(BigInt(bodyLength), 24);
  b.writeUInt32LE(48 - 32, 32); // header → RecordBatch table at 48
  // RecordBatch vtable at 36: fields length(0) nodes(1) buffers(2)
  for (const [i, v] of [10, 24, 8, 16, 20].entries()) b.writeUInt16LE(v, 36 + 2 * i);
  b.writeInt32LE(48 - 36, 48);
  b.writeBigInt64LE(BigInt(rows), 56);
  b.writeUInt32LE(nodesAt - 4 - 64, 64); // nodes vector (its count precedes the elements)
  b.writeUInt32LE(buffersCountAt - 68, 68);
  b.writeUInt32LE(k, nodesAt - 4);
  nodes.forEach(([length, nulls], i) => {
    b.writeBigInt64LE(BigInt(length), nodesAt + 16 * i);
    b.writeBigInt64LE(BigInt(nulls), nodesAt + 16 * i + 8);
  });
  b.writeUInt32LE(buffers.length, buffersCountAt);
  buffers.forEach(([offset, length], i) => {
    b.writeBigInt64LE(BigInt(offset), buffersCountAt + 4 + 16 * i);
    b.writeBigInt64LE(BigInt(length), buffersCountAt + 12 + 16 * i);
  });
  return b;
}

/** `schema` (from {@link schemaMessage}) + one record batch of `rows` rows + the end-of-stream marker. */
export function ipcStream(schema: Buffer, rows: number, columns: readonly IpcColumn[]): Buffer {
  const nodes: Array<readonly [number, number]> = [];
  const parts: Uint8Array[] = [];
  const empty = new Uint8Array(0);
  for (const c of columns) {
    nodes.push([rows, c.nullCount]);
    parts.push(c.validity ?? empty);
    if (c.type === 'fixed') parts.push(c.values);
    else if (c.type === 'utf8') parts.push(asBytes(c.offsets), c.data);
    else {
      parts.push(asBytes(c.offsets));
      nodes.push([c.values.length, 0]);
      parts.push(empty, asBytes(c.values));
    }
  }
  const buffers: Array<readonly [number, number]> = [];
  let body = 0;
  for (const p of parts) {
    buffers.push([body, p.byteLength]);
    body += pad8(p.byteLength);
  }
  const meta = recordBatchMeta(rows, nodes, buffers, body);
  const out = Buffer.alloc(schema.length + 8 + meta.length + body + 8);
  schema.copy(out, 0);
  let at = schema.length;
  out.writeUInt32LE(CONTINUATION, at);
  out.writeInt32LE(meta.length, at + 4);
  meta.copy(out, at + 8);
  at += 8 + meta.length;
  for (let i = 0; i < parts.length; i++) out.set(parts[i]!, at + buffers[i]![0]);
  at += body;
  out.writeUInt32LE(CONTINUATION, at);
  out.writeInt32LE(0, at + 4);
  return out;
}
