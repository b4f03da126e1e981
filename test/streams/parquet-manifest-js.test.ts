/**
 * The JS Parquet manifest reader (parquet-manifest.ts) against the Polars reader it replaces, on
 * generated files: every accepted timestamp type (Int64 ms; Datetime ms/µs/ns, naive, UTC and
 * another zone, sub-unit digits and instants before 1970; Date; strings, valid and not), nulls and
 * bad cells in every column, Categorical symbols, each codec, dictionary and plain encodings,
 * several row groups and data page v2 (DuckDB), empty files. Same events (index, ID, ISO time,
 * ms), same error text; and the JS reader must really be the one that read (no silent fallback),
 * except for LZ4, which it leaves to Polars on purpose.
 */
import fc from 'fast-check';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import pl from 'nodejs-polars';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifestBatches, readManifestBatchesViaPolars, type ManifestBatch } from '../../src/streams/manifest.js';
import { bindColumns, planParquetManifest } from '../../src/streams/parquet-manifest.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tickpipe-parquet-js-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Outcome {
  readonly events: Array<[number, string, string, string, string | undefined, number]>;
  readonly error?: string;
}

async function outcome(batches: AsyncIterable<ManifestBatch>): Promise<Outcome> {
  const events: Outcome['events'] = [];
  try {
    for await (const b of batches) {
      for (let i = 0; i < b.length; i++) {
        expect(b.known[i]).toBe(-1);
        const e = b.event(i);
        events.push([e.index, e.eventId, e.symbol, e.eventType, e.iso, e.timestampMs]);
      }
    }
  } catch (err) {
    return { events, error: `${(err as Error).constructor.name}: ${(err as Error).message}` };
  }
  return { events };
}

/** Whether the JS reader takes this file (else Polars reads it). */
async function jsReads(path: string): Promise<boolean> {
  const planned = await planParquetManifest(path);
  return planned !== undefined && bindColumns(planned.plan, 'symbol', 'event_type', 'timestamp') !== undefined;
}

async function compare(path: string, batchRows: number): Promise<Outcome> {
  const viaJs = await outcome(readManifestBatches(path, { batchRows }));
  const viaPolars = await outcome(readManifestBatchesViaPolars(path, { batchRows }));
  // A failing row stops both readers; what was handed out before it is batch-aligned, so compare
  // the error and the events of the rows both handed out.
  expect(viaJs.error).toEqual(viaPolars.error);
  if (viaJs.error === undefined) expect(viaJs.events).toEqual(viaPolars.events);
  else {
    const n = Math.min(viaJs.events.length, viaPolars.events.length);
    expect(viaJs.events.slice(0, n)).toEqual(viaPolars.events.slice(0, n));
  }
  return viaJs;
}

const BASE_MS = 1_701_954_120_123;
type TsKind = 'int-ms' | 'dt-ms' | 'dt-us' | 'dt-ns' | 'date' | 'string';
const TZS = [undefined, 'UTC', 'America/New_York'] as const;
const SPELL: ReadonlyArray<(ms: number) => string> = [
  (ms) => new Date(ms).toISOString(),
  (ms) => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ''),
  (ms) => new Date(ms - 5 * 3_600_000).toISOString().replace('Z', '-05:00'),
  () => '2023-02-30',
  () => 'not a time',
  () => '',
];

const rowArb = fc.record({
  symbol: fc.oneof({ weight: 20, arbitrary: fc.constantFrom('AAPL', 'MSFT', 'BRK.B', 'Q') }, { weight: 1, arbitrary: fc.constantFrom<string | null>(null, '../x') }),
  type: fc.oneof({ weight: 20, arbitrary: fc.constantFrom('flush', 'orb_break', 'vwap-break') }, { weight: 1, arbitrary: fc.constantFrom<string | null>(null, 'a/b') }),
  // Offset from BASE_MS in ms (negative: before it; a large one reaches before 1970), and sub-ms digits.
  ms: fc.oneof(fc.integer({ min: -86_400_000, max: 86_400_000 }), fc.constant(-BASE_MS - 1_234_567)),
  sub: fc.integer({ min: 0, max: 999_999 }),
  spell: fc.integer({ min: 0, max: SPELL.length - 1 }),
  nullTs: fc.boolean().map((b) => b && Math.random() < 0.1),
});
type Row = typeof rowArb extends fc.Arbitrary<infer R> ? R : never;

/** The timestamp column of `rows` as `kind`, built in Polars so that no JS double holds a ns value. */
function tsExpr(kind: TsKind, tz: (typeof TZS)[number]): pl.Expr {
  const ms = pl.col('ms');
  const sub = pl.col('sub');
  switch (kind) {
    case 'int-ms':
      return ms.alias('timestamp');
    case 'dt-ms':
      return ms.cast(pl.Datetime('ms', tz)).alias('timestamp');
    case 'dt-us':
      return ms.mul(pl.lit(1000)).add(pl.col('subus')).cast(pl.Datetime('us', tz)).alias('timestamp');
    case 'dt-ns':
      return ms.mul(pl.lit(1_000_000)).add(sub).cast(pl.Datetime('ns', tz)).alias('timestamp');
    case 'date':
      return pl.col('days').cast(pl.Date).alias('timestamp');
    case 'string':
      return pl.col('str').alias('timestamp');
  }
}

function writePolars(path: string, rows: readonly Row[], kind: TsKind, tz: (typeof TZS)[number], codec: 'zstd' | 'snappy' | 'gzip' | 'brotli' | 'uncompressed' | 'lz4', categorical: boolean): void {
  const ms = rows.map((r) => (r.nullTs ? null : kind === 'int-ms' ? BASE_MS + (r.ms % 86_400_000) : BASE_MS + r.ms));
  const df = pl.DataFrame({
    symbol: pl.Series('symbol', rows.map((r) => r.symbol), pl.Utf8),
    event_type: pl.Series('event_type', rows.map((r) => r.type), pl.Utf8),
    ms: pl.Series('ms', ms, pl.Float64).cast(pl.Int64),
    sub: pl.Series('sub', rows.map((r) => r.sub), pl.Int64),
    subus: pl.Series('subus', rows.map((r) => Math.floor(r.sub / 1000)), pl.Int64),
    days: pl.Series('days', ms.map((m) => (m === null ? null : Math.floor(m / 86_400_000))), pl.Int32),
    str: pl.Series('str', rows.map((r) => (r.nullTs ? null : SPELL[r.spell]!(BASE_MS + r.ms))), pl.Utf8),
  });
  const out = df.select(categorical ? pl.col('symbol').cast(pl.Categorical) : pl.col('symbol'), pl.col('event_type'), tsExpr(kind, tz), pl.lit(1.5).alias('price'));
  out.writeParquet(path, { compression: codec });
}

describe('JS Parquet manifest reader = Polars reader', () => {
  it('on Polars-written files of every timestamp type, codec and encoding (fast-check)', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(rowArb, { minLength: 0, maxLength: 120 }),
        fc.constantFrom<TsKind>('int-ms', 'dt-ms', 'dt-us', 'dt-ns', 'date', 'string'),
        fc.constantFrom(...TZS),
        fc.constantFrom('zstd', 'snappy', 'gzip', 'brotli', 'uncompressed', 'lz4' as const),
        fc.boolean(),
        fc.integer({ min: 1, max: 50 }),
        async (rows, kind, tz, codec, categorical, batchRows) => {
          const p = join(dir, `p${n++}.parquet`);
          writePolars(p, rows, kind, tz, codec, categorical);
          // LZ4 is left to Polars (an empty file has no chunk to decode: read here).
          expect(await jsReads(p)).toBe(codec !== 'lz4' || rows.length === 0);
          await compare(p, batchRows);
        },
      ),
      { numRuns: 60 },
    );
  }, 120_000);

  it('high-cardinality strings (plain encoding), a Date column and nulls only', async () => {
    const n = 3000;
    const p = join(dir, 'plain.parquet');
    pl.DataFrame({
      symbol: Array.from({ length: n }, (_, i) => `S${i}`),
      event_type: Array.from({ length: n }, (_, i) => `t${i}`),
      timestamp: Array.from({ length: n }, (_, i) => `2024-03-11 ${String(i % 24).padStart(2, '0')}:00:0${i % 10}`),
    }).writeParquet(p, { compression: 'zstd' });
    expect(await jsReads(p)).toBe(true);
    expect((await compare(p, 256)).events).toHaveLength(n);
    const nulls = join(dir, 'nulls.parquet');
    pl.DataFrame({ symbol: ['A', 'B'], event_type: ['x', 'y'], timestamp: pl.Series('timestamp', [null, null], pl.Int64) }).writeParquet(nulls);
    expect(await jsReads(nulls)).toBe(true);
    expect((await compare(nulls, 10)).error).toMatch(/row 1: missing timestamp/);
  });

  it('a struct column with a field named like a manifest column before the real ones', async () => {
    const p = join(dir, 'struct.parquet');
    pl.DataFrame({
      meta: [{ symbol: '../bad', timestamp: 1 }, { symbol: 'also bad', timestamp: 2 }],
      symbol: ['AAPL', 'MSFT'],
      event_type: ['flush', 'flush'],
      // A Datetime here and an Int64 in the struct: read with the struct field's type, the IDs would differ.
      timestamp: pl.Series('timestamp', [BASE_MS, BASE_MS + 1], pl.Int64).cast(pl.Datetime('ms')),
    }).writeParquet(p, { compression: 'zstd' });
    expect(await jsReads(p)).toBe(true);
    const o = await compare(p, 10);
    expect(o.error).toBeUndefined();
    expect(o.events.map((e) => e[2])).toEqual(['AAPL', 'MSFT']);
  });

  it('a page that does not decode: the rows before it as the JS reader read them, then Polars reads on and words the error', async () => {
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    const p = join(dir, 'damaged.parquet');
    try {
      await con.run(
        `COPY (SELECT 'S' || (i % 37)::VARCHAR AS symbol, 'flush' AS event_type, make_timestamp(${BASE_MS}::BIGINT * 1000 + i * 61001017) AS timestamp FROM range(5000) t(i))
         TO '${p}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 2048)`,
      );
    } finally {
      con.closeSync();
      db.closeSync();
    }
    // Break the zstd frame of the second row group's timestamp chunk (its first bytes after the page header).
    const planned = (await planParquetManifest(p))!;
    const meta = planned.plan.metadata.row_groups[1]!.columns.find((c) => c.meta_data!.path_in_schema[0] === 'timestamp')!.meta_data!;
    const at = Number(meta.dictionary_page_offset || meta.data_page_offset);
    const bytes = await readFile(p);
    for (let i = at + Number(meta.total_compressed_size) - 40; i < at + Number(meta.total_compressed_size) - 8; i++) bytes[i] = bytes[i]! ^ 0x5a;
    await writeFile(p, bytes);
    expect(await jsReads(p)).toBe(true);
    const o = await compare(p, 500);
    // fzstd refuses the damaged frame (checked by hand: the JS reader hands over at row 2,048); what
    // Polars makes of the rest, rows or an error, must be what the Polars-only reader gives.
    expect(o.events.length).toBeGreaterThanOrEqual(2048);
  });

  it('refuses an integer column in Unix seconds up front, with the same words', async () => {
    const p = join(dir, 'seconds.parquet');
    pl.DataFrame({ symbol: ['A'], event_type: ['x'], timestamp: pl.Series('timestamp', [1_701_954_120], pl.Int64) }).writeParquet(p);
    expect((await compare(p, 10)).error).toMatch(/looks like Unix seconds/);
  });

  it('on DuckDB-written files: several row groups, data page v1 and v2, every codec, BIGINT/TIMESTAMP/TIMESTAMP_NS/TIMESTAMPTZ/DATE/VARCHAR', async () => {
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    try {
      const rows = 5000; // DuckDB's row groups are whole 2,048-row vectors: 3 groups
      const exprs: Record<string, string> = {
        bigint: `CASE WHEN i % 97 = 96 THEN NULL ELSE ${BASE_MS}::BIGINT + i * 61001 END`,
        ts: `make_timestamp(${BASE_MS}::BIGINT * 1000 + i * 61001017)`,
        tsns: `make_timestamp_ns(${BASE_MS}::BIGINT * 1000000 + i * 61001017123)`,
        tstz: `CASE WHEN i % 89 = 88 THEN NULL ELSE make_timestamp(${BASE_MS}::BIGINT * 1000 - i * 86400000000 * 20)::TIMESTAMPTZ END`,
        date: `DATE '2020-01-01' + (i % 2000)::INTEGER`,
        varchar: `strftime(make_timestamp(${BASE_MS}::BIGINT * 1000 + i * 1000000), '%Y-%m-%dT%H:%M:%S') || '+02:00'`,
      };
      let k = 0;
      for (const [name, ts] of Object.entries(exprs)) {
        for (const [codec, version] of [['zstd', 'V1'], ['snappy', 'V2'], ['gzip', 'V1'], ['uncompressed', 'V2']] as const) {
          const p = join(dir, `duck-${k++}-${name}-${codec}.parquet`);
          // Symbols: dictionary-encoded (few values) in even files, unique per row (plain) in odd ones.
          const sym = k % 2 === 0 ? `'S' || (i % 37)::VARCHAR` : `'S' || i::VARCHAR`;
          await con.run(
            `COPY (SELECT ${sym} AS symbol, CASE WHEN i % 3 = 0 THEN 'flush' ELSE 'orb_break' END AS event_type, ${ts} AS timestamp FROM range(${rows}) t(i))
             TO '${p}' (FORMAT parquet, COMPRESSION ${codec}, ROW_GROUP_SIZE 2048, PARQUET_VERSION ${version})`,
          );
          const planned = await planParquetManifest(p);
          expect(planned!.plan.groups.length, p).toBeGreaterThan(1);
          expect(await jsReads(p), p).toBe(true);
          const o = await compare(p, 700);
          if (name === 'bigint' || name === 'tstz') expect(o.error, p).toMatch(/: row (97|89): missing timestamp$/);
          else expect(o.error, p).toBeUndefined();
        }
      }
    } finally {
      con.closeSync();
      db.closeSync();
    }
  }, 120_000);
});
