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
import { InputError } from '../errors.js';

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

export { toDiskError } from '../errors.js';
