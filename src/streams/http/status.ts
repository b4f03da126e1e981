/**
 * What an HTTP status means to tickpipe, as one pure function ({@link errorForStatus}: status and
 * body text → a typed error with a `code` and a retryable-or-not class), and the two layers built
 * on it: `statusLayer` raises that error for a non-2xx reply, `decodeLayer` gives a 2xx reply its
 * meaning (the page-status rules of page-status.ts apply inside the decoder, so a 200 that is not
 * data fails the try like a truncated body).
 */
import {
  AuthError,
  BadRequestError,
  NotFoundError,
  ProtocolError,
  RateLimitedError,
  ServerError,
  type HttpError,
} from '../../errors.js';
import type { Interceptor } from './layer.js';

/** What {@link errorForStatus} looks at. */
export interface StatusFacts {
  readonly status: number;
  /** The response body as text, with the key already removed (see the auth layer's `redact`). */
  readonly text: string;
  /** `/v3/trades/AAPL`: path without query. */
  readonly label: string;
  /** The server's Retry-After in ms (a 429's), as parsed by {@link parseRetryAfter}. */
  readonly retryAfterMs?: number | undefined;
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

/** The body's `error`, `message` or `status` (JSON), else its first 200 characters, on one line. */
function detailOf(text: string): string {
  let detail: string;
  try {
    const b = JSON.parse(text);
    detail = String(b?.error ?? b?.message ?? b?.status ?? '');
  } catch {
    detail = text.slice(0, 200);
  }
  return detail.replace(/\s+/g, ' ').trim().slice(0, 300);
}

/**
 * The error a reply with a non-2xx `status` raises. Retryable: 429 (RateLimitedError, carrying the
 * server's Retry-After), 5xx (ServerError). Not retryable: 401 and a 400 saying the key is missing
 * (AuthError), 403 and other 4xx (BadRequestError), 404 (NotFoundError). A 1xx/3xx is a
 * ProtocolError. The message is `GET label: HTTP status detail`.
 */
export function errorForStatus(f: StatusFacts): HttpError {
  const { status, text, label } = f;
  const detail = detailOf(text);
  const msg = `GET ${label}: HTTP ${status}${detail ? ` ${detail}` : ''}`;
  if (status === 401 || (status === 400 && /api key was not provided/i.test(text))) return new AuthError(msg, status);
  if (status === 429) return new RateLimitedError(msg, f.retryAfterMs);
  if (status === 403) return new BadRequestError(msg, status);
  if (status === 404) return new NotFoundError(msg);
  if (status >= 500) return new ServerError(msg, status);
  if (status >= 400) return new BadRequestError(msg, status);
  return new ProtocolError(msg, status);
}

const isOk = (status: number): boolean => status >= 200 && status < 300;

/** Raises {@link errorForStatus} for a non-2xx reply; the body text is redacted before it is cut short. */
export const statusLayer: Interceptor = (next) => async (req) => {
  const res = await next(req);
  if (isOk(res.status)) return res;
  throw errorForStatus({
    status: res.status,
    text: req.redact(res.body.toString('utf8')),
    label: req.label,
    retryAfterMs: parseRetryAfter(res.headers['retry-after']),
  });
};

/** Gives a 2xx reply its meaning with the request's decoder (parse, page-status check or column scan). */
export const decodeLayer: Interceptor = (next) => async (req) => {
  const res = await next(req);
  return { ...res, value: await req.decode(res.body, res.status) };
};
