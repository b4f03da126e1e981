/** Bad cluster-mode input: one clear line, exit 2, nothing written (no Redis needed). */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../integration/spawn.js';

describe('cluster mode: bad usage', () => {
  const dirs: string[] = [];
  const tmp = async () => {
    const d = await mkdtemp(join(tmpdir(), 'tickpipe-cluster-usage-'));
    dirs.push(d);
    return d;
  };
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('refuses a --cluster value that is not a redis:// URL, showing it without its password', async () => {
    const out = join(await tmp(), 'run');
    const r = await runCli(['run', '--cluster', 'http://user:secret@host:6379', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('--cluster: expected redis://HOST:PORT');
    expect(r.stderr).not.toContain('secret');
    expect(existsSync(out)).toBe(false);
  });

  it('refuses --cluster on the embedded simulator, which other hosts cannot reach', async () => {
    const out = join(await tmp(), 'run');
    const r = await runCli(['run', '--cluster', 'redis://127.0.0.1:1', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--cluster needs --base-url/);
    expect(existsSync(out)).toBe(false);
  });

  it('worker needs --cluster or TICKPIPE_REDIS_URL', async () => {
    const r = await runCli(['worker', '--out', await tmp()], { env: { ...process.env, TICKPIPE_REDIS_URL: '' } });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/--cluster redis:\/\/HOST:PORT \(or TICKPIPE_REDIS_URL\) is required/);
  });
});
