import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport } from '../../src/ops/report.js';
import { runCli } from '../support/cli.js';

let root: string;
let runDir: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tp-report-'));
  await writeFile(join(root, 'u.txt'), 'AAOI\nABVC\nADTX\n');
  runDir = join(root, 'run');
  const r = await runCli(['run', '--out', runDir, '--no-progress', '--universe', join(root, 'u.txt'), '--from', '2024-03-04', '--to', '2024-03-06', '--workers', '2']);
  expect(r.code, r.stderr).toBe(0);
}, 60_000);
afterAll(async () => rm(root, { recursive: true, force: true }));

describe('tickpipe report', () => {
  it('writes one self-contained HTML file with SVG charts and the events of the manifest', async () => {
    const r = await runCli(['report', '--out', runDir]);
    expect(r.code, r.stderr).toBe(0);
    const path = join(runDir, 'report.html');
    expect(r.stdout).toContain(path);
    const html = await readFile(path, 'utf8');
    // structure
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
    for (const tag of ['html', 'head', 'body', 'style', 'table', 'figure']) {
      expect(html.split(`<${tag}`).length - 1, tag).toBe(html.split(`</${tag}>`).length - 1);
    }
    expect((html.match(/<svg /g) ?? []).length).toBeGreaterThanOrEqual(5);
    expect((html.match(/<svg /g) ?? []).length).toBe((html.match(/<\/svg>/g) ?? []).length);
    // self-contained: no script, no network reference of any kind
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/https?:\/\//i);
    expect(html).not.toMatch(/\b(src|href)\s*=/i);
    expect(html).not.toMatch(/url\(|@import/i);
    // the event types and sessions present in events.parquet
    const df = await pl.scanParquet(join(runDir, 'events', 'events.parquet')).select('event_type', 'session').collect();
    const types = [...new Set(df.getColumn('event_type').toArray() as string[])];
    expect(types.length).toBeGreaterThan(0);
    for (const t of types) expect(html).toContain(`>${t}</text>`);
    for (const s of new Set(df.getColumn('session').toArray() as string[])) expect(html).toContain(`>${s}</text>`);
    expect(html).toContain(`>${df.height.toLocaleString('en-US')}</td>`);
    // per-worker progress rows and the configured rate line (a client cannot know the quota)
    expect(html).toMatch(/detect worker-0/);
    expect(html).toMatch(/ingest part-0/);
    expect(html).toContain('--rate 100/s');
    // no tmp file left next to it
    const { readdir } = await import('node:fs/promises');
    expect((await readdir(runDir)).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('--output FILE, data model, and a non-run folder is exit 2', async () => {
    const out = join(root, 'r.html');
    expect((await runCli(['report', '--out', runDir, '--output', out])).code).toBe(0);
    expect(existsSync(out)).toBe(true);
    const d = await buildReport(runDir);
    expect(d.workers.map((w) => `${w.stage}/${w.name}`)).toEqual(['detect/worker-0', 'detect/worker-1', 'ingest/part-0']);
    expect(d.throughput.detect.reduce((a, p) => a + p.v, 0)).toBeGreaterThan(0);
    expect(d.requests.quota).toBe(100);
    expect(d.events).toBe(d.disk.windowsCommitted);
    const bad = await runCli(['report', '--out', join(root, 'nope')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/no run\.json/);
  });
});
