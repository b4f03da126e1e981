/**
 * `tickpipe adopt --compact`: an old Python tree (one window in an older schema: Datetime(ns)
 * timestamps, Int64 exchange codes) is adopted and compacted in one command; the dataset holds its
 * rows with exact nanoseconds and verify is clean.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { describe, expect, it } from 'vitest';
import { verifyRun } from '../../src/ops/verify.js';
import { int64Values, quotesFrame, tradesFrame } from '../../src/sinks/parquet.js';
import { canonicalEventId } from '../../src/streams/event-id.js';
import { runCli } from '../support/cli.js';
import { fastTempDir } from '../sinks/crash-fs.js';

const NS = 1_709_562_600_123_456_789n;
const trades = (n: number) => Array.from({ length: n }, (_, i) => ({ sip_timestamp: NS + BigInt(i), participant_timestamp: NS + BigInt(i) - 5n, sequence_number: i, id: String(i), price: 10 + i / 100, size: 100, exchange: 4, tape: 3, conditions: [12] }));
const quotes = (n: number) => Array.from({ length: n }, (_, i) => ({ sip_timestamp: NS + BigInt(i), participant_timestamp: NS + BigInt(i), sequence_number: i, bid_price: 10, bid_size: 1, bid_exchange: 11, ask_price: 10.01, ask_size: 2, ask_exchange: 12, tape: 3 }));

describe('adopt --compact', () => {
  it('adopts an old tree and compacts it in one command', async () => {
    const { dir, cleanup } = await fastTempDir('tickpipe-adopt-compact-');
    try {
      const old = join(dir, 'old');
      const out = join(dir, 'run');
      const a = canonicalEventId('AAPL', 'opening_range_break', Date.UTC(2024, 2, 4, 14, 30));
      const b = canonicalEventId('AAPL', 'flush', Date.UTC(2024, 2, 4, 15, 1));
      await mkdir(join(old, `symbol=AAPL/event=${a}`), { recursive: true });
      await mkdir(join(old, `2024-03-04/event=${b}`), { recursive: true });
      tradesFrame(trades(5)).writeParquet(join(old, `symbol=AAPL/event=${a}/trades.parquet`));
      quotesFrame(quotes(4)).writeParquet(join(old, `symbol=AAPL/event=${a}/quotes.parquet`));
      tradesFrame(trades(3)).withColumns(pl.col('sip_timestamp').cast(pl.Datetime('ns')), pl.col('exchange').cast(pl.Int64)).writeParquet(join(old, `2024-03-04/event=${b}/trades.parquet`));
      quotesFrame(quotes(2)).writeParquet(join(old, `2024-03-04/event=${b}/quotes.parquet`));
      await writeFile(join(old, 'checkpoint_ingest.json'), JSON.stringify({ completed_events: [a, b] }));
      const r = await runCli(['adopt', '--from', old, '--out', out, '--compact']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/compacted 2 windows into 1 part\(s\): 8 trades, 6 quotes/);
      const df = pl.readParquet(join(out, 'dataset', 'trades', 'symbol=AAPL', 'part-000000.parquet'));
      expect(df.getColumn('event_id').toArray()).toEqual([b, b, b, a, a, a, a, a]);
      expect(int64Values(df, 'sip_timestamp')).toEqual([0n, 1n, 2n, 0n, 1n, 2n, 3n, 4n].map((i) => NS + i));
      expect((await verifyRun(out)).problems).toEqual({});
    } finally {
      await cleanup();
    }
  }, 120_000);
});
