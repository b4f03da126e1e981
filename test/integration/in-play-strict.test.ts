/**
 * Issue 16: the whole CLI against the simulator in another process on `in-play` data under a strict
 * (sliding-second) quota. Every window's trades and quotes equal the simulator's own data, exact to
 * the nanosecond, through the column path; no window fails; nothing is downloaded twice.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsFromDataFrame } from '../../src/detect/index.js';
import { int64Values } from '../../src/sinks/index.js';
import { simQuotes, simTrades } from '../../src/sim/index.js';
import { canonicalEventId } from '../../src/streams/event-id.js';
import { runCli, startSimProcess } from './spawn.js';

const SEED = 3;

describe('in-play density, strict quota, real CLI', () => {
  let sim: { url: string; stop(): Promise<void> };
  let dir: string;
  beforeAll(async () => {
    sim = await startSimProcess(['--seed', String(SEED), '--density', 'in-play', '--quota-mode', 'strict', '--rate', '40/s']);
    dir = await mkdtemp(join(tmpdir(), 'tickpipe-in-play-'));
    await writeFile(join(dir, 'u.txt'), 'ALFA\nBRVO\n');
  });
  afterAll(async () => {
    await sim?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('downloads every window exactly, dense pages and all, within the strict quota', async () => {
    const out = join(dir, 'run');
    const r = await runCli(['run', '--universe', join(dir, 'u.txt'), '--from', '2024-03-12', '--to', '2024-03-12', '--out', out, '--base-url', sim.url, '--api-key', 'k', '--rate', '40/s', '--quotes-hz', '0', '--no-progress']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/duplicates found\s+0/);
    const events = eventsFromDataFrame(pl.readParquet(join(out, 'events', 'events.parquet')));
    expect(events.length).toBeGreaterThan(0);
    const failed = join(out, 'state', 'ingest', 'part-0.failed.jsonl');
    expect(existsSync(failed) ? readFileSync(failed, 'utf8').trim() : '').toBe('');
    let quotesSeen = 0;
    for (const e of events.slice(0, 6)) {
      const folder = join(out, 'windows', `symbol=${e.symbol}`, `event=${canonicalEventId(e.symbol, e.event_type, e.timestamp)}`);
      const lo = BigInt(e.timestamp - 600_000) * 1_000_000n;
      const hi = BigInt(e.timestamp + 1_200_000) * 1_000_000n;
      const trades = pl.readParquet(join(folder, 'trades.parquet'));
      const truth = simTrades(SEED, e.symbol, lo, hi, { density: 'in-play' });
      expect(int64Values(trades, 'sip_timestamp')).toEqual(truth.map((t) => t.sip_timestamp));
      expect(trades.getColumn('price').toArray()).toEqual(truth.map((t) => t.price));
      const quotes = pl.readParquet(join(folder, 'quotes.parquet'));
      const qTruth = simQuotes(SEED, e.symbol, lo, hi, { density: 'in-play' });
      expect(int64Values(quotes, 'participant_timestamp')).toEqual(qTruth.map((q) => q.participant_timestamp));
      quotesSeen += quotes.height;
    }
    // In-play windows are dense: at >= 10 quotes/s a 30-minute window holds >= 18,000 quotes.
    expect(quotesSeen).toBeGreaterThan(18_000);
  }, 600_000);
});
