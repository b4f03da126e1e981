/** Shapes of the Polygon.io (Massive) REST API records tickpipe reads. */

/** One aggregate bar (v2 aggs). `t` is Unix ms at the window start. */
export interface Bar {
  readonly t: number;
  readonly o: number;
  readonly h: number;
  readonly l: number;
  readonly c: number;
  readonly v: number;
  readonly vw: number;
  readonly n: number;
}

/**
 * One trade (v3 trades). The `*_timestamp` fields are Unix nanoseconds and exceed 2^53, so they are
 * bigint: never a rounded JS number.
 */
export interface Trade {
  readonly conditions?: number[];
  readonly correction?: number;
  readonly exchange: number;
  readonly id: string;
  readonly participant_timestamp: bigint;
  readonly price: number;
  readonly sequence_number: number;
  readonly sip_timestamp: bigint;
  readonly size: number;
  readonly tape: number;
  readonly trf_id?: number;
  readonly trf_timestamp?: bigint;
}

/** One NBBO quote (v3 quotes). Nanosecond fields are bigint, as in {@link Trade}. */
export interface Quote {
  readonly ask_exchange: number;
  readonly ask_price: number;
  readonly ask_size: number;
  readonly bid_exchange: number;
  readonly bid_price: number;
  readonly bid_size: number;
  readonly conditions?: number[];
  readonly indicators?: number[];
  readonly participant_timestamp: bigint;
  readonly sequence_number: number;
  readonly sip_timestamp: bigint;
  readonly tape: number;
  readonly trf_timestamp?: bigint;
}

/** One page of a paged v2/v3 endpoint, as the client hands it on. */
export interface Page<T> {
  readonly results: T[];
  /** Absolute URL of the next page as the server sent it (never contains the key), or undefined. */
  readonly nextUrl: string | undefined;
  readonly requestId: string | undefined;
}

export type Session = 'PM' | 'RTH' | 'AH';

/** One detected event, as stored in shards and the manifest. */
export interface EventRow {
  readonly symbol: string;
  readonly event_type: string;
  /** UTC, Unix ms. */
  readonly timestamp: number;
  readonly session: Session;
  readonly price: number;
  readonly volume: number;
  readonly vwap: number;
  /** The detector's own measure (drop %, volume ratio, …). */
  readonly measure: number;
}
