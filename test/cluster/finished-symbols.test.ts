/**
 * The rule of a cluster run's incremental compaction (src/cluster/incremental.ts): a symbol is
 * finished once every one of its manifest windows is in some process's stage-2 journal, whatever
 * the order the hosts committed them in; a failed window keeps its symbol for the end of the run.
 * No Redis needed: the rule reads only the run folder.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FinishedSymbols } from '../../src/cluster/incremental.js';
import { eventsToDataFrame } from '../../src/detect/index.js';
import { canonicalEventId } from '../../src/streams/event-id.js';
import type { EventRow } from '../../src/types.js';

const T0 = Date.UTC(2024, 2, 4, 15, 0);
const row = (symbol: string, i: number): EventRow => ({ symbol, event_type: 'volume_spike', timestamp: T0 + i * 60_000, session: 'RTH', price: 10, volume: 100, vwap: 10, measure: 3 });

let dir = '';
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A run folder with a manifest of `rows` and empty journals. */
async function folder(rows: readonly EventRow[]): Promise<{ out: string; ids: (symbol: string) => string[]; commit: (slot: number, id: string) => void; fail: (slot: number, id: string) => void }> {
  dir = await mkdtemp(join(tmpdir(), 'tickpipe-finished-'));
  mkdirSync(join(dir, 'events'), { recursive: true });
  mkdirSync(join(dir, 'state', 'ingest'), { recursive: true });
  eventsToDataFrame([...rows]).writeParquet(join(dir, 'events', 'events.parquet'));
  return {
    out: dir,
    ids: (symbol) => rows.filter((r) => r.symbol === symbol).map((r) => canonicalEventId(r.symbol, r.event_type, r.timestamp)),
    commit: (slot, id) => appendFileSync(join(dir, 'state', 'ingest', `part-${slot}.jsonl`), JSON.stringify({ event: id, symbol: id.split('_')[0], trades: 1, quotes: 1 }) + '\n'),
    fail: (slot, id) => appendFileSync(join(dir, 'state', 'ingest', `part-${slot}.failed.jsonl`), JSON.stringify({ event: id, symbol: id.split('_')[0], status: 500, code: 'E_SERVER', reason: 'x' }) + '\n'),
  };
}

describe('FinishedSymbols: the cluster rule for incremental compaction', () => {
  it('reports a symbol once every manifest window of it is journaled by any process, in any order, once', async () => {
    const f = await folder([row('AAA', 0), row('AAA', 1), row('AAA', 2), row('BBB', 0), row('BBB', 1)]);
    const finished = await FinishedSymbols.load(f.out);
    expect(await finished.poll()).toEqual([]);
    const [a0, a1, a2] = f.ids('AAA');
    const [b0, b1] = f.ids('BBB');
    // Two hosts, out of manifest order.
    f.commit(1001, a2!);
    f.commit(1002, b1!);
    f.commit(1002, a0!);
    expect(await finished.poll()).toEqual([]);
    f.commit(1001, a1!);
    expect(await finished.poll()).toEqual(['AAA']);
    expect(await finished.poll(), 'reported once').toEqual([]);
    f.commit(1003, b0!);
    expect(await finished.poll()).toEqual(['BBB']);
  });

  it('a symbol with a failed window is left for the end of the run', async () => {
    const f = await folder([row('CCC', 0), row('CCC', 1)]);
    const finished = await FinishedSymbols.load(f.out);
    const [c0, c1] = f.ids('CCC');
    f.commit(1001, c0!);
    f.fail(1002, c1!);
    expect(await finished.poll()).toEqual([]);
  });
});
