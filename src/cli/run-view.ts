/**
 * The lines of `tickpipe run`'s live view, drawn from a stage's {@link ProgressState} (pure: the
 * state carries its own `now`). Rates are the smoothed ones of src/progress, as in the heartbeat.
 */
import { join } from 'node:path';
import {
  bar,
  doneOfTotal,
  formatEta,
  formatRate,
  partFigures,
  pausedText,
  progressFigures,
  throttleAdvice,
  type ProgressState,
} from '../progress/index.js';
import type { HttpMetricsSnapshot } from '../streams/http/metrics.js';
import { detectWorkerName } from '../run-folder/layout.js';

interface Common {
  /** The configured client rate, req/s. */
  readonly rate: number;
  /** The server's quota when known (the embedded simulator's). */
  readonly quota: number | undefined;
  readonly adaptive: boolean;
  readonly out: string;
}

const r1 = (n: number) => Math.round(n * 10) / 10;

/** `requests 97.0/s at --rate 100/s (the simulator's quota), 429s 0` and, under --adaptive, the rate now. */
export function requestLine(s: ProgressState, o: Common): string {
  const f = progressFigures(s);
  const limit = o.quota !== undefined && o.quota === o.rate ? `${r1(o.rate)}/s (the simulator's quota)` : `--rate ${r1(o.rate)}/s`;
  const now = o.adaptive && Math.abs(s.rate - o.rate) >= 0.05 ? `, lowered to ${r1(s.rate)}/s by --adaptive` : '';
  const limited = s.rateLimited > 0 ? `429s ${s.rateLimited} (${formatRate(f.rateLimitedPerSec)}/s)` : '429s 0';
  return `requests ${formatRate(f.okPerSec)}/s at ${limit}${now}, ${limited}`;
}

/** The pause line and the 429 advice, when they apply. */
function notices(s: ProgressState, o: Common): string[] {
  const out: string[] = [];
  if (s.paused) out.push(`  ${pausedText(s.pausedSince, s.now)}: nothing new starts; delete ${join(o.out, 'PAUSE')} to resume`);
  if (s.serverPausedUntil !== null && s.serverPausedUntil > s.now) out.push(`  paused by the server until ${new Date(s.serverPausedUntil).toISOString()} (429 Retry-After)`);
  const advice = throttleAdvice(s, o.adaptive);
  if (advice) out.push(`  WARNING: ${advice}`);
  return out;
}

export function renderDetect(
  s: ProgressState,
  o: Common & { readonly batches: ReadonlyMap<number, { batch: number; totalBatches: number }>; readonly events: number; readonly rssMB: number },
): string[] {
  const f = progressFigures(s);
  const lines = [
    `detect ${bar(s.skipped + s.committed, s.total)} ${doneOfTotal(s.skipped + s.committed, s.total)} symbols committed, ${s.processed} detected, ${s.failed} failed, ${o.events} events, ${formatRate(f.itemsPerSec)} symbols/s, ETA ${formatEta(f.etaSec, f.paused)}, rss ${o.rssMB} MB`,
    ...notices(s, o),
    `  ${requestLine(s, o)}`,
  ];
  for (const [key, p] of Object.entries(s.parts).sort((a, b) => Number(a[0]) - Number(b[0]))) {
    const b = o.batches.get(Number(key)) ?? { batch: 0, totalBatches: 0 };
    const pf = partFigures(p);
    lines.push(`  ${detectWorkerName(Number(key))}: ${bar(p.done, p.total, 12)} ${doneOfTotal(p.done, p.total)} symbols, batch ${b.batch}/${b.totalBatches}, ${formatRate(pf.itemsPerSec)}/s, last ${p.last}`);
  }
  return lines;
}

export function renderIngest(
  s: ProgressState,
  o: Common & { readonly trades: number; readonly quotes: number; readonly bytes: number; readonly metrics: HttpMetricsSnapshot },
): string[] {
  const f = progressFigures(s);
  const m = o.metrics;
  return [
    `ingest ${bar(f.done, s.total)} ${doneOfTotal(f.done - s.failed, s.total)} windows, ${s.failed} failed, ${formatRate(f.itemsPerSec)} windows/s, ETA ${formatEta(f.etaSec, f.paused)}`,
    ...notices(s, o),
    `  ${requestLine(s, o)}, p50 ${m.latencyP50Ms} ms p95 ${m.latencyP95Ms} ms`,
    `  trades ${o.trades} quotes ${o.quotes}, ${(o.bytes / 1_048_576).toFixed(1)} MB, last ${s.last}`,
  ];
}
