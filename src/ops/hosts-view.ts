/**
 * Per-host view of a cluster run for `status` and `report`: every process writes its own heartbeat
 * file (`logs/heartbeat.slot-K.ndjson`, lines carrying `host` and `slot`), so "who did what" is
 * the last line of each.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { HEARTBEAT_FILE_RE } from '../cluster/layout.js';

/** Every heartbeat file of a run folder (the one-host file first, then each slot's). */
export async function heartbeatFiles(outDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(join(outDir, 'logs'));
  } catch {
    return [];
  }
  return names
    .filter((n) => HEARTBEAT_FILE_RE.test(n))
    .sort((a, b) => (a === 'heartbeat.ndjson' ? -1 : b === 'heartbeat.ndjson' ? 1 : a.localeCompare(b, 'en', { numeric: true })))
    .map((n) => join(outDir, 'logs', n));
}

/** One cluster process as its last heartbeat describes it. */
export interface HostRow {
  readonly slot: number;
  readonly host: string;
  readonly pid: number | null;
  readonly stage: string;
  readonly at: string;
  readonly symbols: number;
  readonly windows: number;
  readonly failed: number;
  readonly requests: number;
  readonly rateLimited: number;
  readonly reqPerSec: number;
  /** Re-delivered jobs this process found already committed (another process had done them). */
  readonly skippedCommitted: number;
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** Rows for the heartbeat lines that come from cluster processes (those with a `slot`). */
export function hostRows(lastLines: ReadonlyArray<Readonly<Record<string, unknown>> | null>): HostRow[] {
  const rows: HostRow[] = [];
  for (const h of lastLines) {
    if (!h || typeof h.slot !== 'number') continue;
    const detect = h.stage === 'detect';
    rows.push({
      slot: h.slot,
      host: String(h.host ?? '?'),
      pid: typeof h.pid === 'number' ? h.pid : null,
      stage: String(h.stage ?? '?'),
      at: String(h.time ?? ''),
      symbols: detect ? num(h.done) - num(h.failed) : 0,
      windows: detect ? 0 : num(h.processed),
      failed: num(h.failed),
      requests: num(h.requests),
      rateLimited: num(h.rateLimited),
      reqPerSec: num(h.reqPerSec),
      skippedCommitted: num(h.skippedCommitted),
    });
  }
  return rows.sort((a, b) => a.slot - b.slot);
}

/** One line per host for `tickpipe status`. */
export function formatHostRow(r: HostRow): string {
  const work = r.stage === 'detect' ? `${r.symbols} symbols` : `${r.windows} windows`;
  return `slot ${r.slot} on ${r.host}${r.pid !== null ? ` (pid ${r.pid})` : ''}: ${r.stage}, ${work}, ${r.failed} failed, ${r.requests} requests (${r.rateLimited} 429s), ${r.reqPerSec}/s, ${r.skippedCommitted} re-delivered already done; last heartbeat ${r.at}`;
}
