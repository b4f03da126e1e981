/** Options of the simulated market server, and their up-front validation. */
import { InputError } from '../errors.js';
import { DENSITIES, type Density } from './market.js';

/** Latency as a uniform range: every request waits a uniform draw from [minMs, maxMs]. */
export interface UniformLatency {
  readonly minMs: number;
  readonly maxMs: number;
}

/**
 * Latency as a log-normal distribution given by its median and 99th percentile, e.g.
 * `{ medianMs: 100, p99Ms: 600 }` for a typical internet API with a long tail. Draws are capped at
 * 4 x p99 so one request cannot wait unboundedly.
 */
export interface LognormalLatency {
  readonly medianMs: number;
  readonly p99Ms: number;
}

export type LatencyOption = UniformLatency | LognormalLatency;

/** How the simulator's quota counts requests (see {@link SimOptions.quotaMode}). */
export type QuotaMode = 'tolerant' | 'strict';

export interface SimOptions {
  /**
   * Seed of all generated data (and of fault draws). Same seed, same bytes.
   * @default 7
   */
  readonly seed?: number;
  /**
   * Interface to listen on. Keep it on loopback: the simulator has no TLS and accepts any key.
   * @default '127.0.0.1'
   */
  readonly host?: string;
  /**
   * TCP port; 0 picks a free one (read it back from {@link SimServer.url}).
   * @default 0
   */
  readonly port?: number;
  /**
   * The only valid API key. Unset: any non-empty key is accepted (a missing key is still a 401).
   * @default undefined
   */
  readonly apiKey?: string;
  /**
   * Quota in requests per second, enforced as a token bucket holding at most one second's worth of
   * tokens (`max(rate, 1)`), refilled continuously: a 1-second burst, then `rate` per second.
   * A request finding no token gets 429. Unset: no quota.
   * @default undefined
   */
  readonly rate?: number;
  /**
   * How the quota counts. `tolerant`: the token bucket above (a 1-second burst is admitted).
   * `strict`: a sliding window, like a server that counts requests over the last second: a request
   * is refused when `rate` requests were already admitted within the preceding 1000 ms (for rates
   * below 1/s: one per `1000 / rate` ms). No burst tolerance at all.
   * @default 'tolerant'
   */
  readonly quotaMode?: QuotaMode;
  /**
   * Tick density: `sparse` (the original small cap), `busy` (>= 1.5 trades/s, >= 4.5 quotes/s
   * through any 30-minute window) or `in-play` (every day in play, >= 3 trades/s, >= 10 quotes/s,
   * bursts of >= 10x around its events). Minute bars stay the exact aggregation of the trades.
   * @default 'sparse'
   */
  readonly density?: Density;
  /**
   * Whether 429 responses carry `Retry-After` (whole seconds until a token is available, at least 1).
   * The real API documents no such header, hence off by default.
   * @default false
   */
  readonly retryAfter?: boolean;
  /**
   * Added latency before each authorised, non-429 response. Unset: none.
   * @default undefined
   */
  readonly latency?: LatencyOption;
  /**
   * Probability that a request gets a 500, 502 or 503 with an ERROR body.
   * @default 0
   */
  readonly errorRate?: number;
  /**
   * Probability that the connection is destroyed without any response.
   * @default 0
   */
  readonly resetRate?: number;
  /**
   * Probability that the response headers (with the full Content-Length) and part of the body are
   * sent, then the connection is destroyed.
   * @default 0
   */
  readonly truncateRate?: number;
  /**
   * Probability that headers and part of the body are sent and then nothing more until the client
   * gives up (or the server closes): for client timeout tests.
   * @default 0
   */
  readonly stallRate?: number;
  /**
   * Probability that a page's `next_url` points back to the cursor of the page just served (the
   * same listing), so a client that does not track seen cursors loops forever.
   * @default 0
   */
  readonly repeatCursorRate?: number;
  /**
   * Probability that a request gets HTTP 200 with a `"status":"ERROR"` body instead of data (drawn
   * independently of the faults above).
   * @default 0
   */
  readonly errorBodyRate?: number;
  /**
   * Behave like a leaky proxy: every error body's `error`/`message` quotes the key the request
   * carried, and every `next_url` carries it as `apiKey=`. For tests that the client never lets
   * a key it is echoed out into an error, a log line or a page it hands on.
   * @default false
   */
  readonly echoKey?: boolean;
  /**
   * A ticker whose trades pages carry one row with a `sip_timestamp` beyond Int64 (a poison row).
   * @default undefined
   */
  readonly poisonTrades?: string;
  /**
   * How often days are "in play" (gaps, spikes, flushes, volume bursts, trends), 0..1.
   * @default 0.5
   */
  readonly eventiness?: number;
  /**
   * Number of tickers in `/v3/reference/tickers`.
   * @default 5000
   */
  readonly tickerCount?: number;
  /**
   * Worker threads that build page bodies (0: on the server's own event loop). With threads, the
   * loop that admits requests never waits for a dense page, so a `strict` quota counts requests
   * when they arrive, as a real server does; built on the loop, requests arriving during a 30 ms
   * page are admitted in a bunch and can draw 429s the client did not earn.
   * @default 1 with a strict quota (`rate` and `quotaMode: 'strict'`), else 0
   */
  readonly pageThreads?: number;
}

/** The most page threads a simulator starts. */
export const MAX_PAGE_THREADS = 16;

export interface ResolvedSimOptions {
  readonly seed: number;
  readonly host: string;
  readonly port: number;
  readonly apiKey: string | undefined;
  readonly rate: number | undefined;
  readonly quotaMode: QuotaMode;
  readonly density: Density;
  readonly retryAfter: boolean;
  readonly latency: LatencyOption | undefined;
  readonly errorRate: number;
  readonly resetRate: number;
  readonly truncateRate: number;
  readonly stallRate: number;
  readonly repeatCursorRate: number;
  readonly errorBodyRate: number;
  readonly poisonTrades: string | undefined;
  readonly echoKey: boolean;
  readonly eventiness: number;
  readonly tickerCount: number;
  readonly pageThreads: number;
}

const KNOWN = [
  'seed',
  'host',
  'port',
  'apiKey',
  'rate',
  'quotaMode',
  'density',
  'retryAfter',
  'latency',
  'errorRate',
  'resetRate',
  'truncateRate',
  'stallRate',
  'repeatCursorRate',
  'errorBodyRate',
  'poisonTrades',
  'echoKey',
  'eventiness',
  'tickerCount',
  'pageThreads',
] as const;

function show(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
  } catch {
    text = String(value);
  }
  return `${text} (${value === null ? 'null' : typeof value})`;
}

function fail(name: string, value: unknown, want: string): never {
  throw new InputError(`sim option ${name}: expected ${want}, got ${show(value)}`);
}

function num(name: string, value: unknown, min: number, max: number, integer = false): number {
  const want = `${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`;
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(name, value, want);
  if ((integer && !Number.isInteger(value)) || value < min || value > max) fail(name, value, want);
  return value;
}

function latency(value: unknown): LatencyOption {
  const want = '{ minMs, maxMs } (0 <= minMs <= maxMs) or { medianMs, p99Ms } (0 < medianMs <= p99Ms)';
  if (typeof value !== 'object' || value === null) fail('latency', value, want);
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o).sort().join(',');
  const ok = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x >= 0 && x <= 600_000;
  if (keys === 'maxMs,minMs' && ok(o.minMs) && ok(o.maxMs) && o.minMs <= o.maxMs) {
    return { minMs: o.minMs, maxMs: o.maxMs };
  }
  if (keys === 'medianMs,p99Ms' && ok(o.medianMs) && ok(o.p99Ms) && o.medianMs > 0 && o.medianMs <= o.p99Ms) {
    return { medianMs: o.medianMs, p99Ms: o.p99Ms };
  }
  return fail('latency', value, want);
}

/** Defaults applied and every value checked; throws {@link InputError} naming the bad value and its type. */
export function resolveSimOptions(opts: SimOptions): ResolvedSimOptions {
  if (typeof opts !== 'object' || opts === null) fail('(options)', opts, 'an object');
  for (const key of Object.keys(opts)) {
    if (!(KNOWN as readonly string[]).includes(key)) {
      throw new InputError(`sim option ${JSON.stringify(key)} is unknown; known options: ${KNOWN.join(', ')}`);
    }
  }
  const o = opts as Record<string, unknown>;
  const opt = <T>(name: string, fallback: T, check: (v: unknown) => T): T => (o[name] === undefined ? fallback : check(o[name]));
  const rate = (name: string) => opt(name, 0, (v) => num(name, v, 0, 1));
  const resolved: Omit<ResolvedSimOptions, 'pageThreads'> = {
    seed: opt('seed', 7, (v) => num('seed', v, 0, Number.MAX_SAFE_INTEGER, true)),
    host: opt('host', '127.0.0.1', (v) => (typeof v === 'string' && v.trim() !== '' ? v : fail('host', v, 'a host name or address'))),
    port: opt('port', 0, (v) => num('port', v, 0, 65535, true)),
    apiKey: opt<string | undefined>('apiKey', undefined, (v) =>
      typeof v === 'string' && v !== '' ? v : fail('apiKey', v, 'a non-empty string'),
    ),
    rate: opt<number | undefined>('rate', undefined, (v) =>
      typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fail('rate', v, 'requests per second above zero'),
    ),
    quotaMode: opt<QuotaMode>('quotaMode', 'tolerant', (v) =>
      v === 'tolerant' || v === 'strict' ? v : fail('quotaMode', v, "'tolerant' or 'strict'"),
    ),
    density: opt<Density>('density', 'sparse', (v) =>
      (DENSITIES as readonly unknown[]).includes(v) ? (v as Density) : fail('density', v, DENSITIES.map((d) => `'${d}'`).join(', ')),
    ),
    retryAfter: opt('retryAfter', false, (v) => (typeof v === 'boolean' ? v : fail('retryAfter', v, 'a boolean'))),
    latency: opt<LatencyOption | undefined>('latency', undefined, latency),
    errorRate: rate('errorRate'),
    resetRate: rate('resetRate'),
    truncateRate: rate('truncateRate'),
    stallRate: rate('stallRate'),
    repeatCursorRate: rate('repeatCursorRate'),
    errorBodyRate: rate('errorBodyRate'),
    echoKey: opt('echoKey', false, (v) => (typeof v === 'boolean' ? v : fail('echoKey', v, 'a boolean'))),
    poisonTrades: opt<string | undefined>('poisonTrades', undefined, (v) =>
      typeof v === 'string' && /^[A-Za-z0-9.:-]{1,20}$/.test(v) ? v : fail('poisonTrades', v, 'a ticker'),
    ),
    eventiness: opt('eventiness', 0.5, (v) => num('eventiness', v, 0, 1)),
    tickerCount: opt('tickerCount', 5000, (v) => num('tickerCount', v, 1, 100_000, true)),
  };
  const strictQuota = resolved.rate !== undefined && resolved.quotaMode === 'strict';
  const pageThreads = opt('pageThreads', strictQuota ? 1 : 0, (v) => num('pageThreads', v, 0, MAX_PAGE_THREADS, true));
  const faults = resolved.errorRate + resolved.resetRate + resolved.truncateRate + resolved.stallRate;
  if (faults > 1 + 1e-12) {
    throw new InputError(
      `sim options errorRate + resetRate + truncateRate + stallRate: expected at most 1 in total (they are exclusive outcomes of one draw), got ${faults} (number)`,
    );
  }
  return { ...resolved, pageThreads };
}
