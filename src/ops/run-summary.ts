/**
 * The table `tickpipe run` prints at the end: what is in the run folder, how fast it went against
 * the configured rate (and the server's quota when it is known), whether the run was stopped and
 * what is left, where the output is and what to run next.
 */
import type { RunSummary } from './summary.js';
import { thousands } from '../progress/format.js';

/** How a run ended early. */
export interface StopInfo {
  readonly signal: NodeJS.Signals;
  /** The stage that was running when the signal came. */
  readonly stage: 'detect' | 'ingest';
}

export interface SummaryContext {
  readonly out: string;
  /** The configured client rate, req/s. */
  readonly rate: number;
  /** The server's quota when known (the embedded simulator's). */
  readonly quota: number | undefined;
  readonly adaptive: boolean;
  readonly stop: StopInfo | undefined;
  readonly partitioned: boolean;
  /** The run folder has a compacted dataset (`dataset/`): the Output line names it. @default false */
  readonly dataset?: boolean;
  /** The folder holds events/events.parquet (not so for an ingest over a `--manifest` elsewhere). @default true */
  readonly manifestInFolder?: boolean;
  /** Lines printed between the table and what to run next (a cluster run: what each host committed). */
  readonly details?: readonly string[];
}

const fmt = thousands; // toLocaleString's first call loads ICU data (~130 ms of a start)

/**
 * Fewer requests than this many seconds at --rate measure start-up, not the rate: a resume that
 * had 3 windows left showed "share of --rate 16.2%". The shares are then `-`.
 */
const FEW_REQUESTS_SECONDS = 2;

function rateRows(s: RunSummary, c: SummaryContext): Array<[string, string]> {
  const limited = `${fmt(s.rateLimited)} 429s = ${(s.rateLimitedShare * 100).toFixed(2)}%`;
  if (s.quotaShare === undefined) {
    return [['requests/s', `- (${fmt(s.requests)} requests, ${limited}; nothing was downloaded)`]];
  }
  const rows: Array<[string, string]> = [['requests/s', `${s.requestsPerSec.toFixed(1)} while not paused (${fmt(s.requests)} requests, ${limited})`]];
  if (s.requests < c.rate * FEW_REQUESTS_SECONDS) {
    rows.push(['share of --rate', `- (${fmt(s.requests)} requests: too few to measure against ${Math.round(c.rate * 10) / 10} req/s)`]);
    return rows;
  }
  rows.push(['share of --rate', `${((s.requestsPerSec / c.rate) * 100).toFixed(1)}% of ${Math.round(c.rate * 10) / 10} req/s`]);
  if (c.quota !== undefined) rows.push(['share of quota used', `${((s.requestsPerSec / c.quota) * 100).toFixed(1)}% of the simulator's ${c.quota} req/s`]);
  return rows;
}

/**
 * From this share of 429s on, or when the run sent at ≥ 90% of --rate on average, the server's limit
 * is taken to be below --rate (the advice names --adaptive or a lower --rate).
 */
const LIMIT_BELOW_RATE_429_SHARE = 0.05;

/** What to say after a stop, and what to run next. */
function nextSteps(s: RunSummary, c: SummaryContext): string[] {
  const out = /^[\w/.:\\-]+$/.test(c.out) ? c.out : `"${c.out}"`;
  const lines: string[] = [];
  if (c.stop) {
    const leftSymbols = Math.max(0, s.symbols - s.symbolsDone);
    const left =
      c.stop.stage === 'detect'
        ? `${fmt(leftSymbols)} of ${fmt(s.symbols)} symbols not yet detected, then every window`
        : `${fmt(Math.max(0, s.events - s.windows - s.windowsFailed))} of ${fmt(s.events)} windows not yet downloaded`;
    lines.push(`Stopped by ${c.stop.signal} during ${c.stop.stage}: ${left}.`);
    lines.push('Everything finished so far is committed; run the same command again to resume where it stopped.');
  }
  const share = `${(s.rateLimitedShare * 100).toFixed(1)}%`;
  if (s.rateLimited > 0 && s.rateLimitedShare >= 0.01 && s.rateLimitedShare < LIMIT_BELOW_RATE_429_SHARE && s.requestsPerSec < 0.9 * c.rate) {
    // A few 429s while sending well below --rate on average: the server counted a moment at the cap
    // (requests bunched by latency and retries) more strictly than the bucket paced it. Telling the
    // user its limit is below --rate would be wrong (seen against a strict, faulty simulator: 1.6–2.2%
    // 429s at 14–17 req/s of 40).
    lines.push(
      `The server answered 429 to ${share} of requests (each retried) while the run averaged ${s.requestsPerSec.toFixed(1)} of --rate ${c.rate}/s: ` +
        `it counted short bursts at the rate more strictly than they were paced${c.adaptive ? '' : '; --adaptive lowers the rate when that happens'}.`,
    );
  } else if (s.rateLimited > 0 && s.rateLimitedShare >= 0.01) {
    lines.push(
      c.adaptive
        ? `The server answered 429 to ${(s.rateLimitedShare * 100).toFixed(1)}% of requests: its limit is below the rate; pass a lower --rate.`
        : `The server answered 429 to ${(s.rateLimitedShare * 100).toFixed(1)}% of requests: its limit is below --rate ${c.rate}/s; pass --adaptive or a lower --rate.`,
    );
  }
  const parts = s.events > 0 ? [...(c.manifestInFolder === false ? [] : ['events/events.parquet']), 'windows/symbol=…/event=…/', ...(c.dataset ? ['dataset/{trades,quotes}/symbol=…/ to query'] : [])] : [];
  lines.push(`Output: ${c.out}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`);
  lines.push(`Next: tickpipe tail --out ${out} (live view) · tickpipe report --out ${out} (HTML report) · tickpipe verify --out ${out} (integrity check)`);
  return lines;
}

export function formatSummary(s: RunSummary, c: SummaryContext): string {
  const rows: Array<[string, string]> = [
    // No universe and nothing detected: an ingest over a given manifest has no symbols to count.
    ['symbols', s.symbols === 0 && s.symbolsDone === 0 ? '- (no detect stage: events from the manifest)' : `${fmt(s.symbolsDone)} done of ${fmt(s.symbols)}`],
    // A partition's detect run before `consolidate`: there is no manifest yet, not zero events.
    ['events', c.manifestInFolder === false && s.events === 0 && s.symbolsDone > 0 ? '- (not consolidated yet: tickpipe consolidate)' : `${fmt(s.events)}${Object.keys(s.eventsByType).length ? ` (${Object.entries(s.eventsByType).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')})` : ''}`],
    ['windows', `${fmt(s.windows)} complete, ${fmt(s.windowsFailed)} failed`],
    ['rows', `trades ${fmt(s.tradeRows)}, quotes ${fmt(s.quoteRows)}`],
    ['duplicates found', fmt(s.duplicates)],
    ['wall time', `${(s.wallMs / 1000).toFixed(1)} s`],
    ...rateRows(s, c),
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  const title = c.stop ? 'tickpipe run summary (STOPPED before the end)' : 'tickpipe run summary';
  const details = c.details && c.details.length > 0 ? [...c.details, ''] : [];
  return ['', title, ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`), '', ...details, ...nextSteps(s, c)].join('\n');
}
