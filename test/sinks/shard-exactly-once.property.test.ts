/**
 * The exactly-once claim of stage 1, as a property: whatever the universe, the batch size, the
 * sequence of restarts with changing worker counts, and wherever a crash hits the commit protocol
 * (before/after the tmp write, after the rename, mid-journal-append, after the append, during open
 * or cleanup), running to completion journals every symbol exactly once across all journals and
 * the committed shards hold every event exactly once.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import pl from 'nodejs-polars';
import { afterAll, describe, expect, it } from 'vitest';
import { isTmpName } from '../../src/fs/publish-atomically.js';
import { committedShards, loadCompletedSymbols, readShardJournals, ShardWriter } from '../../src/sinks/shard-sink.js';
import { crashingFs, fastTempDir, onlyCrash, type CrashPlan } from './crash-fs.js';

interface Restart {
  readonly workers: number;
  /** Where to crash, as a fraction of the steps this process would take; undefined = no crash. */
  readonly crash: { readonly frac: number; readonly torn: boolean } | undefined;
}

const crashOps: Record<string, number> = {};
const stats = { crashStepsFrac: 0, doneSteps: 0, doneEst: 0, cases: 0, crashes: 0, movedAside: 0, staleInUnopenedDirs: 0, tmpLeftovers: 0, restarts: 0 };

function eventsFrame(symbols: readonly string[], perSymbol: ReadonlyMap<string, number>): pl.DataFrame {
  const sym: string[] = [];
  const n: number[] = [];
  for (const s of symbols) {
    for (let j = 0; j < (perSymbol.get(s) ?? 0); j++) {
      sym.push(s);
      n.push(j);
    }
  }
  return pl.DataFrame([pl.Series('symbol', sym, pl.String), pl.Series('n', n, pl.Int32)]);
}

/** One simulated process: open all N writers, skip completed symbols, commit batches. */
async function runProcess(
  out: string,
  symbols: readonly string[],
  perSymbol: ReadonlyMap<string, number>,
  batchSize: number,
  workers: number,
  crash: Restart['crash'],
): Promise<'done' | 'crashed'> {
  // Size the crash point from the work this process has to do, so crashes land everywhere in it.
  const before = await loadCompletedSymbols(out);
  let batches = 0;
  for (let k = 0; k < workers; k++) {
    const mine = symbols.filter((s, i) => i % workers === k && !before.has(s)).length;
    batches += Math.ceil(mine / batchSize);
  }
  const estSteps = 4 + workers * 22 + batches * 11;
  const plan: CrashPlan | undefined = crash ? { step: Math.floor(crash.frac * estSteps), torn: crash.torn } : undefined;
  const fs = crashingFs(plan);
  const writers: ShardWriter[] = [];
  try {
    const completed = await loadCompletedSymbols(out, { fs });
    const opened = await Promise.allSettled(
      Array.from({ length: workers }, (_, k) => ShardWriter.open(out, k, { fs, processAlive: () => false })),
    );
    for (const r of opened) if (r.status === 'fulfilled') writers.push(r.value);
    for (const r of opened) if (r.status === 'rejected') throw r.reason;
    for (const w of writers) stats.movedAside += w.cleanup.uncommitted.length;
    const runs = await Promise.allSettled(
      writers.map(async (w) => {
        const mine = symbols.filter((s, i) => i % workers === w.worker && !completed.has(s));
        for (let b = 0; b < mine.length; b += batchSize) {
          const batch = mine.slice(b, b + batchSize);
          await w.commit({ symbols: batch, events: eventsFrame(batch, perSymbol) });
        }
      }),
    );
    for (const r of runs) if (r.status === 'rejected') throw r.reason;
    for (const w of writers) await w.close();
    stats.doneSteps += fs.steps;
    stats.doneEst += estSteps;
    return 'done';
  } catch (err) {
    onlyCrash(err);
    stats.crashes++;
    const op = fs.crashed?.op ?? '?';
    crashOps[op] = (crashOps[op] ?? 0) + 1;
    stats.crashStepsFrac += (fs.crashed?.step ?? 0) / Math.max(1, estSteps);
    // The dead process's descriptors are closed by the kernel; nothing else reaches the disk.
    await Promise.allSettled(writers.map((w) => w.close()));
    return 'crashed';
  }
}

describe('stage 1 exactly-once under crashes and changing worker counts', () => {
  afterAll(() => {
    console.log(`[shard property] ${JSON.stringify(stats)} crash ops: ${JSON.stringify(crashOps)}`);
  });

  it('every symbol journaled exactly once; every event in exactly one committed shard', async () => {
    const t0 = performance.now();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 300 }).chain((n) => fc.array(fc.nat(5), { minLength: n, maxLength: n })),
        fc.integer({ min: 1, max: 60 }),
        fc.array(
          fc.record({
            workers: fc.integer({ min: 1, max: 5 }),
            crash: fc.option(fc.record({ frac: fc.integer({ min: 0, max: 9999 }).map((x) => x / 10_000), torn: fc.boolean() }), {
              nil: undefined,
              freq: 6,
            }),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        fc.integer({ min: 1, max: 5 }),
        async (eventCounts, batchSize, restarts, finalWorkers) => {
          const { dir: out, cleanup } = await fastTempDir('tickpipe-shard-prop-');
          try {
            stats.cases++;
            const symbols = eventCounts.map((_, i) => `S${i}`);
            const perSymbol = new Map(symbols.map((s, i) => [s, eventCounts[i]!]));
            for (const r of restarts) {
              stats.restarts++;
              await runProcess(out, symbols, perSymbol, batchSize, r.workers, r.crash);
            }
            // Run to completion.
            expect(await runProcess(out, symbols, perSymbol, batchSize, finalWorkers, undefined)).toBe('done');

            // 1. Every symbol journaled exactly once across all journals.
            const seen = new Map<string, number>();
            for (const { lines } of await readShardJournals(out)) {
              for (const l of lines) {
                for (const s of l.symbols) seen.set(s, (seen.get(s) ?? 0) + 1);
                if (l.shard === null) expect(l.rows).toBe(0);
              }
            }
            expect([...seen.keys()].sort()).toEqual([...symbols].sort());
            for (const [s, c] of seen) expect(c, `symbol ${s} journaled ${c} times`).toBe(1);

            // 2. Every event exactly once across the committed shards (read with nodejs-polars).
            const keys = new Set<string>();
            let total = 0;
            for (const shard of await committedShards(out)) {
              const df = pl.readParquet(shard.path);
              expect(df.height).toBe(shard.rows);
              const syms = df.getColumn('symbol').toArray() as string[];
              const ns = df.getColumn('n').toArray() as number[];
              for (let i = 0; i < syms.length; i++) {
                expect(shard.symbols).toContain(syms[i]);
                keys.add(`${syms[i]}#${ns[i]}`);
                total++;
              }
            }
            const expected = eventCounts.reduce((a, b) => a + b, 0);
            expect(total, 'duplicate event rows across committed shards').toBe(keys.size);
            expect(keys.size).toBe(expected);

            // Scenario accounting: stale uncommitted shards left in worker folders not reopened.
            const shardsRoot = join(out, 'events', 'shards');
            const committedNames = new Set((await committedShards(out)).map((s) => join(`worker-${s.worker}`, s.shard)));
            for (const wd of await readdir(shardsRoot).catch(() => [] as string[])) {
              for (const name of await readdir(join(shardsRoot, wd))) {
                if (isTmpName(name)) stats.tmpLeftovers++;
                else if (name.endsWith('.parquet') && !committedNames.has(join(wd, name))) stats.staleInUnopenedDirs++;
              }
            }
          } finally {
            await cleanup();
          }
        },
      ),
      // 150 runs: the sink's own crash points are covered exhaustively by commit-lifecycle.test.ts; this
      // property adds worker-count changes and batching (SHARD_PROP_RUNS=1000 for a deeper local run).
      { numRuns: Number(process.env['SHARD_PROP_RUNS'] ?? 150) },
    );
    console.log(`[shard property] ${stats.cases} cases in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }, 300_000);
});
