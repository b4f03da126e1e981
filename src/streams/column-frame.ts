/**
 * {@link TickColumns} (filled by the byte-level scanner) → a Polars DataFrame with exactly the
 * schema, column order and values of {@link tradesFrame}/{@link quotesFrame}: the same Parquet
 * bytes for the same server data, without a JS object per row. The columns become one Arrow IPC
 * stream (src/sinks/arrow-ipc.ts) read by one native call: Int64 straight from the BigInt64Array
 * bytes (exact), numbers from Float64Array/Int32Array bytes, strings from the UTF-8 heap, lists
 * from the Int32 heap, nulls as validity bitmaps.
 */
import pl from 'nodejs-polars';
import { fieldId, type FieldName, type TickColumns } from './column-scanner.js';
import { ipcStream, schemaMessage, type IpcColumn } from '../sinks/arrow-ipc.js';
import { QUOTES_SCHEMA, TRADES_SCHEMA } from '../sinks/parquet.js';

/** Validity bitmap of the first `n` presence bytes, or null when all are present; and the null count. */
function bitmap(p: Uint8Array, n: number): [Uint8Array | null, number] {
  let present = 0;
  for (let i = 0; i < n; i++) present += p[i]!;
  if (present === n) return [null, 0];
  const bits = new Uint8Array((n + 7) >>> 3);
  for (let i = 0; i < n; i++) if (p[i] === 1) bits[i >>> 3]! |= 1 << (i & 7);
  return [bits, n - present];
}

function bytesOf(a: BigInt64Array | Float64Array | Int32Array, n: number): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, n * a.BYTES_PER_ELEMENT);
}

/** A heap column (strings or lists) gathered into Arrow offsets + values in row order. */
function gather<T extends Uint8Array | Int32Array>(cols: TickColumns, f: number, n: number, heap: T, make: (len: number) => T): { offsets: BigInt64Array; values: T } {
  const start = cols.start[f]!;
  const len = cols.len[f]!;
  const present = cols.present[f]!;
  let total = 0;
  for (let i = 0; i < n; i++) if (present[i] === 1) total += len[i]!;
  const offsets = new BigInt64Array(n + 1);
  // Offsets are below 2^32: written as the low half of each Int64, with no bigint per row.
  const low = new Uint32Array(offsets.buffer);
  const values = make(total);
  let at = 0;
  for (let i = 0; i < n; i++) {
    if (present[i] === 1) {
      const s = start[i]!;
      const l = len[i]!;
      for (let k = 0; k < l; k++) values[at + k] = heap[s + k]!;
      at += l;
    }
    low[2 * (i + 1)] = at;
  }
  return { offsets, values };
}

function column(cols: TickColumns, name: FieldName, dtype: pl.DataType, n: number): IpcColumn {
  const f = fieldId(name);
  const [validity, nullCount] = bitmap(cols.present[f]!, n);
  if (dtype.equals(pl.Int64)) return { type: 'fixed', validity, nullCount, values: bytesOf(cols.i64[f]!, n) };
  if (dtype.equals(pl.Float64)) return { type: 'fixed', validity, nullCount, values: bytesOf(cols.f64[f]!, n) };
  if (dtype.equals(pl.Int32)) return { type: 'fixed', validity, nullCount, values: bytesOf(cols.i32[f]!, n) };
  if (dtype.equals(pl.String)) {
    const { offsets, values } = gather(cols, f, n, cols.bytes, (k) => new Uint8Array(k));
    return { type: 'utf8', validity, nullCount, offsets, data: values };
  }
  const { offsets, values } = gather(cols, f, n, cols.ints, (k) => new Int32Array(k));
  return { type: 'list', validity, nullCount, offsets, values };
}

const SCHEMAS = { trades: TRADES_SCHEMA, quotes: QUOTES_SCHEMA } as const;
const schemaMessages = new Map<string, Buffer>();

/** The window's columns as a DataFrame with TRADES_SCHEMA or QUOTES_SCHEMA. */
export function columnsFrame(cols: TickColumns): pl.DataFrame {
  const schema = SCHEMAS[cols.kind] as Record<string, pl.DataType>;
  const names = Object.keys(schema) as FieldName[];
  if (cols.length === 0) return pl.readRecords([], { schema });
  let message = schemaMessages.get(cols.kind);
  if (!message) schemaMessages.set(cols.kind, (message = schemaMessage(schema)));
  const n = cols.length;
  return pl.readIPCStream(ipcStream(message, n, names.map((name) => column(cols, name, schema[name]!, n))));
}
