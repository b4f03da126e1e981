/**
 * The Polygon.io (Massive) REST client: the API's endpoints, targets and decoders on top of the
 * layered HTTP client in ./http/ (transport, auth, status mapping, rate-limit feedback, retry,
 * metrics, pagination; docs/ARCHITECTURE.md, "HTTP client layers").
 */
import { defer, lastValueFrom, Observable } from 'rxjs';
import { NetworkError, ProtocolError, TickpipeError, TimeoutError } from '../errors.js';
import type { Bar, Page, Quote, Trade } from '../types.js';
import { TokenBucket } from '../operators/token-bucket.js';
import type { RetryBackoffOptions } from '../operators/retry-backoff.js';
import { losslessParse } from '../codec/lossless-json.js';
import { REDACTED, redactSecrets } from '../secrets.js';
import { TickColumns, localTarget, type PageHeader, type PageTarget } from './column-scanner.js';
import { HttpClient } from './http/client.js';
import type { HttpLogger } from './http/layer.js';
import type { HttpMetricsSnapshot } from './http/metrics.js';
import { checkPageBody, type PageEndpointKind } from './http/page-status.js';
import { optionError } from '../options.js';

export type { HttpMetricsSnapshot, LatencySnapshot } from './http/metrics.js';
export { parseRetryAfter } from './http/status.js';
/** Snapshot returned by {@link PolygonClient.metrics}. */
export type ClientMetrics = HttpMetricsSnapshot;

/** The subset of a pino logger the client uses. */
export type PolygonLogger = HttpLogger;

export interface PolygonClientOptions {
  /** API key. Required, non-empty. Added to the request only at send time. */
  readonly apiKey: string;
  /**
   * API origin (optionally with a path prefix).
   * @default 'https://api.polygon.io'
   */
  readonly baseUrl?: string;
  /** The process's one shared limiter; every try (retries included) waits for a token. */
  readonly bucket?: TokenBucket;
  /**
   * Retry layer around each single request; `false` disables it.
   * @default {} (retryBackoff defaults: 8 tries, 200 ms base, 30 s cap)
   */
  readonly retry?: RetryBackoffOptions | false;
  /**
   * Keep-alive connections to the origin.
   * @default 64
   */
  readonly connections?: number;
  /**
   * Deadline for the response headers.
   * @default 30_000
   */
  readonly headersTimeoutMs?: number;
  /**
   * Longest silence while the body streams; a stalled body ends as TimeoutError.
   * @default 30_000
   */
  readonly bodyTimeoutMs?: number;
  /**
   * How the key is sent: `apiKey` query parameter (like the JS clients) or `Authorization: Bearer`.
   * @default 'query'
   */
  readonly auth?: 'query' | 'bearer';
  /** pino-like logger; gets paths without query strings, never the key. */
  readonly logger?: PolygonLogger;
}

export type QueryValue = string | number | bigint | boolean;
export type Query = Readonly<Record<string, QueryValue | undefined>>;

export interface AggregatesOptions {
  /** @default true */
  readonly adjusted?: boolean;
  /** @default 'asc' */
  readonly sort?: 'asc' | 'desc';
  /** Base bars per page. @default 50000 */
  readonly limit?: number;
}

export interface TickRangeOptions {
  /** Inclusive lower bound, Unix ns. */
  readonly gte: bigint;
  /** Inclusive upper bound, Unix ns. */
  readonly lte: bigint;
  /** @default 'asc' (the API's own default is desc) */
  readonly order?: 'asc' | 'desc';
  /** Rows per page. @default 50000 */
  readonly limit?: number;
}

function bad(name: string, expected: string, v: unknown): never {
  // A bad baseUrl may carry `?apiKey=…`: whatever is shown goes through the one scrubber.
  const shown = name === 'apiKey' ? (typeof v === 'string' ? `<${v.length} chars>` : String(v)) : redactSecrets(typeof v === 'string' ? JSON.stringify(v) : String(v));
  throw optionError('PolygonClient', name, expected, v, `${shown} (${typeof v})`);
}

function positiveInt(name: string, v: unknown, dflt: number): number {
  const x = v ?? dflt;
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 1) bad(name, 'an integer >= 1', x);
  return x;
}

/** Which page rule applies to `path` (see page-status.ts); undefined for other endpoints. */
function pageKindOf(path: string): PageEndpointKind | undefined {
  if (path.startsWith('/v2/aggs/')) return 'aggregates';
  if (path.startsWith('/v3/')) return 'v3';
  return undefined;
}

function rowsOf<T>(body: any, label: string): T[] {
  const r = body?.results;
  if (r === undefined || r === null) return [];
  if (!Array.isArray(r)) throw new ProtocolError(`${label}: "results" is not an array`);
  return r as T[];
}

/** A JSON decoder for 2xx bodies of `label`; with `kind`, a 200 that is not data fails the try (retried like a truncated body). */
function jsonDecoder(label: string, kind: PageEndpointKind | undefined): (body: Buffer, status: number) => any {
  return (body, status) => {
    const parsed = losslessParse(body.toString('utf8'), { context: `GET ${label}`, status });
    const problem = kind === undefined ? undefined : checkPageBody(parsed, kind, `GET ${label}`);
    if (problem) throw problem;
    return parsed;
  };
}

/** The options after validation: the parts the layers get. */
interface CheckedOptions {
  readonly origin: string;
  readonly basePath: string;
  readonly auth: 'query' | 'bearer';
  readonly connections: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly retry: RetryBackoffOptions | false;
}

function checkOptions(options: PolygonClientOptions): CheckedOptions {
  if (options === null || typeof options !== 'object') bad('options', 'an object', options);
  const { apiKey } = options;
  if (typeof apiKey !== 'string' || apiKey.trim() === '') bad('apiKey', 'a non-empty string', apiKey);
  const baseUrl = options.baseUrl ?? 'https://api.polygon.io';
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    bad('baseUrl', 'an absolute http(s) URL', baseUrl);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.search || u.hash || u.username || u.password) {
    bad('baseUrl', 'an http(s) URL without query, fragment or credentials', baseUrl);
  }
  const auth = options.auth ?? 'query';
  if (auth !== 'query' && auth !== 'bearer') bad('auth', "'query' or 'bearer'", auth);
  if (options.bucket !== undefined && !(options.bucket instanceof TokenBucket)) bad('bucket', 'a TokenBucket', options.bucket);
  const connections = positiveInt('connections', options.connections, 64);
  const headersTimeoutMs = positiveInt('headersTimeoutMs', options.headersTimeoutMs, 30_000);
  const bodyTimeoutMs = positiveInt('bodyTimeoutMs', options.bodyTimeoutMs, 30_000);
  const retry = options.retry ?? {};
  if (retry !== false && (retry === null || typeof retry !== 'object')) bad('retry', 'an options object or false', retry);
  if (options.logger !== undefined && (options.logger === null || typeof options.logger !== 'object')) {
    bad('logger', 'a pino-like object', options.logger);
  }
  return { origin: u.origin, basePath: u.pathname.replace(/\/+$/, ''), auth, connections, headersTimeoutMs, bodyTimeoutMs, retry };
}

/**
 * Polygon.io (Massive) REST client: the endpoints and their decoders over the layered HTTP client
 * (./http/): one keep-alive undici Pool, every try gated by the shared bucket, each single request
 * wrapped by retryBackoff, and paged listings as lazy Observables.
 *
 * @example
 * const client = new PolygonClient({ apiKey, bucket: new TokenBucket({ rate: 50 }) });
 * client.trades$('AAPL', { gte, lte, limit: 50_000 }).subscribe((page) => write(page.results));
 */
export class PolygonClient {
  readonly baseUrl: string;
  readonly origin: string;
  readonly auth: 'query' | 'bearer';
  readonly bucket: TokenBucket | undefined;
  readonly connections: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;

  // Private: the key lives in the auth layer inside, which neither util.inspect nor JSON.stringify shows.
  readonly #http: HttpClient;
  readonly #basePath: string;

  constructor(options: PolygonClientOptions) {
    const o = checkOptions(options);
    this.baseUrl = options.baseUrl ?? 'https://api.polygon.io';
    this.origin = o.origin;
    this.#basePath = o.basePath;
    this.auth = o.auth;
    this.bucket = options.bucket;
    this.connections = o.connections;
    this.headersTimeoutMs = o.headersTimeoutMs;
    this.bodyTimeoutMs = o.bodyTimeoutMs;
    this.#http = new HttpClient({ ...o, apiKey: options.apiKey, bucket: options.bucket, logger: options.logger });
  }

  /** Snapshot of the request counters and latency histogram. */
  metrics(): HttpMetricsSnapshot {
    return this.#http.metrics.snapshot();
  }

  /**
   * One cheap authenticated request (`/v3/reference/tickers?ticker=…&limit=1`, open to every plan)
   * so a refused key (AuthError) or an unreachable host (NetworkError) shows before any work
   * starts. Transient failures get at most 3 tries.
   */
  async preflight(ticker = 'AAPL'): Promise<void> {
    checkTicker(ticker);
    const label = `${this.#basePath}/v3/reference/tickers`;
    const target = label + toSearch({ ticker, limit: 1 });
    const r = this.#http.retry;
    try {
      await lastValueFrom(this.#http.get$(target, label, jsonDecoder(label, undefined), r === false ? false : { ...r, maxAttempts: Math.min(3, r.maxAttempts ?? 3) }));
    } catch (e) {
      // "GET /v3/reference/tickers: ECONNREFUSED" does not say which host: name the origin.
      if (e instanceof NetworkError) throw new NetworkError(`cannot reach the API at ${this.origin}: ${e.message}`, { cause: e });
      if (e instanceof TimeoutError) throw new TimeoutError(`no answer from the API at ${this.origin}: ${e.message}`, { cause: e });
      throw e;
    }
  }

  /** Closes the pool after in-flight requests finish. */
  async close(): Promise<void> {
    await this.#http.close();
  }

  /**
   * One GET of `path` (relative to baseUrl) with `query`, through the bucket and the retry layer.
   * Emits the losslessly parsed body once. Cold: nothing is sent before subscription, and
   * unsubscribing aborts the request.
   */
  request$(path: string, query: Query = {}): Observable<any> {
    const label = this.#basePath + path;
    return this.#http.get$(label + toSearch(query), label, jsonDecoder(label, undefined));
  }

  /**
   * Pages of a v2/v3 listing, following `next_url` lazily: the next page is requested only after the
   * previous one was emitted and only while subscribed. Each page is retried on its own.
   * `parse` receives the whole parsed body and returns its rows.
   * A `next_url` repeating a cursor of this listing errors with PaginationLoopError; one pointing to
   * another origin errors with ProtocolError (the key is never sent there). Both come after the
   * page that carried it.
   */
  pages$<T>(path: string, query: Query, parse: (raw: any) => T[]): Observable<Page<T>> {
    if (typeof parse !== 'function') bad('parse', 'a function', parse);
    const label = this.#basePath + path;
    // Inside the retried unit: a 200 that is not data is retried like a truncated body.
    const decode = jsonDecoder(label, pageKindOf(path));
    const toPage = (body: any, nextUrl: string | undefined, pageNo: number): Page<T> => {
      let rows: T[];
      try {
        rows = parse(body);
      } catch (e) {
        throw e instanceof TickpipeError ? e : new ProtocolError(this.#http.scrub(`${label}: page ${pageNo} has an unexpected shape: ${(e as Error)?.message}`), 200);
      }
      return { results: rows, nextUrl, requestId: typeof body?.request_id === 'string' ? body.request_id : undefined };
    };
    return defer(() =>
      this.#http.listing$<any, Page<T>>({
        label,
        first: label + toSearch(query),
        fetch: (target) => this.#http.get$(target, label, decode),
        nextUrlOf: (body) => (typeof body?.next_url === 'string' ? body.next_url : undefined),
        toPage,
      }),
    );
  }

  /** Aggregate bars (v2 aggs) of `ticker`; `from`/`to` are `YYYY-MM-DD` or Unix ms. */
  aggregates$(
    ticker: string,
    multiplier: number,
    timespan: 'second' | 'minute' | 'hour' | 'day' | 'week' | 'month' | 'quarter' | 'year',
    from: string | number,
    to: string | number,
    options: AggregatesOptions = {},
  ): Observable<Page<Bar>> {
    checkTicker(ticker);
    if (!Number.isInteger(multiplier) || multiplier < 1) bad('multiplier', 'an integer >= 1', multiplier);
    const path = `/v2/aggs/ticker/${encodeURIComponent(ticker)}/range/${multiplier}/${encodeURIComponent(timespan)}/${encodeURIComponent(String(from))}/${encodeURIComponent(String(to))}`;
    return this.pages$<Bar>(
      path,
      { adjusted: options.adjusted ?? true, sort: options.sort ?? 'asc', limit: limitOf(options.limit) },
      (b) => rowsOf<Bar>(b, path),
    );
  }

  /** Trades (v3) of `ticker` with `gte <= sip_timestamp <= lte` (ns), timestamps as bigint. */
  trades$(ticker: string, options: TickRangeOptions): Observable<Page<Trade>> {
    return this.#ticks$<Trade>('trades', ticker, options);
  }

  /** NBBO quotes (v3) of `ticker` with `gte <= sip_timestamp <= lte` (ns), timestamps as bigint. */
  quotes$(ticker: string, options: TickRangeOptions): Observable<Page<Quote>> {
    return this.#ticks$<Quote>('quotes', ticker, options);
  }

  #ticks$<T>(kind: 'trades' | 'quotes', ticker: string, o: TickRangeOptions): Observable<Page<T>> {
    checkTicker(ticker);
    if (o === null || typeof o !== 'object') bad('options', 'an object with gte and lte', o);
    if (typeof o.gte !== 'bigint') bad('gte', 'a bigint (Unix ns)', o.gte);
    if (typeof o.lte !== 'bigint') bad('lte', 'a bigint (Unix ns)', o.lte);
    const order = o.order ?? 'asc';
    if (order !== 'asc' && order !== 'desc') bad('order', "'asc' or 'desc'", order);
    const path = `/v3/${kind}/${encodeURIComponent(ticker)}`;
    return this.pages$<T>(
      path,
      { 'timestamp.gte': o.gte, 'timestamp.lte': o.lte, order, limit: limitOf(o.limit), sort: 'timestamp' },
      (b) => rowsOf<T>(b, path),
    );
  }

  /**
   * The hot path of stage 2: every page of a trades or quotes listing scanned from its bytes into
   * `into` (no JS object per row; quotes downsampled while read when `into` has a bucket). Each page
   * is scanned into its own columns first and appended only once complete, so a retried page
   * (truncated body, malformed JSON) can never leave half a page behind. Rows exactly repeating rows
   * already in `into` are dropped and counted in `into.repeatedRows`. A row that cannot be stored
   * errors with RowValueError (not retried). Emits each page's header, its `nextUrl` without a key
   * a proxy may have echoed into it.
   */
  tickColumns$(kind: 'trades' | 'quotes', ticker: string, o: TickRangeOptions, into: TickColumns | PageTarget): Observable<PageHeader> {
    checkTicker(ticker);
    if (typeof o?.gte !== 'bigint') bad('gte', 'a bigint (Unix ns)', o?.gte);
    if (typeof o.lte !== 'bigint') bad('lte', 'a bigint (Unix ns)', o.lte);
    const target = into instanceof TickColumns ? localTarget(into) : into;
    if (typeof target?.scan !== 'function' || target.kind !== kind) bad('into', `TickColumns or PageTarget of ${kind}`, into);
    const order = o.order ?? 'asc';
    if (order !== 'asc') bad('order', "'asc' (columns are downsampled in time order)", order);
    const label = this.#basePath + `/v3/${kind}/${encodeURIComponent(ticker)}`;
    // Scan, check (a 200 that is not data never reads as an empty page), drop re-served rows and
    // append, all inside the retry: a page that fails is retried (ProtocolError) or fails the listing.
    // The same layers as the row path; the auth layer scrubs what the scanner's errors quote.
    const decode = (body: Buffer): PageHeader | Promise<PageHeader> => target.scan(body, `GET ${label}`);
    return defer(() =>
      this.#http.listing$<PageHeader, PageHeader>({
        label,
        first: label + toSearch({ 'timestamp.gte': o.gte, 'timestamp.lte': o.lte, order, limit: limitOf(o.limit), sort: 'timestamp' }),
        fetch: (t) => this.#http.get$(t, label, decode),
        nextUrlOf: (header) => header.nextUrl,
        toPage: (header, nextUrl) => (nextUrl === header.nextUrl ? header : { ...header, nextUrl }),
      }),
    );
  }
}

/** Creates a {@link PolygonClient}. */
export function createPolygonClient(options: PolygonClientOptions): PolygonClient {
  return new PolygonClient(options);
}

function toSearch(query: Query): string {
  if (query === null || typeof query !== 'object') bad('query', 'an object', query);
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    if (k === 'apiKey') bad('query.apiKey', 'absent (pass the key as the apiKey option)', REDACTED);
    p.append(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

function checkTicker(ticker: unknown): void {
  if (typeof ticker !== 'string' || ticker.trim() === '') bad('ticker', 'a non-empty string', ticker);
}

function limitOf(limit: unknown): number {
  const l = limit ?? 50_000;
  if (typeof l !== 'number' || !Number.isInteger(l) || l < 1 || l > 50_000) bad('limit', 'an integer in 1..50000', l);
  return l;
}

