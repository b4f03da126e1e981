import { ProtocolError } from '../errors.js';

/*
 * JSON.parse rounds integers above 2^53 and Node 20's reviver gets no source text, so the integer
 * literals of `*_timestamp` keys are turned into marked strings before parsing and into bigint after.
 *
 * Text inside a string value can never match: a quote inside a JSON string is escaped, so
 * `_timestamp"` with the quote right after the `p` can only be the real end of a string, and a
 * string followed by a colon is a key.
 * A replacement string (not a callback) keeps the pass in the regex engine: ~3x faster.
 */
const TS_LITERAL = /_timestamp"(\s*:\s*)(-?(?:0|[1-9]\d*))(?=\s*[,}\]])/g;
// Vertical tab: a control character can't appear raw in JSON text, so a decoded value starting with
// it came from our escape (short of a server sending "\u000b…" itself); and BigInt() skips it as
// white space, which saves a slice per value.
const MARK_CODE = 0x0b;
const REPLACEMENT = '_timestamp"$1"\\u000b$2"';

export interface LosslessParseOptions {
  /** Message prefix of the ProtocolError (e.g. the request path, never with its query). */
  readonly context?: string;
  /** HTTP status to attach to the ProtocolError. */
  readonly status?: number;
}

/**
 * Parses JSON text, returning every integer value of a key ending in `_timestamp` as an exact
 * bigint. Malformed or truncated text throws {@link ProtocolError}.
 *
 * @example
 * losslessParse('{"sip_timestamp":1700000000123456789}').sip_timestamp === 1700000000123456789n
 */
export function losslessParse(text: string, options: LosslessParseOptions = {}): any {
  // Aggregates and error bodies carry no such key: skip the pass.
  const prepared = text.includes('_timestamp"') ? text.replace(TS_LITERAL, REPLACEMENT) : text;
  const marked = prepared.length !== text.length;
  let value: unknown;
  try {
    value = JSON.parse(prepared);
  } catch (err) {
    const ctx = options.context ? `${options.context}: ` : '';
    const why = text.length === 0 ? 'empty body' : `malformed or truncated JSON (${text.length} chars)`;
    throw new ProtocolError(`${ctx}${why}: ${(err as Error).message}`, options.status);
  }
  if (marked) restore(value);
  return value;
}

/** In-place: marked strings under `*_timestamp` keys become bigint. */
function restore(node: unknown): void {
  if (node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const v = node[i];
      if (v !== null && typeof v === 'object') restore(v);
    }
    return;
  }
  const obj = node as Record<string, unknown>;
  for (const k in obj) {
    const v = obj[k];
    if (typeof v === 'object') {
      if (v !== null) restore(v);
    } else if (typeof v === 'string' && v.charCodeAt(0) === MARK_CODE && k.endsWith('_timestamp')) {
      obj[k] = toBigInt(v);
    }
  }
}

function toBigInt(v: string): bigint | string {
  try {
    return BigInt(v);
  } catch {
    return v; // a genuine string that happened to start with \v
  }
}

/** JSON.stringify that writes bigint as a bare integer literal (the inverse of {@link losslessParse}). */
export function losslessStringify(value: unknown): string {
  const BIG = '\u0002big:';
  const s = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${BIG}${v}` : v));
  return s.replace(/"\\u0002big:(-?\d+)"/g, '$1');
}
