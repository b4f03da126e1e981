/**
 * The Parquet manifest's three key columns read in JS, page by page (hyparquet's page decoders,
 * pure JS; zstd through fzstd, gzip and brotli through node:zlib, snappy built into hyparquet).
 *
 * Why not Polars: a keyed pass through nodejs-polars on the main thread cost ~90 MB of peak RSS on
 * a 572,850-row resume (its native query memory, the Series wrappers and the young generation they
 * churn), against the issue-17 bound of 150 MB. Here a pass holds, per column, one row group's
 * compressed chunk and one decoded page (and the chunk's dictionary), never a whole column: a
 * first version that decoded whole row groups into JS arrays (hyparquet's `parquetRead`) still
 * grew the heap by ~50 MB on that resume (a copy per page, per assembly, per conversion).
 *
 * Scope: only what the common writers (Polars, pandas/pyarrow, DuckDB) produce for the accepted
 * types is read here — string symbol/event_type; a timestamp stored as a signed INT64 (Unix ms),
 * a TIMESTAMP of any unit and time zone, a DATE, or a string; codecs none, snappy, gzip, brotli,
 * zstd; flat columns. Anything else (INT96, unsigned or float timestamps, LZ4, nested columns…)
 * is answered `undefined` by {@link bindColumns} and read by Polars as before, so an unusual file
 * costs memory, never a wrong answer. A page that does not decode ({@link JsDecodeError}) hands
 * the rest of the file to Polars from the first row not yet handed out, which then reads it or
 * names the damage in its own words.
 */
import { isUtf8 } from 'node:buffer';
import { open, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
// hyparquet's modules one by one: its index also loads GeoParquet, variant, query and filter code
// (+6.9 MB of RSS at import against +3.1 MB for these).
import type { AsyncBuffer, ColumnMetaData, Compressors, FileMetaData, PageHeader, SchemaElement } from 'hyparquet';
import { parquetMetadataAsync } from 'hyparquet/src/metadata.js';
import { parquetHeader } from 'hyparquet/src/column.js';
import { DEFAULT_PARSERS } from 'hyparquet/src/convert.js';
import { decompressPage, readDataPage, readDataPageV2 } from 'hyparquet/src/datapage.js';
import { readRleBitPackedHybrid } from 'hyparquet/src/encoding.js';
import { readPlain } from 'hyparquet/src/plain.js';
import { getMaxDefinitionLevel, getMaxRepetitionLevel, getSchemaPath } from 'hyparquet/src/schema.js';
import type { TimestampKind } from './manifest.js';

/** How a timestamp column's values become the cells the Polars path hands out. */
type TsCodec = 'ms' | 'us-from-ms' | 'us' | 'us-from-ns' | 'us-from-days' | 'string';

/** A Parquet manifest's footer, read in JS. */
export interface ParquetJsPlan {
  readonly path: string;
  readonly metadata: FileMetaData;
  /** Top-level columns, as Polars lists them (the schema's children, in order). */
  readonly columns: string[];
  /** Row groups: first row and row count. */
  readonly groups: ReadonlyArray<{ readonly start: number; readonly rows: number }>;
}

/** A cell as the Polars path hands it to the row maker: a string, a number (ms or µs), or null. */
export type Cell = string | number | null;

/** A page the JS reader cannot decode: the caller reads on with Polars. */
export class JsDecodeError extends Error {
  readonly code = 'PARQUET_JS_DECODE';
  constructor(column: string, cause: unknown) {
    super(`column "${column}": ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

const COMPRESSORS: Compressors = {
  // fzstd fills the buffer it is given: no growth, no copy (Node 20's zlib has no zstd).
  ZSTD: (input, outputLength) => zstdDecompress(input, new Uint8Array(outputLength)),
  GZIP: (input) => new Uint8Array(gunzipSync(input)),
  BROTLI: (input) => new Uint8Array(brotliDecompressSync(input)),
};
const CODECS = new Set(['UNCOMPRESSED', 'SNAPPY', 'ZSTD', 'GZIP', 'BROTLI']);

const isString = (e: SchemaElement): boolean =>
  e.type === 'BYTE_ARRAY' && (e.logical_type?.type === 'STRING' || e.converted_type === 'UTF8');

/** The Polars dtype family of a timestamp column and how its cells are read, or undefined (→ Polars). */
function timestampCodec(e: SchemaElement): { kind: TimestampKind; codec: TsCodec } | undefined {
  const lt = e.logical_type;
  if (e.type === 'INT64') {
    if (lt?.type === 'TIMESTAMP') return { kind: 'datetime', codec: lt.unit === 'MILLIS' ? 'us-from-ms' : lt.unit === 'MICROS' ? 'us' : 'us-from-ns' };
    if (lt === undefined && e.converted_type === 'TIMESTAMP_MILLIS') return { kind: 'datetime', codec: 'us-from-ms' };
    if (lt === undefined && e.converted_type === 'TIMESTAMP_MICROS') return { kind: 'datetime', codec: 'us' };
    // A plain or signed-64 INT64 is Polars' Int64; unsigned, decimal and the rest go to Polars.
    const signed64 = lt === undefined ? e.converted_type === undefined || e.converted_type === 'INT_64' : lt.type === 'INTEGER' && lt.bitWidth === 64 && lt.isSigned;
    if (signed64) return { kind: 'int-ms', codec: 'ms' };
    return undefined;
  }
  // hyparquet converts days only under the DATE converted type (which writers set beside the logical one).
  if (e.type === 'INT32' && e.converted_type === 'DATE' && (lt === undefined || lt.type === 'DATE')) return { kind: 'date', codec: 'us-from-days' };
  if (isString(e)) return { kind: 'string', codec: 'string' };
  return undefined;
}

/** The file as hyparquet's AsyncBuffer: positioned reads of a handle (the footer's few KB). */
async function fileSlices(h: FileHandle): Promise<AsyncBuffer> {
  const byteLength = (await h.stat()).size;
  return {
    byteLength,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const to = Math.min(end ?? byteLength, byteLength);
      const buf = new Uint8Array(Math.max(0, to - start));
      const { bytesRead } = await h.read(buf, 0, buf.length, start);
      if (bytesRead !== buf.length) throw new Error(`short read at ${start}`);
      return buf.buffer;
    },
  };
}

/**
 * Reads the footer in JS.
 * @returns undefined when hyparquet cannot read it; the Polars path then decides (and words the error).
 */
export async function planParquetManifest(path: string): Promise<{ plan: ParquetJsPlan; columns: string[] } | undefined> {
  // Typed-array views of Parquet's little-endian values (here and in hyparquet) need a little-endian host.
  if (endianness() !== 'LE') return undefined;
  let metadata: FileMetaData;
  try {
    const h = await open(path, 'r');
    try {
      metadata = await parquetMetadataAsync(await fileSlices(h));
    } finally {
      await h.close();
    }
  } catch {
    return undefined;
  }
  const root = metadata.schema[0];
  if (!root) return undefined;
  // Top-level names: the children of the root, skipping the descendants of nested ones.
  const columns: string[] = [];
  for (let i = 1, left = root.num_children ?? 0; i < metadata.schema.length && left > 0; left--) {
    const e = metadata.schema[i]!;
    columns.push(e.name);
    let skip = 1;
    for (let pending = e.num_children ?? 0; pending > 0; pending--) pending += metadata.schema[i + skip++]?.num_children ?? 0;
    i += skip;
  }
  const groups: Array<{ start: number; rows: number }> = [];
  let start = 0;
  for (const g of metadata.row_groups) {
    const rows = Number(g.num_rows);
    groups.push({ start, rows });
    start += rows;
  }
  if (start !== Number(metadata.num_rows)) return undefined;
  return { plan: { path, metadata, columns, groups }, columns };
}

/** The schema element of a flat top-level column, or undefined (a nested field of the same name is not it). */
function flatColumn(md: FileMetaData, name: string): SchemaElement | undefined {
  let e: SchemaElement | undefined;
  try {
    const path = getSchemaPath(md.schema, [name]);
    e = path.length === 2 ? path[1]!.element : undefined;
  } catch {
    return undefined; // a schema hyparquet cannot walk: Polars reads the file
  }
  if (e === undefined || e.name !== name || (e.num_children ?? 0) > 0 || e.repetition_type === 'REPEATED') return undefined;
  return e;
}

/** Whether every chunk of these columns is in this file and uses a codec read here. */
function chunksSupported(md: FileMetaData, names: readonly string[]): boolean {
  for (const g of md.row_groups) {
    for (const c of g.columns) {
      const p = c.meta_data?.path_in_schema;
      if (p === undefined) return false;
      if (p.length === 1 && names.includes(p[0]!) && (c.file_path !== undefined || !CODECS.has(c.meta_data!.codec))) return false;
    }
  }
  return true;
}

/** A plan bound to the manifest's three columns, or undefined when one of them is left to Polars. */
export interface ParquetJsColumns {
  readonly plan: ParquetJsPlan;
  readonly sym: string;
  readonly et: string;
  readonly ts: string;
  readonly kind: TimestampKind;
  readonly codec: TsCodec;
}

export function bindColumns(plan: ParquetJsPlan, sym: string, et: string, ts: string): ParquetJsColumns | undefined {
  const md = plan.metadata;
  const [s, e, t] = [flatColumn(md, sym), flatColumn(md, et), flatColumn(md, ts)];
  if (!s || !e || !t || !isString(s) || !isString(e)) return undefined;
  const tc = timestampCodec(t);
  if (!tc || !chunksSupported(md, [sym, et, ts])) return undefined;
  return { plan, sym, et, ts, kind: tc.kind, codec: tc.codec };
}

/**
 * Smallest and largest value of an INT64 timestamp column (Unix ms), as Polars' min/max would
 * give them: from the row groups' exact statistics when every group has them, else from a pass
 * over the column, page by page. `undefined` when the column holds nulls only (or no rows).
 */
export async function intColumnRange(c: ParquetJsColumns, fh: FileHandle): Promise<{ lo: bigint; hi: bigint } | undefined> {
  let lo: bigint | undefined;
  let hi: bigint | undefined;
  const take = (v: bigint): void => {
    if (lo === undefined || v < lo) lo = v;
    if (hi === undefined || v > hi) hi = v;
  };
  const fromStats = c.plan.metadata.row_groups.every((g) => {
    const st = chunkMeta(g.columns, c.ts)?.statistics;
    if (Number(g.num_rows) === 0 || (st?.null_count !== undefined && Number(st.null_count) === Number(g.num_rows))) return true; // no value
    if (!st || typeof st.min_value !== 'bigint' || typeof st.max_value !== 'bigint' || st.is_min_value_exact === false || st.is_max_value_exact === false) return false;
    take(st.min_value);
    take(st.max_value);
    return true;
  });
  if (!fromStats) {
    lo = hi = undefined;
    for (let g = 0; g < c.plan.groups.length; g++) {
      const cur = await ColumnCursor.open(c, fh, g, c.ts, (v) => v as bigint);
      for (let r = 0; r < c.plan.groups[g]!.rows; r++) {
        const v = cur.next();
        if (v !== null) take(v);
      }
    }
  }
  return lo === undefined || hi === undefined ? undefined : { lo, hi };
}

function chunkMeta(columns: FileMetaData['row_groups'][number]['columns'], name: string): ColumnMetaData | undefined {
  return columns.find((x) => x.meta_data?.path_in_schema.length === 1 && x.meta_data.path_in_schema[0] === name)?.meta_data;
}

// fatal: a column Polars would refuse as invalid UTF-8 goes to Polars (JsDecodeError), not U+FFFD.
const utf8 = new TextDecoder('utf-8', { fatal: true });
const MS_EXACT = 2 ** 53 / 1000;

/** Value → cell, per timestamp codec, exactly as Polars' `cast(Datetime('us')).cast(Float64)`. */
function tsConverter(codec: TsCodec): (v: unknown) => Cell {
  switch (codec) {
    case 'string':
      return (v) => utf8.decode(v as Uint8Array);
    case 'ms': // Int64 ms, as Polars' toArray() gives it (checkIntegerUnit bounds it to 1990–2099)
    case 'us': // Number(BigInt) rounds as the Int64 → Float64 cast does; µs are exact until 2255
      return (v) => Number(v as bigint);
    case 'us-from-ms':
      return (v) => {
        const n = Number(v as bigint);
        return Math.abs(n) < MS_EXACT ? n * 1000 : Number((v as bigint) * 1000n);
      };
    case 'us-from-ns':
      // Floor division, as Polars' ns → µs cast (an instant before 1970 rounds down): tested.
      return (v) => Number((v as bigint) >= 0n ? (v as bigint) / 1000n : ((v as bigint) - 999n) / 1000n);
    case 'us-from-days':
      return (v) => (v as number) * 86_400_000_000;
  }
}

type Decoder = Parameters<typeof readDataPage>[2] & { codec: ColumnMetaData['codec']; compressors: Compressors };

const TWO32 = 4_294_967_296;
const bitWidth = (max: number): number => 32 - Math.clz32(max);
const EXACT = 2 ** 53;

/**
 * Value → cell for INT64 timestamps from the two 32-bit halves of the value, without a BigInt per
 * row (reading a BigInt64Array element allocates one, and that young-generation churn grew the
 * heap by ~30 MB over a 572,850-row pass). Undefined when the result would not be an exact double:
 * the caller then converts the BigInt ({@link tsConverter}), which gives Polars' rounding.
 */
function int64Converter(codec: TsCodec): ((hi: number, lo: number) => number | undefined) | undefined {
  switch (codec) {
    case 'ms':
    case 'us':
      return (hi, lo) => (hi >= -0x200000 && hi < 0x200000 ? hi * TWO32 + lo : undefined); // |v| < 2^53
    case 'us-from-ms':
      return (hi, lo) => {
        if (hi < -0x200000 || hi >= 0x200000) return undefined;
        const n = hi * TWO32 + lo;
        return Math.abs(n) < MS_EXACT ? n * 1000 : undefined;
      };
    case 'us-from-ns':
      return (hi, lo) => {
        // floor((hi·2^32 + lo) / 1000) = a·2^32 + floor((b·2^32 + lo) / 1000), hi = 1000a + b, 0 ≤ b < 1000;
        // every term is an integer below 2^53, and the inner floor is corrected by its remainder.
        const a = Math.floor(hi / 1000);
        const x = (hi - a * 1000) * TWO32 + lo;
        let q = Math.floor(x / 1000);
        const r = x - q * 1000;
        if (r < 0) q--;
        else if (r >= 1000) q++;
        const us = a * TWO32 + q;
        return us > -EXACT && us < EXACT ? us : undefined;
      };
    default:
      return undefined;
  }
}

/**
 * One column of one row group, row by row: the chunk's compressed bytes, its dictionary (as
 * cells), and the current page's definition levels and values. Pages are decoded by hyparquet.
 */
class ColumnCursor<T> {
  readonly #name: string;
  readonly #view: DataView;
  readonly #reader: { view: DataView; offset: number };
  readonly #decoder: Decoder;
  readonly #maxDef: number;
  readonly #conv: (v: unknown) => T;
  readonly #conv64: ((hi: number, lo: number) => number | undefined) | undefined;
  #dict: T[] | undefined;
  /** The current page's values when they are PLAIN strings, read in place. */
  #strings: { buf: Buffer; at: number } | undefined;
  /**
   * The current page's INT64 values as 32-bit halves (low, high): Parquet stores them little-endian,
   * and so does the machine (hyparquet's own BigInt64Array reads assume it too).
   */
  #i32: Int32Array | undefined;
  #defs: ArrayLike<number> | undefined;
  #vals: ArrayLike<unknown> = [];
  #fromDict = false;
  #row = 0;
  #rows = 0;
  #vi = 0;

  private constructor(name: string, bytes: Uint8Array, decoder: Decoder, conv: (v: unknown) => T, conv64?: (hi: number, lo: number) => number | undefined) {
    this.#name = name;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#reader = { view: this.#view, offset: 0 };
    this.#decoder = decoder;
    this.#maxDef = getMaxDefinitionLevel(decoder.schemaPath);
    this.#conv = conv;
    this.#conv64 = conv64;
  }

  /** The column `name` of row group `g`: its chunk read from the file (one read). */
  static async open<T>(c: ParquetJsColumns, fh: FileHandle, g: number, name: string, conv: (v: unknown) => T, conv64?: (hi: number, lo: number) => number | undefined): Promise<ColumnCursor<T>> {
    const md = c.plan.metadata;
    const meta = chunkMeta(md.row_groups[g]!.columns, name);
    if (!meta) throw new JsDecodeError(name, new Error(`no chunk in row group ${g}`));
    const from = Number(meta.dictionary_page_offset || meta.data_page_offset);
    const bytes = Buffer.allocUnsafe(Number(meta.total_compressed_size));
    const { bytesRead } = await fh.read(bytes, 0, bytes.length, from);
    if (bytesRead !== bytes.length) throw new JsDecodeError(name, new Error('column chunk past the end of the file'));
    const schemaPath = getSchemaPath(md.schema, [name]);
    if (getMaxRepetitionLevel(schemaPath) > 0) throw new JsDecodeError(name, new Error('repeated column'));
    const element = schemaPath.at(-1)!.element;
    // parsers: unused by the page decoders (values are converted here, by `conv`).
    return new ColumnCursor(name, bytes, { pathInSchema: [name], type: element.type!, element, schemaPath, codec: meta.codec, compressors: COMPRESSORS, parsers: DEFAULT_PARSERS }, conv, conv64);
  }

  /** The next row's cell (null for a null). */
  next(): T | null {
    while (this.#row >= this.#rows) this.#page();
    const r = this.#row++;
    if (this.#defs !== undefined && this.#defs[r] !== this.#maxDef) return null;
    if (this.#strings !== undefined) return this.#plainString(this.#strings) as T;
    if (this.#i32 !== undefined) {
      const vi = this.#vi++;
      const n = this.#conv64!(this.#i32[2 * vi + 1]!, this.#i32[2 * vi]! >>> 0);
      if (n !== undefined) return n as T;
      this.#vi--;
    }
    const v = this.#vals[this.#vi++];
    if (!this.#fromDict) {
      try {
        return this.#conv(v);
      } catch (err) {
        throw new JsDecodeError(this.#name, err);
      }
    }
    const d = this.#dict![v as number];
    if (d === undefined) throw new JsDecodeError(this.#name, new Error(`dictionary index ${String(v)} out of range`));
    return d;
  }

  /** The next value of a PLAIN BYTE_ARRAY page (length-prefixed), decoded in place. */
  #plainString(p: { buf: Buffer; at: number }): string {
    const n = p.buf.readUInt32LE(p.at);
    const from = p.at + 4;
    p.at = from + n;
    if (p.at > p.buf.length) throw new JsDecodeError(this.#name, new Error('string past the end of its page'));
    const str = p.buf.toString('utf8', from, p.at);
    // Invalid UTF-8 (which Polars refuses) shows as U+FFFD: checked only then.
    if (str.includes('\uFFFD') && !isUtf8(p.buf.subarray(from, p.at))) throw new JsDecodeError(this.#name, new Error('invalid UTF-8'));
    return str;
  }

  /**
   * The definition levels and values of a data page as typed arrays (a JS array per page was
   * ~3.4 MB per column for Polars' 209,715-row pages, promoted out of the young generation each
   * time), for the encodings Polars, pyarrow and DuckDB write for these columns; undefined for
   * any other encoding (hyparquet's own decoders then read the page).
   */
  #compactPage(header: PageHeader, body: Uint8Array): boolean {
    const d = this.#decoder;
    const v2 = header.data_page_header_v2;
    const h = v2 ?? header.data_page_header!;
    const enc = h.encoding;
    const dict = enc === 'RLE_DICTIONARY' || enc === 'PLAIN_DICTIONARY';
    if (!dict && !(enc === 'PLAIN' && (d.type === 'INT64' || d.type === 'INT32' || d.type === 'BYTE_ARRAY'))) return false;
    let page: Uint8Array;
    let reader: { view: DataView; offset: number };
    let defs: Uint8Array | undefined;
    const rows = h.num_values;
    if (v2) {
      reader = { view: new DataView(body.buffer, body.byteOffset, body.byteLength), offset: v2.repetition_levels_byte_length };
      if (this.#maxDef > 0) {
        defs = new Uint8Array(rows);
        readRleBitPackedHybrid(reader, bitWidth(this.#maxDef), defs, v2.definition_levels_byte_length);
      }
      const levels = v2.repetition_levels_byte_length + v2.definition_levels_byte_length;
      const size = header.uncompressed_page_size - levels;
      page = body.subarray(levels);
      if (v2.is_compressed !== false && size > 0) page = decompressPage(page, size, d.codec, d.compressors);
      reader = { view: new DataView(page.buffer, page.byteOffset, page.byteLength), offset: 0 };
    } else {
      page = decompressPage(body, header.uncompressed_page_size, d.codec, d.compressors);
      reader = { view: new DataView(page.buffer, page.byteOffset, page.byteLength), offset: 0 };
      if (this.#maxDef > 0) {
        defs = new Uint8Array(rows);
        readRleBitPackedHybrid(reader, bitWidth(this.#maxDef), defs); // length-prefixed in v1
      }
    }
    let nulls = 0;
    if (defs) for (let i = 0; i < rows; i++) if (defs[i] !== this.#maxDef) nulls++;
    const n = rows - nulls;
    this.#defs = nulls > 0 ? defs : undefined;
    this.#strings = undefined;
    this.#i32 = undefined;
    if (dict) {
      const width = reader.view.getUint8(reader.offset++);
      const idx = new Int32Array(n);
      if (width > 0) readRleBitPackedHybrid(reader, width, idx, page.byteLength - reader.offset);
      this.#vals = idx;
    } else if (d.type === 'BYTE_ARRAY') {
      this.#strings = { buf: Buffer.from(page.buffer, page.byteOffset + reader.offset, page.byteLength - reader.offset), at: 0 };
      this.#vals = [];
    } else {
      const bytes = n * (d.type === 'INT64' ? 8 : 4);
      if (reader.offset + bytes > page.byteLength) throw new Error('page shorter than its values');
      let at = page.byteOffset + reader.offset;
      let buf = page.buffer;
      if (at % 8 !== 0) {
        buf = page.buffer.slice(at, at + bytes); // typed-array views need alignment
        at = 0;
      }
      if (d.type === 'INT64') {
        this.#vals = new BigInt64Array(buf, at, n);
        if (this.#conv64 !== undefined) this.#i32 = new Int32Array(buf, at, n * 2);
      } else this.#vals = new Int32Array(buf, at, n);
    }
    this.#fromDict = dict;
    this.#rows = rows;
    return true;
  }

  #page(): void {
    try {
      const reader = this.#reader;
      if (reader.offset >= this.#view.byteLength) throw new Error('column chunk ends before its row group');
      const header = parquetHeader(reader);
      const body = new Uint8Array(this.#view.buffer, this.#view.byteOffset + reader.offset, header.compressed_page_size);
      reader.offset += header.compressed_page_size;
      const d = this.#decoder;
      let page: ReturnType<typeof readDataPage>;
      let encoding: string;
      if (header.type === 'DICTIONARY_PAGE') {
        const raw = decompressPage(body, header.uncompressed_page_size, d.codec, d.compressors);
        const values = readPlain({ view: new DataView(raw.buffer, raw.byteOffset, raw.byteLength), offset: 0 }, d.type, header.dictionary_page_header!.num_values, d.element.type_length);
        this.#dict = Array.from(values as ArrayLike<unknown>, this.#conv);
        return;
      }
      if ((header.type === 'DATA_PAGE' || header.type === 'DATA_PAGE_V2') && this.#compactPage(header, body)) {
        if (this.#fromDict && this.#dict === undefined) throw new Error('dictionary-encoded page without a dictionary');
        this.#row = 0;
        this.#vi = 0;
        return;
      }
      if (header.type === 'DATA_PAGE') {
        const h = header.data_page_header!;
        page = readDataPage(decompressPage(body, header.uncompressed_page_size, d.codec, d.compressors), h, d);
        this.#rows = h.num_values;
        encoding = h.encoding;
      } else if (header.type === 'DATA_PAGE_V2') {
        const h = header.data_page_header_v2!;
        page = readDataPageV2(body, header, d);
        this.#rows = h.num_rows;
        encoding = h.encoding;
      } else {
        return; // an index page: no rows
      }
      this.#defs = page.definitionLevels !== undefined && page.definitionLevels.length > 0 ? page.definitionLevels : undefined;
      this.#vals = page.dataPage as ArrayLike<unknown>;
      this.#strings = undefined;
      this.#fromDict = encoding.endsWith('_DICTIONARY') || (encoding === 'RLE' && d.type !== 'BOOLEAN');
      const v = this.#vals;
      this.#i32 = !this.#fromDict && this.#conv64 !== undefined && v instanceof BigInt64Array ? new Int32Array(v.buffer, v.byteOffset, v.length * 2) : undefined;
      if (this.#fromDict && this.#dict === undefined) throw new Error('dictionary-encoded page without a dictionary');
      this.#row = 0;
      this.#vi = 0;
    } catch (err) {
      throw err instanceof JsDecodeError ? err : new JsDecodeError(this.#name, err);
    }
  }
}

/** The three columns of one row group, row by row, as the Polars path hands them to the row maker. */
export class GroupRows {
  private constructor(
    readonly start: number,
    readonly rows: number,
    readonly sym: ColumnCursor<string>,
    readonly et: ColumnCursor<string>,
    readonly ts: ColumnCursor<Cell>,
  ) {}

  /** Row group `g`'s chunks of the three columns (read now: a few MB at most, compressed). */
  static async open(c: ParquetJsColumns, fh: FileHandle, g: number): Promise<GroupRows> {
    const { start, rows } = c.plan.groups[g]!;
    const str = (v: unknown): string => utf8.decode(v as Uint8Array);
    return new GroupRows(start, rows, await ColumnCursor.open(c, fh, g, c.sym, str), await ColumnCursor.open(c, fh, g, c.et, str), await ColumnCursor.open(c, fh, g, c.ts, tsConverter(c.codec), int64Converter(c.codec)));
  }
}
