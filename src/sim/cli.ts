/** `tickpipe sim`: serve the simulated market until SIGINT/SIGTERM. */
import { UsageError } from '../errors.js';
import { parseCommandLine, parseDuration, parseIntInRange, parseLatencyRange, parseProbability, parseRate } from '../args.js';
import { startSim } from './index.js';
import { MAX_PAGE_THREADS, type LatencyOption, type SimOptions } from './options.js';
import { DENSITIES } from './market.js';

export const SIM_HELP = `Usage: tickpipe sim [options]

Serve a deterministic, Polygon-compatible market on loopback (aggregates v2, trades v3, quotes v3,
reference tickers v3) until SIGINT/SIGTERM. Prints one line: "tickpipe sim listening on URL".

Options:
  --port N                 TCP port, 0 picks a free one (default 0)
  --host ADDR              interface to listen on (default 127.0.0.1)
  --seed N                 seed of all generated data (default 7)
  --rate R                 quota, e.g. 100/s or 5/min: a token bucket holding one second's worth,
                           429 beyond it (default: no quota)
  --quota-mode M           tolerant (token bucket, a 1-second burst passes) or strict (sliding
                           1-second window, no burst tolerance) (default tolerant)
  --density D              sparse, busy (>= 1.5 trades/s, 4.5 quotes/s) or in-play (>= 3 trades/s,
                           10 quotes/s, 10x bursts around events) (default sparse)
  --retry-after            send Retry-After (whole seconds) with 429 responses
  --latency L              added latency: a range 50ms..400ms (uniform), a fixed 100ms,
                           or median=100ms,p99=600ms (log-normal)
  --error-rate P           probability of a 500/502/503 (default 0)
  --reset-rate P           probability of a connection reset without response (default 0)
  --truncate-rate P        probability of a body cut short (default 0)
  --stall-rate P           probability of a body that stalls forever (default 0)
  --repeat-cursor-rate P   probability that a next_url repeats the current cursor (default 0)
  --error-body-rate P      probability of HTTP 200 with a "status":"ERROR" body (default 0)
  --poison-trades TICKER   trades pages of TICKER carry a sip_timestamp beyond Int64
  --eventiness X           0..1, how often days are in play: gaps, spikes, flushes (default 0.5)
  --tickers N              size of the reference ticker list (default 5000)
  --api-key KEY            the only valid key (default: any non-empty key)
  --page-threads N         threads that build page bodies, 0 builds them on the thread that admits
                           requests (default 1 with --quota-mode strict and a --rate, else 0)
  -h, --help               show this help`;

const FLAGS = {
  port: { type: 'string' },
  host: { type: 'string' },
  seed: { type: 'string' },
  rate: { type: 'string' },
  'retry-after': { type: 'boolean' },
  'quota-mode': { type: 'string' },
  density: { type: 'string' },
  latency: { type: 'string' },
  'error-rate': { type: 'string' },
  'reset-rate': { type: 'string' },
  'truncate-rate': { type: 'string' },
  'stall-rate': { type: 'string' },
  'repeat-cursor-rate': { type: 'string' },
  'error-body-rate': { type: 'string' },
  'poison-trades': { type: 'string' },
  eventiness: { type: 'string' },
  tickers: { type: 'string' },
  'api-key': { type: 'string' },
  'page-threads': { type: 'string' },
} as const;

function choice<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`${flag}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(value)} (string)`);
}

/** `50ms..400ms`, `100ms`, or `median=100ms,p99=600ms`. */
export function parseLatencyOption(flag: string, value: string): LatencyOption {
  const m = /^\s*(?:median|p50)\s*=\s*([^,]+),\s*p99\s*=\s*(.+)$/i.exec(value);
  if (!m) return parseLatencyRange(flag, value);
  const medianMs = parseDuration(flag, m[1]!);
  const p99Ms = parseDuration(flag, m[2]!);
  if (!(medianMs > 0) || p99Ms < medianMs) {
    throw new UsageError(`${flag}: expected median=DURATION,p99=DURATION with 0 < median <= p99, got ${JSON.stringify(value)} (string)`);
  }
  return { medianMs, p99Ms };
}

export interface SimIo {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Stops the server like SIGINT would (for embedding and tests). */
  signal?: AbortSignal;
}

/** Runs `tickpipe sim`; resolves 0 after a signal closed the server. Bad flags throw UsageError. */
export async function simMain(argv: string[], io: SimIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const parsed = parseCommandLine('sim', argv, FLAGS, SIM_HELP, (text) => stdout.write(text));
  if (parsed === undefined) return 0;
  const v = parsed.values;
  const prob = (flag: keyof typeof FLAGS): number | undefined => {
    const raw = v[flag];
    return typeof raw === 'string' ? parseProbability(`--${flag}`, raw) : undefined;
  };
  const opts: SimOptions = {
    port: v.port === undefined ? 0 : parseIntInRange('--port', v.port, 0, 65535),
    host: v.host ?? '127.0.0.1',
    seed: v.seed === undefined ? 7 : parseIntInRange('--seed', v.seed, 0),
    ...(v.rate !== undefined ? { rate: parseRate('--rate', v.rate) } : {}),
    retryAfter: v['retry-after'] === true,
    ...(v['quota-mode'] !== undefined ? { quotaMode: choice('--quota-mode', v['quota-mode'], ['tolerant', 'strict'] as const) } : {}),
    ...(v.density !== undefined ? { density: choice('--density', v.density, DENSITIES) } : {}),
    ...(v.latency !== undefined ? { latency: parseLatencyOption('--latency', v.latency) } : {}),
    errorRate: prob('error-rate') ?? 0,
    resetRate: prob('reset-rate') ?? 0,
    truncateRate: prob('truncate-rate') ?? 0,
    stallRate: prob('stall-rate') ?? 0,
    repeatCursorRate: prob('repeat-cursor-rate') ?? 0,
    errorBodyRate: prob('error-body-rate') ?? 0,
    ...(v['poison-trades'] !== undefined ? { poisonTrades: v['poison-trades'] } : {}),
    eventiness: prob('eventiness') ?? 0.5,
    ...(v.tickers !== undefined ? { tickerCount: parseIntInRange('--tickers', v.tickers, 1, 100_000) } : {}),
    ...(v['api-key'] !== undefined ? { apiKey: v['api-key'] } : {}),
    ...(v['page-threads'] !== undefined ? { pageThreads: parseIntInRange('--page-threads', v['page-threads'], 0, MAX_PAGE_THREADS) } : {}),
  };
  if (v['api-key'] === '') throw new UsageError('--api-key: expected a non-empty key, got "" (string)');

  const sim = await startSim(opts);
  // Listeners go in before the line is printed: whoever reads the line may signal at once.
  const stopped = new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      io.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (io.signal?.aborted) stop();
    else io.signal?.addEventListener('abort', stop);
  });
  stdout.write(`tickpipe sim listening on ${sim.url}\n`);
  await stopped;
  await sim.close();
  return 0;
}
