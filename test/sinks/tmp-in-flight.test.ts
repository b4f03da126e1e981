import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { publishAtomically, isTmpBeingWritten } from '../../src/fs/publish-atomically.js';
import { sweepStaleTmps } from '../../src/sinks/commit-lifecycle.js';
import { quotesFrame, tradesFrame } from '../../src/sinks/parquet.js';
import { WindowWriter } from '../../src/sinks/window-sink.js';
import { writeFile } from 'node:fs/promises';
import { fakeTrades, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => cleanup());

describe('issue 15 point 2: a sweep never removes a tmp file this process is still writing', () => {
  it('a sweep running while a publish writes its tmp file leaves it, and the publish completes', async () => {
    const final = join(dir, 'w', 'trades.parquet');
    let removed: string[] = ['not run'];
    await publishAtomically(final, async (tmp) => {
      await writeFile(tmp, 'first half');
      expect(isTmpBeingWritten(tmp)).toBe(true);
      // What a second commit of the same window does before its own publish.
      removed = await sweepStaleTmps(join(dir, 'w'), ['trades.parquet']);
      await writeFile(tmp, 'whole file');
    });
    expect(removed).toEqual([]);
    expect(await readFile(final, 'utf8')).toBe('whole file');
    expect(await readdir(join(dir, 'w'))).toEqual(['trades.parquet']);
  });

  it('two commits of one window at once both succeed and journal it once', async () => {
    const id = 'AAPL_flush_20231207_130200_1a2b3c4d';
    const w = await WindowWriter.open(dir, { index: 0, count: 1 }, { groupCommitMs: 0 });
    const commit = () => w.commit({ symbol: 'AAPL', eventId: id, trades: tradesFrame(fakeTrades(3)), quotes: quotesFrame([]) });
    const results = await Promise.all([commit(), commit(), commit()]);
    await w.close();
    for (const r of results) expect(r.trades).toBe(3);
    const lines = (await readFile(join(dir, 'state', 'ingest', 'part-0.jsonl'), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(1);
  });
});
