/**
 * The HTTP server: auth, quota, fault injection and the API's error bodies around {@link route}.
 * Order of checks per request: method, key, quota (a 429 costs nothing else), then the faults,
 * which therefore only ever hit authorised, admitted requests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { HttpError, NotFoundError } from '../errors.js';
import { errorBody200, poisonTradesBody } from './data-faults.js';
import { FaultInjector } from './faults.js';
import { hashHex } from './prng.js';
import { QuotaBucket, SlidingWindowQuota } from './quota.js';
import { route } from './routes.js';
import { StatsRecorder, type SimStats } from './stats.js';
import { str } from './json.js';
import type { ResolvedSimOptions } from './options.js';

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

function errorBody(requestId: string, message: string): string {
  return `{"status":"ERROR","request_id":"${requestId}","error":${str(message)}}`;
}

export async function startServer(opts: ResolvedSimOptions): Promise<SimServer> {
  const stats = new StatsRecorder();
  const faults = new FaultInjector(opts);
  const bucket =
    opts.rate === undefined ? undefined : opts.quotaMode === 'strict' ? new SlidingWindowQuota(opts.rate) : new QuotaBucket(opts.rate);
  const timers = new Set<NodeJS.Timeout>();
  let listenOrigin = '';
  let closing = false;

  const send = (res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string> = {}): void => {
    const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    stats.status(status);
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'Content-Length': String(buf.length),
      ...headers,
    });
    if (status === 200) res.once('finish', () => stats.completedOk());
    res.end(buf);
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    stats.request();
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://sim.invalid');
    } catch {
      send(res, 400, errorBody(hashHex(`${opts.seed}|bad-url`), 'malformed request URL'));
      return;
    }
    const queryKey = url.searchParams.get('apiKey');
    url.searchParams.delete('apiKey');
    // Request ids hash the request without its key: deterministic, and equal for equal requests.
    const requestKey = `${req.method} ${url.pathname}${url.search}`;
    const requestId = hashHex(`${opts.seed}|${requestKey}`);
    const headers = { 'X-Request-Id': requestId };

    if (req.method !== 'GET') {
      send(res, 405, errorBody(requestId, `method ${req.method} not allowed`), { ...headers, Allow: 'GET' });
      return;
    }
    const key = queryKey ?? bearerKey(req.headers.authorization);
    if (key === undefined || key === '') {
      send(res, 401, errorBody(requestId, 'API Key was not provided'), headers);
      return;
    }
    if (opts.apiKey !== undefined && key !== opts.apiKey) {
      send(res, 401, errorBody(requestId, 'Unknown API Key'), headers);
      return;
    }
    if (bucket && !bucket.take()) {
      const extra: Record<string, string> = opts.retryAfter ? { 'Retry-After': String(bucket.retryAfterSeconds()) } : {};
      send(res, 429, errorBody(requestId, RATE_LIMIT_MESSAGE), { ...headers, ...extra });
      return;
    }

    const fault = faults.decide(requestKey);
    const host = req.headers.host;
    const origin = host !== undefined && HOST_HEADER_RE.test(host) ? `http://${host}` : listenOrigin;

    const respond = (): void => {
      if (closing || req.socket.destroyed) return;
      if (fault.kind === 'reset') {
        stats.reset();
        req.socket.destroy();
        return;
      }
      if (fault.kind === 'error') {
        stats.injectedError();
        const text = fault.status === 500 ? 'Internal Server Error' : fault.status === 502 ? 'Bad Gateway' : 'Service Unavailable';
        send(res, fault.status, errorBody(requestId, text), headers);
        return;
      }
      if (fault.errorBody) {
        send(res, 200, errorBody200(requestId), headers);
        return;
      }
      let status: number;
      let body: string | Buffer;
      try {
        const r = route({
          seed: opts.seed,
          eventiness: opts.eventiness,
          density: opts.density,
          tickerCount: opts.tickerCount,
          origin,
          requestId,
          url,
          repeatCursor: fault.repeatCursor,
        });
        status = r.status;
        body = status === 200 ? poisonTradesBody(url.pathname, opts.poisonTrades, r.body) : r.body;
        if (r.repeatedCursor) stats.repeatedCursor();
      } catch (err) {
        if (err instanceof NotFoundError) {
          status = 404;
          body = `{"status":"NOT_FOUND","request_id":"${requestId}","message":${str(err.message)}}`;
        } else if (err instanceof HttpError && err.status !== undefined) {
          status = err.status;
          body = errorBody(requestId, err.message);
        } else {
          status = 500;
          body = errorBody(requestId, `internal simulator error: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      if (fault.kind === 'truncate' || fault.kind === 'stall') {
        const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
        const cut = Math.max(1, Math.min(buf.length - 1, Math.floor(buf.length * fault.cut)));
        stats.status(status);
        res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(buf.length), ...headers });
        if (fault.kind === 'truncate') {
          stats.truncation();
          // Destroy only once the partial body is on the wire, so the client sees it cut mid-way.
          res.write(buf.subarray(0, cut), () => req.socket.destroy());
        } else {
          stats.stall();
          res.write(buf.subarray(0, cut));
        }
        return;
      }
      send(res, status, body, headers);
    };

    if (fault.delayMs > 0) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        respond();
      }, fault.delayMs);
      timers.add(timer);
    } else {
      respond();
    }
  };

  const server: Server = createServer({ keepAlive: true }, handle);
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
  listenOrigin = `http://${hostPart}:${addr.port}`;

  let closed: Promise<void> | undefined;
  return {
    url: listenOrigin,
    close(): Promise<void> {
      if (!closed) {
        closing = true;
        for (const t of timers) clearTimeout(t);
        timers.clear();
        closed = new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
          for (const s of sockets) s.destroy();
        });
      }
      return closed;
    },
    stats: () => stats.snapshot(),
    resetStats: () => stats.clear(),
  };
}
