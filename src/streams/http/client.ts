/**
 * The layers put together (see layer.ts for the shape, docs/ARCHITECTURE.md for the picture). One
 * request is
 *
 *   retry( token from the bucket → try ),  try = metrics → rate-limit feedback → auth → decode → status → transport
 *
 * and a listing is `paginate$` over such requests. The Polygon client (polygon-client.ts) only
 * builds targets and decoders on top of this.
 */
import { Observable } from 'rxjs';
import { AbortedError } from '../../errors.js';
import type { RateLimiter } from '../../operators/token-bucket.js';
import type { RetryBackoffOptions } from '../../operators/retry-backoff.js';
import { ApiKeyAuth, type AuthMode } from './auth.js';
import { compose, type Dispatch, type HttpLogger } from './layer.js';
import { HttpMetrics, meteringLayer } from './metrics.js';
import { paginate$, type ListingSpec } from './pagination.js';
import { gateByBucket, rateLimitFeedback } from './rate-limit.js';
import { retryLayer } from './retry.js';
import { decodeLayer, statusLayer } from './status.js';
import { PoolTransport, type TransportOptions } from './transport.js';

export interface HttpClientOptions extends TransportOptions {
  /** `https://api.polygon.io`: scheme, host and port only. */
  readonly origin: string;
  readonly apiKey: string;
  readonly auth: AuthMode;
  readonly bucket: RateLimiter | undefined;
  readonly retry: RetryBackoffOptions | false;
  readonly logger: HttpLogger | undefined;
}

const ACCEPT_JSON = Object.freeze({ accept: 'application/json' });
const unredacted = (text: string): string => text;

/** GETs through every layer; each method is cold (nothing is sent before subscription). */
export class HttpClient {
  readonly origin: string;
  readonly metrics = new HttpMetrics();
  readonly #transport: PoolTransport;
  readonly #auth: ApiKeyAuth;
  readonly #dispatch: Dispatch;
  readonly #bucket: RateLimiter | undefined;
  readonly #retry: RetryBackoffOptions | false;
  readonly #logger: HttpLogger | undefined;

  constructor(o: HttpClientOptions) {
    this.origin = o.origin;
    this.#transport = new PoolTransport(o.origin, o);
    this.#auth = new ApiKeyAuth(o.apiKey, o.auth);
    this.#bucket = o.bucket;
    this.#retry = o.retry;
    this.#logger = o.logger;
    this.#dispatch = compose(
      this.#transport.dispatch,
      meteringLayer(this.metrics, o.logger),
      rateLimitFeedback(o.bucket, this.metrics, o.logger),
      this.#auth.layer,
      decodeLayer,
      statusLayer,
    );
  }

  /** The client's retry options (`false`: no retries). */
  get retry(): RetryBackoffOptions | false {
    return this.#retry;
  }

  /** `text` without the key (the one scrubber, knowing this client's key). */
  scrub(text: string): string {
    return this.#auth.scrub(text);
  }

  /**
   * One GET of `target` (path and query, no key): waits for a token, tries, retries as `retry`
   * says, and emits `decode(body)` of the 2xx reply once. Unsubscribing aborts the try in flight.
   */
  get$<T>(target: string, label: string, decode: (body: Buffer, status: number) => T | Promise<T>, retry: RetryBackoffOptions | false = this.#retry): Observable<T> {
    return gateByBucket(this.#bucket, (onSent) => this.#try$<T>(target, label, decode, onSent)).pipe(retryLayer<T>(retry, this.#bucket !== undefined, label, this.metrics, this.#logger));
  }

  /** A paged listing whose every page is a {@link get$} (see pagination.ts). */
  listing$<B, P>(spec: Omit<ListingSpec<B, P>, 'origin' | 'onPage'>): Observable<P> {
    return paginate$<B, P>({ ...spec, origin: this.origin, onPage: () => this.metrics.pages++ });
  }

  /** Closes the pool after in-flight requests finish; later tries fail with AbortedError. */
  close(): Promise<void> {
    return this.#transport.close();
  }

  #try$<T>(target: string, label: string, decode: (body: Buffer, status: number) => T | Promise<T>, onSent?: () => void): Observable<T> {
    return new Observable<T>((subscriber) => {
      if (this.#transport.closed) {
        subscriber.error(new AbortedError(`GET ${label}: client closed`));
        return;
      }
      const ac = new AbortController();
      let settled = false;
      this.#dispatch({ target, label, signal: ac.signal, headers: ACCEPT_JSON, decode, redact: unredacted, onSent }).then(
        (res) => {
          settled = true;
          subscriber.next(res.value as T);
          subscriber.complete();
        },
        (e: unknown) => {
          settled = true;
          subscriber.error(e);
        },
      );
      return () => {
        if (!settled) ac.abort();
      };
    });
  }
}
