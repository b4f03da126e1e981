/**
 * {@link TickColumns} (filled by the byte-level scanner) → a Polars DataFrame with exactly the
 * schema, column order and values of {@link tradesFrame}/{@link quotesFrame}: the same Parquet
 * bytes for the same server data, without a JS object per row. Int64 columns go to Polars straight
 * from their BigInt64Array (exact), numbers from Float64Array/Int32Array.
 */
import pl from 'nodejs-polars';
import { fieldId, type FieldName, type TickColumns } from '../streams/column-scanner.js';
import { QUOTES_SCHEMA, TRADES_SCHEMA } from './parquet.js';

/** Up to this many rows a list column is built from arrays, above it from encoded strings. */
const SMALL_LIST_ROWS = 10_000;

type Built = { readonly series: pl.Series[]; readonly expr: pl.Expr };

function countPresent(p: Uint8Array, n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) c += p[i]!;
  return c;
}

function maskSeries(name: string, p: Uint8Array, n: number): pl.Series {
  const mask = new Array<boolean>(n);
  for (let i = 0; i < n; i++) mask[i] = p[i] === 1;
  return pl.Series(`__mask_${name}`, mask, pl.Bool);
}

function column(cols: TickColumns, name: FieldName, dtype: pl.DataType): Built {
  const f = fieldId(name);
  const n = cols.length;
  const present = cols.present[f]!;
  const count = countPresent(present, n);
  const full = count === n;
  const raw = `__raw_${name}`;
  // A field no row has (quotes' conditions, indicators, trf_timestamp): one typed null literal.
  if (count === 0) return { series: [], expr: pl.lit(null).cast(dtype).alias(name) };
  let s: pl.Series;
  let expr: pl.Expr;
  if (dtype.equals(pl.Int64)) {
    // The typings do not list BigInt64Array, but the runtime ingests it exactly as Int64.
    s = pl.Series(raw, cols.i64[f]!.slice(0, n) as unknown as number[]);
    expr = pl.col(raw);
    if (!full) {
      const m = maskSeries(name, present, n);
      return { series: [s, m], expr: pl.when(pl.col(m.name)).then(expr).otherwise(pl.lit(null).cast(pl.Int64)).alias(name) };
    }
    return { series: [s], expr: expr.alias(name) };
  }
  if (dtype.equals(pl.Float64) || dtype.equals(pl.Int32)) {
    const src = dtype.equals(pl.Float64) ? cols.f64[f]! : cols.i32[f]!;
    // Typed arrays go to Polars as one buffer copy, not element by element.
    if (full) return { series: [pl.Series(raw, src.slice(0, n) as unknown as number[], dtype)], expr: pl.col(raw).alias(name) };
    const values: (number | null)[] = new Array(n);
    for (let i = 0; i < n; i++) values[i] = present[i] === 1 ? src[i]! : null;
    s = pl.Series(raw, values, dtype);
    return { series: [s], expr: pl.col(raw).cast(dtype).alias(name) };
  }
  const strs = cols.str[f]!;
  const values: (string | null)[] = new Array(n);
  for (let i = 0; i < n; i++) values[i] = present[i] === 1 ? strs[i]! : null;
  if (!dtype.equals(pl.String) && n <= SMALL_LIST_ROWS) {
    // Small frames: the split expression below has a fixed cost of tens of ms per frame, more than
    // building the few arrays (the row path avoids it the same way, through readRecords).
    const lists: (number[] | null)[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      lists[i] = v === null || v === undefined ? null : v === '' ? [] : v.split(',').map(Number);
    }
    return { series: [pl.Series(raw, lists, pl.List(pl.Int32))], expr: pl.col(raw).alias(name) };
  }
  s = pl.Series(raw, values, pl.String);
  if (dtype.equals(pl.String)) return { series: [s], expr: pl.col(raw).alias(name) };
  // List(Int32) from "1,2,3"; '' is an empty list, null stays null (as the row path encodes it).
  const split = pl.col(raw).str.split(',').cast(pl.List(pl.Int32));
  return { series: [s], expr: pl.when(pl.col(raw).eq(pl.lit(''))).then(split.lst.head(0)).otherwise(split).alias(name) };
}

/**
 * Below this many rows one `readRecords` call beats a dozen Series plus a select (each Polars call
 * has a fixed cost of milliseconds): the few row records are cheaper than the calls. Dense windows,
 * where the per-row cost matters, stay on the column path.
 */
const SMALL_FRAME_ROWS = 2_000;

function smallFrame(cols: TickColumns, names: readonly FieldName[], schema: Record<string, pl.DataType>): pl.DataFrame {
  const n = cols.length;
  const records: Record<string, unknown>[] = new Array(n);
  for (let i = 0; i < n; i++) records[i] = {};
  for (const name of names) {
    const f = fieldId(name);
    const present = cols.present[f]!;
    const dtype = schema[name]!;
    const src: ArrayLike<unknown> = dtype.equals(pl.Int64) ? cols.i64[f]! : dtype.equals(pl.Float64) ? cols.f64[f]! : dtype.equals(pl.Int32) ? cols.i32[f]! : cols.str[f]!;
    const list = !dtype.equals(pl.Int64) && !dtype.equals(pl.Float64) && !dtype.equals(pl.Int32) && !dtype.equals(pl.String);
    for (let i = 0; i < n; i++) {
      if (present[i] !== 1) records[i]![name] = null;
      else if (list) {
        const v = src[i] as string;
        records[i]![name] = v === '' ? [] : v.split(',').map(Number);
      } else records[i]![name] = src[i];
    }
  }
  return pl.readRecords(records, { schema });
}

/** The window's columns as a DataFrame with TRADES_SCHEMA or QUOTES_SCHEMA. */
export function columnsFrame(cols: TickColumns): pl.DataFrame {
  const schema = (cols.kind === 'trades' ? TRADES_SCHEMA : QUOTES_SCHEMA) as Record<string, pl.DataType>;
  const names = Object.keys(schema) as FieldName[];
  if (cols.length === 0) return pl.readRecords([], { schema });
  if (cols.length <= SMALL_FRAME_ROWS) return smallFrame(cols, names, schema);
  const built = names.map((n) => column(cols, n, schema[n]!));
  return pl.DataFrame(built.flatMap((b) => b.series)).select(...built.map((b) => b.expr));
}
