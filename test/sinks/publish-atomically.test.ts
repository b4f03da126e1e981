import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DiskError } from '../../src/errors.js';
import { instrumentFs, nodeFs, SimulatedCrash, type FsCall } from '../../src/fs/fs-layer.js';
import { isTmpName, publishAtomically, publishBytes, tmpFinalName } from '../../src/fs/publish-atomically.js';
import { errno, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => cleanup());

const big = 'x'.repeat(256 * 1024);

describe('publishAtomically', () => {
  it('creates the folder, publishes the bytes, leaves no tmp file', async () => {
    const p = join(dir, 'a', 'b', 'file.txt');
    await publishBytes(p, 'hello');
    expect(await readFile(p, 'utf8')).toBe('hello');
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['file.txt']);
  });

  it('replaces an existing file atomically', async () => {
    const p = join(dir, 'f');
    await publishBytes(p, 'old');
    await publishBytes(p, 'new');
    expect(await readFile(p, 'utf8')).toBe('new');
  });

  it('tmp-name helpers', () => {
    expect(isTmpName('shard-000001.parquet.tmp-0123456789ab')).toBe(true);
    expect(isTmpName('shard-000001.parquet')).toBe(false);
    expect(tmpFinalName('trades.parquet.tmp-0123456789ab')).toBe('trades.parquet');
    expect(tmpFinalName('trades.parquet')).toBeUndefined();
  });

  it('the order of operations is: mkdir, write tmp, fsync tmp, rename, fsync folder', async () => {
    const calls: FsCall[] = [];
    const fs = instrumentFs(nodeFs, (c) => void calls.push(c));
    const p = join(dir, 'x.txt');
    await publishBytes(p, 'data', { fs });
    const ops = calls.map((c) => c.op);
    expect(ops).toEqual(['mkdir', 'open', 'handle.write', 'handle.close', 'open', 'handle.sync', 'handle.close', 'rename', 'fsyncDir']);
    expect(isTmpName(calls[1]!.path.split('/').pop()!)).toBe(true);
    expect(calls[7]!.path2).toBe(p);
  });

  it('ENOSPC on write: DiskError "disk full writing <path>", no final file, no tmp left', async () => {
    const fs = instrumentFs(nodeFs, (c) => {
      if (c.op === 'handle.write') throw errno('ENOSPC');
    });
    const p = join(dir, 'full.bin');
    const err = await publishBytes(p, big, { fs }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiskError);
    expect((err as Error).message).toBe(`disk full writing ${p} (ENOSPC)`);
    expect(await readdir(dir)).toEqual([]);
  });

  it('EACCES on open: DiskError naming the path and the reason', async () => {
    const fs = instrumentFs(nodeFs, (c) => {
      if (c.op === 'open') throw errno('EACCES', 'open');
    });
    const p = join(dir, 'denied.bin');
    const err = await publishBytes(p, 'x', { fs }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiskError);
    expect((err as Error).message).toContain('permission denied');
    expect((err as Error).message).toContain(p);
    expect(await readdir(dir)).toEqual([]);
  });

  it('EPERM on rename then success: retried', async () => {
    let fails = 2;
    const fs = instrumentFs(nodeFs, (c) => {
      if (c.op === 'rename' && fails-- > 0) throw errno('EPERM', 'rename');
    });
    const p = join(dir, 'busy.txt');
    await publishBytes(p, 'ok', { fs, renameBackoffMs: 1 });
    expect(await readFile(p, 'utf8')).toBe('ok');
    expect(fs.counts['rename']).toBe(3);
    expect(await readdir(dir)).toEqual(['busy.txt']);
  });

  it('EBUSY forever: fails loudly after the retries, tmp removed, old file untouched', async () => {
    const p = join(dir, 'held.txt');
    await publishBytes(p, 'old');
    const fs = instrumentFs(nodeFs, (c) => {
      if (c.op === 'rename') throw errno('EBUSY', 'rename');
    });
    const err = await publishBytes(p, 'new', { fs, renameRetries: 3, renameBackoffMs: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiskError);
    expect((err as Error).message).toMatch(/file busy renaming onto .*held\.txt \(EBUSY\); gave up after 4 attempts/);
    expect(fs.counts['rename']).toBe(4);
    expect(await readFile(p, 'utf8')).toBe('old');
    expect(await readdir(dir)).toEqual(['held.txt']);
  });

  it('EACCES on rename is retried only on win32', async () => {
    const mk = () =>
      instrumentFs(nodeFs, (c) => {
        if (c.op === 'rename') throw errno('EACCES', 'rename');
      });
    const linux = mk();
    await expect(publishBytes(join(dir, 'l'), 'x', { fs: linux, renameBackoffMs: 1, platform: 'linux' })).rejects.toBeInstanceOf(DiskError);
    expect(linux.counts['rename']).toBe(1);
    const win = mk();
    await expect(publishBytes(join(dir, 'w'), 'x', { fs: win, renameBackoffMs: 1, renameRetries: 2, platform: 'win32' })).rejects.toBeInstanceOf(DiskError);
    expect(win.counts['rename']).toBe(3);
  });

  it('a non-system error of the writer is rethrown unchanged and the tmp file removed', async () => {
    const p = join(dir, 'bad');
    const boom = new TypeError('boom');
    const err = await publishAtomically(p, async (tmp) => {
      await nodeFs.open(tmp, 'wx').then((h) => h.write('partial').then(() => h.close()));
      throw boom;
    }).catch((e: unknown) => e);
    expect(err).toBe(boom);
    expect(await readdir(dir)).toEqual([]);
  });

  it('a writer that creates nothing is a DiskError', async () => {
    await expect(publishAtomically(join(dir, 'none'), async () => undefined)).rejects.toThrow(/did not create/);
  });

  it('validates options up front', async () => {
    await expect(publishBytes(join(dir, 'o'), 'x', { renameRetries: -1 })).rejects.toThrow(/renameRetries/);
    await expect(publishBytes(join(dir, 'o'), 'x', { renameBackoffMs: Number.NaN })).rejects.toThrow(/renameBackoffMs/);
  });

  it('a crash at any step leaves either nothing, tmp leftovers only, or the complete final file', async () => {
    const payload = big + 'END';
    // Count the steps of a clean run first.
    const probe = instrumentFs(nodeFs, () => undefined);
    await publishBytes(join(dir, 'probe', 'f'), payload, { fs: probe });
    const total = probe.steps;
    expect(total).toBeGreaterThan(5);
    for (let k = 0; k < total; k++) {
      for (const torn of [false, true]) {
        const sub = join(dir, `crash-${k}-${torn}`);
        const p = join(sub, 'f');
        const fs = instrumentFs(nodeFs, (c) => {
          if (c.step === k) {
            if (torn && c.op === 'handle.write') return { partial: 1000 };
            throw new SimulatedCrash(c.step, c.op);
          }
          return undefined;
        });
        await expect(publishBytes(p, payload, { fs })).rejects.toBeInstanceOf(SimulatedCrash);
        const names = await readdir(sub).catch(() => [] as string[]);
        const finals = names.filter((n) => n === 'f');
        const others = names.filter((n) => n !== 'f');
        expect(others.every(isTmpName), `step ${k}: ${names.join(',')}`).toBe(true);
        if (finals.length) {
          expect((await readFile(p, 'utf8')) === payload, `step ${k}: final file complete`).toBe(true);
        }
        // The final file only appears once the rename step has run.
        const renameStep = probe.steps - 2; // rename, then fsyncDir
        expect(finals.length === 1).toBe(k > renameStep);
      }
    }
    expect((await stat(join(dir, 'probe', 'f'))).size).toBe(payload.length);
  });
});
