/**
 * The bottom layer: one keep-alive undici `Pool` to the origin. It puts a request on the wire, reads
 * the whole body, and turns what undici throws into tickpipe's typed errors. It knows nothing of
 * keys, statuses or pages.
 */
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

/**
 * Calls a request's `onSent` when undici is about to write it. undici's HTTP/1 writer (undici 7,
 * client-h1.js `writeH1`) starts a request's handler (`onRequestStart`; `onConnect` in the older
 * handler form) right before the request line goes to the socket, which can be well after
 * `request()` was called (a new connection, a busy event loop: up to ~30 ms measured at 50 busy
 * pages/s). Interceptors get the newer handler form; both names are wrapped so either works. Only
 * requests with an `onSent` are wrapped; one aborted before its turn is never reported (undici
 * starts its handler only to end it).
 */
const reportSent: Dispatcher.DispatcherComposeInterceptor = (dispatch) => (opts, handler) => {
  const onSent = ON_SENT.get(opts);
  if (onSent === undefined) return dispatch(opts, handler);
  return dispatch(
    opts,
    new Proxy(handler, {
      get(target, prop) {
        const v: unknown = Reflect.get(target, prop);
        if (typeof v !== 'function') return v;
        const f = v as (...a: unknown[]) => unknown;
        if (prop === 'onRequestStart' || prop === 'onConnect') {
          return (...a: unknown[]): unknown => {
            // undici starts an aborted request's handler too when its turn comes, only to end it.
            if (!(opts as { signal?: AbortSignal }).signal?.aborted) onSent();
            return f.apply(target, a);
          };
        }
        return f.bind(target);
      },
    }),
  );
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
