/**
 * The HTTP server: auth, quota, fault injection and the API's error bodies around {@link route}.
 * Order of checks per request: method, key, quota (a 429 costs nothing else), then the faults,
 * which therefore only ever hit authorised, admitted requests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { errorBody200 } from './data-faults.js';
import { FaultInjector } from './faults.js';
import { hashHex } from './prng.js';
import { QuotaBucket, SlidingWindowQuota } from './quota.js';
import { StatsRecorder, type SimStats } from './stats.js';
import { errorBody } from './json.js';
import type { ResolvedSimOptions } from './options.js';
import { renderPage, type PageDataOptions, type PageReply, type PageRequest } from './page.js';
import { PageThreads } from './page-threads.js';

export interface SimServer {
  /** `http://HOST:PORT` (the real port when 0 was asked for). */
  readonly url: string;
  /** Stops listening and destroys every connection, idle keep-alive and stalled ones included. */
  close(): Promise<void>;
  stats(): SimStats;
  resetStats(): void;
}

const RATE_LIMIT_MESSAGE =
  "You've exceeded the maximum requests per minute, please wait or upgrade your subscription to continue.";

const HOST_HEADER_RE = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

function bearerKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m ? m[1]!.trim() : undefined;
}

/** An error body (a small object with an `error` or `message` text) quoting `key`, as a leaky proxy would; other bodies as they are. */
function withEchoedKey(body: string, key: string): string {
  if (body.length > 4096 || !body.startsWith('{')) return body;
  try {
    const b = JSON.parse(body) as Record<string, unknown>;
    const field = typeof b.error === 'string' ? 'error' : typeof b.message === 'string' ? 'message' : undefined;
    if (field === undefined) return body;
    b[field] = `${String(b[field])} (apiKey=${key}, key ${key})`;
    return JSON.stringify(b);
  } catch {
    return body;
  }
}

type Fault = ReturnType<FaultInjector['decide']>;

/** One request's identity: its URL without the key, and the deterministic id the replies carry. */
interface RequestContext {
  /** The key the request carried, when the `echoKey` option says to quote it back. */
  readonly echoKey: string | undefined;
  readonly url: URL;
  readonly requestKey: string;
  readonly requestId: string;
  readonly headers: Record<string, string>;
}

/**
 * Answers requests: the checks in the documented order ({@link admit}), then the route and the
 * faults ({@link respond}). One per server; the quota bucket and the stats live here.
 */
class SimHandler {
  readonly stats = new StatsRecorder();
  readonly timers = new Set<NodeJS.Timeout>();
  listenOrigin = '';
  closing = false;
  private readonly faults: FaultInjector;
  /** Responses whose error bodies quote the request's key (the `echoKey` option). */
  private readonly echoed = new WeakMap<ServerResponse, string>();
  private readonly bucket: QuotaBucket | SlidingWindowQuota | undefined;
  private readonly data: PageDataOptions;
  /** Threads building the pages, or undefined: pages are built on this loop (`pageThreads: 0`). */
  readonly pages: PageThreads | undefined;

  constructor(private readonly opts: ResolvedSimOptions) {
    this.faults = new FaultInjector(opts);
    this.bucket = opts.rate === undefined ? undefined : opts.quotaMode === 'strict' ? new SlidingWindowQuota(opts.rate) : new QuotaBucket(opts.rate);
    this.data = { seed: opts.seed, eventiness: opts.eventiness, density: opts.density, tickerCount: opts.tickerCount, poisonTrades: opts.poisonTrades };
    this.pages = opts.pageThreads > 0 ? new PageThreads(opts.pageThreads, this.data) : undefined;
  }

  send(res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}): void {
    const echo = this.echoed.get(res);
    const text = echo !== undefined && typeof body === 'string' ? withEchoedKey(body, echo) : body;
    const buf = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    this.stats.status(status);
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': String(buf.length),
      ...headers,
    });
    if (status === 200) res.once('finish', () => this.stats.completedOk());
    res.end(buf);
  }

  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.stats.request();
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://sim.invalid');
    } catch {
      this.send(res, 400, errorBody(hashHex(`${this.opts.seed}|bad-url`), 'malformed request URL'));
      return;
    }
    const queryKey = url.searchParams.get('apiKey');
    url.searchParams.delete('apiKey');
    // Request ids hash the request without its key: deterministic, and equal for equal requests.
    const requestKey = `${req.method} ${url.pathname}${url.search}`;
    const requestId = hashHex(`${this.opts.seed}|${requestKey}`);
    const key = queryKey ?? bearerKey(req.headers.authorization);
    const echoKey = this.opts.echoKey && key ? key : undefined;
    if (echoKey !== undefined) this.echoed.set(res, echoKey);
    const ctx: RequestContext = { echoKey, url, requestKey, requestId, headers: { 'X-Request-Id': requestId } };
    if (!this.admit(req, res, ctx, key)) return;

    const fault = this.faults.decide(requestKey);
    const host = req.headers.host;
    const origin = host !== undefined && HOST_HEADER_RE.test(host) ? `http://${host}` : this.listenOrigin;
    if (fault.delayMs <= 0) {
      this.respond(req, res, ctx, fault, origin);
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.respond(req, res, ctx, fault, origin);
    }, fault.delayMs);
    this.timers.add(timer);
  };

  /** Method, key, quota, in that order; false when the request was answered with an error. */
  private admit(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, key: string | undefined): boolean {
    const { requestId, headers } = ctx;
    if (req.method !== 'GET') {
      this.send(res, 405, errorBody(requestId, `method ${req.method} not allowed`), { ...headers, Allow: 'GET' });
      return false;
    }
    if (key === undefined || key === '') {
      this.send(res, 401, errorBody(requestId, 'API Key was not provided'), headers);
      return false;
    }
    if (this.opts.apiKey !== undefined && key !== this.opts.apiKey) {
      this.send(res, 401, errorBody(requestId, 'Unknown API Key'), headers);
      return false;
    }
    if (this.bucket && !this.bucket.take()) {
      const extra: Record<string, string> = this.opts.retryAfter ? { 'Retry-After': String(this.bucket.retryAfterSeconds()) } : {};
      this.send(res, 429, errorBody(requestId, RATE_LIMIT_MESSAGE), { ...headers, ...extra });
      return false;
    }
    return true;
  }

  private respond(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, fault: Fault, origin: string): void {
    if (this.closing || req.socket.destroyed) return;
    const { requestId, headers } = ctx;
    if (fault.kind === 'reset') {
      this.stats.reset();
      req.socket.destroy();
      return;
    }
    if (fault.kind === 'error') {
      this.stats.injectedError();
      const text = fault.status === 500 ? 'Internal Server Error' : fault.status === 502 ? 'Bad Gateway' : 'Service Unavailable';
      this.send(res, fault.status, errorBody(requestId, text), headers);
      return;
    }
    if (fault.errorBody) {
      this.send(res, 200, errorBody200(requestId), headers);
      return;
    }
    const page: PageRequest = { origin, requestId, pathAndQuery: `${ctx.url.pathname}${ctx.url.search}`, repeatCursor: fault.repeatCursor, echoKey: ctx.echoKey };
    if (this.pages === undefined) this.deliver(req, res, ctx, fault, renderPage(this.data, page));
    else void this.pages.build(page).then((reply) => this.deliver(req, res, ctx, fault, reply));
  }

  /** Sends a built page, whole or cut by the fault; nothing when the server closed or the client left meanwhile. */
  private deliver(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, fault: Fault, reply: PageReply): void {
    if (this.closing || req.socket.destroyed) {
      reply.release?.();
      return;
    }
    // A slab is reused once the body is handed to the OS whole ('finish') or the connection is gone
    // ('close': a reset, a cut reply's destroy, the client leaving a stalled one).
    if (reply.release) {
      res.once('finish', reply.release);
      res.once('close', reply.release);
    }
    if (reply.repeatedCursor) this.stats.repeatedCursor();
    if (fault.kind === 'truncate' || fault.kind === 'stall') this.sendCut(req, res, reply.status, reply.body, fault, ctx.headers);
    else this.send(res, reply.status, reply.body, ctx.headers);
  }

  /** A reply cut part-way: the connection reset after the part (truncate) or left hanging (stall). */
  private sendCut(req: IncomingMessage, res: ServerResponse, status: number, body: string | Buffer, fault: Fault, headers: Record<string, string>): void {
    const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const cut = Math.max(1, Math.min(buf.length - 1, Math.floor(buf.length * fault.cut)));
    this.stats.status(status);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(buf.length), ...headers });
    if (fault.kind === 'truncate') {
      this.stats.truncation();
      // Destroy only once the partial body is on the wire, so the client sees it cut mid-way.
      res.write(buf.subarray(0, cut), () => req.socket.destroy());
    } else {
      this.stats.stall();
      res.write(buf.subarray(0, cut));
    }
  }
}

export async function startServer(opts: ResolvedSimOptions): Promise<SimServer> {
  const h = new SimHandler(opts);
  const server: Server = createServer({ keepAlive: true }, h.handle);
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  // A client error (malformed request, reset mid-request) must not take the server down.
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const hostPart = addr.family === 'IPv6' || addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  h.listenOrigin = `http://${hostPart}:${addr.port}`;

  let closed: Promise<void> | undefined;
  return {
    url: h.listenOrigin,
    close(): Promise<void> {
      if (!closed) {
        h.closing = true;
        for (const t of h.timers) clearTimeout(t);
        h.timers.clear();
        const listening = new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
          for (const s of sockets) s.destroy();
        });
        closed = Promise.all([listening, h.pages?.close()]).then(() => undefined);
      }
      return closed;
    },
    stats: () => h.stats.snapshot(),
    resetStats: () => h.stats.clear(),
  };
}
