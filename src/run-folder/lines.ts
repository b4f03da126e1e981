/**
 * The journal lines of a run folder: one type and one validator each. Writers (the sinks) append
 * values of these types; readers check parsed lines with the `as…` functions (undefined: not a line
 * of that kind) or the `check…` ones (throw InputError naming the place). The on-disk format is
 * what tickpipe has always written (old folders still read): changing a field here is the one edit.
 *
 * ```
 * state/detect/worker-K.jsonl      {"shard":"shard-000000.parquet","symbols":["AAPL","MSFT"],"rows":12}
 *                                  {"shard":null,"symbols":["ZZZ"],"rows":0}   (a batch without events)
 * state/ingest/part-K.jsonl        {"event":"ID","symbol":"S","trades":N,"quotes":M}
 * state/ingest/part-K.failed.jsonl {"event":"ID","symbol":"S","status":404|null,"code":"E_…","reason":"…","at":"ISO"}
 * state/compact/compact.jsonl      {"symbol":"S","part":0,"events":["ID",…],"trades":N,"quotes":M}
 * ```
 *
 * Imports only leaves (errors, path validation, layout), so the sinks may import it.
 */
import { InputError } from '../errors.js';
import { validateEventId, validateSymbol } from '../fs/paths.js';
import { SHARD_FILE_RE } from './layout.js';

/** One line of `state/detect/worker-K.jsonl`: the commit of one batch of symbols. */
export interface ShardJournalLine {
  /** Shard file name in the worker folder, or null for a batch without events (no file). */
  readonly shard: string | null;
  /** Every symbol of the batch, including those without events. */
  readonly symbols: readonly string[];
  readonly rows: number;
}

/** One line of `state/ingest/part-K.jsonl`: the commit of one window. */
export interface WindowJournalLine {
  readonly event: string;
  readonly symbol: string;
  readonly trades: number;
  readonly quotes: number;
}

/** One line of `state/ingest/part-K.failed.jsonl`: a permanent failure of one window. */
export interface WindowFailureLine {
  readonly event: string;
  readonly symbol: string;
  readonly status: number | null;
  readonly code: string;
  readonly reason: string;
  /** When it failed (informational). */
  readonly at: string;
}

/**
 * One line of `state/compact/compact.jsonl`: part `part` of `symbol` holds exactly the windows
 * `events` (sorted by event time, then ID), with `trades` and `quotes` rows. Appending it is the
 * commit point of that part.
 */
export interface CompactionLine {
  readonly symbol: string;
  readonly part: number;
  readonly events: readonly string[];
  readonly trades: number;
  readonly quotes: number;
}

const isCount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

/** A stage-1 line, if `v` has that shape. */
export function asShardLine(v: unknown): ShardJournalLine | undefined {
  const l = v as { shard?: unknown; symbols?: unknown; rows?: unknown } | null;
  if (l === null || typeof l !== 'object') return undefined;
  const shardOk = l.shard === null || (typeof l.shard === 'string' && SHARD_FILE_RE.test(l.shard));
  const symbolsOk = Array.isArray(l.symbols) && l.symbols.every((s) => typeof s === 'string');
  return shardOk && symbolsOk && isCount(l.rows) ? (l as ShardJournalLine) : undefined;
}

/** A stage-1 line, or an InputError naming `where` (file and entry). */
export function checkShardLine(v: unknown, where: string): ShardJournalLine {
  const l = asShardLine(v);
  if (!l) throw new InputError(`${where} is not a shard journal line: ${JSON.stringify(v)?.slice(0, 200)}`);
  return l;
}

/** A stage-2 line, if `v` has that shape. */
export function asWindowLine(v: unknown): WindowJournalLine | undefined {
  const l = v as { event?: unknown; symbol?: unknown; trades?: unknown; quotes?: unknown } | null;
  if (l === null || typeof l !== 'object') return undefined;
  return typeof l.event === 'string' && typeof l.symbol === 'string' && isCount(l.trades) && isCount(l.quotes) ? (l as WindowJournalLine) : undefined;
}

/**
 * A failure line, if `v` names an event. Lenient on the other fields (older versions wrote fewer):
 * a missing code reads as `unknown`, a missing reason as '', a missing status as null.
 */
export function asFailureLine(v: unknown): WindowFailureLine | undefined {
  const l = v as Partial<Record<keyof WindowFailureLine, unknown>> | null;
  if (l === null || typeof l !== 'object' || typeof l.event !== 'string') return undefined;
  return {
    event: l.event,
    symbol: typeof l.symbol === 'string' ? l.symbol : '',
    status: typeof l.status === 'number' ? l.status : null,
    code: l.code === undefined || l.code === null ? 'unknown' : String(l.code),
    reason: l.reason === undefined || l.reason === null ? '' : String(l.reason),
    at: typeof l.at === 'string' ? l.at : '',
  };
}

/** A compaction line, or an InputError naming `where` (file and line). */
export function validateCompactionLine(v: unknown, where: string): CompactionLine {
  const bad = (what: string): never => {
    throw new InputError(`${where}: invalid compaction line (${what})`);
  };
  if (!v || typeof v !== 'object') return bad('not an object');
  const o = v as Record<string, unknown>;
  if (typeof o['symbol'] !== 'string') bad('no symbol');
  if (!isCount(o['part'])) bad('no part number');
  if (!Array.isArray(o['events']) || !(o['events'] as unknown[]).every((e) => typeof e === 'string')) bad('no events list');
  for (const k of ['trades', 'quotes']) if (!isCount(o[k])) bad(`no ${k} count`);
  validateSymbol(o['symbol'] as string);
  for (const e of o['events'] as string[]) validateEventId(e);
  return o as unknown as CompactionLine;
}
