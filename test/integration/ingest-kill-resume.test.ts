import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsFromDataFrame } from '../../src/detect/index.js';
import { int64Values } from '../../src/sinks/index.js';
import { simTrades } from '../../src/sim/index.js';
import { canonicalEventId } from '../../src/streams/event-id.js';
import { runCli, startCli, startSimProcess, waitFor } from './spawn.js';

const SEED = 5;

function ingestJournal(out: string): Array<{ event: string; symbol: string; trades: number; quotes: number }> {
  const p = join(out, 'state', 'ingest', 'part-0.jsonl');
  if (!existsSync(p)) return [];
  const rows = [];
  for (const l of readFileSync(p, 'utf8').split('\n')) {
    try {
      if (l.trim()) rows.push(JSON.parse(l));
    } catch {
      // torn tail
    }
  }
  return rows;
}

describe('stage 2 through the real CLI under faults: killed twice, resumed', () => {
  let sim: { url: string; stop(): Promise<void> };
  let dir: string;
  beforeAll(async () => {
    sim = await startSimProcess(['--seed', String(SEED), '--rate', '30/s', '--error-rate', '0.05', '--reset-rate', '0.02', '--truncate-rate', '0.02']);
    dir = await mkdtemp(join(tmpdir(), 'tickpipe-ingest-kill-'));
  });
  afterAll(async () => {
    await sim?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('completes every window exactly once with exact trades', async () => {
    const universe = join(dir, 'u.txt');
    await writeFile(universe, 'ALFA\nBRVO\nCHRL\n');
    const out = join(dir, 'run');
    const base = ['--out', out, '--base-url', sim.url, '--api-key', 'test-key', '--rate', '30/s', '--no-progress'];
    const detect = await runCli(['run', '--stage', 'detect', '--universe', universe, '--from', '2024-03-11', '--to', '2024-03-13', ...base]);
    expect(detect.code).toBe(0);
    const events = eventsFromDataFrame(pl.readParquet(join(out, 'events', 'events.parquet')));
    expect(events.length).toBeGreaterThan(15);

    const ingest = ['run', '--stage', 'ingest', '--concurrency', '16', ...base];
    let killedAt = 0;
    for (const after of [4, Math.min(events.length - 2, 12)]) {
      const r = startCli(ingest);
      await waitFor(() => ingestJournal(out).length >= after, 90_000, `${after} journaled windows`);
      r.child.kill('SIGKILL');
      expect((await r.done).signal).toBe('SIGKILL');
      killedAt = ingestJournal(out).length;
    }
    expect(killedAt).toBeLessThan(events.length);
    const last = await runCli(ingest);
    expect(last.code).toBe(0);
    expect(last.stdout).toMatch(/duplicates found\s+0/);

    const journal = ingestJournal(out);
    const ids = journal.map((j) => j.event);
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids)).toEqual(new Set(events.map((e) => canonicalEventId(e.symbol, e.event_type, e.timestamp))));
    for (const e of events) {
      const id = canonicalEventId(e.symbol, e.event_type, e.timestamp);
      const folder = join(out, 'windows', `symbol=${e.symbol}`, `event=${id}`);
      const trades = pl.readParquet(join(folder, 'trades.parquet'));
      const quotes = pl.readParquet(join(folder, 'quotes.parquet'));
      const line = journal.find((j) => j.event === id)!;
      expect(trades.height).toBe(line.trades);
      expect(quotes.height).toBe(line.quotes);
      const truth = simTrades(SEED, e.symbol, BigInt(e.timestamp - 600_000) * 1_000_000n, BigInt(e.timestamp + 1_200_000) * 1_000_000n);
      expect(int64Values(trades, 'sip_timestamp')).toEqual(truth.map((t) => t.sip_timestamp));
      expect(int64Values(trades, 'participant_timestamp')).toEqual(truth.map((t) => t.participant_timestamp));
      expect(trades.getColumn('price').toArray()).toEqual(truth.map((t) => t.price));
      expect(trades.getColumn('size').toArray()).toEqual(truth.map((t) => t.size));
    }
  }, 240_000);
});
