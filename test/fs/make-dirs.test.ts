import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDirs, makeDirsSync } from '../../src/fs/make-dirs.js';
import { BIN } from '../support/cli.js';

let root: string;
beforeAll(async () => (root = await mkdtemp(join(tmpdir(), 'tp-make-dirs-'))));
afterAll(() => rm(root, { recursive: true, force: true }));

describe('makeDirs', () => {
  it('creates every missing level, and an existing folder is fine (async and sync)', async () => {
    await makeDirs(join(root, 'a', 'b', 'c'));
    expect(statSync(join(root, 'a', 'b', 'c')).isDirectory()).toBe(true);
    await makeDirs(join(root, 'a', 'b', 'c'));
    makeDirsSync(join(root, 's', 't'));
    makeDirsSync(join(root, 's', 't'));
    expect(statSync(join(root, 's', 't')).isDirectory()).toBe(true);
  });

  it('a file in the way fails as mkdir(2) does', async () => {
    writeFileSync(join(root, 'f'), 'x');
    await expect(makeDirs(join(root, 'f'))).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(makeDirs(join(root, 'f', 'below'))).rejects.toMatchObject({ code: 'ENOTDIR' });
    expect(() => makeDirsSync(join(root, 'f'))).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => makeDirsSync(join(root, 'f', 'below'))).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
  });

  it('many callers creating the same tree at once all succeed', async () => {
    const dir = join(root, 'race', 'x', 'y');
    await Promise.all(Array.from({ length: 8 }, () => makeDirs(dir)));
    mkdirSync(join(root, 'race', 'x', 'y', 'z'));
    expect(statSync(join(dir, 'z')).isDirectory()).toBe(true);
  });

  // procfs answers ENOENT to mkdir although /proc exists; Node's recursive mkdir spins on that forever.
  it.runIf(process.platform === 'linux')('a folder the filesystem cannot create (procfs) fails at once instead of spinning', async () => {
    await expect(makeDirs('/proc/tickpipe-make-dirs-test/x')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(() => makeDirsSync('/proc/tickpipe-make-dirs-test')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    // The same through the CLI: one line naming the folder, exit 1, within the timeout.
    const r = spawnSync(process.execPath, [BIN, 'run', '--sim', '--out', '/proc/tickpipe-run-test', '--no-progress'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.signal, 'the CLI did not hang').toBeNull();
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual(['tickpipe run: filesystem error creating folder /proc/tickpipe-run-test (ENOENT)']);
  });
});
