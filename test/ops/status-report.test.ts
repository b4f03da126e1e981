import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { runStatus } from '../../src/ops/status.js';
import { acquireLock } from '../../src/sinks/index.js';
import { buildRunFolder, cli, copyRun, listing, removeDir, SYMBOLS } from './damage-helpers.js';

let base: string;
const dirs: string[] = [];
beforeAll(async () => {
  base = await buildRunFolder();
  dirs.push(base);
});
afterAll(() => {
  for (const d of dirs) removeDir(d);
});

describe('status', () => {
  it('summarises a finished run (--json shape)', async () => {
    const r = await cli(['status', '--out', base, '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.stages).toEqual(['detect', 'consolidate', 'ingest']);
    expect(s.detect).toMatchObject({ symbolsDone: SYMBOLS.length, symbolsTotal: SYMBOLS.length });
    expect(s.detect.shards).toBeGreaterThan(0);
    expect(s.manifest.events).toBeGreaterThan(0);
    expect(s.ingest).toMatchObject({ windowsDone: s.manifest.events, windowsTotal: s.manifest.events, failed: 0, failuresByCode: {}, failuresByReason: [] });
    expect(s.ingest.tradeRows).toBeGreaterThan(0);
    expect(typeof s.lastActivity.journalAt).toBe('string');
    expect(s.lastActivity.agoSec).toBeGreaterThanOrEqual(0);
    expect(s.locks).toEqual([]);
    expect(s.live).toBe(false);
    const text = await cli(['status', '--out', base]);
    expect(text.stdout).toMatch(/ingest\s+\[#+\] \d+\/\d+ windows, 0 failed/);
    expect(text.stdout).toContain('running        no');
  });

  it('names a live lock holder and counts failures by code (read-only)', async () => {
    const dir = copyRun(base);
    dirs.push(dir);
    const { appendFileSync } = await import('node:fs');
    const fail = (event: string, code: string, reason: string, symbol = 'AAOI') =>
      appendFileSync(join(dir, 'state', 'ingest', 'part-0.failed.jsonl'), `${JSON.stringify({ event, symbol, status: 404, code, reason, at: '2024-01-01T00:00:00Z' })}\n`);
    fail('AAOI_flush_20240304_130000_00000001', 'E_NOT_FOUND', 'not found');
    fail('AAOI_flush_20240304_130000_00000002', 'E_NOT_FOUND', 'not found');
    fail('AAOI_flush_20240304_130000_00000003', 'E_BAD_REQUEST', 'bad');
    // reasons that name their window (its event, its symbol in the request path) group as one reason
    for (const sym of ['ABVC', 'AEHL']) fail(`${sym}_flush_20240304_130000_00000009`, 'E_PROTOCOL', `GET /v3/quotes/${sym}: HTTP 200 with status "ERROR": please retry`, sym);
    for (const n of ['4', '5', '6']) fail(`AAOI_flush_20240304_130000_0000000${n}`, 'E_HTTP', `HTTP 500 for event AAOI_flush_20240304_130000_0000000${n} after 5 attempts`);
    const lock = await acquireLock(join(dir, 'state', 'ingest', 'part-0.lock'), { command: 'tickpipe run --partition 0/1' });
    try {
      const before = listing(dir);
      const s = await runStatus(dir);
      expect(listing(dir)).toEqual(before);
      expect(s.live).toBe(true);
      expect(s.locks).toEqual([
        { stage: 'ingest', index: 0, state: 'live', pid: process.pid, host: hostname(), since: lock.info.startedAt, command: 'tickpipe run --partition 0/1' },
      ]);
      expect(s.ingest!.failed).toBe(8);
      expect(s.ingest!.failuresByCode).toEqual({ E_NOT_FOUND: 2, E_BAD_REQUEST: 1, E_HTTP: 3, E_PROTOCOL: 2 });
      expect(s.ingest!.failuresByReason).toEqual([
        { reason: 'HTTP 500 for event <event> after 5 attempts', count: 3 },
        { reason: 'GET /v3/quotes/<symbol>: HTTP 200 with status "ERROR": please retry', count: 2 },
        { reason: 'not found', count: 2 },
        { reason: 'bad', count: 1 },
      ]);
      const text = await cli(['status', '--out', dir]);
      expect(text.stdout).toContain(`part-0: live pid ${process.pid} on ${hostname()}`);
      expect(text.stdout).toContain('running        yes');
      expect(text.stdout).toMatch(/^ +3 x HTTP 500 for event <event> after 5 attempts$/m);
    } finally {
      await lock.release();
    }
    // A dead holder's lock is reported as stale, not live.
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'state', 'detect', 'worker-0.lock'), JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), startedAt: '2024-01-01T00:00:00Z', token: 'x' }));
    const s2 = await runStatus(dir, { processAlive: () => false });
    expect(s2.live).toBe(false);
    expect(s2.locks.map((l) => l.state)).toEqual(['stale']);
  });

  it('lists the compaction\'s lock: stale after a kill during compaction, live while one runs', async () => {
    const dir = copyRun(base);
    dirs.push(dir);
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(join(dir, 'state', 'compact'), { recursive: true });
    // pid above Linux's pid_max: never a running process
    writeFileSync(join(dir, 'state', 'compact', 'compact.lock'), JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), startedAt: '2024-01-01T00:00:00Z', token: 'x', command: 'tickpipe compact' }));
    const text = await cli(['status', '--out', dir]);
    expect(text.stdout).not.toMatch(/locks +none/);
    expect(text.stdout).toMatch(new RegExp(`^  locks +compact: stale pid ${2 ** 22 + 12345} on ${hostname()} since 2024-01-01T00:00:00Z \\(tickpipe compact\\)$`, 'm'));
    expect(text.stdout).toContain('running        no');
    const { rmSync } = await import('node:fs');
    rmSync(join(dir, 'state', 'compact', 'compact.lock'));
    const lock = await acquireLock(join(dir, 'state', 'compact', 'compact.lock'), { command: 'tickpipe compact' });
    try {
      const s = await runStatus(dir);
      expect(s.locks).toMatchObject([{ stage: 'compact', index: 0, state: 'live', pid: process.pid }]);
      expect(s.live).toBe(true);
    } finally {
      await lock.release();
    }
  });

  it('refuses a folder without run.json (exit 2)', async () => {
    const r = await cli(['status', '--out', join(base, 'logs')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^tickpipe status: not a tickpipe run folder \(no run.json\): .*\n$/);
  });
});
