import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LockedError } from '../../src/errors.js';
import { acquireLock, isExiting, isProcessAlive, readLock, redactSecrets } from '../../src/run-folder/lock-file.js';
import { tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => cleanup());

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  const pid = Number(r.stdout.toString());
  expect(isProcessAlive(pid)).toBe(false);
  return pid;
}

describe.runIf(process.platform === 'linux')('isProcessAlive on Linux', () => {
  it('counts a process that has exited but is not reaped (a zombie) as dead, and takes its lock', async () => {
    // `sleep 0.05` in the background of a shell that then becomes `sleep 5`, which never reaps it:
    // for the next 5 s the first sleep is a zombie. Signal 0 still reaches it.
    const parent = spawn('sh', ['-c', 'sleep 0.05 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (b: Buffer) => resolve(b.toString().trim()))));
      const state = (): string => readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.slice(0, 1);
      for (let i = 0; i < 500 && state() !== 'Z'; i++) await new Promise((r) => setTimeout(r, 10));
      expect(state()).toBe('Z');
      expect(() => process.kill(pid, 0)).not.toThrow();
      expect(isExiting(pid)).toBe(true);
      expect(isProcessAlive(pid)).toBe(false);
      await writeFile(join(dir, 'part-0.lock'), JSON.stringify({ pid, host: hostname(), startedAt: new Date().toISOString(), token: 'zombie' }));
      const lock = await acquireLock(join(dir, 'part-0.lock'));
      expect(lock.recovered?.pid).toBe(pid);
      await lock.release();
    } finally {
      parent.kill('SIGKILL');
    }
  });

  it('counts a running process as alive', () => {
    expect(isExiting(process.pid)).toBe(false);
    expect(isProcessAlive(process.pid)).toBe(true);
  });
});

describe('acquireLock', () => {
  it('creates the lock with pid, host, startedAt, command; release removes it', async () => {
    const p = join(dir, 'state', 'w.lock');
    const lock = await acquireLock(p, { command: 'tickpipe run --api-key SECRET123 --out x' });
    const info = await readLock(p);
    expect(info).toMatchObject({ pid: process.pid, host: hostname() });
    expect(Date.parse(info!.startedAt)).toBeGreaterThan(0);
    expect(info!.command).toBe('tickpipe run --api-key [redacted] --out x');
    expect(await readFile(p, 'utf8')).not.toContain('SECRET123');
    expect(lock.recovered).toBeUndefined();
    expect(await lock.release()).toBe(true);
    expect(await readLock(p)).toBeUndefined();
    expect(await readdir(join(dir, 'state'))).toEqual([]);
    expect(await lock.release()).toBe(false);
  });

  it('a live holder (this very process) is refused, naming pid, host and since', async () => {
    const p = join(dir, 'w.lock');
    const first = await acquireLock(p);
    const err = await acquireLock(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockedError);
    const msg = (err as Error).message;
    expect(msg).toContain(`pid ${process.pid} on ${hostname()} since ${first.info.startedAt}`);
    expect(msg).toContain('--steal-locks');
    await first.release();
  });

  it('a stale lock of a dead pid on this host is recovered and reported', async () => {
    const p = join(dir, 'w.lock');
    const pid = deadPid();
    await writeFile(p, JSON.stringify({ pid, host: hostname(), startedAt: '2024-01-02T03:04:05.000Z', token: 'old' }));
    const lock = await acquireLock(p);
    expect(lock.recovered).toMatchObject({ pid, startedAt: '2024-01-02T03:04:05.000Z' });
    expect(lock.stolen).toBe(false);
    expect((await readLock(p))?.pid).toBe(process.pid);
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('a lock of another host is refused even if the pid looks dead, unless stolen', async () => {
    const p = join(dir, 'w.lock');
    await writeFile(p, JSON.stringify({ pid: deadPid(), host: 'other-host', startedAt: '2024-01-02T03:04:05.000Z', token: 't' }));
    await expect(acquireLock(p)).rejects.toThrow(/locked by pid \d+ on other-host since 2024-01-02T03:04:05.000Z: it is on another host/);
    const lock = await acquireLock(p, { steal: true });
    expect(lock.stolen).toBe(true);
    expect((await readLock(p))?.host).toBe(hostname());
    await lock.release();
  });

  it('steal takes a live holder\'s lock; the old holder\'s release then leaves the new lock alone', async () => {
    const p = join(dir, 'w.lock');
    const a = await acquireLock(p);
    const b = await acquireLock(p, { steal: true });
    expect(b.stolen).toBe(true);
    expect(await a.release()).toBe(false);
    expect((await readLock(p))?.token).toBe(b.info.token);
    expect(await b.release()).toBe(true);
  });

  it('an unreadable lock file is replaced', async () => {
    const p = join(dir, 'w.lock');
    await writeFile(p, 'garbage');
    expect(await readLock(p)).toBeNull();
    const lock = await acquireLock(p);
    expect((await readLock(p))?.pid).toBe(process.pid);
    await lock.release();
  });

  it('injected liveness check (used to simulate restarts after a crash)', async () => {
    const p = join(dir, 'w.lock');
    await acquireLock(p); // never released: the "crashed" holder
    const lock = await acquireLock(p, { processAlive: () => false });
    expect(lock.recovered?.pid).toBe(process.pid);
    await lock.release();
  });

  it('redactSecrets', () => {
    expect(redactSecrets('x --api-key=abc y')).toBe('x --api-key=[redacted] y');
    expect(redactSecrets('GET https://h/v3/trades?apiKey=abc&limit=5')).toBe('GET https://h/v3/trades?apiKey=[redacted]&limit=5');
    expect(redactSecrets('Authorization: Bearer abc')).toBe('Authorization: Bearer [redacted]');
  });
});
