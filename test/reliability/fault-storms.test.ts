/**
 * Fault storms. The real CLI runs through a storm proxy in front of the simulator (429 bursts
 * with and without Retry-After, runs of 5xx, resets, truncated and malformed JSON, and a symbol
 * whose trades `next_url` repeats its cursor); the client's stall timeout and the sinks' disk
 * faults are driven in-process (the CLI exposes neither a body timeout nor an fs layer). Every
 * case ends recovered or with a clear error, and never with a file a verify would flag.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { request } from 'undici';
import pl from 'nodejs-polars';
import { startSim, simQuotes, simTrades } from '../../src/sim/index.js';
import type { SimServer } from '../../src/sim/server.js';
import { DiskError } from '../../src/errors.js';
import { PolygonClient } from '../../src/streams/polygon-client.js';
import { readManifest } from '../../src/streams/manifest.js';
import { ingestStage } from '../../src/pipeline/ingest-stage.js';
import { instrumentFs, loadIngestState, nodeFs, tradesFrame, quotesFrame, WindowWriter, ShardWriter, committedShards, loadJournal, type FsCall } from '../../src/sinks/index.js';
import { verifyRunFolder } from '../../bench/soak-verify.js';
import { runCli } from '../support/cli.js';

let dir: string;
let sim: SimServer;
const SEED = 9;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tp-storm-'));
  sim = await startSim({ seed: SEED });
});

afterAll(async () => {
  await sim?.close();
  rmSync(dir, { recursive: true, force: true });
});

type Fault = 'pass' | '429' | '429-retry-after' | '5xx' | 'reset' | 'truncate' | 'malformed';

/** Below the client's 8 tries per request (see stormProxy). */
const MAX_FAULTS_PER_URL = 5;

/** A proxy in front of the simulator that injects `plan(n)` into request n (0-based). */
async function stormProxy(
  target: string,
  plan: (n: number) => Fault,
  loopSymbol: string,
  loopOnceSymbol = '',
): Promise<{ url: string; counts: Record<string, number>; firstPages: Map<string, number>; close(): Promise<void> }> {
  let n = 0;
  const counts: Record<string, number> = {};
  /** Requests of each loop symbol's first trades page (path and query), by URL. */
  const firstPages = new Map<string, number>();
  /**
   * Faults injected per URL. A request gets 8 tries; the plan's bursts are shorter, but when other
   * requests take the passing slots between two bursts one request could still meet 8 faults in a
   * row and fail for good (seen once in a full CI run). The storm tests that every fault is survived,
   * so no URL gets more than MAX_FAULTS_PER_URL of them.
   */
  const faultsByUrl = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const planned = plan(n++);
    const urlKey = (req.url ?? '').replace(/([?&])apiKey=[^&]*/, '$1');
    const fault = planned !== 'pass' && (faultsByUrl.get(urlKey) ?? 0) >= MAX_FAULTS_PER_URL ? 'pass' : planned;
    if (fault !== 'pass') faultsByUrl.set(urlKey, (faultsByUrl.get(urlKey) ?? 0) + 1);
    counts[fault] = (counts[fault] ?? 0) + 1;
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
      res.end(body);
    };
    switch (fault) {
      case '429':
        return send(429, '{"status":"ERROR","error":"You\'ve exceeded the maximum requests per minute"}');
      case '429-retry-after':
        return send(429, '{"status":"ERROR","error":"slow down"}', { 'retry-after': '1' });
      case '5xx':
        return send([500, 502, 503][n % 3]!, '{"status":"ERROR","error":"upstream"}');
      case 'reset':
        return req.socket.destroy();
      case 'malformed':
        return send(200, '{"results":[{"sip_timestamp":17,"price":');
      default:
        break;
    }
    request(target + req.url!)
      .then(async (r) => {
        let body = await r.body.text();
        const u = new URL(req.url!, 'http://x');
        const firstPage = !u.searchParams.has('cursor') && (u.pathname === `/v3/trades/${loopSymbol}` || u.pathname === `/v3/trades/${loopOnceSymbol}`);
        const key = `${u.pathname}?${[...u.searchParams].filter(([k]) => k !== 'apiKey').map(([k, v]) => `${k}=${v}`).join('&')}`;
        // Counted when the page reaches the client whole (a truncated one is retried as the same request).
        if (firstPage && fault !== 'truncate') firstPages.set(key, (firstPages.get(key) ?? 0) + 1);
        // loopOnceSymbol: only the first time a listing is started (a passing fault of the server).
        const loops = u.pathname === `/v3/trades/${loopSymbol}` || (firstPage && u.pathname === `/v3/trades/${loopOnceSymbol}` && firstPages.get(key) === 1);
        if (loops && r.statusCode === 200) {
          // next_url back to the very page just served: a client without cursor tracking loops forever.
          u.searchParams.delete('apiKey');
          const j = JSON.parse(body);
          j.next_url = `http://${req.headers.host}${u.pathname}${u.search}`;
          body = JSON.stringify(j);
        }
        if (fault === 'truncate') {
          res.writeHead(r.statusCode, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
          res.write(body.slice(0, Math.floor(body.length / 2)));
          setTimeout(() => req.socket.destroy(), 5);
          return;
        }
        send(r.statusCode, body);
      })
      .catch(() => req.socket.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts,
    firstPages,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Bursts of 6 (below the 8 tries a request gets), runs of 5xx, scattered resets/truncations/bad JSON. */
function stormPlan(n: number): Fault {
  if (n < 2) return 'pass'; // the preflight
  const k = n % 60;
  if (k >= 5 && k < 11) return '429';
  if (k >= 20 && k < 23) return '429-retry-after';
  if (k >= 30 && k < 34) return '5xx';
  if (k === 40 || k === 47) return 'reset';
  if (k === 43 || k === 52) return 'truncate';
  if (k === 45 || k === 57) return 'malformed';
  return 'pass';
}

describe('fault storms', () => {
  it('real CLI through 429 bursts, 5xx runs, resets, truncated/malformed JSON and a pagination loop', async () => {
    const proxy = await stormProxy(sim.url, stormPlan, 'LOOP', 'ONCE');
    try {
      writeFileSync(join(dir, 'storm.txt'), 'AAPL\nLOOP\nONCE\n');
      const out = join(dir, 'storm');
      const r = await runCli(
        ['run', '--universe', join(dir, 'storm.txt'), '--from', '2024-03-04', '--to', '2024-03-08', '--out', out, '--no-progress', '--base-url', proxy.url, '--api-key', 'k', '--workers', '2', '--concurrency', '4', '--rate', '400/s'],
        { timeoutMs: 180_000 },
      );
      for (const f of ['429', '429-retry-after', '5xx', 'reset', 'truncate', 'malformed'] as const) expect(proxy.counts[f], f).toBeGreaterThan(0);
      // LOOP's windows failed for good (exit 1), each after one redo from its first page; ONCE's
      // listings looped only the first time, and the redo completed them; the run finished AAPL's.
      const firsts = [...proxy.firstPages];
      expect(firsts.filter(([k]) => k.startsWith('/v3/trades/LOOP?')).length, 'LOOP had windows').toBeGreaterThan(0);
      expect(firsts.filter(([k]) => k.startsWith('/v3/trades/ONCE?')).length, 'ONCE had windows').toBeGreaterThan(0);
      // Two tries per LOOP window (events at the same minute share a listing URL: 2 per event).
      for (const [k, times] of firsts) {
        if (k.startsWith('/v3/trades/LOOP?')) expect(times % 2, `${k}: ${times} requests`).toBe(0);
        else expect(times, `${k}: looped once, then redone`).toBeGreaterThanOrEqual(2);
      }
      expect(r.code, r.stderr).toBe(1);
      const failedLines = readdirSync(join(out, 'state', 'ingest'))
        .filter((f) => f.endsWith('.failed.jsonl'))
        .flatMap((f) => readFileSync(join(out, 'state', 'ingest', f), 'utf8').trim().split('\n'))
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      expect(failedLines.length).toBeGreaterThan(0);
      for (const l of failedLines) {
        expect(l.symbol, JSON.stringify(l)).toBe('LOOP');
        expect(l.code, JSON.stringify(l)).toBe('E_PAGINATION_LOOP');
        expect(l.reason).toMatch(/repeats a cursor/);
      }
      const report = await verifyRunFolder({ out, seed: SEED, symbols: ['AAPL', 'LOOP', 'ONCE'], truth: { simTrades, simQuotes } });
      expect(report.problems).toEqual([]);
      expect(report.ingest.failed).toBe(failedLines.length);
      expect(report.ingest.journaled).toBeGreaterThan(0);
      expect(report.ingest.lost).toBe(0);
    } finally {
      await proxy.close();
    }
  }, 200_000);

  it('bodies that stall mid-stream time out and are retried; every window completes exactly', async () => {
    const stall = await startSim({ seed: SEED, stallRate: 0.15 });
    const client = new PolygonClient({ apiKey: 'k', baseUrl: stall.url, bodyTimeoutMs: 300, headersTimeoutMs: 5_000, retry: { baseMs: 20, maxAttempts: 10 } });
    try {
      const out = join(dir, 'stall');
      const manifest = join(dir, 'stall-events.csv');
      const times = ['2024-03-04T15:00:00Z', '2024-03-04T16:30:00Z', '2024-03-05T14:45:00Z', '2024-03-05T18:10:00Z', '2024-03-06T15:31:00Z', '2024-03-06T19:00:00Z'];
      writeFileSync(manifest, `symbol,event_type,timestamp\n${times.map((t) => `AAPL,flush,${t}`).join('\n')}\n`);
      const progress = await lastValueFrom(ingestStage({ outDir: out, manifestPath: manifest, client, concurrency: 3 }).pipe(toArray()));
      expect(progress.filter((p) => p.kind === 'failed')).toEqual([]);
      expect(progress.filter((p) => p.kind === 'window')).toHaveLength(times.length);
      expect(client.metrics().retries).toBeGreaterThan(0);
      const state = await loadIngestState(out);
      expect(state.completed.size).toBe(times.length);
      for await (const e of readManifest(manifest)) {
        const t = e.timestampMs;
        const want = simTrades(SEED, 'AAPL', BigInt(t - 600_000) * 1_000_000n, BigInt(t + 1_200_000) * 1_000_000n);
        const df = pl.readParquet(join(out, 'windows', 'symbol=AAPL', `event=${e.eventId}`, 'trades.parquet'));
        expect(df.height).toBe(want.length);
        expect(state.completed.has(e.eventId)).toBe(true);
      }
    } finally {
      await client.close();
      await stall.close();
    }
  }, 120_000);

  it('disk full and permission errors while publishing windows: clear DiskError, nothing a verify would flag, a reopen recovers', async () => {
    const out = join(dir, 'diskfull');
    const trades = simTrades(SEED, 'AAPL', 1_709_564_400_000_000_000n, 1_709_566_200_000_000_000n).slice(0, 50);
    const ids = Array.from({ length: 8 }, (_, i) => `AAPL_flush_20240304_15${String(i).padStart(2, '0')}00_0000000${i}`);
    // Faults by window: 1 rename ENOSPC, 3 EACCES on the data fsync open, 5 EROFS on the folder fsync, 6 ENOSPC on the journal append.
    const failAt = (c: FsCall): void => {
      const err = (code: string) => Object.assign(new Error(`${code}: injected`), { code });
      if (c.op === 'rename' && c.path.includes(ids[1]!)) throw err('ENOSPC');
      if (c.op === 'open' && c.flags === 'r+' && c.path.includes(ids[3]!)) throw err('EACCES');
      if (c.op === 'fsyncDir' && c.path.includes(ids[5]!)) throw err('EROFS');
      if (c.op === 'handle.write' && c.path.endsWith('part-0.jsonl') && String(c.data).includes(ids[6]!)) throw err('ENOSPC');
    };
    const fs = instrumentFs(nodeFs, failAt);
    const w = await WindowWriter.open(out, { index: 0, count: 1 }, { fs, groupCommitMs: 0 });
    const results: Array<{ id: string; ok: boolean; msg?: string }> = [];
    for (const id of ids) {
      try {
        await w.commit({ symbol: 'AAPL', eventId: id, trades: tradesFrame(trades), quotes: quotesFrame([]) });
        results.push({ id, ok: true });
      } catch (e) {
        expect(e).toBeInstanceOf(DiskError);
        results.push({ id, ok: false, msg: (e as Error).message });
      }
    }
    await w.close().catch(() => undefined);
    const byId = Object.fromEntries(results.map((r) => [r.id, r]));
    expect(byId[ids[1]!]!.msg).toMatch(/^disk full renaming onto .*trades\.parquet|quotes\.parquet \(ENOSPC\)$/);
    expect(byId[ids[3]!]!.msg).toMatch(/permission denied .*\(EACCES\)$/);
    expect(byId[ids[5]!]!.msg).toMatch(/read-only file system .*\(EROFS\)$/);
    expect(byId[ids[6]!]!.msg).toMatch(/disk full appending to .*part-0\.jsonl \(ENOSPC\)$/);
    expect(byId[ids[0]!]!.ok).toBe(true);

    // No final file of a failed publish, no tmp file left by a failed publish (the publisher removes it).
    for (const id of [ids[1]!, ids[3]!]) {
      const d = join(out, 'windows', 'symbol=AAPL', `event=${id}`);
      const files = existsSync(d) ? readdirSync(d) : [];
      expect(files.filter((f) => /\.tmp-/.test(f))).toEqual([]);
    }
    // Every journal line names a complete window whose files open with the journaled row counts.
    const journal = (await loadJournal<{ event: string; trades: number }>(join(out, 'state', 'ingest', 'part-0.jsonl'))).entries;
    expect(new Set(journal.map((l) => l.event)).size).toBe(journal.length);
    for (const l of journal) expect(pl.readParquet(join(out, 'windows', 'symbol=AAPL', `event=${l.event}`, 'trades.parquet')).height).toBe(l.trades);

    // Recovery: the disk is fixed, a new writer redoes what is not journaled; each window ends journaled exactly once.
    const state = await loadIngestState(out);
    const w2 = await WindowWriter.open(out, { index: 0, count: 1 }, { groupCommitMs: 0 });
    for (const id of ids) if (!state.completed.has(id)) await w2.commit({ symbol: 'AAPL', eventId: id, trades: tradesFrame(trades), quotes: quotesFrame([]) });
    await w2.close();
    const all = (await loadJournal<{ event: string }>(join(out, 'state', 'ingest', 'part-0.jsonl'))).entries.map((l) => l.event);
    expect(all.sort()).toEqual([...ids].sort());
  });

  it('disk full while publishing a shard: DiskError, nothing committed, a reopen clears it and commits once', async () => {
    const out = join(dir, 'shardfull');
    const events = pl.DataFrame({ symbol: ['AAPL'], event_type: ['flush'], value: [1] });
    const fs = instrumentFs(nodeFs, (c) => {
      if (c.op === 'rename' && c.path2?.endsWith('.parquet')) throw Object.assign(new Error('no space'), { code: 'ENOSPC' });
    });
    const w = await ShardWriter.open(out, 0, { fs });
    await expect(w.commit({ symbols: ['AAPL'], events })).rejects.toThrow(/disk full .*\(ENOSPC\)/);
    await w.close().catch(() => undefined);
    expect(await committedShards(out)).toEqual([]);
    const w2 = await ShardWriter.open(out, 0);
    await w2.commit({ symbols: ['AAPL'], events });
    await w2.close();
    const shards = await committedShards(out);
    expect(shards).toHaveLength(1);
    expect(pl.readParquet(shards[0]!.path).height).toBe(1);
  });
});
