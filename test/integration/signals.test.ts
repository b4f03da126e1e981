import { readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { journaled } from './run-files.js';
import { runCli, startCli, startSimProcess, waitFor } from './spawn.js';


describe('SIGINT during a run', () => {
  let sim: { url: string; stop(): Promise<void> };
  let dir: string;
  beforeAll(async () => {
    sim = await startSimProcess(['--seed', '3']);
    dir = await mkdtemp(join(tmpdir(), 'tickpipe-signals-'));
    await writeFile(join(dir, 'u.txt'), 'ALFA\nBRVO\nCHRL\n');
  });
  afterAll(async () => {
    await sim?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const args = (out: string) => ['run', '--universe', join(dir, 'u.txt'), '--from', '2024-03-11', '--to', '2024-03-15', '--out', out, '--base-url', sim.url, '--api-key', 'k', '--rate', '20/s', '--no-progress'];

  it('once: drains what is in flight, commits it, releases the locks and exits 130', async () => {
    const out = join(dir, 'graceful');
    const r = startCli(args(out));
    await waitFor(() => journaled(out).length >= 3, 60_000, 'three windows');
    r.child.kill('SIGINT');
    const f = await r.done;
    expect(f.code).toBe(130);
    expect(f.stderr).toMatch(/SIGINT received: finishing the items in flight/);
    expect(readdirSync(join(out, 'state', 'ingest')).filter((n) => n.endsWith('.lock'))).toEqual([]);
    const resumed = await runCli(args(out));
    expect(resumed.code).toBe(0);
    const ids = journaled(out);
    expect(new Set(ids).size).toBe(ids.length);
    expect(resumed.stdout).toMatch(/duplicates found\s+0/);
  }, 120_000);

  it('twice: stops at once by the signal itself, and a resume completes without duplicates', async () => {
    const out = join(dir, 'hard');
    const r = startCli(args(out));
    await waitFor(() => journaled(out).length >= 3, 60_000, 'three windows');
    r.child.kill('SIGINT');
    await waitFor(() => /SIGINT received/.test(r.stderr()), 10_000, 'the first signal to be seen');
    r.child.kill('SIGINT');
    const f = await r.done;
    expect(f.signal).toBe('SIGINT');
    const resumed = await runCli(args(out));
    expect(resumed.code).toBe(0);
    const ids = journaled(out);
    expect(new Set(ids).size).toBe(ids.length);
    const verify = await runCli(['verify', '--out', out]);
    expect(verify.code, verify.stdout).toBe(0);
  }, 120_000);
});
