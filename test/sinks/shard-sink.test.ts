import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError, LockedError } from '../../src/errors.js';
import { committedShards, loadCompletedSymbols, ShardWriter } from '../../src/sinks/shard-sink.js';
import { tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => cleanup());

const events = (rows: { symbol: string; n: number }[]): pl.DataFrame =>
  pl.DataFrame([pl.Series('symbol', rows.map((r) => r.symbol), pl.String), pl.Series('n', rows.map((r) => r.n), pl.Int32)]);

describe('ShardWriter', () => {
  it('publishes shard-NNNNNN.parquet then journals {shard, symbols, rows}; zero-event batches journal shard null', async () => {
    const w = await ShardWriter.open(dir, 2);
    expect(await w.commit({ symbols: ['AAPL', 'MSFT'], events: events([{ symbol: 'AAPL', n: 1 }, { symbol: 'AAPL', n: 2 }]) })).toEqual({
      shard: 'shard-000000.parquet',
      rows: 2,
      symbols: ['AAPL', 'MSFT'],
    });
    expect(await w.commit({ symbols: ['TSLA'], events: events([]) })).toMatchObject({ shard: null, rows: 0 });
    expect(await w.commit({ symbols: ['NVDA'], events: events([{ symbol: 'NVDA', n: 1 }]) })).toMatchObject({ shard: 'shard-000001.parquet' });
    await w.close();
    expect(await readFile(join(dir, 'state/detect/worker-2.jsonl'), 'utf8')).toBe(
      '{"shard":"shard-000000.parquet","symbols":["AAPL","MSFT"],"rows":2}\n' +
        '{"shard":null,"symbols":["TSLA"],"rows":0}\n' +
        '{"shard":"shard-000001.parquet","symbols":["NVDA"],"rows":1}\n',
    );
    expect((await readdir(join(dir, 'events/shards/worker-2'))).sort()).toEqual(['shard-000000.parquet', 'shard-000001.parquet']);
    expect(await readdir(join(dir, 'state/detect'))).toEqual(['worker-2.jsonl']); // lock released
    expect(pl.readParquet(join(dir, 'events/shards/worker-2/shard-000000.parquet')).height).toBe(2);
  });

  it('on open: uncommitted shards moved aside, tmp leftovers removed, numbering from max(committed)+1', async () => {
    const w = await ShardWriter.open(dir, 0);
    await w.commit({ symbols: ['A'], events: events([{ symbol: 'A', n: 1 }]) });
    await w.close();
    const sd = join(dir, 'events/shards/worker-0');
    await writeFile(join(sd, 'shard-000001.parquet'), 'uncommitted');
    await writeFile(join(sd, 'shard-000007.parquet'), 'uncommitted too');
    await writeFile(join(sd, 'shard-000002.parquet.tmp-0123456789ab'), 'tmp');
    await writeFile(join(sd, 'notes.txt'), 'left alone');
    const w2 = await ShardWriter.open(dir, 0);
    expect(w2.cleanup).toEqual({ uncommitted: ['shard-000001.parquet', 'shard-000007.parquet'], tmpRemoved: ['shard-000002.parquet.tmp-0123456789ab'] });
    expect(w2.nextShard).toBe(1); // never a count of files
    expect((await readdir(sd)).sort()).toEqual(['.uncommitted', 'notes.txt', 'shard-000000.parquet']);
    expect((await readdir(join(sd, '.uncommitted'))).every((n) => /^shard-00000[17]\.parquet\.uncommitted-[0-9a-f]{8}$/.test(n))).toBe(true);
    await w2.commit({ symbols: ['B'], events: events([{ symbol: 'B', n: 1 }]) });
    await w2.close();
    expect((await committedShards(dir)).map((s) => s.shard)).toEqual(['shard-000000.parquet', 'shard-000001.parquet']);
    expect(pl.readParquet(join(sd, 'shard-000001.parquet')).getColumn('symbol').toArray()).toEqual(['B']);
  });

  it("'delete' mode removes uncommitted shards", async () => {
    const sd = join(dir, 'events/shards/worker-0');
    await mkdir(sd, { recursive: true });
    await writeFile(join(sd, 'shard-000000.parquet'), 'x');
    const w = await ShardWriter.open(dir, 0, { uncommitted: 'delete' });
    expect(await readdir(sd)).toEqual([]);
    await w.close();
  });

  it('one writer per worker: a second open in a live process is refused', async () => {
    const w = await ShardWriter.open(dir, 1);
    await expect(ShardWriter.open(dir, 1)).rejects.toBeInstanceOf(LockedError);
    await w.close();
    const again = await ShardWriter.open(dir, 1);
    await again.close();
  });

  it('completed symbols and committed shards are the union of all worker journals', async () => {
    for (const [k, syms] of [[0, ['A', 'C']], [1, ['B']], [3, ['D']]] as const) {
      const w = await ShardWriter.open(dir, k);
      await w.commit({ symbols: [...syms], events: events(syms.map((s) => ({ symbol: s, n: 0 }))) });
      await w.close();
    }
    expect([...(await loadCompletedSymbols(dir))].sort()).toEqual(['A', 'B', 'C', 'D']);
    expect((await committedShards(dir)).map((s) => [s.worker, s.rows, s.symbols])).toEqual([
      [0, 2, ['A', 'C']],
      [1, 1, ['B']],
      [3, 1, ['D']],
    ]);
    expect(await loadCompletedSymbols(join(dir, 'missing'))).toEqual(new Set());
  });

  it('rejects invalid, repeated and already-committed symbols', async () => {
    const w = await ShardWriter.open(dir, 0);
    await expect(w.commit({ symbols: ['../etc'], events: events([]) })).rejects.toBeInstanceOf(InputError);
    await expect(w.commit({ symbols: ['A', 'A'], events: events([]) })).rejects.toThrow(/twice/);
    await expect(w.commit({ symbols: [], events: events([]) })).rejects.toThrow(/at least one/);
    await w.commit({ symbols: ['A'], events: events([]) });
    await expect(w.commit({ symbols: ['A'], events: events([]) })).rejects.toThrow(/already committed/);
    await w.close();
    await expect(ShardWriter.open(dir, -1)).rejects.toBeInstanceOf(InputError);
  });

  it('an invalid journal line is an InputError naming the file', async () => {
    await mkdir(join(dir, 'state/detect'), { recursive: true });
    await writeFile(join(dir, 'state/detect/worker-0.jsonl'), '{"shard":"../../x","symbols":[],"rows":0}\n');
    await expect(loadCompletedSymbols(dir)).rejects.toThrow(/worker-0\.jsonl: entry 1 is not a shard journal line/);
  });
});
