/**
 * Compaction and the run summary of a cluster run, with real components: a real Redis, the
 * simulator on loopback, and `run --cluster` plus one `tickpipe worker` as real CLI processes.
 * - A cluster run compacts: the `run --cluster` host compacts finished symbols during ingest, and
 *   exactly one process (whichever finds stage 2 finished) compacts the rest before the run is
 *   done; afterwards `dataset/` holds every committed window's rows exactly once, `verify` is clean.
 * - Its summary reports what every host committed (the folder's totals and one line per slot,
 *   from their journals) and the requests of every host, not "nothing was downloaded".
 * - `--no-compact` leaves `dataset/` alone; rerunning without it compacts what the journals hold.
 * - The process doing the end-of-run compaction is SIGKILLed (while it waits for a compaction lock
 *   this test holds): the other process takes the step over once the phase lock expires, and the
 *   dataset still ends with every window exactly once.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_UNIVERSE } from '../../src/cli/demo.js';
import { connectRedis, DONE_RUN_TTL_MS, dropClusterRun } from '../../src/cluster/coordinator.js';
import { clusterKeys } from '../../src/cluster/layout.js';
import { startSim, type SimServer } from '../../src/sim/index.js';
import { runCli, spawnCli } from '../support/cli.js';
import { expectDatasetExactlyOnce, hostLines, jsonl, windowLines } from './dataset-check.js';
import { datasetPaths } from '../../src/dataset/layout.js';
import { acquireLock } from '../../src/run-folder/lock-file.js';
import { findRedis } from './redis-env.js';

const redis = await findRedis();
const skip = 'skip' in redis ? redis.skip : undefined;
const ENV = { POLYGON_API_KEY: 'cluster-compaction-key' };

describe.skipIf(skip !== undefined)(`cluster: compaction and the run summary (${skip ? `skipped: ${skip}` : 'real Redis, real CLI processes'})`, () => {
  let dir = '';
  let sim: SimServer;
  let universe = '';
  const url = (redis as { url: string }).url;
  const folders: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tickpipe-cluster-compact-'));
    universe = join(dir, 'universe.txt');
    writeFileSync(universe, [...DEMO_UNIVERSE].sort().slice(0, 8).join('\n') + '\n');
    sim = await startSim({ host: '127.0.0.1', port: 0, seed: 17, rate: 200 });
  }, 60_000);

  afterAll(async () => {
    await sim?.close();
    const conn = connectRedis(url);
    for (const out of folders) {
      const file = join(out, 'state', 'cluster', 'cluster.json');
      if (existsSync(file)) await dropClusterRun(conn, (JSON.parse(readFileSync(file, 'utf8')) as { runId: string }).runId);
    }
    conn.disconnect();
    await (redis as { stop?: () => Promise<void> }).stop?.();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  const runArgs = (out: string, extra: readonly string[] = []) => [
    'run', '--cluster', url, '--out', out, '--base-url', sim.url, '--universe', universe,
    '--from', '2024-03-04', '--to', '2024-03-08', '--rate', '20/s', '--concurrency', '16', '--no-progress', ...extra,
  ];

  it('compacts during and at the end of a cluster ingest, exactly once; the summary reports every host', async () => {
    const out = join(dir, 'run-a');
    folders.push(out);
    const a = spawnCli(runArgs(out), { env: ENV, timeoutMs: 300_000 });
    const b = spawnCli(['worker', '--cluster', url, '--out', out, '--concurrency', '16'], { env: ENV, timeoutMs: 300_000 });
    const [ra, rb] = await Promise.all([a.done, b.done]);
    const aOut = ra.stdout + ra.stderr;
    console.log(`[cluster compaction] run --cluster output:\n${aOut}\n[worker]\n${rb.stdout + rb.stderr}`);
    const bOut = rb.stdout + rb.stderr;
    expect(ra.code, aOut).toBe(0);
    expect(rb.code, bOut).toBe(0);

    // One end-of-run compaction, by whichever process found stage 2 finished.
    const endCompactions = (aOut + bOut).match(/cluster: ingest finished; compacting/g) ?? [];
    expect(endCompactions.length, aOut + bOut).toBe(1);
    // The run --cluster host compacted finished symbols while the windows were still downloading.
    expect(aOut, 'an incremental compaction during ingest').toMatch(/during ingest: compacted [1-9]\d* windows/);
    expect(bOut).not.toMatch(/during ingest:/);
    await expectDatasetExactlyOnce(out);
    const v = await runCli(['verify', '--out', out]);
    expect(v.code, v.stdout + v.stderr).toBe(0);

    // The summary: the folder's totals, one line per host from its journals, every host's requests.
    const windows = windowLines(out);
    expect(ra.stdout).toMatch(new RegExp(`windows\\s+${windows.length.toLocaleString('en-US')} complete, 0 failed`));
    expect(ra.stdout).not.toMatch(/nothing was downloaded/);
    expect(ra.stdout).toMatch(/requests\/s\s+\d+(\.\d)? while not paused/);
    expect(ra.stdout).toMatch(/Committed by each host \(2 worker processes, from their journals\)/);
    const perHost = hostLines(ra.stdout);
    expect(perHost.size, ra.stdout).toBe(2);
    for (const [slot, n] of perHost) expect(n, `slot ${slot}'s line is its journal`).toBe(jsonl(join(out, 'state', 'ingest', `part-${slot}.jsonl`)).length);
    expect([...perHost.values()].reduce((x, y) => x + y, 0)).toBe(windows.length);
    // The request figures are every host's: the table's count is the sum of the hosts' final counts.
    const hostRequests = [...ra.stdout.matchAll(/; ([\d,]+) requests, [\d,]+ 429s/g)].map((x) => Number(x[1]!.replace(/,/g, '')));
    expect(hostRequests).toHaveLength(2);
    const total = Number(/while not paused \(([\d,]+) requests/.exec(ra.stdout)?.[1]?.replace(/,/g, ''));
    expect(total, ra.stdout).toBe(hostRequests[0]! + hostRequests[1]!);
    expect(hostRequests.every((n) => n > 0), 'both hosts downloaded').toBe(true);
    expect(ra.stdout).toMatch(/Dataset: .*every committed window compacted/);
    expect(ra.stdout).toMatch(/dataset\/\{trades,quotes\}\/symbol=…\//);

    // A finished run leaves nothing in the team's Redis for good: every key of it expires within a day.
    const { runId } = JSON.parse(readFileSync(join(out, 'state', 'cluster', 'cluster.json'), 'utf8')) as { runId: string };
    const conn = connectRedis(url);
    try {
      const ttls: Record<string, number> = {};
      for (const pattern of clusterKeys(runId).patterns) {
        for (const k of await conn.keys(pattern)) ttls[k] = await conn.pttl(k);
      }
      expect(Object.keys(ttls).length, 'the run had keys').toBeGreaterThan(0);
      const forever = Object.entries(ttls).filter(([, t]) => t < 0 || t > DONE_RUN_TTL_MS);
      expect(forever, 'keys without an expiry after the run').toEqual([]);
    } finally {
      conn.disconnect();
    }
  }, 400_000);

  it('--no-compact leaves dataset/ alone; the same command without it compacts what the journals hold', async () => {
    const out = join(dir, 'run-b');
    folders.push(out);
    const first = await runCli(runArgs(out, ['--no-compact']), { env: ENV, timeoutMs: 300_000 });
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout + first.stderr).not.toMatch(/compacting|compacted|Dataset:/);
    expect(existsSync(join(out, 'dataset'))).toBe(false);
    expect(existsSync(join(out, 'state', 'compact'))).toBe(false);
    expect(windowLines(out).length).toBeGreaterThan(50);

    const again = await runCli(runArgs(out), { env: ENV, timeoutMs: 300_000 });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stderr).toMatch(/0 windows enqueued|: 0 symbols enqueued/);
    expect((again.stderr.match(/cluster: ingest finished; compacting/g) ?? []).length).toBe(1);
    await expectDatasetExactlyOnce(out);
    const v = await runCli(['verify', '--out', out]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  }, 400_000);

  it('the compacting process is killed: the other one takes the end-of-run compaction over', async () => {
    const out = join(dir, 'run-c');
    folders.push(out);
    // Another compactor (this test) holds the lock: the end-of-run compaction waits for it.
    const lock = await acquireLock(datasetPaths(out).lock, { command: 'cluster test: another compactor' });
    let released = false;
    try {
      const a = spawnCli(runArgs(out), { env: ENV, timeoutMs: 300_000 });
      const b = spawnCli(['worker', '--cluster', url, '--out', out, '--concurrency', '16'], { env: ENV, timeoutMs: 300_000 });
      const compacting = /cluster: ingest finished; compacting/;
      await Promise.race([a.waitFor(compacting, 240_000), b.waitFor(compacting, 240_000)]);
      const [killed, survivor] = compacting.test(a.stdout() + a.stderr()) ? [a, b] : [b, a];
      killed.child.kill('SIGKILL');
      await killed.done;
      await lock.release();
      released = true;
      const r = await survivor.done;
      const output = r.stdout + r.stderr;
      console.log(`[cluster compaction] killed the compacting ${killed === a ? 'run --cluster' : 'worker'} process; the ${survivor === a ? 'run --cluster' : 'worker'} process took over`);
      expect(r.code, output).toBe(0);
      // The survivor did the step (after the killed one's 30 s phase lock expired) and compacted.
      expect(output).toMatch(compacting);
      expect(output).toMatch(/compacted \d+ windows into \d+ part/);
      await expectDatasetExactlyOnce(out);
      const v = await runCli(['verify', '--out', out]);
      expect(v.code, v.stdout + v.stderr).toBe(0);
    } finally {
      if (!released) await lock.release();
    }
  }, 400_000);
});
