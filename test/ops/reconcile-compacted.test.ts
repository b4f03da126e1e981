/**
 * README's repair recipe (clean, reconcile, clean, resume, verify) on a run whose windows were
 * compacted into dataset/ with their folders kept (the default): a damaged folder of a compacted
 * window is a broken copy of rows its part holds. reconcile removes it (one line per window, naming
 * the part), keeps the window done, and verify passes without a resume. A damaged window not yet
 * compacted keeps its behaviour: journal line dropped, downloaded again by the resume.
 */
import { existsSync, statSync, truncateSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compact } from '../../src/dataset/compact.js';
import { datasetPaths } from '../../src/dataset/layout.js';
import { acquireLock } from '../../src/run-folder/lock-file.js';
import { TokenBucket } from '../../src/operators/token-bucket.js';
import { ingestStage } from '../../src/pipeline/ingest-stage.js';
import { loadIngestState } from '../../src/sinks/index.js';
import { startSim } from '../../src/sim/index.js';
import { PolygonClient } from '../../src/streams/polygon-client.js';
import { buildRunFolder, cli, copyRun, listing, readLines, removeDir, type WindowLine } from './damage-helpers.js';

let base: string;
const dirs: string[] = [];

beforeAll(async () => {
  base = await buildRunFolder();
  dirs.push(base);
}, 120_000);
afterAll(() => {
  for (const d of dirs) removeDir(d);
});

const winDir = (dir: string, w: WindowLine): string => join(dir, 'windows', `symbol=${w.symbol}`, `event=${w.event}`);
const part = (kind: string, symbol: string): string => join('dataset', kind, `symbol=${symbol}`, 'part-000000.parquet');

describe('reconcile on compacted windows', () => {
  it('removes the damaged folders of compacted windows (still done), drops the damaged window not compacted; verify passes after the resume', async () => {
    const dir = copyRun(base);
    dirs.push(dir);
    const lines = readLines<WindowLine>(join(dir, 'state', 'ingest', 'part-0.jsonl'));
    const symbols = [...new Set(lines.map((l) => l.symbol))].sort();
    expect(symbols.length).toBeGreaterThanOrEqual(2);
    // Every symbol but the last compacted, folders kept (what `run` does, minus one symbol still pending).
    const notCompacted = symbols.at(-1)!;
    await compact(dir, { symbols: new Set(symbols.slice(0, -1)) });
    const compacted = lines.filter((l) => l.symbol !== notCompacted);
    expect(compacted.length).toBeGreaterThanOrEqual(2);
    const [missingQuotes, truncated] = compacted as [WindowLine, WindowLine];
    const pending = lines.find((l) => l.symbol === notCompacted)!;
    unlinkSync(join(winDir(dir, missingQuotes), 'quotes.parquet'));
    truncateSync(join(winDir(dir, truncated), 'trades.parquet'), 100);
    unlinkSync(join(winDir(dir, pending), 'quotes.parquet'));

    const before = await cli(['verify', '--out', dir]);
    expect(before.code).toBe(1);

    expect((await cli(['clean', '--out', dir])).code).toBe(0);
    const rec = await cli(['reconcile', '--out', dir]);
    console.log(`--- reconcile ---\n${rec.stdout}`);
    expect(rec.code).toBe(0);
    const out = rec.stdout.split('\n');
    expect(out).toContain('  removed damaged folders of compacted windows (still done): 2');
    const lineOf = (w: WindowLine): string[] => out.filter((l) => l.includes(join('windows', `symbol=${w.symbol}`, `event=${w.event}`)));
    expect(lineOf(missingQuotes)).toEqual([
      `    ${join('windows', `symbol=${missingQuotes.symbol}`, `event=${missingQuotes.event}`)}: quotes.parquet is missing; its rows are in ${part('trades', missingQuotes.symbol)} and ${part('quotes', missingQuotes.symbol)}`,
    ]);
    expect(lineOf(truncated)).toHaveLength(1);
    expect(lineOf(truncated)[0]).toContain(`event=${truncated.event}: trades.parquet does not open:`);
    expect(lineOf(truncated)[0]).toContain(`its rows are in ${part('trades', truncated.symbol)} and ${part('quotes', truncated.symbol)}`);
    // The window not compacted: dropped as before, its folder left alone.
    expect(out.filter((l) => l.includes(pending.event))).toEqual([`    ${join('state', 'ingest', 'part-0.jsonl')}:${lines.indexOf(pending) + 1} ${pending.event}: quotes.parquet is missing`]);
    expect(rec.stdout).toContain('  dropped: 1');

    expect(existsSync(winDir(dir, missingQuotes))).toBe(false);
    expect(existsSync(winDir(dir, truncated))).toBe(false);
    expect(existsSync(join(winDir(dir, pending), 'trades.parquet'))).toBe(true);
    const state = await loadIngestState(dir);
    expect(state.completed.has(missingQuotes.event)).toBe(true);
    expect(state.completed.has(truncated.event)).toBe(true);
    expect(state.completed.has(pending.event)).toBe(false);
    expect((await cli(['clean', '--out', dir])).code).toBe(0);

    // What is left for verify is only the window not compacted.
    const mid = JSON.parse((await cli(['verify', '--out', dir, '--json'])).stdout);
    expect(Object.keys(mid.problems)).toEqual(['window-missing-file']);
    expect(mid.problems['window-missing-file'].examples[0]).toContain(pending.event);

    // A second reconcile finds nothing more to do.
    const snapshot = listing(dir);
    const again = await cli(['reconcile', '--out', dir]);
    expect(again.stdout).not.toContain('removed damaged folders');
    expect(again.stdout).toContain('journals already agree with the disk: nothing rewritten');
    expect(listing(dir)).toEqual(snapshot);

    // The resume downloads exactly the window reconcile dropped; verify then exits 0.
    const sim = await startSim({ seed: 7, port: 0, rate: 1000, latency: { minMs: 0, maxMs: 2 } });
    const client = new PolygonClient({ apiKey: 'test-key', baseUrl: sim.url, bucket: new TokenBucket({ rate: 1000 }) });
    try {
      await lastValueFrom(
        ingestStage({ outDir: dir, manifestPath: join(dir, 'events', 'events.parquet'), client, window: { beforeMs: 60_000, afterMs: 120_000 }, groupCommitMs: 0 }),
        { defaultValue: undefined },
      );
    } finally {
      await client.close();
      await sim.close();
    }
    expect((await loadIngestState(dir)).completed.size - state.completed.size).toBe(1);
    expect(statSync(join(winDir(dir, pending), 'quotes.parquet')).isFile()).toBe(true);
    expect(existsSync(winDir(dir, missingQuotes))).toBe(false);
    const final = await cli(['verify', '--out', dir]);
    expect(final.stdout).toContain('OK');
    expect(final.code).toBe(0);
  }, 120_000);

  it('a damaged folder of a compacted window: clean, reconcile, clean, verify exits 0 with no resume', async () => {
    const dir = copyRun(base);
    dirs.push(dir);
    await compact(dir);
    const lines = readLines<WindowLine>(join(dir, 'state', 'ingest', 'part-0.jsonl'));
    const [a, b] = lines as [WindowLine, WindowLine];
    unlinkSync(join(winDir(dir, a), 'quotes.parquet'));
    truncateSync(join(winDir(dir, b), 'trades.parquet'), 100);
    for (const args of [['clean'], ['reconcile'], ['clean']]) expect((await cli([...args, '--out', dir])).code).toBe(0);
    const v = await cli(['verify', '--out', dir]);
    expect(v.stdout).toContain('OK');
    expect(v.code).toBe(0);
    expect((await loadIngestState(dir)).completed.size).toBe(lines.length);
  }, 120_000);

  it('keeps the folder when it may be the only copy: its part does not open', async () => {
    const dir = copyRun(base);
    dirs.push(dir);
    await compact(dir);
    const [a] = readLines<WindowLine>(join(dir, 'state', 'ingest', 'part-0.jsonl')) as [WindowLine];
    unlinkSync(join(winDir(dir, a), 'quotes.parquet'));
    truncateSync(join(dir, part('quotes', a.symbol)), 100);
    const rec = await cli(['reconcile', '--out', dir]);
    expect(rec.code).toBe(0);
    expect(rec.stdout).not.toContain('removed damaged folders');
    expect(statSync(join(winDir(dir, a), 'trades.parquet')).isFile()).toBe(true);
  }, 120_000);

  it('refuses to remove a folder while a compaction may be active (exit 2, nothing changed)', async () => {
    const dir = copyRun(base);
    dirs.push(dir);
    await compact(dir);
    const [a] = readLines<WindowLine>(join(dir, 'state', 'ingest', 'part-0.jsonl')) as [WindowLine];
    unlinkSync(join(winDir(dir, a), 'quotes.parquet'));
    const lock = await acquireLock(datasetPaths(dir).lock, { command: 'test compaction' });
    try {
      const snapshot = listing(dir);
      const rec = await cli(['reconcile', '--out', dir]);
      expect(rec.code).toBe(2);
      expect(rec.stderr).toContain(`refusing to remove the damaged folder ${join('windows', `symbol=${a.symbol}`, `event=${a.event}`)} of a compacted window while a compaction may be active`);
      expect(listing(dir)).toEqual(snapshot);
    } finally {
      await lock.release();
    }
    expect((await cli(['reconcile', '--out', dir])).stdout).toContain('removed damaged folders of compacted windows (still done): 1');
    expect(existsSync(winDir(dir, a))).toBe(false);
  }, 120_000);
});
