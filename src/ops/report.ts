/**
 * `tickpipe report`: one self-contained HTML file about a run folder — inline CSS and inline SVG
 * charts drawn here, no script, no network reference — so it can be mailed, archived or opened
 * offline. Charts: throughput (items/s) and requests/s against the quota over time, 429s and
 * failures over time (all from the heartbeat files, streamed), events by type and by session
 * (from the manifest, lazy + async collect), and per-worker progress (heartbeat model
 * of src/ops/tail.ts plus the journals).
 *
 * @example
 * ```ts
 * import { buildReport, renderReportHtml, writeReport } from 'tickpipe/ops';
 * const path = await writeReport('./tickpipe-data');            // ./tickpipe-data/report.html
 * const html = renderReportHtml(await buildReport('./tickpipe-data'));
 * ```
 */
import { createReadStream, existsSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import pl from 'nodejs-polars';
import { InputError } from '../errors.js';
import { datasetSummary, formatDatasetSummary, type DatasetSummary } from '../dataset/check.js';
import { publishAtomically } from '../sinks/index.js';
import { heartbeatFiles, openRunFolder } from '../run-folder/index.js';
import { emptyTailState, foldHeartbeat, parseHeartbeat, StateReader, tailView, withDisk, type DiskState, type Heartbeat, type WorkerView } from './tail.js';
import { manifestPath } from '../run-folder/layout.js';

/** A time series point: ms since the epoch and a value; `gap` starts a new line (a restart). */
export interface Point {
  readonly t: number;
  readonly v: number;
  readonly gap?: boolean;
}

/** A moment worth a vertical line: a pause began or ended, or a process (re)started. */
export interface Marker {
  readonly t: number;
  readonly kind: 'pause' | 'resume' | 'start';
  readonly label: string;
}

/** Everything the report shows, as plain data. */
export interface ReportData {
  readonly dir: string;
  readonly generatedAt: string;
  readonly spec: unknown;
  readonly heartbeatLines: number;
  readonly span: { readonly from: number; readonly to: number } | undefined;
  /** Items/s per time bin. */
  readonly throughput: { readonly detect: Point[]; readonly ingest: Point[] };
  /** Requests/s as the heartbeats reported them, and the configured client rate (--rate). */
  readonly requests: { readonly points: Point[]; readonly quota: number | undefined };
  /** Request latency p50/p95 (ms) as the ingest heartbeats reported them. */
  readonly latency: { readonly p50: Point[]; readonly p95: Point[] };
  /** Items done so far (cumulative), per stage, summed over processes. */
  readonly cumulative: { readonly detect: Point[]; readonly ingest: Point[] };
  /** Pauses, resumes and process starts. */
  readonly markers: Marker[];
  /** 429s and failed windows per time bin (counts). */
  readonly errors: { readonly rateLimited: Point[]; readonly failed: Point[] };
  readonly eventsByType: ReadonlyArray<readonly [string, number]>;
  readonly eventsBySession: ReadonlyArray<readonly [string, number]>;
  readonly events: number;
  readonly workers: readonly WorkerView[];
  readonly disk: DiskState;
  /** The compacted dataset (as `status` shows it): null when nothing was compacted yet. */
  readonly dataset: DatasetSummary | null;
}

/** Options of {@link buildReport}. */
export interface BuildReportOptions {
  /** Time bins of the throughput and error charts (at most). @default 120 */
  readonly bins?: number;
}

interface IngestSample {
  readonly t: number;
  readonly done: number;
  readonly failed: number;
  readonly rateLimited: number;
}

/** The run's whole heartbeat history, folded line by line into the charts' series and markers. */
class HeartbeatHistory {
  readonly detectTimes: number[] = [];
  readonly ingest = new Map<number, IngestSample[]>();
  readonly requests: Point[] = [];
  readonly p50: Point[] = [];
  readonly p95: Point[] = [];
  readonly cumDetect: Point[] = [];
  readonly cumIngest: Point[] = [];
  readonly markers: Marker[] = [];
  quota: number | undefined;
  from = Infinity;
  to = -Infinity;
  private readonly seen = new Map<string, { paused: boolean; done: number }>();
  private lastIngestPid: number | undefined;

  add(h: Heartbeat): void {
    this.from = Math.min(this.from, h.t);
    this.to = Math.max(this.to, h.t);
    const key = `${h.stage}/${h.pid}`;
    const before = this.seen.get(key);
    this.mark(h, before);
    this.seen.set(key, { paused: h.paused, done: h.done });
    if (h.stage === 'detect') {
      this.cumDetect.push({ t: h.t, v: h.v >= 2 ? h.done : this.detectTimes.length + 1, ...(before ? {} : { gap: true }) });
      // Timer lines (version 2) are not symbols.
      if (h.beat === 'item') this.detectTimes.push(h.t);
      return;
    }
    this.cumIngest.push({ t: h.t, v: h.done, ...(before ? {} : { gap: true }) });
    const list = this.ingest.get(h.pid) ?? [];
    list.push({ t: h.t, done: h.processed + h.failed, failed: h.failed, rateLimited: h.rateLimited });
    this.ingest.set(h.pid, list);
    // A new process starts a new line: joining across a restart would draw work that never happened.
    const gap = this.lastIngestPid !== h.pid ? { gap: true } : {};
    this.lastIngestPid = h.pid;
    if (h.reqPerSec !== null) this.requests.push({ t: h.t, v: h.reqPerSec, ...gap });
    if (h.latencyP50Ms !== null) this.p50.push({ t: h.t, v: h.latencyP50Ms, ...gap });
    if (h.latencyP95Ms !== null) this.p95.push({ t: h.t, v: h.latencyP95Ms, ...gap });
    if (h.configuredRate > 0) this.quota = h.configuredRate;
  }

  /** Start, pause and resume markers. */
  private mark(h: Heartbeat, before: { paused: boolean } | undefined): void {
    if (!before) this.markers.push({ t: h.t, kind: 'start', label: `${h.stage} pid ${h.pid}` });
    if (before && before.paused !== h.paused) this.markers.push({ t: h.paused && h.pausedSince ? Date.parse(h.pausedSince) : h.t, kind: h.paused ? 'pause' : 'resume', label: h.paused ? 'PAUSE' : 'resumed' });
    else if (!before && h.paused) this.markers.push({ t: h.pausedSince ? Date.parse(h.pausedSince) : h.t, kind: 'pause', label: 'PAUSE' });
  }
}

/** Fixed time bins over the run's span: counts per bin, and work spread over the bins it took. */
class TimeBins {
  readonly binMs: number;
  readonly n: number;

  constructor(readonly span: { from: number; to: number }, bins: number) {
    this.binMs = Math.max(1000, Math.ceil((span.to - span.from) / bins));
    this.n = Math.max(1, Math.ceil((span.to - span.from) / this.binMs));
  }

  zero(): number[] {
    return new Array<number>(this.n).fill(0);
  }

  of(t: number): number {
    return Math.min(this.n - 1, Math.max(0, Math.floor((t - this.span.from) / this.binMs)));
  }

  /** Adds `amount` done between t0 and t1 to the bins in proportion to the time in each. */
  spread(into: number[], t0: number, t1: number, amount: number): void {
    if (amount === 0) return;
    if (t1 <= t0) {
      into[this.of(t1)]! += amount;
      return;
    }
    for (let b = this.of(t0); b <= this.of(t1); b++) {
      const lo = Math.max(t0, this.span.from + b * this.binMs);
      const hi = Math.min(t1, this.span.from + (b + 1) * this.binMs);
      if (hi > lo) into[b]! += (amount * (hi - lo)) / (t1 - t0);
    }
  }

  series(counts: number[], perSec: boolean): Point[] {
    return counts.map((c, i) => ({ t: this.span.from + (i + 0.5) * this.binMs, v: perSec ? c / (this.binMs / 1000) : c }));
  }
}

/** Throughput and error series of the history, binned. */
function binnedSeries(h: HeartbeatHistory, bins: TimeBins | undefined): Pick<ReportData, 'throughput' | 'errors'> {
  if (!bins) return { throughput: { detect: [], ingest: [] }, errors: { rateLimited: [], failed: [] } };
  const detect = bins.zero();
  for (const t of h.detectTimes) detect[bins.of(t)]!++;
  const ing = bins.zero();
  const rl = bins.zero();
  const failed = bins.zero();
  for (const samples of h.ingest.values()) {
    // The first heartbeat of a process covers the time since its ingest started: unknown, so only deltas count.
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1]!;
      const b = samples[i]!;
      bins.spread(ing, a.t, b.t, Math.max(0, b.done - a.done));
      rl[bins.of(b.t)]! += Math.max(0, b.rateLimited - a.rateLimited);
      failed[bins.of(b.t)]! += Math.max(0, b.failed - a.failed);
    }
  }
  return {
    throughput: { detect: bins.series(detect, true), ingest: bins.series(ing, true) },
    errors: { rateLimited: bins.series(rl, false), failed: bins.series(failed, false) },
  };
}

/** Events by type and by session, from the manifest. */
async function manifestCounts(dir: string): Promise<Pick<ReportData, 'eventsByType' | 'eventsBySession' | 'events'>> {
  const manifest = manifestPath(dir);
  if (!existsSync(manifest)) return { eventsByType: [], eventsBySession: [], events: 0 };
  const lf = pl.scanParquet(manifest);
  const count = async (col: string): Promise<Array<[string, number]>> => {
    const df = await lf.groupBy(col).agg(pl.len().alias('n')).sort(col).collect();
    const keys = df.getColumn(col).toArray() as Array<string | null>;
    const ns = df.getColumn('n').toArray() as Array<number | bigint>;
    return keys.map((k, i) => [k ?? '(none)', Number(ns[i])]);
  };
  const [eventsByType, eventsBySession] = await Promise.all([count('event_type'), count('session')]);
  return { eventsByType, eventsBySession, events: eventsByType.reduce((a, [, n]) => a + n, 0) };
}

/** Reads a run folder into {@link ReportData}. @throws InputError when DIR has no run.json. */
export async function buildReport(outDir: string, opts?: BuildReportOptions): Promise<ReportData> {
  const bins = opts?.bins ?? 120;
  if (!Number.isInteger(bins) || bins < 1 || bins > 10_000) throw new InputError(`buildReport: bins must be a whole number in 1..10000, got ${String(bins)} (${typeof bins})`);
  const { dir, spec } = await openRunFolder(outDir);
  const state = emptyTailState();
  const history = new HeartbeatHistory();
  // Cluster mode: one heartbeat file per process; each is folded in turn (samples are per pid).
  for (const hb of await heartbeatFiles(dir)) {
    const rl = createInterface({ input: createReadStream(hb, { encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of rl) {
      // Whole history for the charts; the tail model only needs the last window.
      foldHeartbeat(state, line);
      const h = parseHeartbeat(line);
      if (h) history.add(h);
    }
  }
  const span = history.from <= history.to ? { from: history.from, to: Math.max(history.to, history.from + 1000) } : undefined;
  const disk = await new StateReader(dir).refresh();
  withDisk(state, disk);
  const view = tailView(state, state.lastHeartbeatMs || Date.now());
  return {
    dir,
    generatedAt: new Date().toISOString(),
    spec,
    heartbeatLines: state.lines,
    span,
    ...binnedSeries(history, span ? new TimeBins(span, bins) : undefined),
    requests: { points: history.requests, quota: history.quota },
    latency: { p50: history.p50, p95: history.p95 },
    cumulative: { detect: history.cumDetect, ingest: history.cumIngest },
    markers: history.markers,
    ...(await manifestCounts(dir)),
    workers: view.workers,
    disk,
    dataset: await datasetSummary(dir),
  };
}

// ---------------------------------------------------------------------------------------------
// SVG drawing.

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const r1 = (n: number): string => (Math.round(n * 10) / 10).toString();

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function hhmmss(t: number): string {
  return new Date(t).toISOString().slice(11, 19);
}

interface LineSeries {
  readonly name: string;
  readonly color: string;
  readonly points: readonly Point[];
  /** Draw as a dashed reference line. */
  readonly dashed?: boolean;
  /** Draw as bars instead of a line. */
  readonly bars?: boolean;
}

const W = 1000;
const H = 220;
/** The plot area ends PAD.b above the bottom: time labels, then the legend row, below it. */
const PAD = { l: 56, r: 16, t: 14, b: 50 };

/** A time chart: lines and/or bars over a shared time axis, y from 0. */
export function timeChartSvg(title: string, unit: string, series: readonly LineSeries[], span: { from: number; to: number } | undefined, markers: readonly Marker[] = []): string {
  const all = series.flatMap((s) => s.points);
  if (!span || all.length === 0) return `<p class="empty">${esc(title)}: no data in the heartbeat log.</p>`;
  // Counts get whole-number ticks.
  const top = Math.max(...all.map((p) => p.v));
  const ymax = unit === 'count' ? Math.max(4, Math.ceil(top / 4) * 4) : niceMax(top);
  const x = (t: number): number => PAD.l + ((t - span.from) / Math.max(1, span.to - span.from)) * (W - PAD.l - PAD.r);
  const y = (v: number): number => H - PAD.b - (v / ymax) * (H - PAD.t - PAD.b);
  const parts: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const v = (ymax * i) / 4;
    parts.push(`<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${r1(y(v))}" y2="${r1(y(v))}" class="grid"/>`);
    parts.push(`<text x="${PAD.l - 6}" y="${r1(y(v) + 4)}" text-anchor="end">${esc(r1(v))}</text>`);
  }
  for (let i = 0; i <= 5; i++) {
    const t = span.from + ((span.to - span.from) * i) / 5;
    parts.push(`<text x="${r1(x(t))}" y="${H - PAD.b + 16}" text-anchor="${i === 0 ? 'start' : i === 5 ? 'end' : 'middle'}">${hhmmss(t)}</text>`);
  }
  for (const m of markers) {
    if (m.t < span.from || m.t > span.to) continue;
    const color = m.kind === 'start' ? '#777' : m.kind === 'pause' ? '#f0ad4e' : '#2e8b57';
    parts.push(`<line x1="${r1(x(m.t))}" x2="${r1(x(m.t))}" y1="${PAD.t}" y2="${H - PAD.b}" stroke="${color}" stroke-dasharray="2 3" class="marker marker-${m.kind}"><title>${esc(`${m.label} ${hhmmss(m.t)}`)}</title></line>`);
  }
  const barSeries = series.filter((s) => s.bars);
  series.forEach((s) => {
    if (s.points.length === 0) return;
    if (s.bars) {
      const k = barSeries.indexOf(s);
      const step = s.points.length > 1 ? x(s.points[1]!.t) - x(s.points[0]!.t) : 8;
      const bw = Math.max(1, (step * 0.8) / barSeries.length);
      for (const p of s.points) {
        if (p.v <= 0) continue;
        parts.push(`<rect x="${r1(x(p.t) - (step * 0.4) + k * bw)}" y="${r1(y(p.v))}" width="${r1(bw)}" height="${r1(y(0) - y(p.v))}" fill="${s.color}"/>`);
      }
    } else {
      const d = s.points.map((p, i) => `${i === 0 || p.gap ? 'M' : 'L'}${r1(x(p.t))},${r1(y(p.v))}`).join('');
      parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    }
  });
  // The legend sits in its own row under the time axis, where no line can cross it.
  const ly = H - 14;
  const legend = series
    .map((s, i) => `<rect x="${PAD.l + 10 + i * 220}" y="${ly - 10}" width="12" height="12" fill="${s.color}" class="legend"/><text x="${PAD.l + 28 + i * 220}" y="${ly}">${esc(s.name)}</text>`)
    .join('');
  return `<figure><figcaption>${esc(title)} <span class="unit">(${esc(unit)}, UTC)</span></figcaption><svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}"><line x1="${PAD.l}" x2="${PAD.l}" y1="${PAD.t}" y2="${H - PAD.b}" class="axis"/><line x1="${PAD.l}" x2="${W - PAD.r}" y1="${H - PAD.b}" y2="${H - PAD.b}" class="axis"/>${parts.join('')}${legend}</svg></figure>`;
}

/** Horizontal bars of labelled counts. */
export function barChartSvg(title: string, rows: ReadonlyArray<readonly [string, number]>, color: string): string {
  if (rows.length === 0) return `<p class="empty">${esc(title)}: no events.</p>`;
  const rowH = 26;
  const h = rows.length * rowH + 8;
  const max = Math.max(...rows.map(([, n]) => n), 1);
  const labelW = 200;
  const w = 480;
  const body = rows
    .map(([k, n], i) => {
      const bw = ((w - labelW - 70) * n) / max;
      const yy = 4 + i * rowH;
      return `<text x="${labelW - 8}" y="${yy + 17}" text-anchor="end">${esc(k)}</text><rect x="${labelW}" y="${yy + 4}" width="${r1(Math.max(1, bw))}" height="${rowH - 8}" fill="${color}"/><text x="${r1(labelW + bw + 6)}" y="${yy + 17}">${n.toLocaleString('en-US')}</text>`;
    })
    .join('');
  return `<figure class="half"><figcaption>${esc(title)}</figcaption><svg viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(title)}">${body}</svg></figure>`;
}

/** Per-worker progress bars. */
export function progressSvg(workers: readonly WorkerView[]): string {
  if (workers.length === 0) return '<p class="empty">Per-worker progress: no heartbeat yet.</p>';
  const rowH = 28;
  const w = 1000;
  const labelW = 150;
  const barW = 520;
  const body = workers
    .map((wk, i) => {
      const yy = 4 + i * rowH;
      const frac = wk.total !== null ? (wk.total > 0 ? Math.min(1, wk.done / wk.total) : 1) : wk.totalBatches ? Math.min(1, (wk.batch ?? 0) / wk.totalBatches) : wk.status === 'finished' ? 1 : 0;
      const what = wk.total !== null ? `${wk.done.toLocaleString('en-US')}/${wk.total.toLocaleString('en-US')}` : `${wk.done} ${wk.stage === 'detect' ? 'symbols' : 'windows'}${wk.host !== null ? `, ${wk.failed} failed, ${wk.rateLimited} 429s` : ''}`;
      const color = wk.status === 'stalled' ? '#d9534f' : wk.status === 'stopped' ? '#999' : wk.status === 'finished' ? '#2e8b57' : '#3b7dd8';
      return `<text x="${labelW - 8}" y="${yy + 18}" text-anchor="end">${esc(`${wk.stage} ${wk.name}${wk.host !== null ? ` on ${wk.host}` : ''}`)}</text><rect x="${labelW}" y="${yy + 5}" width="${barW}" height="${rowH - 10}" class="track"/><rect x="${labelW}" y="${yy + 5}" width="${r1(barW * frac)}" height="${rowH - 10}" fill="${color}"/><text x="${labelW + barW + 8}" y="${yy + 18}">${esc(`${what}  ${wk.status}  last ${wk.last}`)}</text>`;
    })
    .join('');
  return `<figure><figcaption>Per-worker progress</figcaption><svg viewBox="0 0 ${w} ${workers.length * rowH + 8}" role="img" aria-label="per-worker progress">${body}</svg></figure>`;
}

const CSS = `body{font:14px/1.4 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px auto;max-width:1080px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#666;font-size:12px}table{border-collapse:collapse;margin:8px 0}td,th{padding:3px 12px 3px 0;text-align:left}
th{color:#666;font-weight:normal}figure{margin:8px 0 16px}figcaption{font-weight:600;margin-bottom:4px}.unit{color:#888;font-weight:normal}
svg{width:100%;height:auto;font-size:12px;fill:#333}.grid{stroke:#eee}.axis{stroke:#999}.track{fill:#eee}
.half{display:inline-block;width:49%;vertical-align:top}.empty{color:#888;font-style:italic}`;

/** The HTML document of a report (self-contained: no script, no external reference). */
export function renderReportHtml(d: ReportData): string {
  const fmt = (n: number): string => n.toLocaleString('en-US');
  const s = d.spec as { from?: string; to?: string; universe?: { count: number }; source?: { sim?: { seed: number }; baseUrl?: string } };
  const source = s.source?.sim ? `simulator (seed ${s.source.sim.seed})` : (s.source?.baseUrl ?? '-');
  const quotaPts = d.requests.quota !== undefined && d.span ? [{ t: d.span.from, v: d.requests.quota }, { t: d.span.to, v: d.requests.quota }] : [];
  const settings = runSettings(d.spec, d.requests.quota);
  const summary: Array<[string, string]> = [
    ['source', source],
    ['days', s.from && s.to ? `${s.from} … ${s.to}` : '-'],
    ['universe', s.universe ? `${fmt(s.universe.count)} symbols` : '-'],
    ['symbols committed', fmt(d.disk.symbolsCommitted)],
    ['events', fmt(d.events)],
    ['windows committed', `${fmt(d.disk.windowsCommitted)} (${fmt(d.disk.windowsFailed)} failed, not retried yet)`],
    ['heartbeat', d.span ? `${fmt(d.heartbeatLines)} lines, ${new Date(d.span.from).toISOString()} … ${new Date(d.span.to).toISOString()}` : 'none'],
  ];
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>tickpipe report — ${esc(d.dir)}</title><style>${CSS}</style></head>
<body>
<h1>tickpipe run report</h1>
<p class="meta">${esc(d.dir)} · generated ${esc(d.generatedAt)}</p>
<table>${summary.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>
<h2>Settings</h2>
<table class="settings">${settings.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>
<p class="meta">Vertical lines: grey a process started (or restarted), orange PAUSE, green resumed.</p>
<h2>Progress</h2>
${timeChartSvg('Items done (cumulative)', 'items', [
  { name: 'detect: symbols done', color: '#8a5cc2', points: d.cumulative.detect },
  { name: 'ingest: windows done', color: '#3b7dd8', points: d.cumulative.ingest },
], d.span, d.markers)}
<h2>Throughput</h2>
${timeChartSvg('Items per second', 'items/s', [
  { name: 'detect: symbols/s', color: '#8a5cc2', points: d.throughput.detect, bars: true },
  { name: 'ingest: windows/s', color: '#3b7dd8', points: d.throughput.ingest },
], d.span, d.markers)}
<h2>Requests against the configured rate</h2>
${timeChartSvg('Requests per second (ingest)', 'req/s', [
  { name: 'requests/s', color: '#2e8b57', points: d.requests.points },
  { name: `--rate ${d.requests.quota ?? '-'}/s`, color: '#d9534f', points: quotaPts, dashed: true },
], d.span, d.markers)}
<h2>Latency</h2>
${timeChartSvg('Request latency (ingest)', 'ms', [
  { name: 'p50', color: '#3b7dd8', points: d.latency.p50 },
  { name: 'p95', color: '#d9534f', points: d.latency.p95 },
], d.span, d.markers)}
<h2>429s and failures</h2>
${timeChartSvg('429 responses and failed windows per interval', 'count', [
  { name: '429s', color: '#f0ad4e', points: d.errors.rateLimited, bars: true },
  { name: 'failed windows', color: '#d9534f', points: d.errors.failed, bars: true },
], d.span, d.markers)}
<h2>Events</h2>
${barChartSvg('By type', d.eventsByType, '#3b7dd8')}${barChartSvg('By session', d.eventsBySession, '#8a5cc2')}
<h2>Workers</h2>
${progressSvg(d.workers)}
<h2>Dataset</h2>
${datasetTable(d.dataset)}
</body></html>
`;
}

/**
 * The dataset section: what is compacted, what is not yet (windows still only in windows/), and
 * parts a killed compaction left for the next one. Same figures as `status` (one source: datasetSummary).
 */
export function datasetTable(d: DatasetSummary | null): string {
  if (!d) return `<p class="empty">${esc(formatDatasetSummary(d))}</p>`;
  const fmt = (n: number): string => n.toLocaleString('en-US');
  const rows: Array<[string, string]> = [
    ['parts', `${fmt(d.parts)} over ${fmt(d.symbols)} symbols (dataset/trades and dataset/quotes, one file each per part)`],
    ['windows compacted', fmt(d.windowsCompacted)],
    ['rows', `trades ${fmt(d.trades)}, quotes ${fmt(d.quotes)}`],
    ['not compacted yet', d.windowsPending > 0 ? `${fmt(d.windowsPending)} committed windows (tickpipe compact)` : 'none: every committed window is compacted'],
    ['left by an interrupted compaction', d.partsUnpublished + d.stagedUncommitted > 0 ? `${d.partsUnpublished} committed part(s) not yet published, ${d.stagedUncommitted} uncommitted staged file(s) (the next compaction finishes or discards them)` : 'nothing'],
  ];
  return `<table class="dataset">${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</table>`;
}

/** The run's settings as rows: what run.json records, and the configured rate from the heartbeats. */
export function runSettings(spec: unknown, rate: number | undefined): Array<[string, string]> {
  const s = (spec ?? {}) as Record<string, unknown>;
  const rows: Array<[string, string]> = [];
  const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));
  const w = s.window as { beforeMs?: number; afterMs?: number } | undefined;
  if (s.from !== undefined) rows.push(['days', `${show(s.from)} … ${show(s.to)}`]);
  if (s.detectors !== undefined) rows.push(['detectors', Object.keys(s.detectors as object).join(', ')]);
  if (w?.beforeMs !== undefined) rows.push(['window', `-${w.beforeMs / 60_000}m,+${(w.afterMs ?? 0) / 60_000}m`]);
  if (s.quotesHz !== undefined) rows.push(['quotes per second kept', show(s.quotesHz)]);
  if (s.manifest !== undefined) rows.push(['manifest', show(s.manifest)]);
  if (rate !== undefined) rows.push(['--rate (last seen)', `${rate}/s`]);
  return rows;
}

/** Options of {@link writeReport}. */
export interface WriteReportOptions extends BuildReportOptions {
  /** Output file. @default DIR/report.html */
  readonly output?: string;
}

/** Builds and atomically writes the report; returns its path. */
export async function writeReport(outDir: string, opts?: WriteReportOptions): Promise<{ path: string; data: ReportData }> {
  // A folder as the output would fail only at the final rename (EISDIR), after all the reading.
  if (opts?.output !== undefined && (await stat(opts.output).catch(() => undefined))?.isDirectory()) {
    throw new InputError(`--output ${opts.output} is a folder: give a file name, e.g. ${join(opts.output, 'report.html')}`);
  }
  const data = await buildReport(outDir, opts);
  const path = resolve(opts?.output ?? join(data.dir, 'report.html'));
  const html = renderReportHtml(data);
  await publishAtomically(path, (tmp) => writeFile(tmp, html, 'utf8'));
  return { path, data };
}
