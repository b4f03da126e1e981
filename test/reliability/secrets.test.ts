/**
 * The API key never reaches disk or output: real CLI runs against a faulty simulator that also
 * echoes the key into its error bodies and next_urls (errors,
 * resets, truncations, so retries and failure paths run), a run killed while holding its locks,
 * a refused-key run, and status/verify when those commands exist; then every byte under the run
 * folder (logs, heartbeat, run.json, journals, locks, Parquet data and metadata) and every captured
 * stdout/stderr is searched for the key. Also: files follow the user's umask.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSim } from '../../src/sim/index.js';
import type { SimServer } from '../../src/sim/server.js';
import { runCli, spawnCli, type CliResult } from '../support/cli.js';

const KEY = 'SECRETKEY123456789';

let dir: string;
let sim: SimServer;
const outputs: string[] = [];

function allFiles(root: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(root, { withFileTypes: true })) {
    const p = join(root, e.name);
    if (e.isDirectory()) out.push(...allFiles(p));
    else out.push(p);
  }
  return out;
}

const keep = (r: CliResult): CliResult => {
  outputs.push(r.stdout, r.stderr);
  return r;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tp-secrets-'));
  // echoKey: the server quotes the key in every error body and next_url, as a leaky proxy would.
  sim = await startSim({ seed: 5, apiKey: KEY, echoKey: true, errorRate: 0.05, resetRate: 0.03, truncateRate: 0.03 });
  writeFileSync(join(dir, 'u.txt'), 'AAPL\nMSFT\n');
});

afterAll(async () => {
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('secrets and file modes', () => {
  it('the key appears in no file of the run folder and in no output; files honour umask 027', async () => {
    const out = join(dir, 'run');
    const args = ['run', '--universe', join(dir, 'u.txt'), '--from', '2024-03-04', '--to', '2024-03-06', '--out', out, '--no-progress', '--base-url', sim.url, '--api-key', KEY, '--workers', '2'];

    // 1. Killed while holding its locks: the lock files stay behind for inspection.
    const killed = spawnCli(args, { umask: '027' });
    await killed.waitFor(/ingest: \d+ events/, 90_000);
    const locks = allFiles(join(out, 'state')).filter((f) => f.endsWith('.lock'));
    expect(locks.length).toBeGreaterThan(0);
    for (const l of locks) {
      const info = JSON.parse(readFileSync(l, 'utf8'));
      expect(info.pid).toBe(killed.pid);
      expect(JSON.stringify(info)).not.toContain(KEY);
    }
    killed.child.kill('SIGKILL');
    keep(await killed.done);

    // 2. Resumed to completion under the same umask (faults make it retry; exit 0 or 1 if a window failed for good).
    const done = keep(await runCli(args, { umask: '027' }));
    expect([0, 1], done.stderr).toContain(done.code);
    expect(sim.stats()).toBeDefined();

    // 3. A refused key against the same folder: exit 3, the wrong key not echoed either.
    const refused = keep(await runCli([...args.slice(0, -4), '--api-key', 'WRONGKEY987654321', '--workers', '2']));
    expect(refused.code).toBe(3);
    expect(refused.stderr).not.toContain('WRONGKEY987654321');

    // 4. The key from the environment instead of the flag.
    keep(await runCli(args.filter((a, i) => a !== '--api-key' && args[i - 1] !== '--api-key'), { env: { POLYGON_API_KEY: KEY } }));

    // 5. status / verify, when they exist.
    const help = await runCli(['--help']);
    for (const cmd of ['status', 'verify']) {
      if (new RegExp(`^\\s+${cmd}\\s`, 'm').test(help.stdout)) keep(await runCli([cmd, '--out', out]));
    }

    const files = allFiles(out);
    expect(files.some((f) => f.endsWith('.parquet'))).toBe(true);
    expect(files.some((f) => f.endsWith('heartbeat.ndjson'))).toBe(true);
    const needle = Buffer.from(KEY);
    const leaking = files.filter((f) => readFileSync(f).includes(needle));
    expect(leaking).toEqual([]);
    for (const o of outputs) expect(o).not.toContain(KEY);

    // Files created by the umask-027 runs: no bit for others, no group write.
    const created = files.filter((f) => /run\.json$|tickpipe\.log$|\.jsonl$|trades\.parquet$/.test(f));
    expect(created.length).toBeGreaterThan(3);
    for (const f of created) expect({ f, mode: (statSync(f).mode & 0o777).toString(8) }).toEqual({ f, mode: '640' });
  }, 240_000);
});
