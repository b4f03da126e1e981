/**
 * `tickpipe compact` through the real CLI, SIGKILLed while it commits parts, then resumed:
 * afterwards every window's rows are in dataset/ exactly once (trades equal to the simulator's,
 * nanoseconds exact), `verify` is clean, a removed window stays "done" for `run`, and the README's
 * DuckDB query (hive partitioning, join to events.parquet on event_id) gives the journals' counts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import pl from 'nodejs-polars';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsFromDataFrame } from '../../src/detect/index.js';
import { int64Values } from '../../src/sinks/index.js';
import { simTrades } from '../../src/sim/index.js';
import { canonicalEventId } from '../../src/streams/event-id.js';
import { runCli, startCli, startSimProcess, waitFor } from './spawn.js';

const SEED = 11;

function lines(path: string): unknown[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as unknown];
      } catch {
        return []; // torn tail
      }
    });
}

describe('compact through the real CLI: killed while committing, resumed', () => {
  let sim: { url: string; stop(): Promise<void> };
  let dir: string;
  beforeAll(async () => {
    sim = await startSimProcess(['--seed', String(SEED), '--rate', '200/s']);
    dir = await mkdtemp(join(tmpdir(), 'tickpipe-compact-kill-'));
  });
  afterAll(async () => {
    await sim?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('ends with every window in exactly one part, verify clean, DuckDB counts equal to the journals', async () => {
    const universe = join(dir, 'u.txt');
    await writeFile(universe, 'ALFA\nBRVO\nCHRL\nDLTA\nECHO\nFXTR\nGOLF\nHOTL\n');
    const out = join(dir, 'run');
    const base = ['--out', out, '--base-url', sim.url, '--api-key', 'test-key', '--rate', '150/s', '--no-progress'];
    const run = await runCli(['run', '--universe', universe, '--from', '2024-03-11', '--to', '2024-03-12', '--no-compact', ...base]);
    expect(run.code, run.stderr).toBe(0);
    const windows = lines(join(out, 'state', 'ingest', 'part-0.jsonl')) as Array<{ event: string; symbol: string; trades: number; quotes: number }>;
    const symbols = new Set(windows.map((w) => w.symbol));
    expect(symbols.size).toBeGreaterThan(3);
    expect(existsSync(join(out, 'dataset'))).toBe(false);

    // Kill compactions after their first commit, until one is killed with work left (or finishes).
    const journal = join(out, 'state', 'compact', 'compact.jsonl');
    let killedMidway = 0;
    for (let attempt = 0; attempt < 4 && lines(journal).length < symbols.size; attempt++) {
      const before = lines(journal).length;
      const c = startCli(['compact', '--out', out, '--remove-windows']);
      await waitFor(() => lines(journal).length > before || c.child.exitCode !== null, 90_000, 'a committed part');
      c.child.kill('SIGKILL');
      const r = await c.done;
      if (r.signal === 'SIGKILL' && lines(journal).length < symbols.size) killedMidway++;
    }
    const last = await runCli(['compact', '--out', out, '--remove-windows']);
    expect(last.code, last.stderr).toBe(0);
    console.log(`[compact kill] ${killedMidway} kill(s) with parts left; resume: ${last.stdout.trim()}`);

    const verify = await runCli(['verify', '--out', out]);
    expect(verify.code, verify.stdout).toBe(0);
    // Removed windows are still done: a resumed run downloads nothing and compacts nothing new.
    const again = await runCli(['run', '--stage', 'ingest', ...base]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr + again.stdout).toMatch(/compacted 0 windows into 0 part/);

    // The README's DuckDB query.
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    const q = await con.runAndReadAll(`
      SELECT t.symbol, e.event_type, count(*) AS trades, sum(t.size) AS size
      FROM read_parquet('${out}/dataset/trades/*/*.parquet', hive_partitioning = true) t
      JOIN '${out}/events/events.parquet' e ON e.event_id = t.event_id
      GROUP BY ALL ORDER BY ALL`);
    const byKey = new Map<string, number>();
    for (const w of windows) {
      const type = w.event.slice(w.symbol.length + 1).replace(/_\d{8}_\d{6}_[0-9a-f]{8}$/, '');
      byKey.set(`${w.symbol} ${type}`, (byKey.get(`${w.symbol} ${type}`) ?? 0) + w.trades);
    }
    const fromDuck = new Map(q.getRowObjectsJS().map((r) => [`${String(r['symbol'])} ${String(r['event_type'])}`, Number(r['trades'])]));
    expect(fromDuck).toEqual(new Map([...byKey].filter(([, n]) => n > 0)));
    con.closeSync();

    // Exact nanoseconds against the simulator's own trades, for every event.
    const events = eventsFromDataFrame(pl.readParquet(join(out, 'events', 'events.parquet')));
    const all = pl.scanParquet(join(out, 'dataset', 'trades', '*', '*.parquet'), { hivePartitioning: true });
    for (const e of events.slice(0, 12)) {
      const id = canonicalEventId(e.symbol, e.event_type, e.timestamp);
      const rows = await all.filter(pl.col('event_id').eq(pl.lit(id))).collect();
      const truth = simTrades(SEED, e.symbol, BigInt(e.timestamp - 600_000) * 1_000_000n, BigInt(e.timestamp + 1_200_000) * 1_000_000n);
      expect(int64Values(rows, 'sip_timestamp')).toEqual(truth.map((t) => t.sip_timestamp));
      expect(rows.getColumn('size').toArray()).toEqual(truth.map((t) => t.size));
    }
  }, 400_000);
});
