import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskError, InputError } from '../../src/errors.js';
import { instrumentFs, nodeFs } from '../../src/fs/fs-layer.js';
import {
  QUOTES_SCHEMA,
  RECORDS_MAX_ROWS,
  TRADES_SCHEMA,
  int64Values,
  quotesFrame,
  tradesFrame,
  writeParquetAtomically,
} from '../../src/sinks/parquet.js';
import type { Quote, Trade } from '../../src/types.js';
import { errno, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => cleanup());

const T0 = 1_700_000_000_123_456_789n;
const trades: Trade[] = [
  { sip_timestamp: T0, participant_timestamp: T0 - 1n, exchange: 4, id: 'a1', price: 10.25, sequence_number: 1, size: 100, tape: 3, conditions: [12, 37], trf_timestamp: T0 + 7n, trf_id: 201 },
  { sip_timestamp: T0 + 1n, participant_timestamp: T0 + 2n, exchange: 11, id: 'a2', price: 10.26, sequence_number: 2, size: 0.5, tape: 3, conditions: [] },
  { sip_timestamp: 9_223_372_036_854_775_807n, participant_timestamp: 2n ** 53n + 1n, exchange: 1, id: 'a3', price: 1e-4, sequence_number: 2 ** 40, size: 1, tape: 1, correction: 1 },
];
const quotes: Quote[] = [
  { sip_timestamp: T0, participant_timestamp: T0 - 3n, ask_exchange: 1, ask_price: 10.3, ask_size: 2, bid_exchange: 2, bid_price: 10.2, bid_size: 3, sequence_number: 9, tape: 3, indicators: [604] },
  { sip_timestamp: T0 + 999n, participant_timestamp: T0 + 5n, ask_exchange: 1, ask_price: 10.31, ask_size: 2, bid_exchange: 2, bid_price: 10.2, bid_size: 3, sequence_number: 10, tape: 3, conditions: [1], trf_timestamp: T0 },
];

function schemaOf(df: pl.DataFrame): Record<string, string> {
  return Object.fromEntries(Object.entries(df.schema).map(([k, v]) => [k, String(v)]));
}
const expectedSchema = (s: Record<string, pl.DataType>): Record<string, string> =>
  Object.fromEntries(Object.entries(s).map(([k, v]) => [k, String(v)]));

describe('parquet', () => {
  it('trades round-trip exactly, including ns timestamps above 2^53', async () => {
    const p = join(dir, 'w', 'trades.parquet');
    const { rows, bytes } = await writeParquetAtomically(p, tradesFrame(trades));
    expect(rows).toBe(3);
    expect(bytes).toBe((await stat(p)).size);
    const back = pl.readParquet(p);
    expect(schemaOf(back)).toEqual(expectedSchema(TRADES_SCHEMA));
    expect(Object.keys(back.schema)).toEqual(Object.keys(TRADES_SCHEMA));
    expect(int64Values(back, 'sip_timestamp')).toEqual([T0, T0 + 1n, 9_223_372_036_854_775_807n]);
    expect(int64Values(back, 'participant_timestamp')).toEqual([T0 - 1n, T0 + 2n, 2n ** 53n + 1n]);
    expect(int64Values(back, 'trf_timestamp')).toEqual([T0 + 7n, null, null]);
    expect(back.getColumn('conditions').toArray()).toEqual([[12, 37], [], null]);
    expect(back.getColumn('correction').toArray()).toEqual([null, null, 1]);
    expect(back.getColumn('trf_id').toArray()).toEqual([201, null, null]);
    expect(back.getColumn('size').toArray()).toEqual([100, 0.5, 1]);
    expect(back.getColumn('sequence_number').toArray()).toEqual([1, 2, 2 ** 40]);
    expect(back.getColumn('id').toArray()).toEqual(['a1', 'a2', 'a3']);
    expect(await readdir(join(dir, 'w'))).toEqual(['trades.parquet']);
  });

  it('quotes round-trip exactly', async () => {
    const p = join(dir, 'quotes.parquet');
    await writeParquetAtomically(p, quotesFrame(quotes));
    const back = pl.readParquet(p);
    expect(schemaOf(back)).toEqual(expectedSchema(QUOTES_SCHEMA));
    expect(int64Values(back, 'sip_timestamp')).toEqual([T0, T0 + 999n]);
    expect(int64Values(back, 'trf_timestamp')).toEqual([null, T0]);
    expect(back.getColumn('indicators').toArray()).toEqual([[604], null]);
    expect(back.getColumn('conditions').toArray()).toEqual([null, [1]]);
  });

  it('empty trades/quotes give valid empty files with the fixed schema', async () => {
    for (const [name, df, schema] of [
      ['t.parquet', tradesFrame([]), TRADES_SCHEMA],
      ['q.parquet', quotesFrame([]), QUOTES_SCHEMA],
    ] as const) {
      const p = join(dir, name);
      expect(df.height).toBe(0);
      await writeParquetAtomically(p, df);
      const back = pl.readParquet(p);
      expect(back.height).toBe(0);
      expect(schemaOf(back)).toEqual(expectedSchema(schema));
    }
  });

  it('wrong types and out-of-range values are InputErrors (nodejs-polars would store null or wrap)', () => {
    expect(() => tradesFrame([{ ...trades[0]!, sip_timestamp: 5 as unknown as bigint }])).toThrow(/sip_timestamp: expected a bigint at row 0/);
    expect(() => tradesFrame([{ ...trades[0]!, sip_timestamp: 2n ** 63n }])).toThrow(/does not fit in Int64/);
    expect(() => tradesFrame([{ ...trades[0]!, price: '1' as unknown as number }])).toThrow(InputError);
    expect(() => tradesFrame([{ ...trades[0]!, conditions: [1.5] }])).toThrow(/conditions: expected 32-bit integers/);
    expect(() => quotesFrame([{ ...quotes[0]!, tape: 2 ** 40 }])).toThrow(InputError);
  });

  it('large frames (column-by-column path) equal the small-frame path and stay exact', async () => {
    const n = RECORDS_MAX_ROWS + 5;
    const many: Trade[] = Array.from({ length: n }, (_, i) => ({
      ...trades[i % 3]!,
      sip_timestamp: T0 + BigInt(i),
      id: `x${i}`,
    }));
    const big = tradesFrame(many);
    expect(schemaOf(big)).toEqual(expectedSchema(TRADES_SCHEMA));
    const head = tradesFrame(many.slice(0, 9));
    expect(big.head(9).frameEqual(head, true)).toBe(true);
    expect(int64Values(big, 'sip_timestamp').slice(-1)).toEqual([T0 + BigInt(n - 1)]);
    expect(int64Values(big, 'trf_timestamp').slice(0, 3)).toEqual([T0 + 7n, null, null]);
    expect(big.getColumn('conditions').slice(0, 3).toArray()).toEqual([[12, 37], [], null]);
    const p = join(dir, 'big.parquet');
    await writeParquetAtomically(p, big, { engine: 'sink' });
    expect(pl.readParquet(p).frameEqual(big, true)).toBe(true);
    const emptyBig = quotesFrame([]);
    expect(emptyBig.height).toBe(0);
  });

  it('frame building cost (prints it)', () => {
    const mk = (n: number): Trade[] => Array.from({ length: n }, (_, i) => ({ ...trades[i % 3]!, sip_timestamp: T0 + BigInt(i) }));
    const parts: string[] = [];
    for (const n of [2, 1_000, 10_000, 50_000]) {
      const rows = mk(n);
      tradesFrame(rows);
      const t0 = performance.now();
      tradesFrame(rows);
      parts.push(`${n} rows ${(performance.now() - t0).toFixed(1)} ms`);
    }
    console.log(`[parquet] tradesFrame: ${parts.join(', ')}`);
  });

  it('uses zstd (zstd frame magic in the pages; smaller than uncompressed), both engines', async () => {
    const n = 20_000;
    const many: Trade[] = Array.from({ length: n }, (_, i) => ({
      sip_timestamp: T0 + BigInt(i) * 1000n,
      participant_timestamp: T0 + BigInt(i) * 1000n - 5n,
      exchange: i % 12,
      id: String(i),
      price: 10 + (i % 50) / 100,
      sequence_number: i,
      size: 100,
      tape: 3,
      conditions: [12],
    }));
    const df = tradesFrame(many);
    const zstdMagic = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
    const sizes: Record<string, number> = {};
    for (const [name, opts] of [
      ['zstd-sink', { engine: 'sink' }],
      ['zstd-auto', {}],
      ['zstd-write', { engine: 'write' }],
      ['snappy', { compression: 'snappy' }],
      ['none', { compression: 'uncompressed' }],
    ] as const) {
      const p = join(dir, `${name}.parquet`);
      await writeParquetAtomically(p, df, opts);
      const buf = await readFile(p);
      sizes[name] = buf.byteLength;
      expect(buf.includes(zstdMagic), name).toBe(name.startsWith('zstd'));
      expect(pl.readParquet(p).height).toBe(n);
    }
    expect(sizes['zstd-sink']!).toBeLessThan(sizes['none']! / 3);
    console.log(`[parquet] 20k trades: zstd ${sizes['zstd-sink']} B (writeParquet ${sizes['zstd-write']} B), snappy ${sizes['snappy']} B, uncompressed ${sizes['none']} B`);
  });

  it('a disk-full polars write becomes a DiskError and leaves nothing behind', async () => {
    // The polars write itself cannot be faulted through the fs layer, so fail the fsync after it.
    const fs = instrumentFs(nodeFs, (c) => {
      if (c.op === 'handle.sync') throw errno('ENOSPC', 'fsync');
    });
    const p = join(dir, 'x', 'trades.parquet');
    const err = await writeParquetAtomically(p, tradesFrame(trades), { fs }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiskError);
    expect((err as Error).message).toBe(`disk full syncing ${p} (ENOSPC)`);
    expect(await readdir(join(dir, 'x'))).toEqual([]);
  });

  it('validates options up front', async () => {
    await expect(writeParquetAtomically(join(dir, 'a'), tradesFrame([]), { compression: 'xz' as 'zstd' })).rejects.toBeInstanceOf(InputError);
    await expect(writeParquetAtomically(join(dir, 'a'), tradesFrame([]), { compressionLevel: 99 })).rejects.toBeInstanceOf(InputError);
  });

  it('measures writeParquet vs sinkParquet on 1M rows: time and event-loop blocking (prints them)', async () => {
    const n = 1_000_000;
    const ts = new BigInt64Array(n);
    const price = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      ts[i] = T0 + BigInt(i) * 1000n;
      price[i] = 10 + (i % 100) / 100;
    }
    const df = pl.DataFrame([pl.Series('sip_timestamp', ts as unknown as number[]), pl.Series('price', price as unknown as number[]), pl.Series('size', Array.from({ length: n }, (_, i) => i % 500), pl.Int32)]);
    const measure = async (engine: 'sink' | 'write'): Promise<{ ms: number; lag: number }> => {
      let maxLag = 0;
      let last = performance.now();
      const iv = setInterval(() => {
        const now = performance.now();
        maxLag = Math.max(maxLag, now - last - 2);
        last = now;
      }, 2);
      await new Promise((r) => setTimeout(r, 20));
      maxLag = 0;
      last = performance.now();
      const t0 = performance.now();
      await writeParquetAtomically(join(dir, `big-${engine}.parquet`), df, { engine });
      const ms = performance.now() - t0;
      await new Promise((r) => setTimeout(r, 20));
      clearInterval(iv);
      return { ms, lag: maxLag };
    };
    await measure('sink'); // warm up
    const w = await measure('write');
    const s = await measure('sink');
    console.log(
      `[parquet] 1M rows x 3 cols, zstd, atomic publish: writeParquet ${w.ms.toFixed(0)} ms (max event-loop lag ${w.lag.toFixed(0)} ms); sinkParquet ${s.ms.toFixed(0)} ms (max lag ${s.lag.toFixed(0)} ms)`,
    );
    expect(int64Values(pl.readParquet(join(dir, 'big-sink.parquet')).slice(n - 1, 1), 'sip_timestamp')).toEqual([T0 + BigInt(n - 1) * 1000n]);
  });
});
