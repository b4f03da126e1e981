/**
 * The frames of a window fetched as row objects (a client without `tickColumns$`), built with
 * Polars on this thread. Apart from malformed-rows.ts, whose checks every ingest uses, so that the
 * ingest stage loads Polars only when a window takes this path (see windowFiles in ingest-stage.ts).
 */
import type pl from 'nodejs-polars';
import { DataError, InputError } from '../errors.js';
import { quotesFrame, tradesFrame } from '../sinks/parquet.js';
import type { Quote, Trade } from '../types.js';

/** Both frames of a window; a row that cannot be stored becomes a {@link DataError} naming symbol, event and field. */
export function windowFrames(symbol: string, eventId: string, trades: readonly Trade[], quotes: readonly Quote[]): { trades: pl.DataFrame; quotes: pl.DataFrame } {
  const build = <T>(what: string, make: () => T): T => {
    try {
      return make();
    } catch (err) {
      // The frame builders name the field and row ("sip_timestamp: value does not fit in Int64 at row 3, got …").
      if (err instanceof InputError) throw new DataError(`${symbol} ${eventId}: ${what} ${err.message}`, { cause: err });
      throw err;
    }
  };
  return { trades: build('trades', () => tradesFrame(trades as Trade[])), quotes: build('quotes', () => quotesFrame(quotes as Quote[])) };
}
