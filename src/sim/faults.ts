/**
 * Fault injection. Draws come from their own seeded stream keyed by the request (method, path and
 * query without the key) and by how many times that same request was seen before: the outcome does
 * not depend on how concurrent requests interleave, and a retry of a failed request draws afresh.
 */
import { Rng } from './prng.js';
import { LruCache } from './lru.js';
import type { LatencyOption, ResolvedSimOptions } from './options.js';

export type FaultKind = 'none' | 'error' | 'reset' | 'truncate' | 'stall';

export interface FaultDecision {
  readonly delayMs: number;
  readonly kind: FaultKind;
  /** For `error`: 500, 502 or 503. */
  readonly status: number;
  /** For `truncate`/`stall`: share of the body sent before cutting, in (0, 1). */
  readonly cut: number;
  /** Point `next_url` back at the page just served. */
  readonly repeatCursor: boolean;
  /** Answer 200 with a `"status":"ERROR"` body instead of the data. */
  readonly errorBody: boolean;
}

const ERROR_STATUSES = [500, 502, 503] as const;
const Z99 = 2.3263478740408408;

export function drawLatency(latency: LatencyOption | undefined, r: Rng): number {
  if (!latency) return 0;
  if ('minMs' in latency) return latency.minMs + (latency.maxMs - latency.minMs) * r.next();
  const mu = Math.log(latency.medianMs);
  const sigma = (Math.log(latency.p99Ms) - mu) / Z99;
  return Math.min(latency.p99Ms * 4, Math.exp(mu + sigma * r.normal()));
}

export class FaultInjector {
  private readonly attempts = new LruCache<string, number>(200_000);
  readonly active: boolean;

  constructor(private readonly opts: ResolvedSimOptions) {
    this.active =
      opts.latency !== undefined ||
      opts.errorRate + opts.resetRate + opts.truncateRate + opts.stallRate + opts.repeatCursorRate + opts.errorBodyRate > 0;
  }

  decide(requestKey: string): FaultDecision {
    if (!this.active) return { delayMs: 0, kind: 'none', status: 200, cut: 0, repeatCursor: false, errorBody: false };
    const n = this.attempts.get(requestKey) ?? 0;
    this.attempts.set(requestKey, n + 1);
    const r = new Rng(`${this.opts.seed}|fault|${requestKey}|${n}`);
    const o = this.opts;
    const delayMs = drawLatency(o.latency, r);
    const u = r.next();
    let kind: FaultKind = 'none';
    let x = o.errorRate;
    if (u < x) kind = 'error';
    else if (u < (x += o.resetRate)) kind = 'reset';
    else if (u < (x += o.truncateRate)) kind = 'truncate';
    else if (u < (x += o.stallRate)) kind = 'stall';
    const status = ERROR_STATUSES[Math.floor(r.next() * 3)]!;
    const cut = 0.1 + 0.8 * r.next();
    const repeatCursor = r.next() < o.repeatCursorRate;
    // Drawn last, so the draws above (and every existing seed's faults) are unchanged.
    const errorBody = o.errorBodyRate > 0 && r.next() < o.errorBodyRate;
    return { delayMs, kind, status, cut, repeatCursor, errorBody };
  }
}
