import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureRunSpec } from '../../src/sinks/index.js';
import { runCli } from './spawn.js';

describe('run on the embedded simulator (a worker thread)', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reports a refused resume with one line and exit 2 instead of exiting silently', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tickpipe-embedded-'));
    await ensureRunSpec(dir, { version: 1, source: { sim: { seed: 7 } }, from: '2024-03-01', to: '2024-03-29' });
    const before = await readFile(join(dir, 'run.json'), 'utf8');
    const r = await runCli(['run', '--out', dir, '--sim-seed', '8', '--no-progress']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/belongs to a different run: .*source\.sim\.seed: 7 in run\.json vs 8 now/);
    expect(await readFile(join(dir, 'run.json'), 'utf8')).toBe(before);
  }, 60_000);

  it('refuses --partition without --stage: the manifest must be consolidated once from every half', async () => {
    const out = join(dir!, 'partitioned');
    const r = await runCli(['run', '--out', out, '--partition', '0/2', '--no-progress']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--partition i\/N needs --stage detect or --stage ingest/);
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});
