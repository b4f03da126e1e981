import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireLock } from '../../src/run-folder/lock-file.js';
import { quotesFrame, tradesFrame } from '../../src/sinks/parquet.js';
import { windowPaths, WindowWriter } from '../../src/sinks/window-sink.js';
import { fakeTrades, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => cleanup());

const ID = 'AAPL_flush_20231207_130200_1a2b3c4d';

describe('tmp files left by a killed publish', () => {
  it('are removed when their window is redone, and nothing else in the folder is touched', async () => {
    const p = windowPaths(dir, 'AAPL', ID);
    await mkdir(p.dir, { recursive: true });
    await writeFile(join(p.dir, 'trades.parquet.tmp-0123456789ab'), 'half a parquet');
    await writeFile(join(p.dir, 'quotes.parquet.tmp-ba9876543210'), '');
    await writeFile(join(p.dir, 'notes.txt'), 'a user file');
    const w = await WindowWriter.open(dir, { index: 0, count: 1 }, { groupCommitMs: 0 });
    await w.commit({ symbol: 'AAPL', eventId: ID, trades: tradesFrame(fakeTrades(2)), quotes: quotesFrame([]) });
    await w.close();
    expect((await readdir(p.dir)).sort()).toEqual(['notes.txt', 'quotes.parquet', 'trades.parquet']);
  });

  it('of a lock are removed once the lock is taken, unless a live process may still be writing them', async () => {
    const lock = join(dir, 'state', 'x.lock');
    await mkdir(join(dir, 'state'), { recursive: true });
    const record = (pid: number) => JSON.stringify({ pid, host: hostname(), startedAt: new Date().toISOString(), token: 't' });
    await writeFile(`${lock}.tmp-aaaaaaaaaaaa`, record(2 ** 22 + 12345)); // no such pid
    await writeFile(`${lock}.tmp-bbbbbbbbbbbb`, record(process.pid)); // alive: may be taking the lock now
    await writeFile(`${lock}.tmp-cccccccccccc`, ''); // written just now by someone: too young to judge
    const held = await acquireLock(lock, { processAlive: (pid) => pid === process.pid });
    expect((await readdir(join(dir, 'state'))).sort()).toEqual(['x.lock', 'x.lock.tmp-bbbbbbbbbbbb', 'x.lock.tmp-cccccccccccc']);
    await held.release();
  });
});
