/** Up-front validation of detector options, so a typo or a bad value fails before any data is read. */
import { InputError } from '../errors.js';

function show(value: unknown): string {
  return `${typeof value === 'string' ? JSON.stringify(value) : String(value)} (${typeof value})`;
}

/** Rejects keys a factory does not know: a misspelt option would otherwise silently keep its default. */
export function checkKeys(detector: string, options: object, known: readonly string[]): void {
  if (options === null || typeof options !== 'object') {
    throw new InputError(`${detector}: options must be an object, got ${show(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new InputError(`${detector}: unknown option ${JSON.stringify(key)}; known options: ${known.join(', ')}`);
    }
  }
}

/** Limits of a numeric option. */
export interface NumberRule {
  readonly min?: number;
  /** `min` itself is not allowed. */
  readonly minExclusive?: boolean;
  readonly max?: number;
  readonly integer?: boolean;
}

/** The option's value, or `fallback` when undefined; throws {@link InputError} naming value and type. */
export function numberOption(detector: string, name: string, value: unknown, fallback: number, rule: NumberRule): number {
  if (value === undefined) return fallback;
  const bad = (why: string): never => {
    throw new InputError(`${detector}: ${name} must be ${why}, got ${show(value)}`);
  };
  if (typeof value !== 'number' || !Number.isFinite(value)) bad('a finite number');
  const n = value as number;
  if (rule.integer === true && !Number.isInteger(n)) bad('a whole number');
  if (rule.min !== undefined) {
    if (rule.minExclusive === true ? n <= rule.min : n < rule.min) bad(`${rule.minExclusive === true ? '>' : '>='} ${rule.min}`);
  }
  if (rule.max !== undefined && n > rule.max) bad(`<= ${rule.max}`);
  return n;
}

/** The option's value, or `fallback` when undefined; throws {@link InputError} for a non-boolean. */
export function booleanOption(detector: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InputError(`${detector}: ${name} must be a boolean, got ${show(value)}`);
  return value;
}

/** Longest cooldown: a trading day is 16 hours, so anything longer only means "once per day". */
export const MAX_COOLDOWN_MINUTES = 24 * 60;
