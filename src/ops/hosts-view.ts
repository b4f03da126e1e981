/**
 * Per-host view of a cluster run for `status` and `report`: every process writes its own heartbeat
 * file (`logs/heartbeat.slot-K.ndjson`, lines carrying `host` and `slot`), so "who did what" is
 * the last line of each.
 */
import { readSlotBeat } from '../progress/heartbeat.js';

/** Every heartbeat file of a run folder: listed by the run-folder module (it knows the names). */
export { heartbeatFiles } from '../run-folder/folder.js';

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

/** Rows for the heartbeat lines that come from cluster processes (those with a `slot`). */
export function hostRows(lastLines: ReadonlyArray<Readonly<Record<string, unknown>> | null>): HostRow[] {
  const rows: HostRow[] = [];
  for (const line of lastLines) {
    const h = line ? readSlotBeat(line) : undefined;
    if (!h) continue;
    const detect = h.stage === 'detect';
    rows.push({
      slot: h.slot,
      host: h.host,
      pid: h.pid,
      stage: h.stage,
      at: h.time,
      symbols: detect ? h.done - h.failed : 0,
      windows: detect ? 0 : h.processed,
      failed: h.failed,
      requests: h.requests,
      rateLimited: h.rateLimited,
      reqPerSec: h.reqPerSec,
      skippedCommitted: h.skippedCommitted,
    });
  }
  return rows.sort((a, b) => a.slot - b.slot);
}

/** One line per host for `tickpipe status`. */
export function formatHostRow(r: HostRow): string {
  const work = r.stage === 'detect' ? `${r.symbols} symbols` : `${r.windows} windows`;
  return `slot ${r.slot} on ${r.host}${r.pid !== null ? ` (pid ${r.pid})` : ''}: ${r.stage}, ${work}, ${r.failed} failed, ${r.requests} requests (${r.rateLimited} 429s), ${r.reqPerSec}/s, ${r.skippedCommitted} re-delivered already done; last heartbeat ${r.at}`;
}
