/**
 * Issue 15, "nothing lost silently": the real CLI against the simulator behind a proxy that answers
 * the ways a real server sometimes does. Each case failed before its fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSim } from '../../src/sim/index.js';
import type { SimServer } from '../../src/sim/server.js';
import { loadCompletedSymbols, loadIngestState } from '../../src/sinks/index.js';
import { runCli } from '../support/cli.js';
import { startRewriteProxy } from '../support/rewrite-proxy.js';

let dir: string;
let sim: SimServer;
const SEED = 9;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tp-lost-'));
  sim = await startSim({ seed: SEED });
});

afterAll(async () => {
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

export function failureLines(out: string): Array<Record<string, any>> {
  const d = join(out, 'state', 'ingest');
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .filter((f) => f.endsWith('.failed.jsonl'))
    .flatMap((f) => readFileSync(join(d, f), 'utf8').trim().split('\n'))
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

const api = (url: string) => ['--base-url', url, '--api-key', 'k', '--no-progress'];

describe('point 1: a 200 reply that is not data is never committed as "no data"', () => {
  it('ingest: status ERROR and a v3 page without results end in the failure journal, exit 1; the good event commits', async () => {
    const proxy = await startRewriteProxy(sim.url, (u, reply) => {
      if (u.pathname === '/v3/trades/BADX') return { status: 200, body: '{"status":"ERROR","request_id":"r1","error":"Internal error, please retry"}' };
      if (u.pathname === '/v3/quotes/NORS') return { status: 200, body: '{"status":"OK","request_id":"r2"}' };
      return reply;
    });
    try {
      const out = join(dir, 'p1-ingest');
      const manifest = join(dir, 'p1-events.csv');
      writeFileSync(manifest, 'symbol,event_type,timestamp\nAAPL,flush,2024-03-05T15:00:00Z\nBADX,flush,2024-03-05T15:00:00Z\nNORS,flush,2024-03-05T15:00:00Z\n');
      const r = await runCli(['run', '--stage', 'ingest', '--manifest', manifest, '--out', out, ...api(proxy.url)], { timeoutMs: 170_000 });
      expect(r.code, r.stderr).toBe(1);
      const state = await loadIngestState(out);
      expect([...state.completed].map((id) => id.split('_')[0])).toEqual(['AAPL']);
      const failed = failureLines(out);
      expect(failed.map((l) => l.symbol).sort()).toEqual(['BADX', 'NORS']);
      for (const l of failed) expect(l.code).toBe('E_PROTOCOL');
      expect(failed.find((l) => l.symbol === 'BADX')!.reason).toMatch(/status "ERROR".*Internal error/);
      expect(failed.find((l) => l.symbol === 'NORS')!.reason).toMatch(/no "results"/);
      expect(existsSync(join(out, 'windows', 'symbol=BADX'))).toBe(false);
      // The retries happened (8 tries), and the key never left in a reason.
      expect(proxy.seen.get('/v3/trades/BADX')).toBe(8);
      expect(JSON.stringify(failed)).not.toContain('apiKey');
    } finally {
      await proxy.close();
    }
  }, 180_000);

  it('detect: aggregates with status ERROR leave the symbol unjournaled (exit 1); resultsCount 0 without results is a real empty range', async () => {
    const proxy = await startRewriteProxy(sim.url, (u, reply) => {
      if (u.pathname.startsWith('/v2/aggs/ticker/BADX/')) return { status: 200, body: '{"status":"ERROR","request_id":"r1","error":"Unknown error"}' };
      if (u.pathname.startsWith('/v2/aggs/ticker/EMPT/')) {
        return { status: 200, body: '{"ticker":"EMPT","queryCount":0,"resultsCount":0,"adjusted":true,"status":"OK","request_id":"r3"}' };
      }
      return reply;
    });
    try {
      const out = join(dir, 'p1-detect');
      const universe = join(dir, 'p1-universe.txt');
      writeFileSync(universe, 'AAPL\nBADX\nEMPT\n');
      const r = await runCli(['run', '--stage', 'detect', '--universe', universe, '--from', '2024-03-04', '--to', '2024-03-05', '--out', out, '--workers', '1', ...api(proxy.url)], { timeoutMs: 170_000 });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/BADX failed: .*status "ERROR"/);
      const done = await loadCompletedSymbols(out);
      expect([...done].sort()).toEqual(['AAPL', 'EMPT']);
    } finally {
      await proxy.close();
    }
  }, 180_000);
});
