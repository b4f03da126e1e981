/**
 * Typed errors. Every error tickpipe raises on purpose is a {@link TickpipeError} with a stable
 * `code`; callers decide on the code (retry, skip, exit status), never on the message text.
 */
export type ErrorCode =
  | 'E_USAGE'
  | 'E_INPUT'
  | 'E_AUTH'
  | 'E_RATE_LIMITED'
  | 'E_SERVER'
  | 'E_NETWORK'
  | 'E_TIMEOUT'
  | 'E_PROTOCOL'
  | 'E_BAD_REQUEST'
  | 'E_NOT_FOUND'
  | 'E_PAGINATION_LOOP'
  | 'E_DATA'
  | 'E_LOCKED'
  | 'E_RUN_MISMATCH'
  | 'E_DISK'
  | 'E_ABORTED'
  | 'E_WORKER';

export class TickpipeError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
  /** Whether repeating the same operation may succeed. */
  get retryable(): boolean {
    return false;
  }
}

/** Bad command line: unknown flag, malformed value. Exit 2. */
export class UsageError extends TickpipeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_USAGE', message, options);
  }
}

/** Bad input data: missing file, wrong column, invalid symbol, bad date. Exit 2. */
export class InputError extends TickpipeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_INPUT', message, options);
  }
}

/** Base of every error raised while talking to the market-data API. */
export class HttpError extends TickpipeError {
  /** HTTP status when a response arrived, otherwise undefined. */
  readonly status: number | undefined;
  constructor(code: ErrorCode, message: string, status?: number, options?: { cause?: unknown }) {
    super(code, message, options);
    this.status = status;
  }
}

/** 401 (and the API's 400 "API Key was not provided"): never retried. Exit 3. */
export class AuthError extends HttpError {
  constructor(message: string, status: number, options?: { cause?: unknown }) {
    super('E_AUTH', message, status, options);
  }
}

/** 429. `retryAfterMs` is set when the server sent Retry-After. */
export class RateLimitedError extends HttpError {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number, options?: { cause?: unknown }) {
    super('E_RATE_LIMITED', message, 429, options);
    this.retryAfterMs = retryAfterMs;
  }
  override get retryable(): boolean {
    return true;
  }
}

/** 5xx responses. Retried. */
export class ServerError extends HttpError {
  constructor(message: string, status: number, options?: { cause?: unknown }) {
    super('E_SERVER', message, status, options);
  }
  override get retryable(): boolean {
    return true;
  }
}

/** Connection refused/reset, DNS failure. Retried. */
export class NetworkError extends HttpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_NETWORK', message, undefined, options);
  }
  override get retryable(): boolean {
    return true;
  }
}

/** No complete response within the deadline (headers or body stalled). Retried. */
export class TimeoutError extends HttpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_TIMEOUT', message, undefined, options);
  }
  override get retryable(): boolean {
    return true;
  }
}

/** Malformed or truncated JSON, or a body of the wrong shape. Retried. */
export class ProtocolError extends HttpError {
  constructor(message: string, status?: number, options?: { cause?: unknown }) {
    super('E_PROTOCOL', message, status, options);
  }
  override get retryable(): boolean {
    return true;
  }
}

/** 400 / 403 and other 4xx that repeating cannot fix. Not retried. */
export class BadRequestError extends HttpError {
  constructor(message: string, status: number, options?: { cause?: unknown }) {
    super('E_BAD_REQUEST', message, status, options);
  }
}

/** 404. Not retried. */
export class NotFoundError extends HttpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_NOT_FOUND', message, 404, options);
  }
}

/** A `next_url` led back to a cursor already seen. Not retried. */
export class PaginationLoopError extends HttpError {
  constructor(message: string) {
    super('E_PAGINATION_LOOP', message);
  }
}

/**
 * A row of a well-formed reply that cannot be stored: a field missing, of the wrong type or out of
 * range (a `sip_timestamp` beyond Int64, a minute bar without `v`). It fails its own window or
 * symbol (failure journal) and the run goes on; not retried, since the server sends the same row.
 */
export class DataError extends HttpError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_DATA', message, 200, options);
  }
}

/**
 * A row of a trades or quotes page that is valid JSON but cannot be stored (an integer beyond Int64,
 * a fraction where an integer belongs, a required field missing or null, quotes going back in time).
 * The server's data, not the transport: not retried. `detail` is the message without the request
 * label, for callers that name the symbol and event themselves.
 */
export class RowValueError extends DataError {
  constructor(
    readonly label: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${label}: ${detail}`, options);
  }
}

/** Another live process holds a partition lock. */
export class LockedError extends TickpipeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_LOCKED', message, options);
  }
}

/** The output folder belongs to a run with a different spec. */
export class RunMismatchError extends TickpipeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_RUN_MISMATCH', message, options);
  }
}

/** Filesystem failure while publishing (ENOSPC, EACCES, EROFS, persistent EPERM). */
export class DiskError extends TickpipeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_DISK', message, options);
  }
}

/**
 * A worker thread of the window pool (src/workers/) died or could not start while it held a window:
 * the window's columns are lost, nothing of it was committed. Retried (the whole window, on a fresh
 * worker); a window that keeps failing this way is journaled as failed and the run goes on.
 */
export class WorkerError extends TickpipeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_WORKER', message, options);
  }
  override get retryable(): boolean {
    return true;
  }
}

/** The operation was cancelled (SIGINT/SIGTERM, unsubscribe). */
export class AbortedError extends TickpipeError {
  constructor(message = 'aborted', options?: { cause?: unknown }) {
    super('E_ABORTED', message, options);
  }
}

/** True when `err` is a tickpipe error that may succeed if tried again. */
export function isRetryable(err: unknown): boolean {
  return err instanceof TickpipeError && err.retryable;
}

/** The errno code of `err`, if it is a Node system error. */
export function errnoCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    const c = (err as { code: string }).code;
    return /^E[A-Z0-9]+$/.test(c) ? c : undefined;
  }
  return undefined;
}

const REASONS: Record<string, string> = {
  ENOSPC: 'disk full',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EBUSY: 'file busy',
  EIO: 'I/O error',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
  ENOTDIR: 'a parent is not a folder',
  EISDIR: 'is a folder',
  ENAMETOOLONG: 'name too long',
};

/**
 * Translates a filesystem error into a {@link DiskError} with one clear line: `"<reason> <doing>
 * <path>"`, e.g. `disk full writing /out/a.parquet (ENOSPC)`. Non-system errors (including a
 * simulated crash and tickpipe errors) are returned unchanged.
 */
export function toDiskError(err: unknown, doing: string, path: string): unknown {
  if (err instanceof TickpipeError) return err;
  const code = errnoCode(err) ?? osErrorCode(err);
  if (!code) return err;
  const reason = REASONS[code] ?? 'filesystem error';
  return new DiskError(`${reason} ${doing} ${path} (${code})`, { cause: err });
}

const OS_ERRORS: Record<number, string> = { 1: 'EPERM', 5: 'EIO', 13: 'EACCES', 16: 'EBUSY', 28: 'ENOSPC', 30: 'EROFS', 122: 'EDQUOT' };

/** Errors from native code (nodejs-polars) carry the errno only in the text: "(os error 28)". */
function osErrorCode(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const m = /os error (\d+)/.exec(err.message);
  return m ? OS_ERRORS[Number(m[1])] : undefined;
}
