/**
 * The bottom layer: one keep-alive undici `Pool` to the origin. It puts a request on the wire, reads
 * the whole body, and turns what undici throws into tickpipe's typed errors. It knows nothing of
 * keys, statuses or pages.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import { AbortedError, NetworkError, ProtocolError, TimeoutError, type TickpipeError } from '../../errors.js';
import type { Dispatch, HttpRequest, HttpResponse } from './layer.js';

/** Connection settings of the pool (the client's options, validated there). */
export interface TransportOptions {
  readonly connections: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
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

/**
 * What undici's error `e` means for a GET of `label`, failing while waiting for the response
 * (`request`) or while reading its body (`body`). The raw error may hold the socket or, in odd undici
 * paths, the request: the cause kept is a plain copy of its name, code and message.
 */
export function transportError(e: unknown, label: string, phase: 'request' | 'body', aborted: boolean): TickpipeError {
  const err = e as { code?: string; name?: string; message?: string } | undefined;
  const code = typeof err?.code === 'string' ? err.code : undefined;
  const cause = Object.assign(new Error(String(err?.message ?? e)), { name: err?.name ?? 'Error', code });
  const what = code ?? err?.name ?? 'error';
  if (aborted || code === 'UND_ERR_ABORTED' || err?.name === 'AbortError') return new AbortedError(`GET ${label}: aborted`, { cause });
  if (code === 'UND_ERR_DESTROYED' || code === 'UND_ERR_CLOSED') return new AbortedError(`GET ${label}: client closed`, { cause });
  if (code !== undefined && TIMEOUT_CODES.has(code)) return new TimeoutError(`GET ${label}: ${phase === 'body' ? 'body stalled' : 'no response'} (${what})`, { cause });
  if (code?.startsWith('HPE_')) return new ProtocolError(`GET ${label}: malformed HTTP response (${what})`, undefined, { cause });
  if (phase === 'body') return new ProtocolError(`GET ${label}: response body cut short (${what})`, undefined, { cause });
  if (code !== undefined && NETWORK_CODES.has(code)) return new NetworkError(`GET ${label}: ${what}`, { cause });
  return new NetworkError(`GET ${label}: transport failure (${what})`, { cause });
}

/** The `onSent` of each request in flight, by the options object undici's interceptor sees. */
const ON_SENT = new WeakMap<object, () => void>();

type Controller = Dispatcher.DispatchController;

/**
 * A handler that calls `onSent` when undici starts the request, then passes every call on. undici's
 * HTTP/1 writer (undici 7, client-h1.js `writeH1`) starts a request's handler (`onRequestStart`)
 * right before the request line goes to the socket, which can be well after `request()` was called
 * (a new connection, a busy event loop: up to ~30 ms measured at 50 busy pages/s). Interceptors
 * always get this (newer) handler form: `compose` wraps the caller's handler into it. A plain class,
 * not a Proxy: `onResponseData` runs for every body chunk of a multi-MB page.
 */
class SentReporter implements Dispatcher.DispatchHandler {
  constructor(
    private readonly next: Dispatcher.DispatchHandler,
    private readonly signal: AbortSignal | undefined,
    private readonly onSent: () => void,
  ) {}

  onRequestStart(controller: Controller, context: unknown): void {
    // undici starts an aborted request's handler too when its turn comes, only to end it.
    if (this.signal?.aborted !== true) this.onSent();
    this.next.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    this.next.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStarted(): void {
    this.next.onResponseStarted?.();
  }

  onResponseStart(controller: Controller, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    this.next.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.next.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Controller, trailers: IncomingHttpHeaders): void {
    this.next.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Controller, error: Error): void {
    this.next.onResponseError?.(controller, error);
  }
}

/** Wraps the handler of each request that has an `onSent` ({@link SentReporter}); the others pass untouched. */
const reportSent: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) => {
  const onSent = ON_SENT.get(opts);
  return dispatch(opts, onSent === undefined ? handler : new SentReporter(handler, (opts as { signal?: AbortSignal }).signal, onSent));
};

/** The undici pool and the dispatch that sends through it. */
export class PoolTransport {
  readonly #pool: Pool;
  readonly #dispatcher: Dispatcher;
  #closed = false;

  constructor(origin: string, o: TransportOptions) {
    this.#pool = new Pool(origin, {
      connections: o.connections,
      pipelining: 1,
      headersTimeout: o.headersTimeoutMs,
      bodyTimeout: o.bodyTimeoutMs,
    });
    this.#dispatcher = this.#pool.compose(reportSent);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** GET `req.target` (the auth layer has put the key in it or in the headers). */
  readonly dispatch: Dispatch = async (req: HttpRequest): Promise<HttpResponse> => {
    let res: Awaited<ReturnType<Pool['request']>>;
    try {
      const opts = { method: 'GET' as const, path: req.target, headers: { ...req.headers }, signal: req.signal };
      if (req.onSent) ON_SENT.set(opts, req.onSent);
      res = await this.#dispatcher.request(opts);
    } catch (e) {
      throw transportError(e, req.label, 'request', req.signal.aborted);
    }
    let body: Buffer;
    try {
      body = Buffer.from(await res.body.arrayBuffer());
    } catch (e) {
      throw transportError(e, req.label, 'body', req.signal.aborted);
    }
    req.onBodyBytes?.(body.byteLength);
    return { status: res.statusCode, headers: res.headers, body };
  };

  /** Closes the pool after in-flight requests finish. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.close();
  }
}
