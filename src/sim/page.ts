/**
 * One reply body of the simulator: the route's page, or the API's error body for what the route
 * threw. Pure (same request, same bytes), so the server can build it on its own event loop or on a
 * page thread ({@link PageThreads}) without a difference a client could see.
 */
import { HttpError, NotFoundError } from '../errors.js';
import { errorBody, str } from './json.js';
import { poisonTradesBody } from './data-faults.js';
import { route } from './routes.js';
import type { Density } from './market.js';

/** What every page of one server depends on besides the request (the server's options). */
export interface PageDataOptions {
  readonly seed: number;
  readonly eventiness: number;
  readonly density: Density;
  readonly tickerCount: number;
  readonly poisonTrades: string | undefined;
}

/** One request as the page builder needs it: no socket, no key (except one to echo). */
export interface PageRequest {
  /** `http://host:port` as the client addressed the server. */
  readonly origin: string;
  readonly requestId: string;
  /** Path and query as received, without the API key. */
  readonly pathAndQuery: string;
  /** Point next_url back at this page (fault injection). */
  readonly repeatCursor: boolean;
  /** A key to echo into every next_url (the `echoKey` option), else undefined. */
  readonly echoKey: string | undefined;
}

export interface PageReply {
  readonly status: number;
  readonly body: string | Buffer;
  /** The next_url was pointed back at the page just served (fault injection). */
  readonly repeatedCursor: boolean;
  /** Called once the body's bytes are no longer needed (a page thread's slab it may reuse). */
  readonly release?: () => void;
}

/** The reply to `req`: a page, or the API's NOT_FOUND / ERROR body. Never throws. */
export function renderPage(o: PageDataOptions, req: PageRequest): PageReply {
  const { requestId } = req;
  const url = new URL(req.pathAndQuery, 'http://sim.invalid');
  try {
    const r = route({ seed: o.seed, eventiness: o.eventiness, density: o.density, tickerCount: o.tickerCount, origin: req.origin, requestId, url, repeatCursor: req.repeatCursor, echoKey: req.echoKey });
    return { status: r.status, body: r.status === 200 ? poisonTradesBody(url.pathname, o.poisonTrades, r.body) : r.body, repeatedCursor: r.repeatedCursor };
  } catch (err) {
    if (err instanceof NotFoundError) {
      return { status: 404, body: `{"status":"NOT_FOUND","request_id":"${requestId}","message":${str(err.message)}}`, repeatedCursor: false };
    }
    if (err instanceof HttpError && err.status !== undefined) return { status: err.status, body: errorBody(requestId, err.message), repeatedCursor: false };
    return internalErrorReply(requestId, err);
  }
}

/** A 500 for what went wrong inside the simulator itself. */
export function internalErrorReply(requestId: string, err: unknown): PageReply {
  return { status: 500, body: errorBody(requestId, `internal simulator error: ${err instanceof Error ? err.message : String(err)}`), repeatedCursor: false };
}
