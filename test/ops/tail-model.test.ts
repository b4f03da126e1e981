import { appendFile, mkdtemp, rm, truncate, writeFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { emptyTailState, FileFollower, foldHeartbeat, followPlan, LineSplitter, nextStallAt, renderTail, tailView, windowRates, withDisk } from '../../src/ops/tail.js';

const T0 = Date.parse('2024-03-04T14:00:00Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();
const ingest = (ms: number, o: Record<string, unknown>, pid = 100) =>
  JSON.stringify({ level: 30, time: iso(ms), pid, name: 'heartbeat', stage: 'ingest', partition: 0, last: 'E', processed: 0, failed: 0, skipped: 0, total: 1000, rateLimited: 0, reqPerSec: 50, quota: 100, rate: 100, ...o });
const detect = (ms: number, worker: number, symbol: string, done: number, total: number, pid = 100) =>
  JSON.stringify({ level: 30, time: iso(ms), pid, name: 'heartbeat', stage: 'detect', worker, symbol, batch: 1, totalBatches: 0, bars: 1, events: 1, done, total });

describe('tail model', () => {
  it('folds detect lines per worker and sums process totals', () => {
    const s = emptyTailState();
    foldHeartbeat(s, detect(0, 0, 'AAA', 1, 4));
    foldHeartbeat(s, detect(1000, 1, 'BBB', 2, 4));
    foldHeartbeat(s, detect(2000, 0, 'CCC', 3, 4));
    foldHeartbeat(s, 'not json');
    foldHeartbeat(s, '{"level":30,"time":"x"}');
    const v = tailView(s, T0 + 2500);
    expect(s.lines).toBe(3);
    expect(s.badLines).toBe(2);
    expect(v.workers.map((w) => [w.name, w.done, w.last, w.status])).toEqual([
      ['worker-0', 2, 'CCC', 'running'],
      ['worker-1', 1, 'BBB', 'running'],
    ]);
    expect(v.stages.detect).toMatchObject({ done: 3, total: 4, finished: false });
    foldHeartbeat(s, detect(3000, 1, 'DDD', 4, 4));
    expect(tailView(s, T0 + 3000).stages.detect).toMatchObject({ done: 4, total: 4, finished: true, etaSec: 0 });
  });

  it('computes items/s, 429s and failures over the sliding window, and the ETA', () => {
    const s = emptyTailState();
    // 10 windows/s for 120 s; 429s and failures only in the last minute.
    for (let t = 0; t <= 120_000; t += 5_000) {
      foldHeartbeat(s, ingest(t, { total: 5000, processed: t / 100, rateLimited: t > 60_000 ? 3 + (t - 60_000) / 5_000 : 3, failed: t >= 100_000 ? 2 : 0, reqPerSec: 80 }));
    }
    const v = tailView(s, T0 + 120_000);
    const w = v.workers[0]!;
    expect(w.itemsPerSec).toBeCloseTo(10, 5);
    expect(w.rateLimitedLastMin).toBe(12);
    expect(w.failedLastMin).toBe(2);
    expect(w.reqPerSec).toBeCloseTo(80, 5);
    expect(w.done).toBe(1202);
    expect(w.etaSec).toBeCloseTo((5000 - 1202) / 10, -1); // failures count as done, so the rate is ~10.03/s
    // samples are pruned to the window (+ one base)
    expect(s.workers.get('ingest/0')!.samples.length).toBeLessThanOrEqual(14);
  });

  it('ETA = remaining / rate; rate decays to 0 when silent; restart (new pid) resets counters', () => {
    const s = emptyTailState();
    foldHeartbeat(s, ingest(0, { processed: 0 }));
    foldHeartbeat(s, ingest(10_000, { processed: 100 }));
    let w = tailView(s, T0 + 10_000).workers[0]!;
    expect(w.itemsPerSec).toBe(10);
    expect(w.etaSec).toBe(90);
    w = tailView(s, T0 + 200_000, { stallAfterMs: 1e9 }).workers[0]!;
    expect(w.itemsPerSec).toBe(0);
    foldHeartbeat(s, ingest(300_000, { processed: 5, skipped: 100 }, 200));
    w = tailView(s, T0 + 300_000).workers[0]!;
    expect([w.pid, w.done]).toEqual([200, 105]);
  });

  it('a resume that skipped every window shows the writer\'s rate (none), not the skipped windows as throughput', () => {
    // The two lines `run` writes when the journals already commit all 2132 windows: itemsPerSec null.
    const v2 = (ms: number, o: Record<string, unknown>) =>
      ingest(ms, { v: 2, beat: 'tick', failed: 0, total: null, itemsPerSec: null, etaSec: null, reqPerSec: null, configuredRate: 100, rate: 100, requests: 0, processed: 0, skipped: 0, done: 0, ...o });
    const s = emptyTailState();
    foldHeartbeat(s, v2(0, {}));
    foldHeartbeat(s, v2(145, { done: 2132, total: 2132, skipped: 2132 }));
    const v = tailView(s, T0 + 1_000);
    expect(v.workers[0]).toMatchObject({ done: 2132, total: 2132, itemsPerSec: null, status: 'finished' });
    expect(v.stages.ingest).toMatchObject({ itemsPerSec: null, finished: true });
    const text = renderTail(v).join('\n');
    expect(text).toMatch(/^ingest .* 2132\/2132 windows {2}- windows\/s /m);
    expect(text).toMatch(/part-0 .* 2132\/2132 {2}-\/s /);
  });

  it('windowRates uses the newest sample at or before the window start as the base', () => {
    const samples = [0, 30_000, 60_000, 90_000].map((t, i) => ({ t, done: i * 60, failed: 0, rateLimited: i, reqPerSec: 10 * (i + 1) }));
    const r = windowRates(samples, 90_000, 60_000);
    expect(r.itemsPerSec).toBeCloseTo(120 / 60, 5);
    expect(r.rateLimited).toBe(2);
    // time-weighted mean of 30 (30 s) and 40 (30 s)
    expect(r.reqPerSec).toBeCloseTo(35, 5);
  });

  it('flags a silent unfinished worker as stalled after --stall-after, not a finished or stopped one', () => {
    const s = emptyTailState();
    foldHeartbeat(s, ingest(0, { processed: 10 }));
    expect(tailView(s, T0 + 59_000, { stallAfterMs: 60_000 }).stalled).toEqual([]);
    expect(nextStallAt(s, T0 + 59_000, 60_000)).toBe(T0 + 60_001);
    const v = tailView(s, T0 + 61_000, { stallAfterMs: 60_000 });
    expect(v.stalled).toEqual(['ingest part-0']);
    expect(v.workers[0]!.status).toBe('stalled');
    expect(renderTail(v).join('\n')).toMatch(/STALLED: silent 1m01s/);
    // the lock is gone: the process ended, it is not stalled
    withDisk(s, { locks: [], symbolsCommitted: 0, windowsCommitted: 0, windowsFailed: 0, symbolsTotal: null, windowsTotal: null, journals: [], compactLock: null });
    expect(tailView(s, T0 + 61_000).workers[0]!.status).toBe('stopped');
    withDisk(s, { locks: [{ stage: 'ingest', index: 0, state: 'live', pid: 100 }], symbolsCommitted: 0, windowsCommitted: 0, windowsFailed: 0, symbolsTotal: null, windowsTotal: null, journals: [], compactLock: null });
    expect(tailView(s, T0 + 61_000).workers[0]!.status).toBe('stalled');
    foldHeartbeat(s, ingest(70_000, { processed: 1000 }));
    expect(tailView(s, T0 + 500_000).workers[0]!.status).toBe('finished');
    expect(nextStallAt(s, T0 + 500_000, 60_000)).toBeUndefined();
  });

  it('a killed ingest counts what the journals committed of the manifest, as status does, not an unknown total as a full bar', () => {
    // Killed while the manifest pass was still counting: the heartbeat knows no total yet.
    const s = emptyTailState();
    foldHeartbeat(s, ingest(0, { v: 2, beat: 'tick', done: 0, total: null, itemsPerSec: null, etaSec: null, configuredRate: 5 }));
    const live = tailView(s, T0 + 1_000);
    expect(live.stages.ingest).toMatchObject({ done: 0, total: null, fromJournals: false, finished: false });
    expect(renderTail(live).join('\n')).toMatch(/^ingest \[\.{20}\] 0\/\? windows /m);
    const disk = { locks: [{ stage: 'ingest' as const, index: 0, state: 'stale' as const, pid: 100 }], symbolsCommitted: 25, windowsCommitted: 5, windowsFailed: 0, symbolsTotal: 25, windowsTotal: 517, journals: [{ stage: 'ingest' as const, index: 0, committed: 5, lines: 5 }], compactLock: null };
    withDisk(s, disk);
    const dead = tailView(s, T0 + 2_000);
    expect(dead.workers[0]!.status).toBe('stopped');
    expect(dead.stages.ingest).toMatchObject({ done: 5, total: 517, fromJournals: true, finished: false, etaSec: null });
    expect(renderTail(dead).join('\n')).toMatch(/^ingest \[\.{20}\] 5\/517 windows .*ETA - {2}stopped: committed in the journals$/m);
    expect(dead.workers[0]).toMatchObject({ done: 5, etaSec: null });
  });

  it('a killed detect counts the symbols the journals committed, not those its heartbeats saw detected', () => {
    // 3 workers each detected 4 symbols (12), but only 9 were committed (their batch lines) before the kill.
    const v2 = (ms: number, worker: number, workerDone: number) =>
      JSON.stringify({ level: 30, time: iso(ms), pid: 100, name: 'heartbeat', v: 2, stage: 'detect', beat: 'item', worker, symbol: 'S', workerDone, workerTotal: 14, workerItemsPerSec: 1, batch: 2, totalBatches: 5, done: 12, total: 40, itemsPerSec: 1, etaSec: 28 });
    const s = emptyTailState();
    for (const w of [0, 1, 2]) foldHeartbeat(s, v2(1_000 * w, w, 4));
    expect(tailView(s, T0 + 3_000).stages.detect).toMatchObject({ done: 12, total: 40, fromJournals: false });
    const stale = (index: number) => ({ stage: 'detect' as const, index, state: 'stale' as const, pid: 100 });
    withDisk(s, { locks: [stale(0), stale(1), stale(2)], symbolsCommitted: 9, windowsCommitted: 0, windowsFailed: 0, symbolsTotal: 40, windowsTotal: null, journals: [0, 1, 2].map((index) => ({ stage: 'detect' as const, index, committed: 3, lines: 1 })), compactLock: null });
    const v = tailView(s, T0 + 4_000);
    expect(v.stages.detect).toMatchObject({ done: 9, total: 40, fromJournals: true, etaSec: null });
    expect(renderTail(v).join('\n')).toMatch(/^detect \[#{5}\.{15}\] 9\/40 symbols .*stopped: committed in the journals$/m);
    // each worker's row: its journal's symbols and batches, no ETA
    expect(v.workers.map((w) => [w.name, w.done, w.batch, w.etaSec, w.status])).toEqual([0, 1, 2].map((i) => [`worker-${i}`, 3, 1, null, 'stopped']));
    expect(renderTail(v).join('\n')).toMatch(/^ {2}worker-0 3 symbols {2}batch 1\/5 .* ETA - {2}last S {2}stopped$/m);
  });

  it('a finished ingest says when the compaction after it was killed (its lock is still there) or is running', () => {
    const s = emptyTailState();
    foldHeartbeat(s, ingest(0, { v: 2, beat: 'tick', done: 10, total: 10, processed: 10, itemsPerSec: 2, etaSec: 0 }));
    const disk = (compactLock: 'live' | 'stale' | null) => ({ locks: [], symbolsCommitted: 0, windowsCommitted: 10, windowsFailed: 0, symbolsTotal: null, windowsTotal: 10, journals: [], compactLock });
    const line = (l: 'live' | 'stale' | null) => renderTail(tailView(withDisk(s, disk(l)), T0 + 1_000)).find((x) => x.startsWith('ingest'));
    expect(line(null)).toMatch(/ finished$/);
    expect(line('stale')).toMatch(/ finished; compaction incomplete \(killed, stale state\/compact\/compact\.lock\): run tickpipe compact$/);
    expect(line('live')).toMatch(/ finished; compacting$/);
  });

  it('a detect worker whose process went on to ingest is finished, not stalled', () => {
    const s = emptyTailState();
    foldHeartbeat(s, detect(0, 0, 'AAA', 1, 9));
    foldHeartbeat(s, ingest(1000, { processed: 1 }));
    expect(tailView(s, T0 + 3_600_000).workers.find((w) => w.stage === 'detect')!.status).toBe('finished');
  });

  it('LineSplitter keeps a partial line until its newline, across multi-byte characters', () => {
    const sp = new LineSplitter();
    const bytes = Buffer.from('a\nbé');
    expect(sp.push(bytes.subarray(0, 4))).toEqual(['a']); // 'b' + first byte of é
    expect(sp.push(Buffer.concat([bytes.subarray(4), Buffer.from('c\n')]))).toEqual(['béc']);
    sp.push(Buffer.from('partial'));
    sp.reset();
    expect(sp.push(Buffer.from('x\n'))).toEqual(['x']);
  });

  it('followPlan resets on truncation or inode change', () => {
    expect(followPlan({ offset: 100, ino: 5 }, { size: 150, ino: 5 })).toEqual({ from: 100, reset: false, read: true });
    expect(followPlan({ offset: 100, ino: 5 }, { size: 100, ino: 5 })).toEqual({ from: 100, reset: false, read: false });
    expect(followPlan({ offset: 100, ino: 5 }, { size: 40, ino: 5 })).toEqual({ from: 0, reset: true, read: true });
    expect(followPlan({ offset: 100, ino: 5 }, { size: 400, ino: 6 })).toEqual({ from: 0, reset: true, read: true });
    expect(followPlan({ offset: 0, ino: undefined }, { size: 0, ino: 6 })).toEqual({ from: 0, reset: false, read: false });
  });
});

describe('FileFollower', () => {
  let dir: string;
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('waits for a missing file, reads appends incrementally, restarts after truncation and rotation', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tp-follow-'));
    const p = join(dir, 'hb.ndjson');
    const f = new FileFollower(p, { chunkBytes: 7 });
    const got: string[] = [];
    let resets = 0;
    const poll = () => f.poll((l) => got.push(l), () => resets++);
    expect(await poll()).toBe(0);
    await writeFile(p, 'one\ntwo\nthr');
    await poll();
    expect(got).toEqual(['one', 'two']);
    await appendFile(p, 'ee\n');
    await poll();
    expect(got).toEqual(['one', 'two', 'three']);
    await truncate(p, 0);
    await appendFile(p, 'x\n');
    await poll();
    expect(got.at(-1)).toBe('x');
    expect(resets).toBe(1);
    await writeFile(join(dir, 'new'), 'rotated-1\nrotated-2\n');
    await rename(join(dir, 'new'), p);
    await poll();
    expect(got.slice(-2)).toEqual(['rotated-1', 'rotated-2']);
    expect(resets).toBe(2);
    expect(f.offset).toBe(20);
  });
});
