import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consolidate } from '../../src/pipeline/consolidate.js';
import { buildRunFolder, removeDir } from '../ops/damage-helpers.js';

let dir: string;
beforeAll(async () => (dir = await buildRunFolder()), 300_000);
afterAll(() => removeDir(dir));

describe('consolidate on resume', () => {
  it('leaves events/events.parquet alone when its rows did not change (a notebook may hold it open on Windows)', async () => {
    const path = join(dir, 'events', 'events.parquet');
    const before = statSync(path);
    const r = await consolidate(dir);
    expect(r.unchanged).toBe(true);
    const after = statSync(path);
    // Not replaced: same inode, same modification time.
    expect(after.ino).toBe(before.ino);
    expect(after.mtimeMs).toBe(before.mtimeMs);
  });
});
