#!/usr/bin/env node
/**
 * Kill soak: the full `tickpipe run` against a faulty simulator running as its own process, killed
 * with SIGKILL at random moments N times, restarted each time with a random --workers (1–6) and
 * --concurrency, then run to completion and checked file by file against the simulator's own data
 * (bench/soak-verify.js) and, when present, `tickpipe verify --json`.
 *
 * Plain ESM over the built `dist/` (no compile step of its own): `npm run soak` builds first.
 *
 * Usage: node bench/soak.js [--kills 25] [--seed 1] [--rate 25/s] [--symbols 10] [--from 2024-03-04]
 *                           [--to 2024-03-15] [--out DIR] [--keep] [--json] [--quiet]
 * Exit status 0 when every check passed, 1 otherwise, 2 for bad flags.
 *
 * "Redone" is measured, not estimated: after every kill (process dead, before the restart) the
 * run folder is scanned; a window whose two files are published but whose journal line is not
 * durable will be downloaded again by the next run (a restart skips journaled windows only), so
 * each distinct such published copy, keyed by (event, inode, mtime) of trades.parquet, is one
 * redundant download. Likewise for stage 1, symbols inside shard files not named by any journal
 * line (moved aside and detected again). Work lost in flight (requests sent, nothing published) is
 * not counted: it was never complete.
 *
 * @example
 * ```sh
 * npm run soak -- --kills 25 --seed 3
 * ```
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pl from 'nodejs-polars';
import { readShardJournals } from '../dist/sinks/index.js';
import { verifyRunFolder } from './soak-verify.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const BIN = join(ROOT, 'bin', 'tickpipe.js');
const KEY = 'soak-key-0123456789';
const TICKERS = ['AAPL', 'MSFT', 'NVDA', 'AMD', 'TSLA', 'AMZN', 'GOOG', 'META', 'NFLX', 'INTC', 'ORCL', 'CSCO', 'ADBE', 'CRM', 'QCOM', 'TXN', 'AVGO', 'MU', 'IBM', 'SHOP'];

function usage(msg) {
  process.stderr.write(`soak: ${msg}\n`);
  process.exit(2);
}

function intFlag(name, raw, dflt, min, max) {
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) usage(`--${name}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(raw)} (string)`);
  return n;
}

/** mulberry32: a seeded PRNG so a soak can be replayed with --seed. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The environment minus a developer's real key: the soak talks to the simulator only. */
function withoutKey() {
  const env = { ...process.env };
  delete env.POLYGON_API_KEY;
  return env;
}

/** Starts `node bin/tickpipe.js ...args`, collecting output. */
function start(args) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: withoutKey() });
  const p = { child, stdout: '', stderr: '', exited: false, code: null, signal: null };
  child.stdout.setEncoding('utf8').on('data', (d) => (p.stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (p.stderr += d));
  p.done = new Promise((res) =>
    child.on('close', (code, signal) => {
      p.exited = true;
      p.code = code;
      p.signal = signal;
      res(p);
    }),
  );
  return p;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(p, re, ms) {
  const until = Date.now() + ms;
  while (!re.test(p.stdout + p.stderr)) {
    if (p.exited || Date.now() > until) return false;
    await sleep(10);
  }
  return true;
}

/** Which stage the process was in, from its plain progress lines. */
function phaseOf(p) {
  const text = p.stderr;
  if (/\ningest: |^ingest: /.test(text)) return 'ingest';
  if (/consolidated \d+ events/.test(text)) return 'consolidate';
  if (/detect: \d+ symbols owned/.test(text)) return 'detect';
  return 'startup';
}

/** Scans the run folder after a kill: published-but-unjournaled windows and shards (see the module comment). */
async function snapshot(out, seenWindows, seenShards) {
  let windowsRedone = 0;
  let partialWindows = 0;
  let symbolsRedone = 0;
  const journaled = new Set();
  const ingestDir = join(out, 'state', 'ingest');
  if (existsSync(ingestDir)) {
    for (const n of readdirSync(ingestDir)) {
      if (!/^part-\d+\.jsonl$/.test(n)) continue;
      for (const line of readFileSync(join(ingestDir, n), 'utf8').split('\n')) {
        try {
          journaled.add(JSON.parse(line).event);
        } catch {
          // a torn tail: not durable, so not journaled
        }
      }
    }
  }
  const winRoot = join(out, 'windows');
  for (const sd of existsSync(winRoot) ? readdirSync(winRoot) : []) {
    for (const ed of readdirSync(join(winRoot, sd))) {
      const id = ed.replace(/^event=/, '');
      if (journaled.has(id)) continue;
      const dir = join(winRoot, sd, ed);
      const t = join(dir, 'trades.parquet');
      const hasT = existsSync(t);
      const hasQ = existsSync(join(dir, 'quotes.parquet'));
      if (hasT && hasQ) {
        const st = statSync(t, { bigint: true });
        const key = `${id}|${st.ino}|${st.mtimeNs}`;
        if (!seenWindows.has(key)) (seenWindows.add(key), windowsRedone++);
      } else if (hasT || hasQ) partialWindows++;
    }
  }
  const named = new Set();
  for (const { worker, lines } of await readShardJournals(out)) for (const l of lines) if (l.shard) named.add(`worker-${worker}/${l.shard}`);
  const shardRoot = join(out, 'events', 'shards');
  for (const wd of existsSync(shardRoot) ? readdirSync(shardRoot) : []) {
    if (!/^worker-\d+$/.test(wd)) continue;
    for (const f of readdirSync(join(shardRoot, wd))) {
      if (!/^shard-\d{6}\.parquet$/.test(f) || named.has(`${wd}/${f}`)) continue;
      const path = join(shardRoot, wd, f);
      const st = statSync(path, { bigint: true });
      const key = `${wd}/${f}|${st.ino}|${st.mtimeNs}`;
      if (seenShards.has(key)) continue;
      seenShards.add(key);
      try {
        symbolsRedone += new Set(pl.readParquet(path).getColumn('symbol').toArray()).size;
      } catch {
        symbolsRedone += 1; // an unreadable uncommitted shard: at least one symbol redone
      }
    }
  }
  return { windowsRedone, partialWindows, symbolsRedone };
}

/** `tickpipe verify --out DIR --json` parsed, or undefined when its output is not JSON. */
async function verifyJson(out) {
  const v = start(['verify', '--out', out, '--json']);
  await v.done;
  try {
    return { code: v.code, json: JSON.parse(v.stdout) };
  } catch {
    return { code: v.code, json: undefined, text: (v.stdout + v.stderr).slice(0, 2000) };
  }
}

/**
 * The colleague-owned `verify` command, when this build has it. SIGKILL leaves `*.tmp-*` files of
 * interrupted publishes (never read; the design leaves them to `clean`), which verify lists as
 * `orphan-tmp`: when that is its only finding, `clean` runs and verify must then be clean.
 */
async function runVerifyCommand(out) {
  const help = start(['--help']);
  await help.done;
  if (!/^\s+verify\s/m.test(help.stdout)) return { available: false };
  const first = await verifyJson(out);
  const kinds = Object.keys(first.json?.problems ?? {});
  const tmpLeftovers = first.json?.problems?.['orphan-tmp']?.count ?? 0;
  if (first.json?.ok === true) return { available: true, ok: true, tmpLeftovers: 0, output: first.json };
  if (!(kinds.length === 1 && kinds[0] === 'orphan-tmp' && /^\s+clean\s/m.test(help.stdout))) {
    return { available: true, ok: false, code: first.code, output: first.json ?? first.text };
  }
  const clean = start(['clean', '--out', out]);
  await clean.done;
  const second = await verifyJson(out);
  return { available: true, ok: second.json?.ok === true, tmpLeftovers, cleanExit: clean.code, code: second.code, output: second.json ?? second.text };
}

async function main() {
  const { values } = parseArgs({
    options: {
      kills: { type: 'string' },
      rate: { type: 'string' },
      seed: { type: 'string' },
      symbols: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      out: { type: 'string' },
      keep: { type: 'boolean' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean' },
      'data-faults': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write('Usage: node bench/soak.js [--kills 25] [--seed 1] [--rate 25/s] [--symbols 10] [--from 2024-03-04] [--to 2024-03-15] [--out DIR] [--keep] [--json] [--quiet] [--data-faults on|off]\n');
    return 0;
  }
  const kills = intFlag('kills', values.kills, 25, 0, 10_000);
  const seed = intFlag('seed', values.seed, 1, 0, 2 ** 31 - 1);
  const nSymbols = intFlag('symbols', values.symbols, 10, 1, TICKERS.length);
  const from = values.from ?? '2024-03-04';
  const to = values.to ?? '2024-03-15';
  // The client's rate; a short soak lowers it so that every kill lands while work remains.
  const clientRate = values.rate ?? '25/s';
  if (!/^\d{4}-\d{2}-\d{2}$/.test(from) || !/^\d{4}-\d{2}-\d{2}$/.test(to)) usage(`--from/--to: expected YYYY-MM-DD, got ${JSON.stringify(from)} and ${JSON.stringify(to)}`);
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) usage('dist/ is missing: run `npm run build` first');
  const say = values.quiet ? () => {} : (m) => process.stderr.write(`${m}\n`);
  const dataFaults = (values['data-faults'] ?? 'on') === 'on';
  if (!['on', 'off', undefined].includes(values['data-faults'])) usage(`--data-faults: expected on or off, got ${JSON.stringify(values['data-faults'])}`);

  const rnd = prng(seed);
  const work = values.out ? resolve(values.out) : mkdtempSync(join(tmpdir(), 'tickpipe-soak-'));
  mkdirSync(work, { recursive: true });
  const out = join(work, 'run');
  if (existsSync(out)) usage(`${out} exists: pass an --out folder without a previous soak run`);
  const symbols = TICKERS.slice(0, nSymbols).sort();
  // Data faults (issue 15): 1% of replies are 200 with a "status":"ERROR" body (retried, never
  // committed as empty), and one ticker's trades carry a sip_timestamp beyond Int64: its windows,
  // and only they, must end in the failure journal.
  const poison = dataFaults && symbols.length > 1 ? symbols[symbols.length - 1] : undefined;
  const universe = join(work, 'universe.txt');
  writeFileSync(universe, `${symbols.join('\n')}\n`);
  const t0 = Date.now();

  const sim = start(['sim', '--port', '0', '--seed', String(seed), '--rate', '200/s', '--latency', '5ms..60ms', '--error-rate', '0.02', '--reset-rate', '0.01', '--truncate-rate', '0.01', '--api-key', KEY, ...(dataFaults ? ['--error-body-rate', '0.01'] : []), ...(poison ? ['--poison-trades', poison] : [])]);
  if (!(await waitFor(sim, /listening on http:\/\/\S+/, 30_000))) throw new Error(`the simulator did not start: ${sim.stderr}`);
  const url = /listening on (http:\/\/\S+)/.exec(sim.stdout)[1];
  say(`soak: simulator ${url} (seed ${seed}), run folder ${out}, ${symbols.length} symbols ${from}..${to}, ${kills} kills`);

  const runArgs = (workers, concurrency) => ['run', '--universe', universe, '--from', from, '--to', to, '--out', out, '--base-url', url, '--api-key', KEY, '--rate', clientRate, '--workers', String(workers), '--concurrency', String(concurrency), '--no-progress'];
  const CONC = [1, 2, 4, 8, 16, 32, 64];
  const phases = { startup: 0, detect: 0, consolidate: 0, ingest: 0 };
  const seenWindows = new Set();
  const seenShards = new Set();
  let windowsRedone = 0;
  let partialWindows = 0;
  let symbolsRedone = 0;
  let killed = 0;
  let finishedBeforeKill = 0;
  let failedRuns = 0;
  const outputs = [];
  try {
    for (let attempt = 0; killed < kills && attempt < kills * 3; attempt++) {
      const workers = 1 + Math.floor(rnd() * 6);
      const concurrency = CONC[Math.floor(rnd() * CONC.length)];
      const p = start(runArgs(workers, concurrency));
      // 40% of the kills land at any moment from spawn (startup, locks, run.json, preflight, detect),
      // the rest once the run reported progress (deep in detect or ingest).
      if (rnd() < 0.4) await sleep(50 + rnd() * 2500);
      else {
        await waitFor(p, /(detect: \d+ symbols owned|ingest: \d+ events)/, 60_000);
        await sleep(rnd() * 3000);
      }
      const phase = phaseOf(p);
      if (!p.exited) p.child.kill('SIGKILL');
      await p.done;
      outputs.push(p.stdout + p.stderr);
      if (p.signal === 'SIGKILL') {
        killed++;
        phases[phase]++;
      } else if (p.code === 0 || (poison !== undefined && p.code === 1)) finishedBeforeKill++; // 1: the poisoned windows failed
      else {
        failedRuns++;
        say(`soak: run ${attempt + 1} exited ${p.code} before the kill: ${p.stderr.trim().split('\n').slice(-2).join(' | ')}`);
      }
      const s = await snapshot(out, seenWindows, seenShards);
      windowsRedone += s.windowsRedone;
      partialWindows += s.partialWindows;
      symbolsRedone += s.symbolsRedone;
      say(`soak: #${attempt + 1} workers ${workers} concurrency ${concurrency}: ${p.signal === 'SIGKILL' ? `killed in ${phase}` : `exited ${p.code}`} (redone so far: ${windowsRedone} windows, ${symbolsRedone} symbols)`);
    }

    const workers = 1 + Math.floor(rnd() * 6);
    const final = start(runArgs(workers, 16));
    await final.done;
    outputs.push(final.stdout + final.stderr);
    say(`soak: final run (workers ${workers}) exited ${final.code}`);
    const summary = final.stdout.trim().split('\n').slice(-8).join('\n');

    const report = await verifyRunFolder({ out, seed, symbols });
    const verifyCmd = await runVerifyCommand(out);
    const failures = failureEntries(out);
    const notPoisoned = failures.filter((f) => f.symbol !== poison);
    for (const f of notPoisoned) report.problems.push(`ingest: window ${f.event} of ${f.symbol} in the failure journal (${f.code}: ${f.reason.slice(0, 120)})`);
    if (poison && failures.length === 0) report.problems.push(`ingest: no window of the poisoned ticker ${poison} in the failure journal`);
    const wantFinal = failures.length > 0 ? 1 : 0;
    const dup = dataFaults ? await duplicateManifestPhase({ work, url, out, rnd, poison, say }) : undefined;
    if (dup) outputs.push(...dup.outputs);
    const keyLeaks = outputs.filter((o) => o.includes(KEY)).length;
    const result = {
      ok: report.problems.length === 0 && final.code === wantFinal && (!verifyCmd.available || verifyCmd.ok) && keyLeaks === 0 && failedRuns === 0 && (!dup || dup.ok),
      seed,
      symbols: symbols.length,
      from,
      to,
      killsRequested: kills,
      killsSurvived: killed,
      killsByPhase: phases,
      finishedBeforeKill,
      failedRuns,
      finalExit: final.code,
      windowsRedone,
      partialWindowsAtKills: partialWindows,
      symbolsRedone,
      duplicates: report.detect.symbolsTwice + report.detect.duplicateEventRows + report.ingest.journaledTwice,
      lost: report.detect.symbolsMissing + report.ingest.lost,
      failedWindows: report.ingest.failed,
      poisoned: poison,
      failedNotPoisoned: notPoisoned.length,
      duplicateManifest: dup ? { ok: dup.ok, rows: dup.rows, unique: dup.unique, journaled: dup.journaled, failed: dup.failed, problems: dup.problems } : undefined,
      corrupt: report.detect.corruptShards + report.ingest.corruptFiles + report.ingest.mismatchedWindows,
      orphanWindows: report.ingest.orphanWindows,
      events: report.detect.manifestEvents,
      windows: report.ingest.journaled,
      trades: report.ingest.trades,
      quotes: report.ingest.quotes,
      keyLeaks,
      verifyCommand: verifyCmd,
      problems: report.problems,
      wallSec: Math.round((Date.now() - t0) / 1000),
      summary,
    };
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      const rows = [
        ['kills survived', `${killed} of ${kills} (startup ${phases.startup}, detect ${phases.detect}, consolidate ${phases.consolidate}, ingest ${phases.ingest}; ${finishedBeforeKill} runs finished before their kill)`],
        ['items redone', `${windowsRedone} windows of ${report.ingest.journaled}, ${symbolsRedone} symbols of ${symbols.length} (published but not yet journaled at a kill)`],
        ['duplicates', String(result.duplicates)],
        ['lost items', String(result.lost)],
        ['corrupt files', String(result.corrupt)],
        ['failed windows', `${result.failedWindows}${poison ? ` (poisoned ${poison}: ${failures.length - notPoisoned.length}, others: ${notPoisoned.length})` : ''}`],
        ...(dup ? [['duplicate manifest', `${dup.rows} rows (${dup.unique} events, each twice) ingested with a kill at concurrency 64: ${dup.journaled} journaled once, ${dup.failed} failed (poisoned), ${dup.ok ? 'ok' : `NOT ok: ${dup.problems.join('; ')}`}`]] : []),
        [
          'verify command',
          !verifyCmd.available
            ? 'not available (independent checks only)'
            : verifyCmd.ok
              ? `clean${verifyCmd.tmpLeftovers ? ` (after \`tickpipe clean\` removed ${verifyCmd.tmpLeftovers} tmp leftovers of killed publishes)` : ''}`
              : `NOT clean: ${JSON.stringify(verifyCmd.output).slice(0, 400)}`,
        ],
        ['key in output', String(keyLeaks)],
        ['events / windows', `${report.detect.manifestEvents} / ${report.ingest.journaled} (trades ${report.ingest.trades}, quotes ${report.ingest.quotes}, all equal to the simulator)`],
        ['wall time', `${result.wallSec} s`],
      ];
      const w = Math.max(...rows.map((r) => r[0].length));
      process.stdout.write(`\n${rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n')}\n`);
      if (report.problems.length) process.stdout.write(`problems:\n  ${report.problems.join('\n  ')}\n`);
      process.stdout.write(result.ok ? 'soak: PASS\n' : 'soak: FAIL\n');
    }
    return result.ok ? 0 : 1;
  } finally {
    sim.child.kill('SIGTERM');
    await sim.done;
    if (!values.keep && !values.out) rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`soak: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);

/** Every entry of the failure journals not later completed. */
function failureEntries(out) {
  const dir = join(out, 'state', 'ingest');
  if (!existsSync(dir)) return [];
  const done = new Set();
  const failed = new Map();
  const lines = (f) => readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => l.trim() !== '').flatMap((l) => { try { return [JSON.parse(l)]; } catch { return []; } });
  for (const f of readdirSync(dir).filter((x) => /^part-\d+\.jsonl$/.test(x))) for (const e of lines(f)) done.add(e.event);
  for (const f of readdirSync(dir).filter((x) => /^part-\d+\.failed\.jsonl$/.test(x))) for (const e of lines(f)) if (!done.has(e.event)) failed.set(e.event, e);
  return [...failed.values()];
}

/**
 * Duplicate manifest rows (issue 15): the soak's manifest written with every event twice (the same
 * instant as `…Z` and as `…+00:00`), ingested into a fresh folder at concurrency 64, killed once,
 * then run to the end. Every event must be journaled exactly once (or failed, if poisoned), the run
 * must never abort (ENOENT of a swept tmp), and `tickpipe verify` must be clean.
 */
async function duplicateManifestPhase({ work, url, out, rnd, poison, say }) {
  const events = pl.readParquet(join(out, 'events', 'events.parquet')).head(60);
  const sym = events.getColumn('symbol').toArray();
  const et = events.getColumn('event_type').toArray();
  const ts = events.getColumn('timestamp').toArray().map((d) => new Date(d).toISOString().replace('.000Z', 'Z'));
  const rows = [];
  for (let i = 0; i < events.height; i++) rows.push(`${sym[i]},${et[i]},${ts[i]}`, `${sym[i]},${et[i]},${ts[i].replace('Z', '+00:00')}`);
  const manifest = join(work, 'dup-manifest.csv');
  writeFileSync(manifest, `symbol,event_type,timestamp\n${rows.join('\n')}\n`);
  const out2 = join(work, 'dup-run');
  const args = ['run', '--stage', 'ingest', '--manifest', manifest, '--out', out2, '--base-url', url, '--api-key', KEY, '--rate', '100/s', '--concurrency', '64', '--no-progress'];
  const outputs = [];
  const problems = [];
  const first = start(args);
  await waitFor(first, /ingest: \d+ events/, 60_000);
  await sleep(rnd() * 1500);
  if (!first.exited) first.child.kill('SIGKILL');
  await first.done;
  outputs.push(first.stdout + first.stderr);
  const last = start(args);
  await last.done;
  outputs.push(last.stdout + last.stderr);
  for (const o of outputs) if (/ENOENT/.test(o)) problems.push(`a run printed ENOENT: ${o.split('\n').find((l) => /ENOENT/.test(l))}`);
  const dir = join(out2, 'state', 'ingest');
  const journaled = [];
  for (const f of readdirSync(dir).filter((x) => /^part-\d+\.jsonl$/.test(x))) {
    for (const l of readFileSync(join(dir, f), 'utf8').split('\n')) if (l.trim()) journaled.push(JSON.parse(l).event);
  }
  const once = new Set(journaled);
  if (once.size !== journaled.length) problems.push(`${journaled.length - once.size} event(s) journaled twice`);
  const failed = failureEntries(out2);
  for (const f of failed) if (f.symbol !== poison) problems.push(`${f.event} failed: ${f.reason.slice(0, 120)}`);
  if (once.size + failed.length !== events.height) problems.push(`${events.height} events, ${once.size} journaled + ${failed.length} failed`);
  const want = failed.length > 0 ? 1 : 0;
  if (last.code !== want) problems.push(`the last run exited ${last.code}, expected ${want}: ${last.stderr.trim().split('\n').slice(-2).join(' | ')}`);
  const v = await runVerifyCommand(out2);
  if (v.available && !v.ok) problems.push(`verify: ${JSON.stringify(v.output).slice(0, 300)}`);
  say(`soak: duplicate manifest: ${rows.length} rows, ${once.size} journaled, ${failed.length} failed${problems.length ? `; PROBLEMS: ${problems.join('; ')}` : ''}`);
  return { ok: problems.length === 0, rows: rows.length, unique: events.height, journaled: once.size, failed: failed.length, problems, outputs };
}
