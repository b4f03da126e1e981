/**
 * The compaction at the end of `run` when another process is compacting the same folder (another
 * partition, or `tickpipe compact`): it waits for that compaction to end and then compacts what is
 * left, instead of skipping and leaving the windows committed meanwhile uncompacted; past its wait
 * limit it gives up (undefined) and changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { compactAfterIngest } from '../../src/cli/compact.js';
import { datasetSummary } from '../../src/dataset/check.js';
import { datasetPaths } from '../../src/dataset/layout.js';
import { acquireLock } from '../../src/run-folder/lock-file.js';
import { quotesFrame, tradesFrame } from '../../src/sinks/parquet.js';
import { ensureRunSpec } from '../../src/run-folder/run-spec.js';
import { WindowWriter } from '../../src/sinks/window-sink.js';
import { canonicalEventId } from '../../src/streams/event-id.js';
import { fastTempDir } from '../sinks/crash-fs.js';
import { fakeQuotes, fakeTrades } from '../sinks/helpers.js';

describe('compaction at the end of run, with the lock held elsewhere', () => {
  it('waits for the holder, then compacts; gives up after its limit without changing anything', async () => {
    const { dir: out, cleanup } = await fastTempDir('tickpipe-cai-');
    try {
      await ensureRunSpec(out, { version: 1, source: { baseUrl: 'http://127.0.0.1:1' }, universe: { hash: 'd'.repeat(64), count: 1 }, from: '2024-03-04', to: '2024-03-06', detectors: {} });
      const w = await WindowWriter.open(out, { index: 0, count: 1 });
      for (let i = 0; i < 2; i++) {
        await w.commit({ symbol: 'ABVC', eventId: canonicalEventId('ABVC', 'flush', Date.UTC(2024, 2, 4, 15, i)), trades: tradesFrame(fakeTrades(3)), quotes: quotesFrame(fakeQuotes(2)) });
      }
      await w.close();
      const p = datasetPaths(out);

      let lock = await acquireLock(p.lock, { command: 'other process' });
      expect(await compactAfterIngest(out, {}, 1200)).toBeUndefined();
      expect(await datasetSummary(out)).toBeNull();

      const released = new Promise<void>((resolve) => setTimeout(() => void lock.release().then(() => resolve()), 1500));
      const r = await compactAfterIngest(out, {}, 30_000);
      await released;
      expect(r).toMatchObject({ parts: 1, windows: 2, trades: 6, quotes: 4 });
      lock = await acquireLock(p.lock, { command: 'check: released by compactAfterIngest' });
      await lock.release();
    } finally {
      await cleanup();
    }
  }, 60_000);
});
