/**
 * The PAUSE flag on a real run: nothing new starts, the windows in flight finish their pages and
 * then no request goes out until the flag is removed; the run then completes, and its rates leave
 * the idle part of the pause out without counting the in-flight requests against it (a user saw
 * "share of --rate 142%" at --rate 20/s after a 19 s pause: 137 requests made during the pause over
 * a clock that had stopped at the flag).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heartbeats, journaled } from './run-files.js';
import { startCli, startSimProcess, waitFor } from './spawn.js';


describe('PAUSE during ingest (real CLI, simulator process)', () => {
  let sim: { url: string; stop(): Promise<void> };
  let dir: string;
  beforeAll(async () => {
    sim = await startSimProcess(['--seed', '3']);
    dir = await mkdtemp(join(tmpdir(), 'tickpipe-pause-run-'));
    await writeFile(join(dir, 'u.txt'), 'ALFA\nBRVO\nCHRL\nDLTA\n');
  });
  afterAll(async () => {
    await sim?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('stops requests once the windows in flight are done, resumes, and no rate counts more than was sent', async () => {
    const out = join(dir, 'run');
    const rate = 20;
    const r = startCli(['run', '--universe', join(dir, 'u.txt'), '--from', '2024-03-11', '--to', '2024-03-22', '--out', out, '--base-url', sim.url, '--api-key', 'k', '--rate', `${rate}/s`, '--no-progress']);
    try {
      await waitFor(() => journaled(out).length >= 3, 120_000, 'three windows committed');
      await writeFile(join(out, 'PAUSE'), '');
      await waitFor(() => heartbeats(out).some((h) => h.stage === 'ingest' && h.paused === true), 30_000, 'a paused heartbeat');
      // The windows in flight finish (at --rate 20/s, a few seconds), then nothing moves: the
      // heartbeats (one every 5 s while idle) show the same request count and a growing paused time.
      const ingestBeats = () => heartbeats(out).filter((h) => h.stage === 'ingest' && h.paused === true);
      await waitFor(() => Number(ingestBeats().at(-1)?.pausedMs ?? 0) >= 6000, 90_000, 'six idle seconds of pause');
      const beats = ingestBeats();
      const idle = beats.at(-1)!;
      const before = beats.at(-2)!;
      expect(Number(idle.requests), 'no request while paused once the windows in flight were done').toBe(Number(before.requests));
      // Requests over active time stay at the rate: the in-flight requests were made in counted time.
      expect(Number(idle.requests) / (Number(idle.activeMs) / 1000)).toBeLessThanOrEqual(rate * 1.05);
      await unlink(join(out, 'PAUSE'));
    } finally {
      if (existsSync(join(out, 'PAUSE'))) await unlink(join(out, 'PAUSE'));
    }
    const f = await r.done;
    expect(f.code, f.stderr).toBe(0);
    expect(f.stdout + f.stderr).toMatch(/PAUSE flag found: nothing new starts \(work in flight finishes\)/);
    expect(f.stdout + f.stderr).toMatch(/PAUSE flag removed: resuming/);
    const share = /share of --rate\s*\|?\s*([\d.]+)% of 20 req\/s/.exec(f.stdout);
    expect(share, f.stdout).not.toBeNull();
    expect(Number(share![1]), 'the summary\'s share of --rate after a pause').toBeLessThanOrEqual(105);
  }, 300_000);
});
