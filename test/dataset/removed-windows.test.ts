/**
 * Windows removed after compaction (`removeWindows`): still done for resume (ingest state), verify
 * clean, reconcile keeps their journal lines (counts from the parts), clean leaves the dataset alone.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compact } from '../../src/dataset/compact.js';
import { cleanRun } from '../../src/ops/clean.js';
import { reconcileRun } from '../../src/ops/reconcile.js';
import { verifyRun } from '../../src/ops/verify.js';
import { quotesFrame, tradesFrame } from '../../src/sinks/parquet.js';
import { ensureRunSpec } from '../../src/run-folder/run-spec.js';
import { loadIngestState, windowPaths, WindowWriter } from '../../src/sinks/window-sink.js';
import { canonicalEventId } from '../../src/streams/event-id.js';
import { fastTempDir } from '../sinks/crash-fs.js';
import { fakeQuotes, fakeTrades } from '../sinks/helpers.js';

describe('windows removed after compaction', () => {
  it('stay done for resume; verify, reconcile and clean agree', async () => {
    const { dir: out, cleanup } = await fastTempDir('tickpipe-removed-');
    try {
      await ensureRunSpec(out, { version: 1, source: { baseUrl: 'http://127.0.0.1:1' }, universe: { hash: 'b'.repeat(64), count: 2 }, from: '2024-03-04', to: '2024-03-06', detectors: {} });
      const ids = [0, 1, 2].map((i) => canonicalEventId(i < 2 ? 'ABVC' : 'BOXL', 'volume_spike', Date.UTC(2024, 2, 4, 15, i)));
      const w = await WindowWriter.open(out, { index: 0, count: 1 });
      for (const [i, id] of ids.entries()) {
        await w.commit({ symbol: i < 2 ? 'ABVC' : 'BOXL', eventId: id, trades: tradesFrame(fakeTrades(i + 1)), quotes: quotesFrame(fakeQuotes(2 * i)) });
      }
      await w.close();
      const r = await compact(out, { removeWindows: true });
      expect(r).toMatchObject({ parts: 2, windows: 3, trades: 6, quotes: 6, windowsRemoved: 3 });
      expect(existsSync(windowPaths(out, 'ABVC', ids[0]!).dir)).toBe(false);
      expect([...(await loadIngestState(out)).completed].sort()).toEqual([...ids].sort());
      expect((await verifyRun(out)).problems).toEqual({});
      const rec = await reconcileRun(out);
      expect(rec.ingest.dropped).toEqual([]);
      expect(rec.ingest.corrected).toEqual([]);
      expect([...(await loadIngestState(out)).completed].sort()).toEqual([...ids].sort());
      expect((await cleanRun(out)).actions).toEqual([]);
      expect((await verifyRun(out)).ok).toBe(true);
    } finally {
      await cleanup();
    }
  }, 120_000);

  it('a removed window without trades or quotes stays journaled too (no row in its part, which is intact)', async () => {
    const { dir: out, cleanup } = await fastTempDir('tickpipe-removed-empty-');
    try {
      await ensureRunSpec(out, { version: 1, source: { baseUrl: 'http://127.0.0.1:1' }, universe: { hash: 'b'.repeat(64), count: 1 }, from: '2024-03-04', to: '2024-03-06', detectors: {} });
      const ids = [0, 1].map((i) => canonicalEventId('ABVC', 'volume_spike', Date.UTC(2024, 2, 4, 15, i)));
      const w = await WindowWriter.open(out, { index: 0, count: 1 });
      await w.commit({ symbol: 'ABVC', eventId: ids[0]!, trades: tradesFrame(fakeTrades(2)), quotes: quotesFrame(fakeQuotes(3)) });
      await w.commit({ symbol: 'ABVC', eventId: ids[1]!, trades: tradesFrame(fakeTrades(0)), quotes: quotesFrame(fakeQuotes(0)) });
      await w.close();
      expect(await compact(out, { removeWindows: true })).toMatchObject({ windows: 2, windowsRemoved: 2 });
      expect((await verifyRun(out)).ok).toBe(true);
      const rec = await reconcileRun(out);
      expect(rec.ingest.dropped).toEqual([]);
      expect(rec.rewritten).toEqual([]);
      expect([...(await loadIngestState(out)).completed].sort()).toEqual([...ids].sort());
    } finally {
      await cleanup();
    }
  }, 120_000);
});
