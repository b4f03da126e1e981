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
import { hostRows } from '../../src/ops/hosts-view.js';
import { readSlotBeat, type SlotBeatFields } from '../../src/progress/heartbeat.js';
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

  it('a slot heartbeat line is read by one parser: the hosts view and the summary see the fields the worker wrote', () => {
    const fields: SlotBeatFields = { host: 'h2', slot: 1002, ended: true, requests: 40, ok: 38, rateLimited: 2, reqPerSec: 9.5, rate: 25, quota: 25, skippedCommitted: 3, rssMB: 120 };
    const ingest = { time: '2026-12-02T07:00:00.000Z', pid: 42, stage: 'ingest', processed: 17, failed: 1, ...fields };
    const beat = readSlotBeat(ingest)!;
    expect(beat).toMatchObject({ host: 'h2', slot: 1002, pid: 42, ended: true, stage: 'ingest', requests: 40, ok: 38, rateLimited: 2, processed: 17, failed: 1, skippedCommitted: 3 });
    expect(beat.timeMs).toBe(Date.parse('2026-12-02T07:00:00.000Z'));
    expect(readSlotBeat({ time: ingest.time, stage: 'ingest', processed: 3 })).toBeUndefined(); // a one-host line
    const detect = { time: ingest.time, stage: 'detect', done: 9, failed: 2, ...fields, slot: 1001, host: 'h1' };
    expect(hostRows([ingest, null, detect]).map((r) => [r.slot, r.host, r.stage, r.symbols, r.windows, r.failed])).toEqual([
      [1001, 'h1', 'detect', 7, 0, 2],
      [1002, 'h2', 'ingest', 0, 17, 1],
    ]);
  });
});
