/**
 * A `run --stage ingest` over a CSV manifest, or over a Parquet manifest the JS reader serves
 * (parquet-manifest.ts), reads the manifest in JS and has its windows encoded in worker threads:
 * its main thread must not load nodejs-polars, which cost ~27 MB of its peak RSS, and ~90 MB
 * with a keyed Parquet pass (issue 17). The check is a module `--import`ed into the spawned CLI
 * that, as the main thread exits, reports whether nodejs-polars (CommonJS) is in that thread's
 * module cache; the window workers load Polars themselves and are not looked at. An LZ4 Parquet
 * manifest, which the JS reader leaves to Polars, is the control: the same probe must see Polars
 * there, or the probe proves nothing.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pl from 'nodejs-polars';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT } from '../support/cli.js';

const PROBE = `import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';
const require = createRequire(import.meta.url);
if (isMainThread) process.on('exit', () => {
  const loaded = Object.keys(require.cache).some((k) => k.includes('nodejs-polars'));
  process.stderr.write('polars-on-main-thread: ' + loaded + '\\n');
});
`;

let root: string;
let probe: string;
let server: Server;
let baseUrl: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tp-csv-no-polars-'));
  probe = join(root, 'probe.mjs');
  await writeFile(probe, PROBE);
  // Every request (preflight, trades, quotes) gets an empty last page: each window commits two empty files.
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"OK","request_id":"test","resultsCount":0,"results":[]}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await rm(root, { recursive: true, force: true });
});

/** `tickpipe run --stage ingest` (`--no-compact` unless `compact`) with the probe; the exit status, stdout and the probe's answer. */
async function ingest(manifest: string, out: string, compact = false): Promise<{ code: number | null; stdout: string; stderr: string; polarsOnMain: boolean | undefined }> {
  const child = spawn(
    process.execPath,
    ['--import', pathToFileURL(probe).href, BIN, 'run', '--stage', 'ingest', '--manifest', manifest, '--out', out, '--base-url', baseUrl, '--no-progress', ...(compact ? [] : ['--no-compact'])],
    { cwd: ROOT, env: { ...process.env, POLYGON_API_KEY: 'test-key' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((r) => child.once('close', r));
  const m = /polars-on-main-thread: (true|false)/.exec(stderr);
  return { code, stdout, stderr, polarsOnMain: m ? m[1] === 'true' : undefined };
}

const EVENTS = [
  ['AAPL', 'flush', '2024-03-11 15:00:00'],
  ['MSFT', 'vwap_break', '2024-03-11 15:30:00'],
  ['NVDA', 'volume_spike', '2024-03-12 14:45:00'],
] as const;

/** The three events as a CSV manifest in the test folder. */
async function csvManifest(): Promise<string> {
  const manifest = join(root, 'events.csv');
  await writeFile(manifest, ['symbol,event_type,timestamp', ...EVENTS.map((e) => e.join(','))].join('\n') + '\n');
  return manifest;
}

/** The manifest's events as Parquet with `compression` (zstd: read in JS; lz4: left to Polars). */
function parquetManifest(name: string, compression: 'zstd' | 'lz4'): string {
  const manifest = join(root, name);
  pl.DataFrame({ symbol: EVENTS.map((e) => e[0]), event_type: EVENTS.map((e) => e[1]), timestamp: EVENTS.map((e) => e[2]) }).writeParquet(manifest, { compression });
  return manifest;
}

/** A run fetches the 3 windows, a restart skips them all (issue 17's full skip pass); neither loads Polars on its main thread. */
async function fetchThenSkipWithoutPolars(manifest: string, out: string): Promise<void> {
  const first = await ingest(manifest, out);
  expect(first.code, first.stderr).toBe(0);
  expect(first.stdout).toMatch(/windows\s+3 complete, 0 failed/);
  // The summary counts the given manifest's events and does not claim a folder manifest or symbols.
  expect(first.stdout).toMatch(/events\s+3\n/);
  expect(first.stdout).toMatch(/symbols\s+- \(no detect stage: events from the manifest\)/);
  expect(first.stdout).not.toMatch(/events\/events\.parquet/);
  expect(first.polarsOnMain).toBe(false);
  const again = await ingest(manifest, out);
  expect(again.code, again.stderr).toBe(0);
  expect(again.stderr).toMatch(/3 events, 3 already done/);
  expect(again.polarsOnMain).toBe(false);
}

describe('a run over a CSV manifest', () => {
  it('fetches new windows and then skips them all without loading nodejs-polars on its main thread', async () => {
    await fetchThenSkipWithoutPolars(await csvManifest(), join(root, 'csv-run'));
  }, 120_000);

  it('restarted with the end-of-run compaction and nothing left to compact, does not load it either', async () => {
    const manifest = await csvManifest();
    const out = join(root, 'csv-run-compacted');
    // The first run fetches and compacts the windows (Polars writes the parts: it is needed then).
    const first = await ingest(manifest, out, true);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/windows\s+3 complete, 0 failed/);
    const again = await ingest(manifest, out, true);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/3 events, 3 already done/);
    expect(again.polarsOnMain).toBe(false);
  }, 120_000);

  it('a Parquet manifest read in JS: fetched, then skipped, without Polars on the main thread either', async () => {
    await fetchThenSkipWithoutPolars(parquetManifest('events.parquet', 'zstd'), join(root, 'parquet-run'));
  }, 120_000);

  it('control: the same probe sees Polars on the main thread of a run over an LZ4 Parquet manifest (left to Polars)', async () => {
    const r = await ingest(parquetManifest('events-lz4.parquet', 'lz4'), join(root, 'parquet-lz4-run'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/windows\s+3 complete, 0 failed/);
    expect(r.polarsOnMain).toBe(true);
  }, 120_000);
});
