import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinDetectors, detectEvents, tradingDays } from '../../src/detect/index.js';
import { simMinuteBars } from '../../src/sim/index.js';
import { runCli, startCli, startSimProcess, waitFor } from './spawn.js';

const SEED = 11;
const FROM = '2024-03-04';
const TO = '2024-03-15';

function journalLines(out: string): Array<{ shard: string | null; symbols: string[]; rows: number; file: string }> {
  const dir = join(out, 'state', 'detect');
  if (!existsSync(dir)) return [];
  const lines = [];
  for (const f of readdirSync(dir).filter((n) => /^worker-\d+\.jsonl$/.test(n))) {
    for (const l of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!l.trim()) continue;
      try {
        lines.push({ ...JSON.parse(l), file: f });
      } catch {
        // a torn tail left by SIGKILL is not a commit
      }
    }
  }
  return lines;
}

describe('stage 1 through the real CLI: SIGKILL mid-run, resume with another --workers', () => {
  let sim: { url: string; stop(): Promise<void> };
  let dir: string;
  beforeAll(async () => {
    sim = await startSimProcess(['--seed', String(SEED)]);
    dir = await mkdtemp(join(tmpdir(), 'tickpipe-detect-kill-'));
  });
  afterAll(async () => {
    await sim?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('journals every symbol exactly once, writes no duplicate event and finds exactly the events of an uninterrupted detection', async () => {
    const symbols = Array.from({ length: 48 }, (_, i) => `K${String.fromCharCode(65 + (i % 26))}${String.fromCharCode(65 + Math.floor(i / 26))}X`);
    const universe = join(dir, 'universe.txt');
    await writeFile(universe, '# kill test\n' + symbols.join('\n') + '\n');
    const out = join(dir, 'run');
    const common = ['run', '--stage', 'detect', '--universe', universe, '--from', FROM, '--to', TO, '--out', out, '--base-url', sim.url, '--api-key', 'test-key', '--batch-size', '4', '--no-progress'];

    const first = startCli([...common, '--workers', '3', '--rate', '12/s']);
    await waitFor(() => journalLines(out).length >= 2, 60_000, 'two committed shards');
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    const before = new Set(journalLines(out).flatMap((l) => l.symbols));
    expect(before.size).toBeGreaterThan(0);
    expect(before.size).toBeLessThan(symbols.length);

    const second = await runCli([...common, '--workers', '5', '--rate', '200/s']);
    expect(second.stderr).not.toMatch(/error/i);
    expect(second.code).toBe(0);

    // Independent read of what is on disk: journals and Parquet shards.
    const lines = journalLines(out);
    const journaled = lines.flatMap((l) => l.symbols);
    expect(journaled.length).toBe(symbols.length);
    expect(new Set(journaled)).toEqual(new Set(symbols));

    const keys: string[] = [];
    for (const l of lines) {
      if (l.shard === null) {
        expect(l.rows).toBe(0);
        continue;
      }
      const worker = l.file.replace('.jsonl', '');
      const df = pl.readParquet(join(out, 'events', 'shards', worker, l.shard));
      expect(df.height).toBe(l.rows);
      const ts = (df.getColumn('timestamp').cast(pl.Int64).toArray() as unknown[]).map(Number);
      const sym = df.getColumn('symbol').toArray() as string[];
      const typ = df.getColumn('event_type').toArray() as string[];
      for (let i = 0; i < df.height; i++) keys.push(`${sym[i]}|${typ[i]}|${ts[i]}`);
    }
    expect(new Set(keys).size).toBe(keys.length);

    // The same events as detecting each symbol once, straight from the simulator's own bars.
    const expected: string[] = [];
    const days = tradingDays(FROM, TO);
    for (const s of symbols) {
      const bars = days.flatMap((d) => simMinuteBars(SEED, s, d));
      for (const e of await detectEvents(bars, s, builtinDetectors())) expected.push(`${e.symbol}|${e.event_type}|${e.timestamp}`);
    }
    expect(keys.sort()).toEqual(expected.sort());
    expect(second.stdout).toMatch(/duplicates found\s+0/);
    // Nothing left behind: no uncommitted shard or tmp file in any worker folder.
    const verify = await runCli(['verify', '--out', out]);
    expect(verify.code, verify.stdout).toBe(0);
  }, 180_000);
});
