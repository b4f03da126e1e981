/**
 * Compaction's streaming read of the stage-2 journals (`scanPendingWindows`) finds exactly the
 * windows the whole-journal Map did: committed (first line per event wins), not compacted, of the
 * requested symbols; whatever the line shapes (tickpipe's own, reordered keys, spaces, CRLF) and with
 * a torn last line.
 */
import fc from 'fast-check';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetPaths } from '../../src/dataset/layout.js';
import { loadCommittedWindows, scanPendingWindows, type CommittedWindow } from '../../src/dataset/state.js';
import { CompactIdSet } from '../../src/sinks/id-set.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tickpipe-pending-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const SYMBOLS = ['ABCD', 'WXYZ', 'Q'];
const lineArb = fc.record({
  symbol: fc.constantFrom(...SYMBOLS),
  n: fc.integer({ min: 0, max: 15 }),
  trades: fc.integer({ min: 0, max: 99 }),
  quotes: fc.integer({ min: 0, max: 99 }),
  shape: fc.constantFrom('own', 'reordered', 'spaced', 'crlf'),
  journal: fc.integer({ min: 0, max: 1 }),
});

function render(l: { symbol: string; n: number; trades: number; quotes: number; shape: string }): string {
  const event = `${l.symbol}_flush_20240311_1500${String(l.n).padStart(2, '0')}_0000abcd`;
  if (l.shape === 'reordered') return JSON.stringify({ symbol: l.symbol, trades: l.trades, event, quotes: l.quotes });
  if (l.shape === 'spaced') return JSON.stringify({ event, symbol: l.symbol, trades: l.trades, quotes: l.quotes }, null, 1).replace(/\n/g, ' ');
  const own = JSON.stringify({ event, symbol: l.symbol, trades: l.trades, quotes: l.quotes });
  return l.shape === 'crlf' ? `${own}\r` : own;
}

describe('scanPendingWindows', () => {
  it('equals the committed windows minus the compacted ones, per symbol, in journal order', async () => {
    let k = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(lineArb, { maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: 15 }), { maxLength: 10 }),
        fc.boolean(),
        fc.option(fc.subarray(SYMBOLS), { nil: undefined }),
        async (lines, compactedNs, torn, only) => {
          const out = join(dir, `c${k++}`);
          const paths = datasetPaths(out);
          await mkdir(paths.ingestStateDir, { recursive: true });
          for (const j of [0, 1]) {
            const body = lines.filter((l) => l.journal === j).map((l) => `${render(l)}\n`).join('');
            await writeFile(join(paths.ingestStateDir, `part-${j}.jsonl`), body + (torn && j === 1 ? '{"event":"ABCD_fl' : ''));
          }
          const compacted = new CompactIdSet();
          for (const n of compactedNs) compacted.add(`ABCD_flush_20240311_1500${String(n).padStart(2, '0')}_0000abcd`);
          const onlySet = only === undefined ? undefined : new Set(only);
          const want = new Map<string, CommittedWindow[]>();
          for (const w of (await loadCommittedWindows(paths)).values()) {
            if (compacted.has(w.event) || (onlySet && !onlySet.has(w.symbol))) continue;
            (want.get(w.symbol) ?? want.set(w.symbol, []).get(w.symbol)!).push(w);
          }
          const got = await scanPendingWindows(paths, compacted, onlySet);
          expect(got.symbols()).toEqual([...want.keys()].sort());
          for (const s of got.symbols()) expect(got.windowsOf(s)).toEqual(want.get(s));
          await rm(out, { recursive: true, force: true });
        },
      ),
      { numRuns: 150 },
    );
  }, 120_000);
});
