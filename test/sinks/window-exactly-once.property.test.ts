/**
 * Stage 2 under crashes: wherever a crash hits (trades publish, quotes publish, between the two
 * renames, in a group commit, in open), after restarts with changing partition counts and a final
 * clean run, every event has exactly one folder holding both files with the right row counts, and
 * every journal line names an existing, complete window.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import pl from 'nodejs-polars';
import { afterAll, describe, expect, it } from 'vitest';
import { loadJournal } from '../../src/sinks/journal.js';
import { int64Values, quotesFrame, tradesFrame } from '../../src/sinks/parquet.js';
import { isTmpName } from '../../src/fs/publish-atomically.js';
import { loadIngestState, windowPaths, WindowWriter, type WindowJournalLine } from '../../src/sinks/window-sink.js';
import { crashingFs, fastTempDir, onlyCrash, type CrashPlan } from './crash-fs.js';
import { fakeQuotes, fakeTrades, T0 } from './helpers.js';

interface Ev {
  readonly symbol: string;
  readonly id: string;
  readonly trades: number;
  readonly quotes: number;
}

interface Restart {
  readonly count: number;
  readonly concurrency: number;
  readonly groupCommitMs: number;
  readonly crash: { readonly frac: number; readonly torn: boolean } | undefined;
}

const stats = { cases: 0, crashes: 0, halfWindows: 0, tmpLeftovers: 0 };
const crashOps: Record<string, number> = {};

async function runProcess(out: string, events: readonly Ev[], r: Restart): Promise<'done' | 'crashed'> {
  const before = await loadIngestState(out);
  const pending = events.filter((e) => !before.completed.has(e.id)).length;
  const plan: CrashPlan | undefined = r.crash ? { step: Math.floor(r.crash.frac * (3 + r.count * 25 + pending * 16)), torn: r.crash.torn } : undefined;
  const fs = crashingFs(plan);
  const writers: WindowWriter[] = [];
  try {
    const state = await loadIngestState(out, { fs });
    const opened = await Promise.allSettled(
      Array.from({ length: r.count }, (_, index) =>
        WindowWriter.open(out, { index, count: r.count }, { fs, groupCommitMs: r.groupCommitMs, processAlive: () => false }),
      ),
    );
    for (const o of opened) if (o.status === 'fulfilled') writers.push(o.value);
    for (const o of opened) if (o.status === 'rejected') throw o.reason;
    const runs = writers.map(async (w) => {
      const mine = events.filter((e, i) => i % r.count === w.partition.index && !state.completed.has(e.id));
      let next = 0;
      // `concurrency` pullers sharing one iterator, like the ingest stage.
      const pullers = Array.from({ length: r.concurrency }, async () => {
        while (next < mine.length) {
          const e = mine[next++]!;
          await w.commit({
            symbol: e.symbol,
            eventId: e.id,
            trades: tradesFrame(fakeTrades(e.trades)),
            quotes: quotesFrame(fakeQuotes(e.quotes)),
          });
        }
      });
      const settled = await Promise.allSettled(pullers);
      for (const s of settled) if (s.status === 'rejected') throw s.reason;
    });
    const settled = await Promise.allSettled(runs);
    for (const s of settled) if (s.status === 'rejected') throw s.reason;
    for (const w of writers) await w.close();
    return 'done';
  } catch (err) {
    onlyCrash(err);
    stats.crashes++;
    const op = fs.crashed?.op ?? '?';
    crashOps[op] = (crashOps[op] ?? 0) + 1;
    await Promise.allSettled(writers.map((w) => w.close()));
    return 'crashed';
  }
}

const restartArb = fc.record({
  count: fc.integer({ min: 1, max: 3 }),
  concurrency: fc.integer({ min: 1, max: 8 }),
  groupCommitMs: fc.constantFrom(0, 1, 3),
  crash: fc.option(fc.record({ frac: fc.integer({ min: 0, max: 9999 }).map((x) => x / 10_000), torn: fc.boolean() }), { nil: undefined, freq: 6 }),
});

describe('stage 2 exactly-once under crashes and changing partition counts', () => {
  afterAll(() => {
    console.log(`[window property] ${JSON.stringify(stats)} crash ops: ${JSON.stringify(crashOps)}`);
  });

  it('every event ends with one folder holding both files; every journal line names a complete window', async () => {
    const t0 = performance.now();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 40 }).chain((n) =>
          fc.array(fc.record({ sym: fc.integer({ min: 0, max: 4 }), trades: fc.nat(3), quotes: fc.nat(3) }), { minLength: n, maxLength: n }),
        ),
        fc.array(restartArb, { minLength: 1, maxLength: 3 }),
        restartArb.map((r) => ({ ...r, crash: undefined })),
        async (raw, restarts, final) => {
          const { dir: out, cleanup } = await fastTempDir('tickpipe-window-prop-');
          try {
            stats.cases++;
            const events: Ev[] = raw.map((e, i) => ({ symbol: `S${e.sym}`, id: `S${e.sym}_flush_20231207_1302${String(i).padStart(2, '0')}_${i}`, trades: e.trades, quotes: e.quotes }));
            for (const r of restarts) {
              await runProcess(out, events, r);
              // Count windows a crash left with only one file (they must be redone, not skipped).
              for (const e of events) {
                const names = await readdir(windowPaths(out, e.symbol, e.id).dir).catch(() => [] as string[]);
                if (names.filter((n) => !isTmpName(n)).length === 1) stats.halfWindows++;
              }
            }
            expect(await runProcess(out, events, final)).toBe('done');

            // Every event complete in the journals.
            const state = await loadIngestState(out);
            expect([...state.completed].sort()).toEqual(events.map((e) => e.id).sort());

            // Exactly one folder per event, both files, right contents; nothing else final on disk.
            const bySymbol = new Map<string, Set<string>>();
            for (const e of events) {
              if (!bySymbol.has(e.symbol)) bySymbol.set(e.symbol, new Set());
              bySymbol.get(e.symbol)!.add(`event=${e.id}`);
              const p = windowPaths(out, e.symbol, e.id);
              const names = await readdir(p.dir);
              stats.tmpLeftovers += names.filter(isTmpName).length;
              expect(names.filter((n) => !isTmpName(n)).sort()).toEqual(['quotes.parquet', 'trades.parquet']);
              const t = pl.readParquet(p.trades);
              const q = pl.readParquet(p.quotes);
              expect(t.height).toBe(e.trades);
              expect(q.height).toBe(e.quotes);
              expect(int64Values(t, 'sip_timestamp')).toEqual(Array.from({ length: e.trades }, (_, i) => T0 + BigInt(i)));
            }
            const symbolDirs = await readdir(join(out, 'windows')).catch(() => [] as string[]);
            expect(symbolDirs.sort()).toEqual([...bySymbol.keys()].map((s) => `symbol=${s}`).sort());
            for (const [s, ids] of bySymbol) {
              expect((await readdir(join(out, 'windows', `symbol=${s}`))).sort()).toEqual([...ids].sort());
            }

            // Every journal line names an existing, complete window with the right counts.
            const ingestDir = join(out, 'state', 'ingest');
            const byId = new Map(events.map((e) => [e.id, e]));
            for (const name of await readdir(ingestDir)) {
              if (!/^part-\d+\.jsonl$/.test(name)) continue;
              const { entries } = await loadJournal<WindowJournalLine>(join(ingestDir, name));
              for (const l of entries) {
                const e = byId.get(l.event);
                expect(e, `journal names unknown event ${l.event}`).toBeDefined();
                expect(l).toEqual({ event: e!.id, symbol: e!.symbol, trades: e!.trades, quotes: e!.quotes });
                const names = await readdir(windowPaths(out, l.symbol, l.event).dir);
                expect(names).toContain('trades.parquet');
                expect(names).toContain('quotes.parquet');
              }
            }
          } finally {
            await cleanup();
          }
        },
      ),
      { numRuns: Number(process.env['WINDOW_PROP_RUNS'] ?? 100) },
    );
    console.log(`[window property] ${stats.cases} cases in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }, 300_000);
});
