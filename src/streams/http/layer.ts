/**
 * The shape every layer of the HTTP client shares, after undici's interceptors: a layer takes the
 * next `dispatch` and returns one of its own, which may change the request on the way down and the
 * reply or the error on the way up. One try of one GET goes down the chain
 *
 *   metrics → rate-limit feedback → auth → decode → status → transport
 *
 * and the per-request layers (token from the bucket, retry) and pagination sit above it as RxJS
 * operators (see docs/ARCHITECTURE.md, "HTTP client layers").
 */

/** The logger the client's layers write to (a subset of pino's). */
export interface HttpLogger {
  warn?(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
}

/** One try of one GET. */
export interface HttpRequest {
  /** Path and query relative to the origin, never with the key (the auth layer adds it on the wire only). */
  readonly target: string;
  /** `/base/v3/trades/AAPL`: the path without query, the only form used in messages and logs. */
  readonly label: string;
  /** Aborts the try (unsubscribing from it). */
  readonly signal: AbortSignal;
  /** Headers to send; the auth layer may add `authorization`. */
  readonly headers: Readonly<Record<string, string>>;
  /** What a 2xx body (with its status) means: its bytes parsed, checked or scanned. A thrown error fails the try. */
  readonly decode: (body: Buffer, status: number) => unknown;
  /** Removes the key from text read off the wire before it is cut short for a message (set by auth). */
  readonly redact: (text: string) => string;
  /** Told the byte count of each response body read (set by metrics). */
  readonly onBodyBytes?: ((bytes: number) => void) | undefined;
  /** Told once, synchronously, when the request is about to be written to its socket (set for the bucket by the rate-limit layer). */
  readonly onSent?: (() => void) | undefined;
}

/** A response as the transport read it, and after the decode layer, its meaning. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
  /** The decoded body (set by the decode layer on a 2xx). */
  readonly value?: unknown;
}

export type Dispatch = (req: HttpRequest) => Promise<HttpResponse>;

/** A layer: wraps the next dispatch. */
export type Interceptor = (next: Dispatch) => Dispatch;

/** `compose(transport, a, b, c)` dispatches through a, then b, then c, then the transport. */
export function compose(transport: Dispatch, ...layers: readonly Interceptor[]): Dispatch {
  return layers.reduceRight<Dispatch>((next, layer) => layer(next), transport);
}
