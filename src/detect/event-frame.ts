/** The event table as a Polars DataFrame: the schema of shards and of the events manifest. */
import pl from 'nodejs-polars';
import { InputError } from '../errors.js';
import type { EventRow, Session } from '../types.js';

/**
 * Column order and types of every event frame. `timestamp` is Datetime(ms, UTC): Parquet stores it
 * as TIMESTAMP(MILLIS, UTC), which Polars, DuckDB and pyarrow read as a UTC timestamp instead of a
 * bare integer. In JS read it with {@link eventsFromDataFrame} (or cast to Int64 and `toArray()`),
 * since `toArray()` on the Datetime column yields Date objects and `get(i)` throws.
 */
export const EVENT_SCHEMA = {
  symbol: pl.Utf8,
  event_type: pl.Utf8,
  timestamp: pl.Datetime('ms', 'UTC'),
  session: pl.Utf8,
  price: pl.Float64,
  volume: pl.Float64,
  vwap: pl.Float64,
  measure: pl.Float64,
} as const;

/** The column names of {@link EVENT_SCHEMA}, in order. */
export const EVENT_COLUMNS = Object.keys(EVENT_SCHEMA) as readonly (keyof typeof EVENT_SCHEMA)[];

function floats(rows: readonly EventRow[], key: 'price' | 'volume' | 'vwap' | 'measure' | 'timestamp'): Float64Array {
  const a = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) a[i] = rows[i]![key];
  return a;
}

/**
 * Events as a DataFrame with {@link EVENT_SCHEMA} (zero rows give an empty frame of the same schema).
 * Throws {@link InputError} for a timestamp that is not whole UTC milliseconds.
 */
export function eventsToDataFrame(rows: readonly EventRow[]): pl.DataFrame {
  const ts = floats(rows, 'timestamp');
  for (let i = 0; i < ts.length; i++) {
    if (!Number.isSafeInteger(ts[i])) {
      throw new InputError(`event ${i} (${rows[i]!.symbol} ${rows[i]!.event_type}) has timestamp ${String(rows[i]!.timestamp)}; expected whole UTC ms`);
    }
  }
  return pl.DataFrame([
    pl.Series('symbol', rows.map((r) => r.symbol), pl.Utf8),
    pl.Series('event_type', rows.map((r) => r.event_type), pl.Utf8),
    // Float64 → Int64 → Datetime is exact below 2^53 and avoids bigint (a bigint[] becomes UInt64).
    pl.Series('timestamp', ts).cast(pl.Int64).cast(EVENT_SCHEMA.timestamp),
    pl.Series('session', rows.map((r) => r.session), pl.Utf8),
    pl.Series('price', floats(rows, 'price')),
    pl.Series('volume', floats(rows, 'volume')),
    pl.Series('vwap', floats(rows, 'vwap')),
    pl.Series('measure', floats(rows, 'measure')),
  ]);
}

/** An empty frame with {@link EVENT_SCHEMA}. */
export function emptyEventsDataFrame(): pl.DataFrame {
  return eventsToDataFrame([]);
}

/**
 * Rows of an event frame (e.g. read back from Parquet). `timestamp` may be Datetime (any unit and
 * zone) or an integer of UTC ms. Throws {@link InputError} naming a missing column.
 */
export function eventsFromDataFrame(df: pl.DataFrame): EventRow[] {
  const names = new Set(df.columns);
  for (const c of EVENT_COLUMNS) {
    if (!names.has(c)) throw new InputError(`event frame has no column ${JSON.stringify(c)}; columns: ${df.columns.join(', ')}`);
  }
  const ts = df.getColumn('timestamp');
  const ms = (ts.dtype.variant === 'Datetime' ? ts.cast(pl.Datetime('ms', 'UTC')).cast(pl.Int64) : ts.cast(pl.Int64)).toArray() as unknown[];
  const str = (c: string): string[] => df.getColumn(c).cast(pl.Utf8).toArray() as string[];
  const num = (c: string): number[] => (df.getColumn(c).cast(pl.Float64).toArray() as (number | null)[]).map((x) => x ?? Number.NaN);
  const symbol = str('symbol');
  const eventType = str('event_type');
  const session = str('session');
  const price = num('price');
  const volume = num('volume');
  const vwap = num('vwap');
  const measure = num('measure');
  const out: EventRow[] = new Array(df.height);
  for (let i = 0; i < df.height; i++) {
    out[i] = {
      symbol: symbol[i]!,
      event_type: eventType[i]!,
      // Typed as bigint[] but returned as numbers at runtime in 0.24.1; Number() is right for both.
      timestamp: Number(ms[i]),
      session: session[i] as Session,
      price: price[i]!,
      volume: volume[i]!,
      vwap: vwap[i]!,
      measure: measure[i]!,
    };
  }
  return out;
}
