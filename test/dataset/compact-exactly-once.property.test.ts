/**
 * Compaction under crashes: windows are committed in rounds (some rounds compacted with a crash
 * injected at an arbitrary filesystem step: staged writes, fsyncs, renames, the journal append,
 * the publish renames, window removal), then a final clean compaction. Afterwards every committed
 * window's rows are in exactly one published part (globbing dataset/ finds each window's rows once,
 * with exact nanoseconds), the journal names each window once, nothing is left in staging, and a
 * removed window is still "done" for resume.
 */
import { cp, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import pl from 'nodejs-polars';
import { afterAll, describe, expect, it } from 'vitest';
import { compact } from '../../src/dataset/compact.js';
import { datasetPaths } from '../../src/dataset/layout.js';
import { loadCompactionJournal } from '../../src/dataset/state.js';
import { instrumentFs } from '../../src/fs/fs-layer.js';
import { int64Values, quotesFrame, tradesFrame } from '../../src/sinks/parquet.js';
import { loadIngestState, WindowWriter } from '../../src/sinks/window-sink.js';
import { canonicalEventId } from '../../src/streams/event-id.js';
import { crashingFs, fastTempDir, noSyncFs, onlyCrash } from '../sinks/crash-fs.js';
import { fakeQuotes, fakeTrades, T0 } from '../sinks/helpers.js';

interface Ev {
  readonly symbol: string;
  readonly id: string;
  readonly trades: number;
  readonly quotes: number;
  readonly base: bigint;
}

const stats = { cases: 0, crashes: 0, compactions: 0 };
const crashOps: Record<string, number> = {};

async function ingest(out: string, events: readonly Ev[]): Promise<void> {
  const w = await WindowWriter.open(out, { index: 0, count: 1 }, { fs: noSyncFs, groupCommitMs: 0, processAlive: () => false });
  for (const e of events) {
    await w.commit({ symbol: e.symbol, eventId: e.id, trades: tradesFrame(fakeTrades(e.trades, e.base)), quotes: quotesFrame(fakeQuotes(e.quotes, e.base)) });
  }
  await w.close();
}

async function compactWithCrash(out: string, crashAt: number | undefined, torn: boolean, removeWindows: boolean, maxPartRows: number): Promise<void> {
  const fs = crashingFs(crashAt === undefined ? undefined : { step: crashAt, torn });
  try {
    await compact(out, { fs, removeWindows, maxPartRows, processAlive: () => false });
    stats.compactions++;
  } catch (err) {
    onlyCrash(err);
    stats.crashes++;
    const op = fs.crashed?.op ?? '?';
    crashOps[op] = (crashOps[op] ?? 0) + 1;
  }
}

async function checkDataset(out: string, events: readonly Ev[], removeWindows: boolean): Promise<void> {
  const p = datasetPaths(out);
  const j = await loadCompactionJournal(p);
  expect(j.duplicates).toEqual([]);
  expect([...j.compacted.keys()].sort()).toEqual(events.map((e) => e.id).sort());
  expect(await readdir(p.stagingDir).then((ds) => Promise.all(ds.map((d) => readdir(join(p.stagingDir, d))))).then((x) => x.flat()).catch(() => [])).toEqual([]);
  for (const kind of ['trades', 'quotes'] as const) {
    const symbols = await readdir(join(p.datasetDir, kind)).catch(() => [] as string[]);
    const files = (await Promise.all(symbols.map(async (s) => (await readdir(join(p.datasetDir, kind, s))).map((f) => join(p.datasetDir, kind, s, f))))).flat();
    // Every file in dataset/ is a journaled part (no uncommitted part is ever visible).
    const journaled = new Set(j.lines.map((l) => join(p.datasetDir, kind, `symbol=${l.symbol}`, `part-${String(l.part).padStart(6, '0')}.parquet`)));
    expect(files.sort()).toEqual([...journaled].sort());
    const rows = files.length === 0 ? pl.DataFrame({ event_id: [] as string[] }) : pl.concat(files.map((f) => pl.readParquet(f)));
    for (const e of events) {
      const mine = rows.filter(pl.col('event_id').eq(pl.lit(e.id)));
      const n = kind === 'trades' ? e.trades : e.quotes;
      expect(mine.height, `${kind} rows of ${e.id}`).toBe(n);
      if (n > 0) expect(int64Values(mine, 'sip_timestamp')).toEqual(Array.from({ length: n }, (_, i) => e.base + BigInt(i)));
    }
  }
  // Removed or not, every window is still done for resume.
  const state = await loadIngestState(out);
  expect([...state.completed].sort()).toEqual(events.map((e) => e.id).sort());
  const windowDirs = (await readdir(join(out, 'windows')).catch(() => [] as string[])).length;
  if (removeWindows) expect(windowDirs === 0 || (await countWindowFiles(out)) === 0).toBe(true);
  else expect(await countWindowFiles(out)).toBe(events.length * 2);
}

async function countWindowFiles(out: string): Promise<number> {
  let n = 0;
  for (const s of await readdir(join(out, 'windows')).catch(() => [] as string[])) {
    for (const e of await readdir(join(out, 'windows', s))) n += (await readdir(join(out, 'windows', s, e))).filter((f) => f.endsWith('.parquet')).length;
  }
  return n;
}

describe('compaction exactly-once under crashes at every filesystem step', () => {
  afterAll(() => console.log(`[compact property] ${JSON.stringify(stats)} crash ops: ${JSON.stringify(crashOps)}`));

  it('every committed window ends in exactly one published part; crashes leave windows or parts, never both counted', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            windows: fc.array(fc.record({ sym: fc.integer({ min: 0, max: 2 }), trades: fc.nat(4), quotes: fc.nat(3) }), { maxLength: 5 }),
            crash: fc.option(fc.record({ frac: fc.integer({ min: 0, max: 9999 }).map((x) => x / 10_000), torn: fc.boolean() }), { nil: undefined, freq: 4 }),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        fc.boolean(),
        fc.constantFrom(2, 5, 1000),
        async (rounds, removeWindows, maxPartRows) => {
          const { dir: out, cleanup } = await fastTempDir('tickpipe-compact-prop-');
          try {
            stats.cases++;
            const events: Ev[] = [];
            for (const [r, round] of rounds.entries()) {
              const fresh = round.windows.map((w, i) => {
                const symbol = `S${w.sym}`;
                const ms = Date.UTC(2024, 2, 4, 14, r * 10 + i, 0);
                return { symbol, id: canonicalEventId(symbol, 'flush', ms), trades: w.trades, quotes: w.quotes, base: T0 + BigInt(r * 1_000_000 + i * 1000) };
              });
              await ingest(out, fresh);
              events.push(...fresh);
              // A clean compaction takes ~16 steps, 2 per window to check, ~24 per part, 3 per removed window.
              const estimate = 16 + events.length * 5 + 24 * new Set(events.map((e) => e.symbol)).size * (maxPartRows < 5 ? 3 : 1);
              await compactWithCrash(out, round.crash ? Math.floor(round.crash.frac * estimate) : undefined, round.crash?.torn ?? false, removeWindows, maxPartRows);
            }
            await compact(out, { removeWindows, maxPartRows, processAlive: () => false });
            await checkDataset(out, events, removeWindows);
          } finally {
            await cleanup();
          }
        },
      ),
      { numRuns: Number(process.env['COMPACT_PROP_RUNS'] ?? 60) },
    );
  }, 600_000);
});

describe('compaction: a crash at each single step of one compaction, then resume', () => {
  it('for every step k of a clean run (with window removal), crashing at k and resuming gives the same dataset', async () => {
    const make = (sym: number, i: number, trades: number, quotes: number): Ev => {
      const symbol = `S${sym}`;
      return { symbol, id: canonicalEventId(symbol, 'vwap_break', Date.UTC(2024, 2, 5, 15, i)), trades, quotes, base: T0 + BigInt(i * 1000) };
    };
    const events = [make(0, 0, 3, 2), make(0, 1, 0, 1), make(1, 2, 2, 0)];
    // Steps of a clean run (maxPartRows 3 gives S0 two parts). Each case starts from a copy of the
    // ingested folder (cheaper than ingesting again).
    const { dir: probe, cleanup: cleanProbe } = await fastTempDir('tickpipe-compact-steps-');
    const { dir: ingested, cleanup: cleanIngested } = await fastTempDir('tickpipe-compact-ingested-');
    await ingest(ingested, events);
    const ops: string[] = [];
    try {
      await cp(ingested, probe, { recursive: true });
      const counting = instrumentFs(noSyncFs, (c) => void ops.push(c.op));
      await compact(probe, { fs: counting, removeWindows: true, maxPartRows: 3, processAlive: () => false });
    } finally {
      await cleanProbe();
    }
    expect(ops.length).toBeGreaterThan(40);
    expect(ops).toContain('handle.write'); // the commit line
    for (let k = 0; k < ops.length; k++) {
      // A torn write differs from a plain crash only for writes (the journal append).
      for (const torn of ops[k] === 'handle.write' ? [false, true] : [false]) {
        const { dir: out, cleanup } = await fastTempDir('tickpipe-compact-step-');
        try {
          await cp(ingested, out, { recursive: true });
          await compactWithCrash(out, k, torn, true, 3);
          await compact(out, { removeWindows: true, maxPartRows: 3, processAlive: () => false });
          await checkDataset(out, events, true);
        } finally {
          await cleanup();
        }
      }
    }
    await cleanIngested();
  }, 900_000);
});
