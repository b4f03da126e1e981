import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cleanRun } from '../../src/ops/clean.js';
import { reconcileRun } from '../../src/ops/reconcile.js';
import { acquireLock } from '../../src/sinks/index.js';
import { buildRunFolder, cli, copyRun, damage, listing, removeDir } from './damage-helpers.js';

let base: string;
const dirs: string[] = [];
beforeAll(async () => {
  base = await buildRunFolder();
  dirs.push(base);
});
afterAll(() => {
  for (const d of dirs) removeDir(d);
});

describe('reconcile and clean around locks', () => {
  it('reconcile refuses while a live run holds a lock (exit 2, names the holder, nothing changed)', async () => {
    const dir = copyRun(base);
    dirs.push(dir);
    damage(dir);
    const lock = await acquireLock(join(dir, 'state', 'detect', 'worker-1.lock'), { command: 'tickpipe run' });
    try {
      const before = listing(dir);
      const r = await cli(['reconcile', '--out', dir]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`pid ${process.pid} on ${hostname()}`);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(listing(dir)).toEqual(before);
      await expect(reconcileRun(dir)).rejects.toMatchObject({ code: 'E_LOCKED' });
    } finally {
      await lock.release();
    }
    // Released: it works, and it releases every lock it took.
    const r = await reconcileRun(dir);
    expect(r.rewritten.length).toBeGreaterThan(0);
    expect(listing(dir).filter((l) => /\.lock /.test(l))).toEqual([]); // its own locks released (the damage's lock tmp stays: clean's job)
  });

  it('reconcile on a clean folder rewrites nothing', async () => {
    const dir = copyRun(base);
    dirs.push(dir);
    const journal = readFileSync(join(dir, 'state', 'ingest', 'part-0.jsonl'), 'utf8');
    const r = await reconcileRun(dir);
    expect(r.rewritten).toEqual([]);
    expect(r.ingest.added).toEqual([]);
    expect(r.detect.dropped).toEqual([]);
    expect(readFileSync(join(dir, 'state', 'ingest', 'part-0.jsonl'), 'utf8')).toBe(journal);
  });

  it('clean --dry-run reports every action and changes nothing', async () => {
    const dir = copyRun(base);
    dirs.push(dir);
    damage(dir);
    const before = listing(dir);
    const r = await cli(['clean', '--out', dir, '--dry-run', '--json']);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.dryRun).toBe(true);
    expect(plan.actions.map((a: { kind: string }) => a.kind).sort()).toEqual(['delete-tmp', 'delete-uncommitted-shard', 'promote-tmp']);
    expect(listing(dir)).toEqual(before);
    const text = await cli(['clean', '--out', dir, '--dry-run']);
    expect(text.stdout).toContain('would promote');
    expect(text.stdout).toContain('dry run: nothing changed');
    expect(listing(dir)).toEqual(before);
  });

  it('clean refuses while a live run holds a partition concerned, and proceeds when the lock concerns nothing it touches', async () => {
    const dir = copyRun(base);
    dirs.push(dir);
    damage(dir); // leaves a window tmp (ingest) and an uncommitted shard in worker-0 (detect)
    const ingestLock = await acquireLock(join(dir, 'state', 'ingest', 'part-3.lock'));
    try {
      const before = listing(dir);
      const r = await cli(['clean', '--out', dir]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`pid ${process.pid}`);
      await expect(cleanRun(dir, { dryRun: true })).rejects.toMatchObject({ code: 'E_LOCKED' });
      expect(listing(dir)).toEqual(before);
    } finally {
      await ingestLock.release();
    }
    // A live detect worker-1 does not concern worker-0's shard folder nor the windows.
    const w1 = await acquireLock(join(dir, 'state', 'detect', 'worker-1.lock'));
    try {
      const r = await cleanRun(dir);
      expect(r.actions.map((a) => a.kind).sort()).toEqual(['delete-tmp', 'delete-uncommitted-shard', 'promote-tmp']);
      expect((await cleanRun(dir)).actions).toEqual([]);
    } finally {
      await w1.release();
    }
  });
});
