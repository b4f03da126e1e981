/**
 * Issue 15, "nothing lost silently": the real CLI against the simulator behind a proxy that answers
 * the ways a real server sometimes does. Each case failed before its fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { simTrades, startSim } from '../../src/sim/index.js';
import type { SimServer } from '../../src/sim/server.js';
import { int64Values, loadCompletedSymbols, loadIngestState } from '../../src/sinks/index.js';
import { runCli } from '../support/cli.js';
import { startRewriteProxy } from '../support/rewrite-proxy.js';
import { losslessParse, losslessStringify } from '../../src/codec/lossless-json.js';

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
  it('ingest: status ERROR and a v3 page without results end in the failure journal, exit 1; the good event commits (and point 7: reruns exit 1 until --retry-failed)', async () => {
    let healed = false;
    const proxy = await startRewriteProxy(sim.url, (u, reply) => {
      if (healed) return reply;
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

      // Point 7: a rerun that skips the journaled failures still exits 1, and says how to retry them.
      const again = await runCli(['run', '--stage', 'ingest', '--manifest', manifest, '--out', out, ...api(proxy.url)], { timeoutMs: 120_000 });
      expect(again.code, again.stderr).toBe(1);
      expect(again.stderr).toMatch(/2 window\(s\) failed permanently in an earlier run .*--retry-failed/);
      expect(proxy.seen.get('/v3/trades/BADX')).toBe(8);
      healed = true;
      const retried = await runCli(['run', '--stage', 'ingest', '--manifest', manifest, '--out', out, '--retry-failed', ...api(proxy.url)], { timeoutMs: 120_000 });
      expect(retried.code, retried.stderr).toBe(0);
      expect((await loadIngestState(out)).completed.size).toBe(3);
      const clean = await runCli(['run', '--stage', 'ingest', '--manifest', manifest, '--out', out, ...api(proxy.url)], { timeoutMs: 120_000 });
      expect(clean.code, clean.stderr).toBe(0);
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

/** `n` distinct AAPL events on 2024-03-05/06, each written once as UTC and again as New York time. */
function repeatedManifest(n: number): { csv: string; unique: number } {
  const rows: string[] = [];
  for (let i = 0; i < n; i++) {
    const day = i % 2 === 0 ? '05' : '06';
    const hh = 14 + Math.floor(i / 2) % 5;
    const mm = String((i * 7) % 60).padStart(2, '0');
    rows.push(`AAPL,flush,2024-03-${day}T${hh}:${mm}:00Z`);
    // The same instant as New York local time with its offset (EST in early March): same event ID.
    rows.push(`AAPL,flush,2024-03-${day}T${String(hh - 5).padStart(2, '0')}:${mm}:00-05:00`);
  }
  rows.push(rows[0]!); // and one row repeated verbatim
  return { csv: `symbol,event_type,timestamp\n${rows.join('\n')}\n`, unique: new Set(rows.map((r) => r.split(',')[2])).size / 2 };
}

function journalLines(out: string): string[] {
  const d = join(out, 'state', 'ingest');
  return readdirSync(d)
    .filter((f) => /^part-\d+\.jsonl$/.test(f))
    .flatMap((f) => readFileSync(join(d, f), 'utf8').trim().split('\n'))
    .filter(Boolean)
    .map((l) => JSON.parse(l).event as string);
}

describe('point 2: repeated manifest rows are downloaded once and never crash the run', () => {
  it('default concurrency: no ENOENT abort, each event journaled once, the start line counts the repeats, verify clean', async () => {
    const out = join(dir, 'p2-dup');
    const manifest = join(dir, 'p2-events.csv');
    const { csv } = repeatedManifest(12);
    writeFileSync(manifest, csv);
    const r = await runCli(['run', '--stage', 'ingest', '--manifest', manifest, '--out', out, ...api(sim.url)], { timeoutMs: 170_000 });
    expect(r.stderr).not.toMatch(/ENOENT/);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/ingest: 12 events, .* 13 repeated event ID\(s\) dropped/);
    const ids = journalLines(out);
    expect(ids).toHaveLength(12);
    expect(new Set(ids).size).toBe(12);
    const v = await runCli(['verify', '--out', out]);
    expect(v.code, v.stdout).toBe(0);
  }, 180_000);

  it('--partition 0/2 and 1/2: an event at positions 0 and 1 is owned by one process only', async () => {
    const out = join(dir, 'p2-part');
    const manifest = join(dir, 'p2-part.csv');
    writeFileSync(manifest, 'symbol,event_type,timestamp\nAAPL,flush,2024-03-05T15:00:00Z\nAAPL,flush,2024-03-05 10:00:00-05:00\nAAPL,flush,2024-03-05T16:00:00Z\n');
    // Both halves at once, as a user runs them.
    const [r0, r1] = await Promise.all(
      ['0/2', '1/2'].map((part) => runCli(['run', '--stage', 'ingest', '--partition', part, '--manifest', manifest, '--out', out, ...api(sim.url)], { timeoutMs: 170_000 })),
    );
    expect(r0!.code, r0!.stderr).toBe(0);
    expect(r1!.code, r1!.stderr).toBe(0);
    expect(r0!.stderr).toMatch(/ingest: 2 events,/);
    expect(r1!.stderr).toMatch(/ingest: 0 events,/);
    const ids = journalLines(out);
    expect(ids.sort()).toEqual([...new Set(ids)].sort());
    expect(ids).toHaveLength(2);
    // First position wins: the event at 0 and 1 belongs to partition 0, the one at 2 too.
    expect(readFileSync(join(out, 'state', 'ingest', 'part-0.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
    const v = await runCli(['verify', '--out', out]);
    expect(v.code, v.stdout).toBe(0);
  }, 180_000);
});

describe('point 10: the key need not be on the command line', () => {
  it('--help warns about ps; --api-key-file is used (a keyed server accepts it); a missing or empty file is one line, exit 2', async () => {
    const help = await runCli(['run', '--help']);
    expect(help.stdout).toMatch(/visible\s+to every user of this machine in `ps`/);
    expect(help.stdout).toMatch(/--api-key-file FILE/);
    const keyed = await startSim({ seed: SEED, apiKey: 'file-key-123' });
    try {
      const keyFile = join(dir, 'key.txt');
      writeFileSync(keyFile, 'file-key-123\n');
      const manifest = join(dir, 'p10.csv');
      writeFileSync(manifest, 'symbol,event_type,timestamp\nAAPL,flush,2024-03-05T15:00:00Z\n');
      const out = join(dir, 'p10');
      const ok = await runCli(['run', '--stage', 'ingest', '--manifest', manifest, '--out', out, '--base-url', keyed.url, '--api-key-file', keyFile, '--no-progress']);
      expect(ok.code, ok.stderr).toBe(0);
      expect((await loadIngestState(out)).completed.size).toBe(1);
      writeFileSync(keyFile, 'wrong-key\n');
      const refused = await runCli(['run', '--stage', 'ingest', '--manifest', manifest, '--out', join(dir, 'p10b'), '--base-url', keyed.url, '--api-key-file', keyFile, '--no-progress']);
      expect(refused.code).toBe(3);
      expect(refused.stderr).not.toContain('wrong-key');
      for (const [args, re] of [
        [['--api-key-file', join(dir, 'nope.txt')], /--api-key-file: cannot read .*nope\.txt \(ENOENT\)/],
        [['--api-key-file', join(dir, 'p10.csv'), '--api-key', 'x'], /give one of them, not both/],
      ] as const) {
        const r = await runCli(['run', '--stage', 'ingest', '--manifest', manifest, '--out', join(dir, 'p10c'), '--base-url', keyed.url, ...args]);
        expect(r.code).toBe(2);
        expect(r.stderr.trim().split('\n')).toHaveLength(1);
        expect(r.stderr).toMatch(re);
      }
      writeFileSync(keyFile, '\n');
      const empty = await runCli(['run', '--stage', 'ingest', '--manifest', manifest, '--out', join(dir, 'p10c'), '--base-url', keyed.url, '--api-key-file', keyFile]);
      expect(empty.code).toBe(2);
      expect(empty.stderr).toMatch(/is empty/);
      expect(existsSync(join(dir, 'p10c'))).toBe(false);
    } finally {
      await keyed.close();
    }
  }, 120_000);
});

describe('point 4: one malformed row fails its own item, and the run goes on', () => {
  it('ingest: a sip_timestamp beyond Int64 fails that window (failure journal names symbol, event and field); a rerun does not die on it', async () => {
    const proxy = await startRewriteProxy(sim.url, (u, reply) => {
      if (u.pathname === '/v3/trades/POIS' && reply.status === 200) {
        return { ...reply, body: reply.body.replace(/"sip_timestamp":\d+/, '"sip_timestamp":99999999999999999999') };
      }
      if (u.pathname === '/v3/quotes/PQTS' && reply.status === 200) {
        return { ...reply, body: reply.body.replace(/"sip_timestamp":\d+,?/, '') };
      }
      return reply;
    });
    try {
      const out = join(dir, 'p4-ingest');
      const manifest = join(dir, 'p4-events.csv');
      writeFileSync(manifest, 'symbol,event_type,timestamp\nAAPL,flush,2024-03-05T15:00:00Z\nPOIS,flush,2024-03-05T15:00:00Z\nPQTS,flush,2024-03-05T15:00:00Z\nMSFT,flush,2024-03-05T15:00:00Z\n');
      for (let run = 0; run < 2; run++) {
        const r = await runCli(['run', '--stage', 'ingest', '--manifest', manifest, '--out', out, ...api(proxy.url), ...(run ? ['--retry-failed'] : [])], { timeoutMs: 120_000 });
        expect(r.code, r.stderr).toBe(1);
        const state = await loadIngestState(out);
        expect([...state.completed].map((id) => id.split('_')[0]).sort()).toEqual(['AAPL', 'MSFT']);
        const failed = new Map([...state.failed.entries()].map(([id, f]) => [f.symbol, { id, ...f }]));
        expect([...failed.keys()].sort()).toEqual(['POIS', 'PQTS']);
        const pois = failed.get('POIS')!;
        expect(pois.code).toBe('E_DATA');
        expect(pois.reason).toContain(pois.id);
        expect(pois.reason).toMatch(/POIS .*trades sip_timestamp: value does not fit in Int64/);
        expect(failed.get('PQTS')!.code).toBe('E_DATA');
        expect(failed.get('PQTS')!.reason).toMatch(/PQTS PQTS_flush_\S+: quotes sip_timestamp: missing at row 0/);
      }
      const v = await runCli(['verify', '--out', out]);
      expect(v.code, v.stdout).toBe(0);
    } finally {
      await proxy.close();
    }
  }, 180_000);

  it('detect: a minute bar without v fails that symbol with the field named; the others commit', async () => {
    const proxy = await startRewriteProxy(sim.url, (u, reply) => {
      if (u.pathname.startsWith('/v2/aggs/ticker/PBAR/') && reply.status === 200) return { ...reply, body: reply.body.replace(/"v":[0-9.e+]+,/, '') };
      return reply;
    });
    try {
      const out = join(dir, 'p4-detect');
      const universe = join(dir, 'p4-universe.txt');
      writeFileSync(universe, 'AAPL\nPBAR\nZZZZ\n');
      const r = await runCli(['run', '--stage', 'detect', '--universe', universe, '--from', '2024-03-04', '--to', '2024-03-05', '--out', out, '--workers', '1', ...api(proxy.url)], { timeoutMs: 120_000 });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/PBAR failed: PBAR: minute bar 0 \(t=\d+\) has v missing/);
      expect([...(await loadCompletedSymbols(out))].sort()).toEqual(['AAPL', 'ZZZZ']);
    } finally {
      await proxy.close();
    }
  }, 180_000);
});

describe('point 3: a stale or partial manifest never loses events silently', () => {
  it('consolidate refuses after one detect half; ingest refuses a manifest older than a shard; verify compares manifest and shards', async () => {
    const out = join(dir, 'p3');
    const universe = join(dir, 'p3-universe.txt');
    writeFileSync(universe, 'AAOI\nABVC\nBOXL\nCEAD\n');
    const detect = (part: string) =>
      runCli(['run', '--stage', 'detect', '--partition', part, '--workers', '2', '--universe', universe, '--from', '2024-03-04', '--to', '2024-03-08', '--out', out, ...api(sim.url)], { timeoutMs: 120_000 });
    const first = await detect('0/2');
    expect(first.code, first.stderr).toBe(0);

    const refused = await runCli(['consolidate', '--out', out]);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/detection is incomplete: 2 of 4 symbols committed.*--partial/);
    expect(existsSync(join(out, 'events', 'events.parquet'))).toBe(false);
    const partial = await runCli(['consolidate', '--out', out, '--partial']);
    expect(partial.code, partial.stderr).toBe(0);
    expect(partial.stderr).toMatch(/warning: detection is incomplete/);

    const second = await detect('1/2');
    expect(second.code, second.stderr).toBe(0);
    const stale = await runCli(['run', '--stage', 'ingest', '--partition', '0/2', '--out', out, ...api(sim.url)]);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toMatch(/events\.parquet is older than the committed shard .*worker-1.*tickpipe consolidate/);
    expect(existsSync(join(out, 'state', 'ingest'))).toBe(false);
    const v = await runCli(['verify', '--out', out, '--json']);
    expect(v.code).toBe(1);
    const problems = JSON.parse(v.stdout).problems;
    expect(Object.keys(problems)).toEqual(['manifest-stale']);
    expect(problems['manifest-stale'].examples[0]).toMatch(/of committed shards missing from events\/events\.parquet/);

    const full = await runCli(['consolidate', '--out', out]);
    expect(full.code, full.stderr).toBe(0);
    expect((await runCli(['verify', '--out', out])).code).toBe(0);
  }, 240_000);
});

describe('point 5: disk full on a log write ends the run with one clear line, never a hang', () => {
  it.skipIf(!existsSync('/dev/full'))('heartbeat.ndjson on a full device: exit 1 naming the file and ENOSPC, within the timeout', async () => {
    const out = join(dir, 'p5');
    mkdirSync(join(out, 'logs'), { recursive: true });
    symlinkSync('/dev/full', join(out, 'logs', 'heartbeat.ndjson')); // every write: ENOSPC
    const manifest = join(dir, 'p5.csv');
    writeFileSync(manifest, 'symbol,event_type,timestamp\nAAPL,flush,2024-03-05T15:00:00Z\nMSFT,flush,2024-03-05T15:00:00Z\n');
    const r = await runCli(['run', '--stage', 'ingest', '--manifest', manifest, '--out', out, ...api(sim.url)], { timeoutMs: 60_000 });
    expect(r.timedOut, r.stderr).toBe(false);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^tickpipe run: disk full writing .*logs\/heartbeat\.ndjson \(ENOSPC\)$/m);
    expect(r.stderr.match(/ENOSPC/g)).toHaveLength(1);
  }, 90_000);
});

describe('point 8: rows repeated across pages of one window are stored once', () => {
  it('a second page re-serving the last 3 rows of the first: trades equal the simulator, the log counts 3', async () => {
    let whole: any;
    const proxy = await startRewriteProxy(sim.url, (u, reply) => {
      if (u.pathname !== '/v3/trades/AAPL') return reply;
      const host = `http://${u.host}`;
      if (!u.searchParams.has('cursor')) {
        whole = losslessParse(reply.body); // exact ns: JSON.parse would round them
        const half = Math.floor(whole.results.length / 2);
        return { status: 200, body: losslessStringify({ ...whole, results: whole.results.slice(0, half), next_url: `${host}/v3/trades/AAPL?cursor=page2` }) };
      }
      const half = Math.floor(whole.results.length / 2);
      return { status: 200, body: losslessStringify({ status: 'OK', request_id: 'p2', results: whole.results.slice(half - 3) }) };
    });
    try {
      const out = join(dir, 'p8-pages');
      const manifest = join(dir, 'p8.csv');
      writeFileSync(manifest, 'symbol,event_type,timestamp\nAAPL,flush,2024-03-05T15:00:00Z\n');
      const r = await runCli(['run', '--stage', 'ingest', '--manifest', manifest, '--out', out, ...api(proxy.url)], { timeoutMs: 120_000 });
      expect(r.code, r.stderr).toBe(0);
      const t = Date.parse('2024-03-05T15:00:00Z');
      const want = simTrades(SEED, 'AAPL', BigInt(t - 600_000) * 1_000_000n, BigInt(t + 1_200_000) * 1_000_000n);
      expect(want.length).toBeGreaterThan(10);
      const [id] = [...(await loadIngestState(out)).completed];
      const df = pl.readParquet(join(out, 'windows', 'symbol=AAPL', `event=${id}`, 'trades.parquet'));
      expect(df.height).toBe(want.length);
      expect(int64Values(df, 'sip_timestamp')).toEqual(want.map((x) => x.sip_timestamp));
      const log = readFileSync(join(out, 'logs', 'tickpipe.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(log.filter((l) => l.msg === 'rows repeated across pages dropped').map((l) => l.repeatedRows)).toEqual([3]);
    } finally {
      await proxy.close();
    }
  }, 150_000);
});
