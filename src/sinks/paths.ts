/**
 * Path-component validation and disk-error translation shared by the sinks.
 *
 * Symbols and event IDs become folder names (`windows/symbol=S/event=ID/`), so they are validated
 * before any path is built: nothing can escape the output folder or confuse Hive partitioning.
 *
 * @example
 * ```ts
 * validatePathComponent('BRK.A', 'symbol');      // returns 'BRK.A'
 * validatePathComponent('../etc', 'symbol');     // throws InputError
 * ```
 */
import { DiskError, InputError, TickpipeError } from '../errors.js';
import { errnoCode } from './fs-layer.js';

const MAX_COMPONENT = 200;
// Control characters, path separators, Windows-reserved characters and '=' (Hive key=value).
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f/\\<>:"|?*=]/;

/**
 * Returns `value` when it is safe as one path component: non-empty, at most 200 characters, no
 * `/`, `\`, NUL or other control characters, no `<>:"|?*=`, no `..`, not starting with `.` and
 * no trailing space. Throws {@link InputError} naming `what` otherwise.
 */
export function validatePathComponent(value: string, what: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InputError(`invalid ${what}: empty`);
  }
  if (value.length > MAX_COMPONENT) {
    throw new InputError(`invalid ${what} ${JSON.stringify(value.slice(0, 40))}…: longer than ${MAX_COMPONENT} characters`);
  }
  if (FORBIDDEN.test(value) || value.includes('..') || value.startsWith('.') || value.endsWith(' ')) {
    throw new InputError(
      `invalid ${what} ${JSON.stringify(value)}: must not contain path separators, '..', control characters or <>:"|?*= and must not start with '.'`,
    );
  }
  return value;
}

/** Validates a ticker symbol for use in a path. See {@link validatePathComponent}. */
export function validateSymbol(symbol: string): string {
  return validatePathComponent(symbol, 'symbol');
}

/** Validates an event ID for use in a path. See {@link validatePathComponent}. */
export function validateEventId(eventId: string): string {
  return validatePathComponent(eventId, 'event ID');
}

/** Validates a non-negative integer option. */
export function validateNonNegInt(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new InputError(`invalid ${what}: ${String(value)} (expected an integer >= 0)`);
  }
  return value;
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
