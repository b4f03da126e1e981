import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LockedError } from '../../src/errors.js';
import { instrumentFs, nodeFs } from '../../src/fs/fs-layer.js';
import { acquireLock, isLockStale } from '../../src/run-folder/lock-file.js';
import { errno, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir('tp-lock-exfat-')));
afterEach(() => cleanup());

/** exFAT/FAT and many SMB shares have no hard links: link() fails with EPERM there. */
const noLinks = () =>
  instrumentFs(nodeFs, (c) => {
    if (c.op === 'link') throw errno('EPERM', 'link');
  });

describe('locks on filesystems without hard links (exFAT, SMB)', () => {
  it('take, refuse a second holder, release, and recover a stale lock', async () => {
    const fs = noLinks();
    const p = join(dir, 'state', 'detect', 'worker-0.lock');
    const a = await acquireLock(p, { fs, command: 'tickpipe run' });
    expect(JSON.parse(await readFile(p, 'utf8'))).toMatchObject({ pid: process.pid, token: a.info.token });
    await expect(acquireLock(p, { fs, pid: process.pid + 1 })).rejects.toBeInstanceOf(LockedError);
    expect(await a.release()).toBe(true);
    const dead = await acquireLock(p, { fs, pid: 999_999, processAlive: () => true });
    const b = await acquireLock(p, { fs, processAlive: (pid) => pid !== 999_999 });
    expect(b.recovered?.token).toBe(dead.info.token);
    await b.release();
    expect(fs.counts['link'] ?? 0).toBe(0);
  });
});

describe('a lock taken before the last boot is stale (PID reuse after a reboot)', () => {
  it('is recovered without --steal-locks even though a process with its pid runs now', async () => {
    const p = join(dir, 'part-0.lock');
    const bootBefore = Date.UTC(2026, 0, 1);
    const old = await acquireLock(p, { pid: 4242, bootedAtMs: bootBefore });
    // The machine rebooted a day later; pid 4242 is now some other program, alive.
    const bootNow = bootBefore + 86_400_000;
    const alive = () => true;
    expect(isLockStale(old.info, { host: old.info.host, alive, bootedAtMs: bootNow })).toBe(true);
    const fresh = await acquireLock(p, { processAlive: alive, bootedAtMs: bootNow });
    expect(fresh.recovered?.pid).toBe(4242);
    expect(fresh.stolen).toBe(false);
    await fresh.release();
  });

  it('the same boot and a live pid: still held', async () => {
    const p = join(dir, 'part-1.lock');
    const boot = Date.UTC(2026, 0, 1);
    await acquireLock(p, { pid: 4243, bootedAtMs: boot });
    await expect(acquireLock(p, { processAlive: () => true, bootedAtMs: boot + 5_000 })).rejects.toBeInstanceOf(LockedError);
  });
});
