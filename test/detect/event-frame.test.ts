import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { InputError } from '../../src/errors.js';
import { EVENT_COLUMNS, builtinDetectors, detectEvents, emptyEventsDataFrame, eventsFromDataFrame, eventsToDataFrame } from '../../src/detect/index.js';
import type { EventRow } from '../../src/types.js';
import { bar, run } from './helpers.js';

const EXPECTED_DTYPES = ['String', 'String', 'Datetime(ms,UTC)', 'String', 'Float64', 'Float64', 'Float64', 'Float64'];
const dtypes = (df: pl.DataFrame) => df.dtypes.map((d) => String(d).replace(/^DataType\((.*)\)$/, '$1'));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tickpipe-detect-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const rows: EventRow[] = [
  { symbol: 'ABCD', event_type: 'flush', timestamp: Date.UTC(2024, 2, 11, 13, 45), session: 'RTH', price: 9, volume: 2000, vwap: 9.7, measure: 10 },
  { symbol: 'ABCD', event_type: 'vwap_break', timestamp: Date.UTC(2024, 2, 8, 9, 2), session: 'PM', price: 1.25, volume: 0, vwap: Number.NaN, measure: -0.5 },
];

describe('event frame', () => {
  test('fixed schema, also for zero rows', () => {
    const df = eventsToDataFrame(rows);
    expect(df.columns).toEqual([...EVENT_COLUMNS]);
    expect(df.columns).toEqual(['symbol', 'event_type', 'timestamp', 'session', 'price', 'volume', 'vwap', 'measure']);
    expect(dtypes(df)).toEqual(EXPECTED_DTYPES);
    const empty = emptyEventsDataFrame();
    expect(empty.height).toBe(0);
    expect(empty.columns).toEqual(df.columns);
    expect(dtypes(empty)).toEqual(EXPECTED_DTYPES);
    expect(dtypes(eventsToDataFrame([]))).toEqual(EXPECTED_DTYPES);
  });

  test('timestamps must be whole UTC ms', () => {
    expect(() => eventsToDataFrame([{ ...rows[0]!, timestamp: 1.5 }])).toThrow(InputError);
  });

  test('loads nodejs-polars: writeParquet (zstd) → readParquet / async scanParquet round trip, exact ms', async () => {
    const path = join(dir, 'events.parquet');
    eventsToDataFrame(rows).writeParquet(path, { compression: 'zstd' });
    const eager = pl.readParquet(path);
    expect(dtypes(eager)).toEqual(EXPECTED_DTYPES);
    expect(eventsFromDataFrame(eager)).toEqual(rows);
    const lazy = await pl.scanParquet(path).collect();
    expect(eventsFromDataFrame(lazy)).toEqual(rows);
    // Polars itself sees real UTC instants, not integers.
    expect(String(eager.getColumn('timestamp').dt.hour().toArray())).toBe('13,9');
  });

  test('empty frames round-trip through Parquet with their schema', async () => {
    const path = join(dir, 'empty.parquet');
    emptyEventsDataFrame().writeParquet(path, { compression: 'zstd' });
    const back = pl.readParquet(path);
    expect(back.height).toBe(0);
    expect(dtypes(back)).toEqual(EXPECTED_DTYPES);
    expect(eventsFromDataFrame(back)).toEqual([]);
  });

  test('lazy sinkParquet in 0.24.1 returns an unexecuted plan: the file exists only after its collect()', async () => {
    const path = join(dir, 'sunk.parquet');
    const plan = eventsToDataFrame(rows).lazy().sinkParquet(path, { compression: 'zstd' }) as unknown as { collect(): Promise<unknown> };
    await expect(pl.scanParquet(path).collect()).rejects.toThrow();
    await plan.collect();
    expect(eventsFromDataFrame(pl.readParquet(path))).toEqual(rows);
  });

  test('detected events go to Parquet and back unchanged', async () => {
    const bars = [...run('2024-03-11', '09:30', 10, () => ({ c: 10, h: 10 })), bar('2024-03-11', '09:40', { c: 8.5, v: 10_000 })];
    const events = await detectEvents(bars, 'WXYZ', builtinDetectors());
    expect(events.length).toBeGreaterThan(0);
    const path = join(dir, 'detected.parquet');
    eventsToDataFrame(events).writeParquet(path, { compression: 'zstd' });
    expect(eventsFromDataFrame(pl.readParquet(path))).toEqual(events);
  });

  test('eventsFromDataFrame accepts an Int64 ms timestamp and names a missing column', () => {
    const df = eventsToDataFrame(rows).withColumns(pl.col('timestamp').cast(pl.Int64));
    expect(eventsFromDataFrame(df)).toEqual(rows);
    expect(() => eventsFromDataFrame(df.drop('session'))).toThrow(/no column "session"/);
  });
});
