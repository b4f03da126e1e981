import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { lastValueFrom, map, of, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { canonicalEventId } from '../../src/streams/event-id.js';
import { openManifest, readManifest, type ManifestEvent } from '../../src/streams/manifest.js';
import { filterAsync, pullMap } from '../../src/streams/pull.js';

const dir = mkdtempSync(join(tmpdir(), 'tickpipe-manifest-'));

async function collect(it: AsyncIterable<ManifestEvent>): Promise<ManifestEvent[]> {
  const out: ManifestEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

// From the Python oracle table in event-id.test.ts.
const PY_MS = { symbol: 'MSFT', type: 'flush', ms: 1701954120123, id: 'MSFT_flush_20231207_130200_4d7cfd68' };

function writeManifest(name: string, n: number, timestamp: pl.Series): string {
  const p = join(dir, name);
  const symbols = Array.from({ length: n }, (_, i) => `S${String(Math.floor(i / 7)).padStart(5, '0')}`);
  const types = Array.from({ length: n }, (_, i) => ['orb_break', 'vwap_break', 'flush'][i % 3]!);
  pl.DataFrame({ symbol: symbols, event_type: types, timestamp, price: Array.from({ length: n }, () => 1.5) }).writeParquet(p, {
    compression: 'zstd',
  });
  return p;
}

describe('readManifest', () => {
  it('streams Int64 ms rows in file order with canonical IDs across batch boundaries', async () => {
    const n = 1000;
    const ms = Array.from({ length: n }, (_, i) => 1_701_954_120_000 + i * 61_001);
    const p = writeManifest('ms.parquet', n, pl.Series('timestamp', ms, pl.Int64));
    const rows = await collect(readManifest(p, { batchRows: 97 }));
    expect(rows.map((r) => r.index)).toEqual(ms.map((_, i) => i));
    rows.forEach((r, i) => {
      expect(r.timestampMs).toBe(ms[i]);
      expect(r.eventId).toBe(canonicalEventId(r.symbol, r.eventType, ms[i]!));
    });
    expect((await openManifest(p)).timestampKind).toBe('int-ms');
  });

  it('matches the Python oracle for ms, Datetime (ms/us/ns, any tz) and string timestamps', async () => {
    const base = pl.Series('timestamp', [PY_MS.ms], pl.Int64);
    const variants: Array<[string, pl.Series]> = [
      ['int', base],
      ['dt-ms', base.cast(pl.Datetime('ms'))],
      ['dt-us-ny', base.cast(pl.Datetime('ms')).cast(pl.Datetime('us')).cast(pl.Datetime('us', 'America/New_York'))],
      ['dt-ns-utc', base.cast(pl.Datetime('ms', 'UTC')).cast(pl.Datetime('ns', 'UTC'))],
      ['str-offset', pl.Series('timestamp', ['2023-12-07T08:02:00.123-05:00'])],
      ['str-z', pl.Series('timestamp', ['2023-12-07T13:02:00.123Z'])],
    ];
    for (const [name, series] of variants) {
      const p = join(dir, `oracle-${name}.parquet`);
      pl.DataFrame({ symbol: [PY_MS.symbol], event_type: [PY_MS.type], timestamp: series }).writeParquet(p);
      const [row] = await collect(readManifest(p));
      expect(row, name).toMatchObject({ index: 0, timestampMs: PY_MS.ms, eventId: PY_MS.id, iso: '2023-12-07T13:02:00.123000+00:00' });
    }
  });

  it('keeps microseconds of a ns Datetime column (truncated, like Python)', async () => {
    // 2023-12-07T13:02:00.000001999 as ns, built inside polars so no JS double ever holds it.
    const p = join(dir, 'ns.parquet');
    pl.DataFrame({ symbol: ['AAPL'], event_type: ['orb_break'], s: pl.Series('s', [1_701_954_120_000], pl.Int64) })
      .select(
        pl.col('symbol'),
        pl.col('event_type'),
        pl.col('s').cast(pl.Datetime('ms')).cast(pl.Datetime('ns')).cast(pl.Int64).add(pl.lit(1999).cast(pl.Int64)).cast(pl.Datetime('ns')).alias('timestamp'),
      )
      .writeParquet(p);
    const [row] = await collect(readManifest(p));
    expect(row!.iso).toBe('2023-12-07T13:02:00.000001+00:00');
    expect(row!.eventId).toBe(canonicalEventId('AAPL', 'orb_break', 1_701_954_120_000_001_999n));
    expect(row!.timestampMs).toBe(1_701_954_120_000);
  });

  it('reads CSV line by line: ms integers and Python-style strings, quoted fields', async () => {
    const p = join(dir, 'm.csv');
    writeFileSync(
      p,
      'Symbol,event_type,timestamp,note\r\n' +
        `MSFT,flush,${PY_MS.ms},"a, b"\n` +
        'MSFT,"flush",2023-12-07 13:02:00,"multi\nline"\n' +
        'BRK.B,orb_break,2024-03-10T01:59:59-05:00,x\n',
    );
    const rows = await collect(readManifest(p));
    expect(rows.map((r) => r.eventId)).toEqual([
      PY_MS.id,
      'MSFT_flush_20231207_130200_706736ba',
      'BRK.B_orb_break_20240310_065959_d4188d24',
    ]);
    writeFileSync(join(dir, 'bad.csv'), 'symbol,event_type,timestamp\nMSFT,flush,1701954120000\nMSFT,flush,2023-02-30\n');
    await expect(collect(readManifest(join(dir, 'bad.csv')))).rejects.toThrow(/bad\.csv:3: invalid timestamp "2023-02-30"/);
  });

  it('validates columns up front and rows with file + row', async () => {
    const p = join(dir, 'nocol.parquet');
    pl.DataFrame({ symbol: ['A'], ts: [1] }).writeParquet(p);
    await expect(openManifest(p)).rejects.toThrow(/lacks column\(s\) "event_type", "timestamp"; columns found: "symbol", "ts"/);
    await expect(collect(readManifest(p))).rejects.toThrow(InputError);
    await expect(openManifest(join(dir, 'missing.parquet'))).rejects.toThrow(/manifest file not found/);
    const bad = join(dir, 'badrow.parquet');
    pl.DataFrame({ symbol: ['A', '../x'], event_type: ['flush', 'flush'], timestamp: pl.Series('t', [1_701_954_120_000, 1_701_954_180_000], pl.Int64) }).writeParquet(bad);
    await expect(collect(readManifest(bad))).rejects.toThrow(/badrow\.parquet: row 2: invalid symbol "\.\.\/x"/);
    const badType = join(dir, 'badtype.parquet');
    pl.DataFrame({ symbol: ['A'], event_type: ['a/b'], timestamp: pl.Series('t', [1_701_954_120_000], pl.Int64) }).writeParquet(badType);
    await expect(collect(readManifest(badType))).rejects.toThrow(/row 1: invalid event_type "a\/b"/);
  });

  it('600,000-row Parquet: throughput, and slicing stays linear (figures printed)', async () => {
    const n = 600_000;
    const p = writeManifest('big.parquet', n, pl.Series('timestamp', Array.from({ length: n }, (_, i) => 1.7e12 + i * 1000), pl.Int64));
    // Per-slice cost at the start vs the end of the file: equal when slicing is linear overall.
    const time = async (off: number): Promise<number> => {
      const t = performance.now();
      await pl.scanParquet(p).select('symbol', 'event_type', 'timestamp').slice(off, 8192).collect();
      return performance.now() - t;
    };
    const early = (await time(0)) + (await time(8192)) + (await time(16384));
    const late = (await time(n - 3 * 8192)) + (await time(n - 2 * 8192)) + (await time(n - 8192));
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    let count = 0;
    let last = -1;
    for await (const e of readManifest(p)) {
      if (e.index !== last + 1) throw new Error('out of order');
      last = e.index;
      count++;
    }
    const s = (performance.now() - t0) / 1000;
    expect(count).toBe(n);
    console.log(
      `readManifest: ${n} rows in ${s.toFixed(2)} s = ${Math.round(n / s)} rows/s; 3 slices at start ${early.toFixed(1)} ms, at end ${late.toFixed(1)} ms; heap delta ${((process.memoryUsage().heapUsed - heap0) / 1e6).toFixed(1)} MB`,
    );
  });

  it('skipping 200,000 completed events through filterAsync + pullMap pulls lazily, costs no slots', async () => {
    const n = 200_000;
    const p = writeManifest('skip.parquet', n, pl.Series('timestamp', Array.from({ length: n }, (_, i) => 1.7e12 + i * 1000), pl.Int64));
    const completed = new Set<string>();
    for await (const e of readManifest(p)) if (e.index < n - 5) completed.add(e.eventId);
    let skipped = 0;
    let started = 0;
    let outstanding = 0;
    let maxOutstanding = 0;
    const heap0 = process.memoryUsage().heapUsed;
    let heapPeak = heap0;
    const done = await lastValueFrom(
      pullMap(
        filterAsync(readManifest(p), (e) => {
          if (completed.has(e.eventId)) {
            skipped++;
            if (skipped % 20_000 === 0) heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
            // Nothing may be started while the completed prefix is being skipped.
            expect(outstanding).toBe(0);
            return false;
          }
          return true;
        }),
        (e) => {
          started++;
          outstanding++;
          maxOutstanding = Math.max(maxOutstanding, outstanding);
          return of(e.eventId).pipe(map((id) => (outstanding--, id)));
        },
        4,
      ).pipe(toArray()),
    );
    expect(skipped).toBe(n - 5);
    expect(started).toBe(5);
    expect(done).toHaveLength(5);
    expect(maxOutstanding).toBeLessThanOrEqual(4);
    console.log(
      `skip 200k: heap before ${(heap0 / 1e6).toFixed(1)} MB, peak sampled ${(heapPeak / 1e6).toFixed(1)} MB, after ${(process.memoryUsage().heapUsed / 1e6).toFixed(1)} MB`,
    );
  });
});
