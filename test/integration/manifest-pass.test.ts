/**
 * The manifest pass of stage 2 through the real CLI against a simulator process on loopback:
 * repeated event IDs (the same instant written two ways) are downloaded once and counted, an
 * integer column of epoch seconds is refused before anything is fetched, and work starts before
 * the pass has reached the end of the manifest.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { BehaviorSubject, lastValueFrom, tap, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsToDataFrame } from '../../src/detect/index.js';
import { CSV_COUNT_DELAY_MS, ingestStage, type IngestProgress } from '../../src/pipeline/ingest-stage.js';
import { canonicalEventId } from '../../src/streams/event-id.js';
import { PolygonClient } from '../../src/streams/polygon-client.js';
import type { EventRow } from '../../src/types.js';
import { lines, runCli, startSimProcess, type SimProcess } from '../support/cli.js';

const KEY = 'manifest-pass-key';
let sim: SimProcess;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tickpipe-manifest-pass-'));
  sim = await startSimProcess(['--api-key', KEY, '--seed', '3']);
}, 60_000);
afterAll(async () => {
  await sim?.close();
  await rm(dir, { recursive: true, force: true });
});

const ingest = (out: string, manifest: string, extra: string[] = []) =>
  runCli(['run', '--stage', 'ingest', '--manifest', manifest, '--out', out, '--base-url', sim.url, '--window=-1m,+1m', '--no-progress', ...extra], {
    env: { POLYGON_API_KEY: KEY },
    timeoutMs: 180_000,
  });

async function journalEvents(out: string): Promise<string[]> {
  const text = await readFile(join(out, 'state', 'ingest', 'part-0.jsonl'), 'utf8');
  return lines(text).map((l) => (JSON.parse(l) as { event: string }).event);
}

describe('tickpipe run --stage ingest: the manifest pass', () => {
  it('drops repeated event IDs (first position wins; the same instant written two ways is one ID) and counts them', async () => {
    const out = join(dir, 'dups');
    const manifest = join(dir, 'dups.csv');
    await writeFile(
      manifest,
      'symbol,event_type,timestamp\n' +
        'ABCD,flush,2024-03-11 15:00:00\n' +
        'ABCD,flush,2024-03-11T11:00:00-04:00\n' +
        'WXYZ,vwap_break,2024-03-12T15:30:00Z\n' +
        'ABCD,flush,2024-03-11 15:00:00\n',
    );
    const r = await ingest(out, manifest);
    expect(r.code, r.stderr).toBe(0);
    const ids = [canonicalEventId('ABCD', 'flush', '2024-03-11T15:00:00Z'), canonicalEventId('WXYZ', 'vwap_break', '2024-03-12T15:30:00Z')];
    // Default concurrency (64): before, the two commits of one ID raced and could abort the run.
    expect((await journalEvents(out)).sort()).toEqual([...ids].sort());
    expect(r.stderr).toMatch(/ingest: 2 events, 0 already done, 0 failed before .*, 2 repeated event ID\(s\) dropped, 2 to go/);
    // Said once: the counted line is one stage event, even though it moves two progress figures.
    expect(r.stderr.match(/already done/g)).toHaveLength(1);
    const v = await runCli(['verify', '--out', out]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    // status of an ingest-only run: no dates to show (run.json has none), the source named.
    const st = await runCli(['status', '--out', out]);
    expect(st.stdout).toMatch(/^  run +events of a given --manifest from http:\/\/127\.0\.0\.1:\d+$/m);

    const again = await ingest(out, manifest);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/ingest: 2 events, 2 already done, 0 failed before .*, 2 repeated event ID\(s\) dropped, 0 to go/);
    expect(await journalEvents(out)).toHaveLength(2);

    // One window at a time: the pass is pulled as windows finish, so it ends (its last item pulled
    // when the last window's slot frees) after all three are settled, and its line says so rather
    // than leave "3 to go" standing when nothing is.
    const slow = join(dir, 'slow');
    const three = join(dir, 'three.csv');
    await writeFile(three, 'symbol,event_type,timestamp\nABCD,flush,2024-03-11 15:00:00\nABCD,flush,2024-03-11 15:05:00\nWXYZ,vwap_break,2024-03-12T15:30:00Z\n');
    const one = await ingest(slow, three, ['--concurrency', '1']);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stderr).toMatch(/ingest: 3 events, 0 already done, 0 failed before .*, 0 repeated event ID\(s\) dropped, 3 to go \(3 of them finished while the manifest was being read\)/);
  }, 240_000);

  it('refuses an Int64 column of epoch seconds with one line and exit 2, fetching nothing', async () => {
    const out = join(dir, 'secs');
    const manifest = join(dir, 'secs.parquet');
    pl.DataFrame({
      symbol: ['ABCD', 'ABCD'],
      event_type: ['flush', 'flush'],
      timestamp: pl.Series('timestamp', [1_710_169_200, 1_710_172_800], pl.Int64),
    }).writeParquet(manifest);
    const r = await ingest(out, manifest);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain('secs.parquet');
    expect(r.stderr).toMatch(/integer timestamp 1710169200 looks like Unix seconds/);
    expect(existsSync(join(out, 'windows'))).toBe(false);
    expect(existsSync(join(out, 'state', 'ingest', 'part-0.jsonl'))).toBe(false);
  }, 120_000);

  it('takes the unit of a Parquet timestamp column from the file (seconds stored as a Datetime)', async () => {
    const out = join(dir, 'dt');
    const manifest = join(dir, 'dt.parquet');
    pl.DataFrame({ symbol: ['ABCD'], event_type: ['flush'], timestamp: pl.Series('timestamp', [1_710_169_200], pl.Int64) })
      .withColumns(pl.col('timestamp').mul(1000).cast(pl.Datetime('ms', 'UTC')))
      .writeParquet(manifest);
    const r = await ingest(out, manifest);
    expect(r.code, r.stderr).toBe(0);
    expect(await journalEvents(out)).toEqual([canonicalEventId('ABCD', 'flush', '2024-03-11T15:00:00Z')]);
  }, 120_000);

  it('sends the first request before the pass has reached the end of the manifest (no counting pass)', async () => {
    const out = join(dir, 'early');
    await mkdir(join(out, 'state', 'ingest'), { recursive: true });
    const t0 = Date.UTC(2024, 2, 4, 14, 45);
    const rows: EventRow[] = [];
    for (let i = 0; i < 20_001; i++) {
      const symbol = `S${(i % 500).toString(36).toUpperCase()}`;
      rows.push({ symbol, event_type: 'flush', timestamp: t0 + Math.floor(i / 500) * 60_000, session: 'RTH', price: 1, volume: 1, vwap: 1, measure: 1 });
    }
    // Every event but the first is journaled.
    const done = rows.slice(1).map((e) => `${JSON.stringify({ event: canonicalEventId(e.symbol, e.event_type, e.timestamp), symbol: e.symbol, trades: 0, quotes: 0 })}\n`);
    await writeFile(join(out, 'state', 'ingest', 'part-0.jsonl'), done.join(''));
    const manifest = join(dir, 'early.parquet');
    eventsToDataFrame(rows).writeParquet(manifest);
    const client = new PolygonClient({ baseUrl: sim.url, apiKey: KEY });
    try {
      const notes = await lastValueFrom(
        ingestStage({ outDir: out, manifestPath: manifest, client, concurrency: 1, window: { beforeMs: 60_000, afterMs: 60_000 } }).pipe(toArray()),
      );
      // With one slot, the rest of the manifest is pulled only once the first window is committed.
      expect(notes.map((n: IngestProgress) => n.kind)).toEqual(['start', 'window', 'counted']);
      expect(notes[0]).toEqual({ kind: 'start', total: 20_001 });
      expect(notes[2]).toEqual({ kind: 'counted', total: 20_001, completed: 20_000, failedBefore: 0, duplicates: 0, pending: 1 });
    } finally {
      await client.close();
    }
  }, 180_000);

  it('a CSV pass still going after CSV_COUNT_DELAY_MS gets its total from a count; a shorter one is not counted twice', async () => {
    const rows = ['symbol,event_type,timestamp'];
    for (let i = 0; i < 3; i++) rows.push(`ABCD,flush,2024-03-11 15:0${i}:00`);
    const manifest = join(dir, 'count.csv');
    await writeFile(manifest, rows.join('\n') + '\n');
    const client = new PolygonClient({ baseUrl: sim.url, apiKey: KEY });
    try {
      // Paused from the start: the pass cannot move until resumed, so the count runs and reports.
      const paused$ = new BehaviorSubject(true);
      const started = Date.now();
      const long = await lastValueFrom(
        ingestStage({ outDir: join(dir, 'count-long'), manifestPath: manifest, client, concurrency: 1, window: { beforeMs: 60_000, afterMs: 60_000 }, paused$ }).pipe(
          tap((n) => {
            if (n.kind === 'total') paused$.next(false);
          }),
          toArray(),
        ),
      );
      expect(long.map((n) => n.kind)).toEqual(['start', 'total', 'window', 'window', 'window', 'counted']);
      expect(long[0]).toEqual({ kind: 'start', total: null });
      expect(long[1]).toEqual({ kind: 'total', total: 3 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(CSV_COUNT_DELAY_MS);
      // Room for every row at once: the pass ends at once, and no count follows it (nor does the
      // stage wait for one).
      const short = await lastValueFrom(ingestStage({ outDir: join(dir, 'count-short'), manifestPath: manifest, client, concurrency: 4, window: { beforeMs: 60_000, afterMs: 60_000 } }).pipe(toArray()));
      expect(short.map((n) => n.kind).sort()).toEqual(['counted', 'start', 'window', 'window', 'window']);
    } finally {
      await client.close();
    }
  }, 180_000);
});
