import { readFile, stat } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { validateSymbol } from './symbols.js';
import { polars, type Polars } from '../polars.js';

export type UniverseFormat = 'txt' | 'csv' | 'parquet';

export interface Universe {
  /** Sorted (byte order), de-duplicated, validated symbols. The position is the partition key. */
  readonly symbols: string[];
  /** Symbols that occurred more than once (each listed once, sorted); the caller warns. */
  readonly duplicates: string[];
  /** Absolute path the universe was read from. */
  readonly source: string;
  readonly format: UniverseFormat;
}

/** Column names accepted for the ticker, in order of preference (matched case-insensitively). */
export const SYMBOL_COLUMNS = ['symbol', 'ticker'] as const;

/**
 * @internal Splits CSV text into records (RFC 4180: `"` quoting, `""` escapes, newlines inside quotes),
 * returning each record with the 1-based line it starts on. Trailing `\r` is dropped.
 */
export class CsvRecordSplitter {
  private fields: string[] = [];
  private field = '';
  private inQuotes = false;
  private quotedField = false;
  private line = 0;
  private startLine = 1;

  /** @param delimiter field separator: `,` (RFC 4180), `;` (European Excel) or a tab. */
  constructor(private readonly delimiter: string = ',') {}

  /** Feeds one physical line (without its `\n`); returns the record it completes, if any. */
  push(rawLine: string): { fields: string[]; line: number } | undefined {
    this.line++;
    const text = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (!this.inQuotes) this.startLine = this.line;
    else this.field += '\n';
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (this.inQuotes) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            this.field += '"';
            i++;
          } else this.inQuotes = false;
        } else this.field += c;
      } else if (c === '"' && this.field.length === 0 && !this.quotedField) {
        this.inQuotes = true;
        this.quotedField = true;
      } else if (c === this.delimiter) {
        this.fields.push(this.field);
        this.field = '';
        this.quotedField = false;
      } else this.field += c;
    }
    if (this.inQuotes) return undefined;
    this.fields.push(this.field);
    const record = { fields: this.fields, line: this.startLine };
    this.fields = [];
    this.field = '';
    this.quotedField = false;
    return record;
  }

  /** Whether input ended inside a quoted field. */
  get unterminated(): boolean {
    return this.inQuotes;
  }

  get currentLine(): number {
    return this.startLine;
  }
}

/** @internal Index of the first header cell named one of `names` (case-insensitive, trimmed). */
export function findColumn(header: readonly string[], names: readonly string[]): number {
  const lower = header.map((h) => h.trim().replace(/^\uFEFF/, '').toLowerCase());
  for (const name of names) {
    const i = lower.indexOf(name);
    if (i >= 0) return i;
  }
  return -1;
}

function located(path: string, where: string, err: unknown): InputError {
  const reason = err instanceof Error ? err.message : String(err);
  return new InputError(`${path}:${where}: ${reason}`, { cause: err });
}

function parseTxt(path: string, text: string): string[] {
  const out: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const hash = lines[i]!.indexOf('#');
    const body = (hash >= 0 ? lines[i]!.slice(0, hash) : lines[i]!).trim();
    if (body === '') continue;
    try {
      out.push(validateSymbol(body));
    } catch (err) {
      throw located(path, `${i + 1}`, err);
    }
  }
  return out;
}

/**
 * @internal The text of a universe file: UTF-8 (with or without BOM) or UTF-16 with a BOM
 * (PowerShell 5.1's `>` and `Out-File` write UTF-16LE with BOM; Excel's "Unicode text" too). A
 * BOM-less file whose odd bytes are mostly NUL is UTF-16LE as well.
 */
export function decodeUniverseText(buf: Uint8Array): string {
  if (buf[0] === 0xff && buf[1] === 0xfe) return new TextDecoder('utf-16le').decode(buf.subarray(2));
  if (buf[0] === 0xfe && buf[1] === 0xff) return new TextDecoder('utf-16be').decode(buf.subarray(2));
  if (buf.length >= 4) {
    let oddNul = 0;
    const n = Math.min(buf.length, 4096) & ~1;
    for (let i = 1; i < n; i += 2) if (buf[i] === 0) oddNul++;
    if (oddNul >= (n / 2) * 0.9) return new TextDecoder('utf-16le').decode(buf);
  }
  return new TextDecoder('utf-8').decode(buf).replace(/^\uFEFF/, '');
}

/**
 * @internal The field separator of a CSV file, from its header line: `,`, or `;` (European Excel,
 * where `,` is the decimal mark) or a tab when the header has those and no comma.
 */
export function csvDelimiter(text: string): string {
  const header = text.slice(0, text.search(/\r?\n|$/)).replace(/"[^"]*"/g, '');
  if (header.includes(',')) return ',';
  if (header.includes(';')) return ';';
  if (header.includes('\t')) return '\t';
  return ',';
}

function parseCsv(path: string, text: string): string[] {
  const splitter = new CsvRecordSplitter(csvDelimiter(text.replace(/^\uFEFF/, '')));
  const out: string[] = [];
  let col = -1;
  let header: string[] | undefined;
  for (const line of text.replace(/^\uFEFF/, '').split('\n')) {
    const rec = splitter.push(line);
    if (!rec) continue;
    if (rec.fields.length === 1 && rec.fields[0]!.trim() === '') continue;
    if (!header) {
      header = rec.fields;
      col = findColumn(header, SYMBOL_COLUMNS);
      if (col < 0) {
        throw new InputError(
          `${path}: no "symbol" or "ticker" column; columns found: ${header.map((h) => JSON.stringify(h.trim())).join(', ')}`,
        );
      }
      continue;
    }
    try {
      out.push(validateSymbol((rec.fields[col] ?? '').trim()));
    } catch (err) {
      throw located(path, `${rec.line}`, err);
    }
  }
  if (splitter.unterminated) throw new InputError(`${path}:${splitter.currentLine}: unterminated quoted field`);
  return out;
}

function parseParquet(pl: Polars, path: string): string[] {
  let columns: string[];
  try {
    columns = pl.scanParquet(path).columns;
  } catch (err) {
    throw new InputError(`${path}: not a readable Parquet file (${(err as Error).message})`, { cause: err });
  }
  const col = findColumn(columns, SYMBOL_COLUMNS);
  if (col < 0) {
    throw new InputError(
      `${path}: no "symbol" or "ticker" column; columns found: ${columns.map((c) => JSON.stringify(c)).join(', ')}`,
    );
  }
  const name = columns[col]!;
  const series = pl.readParquet(path, { columns: [name] }).getColumn(name);
  const variant = series.dtype.variant;
  if (variant !== 'String' && variant !== 'Utf8' && variant !== 'Categorical') {
    throw new InputError(`${path}: column "${name}" must hold strings (Utf8), found ${variant}`);
  }
  const values = (variant === 'Categorical' ? series.cast(pl.Utf8) : series).toArray() as (string | null)[];
  const out: string[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) {
    try {
      out[i] = validateSymbol(values[i]);
    } catch (err) {
      throw located(path, `row ${i + 1}`, err);
    }
  }
  return out;
}

/**
 * Reads a universe file: `.txt` (one symbol a line, blank lines and `#` comments ignored), `.csv`
 * (a `symbol` or `ticker` column, case-insensitive) or `.parquet` (a `symbol`/`ticker` string column).
 *
 * @example
 * const { symbols, duplicates } = await readUniverse('universe.txt');
 * if (duplicates.length) log.warn({ duplicates }, 'duplicate symbols ignored');
 * @throws {InputError} missing file, unknown extension, missing column, invalid symbol (with the
 *   file and line/row), or an empty universe.
 */
export async function readUniverse(path: string): Promise<Universe> {
  const source = resolve(path);
  try {
    const st = await stat(source);
    if (!st.isFile()) throw new InputError(`universe file is not a regular file: ${path}`);
  } catch (err) {
    if (err instanceof InputError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new InputError(`universe file not found: ${path}`);
    throw new InputError(`cannot read universe file ${path}: ${(err as Error).message}`, { cause: err });
  }
  const ext = extname(source).toLowerCase();
  let format: UniverseFormat;
  let raw: string[];
  if (ext === '.parquet' || ext === '.pq') {
    format = 'parquet';
    // Polars is loaded for a Parquet universe only: this module also holds the CSV reader of manifests.
    raw = parseParquet(await polars(), path);
  } else if (ext === '.csv') {
    format = 'csv';
    raw = parseCsv(path, decodeUniverseText(await readFile(source)));
  } else if (ext === '.txt' || ext === '') {
    format = 'txt';
    raw = parseTxt(path, decodeUniverseText(await readFile(source)));
  } else {
    throw new InputError(`unsupported universe file type "${ext}" (expected .txt, .csv or .parquet): ${path}`);
  }
  if (raw.length === 0) throw new InputError(`universe file has no symbols: ${path}`);
  // Symbols are ASCII, so UTF-16 order (the default sort) is byte order, as other processes and
  // the Python tools sort them.
  raw.sort();
  const symbols: string[] = [];
  const duplicates: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (i > 0 && raw[i] === raw[i - 1]) {
      if (duplicates[duplicates.length - 1] !== raw[i]) duplicates.push(raw[i]!);
    } else symbols.push(raw[i]!);
  }
  return { symbols, duplicates, source, format };
}

/**
 * Position of each symbol in a sorted, de-duplicated universe: the `index` for `stridePartition`.
 *
 * @example
 * const idx = universeIndex(symbols);
 * symbols$.pipe(stridePartition(4, (s) => idx.get(s)!));
 * @throws {RangeError} if `symbols` holds a duplicate (pass `readUniverse(...).symbols`).
 */
export function universeIndex(symbols: readonly string[]): Map<string, number> {
  const map = new Map<string, number>();
  symbols.forEach((s, i) => {
    if (map.has(s)) throw new RangeError(`universeIndex: duplicate symbol ${JSON.stringify(s)} at ${i}`);
    map.set(s, i);
  });
  return map;
}
