import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** The `values` and `positionals` of a strict parse with `options`. */
export type ParsedFlags<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: boolean }>>;

/**
 * Strict flag parsing for one command: unknown flags and missing values become a
 * {@link UsageError} naming the flag.
 */
export function parseFlags<O extends Options>(
  command: string,
  argv: readonly string[],
  options: O,
  allowPositionals = false,
): ParsedFlags<O> {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    // node's messages are long and multi-line; keep the first sentence.
    const first = msg.split('\n')[0]!.replace(/\. To specify a positional argument.*$/, '');
    // main() already prefixes "tickpipe <command>:"; the hint keeps the command for other callers.
    throw new UsageError(`${first} (see tickpipe ${command} --help)`, { cause: err });
  }
}

function bad(flag: string, value: unknown, want: string): never {
  throw new UsageError(`${flag}: expected ${want}, got ${JSON.stringify(value)} (${typeof value})`);
}

/** `"100/s"`, `"6000/min"`, `"100"` (per second) → requests per second. */
export function parseRate(flag: string, value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|sec|second|m|min|minute))?\s*$/i.exec(value);
  if (!m) bad(flag, value, 'a rate like 100/s or 5/min');
  const n = Number(m[1]);
  const perMin = m[2] !== undefined && /^m/i.test(m[2]);
  const rate = perMin ? n / 60 : n;
  if (!(rate > 0) || !Number.isFinite(rate)) bad(flag, value, 'a rate above zero');
  return rate;
}

/** `"250ms"`, `"2s"`, `"1.5m"`, `"300"` (ms) → milliseconds. */
export function parseDuration(flag: string, value: string): number {
  const m = /^\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$/i.exec(value);
  if (!m) bad(flag, value, 'a duration like 250ms, 2s or 10m');
  const n = Number(m[1]);
  const unit = (m[2] ?? 'ms').toLowerCase();
  const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'h' ? 3_600_000 : 60_000;
  return n * factor;
}

/** `"50ms..400ms"` → `{ minMs, maxMs }`; a single duration gives a fixed latency. */
export function parseLatencyRange(flag: string, value: string): { minMs: number; maxMs: number } {
  const parts = value.split('..');
  if (parts.length > 2) bad(flag, value, 'a latency like 50ms..400ms');
  const minMs = parseDuration(flag, parts[0]!);
  const maxMs = parts.length === 2 ? parseDuration(flag, parts[1]!) : minMs;
  if (minMs < 0 || maxMs < minMs) bad(flag, value, 'a latency range with 0 <= min <= max');
  return { minMs, maxMs };
}

/** A probability in [0, 1]. */
export function parseProbability(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) bad(flag, value, 'a number from 0 to 1');
  return n;
}

/** A whole number in [min, max]. */
export function parseIntInRange(flag: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\s*-?\d+\s*$/.test(value)) bad(flag, value, `a whole number from ${min} to ${max}`);
  const n = Number(value);
  if (n < min || n > max) bad(flag, value, `a whole number from ${min} to ${max}`);
  return n;
}
