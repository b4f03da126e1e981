/**
 * The per-host lines of a cluster run's summary count what the run-folder model counts: the first
 * line of an item commits it, so a window BullMQ re-delivered and two slots journaled counts once,
 * for the slot that journaled it first; a failure counts for the slot holding its last line, and
 * not at all once any slot committed the event.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { slotTotals } from '../../src/cluster/run-totals.js';
import { ensureRunSpec } from '../../src/sinks/index.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const jsonl = (rows: unknown[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const win = (event: string, trades: number, quotes: number) => ({ event, symbol: event.slice(0, 1), trades, quotes });
const fail = (event: string) => ({ event, symbol: event.slice(0, 1), status: 500, code: 'E_HTTP', reason: 'HTTP 500', at: '2026-12-02T00:00:00Z' });

describe('slotTotals (the per-host lines of run --cluster)', () => {
  it('counts every item once, for the slot whose journal commits it first; open failures by their last line', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tickpipe-run-totals-'));
    await ensureRunSpec(dir, { version: 1, source: { baseUrl: 'https://api.polygon.io' } });
    const detect = join(dir, 'state', 'detect');
    const ingest = join(dir, 'state', 'ingest');
    mkdirSync(detect, { recursive: true });
    mkdirSync(ingest, { recursive: true });
    writeFileSync(join(detect, 'worker-1001.jsonl'), jsonl([{ shard: null, symbols: ['A', 'B'], rows: 0 }]));
    writeFileSync(join(detect, 'worker-1002.jsonl'), jsonl([{ shard: null, symbols: ['B', 'C'], rows: 0 }]));
    // E2 was re-delivered: slot 1002 journaled it after slot 1001 (a torn tail in 1002 is no commit).
    writeFileSync(join(ingest, 'part-1001.jsonl'), jsonl([win('A1', 10, 20), win('E2', 5, 7)]));
    writeFileSync(join(ingest, 'part-1002.jsonl'), jsonl([win('E2', 5, 7), win('C3', 1, 2)]) + '{"event":"C4","sym');
    // F1 failed on 1001, then again on 1002 (its last line); C3 failed on 1001 but 1002 committed it.
    writeFileSync(join(ingest, 'part-1001.failed.jsonl'), jsonl([fail('F1'), fail('C3')]));
    writeFileSync(join(ingest, 'part-1002.failed.jsonl'), jsonl([fail('F1')]));
    const rows = await slotTotals(dir);
    const pick = (slot: number) => {
      const r = rows.find((x) => x.slot === slot)!;
      return { symbols: r.symbols, windows: r.windows, trades: r.trades, quotes: r.quotes, failed: r.failed };
    };
    expect(rows.map((r) => r.slot)).toEqual([1001, 1002]);
    expect(pick(1001)).toEqual({ symbols: 2, windows: 2, trades: 15, quotes: 27, failed: 0 });
    expect(pick(1002)).toEqual({ symbols: 1, windows: 1, trades: 1, quotes: 2, failed: 1 });
  });
});
