import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { instrumentFs, nodeFs } from '../../src/fs/fs-layer.js';
import { publishBytes } from '../../src/fs/publish-atomically.js';
import { errno, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir('tp-held-')));
afterEach(() => cleanup());

describe('a file held open on Windows', () => {
  it('a rename refused 12 times in a row (a notebook holding the file for a while) is waited out', async () => {
    const p = join(dir, 'events.parquet');
    let refusals = 12;
    const fs = instrumentFs(nodeFs, (c) => {
      if (c.op === 'rename' && refusals > 0) {
        refusals--;
        throw errno('EPERM', 'rename');
      }
    });
    // Default retry policy, only a shorter first delay so the test is quick: 1, 2, 4 … ms.
    await publishBytes(p, 'new', { fs, renameBackoffMs: 1, platform: 'win32' });
    expect(await readFile(p, 'utf8')).toBe('new');
    expect(fs.counts['rename']).toBe(13);
  });

  it('gives up once renameTimeoutMs has passed, with one clear line', async () => {
    const fs = instrumentFs(nodeFs, (c) => {
      if (c.op === 'rename') throw errno('EBUSY', 'rename');
    });
    await expect(publishBytes(join(dir, 'x'), 'x', { fs, renameBackoffMs: 1, renameTimeoutMs: 50 })).rejects.toThrow(/gave up after \d+ attempts \(another program may hold the file\)/);
  });
});
