/**
 * Event type and timestamp of a window, for the columns every dataset row carries. They are read
 * back from the canonical event ID (`{symbol}_{event_type}_{YYYYMMDD_HHMMSS}_{hash8}`) and checked
 * by recomputing the hash, so compaction needs neither the manifest nor a network. An ID whose hash
 * does not match whole seconds (an adopted event with sub-second time) is looked up in
 * `events/events.parquet` (its `event_id` column).
 */
import { existsSync } from 'node:fs';
import { polarsSync } from '../polars.js';
import { InputError } from '../errors.js';
import { canonicalEventId } from '../streams/event-id.js';

export interface EventMeta {
  readonly type: string;
  /** UTC milliseconds. */
  readonly ms: number;
}

const ID_TAIL_RE = /^(.+)_(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})_([0-9a-f]{8})$/;

/** Type and time of a canonical event ID of `symbol`, or undefined when the ID does not verify. */
export function parseEventId(symbol: string, id: string): EventMeta | undefined {
  if (!id.startsWith(`${symbol}_`)) return undefined;
  const m = ID_TAIL_RE.exec(id.slice(symbol.length + 1));
  if (!m) return undefined;
  const [, type, y, mo, d, h, mi, s] = m as unknown as [string, string, string, string, string, string, string, string];
  const date = new Date(0);
  date.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  date.setUTCHours(Number(h), Number(mi), Number(s), 0);
  const ms = date.getTime();
  return canonicalEventId(symbol, type, ms) === id ? { type, ms } : undefined;
}

/** Resolves event metadata, falling back to the manifest (loaded once, only when needed). */
export class EventMetaResolver {
  readonly #manifestPath: string;
  #manifest: Map<string, EventMeta> | undefined;

  constructor(manifestPath: string) {
    this.#manifestPath = manifestPath;
  }

  get(symbol: string, id: string): EventMeta {
    const parsed = parseEventId(symbol, id);
    if (parsed) return parsed;
    const found = this.#loadManifest().get(id);
    if (!found) {
      throw new InputError(`event ${id} of ${symbol}: not a canonical event ID and not in ${this.#manifestPath} (run tickpipe consolidate first)`);
    }
    return found;
  }

  #loadManifest(): Map<string, EventMeta> {
    if (this.#manifest) return this.#manifest;
    const map = new Map<string, EventMeta>();
    if (existsSync(this.#manifestPath)) {
      // Loaded here, the first time an event ID is not canonical: a compaction of canonical IDs
      // never loads Polars for this.
      const pl = polarsSync();
      const df = pl.readParquet(this.#manifestPath);
      if (df.columns.includes('event_id')) {
        const ids = df.getColumn('event_id').toArray() as string[];
        const types = df.getColumn('event_type').toArray() as string[];
        const ms = df.getColumn('timestamp').cast(pl.Int64).toArray() as Array<number | bigint>;
        ids.forEach((id, i) => map.set(id, { type: types[i]!, ms: Number(ms[i]) }));
      }
    }
    this.#manifest = map;
    return map;
  }
}
