import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import type pl from 'nodejs-polars';
import { InputError } from '../errors.js';
import type { KeyTimeUnit, ManifestKeys } from '../sinks/manifest-keys.js';
import { canonicalEventIdAt, parsePythonTimestamp, pythonIsoformat, type UtcInstant } from './event-id.js';
import { symbolProblem } from './symbols.js';
import { CsvRecordSplitter, findColumn } from './universe.js';
import { wholeNumber } from '../options.js';
import { parquetRowCount } from '../run-folder/parquet-footer.js';
import { polars, type Polars } from '../polars.js';
// The JS Parquet reader is loaded for a Parquet manifest only (hyparquet: ~3 MB of RSS a CSV run does not need).
import type { ParquetJsColumns } from './parquet-manifest.js';

/** One row of the events manifest, with its canonical ID. */
export interface ManifestEvent {
  /** 0-based position in the manifest: the partition key (`index % N`). */
  readonly index: number;
  readonly symbol: string;
  readonly eventType: string;
  /** UTC Unix milliseconds (floored when the source had finer precision). */
  readonly timestampMs: number;
  /** The time as Python's isoformat writes it (microsecond precision): the ID's hash input. */
  readonly iso?: string;
  readonly eventId: string;
}

export interface ReadManifestOptions {
  /**
   * Rows per batch handed out (and per Parquet read without `keys`); bounds memory, not throughput.
   * @default 8192
   */
  readonly batchRows?: number;
  /**
   * Raw keys of rows whose event ID is committed (`state/ingest/committed.keys`): a row whose key
   * is there is handed out as {@link ManifestBatch.known} without its ID being computed or its
   * columns decoded in JS; batches also carry what the keys of the other rows would be, so that
   * a pass can add them ({@link ManifestBatch.learn}).
   */
  readonly keys?: ManifestKeys;
}

/** How the `timestamp` column is stored. */
export type TimestampKind = 'int-ms' | 'datetime' | 'date' | 'string';

export interface ManifestInfo {
  readonly path: string;
  readonly format: 'parquet' | 'csv';
  /** All columns of the file, as named there. */
  readonly columns: string[];
  /** Parquet only: how the timestamp column is stored (CSV cells are classified per row). */
  readonly timestampKind?: TimestampKind;
}

export const MANIFEST_COLUMNS = ['symbol', 'event_type', 'timestamp'] as const;

/** Event types become part of IDs and paths: word characters, `.` and `-`, 1–64 long. */
export const EVENT_TYPE_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

function formatOf(path: string): 'parquet' | 'csv' {
  const ext = extname(path).toLowerCase();
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  if (ext === '.csv') return 'csv';
  throw new InputError(`unsupported manifest file type "${ext}" (expected .parquet or .csv): ${path}`);
}

function missingColumns(path: string, columns: readonly string[]): InputError | undefined {
  const missing = MANIFEST_COLUMNS.filter((c) => findColumn(columns, [c]) < 0);
  if (missing.length === 0) return undefined;
  return new InputError(
    `${path}: manifest lacks column(s) ${missing.map((c) => `"${c}"`).join(', ')}; columns found: ${columns
      .map((c) => JSON.stringify(c))
      .join(', ')}`,
  );
}

function classifyDtype(path: string, name: string, variant: string): TimestampKind {
  if (/^U?Int(8|16|32|64)$/.test(variant) || variant === 'Float64' || variant === 'Float32') return 'int-ms';
  if (variant === 'Datetime') return 'datetime';
  if (variant === 'Date') return 'date';
  if (variant === 'String' || variant === 'Utf8' || variant === 'Categorical') return 'string';
  throw new InputError(
    `${path}: column "${name}" has type ${variant}; expected Int64 ms, Datetime, Date or ISO strings`,
  );
}

async function firstCsvRecord(path: string): Promise<string[]> {
  const splitter = new CsvRecordSplitter();
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  try {
    for await (const line of rl) {
      const rec = splitter.push(line);
      if (rec && !(rec.fields.length === 1 && rec.fields[0]!.trim() === '')) return rec.fields.map((f) => f.trim());
    }
  } finally {
    rl.close();
  }
  return [];
}

/**
 * Checks that a manifest exists and has the required columns, without reading its rows.
 * @throws {InputError} missing file, unknown type, missing columns (naming those found), bad dtype.
 */
export async function openManifest(path: string): Promise<ManifestInfo> {
  return (await openManifestPlan(path)).info;
}

/** {@link openManifest}, with the JS Parquet reader's plan when it can read the file (and `js` allows). */
async function openManifestPlan(path: string, js = true): Promise<{ info: ManifestInfo; js: ParquetJsColumns | undefined }> {
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new InputError(`manifest is not a regular file: ${path}`);
  } catch (err) {
    if (err instanceof InputError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new InputError(`manifest file not found: ${path}`);
    throw new InputError(`cannot read manifest ${path}: ${(err as Error).message}`, { cause: err });
  }
  const format = formatOf(path);
  if (format === 'csv') {
    const columns = (await firstCsvRecord(path)).map((c) => c.replace(/^\uFEFF/, ''));
    const missing = missingColumns(path, columns);
    if (missing) throw missing;
    return { info: { path, format, columns }, js: undefined };
  }
  // The footer in JS first: a file the JS reader serves never loads Polars on this thread.
  const pq = js ? await import('./parquet-manifest.js') : undefined;
  const planned = pq ? await pq.planParquetManifest(path) : undefined;
  if (pq && planned) {
    const { bindColumns, intColumnRange, JsDecodeError } = pq;
    const { columns } = planned;
    const missing = missingColumns(path, columns);
    if (missing) throw missing;
    const name = (c: string): string => columns[findColumn(columns, [c])]!;
    const js = bindColumns(planned.plan, name('symbol'), name('event_type'), name('timestamp'));
    let range: { lo: bigint; hi: bigint } | undefined | null = null;
    if (js?.kind === 'int-ms') {
      const h = await open(path, 'r');
      try {
        range = await intColumnRange(js, h);
      } catch (err) {
        if (!(err instanceof JsDecodeError)) throw err;
        range = null; // a page the JS reader cannot decode: Polars checks (and reads) the file
      } finally {
        await h.close();
      }
    }
    if (js && (js.kind !== 'int-ms' || range !== null)) {
      if (range) checkUnitRange(path, js.ts, [Number(range.lo), Number(range.hi)]);
      return { info: { path, format, columns, timestampKind: js.kind }, js };
    }
  }
  // Polars from here: a file (or a column type, a codec) the JS reader leaves to it, and every
  // unreadable file, so that the error is Polars' own words as before.
  const pl = await polars();
  let schema: Record<string, { variant: string }>;
  try {
    schema = (await pl.scanParquet(path).slice(0, 0).collect()).schema as Record<string, { variant: string }>;
  } catch (err) {
    throw new InputError(`${path}: not a readable Parquet file (${(err as Error).message})`, { cause: err });
  }
  const columns = Object.keys(schema);
  const missing = missingColumns(path, columns);
  if (missing) throw missing;
  const tsName = columns[findColumn(columns, ['timestamp'])]!;
  const timestampKind = classifyDtype(path, tsName, schema[tsName]!.variant);
  if (timestampKind === 'int-ms') await checkIntegerUnit(pl, path, tsName);
  return { info: { path, format, columns, timestampKind }, js: undefined };
}

/**
 * An integer column is refused before the first row is read when its smallest or largest value
 * cannot be Unix ms (epoch seconds read as ms would put every event in 1970). Native min/max: cheap.
 */
async function checkIntegerUnit(pl: Polars, path: string, tsName: string): Promise<void> {
  const df = await pl.scanParquet(path).select(pl.col(tsName).min().cast(pl.Float64).alias('lo'), pl.col(tsName).max().cast(pl.Float64).alias('hi')).collect();
  // Float64: nodejs-polars' Series.get() truncates an Int64 to 32 bits.
  checkUnitRange(path, tsName, [df.getColumn('lo').get(0), df.getColumn('hi').get(0)] as unknown[]);
}

/** The check of {@link checkIntegerUnit} on the column's min and max (as Float64; null: no values). */
function checkUnitRange(path: string, tsName: string, loHi: readonly unknown[]): void {
  for (const v of loHi) {
    if (v === null || v === undefined) continue; // an empty column, or nulls only: the row pass names the row
    try {
      instantFromMs(typeof v === 'number' && !Number.isInteger(v) ? Math.floor(v) : v);
    } catch (err) {
      throw new InputError(`${path}: column "${tsName}": ${(err as Error).message}`, { cause: err });
    }
  }
}

function instantFromMicros(us: number): UtcInstant {
  const sec = Math.floor(us / 1e6);
  return { epochSeconds: sec, micros: us - sec * 1e6 };
}

// `where` is "file: row N" (Parquet) or "file:LINE" (CSV), built only when a row is bad.
function where(path: string, row: number, csv: boolean): string {
  return csv ? `${path}:${row}` : `${path}: row ${row}`;
}

/** Bound on the validated-name caches of {@link RowMaker} (a manifest has a few thousand symbols). */
const NAME_CACHE_MAX = 100_000;

/**
 * Turns raw cells into events. Symbols and event types repeat on almost every row, so each distinct
 * one is validated once; the ID (sha1) is the only real per-row cost left.
 */
class RowMaker {
  readonly #okSymbols = new Set<string>();
  readonly #okTypes = new Set<string>();
  constructor(
    readonly path: string,
    readonly csv: boolean,
    readonly toInstant: (t: unknown) => UtcInstant,
  ) {}

  /** Validates one row and writes it to slot `k` of `b`. */
  push(b: BatchBuilder, k: number, row: number, symbol: unknown, eventType: unknown, rawTime: unknown): void {
    const { path, csv } = this;
    if (typeof symbol !== 'string' || !this.#okSymbols.has(symbol)) {
      const sp = symbolProblem(symbol);
      if (sp !== undefined) throw new InputError(`${where(path, row, csv)}: invalid symbol ${JSON.stringify(symbol)}: ${sp}`);
      if (this.#okSymbols.size >= NAME_CACHE_MAX) this.#okSymbols.clear();
      this.#okSymbols.add(symbol as string);
    }
    if (typeof eventType !== 'string' || !this.#okTypes.has(eventType)) {
      if (typeof eventType !== 'string' || !EVENT_TYPE_PATTERN.test(eventType) || eventType.includes('..')) {
        throw new InputError(
          `${where(path, row, csv)}: invalid event_type ${JSON.stringify(eventType)} (expected 1–64 of letters, digits, '_', '.', '-')`,
        );
      }
      if (this.#okTypes.size >= NAME_CACHE_MAX) this.#okTypes.clear();
      this.#okTypes.add(eventType);
    }
    let instant: UtcInstant;
    try {
      if (rawTime === null || rawTime === undefined || rawTime === '') throw new InputError('missing timestamp');
      instant = this.toInstant(rawTime);
    } catch (err) {
      throw new InputError(`${where(path, row, csv)}: ${(err as Error).message}`, { cause: err });
    }
    b.symbols[k] = symbol as string;
    b.types[k] = eventType;
    b.seconds[k] = instant.epochSeconds;
    b.micros[k] = instant.micros;
    b.ids[k] = canonicalEventIdAt(symbol as string, eventType, instant.epochSeconds, instant.micros);
  }
}

/** What a row's key is made of, for {@link ManifestBatch.learn}. */
type KeySource = { readonly unit: KeyTimeUnit } | { readonly csvHeader: string };

interface BatchBuilder {
  length: number;
  readonly symbols: string[];
  readonly types: string[];
  // Plain arrays, filled only at the slots of rows not known by key (a batch of known rows allocates little).
  readonly seconds: number[];
  readonly micros: number[];
  readonly ids: string[];
  /** Committed-set entry of a row skipped by its key (its other slots are unset), else -1. */
  readonly known: Int32Array;
  readonly source: KeySource | undefined;
  /** Parquet: each row's timestamp key value. */
  readonly tsKeys: number[] | undefined;
  /** CSV: each row's raw line as Latin-1 (undefined for a record with quotes). */
  readonly lines: Array<string | undefined> | undefined;
}

function newBuilder(capacity: number, source?: KeySource): BatchBuilder {
  return {
    length: 0,
    symbols: [],
    types: [],
    seconds: [],
    micros: [],
    ids: [],
    known: new Int32Array(capacity).fill(-1),
    source,
    tsKeys: source && 'unit' in source ? [] : undefined,
    lines: source && 'csvHeader' in source ? [] : undefined,
  };
}

/**
 * Consecutive manifest rows, column by column: the event IDs are computed, the event objects only
 * made on demand ({@link ManifestBatch.event}), so a pass that skips most rows allocates little.
 */
export class ManifestBatch {
  /** Position (`index`) of the first row. */
  readonly offset: number;
  readonly length: number;
  /** Canonical event ID of each row whose {@link known} entry is -1. */
  readonly ids: readonly string[];
  /** Per row: the committed-set entry its key maps to (skipped by key: no ID, no event), else -1. */
  readonly known: Int32Array;
  readonly #b: BatchBuilder;

  constructor(offset: number, b: BatchBuilder) {
    this.offset = offset;
    this.length = b.length;
    this.ids = b.ids;
    this.known = b.known;
    this.#b = b;
  }

  /** Adds row `i`'s raw key to `keys`, mapped to committed entry `k` (the entry of its ID). */
  learn(keys: ManifestKeys, i: number, k: number): void {
    const b = this.#b;
    if (b.source === undefined) return;
    if ('unit' in b.source) keys.learnParquet(b.symbols[i]!, b.types[i]!, b.source.unit, b.tsKeys![i]!, k);
    else if (b.lines![i] !== undefined) keys.learnCsv(b.source.csvHeader, b.lines![i]!, k);
  }

  /** Row `i` of the batch as a {@link ManifestEvent}. */
  event(i: number): ManifestEvent {
    const b = this.#b;
    const epochSeconds = b.seconds[i]!;
    const micros = b.micros[i]!;
    return {
      index: this.offset + i,
      symbol: b.symbols[i]!,
      eventType: b.types[i]!,
      timestampMs: epochSeconds * 1000 + Math.floor(micros / 1000),
      iso: pythonIsoformat({ epochSeconds, micros }),
      eventId: b.ids[i]!,
    };
  }
}

// Integers carry no unit. Unix ms of 1990–2100 cannot be mistaken for seconds, µs or ns of any
// date in that span (the ranges are three orders of magnitude apart), so the unit is told by the
// value; anything else is refused rather than read as a time in 1970 or in the year 50000.
const MS_MIN = 631_152_000_000; // 1990-01-01
const MS_MAX = 4_102_444_800_000; // 2100-01-01
const UNIT_HINTS: ReadonlyArray<[number, string]> = [
  [1e-3, 'Unix seconds'],
  [1e3, 'Unix microseconds'],
  [1e6, 'Unix nanoseconds'],
];

function instantFromMs(v: unknown): UtcInstant {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    const big = typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v));
    if (!big) throw new InputError(`invalid timestamp ${String(v)} (${v === null ? 'null' : typeof v}): expected whole Unix milliseconds`);
  }
  const n = Number(v);
  if (n < MS_MIN || n >= MS_MAX) {
    const hint = UNIT_HINTS.find(([f]) => n >= MS_MIN * f && n < MS_MAX * f)?.[1];
    throw new InputError(
      `integer timestamp ${String(v)} ${hint ? `looks like ${hint}` : 'is not Unix milliseconds of 1990–2099'}; integer timestamps are read as Unix milliseconds, ` +
        'so store the column as a Parquet timestamp type (its unit is then read from the file) or as milliseconds',
    );
  }
  return instantFromMicros(n * 1000);
}

/** How a Parquet timestamp cell, as both readers hand it out (µs, ms or a string), becomes an instant. */
function parquetInstant(kind: TimestampKind): (t: unknown) => UtcInstant {
  if (kind === 'datetime' || kind === 'date') return (t) => instantFromMicros(t as number);
  if (kind === 'string') return (t) => csvStringInstant(t as string);
  return instantFromMs;
}

/** Parquet-decoded timestamp column: the expression that brings it to JS, and how to read its cells. */
function parquetTimestamp(pl: Polars, ts: string, kind: TimestampKind): { expr: pl.Expr; toInstant: (t: unknown) => UtcInstant } {
  const toInstant = parquetInstant(kind);
  if (kind === 'datetime' || kind === 'date') {
    // Int64 of a ns Datetime exceeds 2^53 and would be rounded by toArray(); µs since the epoch is
    // exact in a double until year 2255 and is all the precision the IDs use.
    return { expr: pl.col(ts).cast(pl.Datetime('us', 'UTC')).cast(pl.Int64).cast(pl.Float64).alias('__ts'), toInstant };
  }
  if (kind === 'string') return { expr: pl.col(ts).cast(pl.Utf8).alias('__ts'), toInstant };
  return { expr: pl.col(ts).alias('__ts'), toInstant };
}

/** Rows per Parquet read when keys are probed: only typed columns come to JS, so a large read is cheap. */
const KEYED_FRAME_ROWS = 65_536;

/** The key unit of a Parquet timestamp column, or undefined when its rows have no key (strings). */
function keyUnit(info: ManifestInfo): KeyTimeUnit | undefined {
  if (info.timestampKind === 'int-ms') return 'ms';
  if (info.timestampKind === 'datetime' || info.timestampKind === 'date') return 'us';
  return undefined;
}

/** One Parquet read of up to `frameRows` rows: which are known by key, and the columns of the others. */
interface ParquetFrame {
  readonly offset: number;
  readonly height: number;
  /** Committed entry of each row found in the key file, else -1 (all -1 without Parquet keys). */
  readonly known: Int32Array;
  /** The timestamp key value of every row (NaN: none), when keys are in use. */
  readonly tsKey: Float64Array | undefined;
  /** The row columns, read only when some row is not known. */
  readonly cells: { readonly sym: pl.Series; readonly et: pl.Series; readonly ts: pl.Series } | undefined;
}

/** The expressions of a Parquet read: the row's columns, and its key parts when keys are in use. */
function parquetExprs(pl: Polars, info: ManifestInfo, keys: ManifestKeys | undefined): { cells: pl.Expr[]; key: pl.Expr[]; toInstant: (t: unknown) => UtcInstant; unit: KeyTimeUnit | undefined; coded: boolean } {
  const col = (name: string): string => info.columns[findColumn(info.columns, [name])]!;
  const [sym, et, ts] = [col('symbol'), col('event_type'), col('timestamp')];
  const { expr: tsExpr, toInstant } = parquetTimestamp(pl, ts, info.timestampKind!);
  const symExpr = pl.col(sym).cast(pl.Utf8);
  const etExpr = pl.col(et).cast(pl.Utf8);
  const cells = [symExpr.alias('__sym'), etExpr.alias('__et'), tsExpr];
  const unit = keys ? keyUnit(info) : undefined;
  if (unit === undefined) return { cells, key: [], toInstant, unit, coded: false };
  // The key value is what the row's ID is computed from: µs of a Datetime/Date (the __ts column's
  // own cast), the raw value of an integer (ms) column; a null never matches (NaN).
  const keyExpr = unit === 'us' ? parquetTimestamp(pl, ts, 'datetime').expr : pl.col(ts).cast(pl.Float64);
  const key = [keyExpr.fillNull(pl.lit(Number.NaN)).alias('__tk')];
  const coded = keys!.parquet.size > 0;
  if (coded) {
    // Symbols and types become the key file's dictionary codes natively: no JS string per row.
    const code = (e: pl.Expr, dict: readonly string[], name: string): pl.Expr =>
      e.replaceStrict([...dict], dict.map((_, i) => i), pl.lit(-1), pl.Int32).fillNull(pl.lit(-1)).alias(name);
    key.push(code(symExpr, keys!.symbols, '__sc'), code(etExpr, keys!.types, '__tc'));
  }
  return { cells, key, toInstant, unit, coded };
}

/** Rows [offset, offset + rows) of the file through `exprs`. */
async function scanSlice(pl: Polars, path: string, exprs: pl.Expr[], offset: number, rows: number): Promise<pl.DataFrame> {
  // A fresh scan per read: measured constant cost per slice at any offset (row-group pruning),
  // so a whole pass stays linear, and each collect() runs off the event loop.
  return pl.scanParquet(path).select(...exprs).slice(offset, rows).collect();
}

async function readParquetFrame(pl: Polars, path: string, x: ReturnType<typeof parquetExprs>, keys: ManifestKeys | undefined, offset: number, rows: number): Promise<ParquetFrame> {
  let tsKey: Float64Array | undefined;
  let known: Int32Array | undefined;
  let slow = true;
  if (x.key.length > 0) {
    const kf = await scanSlice(pl, path, x.key, offset, rows);
    // One getColumns() for all: each getColumn() wraps every column of the frame in a fresh Series
    // object (hundreds of closures each), ~2 MB of garbage per frame that grew the heap by ~20 MB.
    const [tk, scCol, tcCol] = kf.getColumns() as [pl.Series, pl.Series | undefined, pl.Series | undefined]; // x.key's order
    tsKey = tk.toTypedArray() as Float64Array;
    known = new Int32Array(kf.height).fill(-1);
    if (x.coded) {
      const sc = scCol!.toTypedArray() as Int32Array;
      const tc = tcCol!.toTypedArray() as Int32Array;
      slow = false;
      for (let r = 0; r < known.length; r++) if ((known[r] = keys!.lookupParquet(sc[r]!, tc[r]!, x.unit!, tsKey[r]!)) < 0) slow = true;
    }
  }
  const df = slow ? await scanSlice(pl, path, x.cells, offset, rows) : undefined;
  const height = known?.length ?? df!.height;
  const cols = df?.getColumns() as [pl.Series, pl.Series, pl.Series] | undefined; // x.cells' order: __sym, __et, __ts
  const cells = cols ? { sym: cols[0], et: cols[1], ts: cols[2] } : undefined;
  return { offset, height, known: known ?? new Int32Array(height).fill(-1), tsKey, cells };
}

/**
 * Rows [start, start + m) of a frame as a batch: rows whose key is in the key file are marked
 * known; the others' cells are brought to JS (only theirs) and validated, and their IDs computed.
 */
function parquetBatch(f: ParquetFrame, start: number, m: number, maker: RowMaker, unit: KeyTimeUnit | undefined): ManifestBatch {
  const b = newBuilder(m, unit ? { unit } : undefined);
  b.length = m;
  const slow: number[] = [];
  for (let i = 0; i < m; i++) {
    const k = f.known[start + i]!;
    if (k >= 0) b.known[i] = k;
    else slow.push(start + i);
  }
  if (slow.length > 0) {
    const c = f.cells!;
    // The whole column as it is when the batch is the frame (every call makes a new Series wrapper).
    const take = (col: pl.Series): pl.Series => (slow.length === m ? (start === 0 && m === col.length ? col : col.slice(start, m)) : col.gather(slow));
    const syms = take(c.sym).toArray() as unknown[];
    const types = take(c.et).toArray() as unknown[];
    const tsCol = take(c.ts);
    // A Float64 column without nulls leaves Polars as one typed array instead of n JS values.
    const times = (tsCol.dtype.variant === 'Float64' && tsCol.nullCount() === 0 ? tsCol.toTypedArray() : tsCol.toArray()) as ArrayLike<unknown>;
    for (let j = 0; j < slow.length; j++) {
      const r = slow[j]!;
      maker.push(b, r - start, f.offset + r + 1, syms[j], types[j], times[j]);
      if (b.tsKeys) b.tsKeys[r - start] = f.tsKey![r]!;
    }
  }
  return new ManifestBatch(f.offset + start, b);
}

/** Rows from `from` on, through Polars (a file or a row group the JS reader leaves to it). */
async function* readParquetBatches(path: string, info: ManifestInfo, batchRows: number, keys: ManifestKeys | undefined, from = 0): AsyncGenerator<ManifestBatch> {
  const pl = await polars();
  const x = parquetExprs(pl, info, keys);
  const maker = new RowMaker(path, false, x.toInstant);
  const frameRows = x.coded ? Math.max(batchRows, KEYED_FRAME_ROWS) : batchRows;
  for (let offset = from; ; offset += frameRows) {
    const f = await readParquetFrame(pl, path, x, keys, offset, frameRows);
    for (let start = 0; start < f.height; start += batchRows) yield parquetBatch(f, start, Math.min(batchRows, f.height - start), maker, x.unit);
    if (f.height < frameRows) return;
  }
}

/**
 * The same rows as {@link readParquetBatches}, read in JS page by page (see parquet-manifest.ts):
 * same cells, keys, row numbers and errors. Polars is never loaded unless a page does not decode,
 * and then reads on from the first row not yet handed out.
 */
async function* readParquetJsBatches(js: ParquetJsColumns, info: ManifestInfo, batchRows: number, keys: ManifestKeys | undefined): AsyncGenerator<ManifestBatch> {
  const { GroupRows, JsDecodeError } = await import('./parquet-manifest.js');
  const maker = new RowMaker(info.path, false, parquetInstant(info.timestampKind!));
  const unit = keys ? keyUnit(info) : undefined;
  // The dictionary as it was at the start, as the Polars path's replaceStrict() has it: a symbol
  // learned during this pass takes the slow path there, so it does here.
  const codes = unit !== undefined && keys!.parquet.size > 0 ? { sym: codeMap(keys!.symbols), et: codeMap(keys!.types) } : undefined;
  const h = await open(info.path, 'r');
  let next = 0; // the first row not yet handed out
  try {
    for (let g = 0; g < js.plan.groups.length; g++) {
      const { start, rows } = js.plan.groups[g]!;
      if (rows === 0) continue;
      try {
        const group = await GroupRows.open(js, h, g);
        for (let s = 0; s < rows; s += batchRows) {
          const b = jsBatch(group, start + s, Math.min(batchRows, rows - s), maker, unit, keys, codes);
          yield b;
          next = b.offset + b.length;
        }
      } catch (err) {
        if (!(err instanceof JsDecodeError)) throw err;
        yield* readParquetBatches(info.path, info, batchRows, keys, next);
        return;
      }
    }
  } finally {
    await h.close();
  }
}

function codeMap(list: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  list.forEach((v, i) => m.set(v, i));
  return m;
}

/** Rows [offset, offset + m) of a row group read in JS as a batch (the twin of {@link parquetBatch}). */
function jsBatch(g: import('./parquet-manifest.js').GroupRows, offset: number, m: number, maker: RowMaker, unit: KeyTimeUnit | undefined, keys: ManifestKeys | undefined, codes: { sym: Map<string, number>; et: Map<string, number> } | undefined): ManifestBatch {
  const b = newBuilder(m, unit ? { unit } : undefined);
  b.length = m;
  for (let i = 0; i < m; i++) {
    const s = g.sym.next();
    const e = g.et.next();
    const t = g.ts.next();
    // The key value: µs (Datetime/Date) or ms (Int64) as a double; a null never matches (NaN).
    const tk = typeof t === 'number' ? t : Number.NaN;
    if (codes) {
      const sc = s === null ? -1 : (codes.sym.get(s) ?? -1);
      const tc = e === null ? -1 : (codes.et.get(e) ?? -1);
      const k = keys!.lookupParquet(sc, tc, unit!, tk);
      if (k >= 0) {
        b.known[i] = k;
        continue;
      }
    }
    maker.push(b, i, offset + i + 1, s, e, t);
    if (b.tsKeys) b.tsKeys[i] = tk;
  }
  return new ManifestBatch(offset, b);
}

const TWO_DIGITS = /^\d\d$/;
const FAST_ISO = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(Z|[+-]\d\d:\d\d)?$/;

/**
 * The common shapes (`2024-03-11 15:00:00`, `2024-03-11T11:00:00-04:00`, `…Z`) without the general
 * parser's dozen regular expressions; anything else, and anything out of range, goes to
 * {@link parsePythonTimestamp}, so results and errors are the same.
 */
function csvStringInstant(t: string): UtcInstant {
  const m = FAST_ISO.exec(t);
  if (m) {
    const y = +m[1]!, mo = +m[2]!, d = +m[3]!, h = +m[4]!, mi = +m[5]!, sec = +m[6]!;
    const off = m[7];
    let offSec = 0;
    if (off !== undefined && off !== 'Z') {
      const oh = off.slice(1, 3), om = off.slice(4, 6);
      if (!TWO_DIGITS.test(oh) || +oh > 23 || +om > 59) return parsePythonTimestamp(t);
      offSec = (off[0] === '-' ? -1 : 1) * (+oh * 3600 + +om * 60);
    }
    const ms = Date.UTC(y, mo - 1, d, h, mi, sec);
    const back = new Date(ms);
    // Date.UTC rolls 31 Feb over into March: only an exact round trip is a real date.
    if (y >= 1000 && h < 24 && mi < 60 && sec < 60 && back.getUTCDate() === d && back.getUTCMonth() === mo - 1) {
      return { epochSeconds: ms / 1000 - offSec, micros: 0 };
    }
  }
  return parsePythonTimestamp(t);
}

// Digits only: Unix ms (see instantFromMs); anything else is a Python-style time string.
function csvInstant(t: unknown): UtcInstant {
  return /^-?\d+$/.test(t as string) ? instantFromMs(Number(t)) : csvStringInstant(t as string);
}

/** 2 when the bytes hold a quote, 1 when they are all ASCII (and no quote), 0 otherwise. */
function lineShape(buf: Uint8Array, start: number, end: number): 0 | 1 | 2 {
  let ascii: 0 | 1 = 1;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c === 0x22) return 2;
    if (c >= 0x80) ascii = 0;
  }
  return ascii;
}

/**
 * CSV lines → batches, one physical line at a time (bytes, synchronously). A line without a quote
 * is split on commas at once; a line with one (and the lines a quoted field spans) goes through
 * {@link CsvRecordSplitter}. With keys for this file's header, a quote-free line whose raw bytes are
 * a key is marked known without being decoded.
 */
class CsvBatcher {
  readonly ready: ManifestBatch[] = [];
  #lineNo = 0;
  #sp: CsvRecordSplitter | undefined;
  #spBase = 0;
  #idx: [number, number, number] | undefined;
  /** Latin-1 of the header line's bytes, when it is one line without quotes and keys are in use. */
  #header: string | undefined;
  #probe = false;
  #offset = 0;
  #b: BatchBuilder;

  constructor(
    readonly path: string,
    readonly maker: RowMaker,
    readonly batchRows: number,
    readonly keys: ManifestKeys | undefined,
  ) {
    this.#b = newBuilder(batchRows);
  }

  /** One physical line, `buf[start, end)` without its `\n`. */
  line(buf: Buffer, start: number, end: number): void {
    this.#lineNo++;
    const shape = this.#sp === undefined ? lineShape(buf, start, end) : 2;
    if (shape !== 2) {
      if (this.#probe) {
        const k = this.keys!.csv.lookup(buf, start, end);
        if (k >= 0) return this.#known(k);
      }
      const text = buf.toString('utf8', start, end);
      // An ASCII line is its own Latin-1 key; any other is keyed by its bytes.
      const raw = this.keys === undefined ? undefined : shape === 1 ? text : buf.toString('latin1', start, end);
      this.#record((text.endsWith('\r') ? text.slice(0, -1) : text).split(','), this.#lineNo, raw);
      return;
    }
    if (this.#sp === undefined) {
      this.#sp = new CsvRecordSplitter();
      this.#spBase = this.#lineNo - 1;
    }
    const rec = this.#sp.push(buf.toString('utf8', start, end));
    if (rec) {
      this.#sp = undefined;
      this.#record(rec.fields, this.#spBase + rec.line, undefined);
    }
  }

  /** After the last line: an open quoted field is an error; the partial batch is handed out. */
  end(): void {
    if (this.#sp?.unterminated) throw new InputError(`${this.path}:${this.#spBase + this.#sp.currentLine}: unterminated quoted field`);
    if (this.#b.length > 0) this.#flush();
  }

  #known(k: number): void {
    this.#b.known[this.#b.length++] = k;
    if (this.#b.length >= this.batchRows) this.#flush();
  }

  #record(f: string[], line: number, raw: string | undefined): void {
    if (f.length === 1 && f[0]!.trim() === '') return;
    if (!this.#idx) {
      const header = f.map((x) => x.trim());
      this.#idx = [findColumn(header, ['symbol']), findColumn(header, ['event_type']), findColumn(header, ['timestamp'])];
      this.#header = raw;
      this.#probe = raw !== undefined && this.keys!.csvHeaderMatches(raw);
      this.#b = newBuilder(this.batchRows, raw === undefined ? undefined : { csvHeader: raw });
      return;
    }
    const b = this.#b;
    const idx = this.#idx;
    this.maker.push(b, b.length, line, (f[idx[0]] ?? '').trim(), (f[idx[1]] ?? '').trim(), (f[idx[2]] ?? '').trim());
    if (b.lines) b.lines[b.length] = raw;
    if (++b.length >= this.batchRows) this.#flush();
  }

  #flush(): void {
    this.ready.push(new ManifestBatch(this.#offset, this.#b));
    this.#offset += this.#b.length;
    this.#b = newBuilder(this.batchRows, this.#header === undefined ? undefined : { csvHeader: this.#header });
  }
}

/** Bytes read from a CSV manifest at a time (the buffer grows only for a longer line). */
const CSV_CHUNK = 1 << 20;

async function* readCsvBatches(path: string, batchRows: number, keys: ManifestKeys | undefined, chunkBytes = CSV_CHUNK): AsyncGenerator<ManifestBatch> {
  const batcher = new CsvBatcher(path, new RowMaker(path, true, csvInstant), batchRows, keys);
  // One buffer, refilled in place: a read stream hands out a fresh 1 MiB Buffer per chunk (plus a
  // concat per chunk boundary), 24 MB of a 24 MB file that only a later GC returns, which measured
  // as +24 MB of peak RSS on a 572,850-line pass. The lines' bytes are only read during `line()`.
  let buf: Buffer = Buffer.allocUnsafe(chunkBytes);
  let held = 0; // bytes of an unfinished line kept at the start of `buf`
  const h = await open(path, 'r');
  try {
    for (;;) {
      if (held === buf.length) buf = grown(buf, held); // a line longer than the buffer
      const { bytesRead } = await h.read(buf, held, buf.length - held, null);
      if (bytesRead <= 0) break;
      const end = held + bytesRead;
      let s = 0;
      for (let e = buf.indexOf(0x0a, s); e >= 0 && e < end; e = buf.indexOf(0x0a, s)) {
        batcher.line(buf, s, e);
        s = e + 1;
      }
      held = end - s;
      buf.copyWithin(0, s, end);
      yield* batcher.ready.splice(0);
    }
    if (held > 0) batcher.line(buf, 0, held);
    batcher.end();
    yield* batcher.ready.splice(0);
  } finally {
    await h.close();
  }
}

/** A buffer twice as long holding the first `used` bytes of `buf`. */
function grown(buf: Buffer, used: number): Buffer {
  const next = Buffer.allocUnsafe(buf.length * 2);
  buf.copy(next, 0, 0, used);
  return next;
}

/**
 * Rows of a manifest without decoding them: a Parquet file's row count from its footer, a CSV's
 * data records counted from raw bytes (quoted newlines respected, blank lines not counted), a
 * small fraction of the cost of the full pass that computes every row's ID.
 */
export async function manifestRowCount(info: ManifestInfo): Promise<number> {
  if (info.format === 'parquet') {
    // From the footer in JS: a Polars scan here cost a query's native memory and ~30 ms at start.
    const r = await parquetRowCount(info.path);
    if (!r.ok) throw new InputError(`${info.path}: not a readable Parquet file (${r.reason})`);
    return r.rows;
  }
  return countCsvRecords(info.path);
}

async function countCsvRecords(path: string): Promise<number> {
  const h = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let records = 0;
    let inQuotes = false;
    let content = false;
    for (;;) {
      const { bytesRead } = await h.read(buf, 0, buf.length, null);
      if (bytesRead <= 0) break;
      for (let i = 0; i < bytesRead; i++) {
        const c = buf[i]!;
        if (c === 0x22) {
          inQuotes = !inQuotes; // a doubled "" toggles twice: no change, as it should
          content = true;
        } else if (c === 0x0a && !inQuotes) {
          if (content) records++;
          content = false;
        } else if (c !== 0x20 && c !== 0x09 && c !== 0x0d && !(c === 0xef || c === 0xbb || c === 0xbf)) {
          content = true;
        }
      }
    }
    if (content) records++;
    return Math.max(0, records - 1); // the header
  } finally {
    await h.close();
  }
}

/**
 * The manifest in batches of up to `batchRows` events (Parquet: record batches of the file; CSV:
 * records as they stream in). Same rows, order, IDs and errors as {@link readManifest}; a consumer
 * that filters most rows (a resume skipping what is done) should use this, so that only the rows it
 * keeps cost an asynchronous step each.
 */
export async function* readManifestBatches(path: string, options: ReadManifestOptions = {}): AsyncGenerator<ManifestBatch, void, undefined> {
  const batchRows = options.batchRows ?? 8192;
  wholeNumber('readManifest', 'batchRows', batchRows);
  const { info, js } = await openManifestPlan(path);
  if (info.format === 'csv') yield* readCsvBatches(path, batchRows, options.keys);
  else if (js) yield* readParquetJsBatches(js, info, batchRows, options.keys);
  else yield* readParquetBatches(path, info, batchRows, options.keys);
}

/**
 * {@link openManifest}'s checks (the file, its format, its columns), then the first `rows` events
 * decoded, throwing the InputError the full pass would throw on them (a unit mistaken, an
 * unparsable time): a check before anything is written, at a few ms
 * for any file size (a CSV is read in small chunks here, not the pass's 1 MiB ones: 25,000 lines
 * decoded cost ~300 ms).
 */
export async function checkManifestHead(path: string, rows: number): Promise<void> {
  const { info, js } = await openManifestPlan(path);
  // A typed time column (tickpipe's own events.parquet) has no unit to mistake or text to misparse;
  // decoding a Parquet batch would cost 25-50 ms at every start of a large run.
  if (info.timestampKind === 'datetime' || info.timestampKind === 'date') return;
  const batches =
    info.format === 'csv' ? readCsvBatches(path, rows, undefined, CSV_HEAD_CHUNK) : js ? readParquetJsBatches(js, info, rows, undefined) : readParquetBatches(path, info, rows, undefined);
  for await (const batch of batches) {
    for (let i = 0; i < batch.length; i++) batch.event(i);
    break;
  }
}

/** Bytes per read of {@link checkManifestHead} over a CSV. */
const CSV_HEAD_CHUNK = 16 * 1024;

/**
 * @internal {@link readManifestBatches} with Parquet read by Polars only (the reader the JS one
 * replaces), for the test that compares the two on generated files. Not exported from the package.
 */
export async function* readManifestBatchesViaPolars(path: string, options: ReadManifestOptions = {}): AsyncGenerator<ManifestBatch, void, undefined> {
  const { info } = await openManifestPlan(path, false);
  if (info.format === 'csv') throw new InputError(`${path}: readManifestBatchesViaPolars reads Parquet only`);
  yield* readParquetBatches(path, info, options.batchRows ?? 8192, options.keys);
}

/**
 * Streams the events manifest (`events/events.parquet`, or any Parquet/CSV with columns
 * `symbol, event_type, timestamp`) one event at a time, decoding `batchRows` rows at a time, so
 * memory stays flat for any manifest size. The file's row order defines `index`.
 *
 * Timestamps: integers are Unix ms (of 1990–2099: other integers are refused, their unit cannot be
 * told); Datetime (any unit, any time zone) and Date are converted to
 * UTC; strings are parsed as the Python pipeline did ({@link parsePythonTimestamp}).
 * Columns are checked before the first row is yielded (see {@link openManifest}); an invalid row
 * stops the stream with an InputError naming the file and row (Parquet, 1-based) or line (CSV).
 *
 * @example
 * for await (const e of readManifest('out/events/events.parquet')) console.log(e.eventId);
 */
export async function* readManifest(path: string, options: ReadManifestOptions = {}): AsyncGenerator<ManifestEvent, void, undefined> {
  for await (const batch of readManifestBatches(path, options)) {
    for (let i = 0; i < batch.length; i++) yield batch.event(i);
  }
}
