import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TailViewData } from '../../src/ops/tail.js';
import { runCli, spawnCli } from '../support/cli.js';

// Build first (`npm run build`): these spawn bin/tickpipe.js.
let root: string;
let runDir: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tp-tail-'));
  await writeFile(join(root, 'u.txt'), 'AAOI\nABVC\nADTX\nAEHL\n');
  runDir = join(root, 'live');
});
afterAll(async () => rm(root, { recursive: true, force: true }));

describe('tickpipe tail', () => {
  it('--json follows a live run until done == total, and exits 0 on SIGINT', async () => {
    const run = spawnCli(['run', '--out', runDir, '--no-progress', '--universe', join(root, 'u.txt'), '--from', '2024-03-04', '--to', '2024-03-08', '--workers', '2', '--batch-size', '1', '--concurrency', '1'], { timeoutMs: 240_000 });
    // tail needs run.json (a folder without it is not a run folder); the heartbeat may not exist yet.
    const t0 = Date.now();
    while (!existsSync(join(runDir, 'run.json'))) {
      if (Date.now() - t0 > 30_000) throw new Error(`run.json never appeared: ${run.stderr()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const tail = spawnCli(['tail', '--out', runDir, '--json'], { timeoutMs: 260_000 });
    const finished = await run.done;
    expect(finished.code).toBe(0);
    // give the watcher a moment to see the last heartbeat, then stop the viewer
    const until = Date.now() + 15_000;
    const last = (): TailViewData | undefined => {
      const ls = tail.stdout().trim().split('\n').filter(Boolean);
      return ls.length ? (JSON.parse(ls.at(-1)!) as TailViewData) : undefined;
    };
    while (Date.now() < until && !(last()?.stages.ingest?.finished && last()?.disk?.locks.length === 0)) await new Promise((r) => setTimeout(r, 50));
    tail.child.kill('SIGINT');
    const t = await tail.done;
    expect(t.code).toBe(0);
    const views = t.stdout.trim().split('\n').map((l) => JSON.parse(l) as TailViewData);
    expect(views.length).toBeGreaterThan(2);
    // progress never goes backwards and ends at done == total
    const committed = views.map((v) => v.disk?.windowsCommitted ?? 0);
    expect(committed).toEqual([...committed].sort((a, b) => a - b));
    expect(committed.at(-1)!).toBeGreaterThan(committed[0]!);
    const ingestDone = views.filter((v) => v.stages.ingest).map((v) => v.stages.ingest!.done);
    expect(ingestDone).toEqual([...ingestDone].sort((a, b) => a - b));
    // batches of one symbol commit while detection goes on: done must still never pass total
    for (const v of views) if (v.stages.detect) expect(v.stages.detect.done).toBeLessThanOrEqual(v.stages.detect.total ?? Infinity);
    const end = views.at(-1)!;
    expect(end.stages.detect).toMatchObject({ done: 4, total: 4, finished: true });
    expect(end.stages.ingest!.done).toBe(end.stages.ingest!.total);
    expect(end.stages.ingest!.total).toBeGreaterThan(0);
    expect(end.disk!.windowsCommitted).toBe(end.stages.ingest!.total);
    const part = end.workers.find((w) => w.stage === 'ingest')!;
    expect(part).toMatchObject({ name: 'part-0', status: 'finished', rate: 100 });
    expect(part.last).toMatch(/^A[A-Z]+_/);
    expect(end.stalled).toEqual([]);
  }, 300_000);

  it('--once prints the view of a finished run and exits 0', async () => {
    const r = await runCli(['tail', '--out', runDir, '--once']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^detect .*4\/4 symbols.*finished$/m);
    expect(r.stdout).toMatch(/^ingest .*\[#{20}\] (\d+)\/\1 windows.*finished$/m);
    expect(r.stdout).toMatch(/part-0 .* req [\d.]+\/s at --rate 100\/s {2}429s 0 {2}failed\/1m 0/);
    expect(r.stdout).toMatch(/^state {2}4 symbols committed, \d+ windows committed, 0 failed; 0 live lock\(s\)$/m);
  });

  it('--once after a SIGKILL in ingest shows what status shows: the journals\' windows of the manifest', async () => {
    const dir = join(root, 'killed');
    const common = ['--out', dir, '--no-progress', '--universe', join(root, 'u.txt'), '--from', '2024-03-04', '--to', '2024-03-08'];
    expect((await runCli(['run', ...common, '--stage', 'detect'], { timeoutMs: 120_000 })).code).toBe(0);
    const run = spawnCli(['run', ...common, '--stage', 'ingest', '--rate', '5/s'], { timeoutMs: 120_000 });
    const journal = join(dir, 'state', 'ingest', 'part-0.jsonl');
    const t0 = Date.now();
    while (!existsSync(journal)) {
      if (Date.now() - t0 > 60_000) throw new Error(`no ingest journal: ${run.stderr()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    run.child.kill('SIGKILL');
    await run.done;
    const status = JSON.parse((await runCli(['status', '--out', dir, '--json'])).stdout) as { ingest: { windowsDone: number; windowsTotal: number } };
    expect(status.ingest.windowsTotal).toBeGreaterThan(status.ingest.windowsDone);
    const v = JSON.parse((await runCli(['tail', '--out', dir, '--once', '--json'])).stdout) as TailViewData;
    expect(v.stages.ingest).toMatchObject({ done: status.ingest.windowsDone, total: status.ingest.windowsTotal, fromJournals: true, finished: false });
    expect(v.workers.find((w) => w.stage === 'ingest')).toMatchObject({ name: 'part-0', done: status.ingest.windowsDone, etaSec: null, status: 'stopped' });
    const text = await runCli(['tail', '--out', dir, '--once']);
    const { windowsDone: d, windowsTotal: n } = status.ingest;
    expect(text.stdout).toMatch(new RegExp(`^ingest \\[[#.]{20}\\] ${d}/${n} windows .*stopped: committed in the journals$`, 'm'));
    expect(text.stdout).not.toMatch(/^ingest \[#{20}\]/m); // the stage is not complete: no full bar
  }, 180_000);

  it('--once on a run folder whose heartbeat does not exist yet; a non-run folder is exit 2', async () => {
    const fresh = join(root, 'fresh');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(fresh);
    await writeFile(join(fresh, 'run.json'), JSON.stringify({ version: 1, source: { sim: { seed: 7 } } }));
    const r = await runCli(['tail', '--out', fresh, '--once', '--json']);
    expect(r.code).toBe(0);
    const v = JSON.parse(r.stdout) as TailViewData;
    expect(v).toMatchObject({ heartbeatLines: 0, lastHeartbeatAt: null, workers: [], stalled: [] });
    const plain = await runCli(['tail', '--out', fresh, '--once']);
    expect(plain.stdout).toMatch(/waiting for logs\/heartbeat\.ndjson/);
    const bad = await runCli(['tail', '--out', join(root, 'nope'), '--once']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/no run\.json/);
    const badFlag = await runCli(['tail', '--out', fresh, '--stall-after', 'soon']);
    expect(badFlag.code).toBe(2);
  });
});
