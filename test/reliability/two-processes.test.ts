/**
 * Two processes sharing one run folder, each owning half of it (`--partition 0/2` and `1/2`):
 * detect halves concurrently, one consolidate after both, ingest halves concurrently. No lock
 * fight, no duplicate, every event complete and equal to the simulator's data, and the default
 * rate divided by the partition count.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simQuotes, simTrades, startSim } from '../../src/sim/index.js';
import type { SimServer } from '../../src/sim/server.js';
import { verifyRunFolder } from '../../bench/soak-verify.js';
import { runCli } from '../support/cli.js';

const SEED = 13;
const SYMBOLS = ['AAPL', 'AMD', 'MSFT', 'NVDA'];
let dir: string;
let sim: SimServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tp-two-'));
  sim = await startSim({ seed: SEED });
  writeFileSync(join(dir, 'u.txt'), `${SYMBOLS.join('\n')}\n`);
});

afterAll(async () => {
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('two processes, two partitions, one folder', () => {
  it('detect 0/2 + 1/2, consolidate, ingest 0/2 + 1/2: exactly once, no lock fight, rate divided by 2', async () => {
    const out = join(dir, 'run');
    const common = ['--universe', join(dir, 'u.txt'), '--from', '2024-03-04', '--to', '2024-03-06', '--out', out, '--no-progress', '--base-url', sim.url, '--api-key', 'k'];
    const both = (stage: string) =>
      Promise.all([0, 1].map((i) => runCli(['run', ...common, '--stage', stage, '--workers', '4', '--partition', `${i}/2`], { timeoutMs: 150_000 })));

    const detect = await both('detect');
    for (const r of detect) expect(r.code, r.stderr).toBe(0);
    // Each process ran its own workers: 0 and 2 for 0/2, 1 and 3 for 1/2.
    expect(detect[0]!.stderr).toMatch(/for workers 0,2 of this process\b/);
    expect(detect[1]!.stderr).toMatch(/for workers 1,3 of this process\b/);
    // Before consolidate there is no manifest: the summary says so rather than "events 0".
    for (const r of detect) expect(r.stdout).toMatch(/events\s+- \(not consolidated yet: tickpipe consolidate\)/);
    expect(readdirSync(join(out, 'state', 'detect')).filter((f) => f.endsWith('.jsonl')).sort()).toEqual(['worker-0.jsonl', 'worker-1.jsonl', 'worker-2.jsonl', 'worker-3.jsonl']);

    const cons = await runCli(['consolidate', '--out', out]);
    expect(cons.code, cons.stderr).toBe(0);
    expect(cons.stdout).toMatch(/\(0 duplicates removed\)/);

    const ingest = await both('ingest');
    for (const r of ingest) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/locked by/);
    }
    expect(readdirSync(join(out, 'state', 'ingest')).filter((f) => /^part-\d\.jsonl$/.test(f)).sort()).toEqual(['part-0.jsonl', 'part-1.jsonl']);
    // No lock left behind by either process.
    for (const d of ['detect', 'ingest']) expect(readdirSync(join(out, 'state', d)).filter((f) => f.endsWith('.lock'))).toEqual([]);

    const report = await verifyRunFolder({ out, seed: SEED, symbols: SYMBOLS, truth: { simTrades, simQuotes } });
    expect(report.problems).toEqual([]);
    expect(report.ingest.journaled).toBe(report.detect.manifestEvents);
    expect(report.ingest.journaled).toBeGreaterThan(0);

    // The default 100/s is split between the two processes: each logged rate 50.
    const started = readFileSync(join(out, 'logs', 'tickpipe.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === 'run started');
    expect(started).toHaveLength(4);
    for (const l of started) expect(l.rate).toBe(50);
  }, 300_000);
});
