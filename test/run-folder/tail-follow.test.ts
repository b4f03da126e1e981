/**
 * `tail` follows growing journals incrementally but counts like the run-folder model: a repeated
 * item once, a torn line never, and a journal that is truncated or replaced (reconcile, a cut torn
 * tail) is counted again from its start.
 */
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { StateReader } from '../../src/ops/tail.js';
import { ingestPaths } from '../../src/run-folder/index.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tickpipe-tail-follow-'));
  mkdirSync(join(ingestPaths(dir, 0).journal, '..'), { recursive: true });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const line = (event: string): string => `${JSON.stringify({ event, symbol: 'S', trades: 1, quotes: 1 })}\n`;

it('counts distinct windows across journals, and starts over when a journal is replaced', async () => {
  const p0 = ingestPaths(dir, 0).journal;
  const p2 = ingestPaths(dir, 2).journal;
  writeFileSync(p0, line('A') + line('B') + '{"event":"C","sy'); // C is torn: not committed
  const r = new StateReader(dir);
  expect((await r.refresh()).windowsCommitted).toBe(2);
  writeFileSync(p2, line('A')); // a repeat in another partition
  appendFileSync(p0, '\n' + line('C')); // the torn line becomes a corrupt one, then C commits
  const both = await r.refresh();
  expect(both.windowsCommitted).toBe(3);
  // per journal, what it committed first (the repeat in part-2 is not its window) and its commit lines
  expect(both.journals).toEqual([
    { stage: 'ingest', index: 0, committed: 3, lines: 3 },
    { stage: 'ingest', index: 2, committed: 0, lines: 1 },
  ]);
  // reconcile-like: the journal is replaced by one without B
  writeFileSync(`${p0}.new`, line('A') + line('C'));
  renameSync(`${p0}.new`, p0);
  expect((await r.refresh()).windowsCommitted).toBe(2);
  writeFileSync(ingestPaths(dir, 0).failed, JSON.stringify({ event: 'B', symbol: 'S', status: 404, code: 'E_NOT_FOUND', reason: 'x', at: '' }) + '\n' + JSON.stringify({ event: 'A', symbol: 'S', status: 404, code: 'E_NOT_FOUND', reason: 'x', at: '' }) + '\n');
  const s = await r.refresh();
  expect({ windows: s.windowsCommitted, failed: s.windowsFailed }).toEqual({ windows: 2, failed: 1 }); // A is committed: its failure is void
  expect(s.compactLock).toBeNull();
  // a compaction killed midway leaves its lock (pid above Linux's pid_max: dead)
  mkdirSync(join(dir, 'state', 'compact'), { recursive: true });
  writeFileSync(join(dir, 'state', 'compact', 'compact.lock'), JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), startedAt: '2024-01-01T00:00:00Z', token: 'x' }));
  expect((await r.refresh()).compactLock).toBe('stale');
});
