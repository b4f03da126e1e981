import * as crypto from 'node:crypto';
import { InputError } from '../errors.js';

/**
 * A UTC instant at Python `datetime` precision: whole seconds since the epoch (floored) plus
 * microseconds within that second (0–999,999).
 */
export interface UtcInstant {
  readonly epochSeconds: number;
  readonly micros: number;
}

/**
 * What {@link canonicalEventId} accepts as a time:
 * - `number`: Unix **milliseconds** (the unit of `EventRow.timestamp` and of manifests), whole.
 * - `bigint`: Unix **nanoseconds** (the unit of Polygon's `sip_timestamp`), floored to microseconds.
 * - `Date`: its millisecond instant.
 * - `string`: parsed as the Python pipeline did, see {@link parsePythonTimestamp}.
 */
export type TimestampInput = number | bigint | Date | string;

// Python's datetime covers years 1..9999; outside that its code raised, so ours does too.
const MIN_SECONDS = -62135596800; // 0001-01-01T00:00:00Z
const MAX_SECONDS = 253402300799; // 9999-12-31T23:59:59Z

function daysFromCivil(y: number, m: number, d: number): number {
  // Howard Hinnant's algorithm: exact for the proleptic Gregorian calendar Python uses,
  // where Date.UTC would remap years 0–99 to 1900–1999.
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(m) ? 30 : 31;
}

function checkRange(inst: UtcInstant, shown: string): UtcInstant {
  if (inst.epochSeconds < MIN_SECONDS || inst.epochSeconds > MAX_SECONDS) {
    throw new InputError(`timestamp ${shown} is outside years 1–9999`);
  }
  return inst;
}

function badTimestamp(raw: string, why: string): InputError {
  return new InputError(`invalid timestamp ${JSON.stringify(raw)}: ${why}`);
}

// Python 3.11 datetime.fromisoformat: date (extended or basic), any one-character separator,
// time HH[:MM[:SS[.f…]]] or basic HHMM[SS[.f…]], fraction with '.' or ',' (truncated to µs),
// offset ±HH[:MM[:SS[.ffffff]]] or basic. ISO week dates and ordinal dates are not supported here.
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$|^(\d{4})(\d{2})(\d{2})$/;
const ISO_TIME =
  /^(\d{2})(?:(:?)(\d{2})(?:\2(\d{2})(?:[.,](\d+))?)?)?(?:([+-])(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?)?)?$/;
const STRPTIME = /^(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2})$/;

interface Fields {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
  us: number;
  offsetSeconds: number;
  offsetMicros: number;
}

function fieldsToInstant(raw: string, f: Fields): UtcInstant {
  if (f.y < 1 || f.mo < 1 || f.mo > 12 || f.d < 1 || f.d > daysInMonth(f.y, f.mo)) {
    throw badTimestamp(raw, 'no such date');
  }
  if (f.h > 23 || f.mi > 59 || f.s > 59) throw badTimestamp(raw, 'no such time of day');
  const local = daysFromCivil(f.y, f.mo, f.d) * 86400 + f.h * 3600 + f.mi * 60 + f.s;
  // Subtracting the offset turns wall time into UTC (astimezone(timezone.utc)).
  let micros = f.us - f.offsetMicros;
  let secs = local - f.offsetSeconds;
  if (micros < 0) {
    micros += 1_000_000;
    secs -= 1;
  }
  return checkRange({ epochSeconds: secs, micros }, JSON.stringify(raw));
}

function parseFromIso(raw: string): Fields | undefined {
  const s = raw.replaceAll('Z', '+00:00');
  let datePart: string;
  let timePart: string | undefined;
  if (s.length > 10 && /^\d{4}-/.test(s)) {
    datePart = s.slice(0, 10);
    timePart = s.slice(11);
  } else if (s.length > 8 && /^\d{8}/.test(s)) {
    datePart = s.slice(0, 8);
    timePart = s.slice(9);
  } else {
    datePart = s;
  }
  const dm = ISO_DATE.exec(datePart);
  if (!dm) return undefined;
  const y = Number(dm[1] ?? dm[4]);
  const mo = Number(dm[2] ?? dm[5]);
  const d = Number(dm[3] ?? dm[6]);
  const f: Fields = { y, mo, d, h: 0, mi: 0, s: 0, us: 0, offsetSeconds: 0, offsetMicros: 0 };
  if (timePart === undefined) return f;
  const tm = ISO_TIME.exec(timePart);
  if (!tm) return undefined;
  f.h = Number(tm[1]);
  f.mi = Number(tm[3] ?? 0);
  f.s = Number(tm[4] ?? 0);
  if (tm[5] !== undefined) f.us = Number(tm[5].slice(0, 6).padEnd(6, '0'));
  if (tm[6] !== undefined) {
    const sign = tm[6] === '-' ? -1 : 1;
    const oh = Number(tm[7]);
    const om = Number(tm[8] ?? 0);
    const os = Number(tm[9] ?? 0);
    if (om > 59 || os > 59) return undefined;
    const ous = tm[10] === undefined ? 0 : Number(tm[10].padEnd(6, '0'));
    const total = oh * 3600 + om * 60 + os;
    if (total >= 86400) return undefined; // Python: offset must be strictly less than 24 hours
    f.offsetSeconds = sign * total;
    f.offsetMicros = sign * ous;
  }
  return f;
}

/**
 * Parses a timestamp string exactly as the Python pipeline did:
 * `datetime.fromisoformat(s.replace("Z", "+00:00"))` (Python 3.11 rules), falling back to
 * `strptime(s, "%Y-%m-%d %H:%M:%S")`; naive times are UTC, offsets are converted to UTC, fractions
 * beyond microseconds are truncated.
 *
 * @example
 * parsePythonTimestamp('2023-12-07T08:02:00-05:00'); // { epochSeconds: 1701954120, micros: 0 }
 * @throws {InputError} when neither form matches or the date does not exist.
 */
export function parsePythonTimestamp(raw: string): UtcInstant {
  if (typeof raw !== 'string') throw new InputError(`invalid timestamp ${String(raw)} (${typeof raw}): expected a string`);
  const iso = parseFromIso(raw);
  if (iso) return fieldsToInstant(raw, iso);
  const m = STRPTIME.exec(raw);
  if (m) {
    return fieldsToInstant(raw, {
      y: Number(m[1]),
      mo: Number(m[2]),
      d: Number(m[3]),
      h: Number(m[4]),
      mi: Number(m[5]),
      s: Number(m[6]),
      us: 0,
      offsetSeconds: 0,
      offsetMicros: 0,
    });
  }
  throw badTimestamp(raw, 'expected ISO 8601 (as Python datetime.fromisoformat reads it) or "YYYY-MM-DD HH:MM:SS"');
}

/**
 * Converts any {@link TimestampInput} to a microsecond-precision UTC instant.
 * @throws {InputError} for non-integer or non-finite milliseconds, invalid dates, unparsable strings.
 */
export function toUtcInstant(ts: TimestampInput): UtcInstant {
  if (typeof ts === 'string') return parsePythonTimestamp(ts);
  if (typeof ts === 'bigint') {
    let us = ts / 1000n;
    if (ts % 1000n < 0n) us -= 1n; // floor, as Python's timedelta(microseconds=ns // 1000)
    let sec = us / 1_000_000n;
    let micros = us % 1_000_000n;
    if (micros < 0n) {
      micros += 1_000_000n;
      sec -= 1n;
    }
    return checkRange({ epochSeconds: Number(sec), micros: Number(micros) }, `${ts}n ns`);
  }
  const ms = ts instanceof Date ? ts.getTime() : ts;
  if (typeof ms !== 'number' || !Number.isSafeInteger(ms)) {
    const shown = ts instanceof Date ? 'Invalid Date' : `${String(ts)} (${typeof ts})`;
    throw new InputError(`invalid timestamp ${shown}: expected whole Unix milliseconds`);
  }
  const sec = Math.floor(ms / 1000);
  return checkRange({ epochSeconds: sec, micros: (ms - sec * 1000) * 1000 }, `${ms} ms`);
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

interface Formatted {
  /** Python `isoformat()` of the aware UTC datetime. */
  readonly iso: string;
  /** `strftime('%Y%m%d_%H%M%S')`. */
  readonly stamp: string;
}

// Manifests are sorted by (symbol, time), so consecutive rows share a day: remembering the last
// day's date string halves the cost of formatting.
let lastDay = Number.NaN;
let lastDate = '';
let lastCompact = '';

function format(inst: UtcInstant): Formatted {
  const day = Math.floor(inst.epochSeconds / 86400);
  if (day !== lastDay) {
    const d = new Date(day * 86400000);
    lastDate = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
    lastCompact = lastDate.replaceAll('-', '');
    lastDay = day;
  }
  const tod = inst.epochSeconds - day * 86400;
  const h = Math.floor(tod / 3600);
  const m = Math.floor((tod % 3600) / 60);
  const sec = tod % 60;
  const hh = h < 10 ? `0${h}` : `${h}`;
  const mm = m < 10 ? `0${m}` : `${m}`;
  const ss = sec < 10 ? `0${sec}` : `${sec}`;
  const frac = inst.micros === 0 ? '' : `.${pad(inst.micros, 6)}`;
  // %Y on glibc does not zero-pad years below 1000; no market data is that old, so pad like isoformat.
  return { iso: `${lastDate}T${hh}:${mm}:${ss}${frac}+00:00`, stamp: `${lastCompact}_${hh}${mm}${ss}` };
}

// crypto.hash (Node >= 20.12) is a one-shot digest ~2.5x cheaper than createHash per call.
const sha1Hex: (s: string) => string =
  typeof (crypto as { hash?: unknown }).hash === 'function'
    ? (s) => (crypto as unknown as { hash(alg: string, data: string): string }).hash('sha1', s)
    : (s) => crypto.createHash('sha1').update(s, 'utf8').digest('hex');

/**
 * The UTC time as Python's `datetime.isoformat()` writes an aware UTC datetime:
 * `2023-12-07T13:02:00+00:00`, with `.ffffff` only when microseconds are non-zero.
 *
 * @example
 * pythonIsoformat(1701954120123); // '2023-12-07T13:02:00.123000+00:00'
 */
export function pythonIsoformat(ts: TimestampInput | UtcInstant): string {
  return format(isInstant(ts) ? ts : toUtcInstant(ts)).iso;
}

function isInstant(ts: unknown): ts is UtcInstant {
  return typeof ts === 'object' && ts !== null && !(ts instanceof Date) && 'epochSeconds' in ts;
}

/**
 * The canonical event ID, byte-compatible with the Python pipelines:
 * `{symbol}_{eventType}_{YYYYMMDD_HHMMSS}_{hash8}`, hash8 = first 8 hex digits of
 * sha1(`{symbol}|{eventType}|{pythonIsoformat(ts)}`).
 *
 * The inputs are not validated here (the Python code did not either); callers that turn IDs into
 * paths validate symbol and event type first, as `readManifest` does.
 *
 * @example
 * canonicalEventId('AAPL', 'orb_break', '2023-12-07T13:02:00Z');
 * // 'AAPL_orb_break_20231207_130200_41ff7a70'
 */
export function canonicalEventId(symbol: string, eventType: string, ts: TimestampInput | UtcInstant): string {
  return canonicalEventIdWithIso(symbol, eventType, ts).eventId;
}

/** {@link canonicalEventId} plus the isoformat string it hashed, computed once. */
export function canonicalEventIdWithIso(
  symbol: string,
  eventType: string,
  ts: TimestampInput | UtcInstant,
): { eventId: string; iso: string } {
  const { iso, stamp } = format(isInstant(ts) ? ts : toUtcInstant(ts));
  const hash8 = sha1Hex(`${symbol}|${eventType}|${iso}`).slice(0, 8);
  return { eventId: `${symbol}_${eventType}_${stamp}_${hash8}`, iso };
}

/**
 * {@link canonicalEventId} of an instant given as its parts, for the manifest's hot loop (no
 * intermediate instant object; the isoformat string is not returned).
 */
export function canonicalEventIdAt(symbol: string, eventType: string, epochSeconds: number, micros: number): string {
  const { iso, stamp } = format({ epochSeconds, micros });
  return `${symbol}_${eventType}_${stamp}_${sha1Hex(`${symbol}|${eventType}|${iso}`).slice(0, 8)}`;
}
