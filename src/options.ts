/**
 * Validation of programmatic options (operators, stages, the client, the worker pool), the way
 * p-queue does it: every option is checked up front, and a bad one throws one typed error,
 * {@link InputError} (`code` `E_INPUT`), that names the owner, the option, what it wants and the
 * bad value with its type. The CLI's flags are parsed by `args.ts` and end in the same class.
 *
 * @example
 * ```ts
 * wholeNumber('pullMap', 'concurrency', 0);
 * // throws InputError: pullMap: expected `concurrency` to be a whole number >= 1, got `0` (number)
 * ```
 */
import { InputError } from './errors.js';

/** A value as an error shows it: JSON where possible, with its type: `` `"8"` (string) ``. */
export function describeValue(v: unknown): string {
  let shown: string;
  try {
    shown = typeof v === 'function' ? '[function]' : typeof v === 'bigint' ? `${v}n` : typeof v === 'number' ? String(v) : (JSON.stringify(v) ?? String(v));
  } catch {
    shown = String(v);
  }
  return `\`${shown}\` (${typeof v})`;
}

/** The one error of a bad option: `owner: expected \`name\` to be WANT, got VALUE (type)`. */
export function optionError(owner: string, name: string, want: string, v: unknown, shown = describeValue(v)): InputError {
  return new InputError(`${owner}: expected \`${name}\` to be ${want}, got ${shown}`);
}

/** `v` when it is an integer >= `min`, else {@link optionError}. */
export function wholeNumber(owner: string, name: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw optionError(owner, name, `a whole number >= ${min}`, v);
  return v;
}

/**
 * `v` when it is a finite number above `min` (or equal to it with `allowMin`), else
 * {@link optionError}. `want` overrides the wording of the requirement.
 */
export function finiteNumber(owner: string, name: string, v: unknown, min: number, allowMin: boolean, want?: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (allowMin ? v < min : v <= min)) {
    throw optionError(owner, name, want ?? `a finite number ${allowMin ? '>=' : '>'} ${min}`, v);
  }
  return v;
}
