import { InputError } from '../errors.js';

/**
 * Shape of a stock ticker tickpipe accepts: 1–10 characters of letters, digits, `.` and `-`, starting
 * with an upper-case letter (`AAPL`, `BRK.B`, `BF-B`, `AGNCpM`).
 *
 * Case is preserved, never folded: Polygon's own tickers carry meaningful lower-case suffixes
 * (`p` preferred, `w` warrants, `r` rights — `AGNCpM` and `AGNCPM` are different instruments), so
 * upper-casing would silently fetch the wrong series. An all-lower-case `aapl` is almost always a
 * typo and is rejected with a hint instead of guessed at.
 *
 * Symbols become path segments (`windows/symbol=S/…`), so `/`, `\`, `..`, blanks and NUL never pass.
 */
export const SYMBOL_PATTERN = /^[A-Z][A-Za-z0-9.-]{0,9}$/;

/** Longest accepted ticker. */
export const MAX_SYMBOL_LENGTH = 10;

function show(value: unknown): string {
  if (typeof value !== 'string') return `${String(value)} (${value === null ? 'null' : typeof value})`;
  const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return JSON.stringify(shown);
}

/** Why `s` is not a valid ticker, or undefined when it is. */
export function symbolProblem(s: unknown): string | undefined {
  if (typeof s !== 'string') return `expected a string, got ${s === null ? 'null' : typeof s}`;
  if (s.length === 0) return 'empty symbol';
  if (s.length > MAX_SYMBOL_LENGTH) return `longer than ${MAX_SYMBOL_LENGTH} characters (${s.length})`;
  const bad = /[^A-Za-z0-9.-]/.exec(s);
  if (bad) {
    const ch = bad[0];
    const name = ch === '\0' ? 'NUL' : /\s/.test(ch) ? 'whitespace' : JSON.stringify(ch);
    return `contains ${name} (allowed: letters, digits, '.' and '-')`;
  }
  if (!/^[A-Z]/.test(s)) {
    if (/^[a-z]/.test(s)) return `must start with an upper-case letter (did you mean ${s.toUpperCase()}?)`;
    return 'must start with a letter';
  }
  if (s.includes('..')) return "contains '..'";
  return undefined;
}

/**
 * Validates a ticker and returns it unchanged (case preserved, see {@link SYMBOL_PATTERN}).
 *
 * @example
 * validateSymbol('BRK.B'); // 'BRK.B'
 * validateSymbol('../x');  // throws InputError: invalid symbol "../x": contains "/" …
 * @throws {InputError} naming the value and the reason.
 */
export function validateSymbol(s: unknown): string {
  const problem = symbolProblem(s);
  if (problem !== undefined) throw new InputError(`invalid symbol ${show(s)}: ${problem}`);
  return s as string;
}
