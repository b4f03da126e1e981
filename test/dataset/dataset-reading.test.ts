/**
 * The dataset as a reader sees it: the README's Polars example runs and gives exact nanoseconds,
 * the row groups are the size the README states (read back with DuckDB's parquet_metadata), rows
 * are sorted by event then time, a second compaction adds a part only for new windows, and
 * `verify` is clean (and reports a part that no journal line names).
 */
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import pl from 'nodejs-polars';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compact } from '../../src/dataset/compact.js';
import { datasetPaths, partPaths } from '../../src/dataset/layout.js';
import { verifyRun } from '../../src/ops/verify.js';
import { int64Values, quotesFrame, tradesFrame } from '../../src/sinks/parquet.js';
import { ensureRunSpec } from '../../src/run-folder/run-spec.js';
import { WindowWriter } from '../../src/sinks/window-sink.js';
import { canonicalEventId } from '../../src/streams/event-id.js';
import { fastTempDir } from '../sinks/crash-fs.js';
import { fakeQuotes, fakeTrades, T0 } from '../sinks/helpers.js';

const BIG = 130_000;

describe('reading the compacted dataset', () => {
  let out: string;
  let cleanup: () => Promise<void>;
  const ids = {
    a: canonicalEventId('AAOI', 'vwap_break', Date.UTC(2024, 2, 5, 15, 0)),
    b: canonicalEventId('AAOI', 'flush', Date.UTC(2024, 2, 4, 14, 31)),
    c: canonicalEventId('BOXL', 'flush', Date.UTC(2024, 2, 6, 13, 45)),
  };
  beforeAll(async () => {
    ({ dir: out, cleanup } = await fastTempDir('tickpipe-dataset-read-'));
    await ensureRunSpec(out, { version: 1, source: { baseUrl: 'http://127.0.0.1:1' }, universe: { hash: 'a'.repeat(64), count: 2 }, from: '2024-03-04', to: '2024-03-06', detectors: {} });
    const w = await WindowWriter.open(out, { index: 0, count: 1 });
    await w.commit({ symbol: 'AAOI', eventId: ids.a, trades: tradesFrame(fakeTrades(5, T0 + 500n)), quotes: quotesFrame(fakeQuotes(BIG)) });
    await w.commit({ symbol: 'AAOI', eventId: ids.b, trades: tradesFrame(fakeTrades(3)), quotes: quotesFrame(fakeQuotes(2)) });
    await w.close();
  }, 120_000);
  afterAll(async () => cleanup?.());

  it('README example: Polars scan with hive partitioning, exact nanoseconds, rows sorted by event then time', async () => {
    const r = await compact(out);
    expect(r).toMatchObject({ parts: 1, windows: 2, trades: 8, quotes: BIG + 2 });
    const trades = pl.scanParquet(join(out, 'dataset/trades/*/*.parquet'), { hivePartitioning: true, hiveSchema: { symbol: pl.Categorical } });
    const bySymbol = await trades.groupBy('symbol').agg(pl.len().alias('trades'), pl.col('size').sum()).collect();
    expect(bySymbol.toRecords()).toEqual([{ symbol: 'AAOI', trades: 8, size: 800 }]);
    const all = await trades.collect();
    // event_id order: AAOI_flush_… before AAOI_vwap_break_…; within an event, timestamp order.
    expect(all.getColumn('event_id').toArray()).toEqual([ids.b, ids.b, ids.b, ids.a, ids.a, ids.a, ids.a, ids.a]);
    expect(all.getColumn('event_type').toArray().slice(0, 4)).toEqual(['flush', 'flush', 'flush', 'vwap_break']);
    expect(int64Values(all, 'sip_timestamp')).toEqual([T0, T0 + 1n, T0 + 2n, ...[0n, 1n, 2n, 3n, 4n].map((i) => T0 + 500n + i)]);
    const ts = all.getColumn('event_timestamp').cast(pl.Int64).toArray().map(Number);
    expect(ts[0]).toBe(Date.UTC(2024, 2, 4, 14, 31));
    expect(ts[7]).toBe(Date.UTC(2024, 2, 5, 15, 0));
    expect((await verifyRun(out)).problems).toEqual({});
  }, 120_000);

  it('row groups of 122,880 rows (DuckDB parquet_metadata)', async () => {
    const part = partPaths(datasetPaths(out), 'AAOI', 0).final.quotes;
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    const r = await con.runAndReadAll(`SELECT DISTINCT row_group_id, row_group_num_rows FROM parquet_metadata('${part}') ORDER BY 1`);
    expect(r.getRows().map((x) => Number(x[1]))).toEqual([122_880, BIG + 2 - 122_880]);
    con.closeSync();
  }, 60_000);

  it('a later compaction adds one part for the new windows only; verify names a part no line commits', async () => {
    const w = await WindowWriter.open(out, { index: 0, count: 1 });
    await w.commit({ symbol: 'BOXL', eventId: ids.c, trades: tradesFrame(fakeTrades(2)), quotes: quotesFrame(fakeQuotes(1)) });
    await w.close();
    expect(await compact(out)).toMatchObject({ parts: 1, windows: 1, trades: 2, quotes: 1 });
    expect(await compact(out)).toMatchObject({ parts: 0, windows: 0 });
    expect((await verifyRun(out)).ok).toBe(true);
    const stray = join(out, 'dataset', 'trades', 'symbol=BOXL', 'part-000001.parquet');
    await copyFile(partPaths(datasetPaths(out), 'BOXL', 0).final.trades, stray);
    const v = await verifyRun(out);
    // A glob reader would count its rows twice: verify names it (rows are counted from committed parts only).
    expect(v.problems).toEqual({ 'dataset-uncommitted-part': { count: 1, examples: ['dataset/trades/symbol=BOXL/part-000001.parquet'] } });
  }, 120_000);
});
