import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { lastValueFrom } from 'rxjs';
import { TokenBucket } from '../../src/operators/token-bucket.js';
import { ingestStage } from '../../src/pipeline/ingest-stage.js';
import { loadIngestState } from '../../src/sinks/index.js';
import { startSim } from '../../src/sim/index.js';
import { PolygonClient } from '../../src/streams/polygon-client.js';
import { verifyRun } from '../../src/ops/verify.js';
import { buildRunFolder, cli, copyRun, damage, readLines, removeDir, type WindowLine } from './damage-helpers.js';

let base: string;
const dirs: string[] = [];

beforeAll(async () => {
  base = await buildRunFolder();
  dirs.push(base);
});
afterAll(() => {
  for (const d of dirs) removeDir(d);
});

describe('verify', () => {
  it('passes a clean run folder (exit 0)', async () => {
    const r = await cli(['verify', '--out', base, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.ok).toBe(true);
    expect(j.problems).toEqual({});
    expect(j.checked.windows).toBeGreaterThanOrEqual(8);
    const text = await cli(['verify', '--out', base]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('OK: no problems found');
  });

  it('refuses a folder that is not a run folder (exit 2, one line)', async () => {
    const r = await cli(['verify', '--out', join(base, 'state')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('not a tickpipe run folder (no run.json)');
  });

  it('names every kind of damage with its count; clean + reconcile + clean repair what they can; a resumed ingest repairs the rest', async () => {
    const dir = copyRun(base);
    dirs.push(dir);
    const d = damage(dir);
    const r = await cli(['verify', '--out', dir]);
    console.log(`--- verify on the damaged folder (exit ${r.code}) ---\n${r.stdout}`);
    expect(r.code).toBe(1);
    const j = JSON.parse((await cli(['verify', '--out', dir, '--json'])).stdout);
    const counts = Object.fromEntries(Object.entries(j.problems as Record<string, { count: number }>).map(([k, v]) => [k, v.count]));
    expect(counts).toEqual({
      'duplicate-event-rows': d.duplicatedRows,
      'symbol-journaled-twice': 1,
      'window-journaled-twice': 1,
      'window-missing-file': 2, // quotes deleted; quotes replaced by its tmp
      'unreadable-parquet': 1,
      'row-count-mismatch': 1,
      'journal-line-without-files': 1,
      'unjournaled-window': 1,
      'uncommitted-shard': 1,
      'orphan-tmp': 2,
      'torn-journal-tail': 1,
      'corrupt-journal-line': 1,
    });
    expect(j.ok).toBe(false);
    expect(j.problems['journal-line-without-files'].examples[0]).toContain(d.gone.event);
    expect(j.problems['unjournaled-window'].examples[0]).toContain(d.unjournaled.event);
    expect(j.problems['row-count-mismatch'].examples[0]).toContain(d.mismatched.event);

    const c1 = await cli(['clean', '--out', dir]);
    console.log(`--- clean ---\n${c1.stdout}`);
    expect(c1.code).toBe(0);
    const rec = await cli(['reconcile', '--out', dir]);
    console.log(`--- reconcile ---\n${rec.stdout}`);
    expect(rec.code).toBe(0);
    const c2 = await cli(['clean', '--out', dir]);
    console.log(`--- clean again ---\n${c2.stdout}`);
    const after = await verifyRun(dir);
    console.log(`--- verify after clean + reconcile + clean ---\n${(await cli(['verify', '--out', dir])).stdout}`);
    // What only a new download can fix: the truncated file and the window missing quotes.
    expect(Object.fromEntries(Object.entries(after.problems).map(([k, v]) => [k, v!.count]))).toEqual({
      'window-missing-file': 1,
      'unreadable-parquet': 1,
    });
    // The reconciled journals are what the pipeline reads back.
    const state = await loadIngestState(dir);
    expect(state.completed.has(d.unjournaled.event)).toBe(true);
    expect(state.completed.has(d.tmpWindow.event)).toBe(true);
    for (const w of [d.missingQuotes, d.truncated, d.gone]) expect(state.completed.has(w.event)).toBe(false);
    const m = readLines<WindowLine>(join(dir, 'state', 'ingest', 'part-0.jsonl')).find((l) => l.event === d.mismatched.event)!;
    expect(m.trades).toBe(d.mismatched.trades);

    // Resuming the run downloads exactly the three windows reconcile dropped.
    const sim = await startSim({ seed: 7, port: 0, rate: 1000, latency: { minMs: 0, maxMs: 2 } });
    const client = new PolygonClient({ apiKey: 'test-key', baseUrl: sim.url, bucket: new TokenBucket({ rate: 1000 }) });
    let downloaded = 0;
    try {
      await lastValueFrom(
        ingestStage({ outDir: dir, manifestPath: join(dir, 'events', 'events.parquet'), client, window: { beforeMs: 60_000, afterMs: 120_000 }, groupCommitMs: 0 }),
        { defaultValue: undefined },
      ).then(() => undefined);
      downloaded = (await loadIngestState(dir)).completed.size - state.completed.size;
    } finally {
      await client.close();
      await sim.close();
    }
    expect(downloaded).toBe(3);
    const final = await cli(['verify', '--out', dir]);
    expect(final.stdout).toContain('OK');
    expect(final.code).toBe(0);
  });
});
