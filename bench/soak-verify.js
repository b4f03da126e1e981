/**
 * Independent checks of a finished run folder against the simulator's own data, for the kill soak
 * (plain ESM over the built `dist/`; run `npm run build` first).
 *
 * It re-derives everything from the files, trusting neither the run's summary nor a verify command:
 * - stage 1: every universe symbol journaled exactly once across all worker journals; every
 *   committed shard opens and holds the rows its journal line says; no (symbol, event_type,
 *   timestamp) row in two committed shards; events/events.parquet is their de-duplicated union;
 * - stage 2: every manifest event journaled exactly once (or failed); both files of every journaled
 *   window open with the journaled row counts; trades equal `simTrades(seed, symbol, t-before,
 *   t+after)` exactly (count and every sip_timestamp, price, size); quotes equal `simQuotes` of the
 *   window downsampled to the last quote of each bucket; no window folder outside the manifest.
 *
 * @example
 * ```js
 * import { verifyRunFolder } from './soak-verify.js';
 * const report = await verifyRunFolder({ out: '/tmp/run', seed: 7, symbols: ['AAPL'] });
 * if (!report.ok) console.error(report.problems);
 * ```
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { simQuotes, simTrades } from '../dist/sim/index.js';
import { committedShards, int64Values, loadJournal, readShardJournals } from '../dist/sinks/index.js';
import { readManifest } from '../dist/streams/manifest.js';

const NS_PER_MS = 1_000_000n;

/**
 * @typedef {object} VerifyOptions
 * @property {string} out run folder
 * @property {number} seed simulator seed the run downloaded from
 * @property {readonly string[]} symbols the universe (sorted, de-duplicated)
 * @property {{ beforeMs: number, afterMs: number }} [window] @default { beforeMs: 600000, afterMs: 1200000 }
 * @property {number} [quotesHz] @default 1
 * @property {number} [maxProblems] problems listed in full @default 20
 * @property {{ simTrades: typeof simTrades, simQuotes: typeof simQuotes }} [truth] the simulator's data
 *   functions; pass the ones of the server that served the run when it is not `dist/sim` (an
 *   in-process `src/sim` in tests) @default dist/sim's
 */

/**
 * @typedef {object} VerifyReport
 * @property {boolean} ok
 * @property {string[]} problems first `maxProblems` problems, one line each
 * @property {number} problemCount
 * @property {{ symbolsJournaled: number, symbolsTwice: number, symbolsMissing: number, shards: number, shardRows: number, duplicateEventRows: number, manifestEvents: number, corruptShards: number }} detect
 * @property {{ journaled: number, journaledTwice: number, failed: number, lost: number, corruptFiles: number, mismatchedWindows: number, orphanWindows: number, tmpLeftovers: number, trades: number, quotes: number }} ingest
 */

/** Last quote of each epoch-aligned bucket of 1e9/hz ns (what the pipeline keeps). */
function downsample(quotes, hz) {
  if (hz === 0) return quotes;
  const bucket = BigInt(Math.round(1e9 / hz));
  const out = [];
  let held;
  let heldBucket = 0n;
  for (const q of quotes) {
    const b = q.sip_timestamp / bucket; // timestamps are positive: truncation is floor
    if (held !== undefined && b !== heldBucket) out.push(held);
    held = q;
    heldBucket = b;
  }
  if (held !== undefined) out.push(held);
  return out;
}

/** Reads a Parquet file, or returns the error text. */
function open(path) {
  try {
    return { df: pl.readParquet(path) };
  } catch (err) {
    return { error: String(err?.message ?? err).split('\n')[0] };
  }
}

/**
 * Checks a finished run folder (see the module comment).
 * @param {VerifyOptions} opts
 * @returns {Promise<VerifyReport>}
 */
export async function verifyRunFolder(opts) {
  const { out, seed, symbols } = opts;
  const window = opts.window ?? { beforeMs: 600_000, afterMs: 1_200_000 };
  const hz = opts.quotesHz ?? 1;
  const maxProblems = opts.maxProblems ?? 20;
  const truth = opts.truth ?? { simTrades, simQuotes };
  const problems = [];
  let problemCount = 0;
  const problem = (msg) => {
    problemCount++;
    if (problems.length < maxProblems) problems.push(msg);
  };

  // ---- stage 1
  const journals = await readShardJournals(out);
  const symbolCount = new Map();
  for (const { lines } of journals) for (const l of lines) for (const s of l.symbols) symbolCount.set(s, (symbolCount.get(s) ?? 0) + 1);
  let symbolsTwice = 0;
  for (const [s, n] of symbolCount) if (n > 1) (symbolsTwice++, problem(`detect: symbol ${s} journaled ${n} times`));
  let symbolsMissing = 0;
  for (const s of symbols) if (!symbolCount.has(s)) (symbolsMissing++, problem(`detect: symbol ${s} never journaled (lost)`));
  for (const s of symbolCount.keys()) if (!symbols.includes(s)) problem(`detect: symbol ${s} journaled but not in the universe`);

  const shards = await committedShards(out);
  let shardRows = 0;
  let corruptShards = 0;
  const eventKeys = new Map();
  let duplicateEventRows = 0;
  for (const s of shards) {
    const r = open(s.path);
    if (r.error) {
      corruptShards++;
      problem(`detect: committed shard ${s.path} does not open: ${r.error}`);
      continue;
    }
    if (r.df.height !== s.rows) (corruptShards++, problem(`detect: ${s.path} has ${r.df.height} rows, journal says ${s.rows}`));
    shardRows += r.df.height;
    const sym = r.df.getColumn('symbol').toArray();
    const typ = r.df.getColumn('event_type').toArray();
    const ts = r.df.getColumn('timestamp').cast(pl.Utf8).toArray();
    for (let i = 0; i < r.df.height; i++) {
      const k = `${sym[i]}|${typ[i]}|${ts[i]}`;
      if (eventKeys.has(k)) (duplicateEventRows++, problem(`detect: event row ${k} in ${eventKeys.get(k)} and ${s.path}`));
      else eventKeys.set(k, s.path);
    }
  }

  const manifestPath = join(out, 'events', 'events.parquet');
  const manifest = [];
  if (!existsSync(manifestPath)) problem('manifest: events/events.parquet missing');
  else {
    const r = open(manifestPath);
    if (r.error) problem(`manifest: events/events.parquet does not open: ${r.error}`);
    else if (r.df.height !== eventKeys.size) problem(`manifest: ${r.df.height} events, committed shards hold ${eventKeys.size} distinct events`);
    if (!r.error) for await (const e of readManifest(manifestPath)) manifest.push(e);
  }

  // ---- stage 2
  const ingestDir = join(out, 'state', 'ingest');
  const names = existsSync(ingestDir) ? readdirSync(ingestDir).sort() : [];
  const journaled = new Map();
  let journaledTwice = 0;
  for (const n of names.filter((x) => /^part-\d+\.jsonl$/.test(x))) {
    const { entries } = await loadJournal(join(ingestDir, n));
    for (const e of entries) {
      if (journaled.has(e.event)) (journaledTwice++, problem(`ingest: window ${e.event} journaled twice`));
      else journaled.set(e.event, e);
    }
  }
  const failed = new Set();
  for (const n of names.filter((x) => /^part-\d+\.failed\.jsonl$/.test(x))) {
    const { entries } = await loadJournal(join(ingestDir, n));
    for (const e of entries) if (!journaled.has(e.event)) failed.add(e.event);
  }

  const byId = new Map(manifest.map((e) => [e.eventId, e]));
  let lost = 0;
  for (const e of manifest) if (!journaled.has(e.eventId) && !failed.has(e.eventId)) (lost++, problem(`ingest: event ${e.eventId} neither complete nor failed (lost)`));
  for (const id of journaled.keys()) if (!byId.has(id)) problem(`ingest: journaled window ${id} is not in the manifest`);

  let corruptFiles = 0;
  let mismatchedWindows = 0;
  let trades = 0;
  let quotes = 0;
  for (const [id, line] of journaled) {
    const e = byId.get(id);
    if (!e) continue;
    const dir = join(out, 'windows', `symbol=${e.symbol}`, `event=${id}`);
    const t = open(join(dir, 'trades.parquet'));
    const q = open(join(dir, 'quotes.parquet'));
    if (t.error || q.error) {
      corruptFiles += (t.error ? 1 : 0) + (q.error ? 1 : 0);
      problem(`ingest: window ${id}: ${t.error ?? q.error}`);
      continue;
    }
    if (t.df.height !== line.trades || q.df.height !== line.quotes) {
      corruptFiles++;
      problem(`ingest: window ${id} has ${t.df.height}/${q.df.height} rows, journal says ${line.trades}/${line.quotes}`);
    }
    trades += t.df.height;
    quotes += q.df.height;
    const gte = BigInt(e.timestampMs - window.beforeMs) * NS_PER_MS;
    const lte = BigInt(e.timestampMs + window.afterMs) * NS_PER_MS;
    const want = truth.simTrades(seed, e.symbol, gte, lte);
    const ts = int64Values(t.df, 'sip_timestamp');
    const price = t.df.getColumn('price').toArray();
    const size = t.df.getColumn('size').toArray();
    let bad = want.length !== t.df.height ? `trades: ${t.df.height} rows, the simulator has ${want.length}` : undefined;
    for (let i = 0; !bad && i < want.length; i++) {
      if (ts[i] !== want[i].sip_timestamp || price[i] !== want[i].price || size[i] !== want[i].size) bad = `trade ${i} differs from the simulator`;
    }
    const wantQ = downsample(truth.simQuotes(seed, e.symbol, gte, lte), hz);
    const qts = int64Values(q.df, 'sip_timestamp');
    const bid = q.df.getColumn('bid_price').toArray();
    if (!bad && wantQ.length !== q.df.height) bad = `quotes: ${q.df.height} rows, the simulator downsampled has ${wantQ.length}`;
    for (let i = 0; !bad && i < wantQ.length; i++) {
      if (qts[i] !== wantQ[i].sip_timestamp || bid[i] !== wantQ[i].bid_price) bad = `quote ${i} differs from the simulator`;
    }
    if (bad) (mismatchedWindows++, problem(`ingest: window ${id}: ${bad}`));
  }

  let orphanWindows = 0;
  let tmpLeftovers = 0;
  const winRoot = join(out, 'windows');
  for (const sd of existsSync(winRoot) ? readdirSync(winRoot) : []) {
    for (const ed of readdirSync(join(winRoot, sd))) {
      const id = ed.replace(/^event=/, '');
      const files = readdirSync(join(winRoot, sd, ed));
      tmpLeftovers += files.filter((f) => /\.tmp-[0-9a-f]{12}$/.test(f)).length;
      const finals = files.filter((f) => f === 'trades.parquet' || f === 'quotes.parquet');
      if (!journaled.has(id) && finals.length > 0) (orphanWindows++, problem(`ingest: ${sd}/${ed} has ${finals.join('+')} but is not journaled`));
    }
  }

  return {
    ok: problemCount === 0,
    problems,
    problemCount,
    detect: {
      symbolsJournaled: symbolCount.size,
      symbolsTwice,
      symbolsMissing,
      shards: shards.length,
      shardRows,
      duplicateEventRows,
      manifestEvents: manifest.length,
      corruptShards,
    },
    ingest: { journaled: journaled.size, journaledTwice, failed: failed.size, lost, corruptFiles, mismatchedWindows, orphanWindows, tmpLeftovers, trades, quotes },
  };
}
