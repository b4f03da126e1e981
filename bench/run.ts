/**
 * `npm run bench`: every tickpipe benchmark against the simulator on loopback, a table on stdout,
 * and `bench/results.json` (medians, every run, the machine). See BENCHMARKS.md.
 *
 * Flags:
 *   --quick          a short pass (1 run each, short windows, smaller data) → bench/results-quick.json
 *   --only 1,3,5     run only these benchmarks (1 quota, 2 adaptive, 3 throughput, 4 detection,
 *                    5 resume, 6 memory, 7 profile, 8 resume from the spawned CLI, 9 strict vs tolerant
 *                    quota on dense data, 10 CPU per row: column scanner vs row path vs bare JSON.parse,
 *                    11 dataset vs per-window files; `--only 11` alone writes bench/results-dataset.json instead,
 *                    12 wire speed on dense data: ingest (window pool) vs a bare undici + JSON.parse loop)
 *   --dataset-windows N  windows generated for benchmark 11 (default 20,000; 2,000 with --quick)
 *   --runs N         runs per figure (default 3; medians are reported)
 *   --sim child|inproc   where the simulator runs for benchmarks 1, 2 and 4 (default child; 3 does both)
 *   --profile-density busy|in-play  benchmark 7 profiles benchmark 12's path instead (that density,
 *                    no token bucket), every thread (main + window workers), per thread and summed
 *
 * @example
 * npm run bench -- --quick --only 1,3
 */
import { writeFile } from 'node:fs/promises';
import { loadavg, uptime } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machine, median, syntheticEvents, withTmp, writeManifest } from './lib/common.js';
import { datasetRows, measureDataset } from './lib/dataset.js';
import { measureDetect, measureStage1, type DetectMeasure } from './lib/detection.js';
import { profileIngest } from './lib/profile.js';
import { LATENCY, measureQuota, type QuotaMeasure } from './lib/quota.js';
import { buildResumeFixture, measureCommit, measureMemory, measureResume, RESUME_EVENTS } from './lib/resume.js';
import { measureCliResume, writeCsvManifests } from './lib/cli-resume.js';
import type { SimMode } from './lib/sim.js';
import { measureThroughput, type ThroughputMeasure } from './lib/throughput.js';
import { measureParseCost } from './lib/parse-cost.js';
import { measureWireSpeed } from './lib/wire-speed.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    runs: { type: 'string' },
    sim: { type: 'string', default: 'child' },
    'dataset-windows': { type: 'string' },
    'profile-density': { type: 'string' },
  },
  strict: true,
});
const quick = values.quick === true;
const runs = values.runs !== undefined ? Number(values.runs) : quick ? 1 : 3;
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs: expected a whole number >= 1, got ${JSON.stringify(values.runs)}`);
const simMode = values.sim as SimMode;
if (simMode !== 'child' && simMode !== 'inproc') throw new Error(`--sim: expected child or inproc, got ${JSON.stringify(values.sim)}`);
const only = new Set((values.only ?? '1,2,3,4,5,6,7,8,9,10,11,12').split(',').map((s) => Number(s.trim())));
for (const n of only) if (!(n >= 1 && n <= 12)) throw new Error(`--only: expected numbers 1..12, got ${JSON.stringify(values.only)}`);
const profileDensity = values['profile-density'] as 'busy' | 'in-play' | undefined;
if (profileDensity !== undefined && profileDensity !== 'busy' && profileDensity !== 'in-play') throw new Error(`--profile-density: expected busy or in-play, got ${JSON.stringify(profileDensity)}`);
const datasetWindows = values['dataset-windows'] !== undefined ? Number(values['dataset-windows']) : quick ? 2_000 : 20_000;
if (!Number.isInteger(datasetWindows) || datasetWindows < 100) throw new Error(`--dataset-windows: expected a whole number >= 100, got ${JSON.stringify(values['dataset-windows'])}`);

const S = quick
  ? { warmMs: 3_000, measureMs: 8_000, adaptWarmMs: 6_000, adaptMeasureMs: 10_000, tputWarmMs: 1_500, tputMs: 5_000, bars: 1_000_000, barSymbols: 20, stage1Symbols: 20, resumeEvents: 57_285, profileMs: 6_000, appends: 50, rewrites: 3 }
  : { warmMs: 4_000, measureMs: 20_000, adaptWarmMs: 10_000, adaptMeasureMs: 20_000, tputWarmMs: 2_000, tputMs: 8_000, bars: 10_000_000, barSymbols: 200, stage1Symbols: 100, resumeEvents: RESUME_EVENTS, profileMs: 10_000, appends: 200, rewrites: 10 };

/** One minute either side of the event: cheap requests, so benchmarks 1–2 measure the limiter. */
const SHORT = { beforeMs: 60_000, afterMs: 60_000 } as const;
const results: Record<string, unknown> = { machine: machine(), quick, runs, simMode, settings: S, latency: LATENCY, shortWindow: SHORT };
type Row = [string, string, string, string];
const rows: Row[] = [];
const pct = (x: number, d = 1): string => `${(x * 100).toFixed(d)}%`;
const num = (x: number, d = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const log = (s: string): void => void process.stderr.write(`[bench] ${s}\n`);
const t00 = Date.now();

await withTmp('main', async (dir) => {
  const manifestPath = join(dir, 'quota-manifest.parquet');
  const events = syntheticEvents(30_000, 200);
  writeManifest(manifestPath, events);

  if (only.has(1)) {
    const out: Record<string, unknown> = {};
    // The short window makes each request cheap, so the limiter is what is measured; the 30-minute
    // default at 200/s shows where this machine's CPU (sim + pipeline) caps it instead.
    const configs = [
      { quota: 50, window: SHORT },
      { quota: 200, window: SHORT },
      { quota: 50, window: undefined },
      { quota: 200, window: undefined },
    ];
    for (const { quota, window } of configs) {
      const wMin = window ? (window.beforeMs + window.afterMs) / 60_000 : 30;
      const t: QuotaMeasure[] = [];
      const o: QuotaMeasure[] = [];
      for (let r = 0; r < runs; r++) {
        const setup = { quota, clientRate: quota, adaptive: false, warmMs: S.warmMs, measureMs: S.measureMs, manifestPath, events, simMode, ...(window ? { window } : {}) };
        log(`1 quota ${quota}/s, ${wMin}-min windows, run ${r + 1}/${runs}: tickpipe`);
        t.push(await measureQuota('tickpipe', setup));
        log(`1 quota ${quota}/s, ${wMin}-min windows, run ${r + 1}/${runs}: old design`);
        o.push(await measureQuota('old', setup));
      }
      const use = median(t.map((x) => x.quotaUse));
      const s429 = median(t.map((x) => x.share429));
      const oldUse = median(o.map((x) => x.quotaUse));
      const ratio = median(t.map((x, i) => x.quotaUse / o[i]!.quotaUse));
      out[`quota${quota}_window${wMin}min`] = {
        quota,
        eventWindowMin: wMin,
        tickpipe: { quotaUse: use, share429: s429, eventsPerSec: median(t.map((x) => x.eventsPerSec)), runs: t },
        old: { quotaUse: oldUse, share429: median(o.map((x) => x.share429)), eventsPerSec: median(o.map((x) => x.eventsPerSec)), runs: o },
        ratioToOld: ratio,
      };
      const ok = use >= 0.98 && s429 < 0.01;
      const tag = `1 quota ${quota}/s, ${wMin}-min win`;
      rows.push([tag, `tickpipe use / 429 share (c=${t[0]!.concurrency})`, `${pct(use)} / ${pct(s429, 2)}`, `target ≥98% / <1%: ${ok ? 'met' : 'NOT met'}`]);
      rows.push([tag, 'old design (6 workers, lock+sleep)', `${pct(oldUse)} / ${pct(median(o.map((x) => x.share429)), 2)}`, `tickpipe ÷ old = ${ratio.toFixed(2)}×`]);
      rows.push([tag, 'event windows/s tickpipe vs old', `${num(median(t.map((x) => x.eventsPerSec)), 1)} vs ${num(median(o.map((x) => x.eventsPerSec)), 1)}`, '']);
    }
    results['1_quota'] = out;
  }

  if (only.has(2)) {
    const quota = 100;
    const a: QuotaMeasure[] = [];
    for (let r = 0; r < runs; r++) {
      log(`2 adaptive run ${r + 1}/${runs}`);
      a.push(
        await measureQuota('tickpipe', { quota, clientRate: 2 * quota, adaptive: true, warmMs: S.adaptWarmMs, measureMs: S.adaptMeasureMs, manifestPath, events, simMode, window: SHORT }),
      );
    }
    const use = median(a.map((x) => x.quotaUse));
    const s429 = median(a.map((x) => x.share429));
    results['2_adaptive'] = { quota, clientRate: 2 * quota, quotaUse: use, share429: s429, runs: a };
    rows.push([`2 adaptive`, `quota ${quota}/s, client 200/s adaptive, 2-min win: use / 429`, `${pct(use)} / ${pct(s429, 2)}`, `target ≥90% / <5%: ${use >= 0.9 && s429 < 0.05 ? 'met' : 'NOT met'}`]);
  }

  if (only.has(3)) {
    const out: Record<string, unknown> = {};
    for (const mode of ['child', 'inproc'] as const) {
      const m: ThroughputMeasure[] = [];
      for (let r = 0; r < runs; r++) {
        log(`3 throughput (sim ${mode}) run ${r + 1}/${runs}`);
        m.push(await measureThroughput(events, manifestPath, mode, S.tputWarmMs, S.tputMs));
      }
      const w = median(m.map((x) => x.windowsPerSec));
      const p = median(m.map((x) => x.pipelineReqPerSec));
      const b = median(m.map((x) => x.bareReqPerSec));
      const ratio = median(m.map((x) => x.ratio));
      out[mode] = { windowsPerSec: w, pipelineReqPerSec: p, bareReqPerSec: b, ratio, runs: m };
      rows.push([`3 unlimited (sim ${mode})`, 'windows/s, req/s pipeline vs bare Pool loop', `${num(w)} w/s, ${num(p)} vs ${num(b)} req/s`, `pipeline ÷ bare = ${ratio.toFixed(2)}`]);
    }
    results['3_throughput'] = out;
  }

  if (only.has(4)) {
    const d: DetectMeasure[] = [];
    for (let r = 0; r < runs; r++) {
      log(`4 detection ${S.bars} bars run ${r + 1}/${runs}`);
      d.push(await measureDetect(S.bars, S.barSymbols));
    }
    const s1 = [];
    for (let r = 0; r < runs; r++) {
      log(`4 stage 1 ${S.stage1Symbols} symbols × 1 month run ${r + 1}/${runs}`);
      s1.push(await measureStage1(S.stage1Symbols, '2024-03-01', '2024-03-31', simMode));
    }
    const bps = median(d.map((x) => x.barsPerSec));
    const sps = median(s1.map((x) => x.symbolsPerSec));
    const planBps = median(d.map((x) => x.shared.barsPerSec));
    const oldBps = median(d.map((x) => x.perSymbol.barsPerSec));
    results['4_detection'] = { barsPerSec: bps, sharedPlanBarsPerSec: planBps, perSymbolBarsPerSec: oldBps, detect: d, stage1SymbolsPerSec: sps, stage1: s1 };
    const same = d.every((x) => x.identical) ? 'same events' : 'EVENTS DIFFER';
    // Bars per CPU-second (all threads) beside the wall figure: on a loaded machine the wall figure
    // mostly measures the share of a core the process got.
    const perCpu = (p: (x: (typeof d)[number]) => { cpuSec: number }): string => `${num(median(d.map((x) => x.bars / p(x).cpuSec)))} bars/CPU-s`;
    rows.push(['4 detection', `${num(S.bars)} bars in ${S.barSymbols} symbols (no HTTP), JS kernel`, `${num(bps)} bars/s`, `target ≥5 M: ${bps >= 5e6 ? 'met' : 'NOT met'}; ${perCpu((x) => x.kernel)}`]);
    rows.push(['4 detection', 'same bars, Polars shared plan (before)', `${num(planBps)} bars/s`, `kernel ÷ plan = ${(bps / planBps).toFixed(2)}×, ${same}; ${perCpu((x) => x.shared)}`]);
    rows.push(['4 detection', 'same bars, Polars per-symbol pass', `${num(oldBps)} bars/s`, `kernel ÷ pass = ${(bps / oldBps).toFixed(2)}×; ${perCpu((x) => x.perSymbol)}`]);
    rows.push(['4 stage 1', `${S.stage1Symbols} symbols × 1 month, sim no quota`, `${num(sps, 1)} symbols/s`, `${num(median(s1.map((x) => x.sec)), 1)} s`]);
  }

  if (only.has(5) || only.has(6) || only.has(8)) {
    log(`5/6 building the ${num(S.resumeEvents)}-event fixture`);
    const f = await buildResumeFixture(dir, S.resumeEvents);
    if (only.has(5)) {
      log('5 resume');
      const r = await measureResume(f, runs);
      log('5 commit cost');
      const c = await measureCommit(f, S.appends, S.rewrites);
      results['5_resume'] = { events: S.resumeEvents, variants: r, commit: c };
      const ms = (x: number | null | undefined): string => (typeof x === 'number' ? `${num(x)} ms` : 'n/a');
      rows.push(['5 resume', `load ${num(S.resumeEvents)}-line journal`, ms(r['load-only']?.['loadMs']), `peak RSS ${num(r['load-only']?.['maxRssMB'] ?? NaN)} MB`]);
      rows.push(['5 resume', 'full skip pass (all journaled, start → done)', ms(r['skip-all']?.['totalMs']), `peak RSS ${num(r['skip-all']?.['maxRssMB'] ?? NaN)} MB`]);
      rows.push(['5 resume', '10 new events at the END: start → first request', ms(r['new-end']?.['firstRequestMs']), `peak RSS ${num(r['new-end']?.['maxRssMB'] ?? NaN)} MB`]);
      rows.push(['5 resume', '10 new events at the START: start → first request', ms(r['new-start']?.['firstRequestMs']), `counting pass done at ${ms(r['new-start']?.['startMs'])}`]);
      rows.push(['5 commit', `fsync'd journal append vs JSON checkpoint rewrite (${num(c.ids)} IDs)`, `${c.journalAppendMs.toFixed(2)} ms vs ${num(c.checkpointRewriteMs, 1)} ms`, `${num(c.ratio)}× cheaper`]);
    }
    if (only.has(8)) {
      log('8 resume from the CLI (spawned as a user does)');
      const ms = (x: number): string => (Number.isFinite(x) ? `${num(x)} ms` : 'n/a');
      const csv = await writeCsvManifests(f, S.resumeEvents);
      const r = await measureCliResume(f, csv, runs, !quick);
      results['8_cli_resume'] = { events: S.resumeEvents, variants: r };
      for (const fmt of ['parquet', 'csv'] as const) {
        for (const w of ['warm', 'cold'] as const) {
          const e = r[`${fmt}-new-end-${w}`]!;
          const a = r[`${fmt}-all-done-${w}`]!;
          const okFirst = e.firstRequestMs !== null && e.firstRequestMs < 1000 && e.maxRssMB < 150;
          const okSkip = a.exitMs < 2000 && a.maxRssMB < 150;
          const tag = `8 CLI resume ${fmt} ${w}`;
          rows.push([tag, `10 new at the END: spawn → first request / peak RSS`, `${ms(e.firstRequestMs ?? NaN)} / ${num(e.maxRssMB)} MB`, `target <1 s, <150 MB: ${okFirst ? 'met' : 'NOT met'}`]);
          rows.push([tag, `all done (full skip pass): spawn → exit / peak RSS / CPU`, `${ms(a.exitMs)} / ${num(a.maxRssMB)} MB / ${ms(a.cpuMs)}`, `target <2 s, <150 MB: ${okSkip ? 'met' : 'NOT met'}`]);
        }
      }
      const cd = r['parquet-all-done-warm-compacted'];
      if (cd) rows.push(['8 CLI resume parquet warm', 'all done, compaction on a compacted folder: spawn → exit / RSS / CPU', `${ms(cd.exitMs)} / ${num(cd.maxRssMB)} MB / ${ms(cd.cpuMs)}`, 'every window already compacted (the usual restart)']);
      const c = r['parquet-all-done-warm-compact'];
      if (c) rows.push(['8 CLI resume parquet warm', 'all done, WITH the end-of-run compaction (default): spawn → exit / RSS / CPU', `${ms(c.exitMs)} / ${num(c.maxRssMB)} MB / ${ms(c.cpuMs)}`, 'windows of this fixture have no files (see BENCHMARKS.md)']);
    }
    if (only.has(6)) {
      log('6 memory');
      const m = await measureMemory(f, runs);
      results['6_memory'] = { events: S.resumeEvents, variants: m };
      const p = m['pull']!;
      rows.push(['6 memory', 'streamed manifest + skip + pullMap(64)', `${num(p.maxRssMB)} MB peak RSS`, `${num(p.sec, 1)} s`]);
      for (const v of ['old-mergemap', 'old-closures'] as const) {
        const o = m[v]!;
        rows.push(['6 memory', v === 'old-mergemap' ? 'old: from(all rows) + mergeMap(64)' : 'old: 572,850 task closures + futures, 6 workers', `${num(o.maxRssMB)} MB peak RSS`, `${(o.maxRssMB / p.maxRssMB).toFixed(1)}× tickpipe, ${num(o.sec, 1)} s`]);
      }
    }
  }

  if (only.has(9)) {
    // Issue 16: quota share against a strict (sliding-second) and a tolerant (token-bucket) server,
    // sparse and busy data, default 30-minute windows, 100 ms median latency with a lognormal tail.
    // Dense days are expensive to generate, so the manifest keeps each symbol-day together.
    const denseManifest = join(dir, 'dense-manifest.parquet');
    const denseEvents = syntheticEvents(30_000, 4).sort((a, b) => a.symbol.localeCompare(b.symbol) || a.timestamp - b.timestamp);
    writeManifest(denseManifest, denseEvents);
    const out: Record<string, unknown> = {};
    for (const density of ['sparse', 'busy'] as const) {
      for (const quota of [50, 100]) {
        for (const quotaMode of ['strict', 'tolerant'] as const) {
          const m = await measureQuota('tickpipe', { quota, clientRate: quota, adaptive: false, warmMs: S.warmMs, measureMs: S.measureMs, manifestPath: density === 'sparse' ? manifestPath : denseManifest, events, simMode, quotaMode, density });
          log(`9 ${density} ${quotaMode} ${quota}/s: use ${pct(m.quotaUse)}, 429 ${pct(m.share429, 2)}, loop p99 ${num(m.loopDelayP99Ms ?? NaN, 1)} ms, cpu ${num(m.cpuMsPerRequest ?? NaN, 1)} ms/req, sim ${num(m.simCores ?? NaN, 2)} cores, host busy ${pct(m.hostBusy ?? NaN)} steal ${pct(m.hostSteal ?? NaN)}`);
          out[`${density}_${quotaMode}_${quota}`] = m;
          rows.push([`9 ${quotaMode}`, `${density}, quota ${quota}/s, 30-min win: use / 429 / loop p99`, `${pct(m.quotaUse)} / ${pct(m.share429, 2)} / ${num(m.loopDelayP99Ms ?? NaN, 0)} ms`, `target ≥98% / <1% / ≤50 ms: ${m.quotaUse >= 0.98 && m.share429 < 0.01 && (m.loopDelayP99Ms ?? Infinity) <= 50 ? 'met' : 'NOT met'}`]);
        }
      }
    }
    // --adaptive over a server quota below the client's rate: busy data, 30-minute windows, both modes.
    for (const quotaMode of ['strict', 'tolerant'] as const) {
      const m = await measureQuota('tickpipe', { quota: 50, clientRate: 100, adaptive: true, warmMs: S.adaptWarmMs, measureMs: S.adaptMeasureMs, manifestPath: denseManifest, events, simMode, quotaMode, density: 'busy' });
      log(`9 busy ${quotaMode} 50/s, client 100/s adaptive: use ${pct(m.quotaUse)}, 429 ${pct(m.share429, 2)}, final rate ${num(m.finalRate ?? NaN, 1)}/s`);
      out[`busy_${quotaMode}_50_adaptive_100`] = m;
      rows.push([`9 ${quotaMode}`, `busy, quota 50/s, client 100/s --adaptive, 30-min win: use / 429`, `${pct(m.quotaUse)} / ${pct(m.share429, 2)}`, `target ≥90% / <5%: ${m.quotaUse >= 0.9 && m.share429 < 0.05 ? 'met' : 'NOT met'}`]);
    }
    results['9_strict_quota'] = out;
  }

  if (only.has(10)) {
    const out: Record<string, unknown> = {};
    for (const density of ['sparse', 'busy', 'in-play'] as const) {
      const c = await measureParseCost(density, quick ? 3 : 8);
      log(`10 ${density}: ${num(c.rows)} rows, JSON.parse ${c.jsonParseUsPerRow.toFixed(2)} µs/row, row path ${c.rowPathUsPerRow.toFixed(2)}, column path ${c.columnPathUsPerRow.toFixed(2)}`);
      out[density] = c;
      rows.push([`10 parse ${density}`, `CPU µs/row, pages → frames (${num(c.rows)} rows): column path / row path / bare JSON.parse`, `${c.columnPathUsPerRow.toFixed(2)} / ${c.rowPathUsPerRow.toFixed(2)} / ${c.jsonParseUsPerRow.toFixed(2)}`, `${(c.rowPathUsPerRow / c.columnPathUsPerRow).toFixed(1)}x less than the row path`]);
      rows.push([`10 parse ${density}`, `CPU µs/row, column path + zstd Parquet encoding (one thread)`, c.columnPathParquetUsPerRow.toFixed(2), '']);
    }
    results['10_parse_cost'] = out;
  }

  if (only.has(12)) {
    // Issue 16: wire speed on dense data, default 30-minute windows, no quota, sim in its own process.
    const denseManifest = join(dir, 'wire-manifest.parquet');
    const denseEvents = syntheticEvents(quick ? 2_000 : 10_000, 4).sort((a, b) => a.symbol.localeCompare(b.symbol) || a.timestamp - b.timestamp);
    writeManifest(denseManifest, denseEvents);
    const out: Record<string, unknown> = { loadAvgBefore: loadavg(), uptimeSec: uptime() };
    const us = (x: number): string => x.toFixed(2);
    for (const density of ['busy', 'in-play'] as const) {
      const m = await measureWireSpeed(density, denseManifest, denseEvents, simMode, S.tputWarmMs, S.tputMs);
      const p = m.pipeline;
      const b = m.bare;
      log(`12 ${density}: pipeline ${num(p.windowsPerSec, 1)} w/s ${num(p.reqPerSec)} req/s ${us(p.cpuUsPerRow)} µs/row p99 ${num(p.loopP99Ms, 1)} ms sim ${num(p.simCores, 2)} cores; bare ${num(b.windowsPerSec, 1)} w/s ${num(b.reqPerSec)} req/s ${us(b.cpuUsPerRow)} µs/row p99 ${num(b.loopP99Ms, 1)} ms sim ${num(b.simCores, 2)} cores; host steal ${pct(p.hostSteal ?? NaN)} / ${pct(b.hostSteal ?? NaN)}; load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
      out[density] = m;
      rows.push([`12 wire ${density}`, `client CPU µs/row (all threads): pipeline / bare loop`, `${us(p.cpuUsPerRow)} / ${us(b.cpuUsPerRow)}`, `target ≤2 µs: ${p.cpuUsPerRow <= 2 ? 'met' : 'NOT met'}`]);
      rows.push([`12 wire ${density}`, `windows/s, req/s: pipeline vs bare (ratio)`, `${num(p.windowsPerSec, 1)} vs ${num(b.windowsPerSec, 1)} w/s, ${num(p.reqPerSec)} vs ${num(b.reqPerSec)} req/s`, `${m.windowsRatio.toFixed(2)} / ${m.requestsRatio.toFixed(2)} (target ≥0.8: ${m.windowsRatio >= 0.8 && m.requestsRatio >= 0.8 ? 'met' : 'NOT met'})`]);
      rows.push([`12 wire ${density}`, `event-loop p99; sim CPU (cores of ${m.cores}): pipeline / bare`, `${num(p.loopP99Ms, 1)} ms; ${num(p.simCores, 2)} / ${num(b.simCores, 2)}`, `target ≤50 ms: ${p.loopP99Ms <= 50 ? 'met' : 'NOT met'}`]);
    }
    out['loadAvgAfter'] = loadavg();
    results['12_wire_speed'] = out;
  }

  if (only.has(7)) {
    let profManifest = manifestPath;
    if (profileDensity) {
      // Benchmark 12's manifest (dense symbol-days kept together), so the profile is of its path.
      profManifest = join(dir, 'profile-manifest.parquet');
      writeManifest(profManifest, syntheticEvents(quick ? 2_000 : 10_000, 4).sort((a, b) => a.symbol.localeCompare(b.symbol) || a.timestamp - b.timestamp));
    }
    log(`7 cpu profile of ${profileDensity ? `benchmark 12 (${profileDensity})` : 'benchmark 3'} (sim in a child process)`);
    const p = await profileIngest(profManifest, S.profileMs, profileDensity);
    results['7_profile'] = p;
    const busy = p.totalMs - (p.areas.find((a) => a.name === 'idle')?.ms ?? 0);
    rows.push(['7 profile', `ingest path${profileDensity ? ` (${profileDensity})` : ''}, ${p.windows} windows in ${p.sec} s`, `top area: ${p.areas.filter((a) => a.name !== 'idle')[0]?.name ?? '?'}`, `busy ${pct(busy / p.totalMs)}`]);
    rows.push(['7 profile', 'process CPU (all threads): per window / per row', `${num(p.cpuMs / Math.max(1, p.windows), 1)} ms / ${((p.cpuMs * 1000) / Math.max(1, p.rows)).toFixed(2)} µs`, `${num(p.rows)} rows, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`]);
  }
});

if (only.has(11)) {
  await withTmp('dataset', async (dir) => {
    const d = await measureDataset(dir, datasetWindows, Math.max(1, Math.round(datasetWindows / 100)), log);
    results['11_dataset'] = d;
    rows.push(...datasetRows(d, num));
  });
}

results['elapsedSec'] = (Date.now() - t00) / 1000;
const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length), 4));
const line = (r: readonly string[]): string => r.map((c, i) => c.padEnd(w[i]!)).join(' | ');
console.log(line(['bench', 'figure', 'value', 'comparison']));
console.log(w.map((n) => '-'.repeat(n)).join('-|-'));
for (const r of rows) console.log(line(r));
if (results['7_profile']) {
  const p = results['7_profile'] as Awaited<ReturnType<typeof profileIngest>>;
  console.log('\nCPU profile (self time), by area:');
  for (const a of p.areas.slice(0, 12)) console.log(`  ${pct(a.share).padStart(6)}  ${num(a.ms)} ms  ${a.name}`);
  console.log('top functions:');
  for (const a of p.topFunctions) console.log(`  ${pct(a.share).padStart(6)}  ${num(a.ms)} ms  ${a.name}`);
  const tms = Object.entries(p.threadMs ?? {}).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
  if (tms.length > 0) console.log(`CPU by OS thread name (ms per window): ${tms.map(([k, v]) => `${k} ${(v / Math.max(1, p.windows)).toFixed(2)}`).join(', ')}`);
  if (p.threads.length > 1) {
    for (const t of p.threads) {
      const idle = t.areas.find((a) => a.name === 'idle')?.ms ?? 0;
      console.log(`\nthread ${t.file}: ${num(t.totalMs - idle)} ms busy of ${num(t.totalMs)} ms`);
      for (const a of t.areas.filter((x) => x.name !== 'idle').slice(0, 8)) console.log(`  ${num(a.ms).padStart(7)} ms  ${a.name}`);
      for (const a of t.topFunctions.filter((x) => !x.name.startsWith('(idle)')).slice(0, 12)) console.log(`  ${num(a.ms).padStart(7)} ms  ${a.name}`);
    }
  }
}
results['table'] = rows;
const datasetOnly = only.size === 1 && only.has(11);
const file = fileURLToPath(new URL(datasetOnly ? '../../../bench/results-dataset.json' : quick ? '../../../bench/results-quick.json' : '../../../bench/results.json', import.meta.url));
await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\n${(results['elapsedSec'] as number).toFixed(0)} s; results written to ${file}`);
