import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import pl from 'nodejs-polars';
import { lastValueFrom, of } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { candidateColumns, type Detector } from '../../src/detect/index.js';
import { detectStage, type BarsClient } from '../../src/pipeline/detect-stage.js';
import { committedShards, instrumentFs, nodeFs, readShardJournals, SimulatedCrash } from '../../src/sinks/index.js';
import type { Bar } from '../../src/types.js';

// A detector that fires on every bar whose volume is exactly 999: cheap, and the expected events
// of a symbol are known without running anything.
const marker: Detector = {
  name: 'marker',
  description: 'bars with volume 999',
  measure: 'one',
  candidates: (bars) => bars.filter(pl.col('v').eq(999)).select(...candidateColumns(pl.lit(1))),
};

const DAY0 = Date.UTC(2024, 2, 12, 14, 0); // 10:00 New York, a Tuesday

/** 0–4 marked bars per symbol, decided by the symbol's position. */
function barsFor(index: number): Bar[] {
  const bars: Bar[] = [];
  for (let m = 0; m < 12; m++) {
    const marked = m < index % 5;
    bars.push({ t: DAY0 + m * 60_000, o: 2, h: 2.1, l: 1.9, c: 2, v: marked ? 999 : 100 + m, vw: 2, n: 3 });
  }
  return bars;
}

const universe = (n: number) => Array.from({ length: n }, (_, i) => `S${String(i).padStart(3, '0')}`);

describe('detectStage: exactly once across crashes and changes of worker count (fast-check)', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('journals every symbol exactly once and commits every event exactly once', async () => {
    let crashes = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.record({ workers: fc.integer({ min: 1, max: 5 }), crashAt: fc.option(fc.nat({ max: 400 }), { nil: undefined }) }), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.integer({ min: 1, max: 5 }),
        async (n, batchSize, restarts, finalWorkers) => {
          const out = await mkdtemp(join(tmpdir(), 'tickpipe-prop-detect-'));
          dirs.push(out);
          const symbols = universe(n);
          const index = new Map(symbols.map((s, i) => [s, i]));
          const client: BarsClient = {
            aggregates$: (symbol: string) => of({ results: barsFor(index.get(symbol)!), nextUrl: undefined, requestId: undefined }),
          } as unknown as BarsClient;
          const run = (workers: number, crashAt: number | undefined, first: boolean) => {
            const fs = instrumentFs(nodeFs, (call) => {
              if (crashAt !== undefined && call.step === crashAt) throw new SimulatedCrash(call.step, call.op);
            });
            // The crashed "process" is this one, so its locks look alive: a restart takes them over.
            return lastValueFrom(
              detectStage({ outDir: out, symbols, from: '2024-03-12', to: '2024-03-12', client, detectors: [marker], workers, batchSize, concurrency: 3, fs, stealLocks: !first }),
              { defaultValue: undefined },
            );
          };
          let first = true;
          for (const r of restarts) {
            try {
              await run(r.workers, r.crashAt, first);
            } catch (err) {
              if (!(err instanceof SimulatedCrash)) throw err;
              crashes++;
            }
            first = false;
          }
          await run(finalWorkers, undefined, first);

          const journaled = (await readShardJournals(out)).flatMap((j) => j.lines.flatMap((l) => l.symbols));
          expect(journaled.slice().sort()).toEqual(symbols);

          const keys: string[] = [];
          for (const s of await committedShards(out)) {
            const df = pl.readParquet(s.path);
            expect(df.height).toBe(s.rows);
            const sym = df.getColumn('symbol').toArray() as string[];
            const ts = (df.getColumn('timestamp').cast(pl.Int64).toArray() as unknown[]).map(Number);
            sym.forEach((x, i) => keys.push(`${x}@${ts[i]}`));
          }
          const expected = symbols.flatMap((s) => barsFor(index.get(s)!).filter((b) => b.v === 999).map((b) => `${s}@${b.t}`));
          expect(keys.sort()).toEqual(expected.sort());
          // No tmp file and no uncommitted shard survives in any worker folder, including those of
          // earlier runs with more workers than the last one.
          const named = new Set((await committedShards(out)).map((s) => s.path));
          for (let k = 0; k < 5; k++) {
            const dir = join(out, 'events', 'shards', `worker-${k}`);
            const names = (() => {
              try {
                return readdirSync(dir);
              } catch {
                return [];
              }
            })();
            expect(names.filter((f) => f.includes('.tmp-'))).toEqual([]);
            expect(names.filter((f) => f.endsWith('.parquet') && !named.has(join(dir, f)))).toEqual([]);
          }
        },
      ),
      { numRuns: 50 },
    );
    console.log(`detectStage property: ${crashes} crashes injected`);
    expect(crashes).toBeGreaterThan(10);
  }, 240_000);
});
