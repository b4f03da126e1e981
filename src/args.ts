import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';

/** A command's flag definitions, as node's `parseArgs` takes them. */
export type FlagDefinitions = NonNullable<ParseArgsConfig['options']>;

/** The `values` and `positionals` of a strict parse with `options`. */
export type ParsedFlags<O extends FlagDefinitions> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: boolean }>>;

/**
 * Strict flag parsing for one command: unknown flags and missing values become a
 * {@link UsageError} naming the flag.
 */
export function parseFlags<O extends FlagDefinitions>(
  command: string,
  argv: readonly string[],
  options: O,
  allowPositionals = false,
): ParsedFlags<O> {
  try {
    return parseArgs({ args: joinDashValues(argv, options), options, strict: true, allowPositionals });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    // node's messages are long and multi-line; keep the first sentence.
    const first = msg.split('\n')[0]!.replace(/\. To specify a positional argument.*$/, '');
    const unknown = /^Unknown option '(--?[^']+)'/.exec(first)?.[1];
    const guess = unknown === undefined ? undefined : closestFlag(unknown, Object.keys(options));
    const hint = guess === undefined ? '' : `; did you mean --${guess}?`;
    // main() already prefixes "tickpipe <command>:"; the hint keeps the command for other callers.
    throw new UsageError(`${first}${hint} (see tickpipe ${command} --help)`, { cause: err });
  }
}

/** `-h, --help`, which every command has; always last among a command's flags. */
export const HELP_FLAG = { help: { type: 'boolean', short: 'h' } } as const;

/**
 * A command line's flags with `-h/--help` added, or `undefined` when help was asked for: then
 * `help` (and a newline) has been written. Bad flags throw {@link UsageError} as in {@link parseFlags}.
 */
export function parseCommandLine<O extends FlagDefinitions>(
  command: string,
  argv: readonly string[],
  options: O,
  help: string,
  write: (text: string) => unknown,
  allowPositionals = false,
): ParsedFlags<O & typeof HELP_FLAG> | undefined {
  const parsed = parseFlags(command, argv, { ...options, ...HELP_FLAG }, allowPositionals);
  // Within this generic body TypeScript cannot resolve the values' type to see `help`.
  if ((parsed.values as { help?: boolean }).help !== true) return parsed;
  write(help + '\n');
  return undefined;
}

/**
 * `--window -10m,+20m` → `--window=-10m,+20m`. node's parseArgs refuses a string flag's value that
 * starts with `-` as "ambiguous"; a value is taken as such unless it is itself one of the command's
 * flags (then the flag really has no value, and parseArgs says so).
 */
export function joinDashValues(argv: readonly string[], options: FlagDefinitions): string[] {
  const out: string[] = [];
  const shorts = new Map(Object.entries(options).flatMap(([name, o]) => (o.short ? [[o.short, name] as const] : [])));
  const isFlag = (a: string): boolean => {
    if (a.startsWith('--')) return a === '--' || Object.hasOwn(options, a.slice(2).split('=')[0]!);
    return a.length === 2 && shorts.has(a[1]!);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : a.length === 2 && a[0] === '-' ? shorts.get(a[1]!) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && next.startsWith('-') && !isFlag(next)) {
      out.push(`--${name}=${next}`);
      i++;
      continue;
    }
    out.push(a);
  }
  return out;
}

/** The known flag nearest to a mistyped one (edit distance ≤ 2, or a prefix), for "did you mean". */
export function closestFlag(typed: string, known: readonly string[]): string | undefined {
  const t = typed.replace(/^-+/, '').split('=')[0]!.toLowerCase();
  let best: { name: string; d: number } | undefined;
  for (const name of known) {
    const d = name.startsWith(t) && t.length >= 3 ? 1 : editDistance(t, name);
    if (d <= 2 && d < name.length && (!best || d < best.d)) best = { name, d };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
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
