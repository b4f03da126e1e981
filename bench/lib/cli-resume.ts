/**
 * Benchmark 8: resume at the users' scale, timed as a user waits for it: from spawning
 * `node bin/tickpipe.js run --stage ingest …` (the built CLI, `npm run build`) with a 572,850-line
 * ingest journal, against the same 572,850 events as a Parquet and as a CSV manifest.
 *
 * - "10 new at the end": start → the first trades request reaches the server, and peak RSS.
 * - "all done" (full skip pass): start → exit, and peak RSS.
 *
 * Each is measured "cold" (a run folder holding only the journal: the first start after an upgrade,
 * or after `state/ingest/committed.idx` was deleted) and "warm" (the folder as a previous start left
 * it: the committed index written by that start; the usual restart). The warm-up start is a full
 * skip pass over the base manifest. Ingest only, `--no-compact`: the end-of-run compaction is
 * measured once apart (`all done, with compaction`), because this fixture's 572,850 journaled
 * windows have no files, which compaction looks up one by one.
 *
 * The server is a stub on loopback in this process that answers every request with an empty page
 * and notes when the first `/v3/trades` request arrives, so that nothing but the CLI uses CPU for
 * the pipeline. Peak RSS is the child's own `resourceUsage().maxRSS`, written at exit by a
 * `--import`ed hook (`rss-on-exit.js`).
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { pythonIsoformat } from '../../src/streams/event-id.js';
import { median, syntheticEvents } from './common.js';
import type { ResumeFixture } from './resume.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url)); // dist/.bench/bench/lib → repo
const BIN = join(ROOT, 'bin', 'tickpipe.js');
const RSS_HOOK = fileURLToPath(new URL('./rss-on-exit.js', import.meta.url));
const KEY = 'bench-cli-key';

interface Stub {
  readonly url: string;
  firstTradesAt: number | undefined;
  requests: number;
  close(): Promise<void>;
}

async function startStub(): Promise<Stub> {
  const stub = { firstTradesAt: undefined as number | undefined, requests: 0 };
  const server: Server = createServer((req, res) => {
    stub.requests++;
    if (req.url?.includes('/v3/trades/') && stub.firstTradesAt === undefined) stub.firstTradesAt = performance.now();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"OK","request_id":"bench","resultsCount":0,"results":[]}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as { port: number };
  return Object.assign(stub, {
    url: `http://127.0.0.1:${addr.port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  });
}

/** CSV twins of the fixture's Parquet manifests (ISO strings, as a user's file would hold them). */
export async function writeCsvManifests(f: ResumeFixture, events: number): Promise<{ baseCsv: string; endCsv: string }> {
  const base = syntheticEvents(events, 2_000);
  const extra = syntheticEvents(10, 2_000, events);
  const csv = (rows: typeof base) => ['symbol,event_type,timestamp', ...rows.map((e) => `${e.symbol},${e.event_type},${pythonIsoformat(e.timestamp)}`)].join('\n') + '\n';
  const baseCsv = join(f.dir, 'base.csv');
  const endCsv = join(f.dir, 'new-at-end.csv');
  await writeFile(baseCsv, csv(base));
  await writeFile(endCsv, csv([...base, ...extra]));
  return { baseCsv, endCsv };
}

export interface CliResumeRun {
  readonly firstRequestMs: number | null;
  readonly exitMs: number;
  readonly maxRssMB: number;
  /** CPU time of the whole child (user + system, every thread), to exit: less load-sensitive than wall time. */
  readonly cpuMs: number;
  readonly code: number | null;
}

/**
 * How a measured start finds its run folder. `compacted`: every journaled window is already in a
 * compaction journal line (one part per symbol, its two part files present but empty), as on a
 * real folder whose windows were compacted during earlier runs.
 */
type Start = { readonly warm: boolean; readonly compact: boolean; readonly compacted?: boolean };

/** A compaction journal naming every window of the journal, and the (empty) part files it commits. */
async function writeCompacted(journal: string, out: string): Promise<void> {
  const bySymbol = new Map<string, string[]>();
  for (const line of (await readFile(journal, 'utf8')).split('\n')) {
    if (!line) continue;
    const e = JSON.parse(line) as { event: string; symbol: string };
    (bySymbol.get(e.symbol) ?? bySymbol.set(e.symbol, []).get(e.symbol)!).push(e.event);
  }
  const lines: string[] = [];
  for (const [symbol, events] of [...bySymbol].sort()) {
    lines.push(JSON.stringify({ symbol, part: 0, events: events.sort(), trades: events.length * 1234, quotes: events.length * 1800 }));
    for (const k of ['trades', 'quotes']) {
      await mkdir(join(out, 'dataset', k, `symbol=${symbol}`), { recursive: true });
      await writeFile(join(out, 'dataset', k, `symbol=${symbol}`, 'part-000000.parquet'), '');
    }
  }
  await mkdir(join(out, 'state', 'compact'), { recursive: true });
  await writeFile(join(out, 'state', 'compact', 'compact.jsonl'), lines.join('\n') + '\n');
}

/** The base CSV manifest beside a CSV variant (`writeCsvManifests` writes both into one folder). */
function csvBaseOf(manifest: string): string {
  return join(manifest, '..', 'base.csv');
}

async function oneRun(f: ResumeFixture, manifest: string, stub: Stub, start: Start): Promise<CliResumeRun> {
  const out = await mkdtemp(join(f.dir, 'cli-run-'));
  try {
    await mkdir(join(out, 'state', 'ingest'), { recursive: true });
    await copyFile(f.fullJournal, join(out, 'state', 'ingest', 'part-0.jsonl'));
    if (start.compacted) await writeCompacted(f.fullJournal, out);
    // Warm: an earlier start over the base manifest of the same format (a user restarts with the
    // manifest they started with; the key file holds CSV and Parquet keys apart).
    if (start.warm) await spawnRun(manifest.endsWith('.csv') ? csvBaseOf(manifest) : f.baseManifest, out, stub, false);
    return await spawnRun(manifest, out, stub, start.compact);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

async function spawnRun(manifest: string, out: string, stub: Stub, compact: boolean): Promise<CliResumeRun> {
  {
    const rssFile = join(out, 'rss.txt');
    stub.firstTradesAt = undefined;
    const t0 = performance.now();
    const child = spawn(
      process.execPath,
      ['--import', RSS_HOOK, BIN, 'run', '--stage', 'ingest', '--manifest', manifest, '--out', out, '--base-url', stub.url, '--no-progress', ...(compact ? [] : ['--no-compact'])],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, POLYGON_API_KEY: KEY, BENCH_RSS_FILE: rssFile } },
    );
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (err += d));
    const code = await new Promise<number | null>((r) => child.once('close', r));
    const exitMs = performance.now() - t0;
    if (code !== 0) throw new Error(`tickpipe run exited ${String(code)}: ${err.trim().split('\n').pop() ?? ''}`);
    const [rssKiB, cpuMs] = (await readFile(rssFile, 'utf8')).split(' ').map(Number) as [number, number];
    return { firstRequestMs: stub.firstTradesAt === undefined ? null : stub.firstTradesAt - t0, exitMs, maxRssMB: rssKiB / 1024, cpuMs, code };
  }
}

/** Medians over `runs` fresh processes per variant. */
export async function measureCliResume(
  f: ResumeFixture,
  csv: { baseCsv: string; endCsv: string },
  runs: number,
  withCompaction = true,
): Promise<Record<string, { firstRequestMs: number | null; exitMs: number; maxRssMB: number; cpuMs: number }>> {
  const stub = await startStub();
  const variants: Array<[string, string, Start]> = [];
  for (const warm of [true, false]) {
    const w = warm ? 'warm' : 'cold';
    variants.push([`parquet-new-end-${w}`, f.endManifest, { warm, compact: false }], [`parquet-all-done-${w}`, f.baseManifest, { warm, compact: false }]);
    variants.push([`csv-new-end-${w}`, csv.endCsv, { warm, compact: false }], [`csv-all-done-${w}`, csv.baseCsv, { warm, compact: false }]);
  }
  variants.push(['parquet-all-done-warm-compacted', f.baseManifest, { warm: true, compact: true, compacted: true }]);
  if (withCompaction) variants.push(['parquet-all-done-warm-compact', f.baseManifest, { warm: true, compact: true }]);
  const out: Record<string, { firstRequestMs: number | null; exitMs: number; maxRssMB: number; cpuMs: number }> = {};
  try {
    for (const [name, manifest, start] of variants) {
      const rs: CliResumeRun[] = [];
      for (let r = 0; r < (start.compact ? 1 : runs); r++) rs.push(await oneRun(f, manifest, stub, start));
      const firsts = rs.map((x) => x.firstRequestMs).filter((x): x is number => x !== null);
      out[name] = { firstRequestMs: firsts.length ? median(firsts) : null, exitMs: median(rs.map((x) => x.exitMs)), maxRssMB: median(rs.map((x) => x.maxRssMB)), cpuMs: median(rs.map((x) => x.cpuMs)) };
    }
  } finally {
    await stub.close();
  }
  return out;
}
