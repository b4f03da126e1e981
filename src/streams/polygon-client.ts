import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { concatMap, defer, lastValueFrom, Observable, of, type Subscription } from 'rxjs';
import {
  AbortedError,
  AuthError,
  BadRequestError,
  HttpError,
  NetworkError,
  NotFoundError,
  PaginationLoopError,
  ProtocolError,
  RateLimitedError,
  ServerError,
  TickpipeError,
  TimeoutError,
} from '../errors.js';
import type { Bar, Page, Quote, Trade } from '../types.js';
import { TokenBucket } from '../operators/token-bucket.js';
import { retryBackoff, type RetryBackoffOptions } from '../operators/retry-backoff.js';
import { losslessParse } from '../codec/lossless-json.js';
import { TickColumns, localTarget, type PageHeader, type PageTarget } from './column-scanner.js';
import { HttpMetrics, type HttpMetricsSnapshot } from './http-metrics.js';
import { checkPageBody, type PageEndpointKind } from './page-status.js';

export type { HttpMetricsSnapshot, LatencySnapshot } from './http-metrics.js';
/** Snapshot returned by {@link PolygonClient.metrics}. */
export type ClientMetrics = HttpMetricsSnapshot;

/** The subset of a pino logger the client uses. */
export interface PolygonLogger {
  warn?(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
}

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

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

function bad(name: string, expected: string, v: unknown): never {
  const shown = name === 'apiKey' ? (typeof v === 'string' ? `<${v.length} chars>` : String(v)) : typeof v === 'string' ? JSON.stringify(v) : String(v);
  throw new TypeError(`PolygonClient: expected \`${name}\` to be ${expected}, got ${shown} (${typeof v})`);
}

function positiveInt(name: string, v: unknown, dflt: number): number {
  const x = v ?? dflt;
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 1) bad(name, 'an integer >= 1', x);
  return x;
}

/** Retry-After is delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const at = Date.parse(s);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** A check of a parsed 200 body; a returned error is raised (and retried) instead of the page. */
type BodyCheck = (body: unknown) => Error | undefined;

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

/**
 * Polygon.io (Massive) REST client: one keep-alive undici Pool, every try gated by the shared
 * TokenBucket, each single request wrapped by retryBackoff, and paged listings as lazy Observables.
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

  // Kept off enumerable fields so neither util.inspect nor JSON.stringify of the client shows it.
  readonly #apiKey: string;
  readonly #keyQuery: string;
  readonly #pool: Pool;
  readonly #basePath: string;
  readonly #retry: RetryBackoffOptions | false;
  readonly #logger: PolygonLogger | undefined;
  readonly #m = new HttpMetrics();
  #closed = false;

  constructor(options: PolygonClientOptions) {
    if (options === null || typeof options !== 'object') bad('options', 'an object', options);
    const { apiKey } = options;
    if (typeof apiKey !== 'string' || apiKey.trim() === '') bad('apiKey', 'a non-empty string', apiKey);
    this.#apiKey = apiKey;
    this.#keyQuery = `apiKey=${encodeURIComponent(apiKey)}`;

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
    this.baseUrl = baseUrl;
    this.origin = u.origin;
    this.#basePath = u.pathname.replace(/\/+$/, '');

    const auth = options.auth ?? 'query';
    if (auth !== 'query' && auth !== 'bearer') bad('auth', "'query' or 'bearer'", auth);
    this.auth = auth;
    if (options.bucket !== undefined && !(options.bucket instanceof TokenBucket)) bad('bucket', 'a TokenBucket', options.bucket);
    this.bucket = options.bucket;
    this.connections = positiveInt('connections', options.connections, 64);
    this.headersTimeoutMs = positiveInt('headersTimeoutMs', options.headersTimeoutMs, 30_000);
    this.bodyTimeoutMs = positiveInt('bodyTimeoutMs', options.bodyTimeoutMs, 30_000);
    const retry = options.retry ?? {};
    if (retry !== false && (retry === null || typeof retry !== 'object')) bad('retry', 'an options object or false', retry);
    this.#retry = retry;
    if (options.logger !== undefined && (options.logger === null || typeof options.logger !== 'object')) {
      bad('logger', 'a pino-like object', options.logger);
    }
    this.#logger = options.logger;

    this.#pool = new Pool(this.origin, {
      connections: this.connections,
      pipelining: 1,
      headersTimeout: this.headersTimeoutMs,
      bodyTimeout: this.bodyTimeoutMs,
    });
  }

  /** Snapshot of the request counters and latency histogram. */
  metrics(): HttpMetricsSnapshot {
    return this.#m.snapshot();
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
    const r = this.#retry;
    try {
      await lastValueFrom(this.#try$(target, label, r === false ? false : { ...r, maxAttempts: Math.min(3, r.maxAttempts ?? 3) }));
    } catch (e) {
      // "GET /v3/reference/tickers: ECONNREFUSED" does not say which host: name the origin.
      if (e instanceof NetworkError) throw new NetworkError(`cannot reach the API at ${this.origin}: ${e.message}`, { cause: e });
      if (e instanceof TimeoutError) throw new TimeoutError(`no answer from the API at ${this.origin}: ${e.message}`, { cause: e });
      throw e;
    }
  }

  /** Closes the pool after in-flight requests finish. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.close();
  }

  /**
   * One GET of `path` (relative to baseUrl) with `query`, through the bucket and the retry layer.
   * Emits the losslessly parsed body once. Cold: nothing is sent before subscription, and
   * unsubscribing aborts the request.
   */
  request$(path: string, query: Query = {}): Observable<any> {
    const target = this.#basePath + path + toSearch(query);
    return this.#try$(target, this.#basePath + path);
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
    return new Observable<Page<T>>((subscriber) => {
      const label = this.#basePath + path;
      const kind = pageKindOf(path);
      // Inside the retried unit: a 200 that is not data is retried like a truncated body.
      const check = kind === undefined ? undefined : (b: unknown) => checkPageBody(b, kind, `GET ${label}`);
      const seen = new Set<string>();
      let inner: Subscription | undefined;
      let pageNo = 0;

      const fetchPage = (target: string): void => {
        let body: any;
        let got = false;
        inner = this.#try$(target, label, this.#retry, check).subscribe({
          next: (b) => {
            body = b;
            got = true;
          },
          error: (e) => subscriber.error(e),
          complete: () => {
            if (!got) return subscriber.complete();
            pageNo++;
            let rows: T[];
            try {
              rows = parse(body);
            } catch (e) {
              subscriber.error(e instanceof TickpipeError ? e : new ProtocolError(`${label}: page ${pageNo} has an unexpected shape: ${(e as Error)?.message}`, 200));
              return;
            }
            const rawNext = typeof body?.next_url === 'string' && body.next_url !== '' ? (body.next_url as string) : undefined;
            // The API never echoes the key, but a proxy might: what we hand on must not carry it.
            const nextUrl = rawNext !== undefined && /apikey=/i.test(rawNext) ? withoutKey(rawNext) : rawNext;
            let next: string | undefined;
            let stop: Error | undefined;
            if (nextUrl !== undefined) {
              try {
                next = this.#follow(nextUrl, seen, label, pageNo);
              } catch (e) {
                stop = e as Error;
              }
            }
            this.#m.pages++;
            subscriber.next({
              results: rows,
              nextUrl,
              requestId: typeof body?.request_id === 'string' ? body.request_id : undefined,
            });
            if (subscriber.closed) return;
            if (stop) subscriber.error(stop);
            else if (next !== undefined) fetchPage(next);
            else subscriber.complete();
          },
        });
      };

      const first = label + toSearch(query);
      seen.add(cursorKey(new URL(first, this.origin)));
      fetchPage(first);
      return () => inner?.unsubscribe();
    });
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
   * errors with RowValueError (not retried). Emits each page's header.
   */
  tickColumns$(kind: 'trades' | 'quotes', ticker: string, o: TickRangeOptions, into: TickColumns | PageTarget): Observable<PageHeader> {
    checkTicker(ticker);
    if (typeof o?.gte !== 'bigint') bad('gte', 'a bigint (Unix ns)', o?.gte);
    if (typeof o.lte !== 'bigint') bad('lte', 'a bigint (Unix ns)', o.lte);
    const target = into instanceof TickColumns ? localTarget(into) : into;
    if (typeof target?.scan !== 'function' || target.kind !== kind) bad('into', `TickColumns or PageTarget of ${kind}`, into);
    const order = o.order ?? 'asc';
    if (order !== 'asc') bad('order', "'asc' (columns are downsampled in time order)", order);
    const path = `/v3/${kind}/${encodeURIComponent(ticker)}`;
    const label = this.#basePath + path;
    // Scan, check (a 200 that is not data never reads as an empty page), drop re-served rows and
    // append, all inside the retry: a page that fails is retried (ProtocolError) or fails the listing.
    const decode = async (buf: Buffer): Promise<PageHeader> => {
      try {
        return await target.scan(buf, `GET ${label}`);
      } catch (e) {
        throw e instanceof ProtocolError ? new ProtocolError(this.#scrub(e.message), e.status, { cause: e }) : e;
      }
    };
    return new Observable<PageHeader>((subscriber) => {
      const seen = new Set<string>();
      let inner: Subscription | undefined;
      let pageNo = 0;
      const fetchPage = (target: string): void => {
        inner = this.#try$(target, label, this.#retry, undefined, decode).subscribe({
          next: (header: PageHeader) => {
            pageNo++;
            this.#m.pages++;
      const nextUrl = header.nextUrl !== undefined && /apikey=/i.test(header.nextUrl) ? withoutKey(header.nextUrl) : header.nextUrl;
            let next: string | undefined;
            try {
              if (nextUrl !== undefined) next = this.#follow(nextUrl, seen, label, pageNo);
            } catch (e) {
              subscriber.next(header);
              subscriber.error(e);
              return;
            }
            subscriber.next(header);
            if (subscriber.closed) return;
            if (next !== undefined) fetchPage(next);
            else subscriber.complete();
          },
          error: (e) => subscriber.error(e),
        });
      };
      const first = label + toSearch({ 'timestamp.gte': o.gte, 'timestamp.lte': o.lte, order, limit: limitOf(o.limit), sort: 'timestamp' });
      seen.add(cursorKey(new URL(first, this.origin)));
      fetchPage(first);
      return () => inner?.unsubscribe();
    });
  }

  #follow(nextUrl: string, seen: Set<string>, label: string, pageNo: number): string {
    let u: URL;
    try {
      u = new URL(nextUrl, this.origin);
    } catch {
      throw new ProtocolError(`${label}: page ${pageNo} has an unparseable next_url`);
    }
    if (u.origin !== this.origin) {
      throw new ProtocolError(`${label}: page ${pageNo} has a next_url on another origin (${u.origin}); not following it with the API key`);
    }
    for (const k of [...u.searchParams.keys()]) if (k.toLowerCase() === 'apikey') u.searchParams.delete(k);
    const key = cursorKey(u);
    if (seen.has(key)) {
      throw new PaginationLoopError(`${label}: next_url of page ${pageNo} repeats a cursor already seen in this listing`);
    }
    seen.add(key);
    return u.pathname + u.search;
  }

  /** One try through the bucket, wrapped by the retry layer (so each retry waits for a new token). */
  #try$(target: string, label: string, r: RetryBackoffOptions | false = this.#retry, check?: BodyCheck, decode?: (buf: Buffer) => unknown | Promise<unknown>): Observable<any> {
    const bucket = this.bucket;
    const once$ = defer(() => (bucket ? bucket.acquire() : of(undefined))).pipe(concatMap(() => this.#once$(target, label, check, decode)));
    if (r === false) return once$;
    return once$.pipe(
      retryBackoff({
        ...r,
        // The bucket pauses for the 429 (capped Retry-After); the retry just queues for a token.
        ...(bucket ? { rateLimitedWaitsInBucket: true } : {}),
        onRetry: (err, attempt, delayMs) => {
          this.#m.retries++;
          this.#logger?.warn?.({ path: label, code: (err as TickpipeError)?.code, attempt, delayMs }, 'retrying request');
          r.onRetry?.(err, attempt, delayMs);
        },
      }),
    );
  }

  #once$(target: string, label: string, check?: BodyCheck, decode?: (buf: Buffer) => unknown | Promise<unknown>): Observable<any> {
    return new Observable<any>((subscriber) => {
      const ac = new AbortController();
      let settled = false;
      this.#send(target, label, ac.signal, check, decode).then(
        (v) => {
          settled = true;
          subscriber.next(v);
          subscriber.complete();
        },
        (e) => {
          settled = true;
          subscriber.error(e);
        },
      );
      return () => {
        if (!settled) ac.abort();
      };
    });
  }

  async #send(target: string, label: string, signal: AbortSignal, check?: BodyCheck, decode?: (buf: Buffer) => unknown | Promise<unknown>): Promise<any> {
    if (this.#closed) throw new AbortedError(`GET ${label}: client closed`);
    const headers: Record<string, string> = { accept: 'application/json' };
    let path = target;
    if (this.auth === 'bearer') headers.authorization = `Bearer ${this.#apiKey}`;
    else path += (target.includes('?') ? '&' : '?') + this.#keyQuery;

    const m = this.#m;
    const t0 = performance.now();
    m.sent++;
    try {
      let res: Awaited<ReturnType<Pool['request']>>;
      try {
        res = await this.#pool.request({ method: 'GET', path, headers, signal });
      } catch (e) {
        throw this.#transportError(e, label, 'request', signal);
      }
      const status = res.statusCode;
      let text: string;
      let buf: Buffer;
      try {
        buf = Buffer.from(await res.body.arrayBuffer());
        m.bytes += buf.byteLength;
      } catch (e) {
        throw this.#transportError(e, label, 'body', signal);
      }
      if (decode !== undefined && status >= 200 && status < 300) {
        const body = await decode(buf);
        m.ok++;
        m.latency.record(performance.now() - t0);
        this.bucket?.onSuccess();
        return body;
      }
      text = buf.toString('utf8');
      if (status >= 200 && status < 300) {
        const body = losslessParse(text, { context: `GET ${label}`, status });
        const problem = check?.(body);
        if (problem) throw new ProtocolError(this.#scrub(problem.message), 200);
        m.ok++;
        m.latency.record(performance.now() - t0);
        this.bucket?.onSuccess();
        return body;
      }
      throw this.#statusError(status, text, label, res.headers['retry-after']);
    } catch (e) {
      if (!(e instanceof AbortedError)) {
        m.latency.record(performance.now() - t0);
        m.error((e as TickpipeError)?.code ?? 'E_UNKNOWN');
        this.#logger?.debug?.({ path: label, code: (e as TickpipeError)?.code, status: (e as HttpError)?.status }, 'request failed');
      }
      throw e;
    }
  }

  #statusError(status: number, text: string, label: string, retryAfterHeader: string | string[] | undefined): HttpError {
    let detail = '';
    try {
      const b = JSON.parse(text);
      detail = String(b?.error ?? b?.message ?? b?.status ?? '');
    } catch {
      detail = text.slice(0, 200);
    }
    detail = this.#scrub(detail.replace(/\s+/g, ' ').trim().slice(0, 300));
    const msg = `GET ${label}: HTTP ${status}${detail ? ` ${detail}` : ''}`;
    if (status === 401 || (status === 400 && /api key was not provided/i.test(text))) return new AuthError(msg, status);
    if (status === 429) {
      const askedMs = parseRetryAfter(retryAfterHeader);
      // A Retry-After of an hour must not stop the run for an hour: the bucket caps the pause, and
      // the retry of this request waits no longer than the bucket does.
      const retryAfterMs = this.bucket ? this.bucket.capRetryAfter(askedMs) : askedMs === undefined ? undefined : Math.min(askedMs, 60_000);
      this.#m.rateLimited++;
      this.bucket?.onRateLimited(askedMs);
      this.#logger?.warn?.({ path: label, retryAfterMs, ...(askedMs !== retryAfterMs ? { serverAskedMs: askedMs } : {}) }, 'rate limited (429)');
      return new RateLimitedError(msg, retryAfterMs);
    }
    if (status === 403) return new BadRequestError(msg, status);
    if (status === 404) return new NotFoundError(msg);
    if (status >= 500) return new ServerError(msg, status);
    if (status >= 400) return new BadRequestError(msg, status);
    return new ProtocolError(msg, status);
  }

  #transportError(e: unknown, label: string, phase: 'request' | 'body', signal: AbortSignal): TickpipeError {
    const err = e as { code?: string; name?: string; message?: string } | undefined;
    const code = typeof err?.code === 'string' ? err.code : undefined;
    // The raw error may hold the socket or, in odd undici paths, the request: keep a scrubbed copy.
    const cause = Object.assign(new Error(this.#scrub(String(err?.message ?? e))), { name: err?.name ?? 'Error', code });
    const what = code ?? err?.name ?? 'error';
    if (signal.aborted || code === 'UND_ERR_ABORTED' || err?.name === 'AbortError') {
      return new AbortedError(`GET ${label}: aborted`, { cause });
    }
    if (code === 'UND_ERR_DESTROYED' || code === 'UND_ERR_CLOSED') return new AbortedError(`GET ${label}: client closed`, { cause });
    if (code !== undefined && TIMEOUT_CODES.has(code)) return new TimeoutError(`GET ${label}: ${phase === 'body' ? 'body stalled' : 'no response'} (${what})`, { cause });
    if (code?.startsWith('HPE_')) return new ProtocolError(`GET ${label}: malformed HTTP response (${what})`, undefined, { cause });
    if (phase === 'body') return new ProtocolError(`GET ${label}: response body cut short (${what})`, undefined, { cause });
    if (code !== undefined && NETWORK_CODES.has(code)) return new NetworkError(`GET ${label}: ${what}`, { cause });
    return new NetworkError(`GET ${label}: transport failure (${what})`, { cause });
  }

  #scrub(s: string): string {
    const k = this.#apiKey;
    let out = s.split(k).join('***');
    const enc = encodeURIComponent(k);
    if (enc !== k) out = out.split(enc).join('***');
    return out;
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
    if (k === 'apiKey') bad('query.apiKey', 'absent (pass the key as the apiKey option)', '<redacted>');
    p.append(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

function withoutKey(url: string): string {
  try {
    const u = new URL(url);
    for (const k of [...u.searchParams.keys()]) if (k.toLowerCase() === 'apikey') u.searchParams.delete(k);
    return u.toString();
  } catch {
    return url.replace(/([?&])apikey=[^&#]*&?/gi, '$1');
  }
}

function cursorKey(u: URL): string {
  return u.searchParams.get('cursor') ?? u.pathname + u.search;
}

function checkTicker(ticker: unknown): void {
  if (typeof ticker !== 'string' || ticker.trim() === '') bad('ticker', 'a non-empty string', ticker);
}

function limitOf(limit: unknown): number {
  const l = limit ?? 50_000;
  if (typeof l !== 'number' || !Number.isInteger(l) || l < 1 || l > 50_000) bad('limit', 'an integer in 1..50000', l);
  return l;
}

