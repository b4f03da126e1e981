import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import pl from 'nodejs-polars';
import { InputError } from '../errors.js';
import { canonicalEventIdWithIso, parsePythonTimestamp, type UtcInstant } from './event-id.js';
import { symbolProblem } from './symbols.js';
import { CsvRecordSplitter, findColumn } from './universe.js';

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
   * Rows decoded per Parquet read; bounds memory, not throughput.
   * @default 8192
   */
  readonly batchRows?: number;
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
    return { path, format, columns };
  }
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
  return { path, format, columns, timestampKind: classifyDtype(path, tsName, schema[tsName]!.variant) };
}

function instantFromMicros(us: number): UtcInstant {
  const sec = Math.floor(us / 1e6);
  return { epochSeconds: sec, micros: us - sec * 1e6 };
}

// `where` is "file: row N" (Parquet) or "file:LINE" (CSV), built only when a row is bad.
function where(path: string, row: number, csv: boolean): string {
  return csv ? `${path}:${row}` : `${path}: row ${row}`;
}

function makeEvent(
  path: string,
  row: number,
  csv: boolean,
  index: number,
  symbol: unknown,
  eventType: unknown,
  rawTime: unknown,
  toInstant: (t: unknown) => UtcInstant,
): ManifestEvent {
  const sp = symbolProblem(symbol);
  if (sp !== undefined) throw new InputError(`${where(path, row, csv)}: invalid symbol ${JSON.stringify(symbol)}: ${sp}`);
  if (typeof eventType !== 'string' || !EVENT_TYPE_PATTERN.test(eventType) || eventType.includes('..')) {
    throw new InputError(
      `${where(path, row, csv)}: invalid event_type ${JSON.stringify(eventType)} (expected 1–64 of letters, digits, '_', '.', '-')`,
    );
  }
  let instant: UtcInstant;
  try {
    if (rawTime === null || rawTime === undefined || rawTime === '') throw new InputError('missing timestamp');
    instant = toInstant(rawTime);
  } catch (err) {
    throw new InputError(`${where(path, row, csv)}: ${(err as Error).message}`, { cause: err });
  }
  const { eventId, iso } = canonicalEventIdWithIso(symbol as string, eventType, instant);
  return {
    index,
    symbol: symbol as string,
    eventType,
    timestampMs: instant.epochSeconds * 1000 + Math.floor(instant.micros / 1000),
    iso,
    eventId,
  };
}

function instantFromMs(v: unknown): UtcInstant {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw new InputError(`invalid timestamp ${String(v)} (${v === null ? 'null' : typeof v}): expected whole Unix milliseconds`);
  }
  return instantFromMicros(v * 1000);
}

async function* readParquetRows(path: string, info: ManifestInfo, batchRows: number): AsyncGenerator<ManifestEvent> {
  const col = (name: string): string => info.columns[findColumn(info.columns, [name])]!;
  const [sym, et, ts] = [col('symbol'), col('event_type'), col('timestamp')];
  const kind = info.timestampKind!;
  let tsExpr = pl.col(ts).alias('__ts');
  if (kind === 'datetime' || kind === 'date') {
    // Int64 of a ns Datetime exceeds 2^53 and would be rounded by toArray(); µs since the epoch is
    // exact in a double until year 2255 and is all the precision the IDs use.
    tsExpr = pl.col(ts).cast(pl.Datetime('us', 'UTC')).cast(pl.Int64).alias('__ts');
  } else if (kind === 'string') {
    tsExpr = pl.col(ts).cast(pl.Utf8).alias('__ts');
  }
  const toInstant: (t: unknown) => UtcInstant =
    kind === 'string'
      ? (t) => parsePythonTimestamp(t as string)
      : kind === 'int-ms'
        ? instantFromMs
        : (t) => instantFromMicros(t as number);
  const exprs = [pl.col(sym).cast(pl.Utf8).alias('__sym'), pl.col(et).cast(pl.Utf8).alias('__et'), tsExpr];
  for (let offset = 0; ; offset += batchRows) {
    // A fresh scan per batch: measured constant cost per slice at any offset (row-group pruning),
    // so a whole pass stays linear, and each collect() runs off the event loop.
    const df = await pl.scanParquet(path).select(...exprs).slice(offset, batchRows).collect();
    const n = df.height;
    const syms = df.getColumn('__sym').toArray() as unknown[];
    const types = df.getColumn('__et').toArray() as unknown[];
    const times = df.getColumn('__ts').toArray() as unknown[];
    for (let i = 0; i < n; i++) {
      yield makeEvent(path, offset + i + 1, false, offset + i, syms[i], types[i], times[i], toInstant);
    }
    if (n < batchRows) return;
  }
}

// Digits only: Unix ms as consolidate writes them; anything else is a Python-style time string.
function csvInstant(t: unknown): UtcInstant {
  return /^-?\d+$/.test(t as string) ? instantFromMs(Number(t)) : parsePythonTimestamp(t as string);
}

async function* readCsvRows(path: string): AsyncGenerator<ManifestEvent> {
  const splitter = new CsvRecordSplitter();
  const rl = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let idx: [number, number, number] | undefined;
  let index = 0;
  try {
    for await (const line of rl) {
      const rec = splitter.push(line);
      if (!rec || (rec.fields.length === 1 && rec.fields[0]!.trim() === '')) continue;
      if (!idx) {
        const header = rec.fields.map((f) => f.trim());
        idx = [findColumn(header, ['symbol']), findColumn(header, ['event_type']), findColumn(header, ['timestamp'])];
        continue;
      }
      const [s, e, t] = idx.map((k) => (rec.fields[k] ?? '').trim()) as [string, string, string];
      yield makeEvent(path, rec.line, true, index++, s, e, t, csvInstant);
    }
    if (splitter.unterminated) throw new InputError(`${path}:${splitter.currentLine}: unterminated quoted field`);
  } finally {
    rl.close();
  }
}

/**
 * Streams the events manifest (`events/events.parquet`, or any Parquet/CSV with columns
 * `symbol, event_type, timestamp`) one event at a time, decoding `batchRows` rows at a time, so
 * memory stays flat for any manifest size. The file's row order defines `index`.
 *
 * Timestamps: integers are Unix ms; Datetime (any unit, any time zone) and Date are converted to
 * UTC; strings are parsed as the Python pipeline did ({@link parsePythonTimestamp}).
 * Columns are checked before the first row is yielded (see {@link openManifest}); an invalid row
 * stops the stream with an InputError naming the file and row (Parquet, 1-based) or line (CSV).
 *
 * @example
 * for await (const e of readManifest('out/events/events.parquet')) console.log(e.eventId);
 */
export async function* readManifest(path: string, options: ReadManifestOptions = {}): AsyncGenerator<ManifestEvent, void, undefined> {
  const batchRows = options.batchRows ?? 8192;
  if (!Number.isInteger(batchRows) || batchRows < 1) {
    throw new RangeError(`readManifest: batchRows must be a whole number >= 1, got ${String(batchRows)} (${typeof batchRows})`);
  }
  const info = await openManifest(path);
  if (info.format === 'csv') yield* readCsvRows(path);
  else yield* readParquetRows(path, info, batchRows);
}
