/**
 * Incremental compaction through the real CLI against the simulator on loopback: `tickpipe run`
 * compacts finished symbols while ingest goes on (a "during ingest" line, before the end-of-ingest
 * compaction), the last symbol at the end; every symbol ends in exactly one part, every window's
 * rows in the dataset exactly once, `verify` is clean, and a rerun downloads nothing (the windows
 * were removed with --remove-windows but stay "done").
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startSimProcess } from '../integration/spawn.js';

function jsonl<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

describe('run: compaction during ingest (real CLI, simulator on loopback)', () => {
  let sim: { url: string; stop(): Promise<void> };
  let dir: string;
  beforeAll(async () => {
    sim = await startSimProcess(['--seed', '5', '--rate', '400/s']);
    dir = await mkdtemp(join(tmpdir(), 'tickpipe-incr-compact-'));
  });
  afterAll(async () => {
    await sim?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('compacts finished symbols during ingest, each symbol into one part, exactly once', async () => {
    const universe = join(dir, 'u.txt');
    await writeFile(universe, 'ALFA\nBRVO\nCHRL\nDLTA\n');
    const out = join(dir, 'run');
    const base = ['--out', out, '--base-url', sim.url, '--api-key', 'test-key', '--rate', '300/s', '--no-progress'];
    const run = await runCli(['run', '--universe', universe, '--from', '2024-03-11', '--to', '2024-03-11', '--remove-windows', '--concurrency', '4', ...base]);
    expect(run.code, run.stderr).toBe(0);
    const output = run.stdout + run.stderr;
    const during = [...output.matchAll(/during ingest: compacted (\d+) windows into (\d+) part/g)].map((m) => Number(m[1]));
    const atEnd = output.indexOf('\ncompacted ');
    // At least one finished symbol was compacted while ingest went on, before the final compaction.
    expect(during.length, output).toBeGreaterThan(0);
    expect(during.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(output.indexOf('during ingest: compacted')).toBeLessThan(atEnd);

    const windows = jsonl<{ event: string; symbol: string; trades: number; quotes: number }>(join(out, 'state', 'ingest', 'part-0.jsonl'));
    const symbols = new Set(windows.map((w) => w.symbol));
    expect(symbols.size).toBeGreaterThan(2);
    const parts = jsonl<{ symbol: string; part: number; events: string[] }>(join(out, 'state', 'compact', 'compact.jsonl'));
    // One part per symbol: no symbol was compacted twice (the manifest is sorted by symbol).
    expect(parts.map((p) => p.symbol).sort()).toEqual([...symbols].sort());
    expect(parts.flatMap((p) => p.events).sort()).toEqual(windows.map((w) => w.event).sort());
    for (const s of symbols) expect(readdirSync(join(out, 'dataset', 'trades', `symbol=${s}`))).toEqual(['part-000000.parquet']);
    const trades = await pl.scanParquet(join(out, 'dataset', 'trades', '*', '*.parquet')).select(pl.len().alias('n')).collect();
    expect(Number(trades.getColumn('n').get(0))).toBe(windows.reduce((a, w) => a + w.trades, 0));
    expect(existsSync(join(out, 'windows')) ? readdirSync(join(out, 'windows')).flatMap((s) => readdirSync(join(out, 'windows', s))) : []).toEqual([]);

    const verify = await runCli(['verify', '--out', out]);
    expect(verify.code, verify.stdout).toBe(0);
    // Compacted and removed windows stay done: the rerun fetches and compacts nothing.
    const again = await runCli(['run', '--stage', 'ingest', ...base]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout + again.stderr).toMatch(/compacted 0 windows into 0 part/);
    expect(again.stdout + again.stderr).not.toMatch(/during ingest/);
    expect(jsonl(join(out, 'state', 'ingest', 'part-0.jsonl'))).toHaveLength(windows.length);
  }, 120_000);
});
