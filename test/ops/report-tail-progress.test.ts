import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport, renderReportHtml, timeChartSvg } from '../../src/ops/report.js';
import { emptyTailState, foldHeartbeat, renderTail, tailView } from '../../src/ops/tail.js';
import { ingestHeartbeat, initialProgress, reduceProgress, type ProgressState } from '../../src/progress/index.js';

const T0 = Date.UTC(2026, 0, 5, 14, 0, 0);

/** Heartbeat lines as `run` writes them: one process, paused for a while, then a restart (new pid). */
function heartbeatLines(): string[] {
  const lines: string[] = [];
  const write = (s: ProgressState, pid: number, at: number) =>
    lines.push(JSON.stringify({ level: 30, time: new Date(at).toISOString(), pid, name: 'heartbeat', ...ingestHeartbeat(s, 0, { beat: 'tick', rssMB: 100, trades: 0, quotes: 0, bytes: 0, latencyP50Ms: 80, latencyP95Ms: 300 }) }));
  let s = initialProgress({ stage: 'ingest', at: T0, total: 1000, done: 0, configuredRate: 50 });
  for (let i = 1; i <= 60; i++) {
    const at = T0 + i * 1000;
    if (i === 30) s = reduceProgress(s, { kind: 'pause', at, paused: true });
    if (i === 45) s = reduceProgress(s, { kind: 'pause', at, paused: false });
    if (!s.paused) s = reduceProgress(s, { kind: 'item', at: at - 1, part: '0', ok: true, last: `E${i}` });
    s = reduceProgress(s, { kind: 'tick', at, requests: i * 3, ok: i * 3, rateLimited: 0, rate: 50 });
    if (i % 5 === 0) write(s, 100, at);
  }
  let r = initialProgress({ stage: 'ingest', at: T0 + 120_000, total: 1000, done: 45, configuredRate: 50 });
  for (let i = 1; i <= 20; i++) {
    const at = T0 + 120_000 + i * 1000;
    r = reduceProgress(r, { kind: 'item', at: at - 1, part: '0', ok: true, last: `F${i}` });
    r = reduceProgress(r, { kind: 'tick', at, requests: i * 3, ok: i * 3, rateLimited: 0, rate: 50 });
    if (i % 5 === 0) write(r, 200, at);
  }
  return lines;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tp-report-progress-'));
  await mkdir(join(dir, 'logs'), { recursive: true });
  await writeFile(join(dir, 'run.json'), JSON.stringify({ version: 1, source: { sim: { seed: 7 } }, window: { beforeMs: 600_000, afterMs: 1_200_000 }, quotesHz: 1, manifest: 'events/events.parquet' }) + '\n');
  await writeFile(join(dir, 'logs', 'heartbeat.ndjson'), heartbeatLines().join('\n') + '\n');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('report', () => {
  it('shows settings, cumulative progress, latency, pause and restart markers, and breaks lines at a restart', async () => {
    const d = await buildReport(dir);
    expect(d.markers.filter((m) => m.kind === 'start')).toHaveLength(2);
    expect(d.markers.filter((m) => m.kind === 'pause').map((m) => m.t)).toEqual([T0 + 30_000]);
    expect(d.markers.filter((m) => m.kind === 'resume')).toHaveLength(1);
    expect(d.latency.p95.length).toBeGreaterThan(0);
    expect(d.cumulative.ingest.at(-1)!.v).toBe(65);
    expect(d.requests.points.filter((p) => p.gap)).toHaveLength(2);
    const html = renderReportHtml(d);
    expect(html).toMatch(/<h2>Settings<\/h2>/);
    expect(html).toMatch(/window<\/th><td>-10m,\+20m/);
    expect(html).toMatch(/Items done \(cumulative\)/);
    expect(html).toMatch(/Request latency/);
    expect(html).toMatch(/class="marker marker-pause"/);
    expect(html).not.toMatch(/quota/i);
  });

  it('the legend is drawn below the plot area, where no line can cross it, and a restart starts a new line', () => {
    const svg = timeChartSvg('t', 'req/s', [{ name: 'a', color: '#000', points: [{ t: 0, v: 1 }, { t: 1000, v: 2 }, { t: 5000, v: 2, gap: true }, { t: 6000, v: 3 }] }], { from: 0, to: 6000 });
    const plotBottom = Number(/<line x1="\d+" x2="\d+" y1="\d+" y2="(\d+)" class="axis"\/>/.exec(svg)![1]);
    const legendY = Number(/<rect x="[\d.]+" y="([\d.]+)" width="12" height="12" fill="#000" class="legend"/.exec(svg)![1]);
    expect(legendY).toBeGreaterThan(plotBottom);
    expect((/<path d="([^"]+)"/.exec(svg)![1]!.match(/M/g) ?? []).length).toBe(2);
  });
});

describe('tail while paused', () => {
  it('says PAUSED since …, gives no ETA, and shows the writer\'s smoothed rate and the configured rate', () => {
    const state = emptyTailState();
    const lines = heartbeatLines().filter((l) => JSON.parse(l).pid === 100);
    const pausedLines = lines.filter((l) => Date.parse(JSON.parse(l).time) <= T0 + 40_000);
    for (const l of pausedLines) foldHeartbeat(state, l);
    const v = tailView(state, T0 + 41_000, { stallAfterMs: 60_000 });
    const w = v.workers[0]!;
    expect(w.status).toBe('paused');
    expect(w.etaSec).toBeNull();
    expect(w.pausedSince).toBe(new Date(T0 + 30_000).toISOString());
    expect(w.rate).toBe(50);
    const last = JSON.parse(pausedLines.at(-1)!);
    expect(w.itemsPerSec).toBe(last.itemsPerSec);
    const text = renderTail(v).join('\n');
    expect(text).toMatch(/PAUSED since \d\d:\d\d:\d\d \(11s\)/);
    expect(text).toMatch(/at --rate 50\/s/);
    expect(text).not.toMatch(/running|quota/);
  });
});
