/**
 * Benchmark 11: the compacted dataset against the per-window files it is built from.
 *
 * Windows are generated directly as Parquet files (deterministic, no HTTP): `symbols` symbols with
 * `windows / symbols` events each; 3 of 64 windows are busy (2,000–6,000 trades, 10,000–40,000
 * quotes, as an in-play small cap with `--quotes-hz 0`), the rest light (50–800 trades, 200–1,800
 * quotes). Each window file is a byte copy of one of 512 deterministic template files (window w
 * uses template 7w mod 512), so generating 40,000 files costs copies, not Polars writes; no two
 * windows of one symbol share a template within 512 windows, so compression gains nothing from
 * repeats. (Timestamps are the template's, not the event's: the queries do not read them.) Then, in one run: the same two DuckDB queries over `windows/` and over `dataset/`
 * (count and sum(size) by symbol; a join to events.parquet on the event ID), the size on disk of
 * both, compaction time and peak RSS (in a child process), and two baselines of moving the same
 * data: copying the window files' bytes into one file, and a Polars read + write of the same rows.
 * Last, {@link layoutBounds}: the count query over other layouts of the same rows (DuckDB-written
 * Parquet, an in-memory table), i.e. what no layout of `dataset/` could beat on this machine.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DuckDBInstance } from '@duckdb/node-api';
import pl from 'nodejs-polars';
import { eventsToDataFrame } from '../../src/detect/index.js';
import { quotesFrame, tradesFrame } from '../../src/sinks/parquet.js';
import { canonicalEventId } from '../../src/streams/event-id.js';
import type { Quote, Trade } from '../../src/types.js';
import { runChild, tickerOf } from './common.js';

export interface DatasetBench {
  readonly windows: number;
  readonly symbols: number;
  readonly trades: number;
  readonly quotes: number;
  readonly generateMs: number;
  /** DuckDB's figures (the key kept for older readers of the JSON). */
  readonly queries: Record<string, QueryResult>;
  /** The same queries in nodejs-polars. */
  readonly polarsQueries?: Record<string, QueryResult>;
  readonly disk: { windowsBytes: number; windowsAllocated: number; datasetBytes: number; datasetAllocated: number; files: { windows: number; dataset: number } };
  readonly compaction: { ms: number; maxRssMB: number; parts: number };
  readonly baselines: { byteCopyMs: number; polarsReadWriteMs: number; bytes: number };
  readonly layoutBounds?: LayoutBounds;
}

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const T_BASE = 1_609_770_000_000_000_000n; // 2021-01-04 14:20 UTC, ns

const TEMPLATES = 512;

/** Writes the template files into `dir`; returns their paths and row counts. */
function templates(dir: string): { trades: string; quotes: string; nT: number; nQ: number }[] {
  mkdirSync(dir, { recursive: true });
  const out: { trades: string; quotes: string; nT: number; nQ: number }[] = [];
  for (let k = 0; k < TEMPLATES; k++) {
    const r = prng(1000 + k);
    const busy = k % 64 < 3;
    const nT = busy ? 2000 + Math.floor(r() * 4000) : 50 + Math.floor(r() * 750);
    const nQ = busy ? 10_000 + Math.floor(r() * 30_000) : 200 + Math.floor(r() * 1600);
    let price = 2 + r() * 8;
    const trades: Trade[] = [];
    for (let i = 0; i < nT; i++) {
      price = Math.max(0.5, price + (r() - 0.5) * 0.02);
      const ts = T_BASE + BigInt(Math.floor((i / nT) * 1.8e12)) + BigInt(Math.floor(r() * 1e6));
      trades.push({ sip_timestamp: ts, participant_timestamp: ts - 1234n, exchange: 1 + Math.floor(r() * 20), id: String(i + 1), price: Math.round(price * 1e4) / 1e4, sequence_number: i + 1, size: 1 + Math.floor(r() * 20) * 100, tape: 3, conditions: r() < 0.3 ? [37] : [] } as Trade);
    }
    const quotes: Quote[] = [];
    for (let i = 0; i < nQ; i++) {
      const ts = T_BASE + BigInt(Math.floor((i / nQ) * 1.8e12)) + BigInt(Math.floor(r() * 1e5));
      const bid = Math.round((price - 0.01 - r() * 0.03) * 1e4) / 1e4;
      quotes.push({ sip_timestamp: ts, participant_timestamp: ts - 999n, bid_price: bid, bid_size: 1 + Math.floor(r() * 50), bid_exchange: 1 + Math.floor(r() * 20), ask_price: Math.round((bid + 0.01 + r() * 0.05) * 1e4) / 1e4, ask_size: 1 + Math.floor(r() * 50), ask_exchange: 1 + Math.floor(r() * 20), sequence_number: i + 1, tape: 3 } as Quote);
    }
    const t = join(dir, `t${k}.parquet`);
    const q = join(dir, `q${k}.parquet`);
    tradesFrame(trades).writeParquet(t, { compression: 'zstd' });
    quotesFrame(quotes).writeParquet(q, { compression: 'zstd' });
    out.push({ trades: t, quotes: q, nT, nQ });
  }
  return out;
}

const TYPES = ['opening_range_break', 'vwap_break', 'flush', 'volume_spike'] as const;

/** Writes windows, their ingest journal and events.parquet into `out`. */
export function generate(out: string, nWindows: number, nSymbols: number): { trades: number; quotes: number } {
  const tpl = templates(join(out, 'templates'));
  const journal: string[] = [];
  const events: { symbol: string; event_type: string; timestamp: number; session: 'RTH'; price: number; volume: number; vwap: number; measure: number }[] = [];
  let trades = 0;
  let quotes = 0;
  const perSymbol = Math.ceil(nWindows / nSymbols);
  for (let w = 0; w < nWindows; w++) {
    const symbol = tickerOf(Math.floor(w / perSymbol));
    const j = w % perSymbol;
    const type = TYPES[w % 4]!;
    const ms = Date.UTC(2021, 0, 4 + j, 14, 30 + (w % 60), 0);
    const id = canonicalEventId(symbol, type, ms);
    const t = tpl[(w * 7) % TEMPLATES]!; // 7 is coprime to 512: any 512 consecutive windows use distinct templates
    const dir = join(out, 'windows', `symbol=${symbol}`, `event=${id}`);
    mkdirSync(dir, { recursive: true });
    copyFileSync(t.trades, join(dir, 'trades.parquet'));
    copyFileSync(t.quotes, join(dir, 'quotes.parquet'));
    journal.push(JSON.stringify({ event: id, symbol, trades: t.nT, quotes: t.nQ }));
    events.push({ symbol, event_type: type, timestamp: ms, session: 'RTH', price: 5, volume: 1000, vwap: 5, measure: 1 });
    trades += t.nT;
    quotes += t.nQ;
  }
  mkdirSync(join(out, 'state', 'ingest'), { recursive: true });
  writeFileSync(join(out, 'state', 'ingest', 'part-0.jsonl'), journal.join('\n') + '\n');
  mkdirSync(join(out, 'events'), { recursive: true });
  const df = eventsToDataFrame(events);
  const ids = events.map((e) => canonicalEventId(e.symbol, e.event_type, e.timestamp));
  df.withColumn(pl.Series('event_id', ids, pl.String)).writeParquet(join(out, 'events', 'events.parquet'), { compression: 'zstd' });
  return { trades, quotes };
}

async function* files(dir: string): AsyncGenerator<string> {
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (e.isFile()) yield p;
  }
}

async function diskUse(dir: string): Promise<{ bytes: number; allocated: number; files: number }> {
  let bytes = 0;
  let allocated = 0;
  let n = 0;
  for await (const f of files(dir)) {
    const s = await stat(f);
    bytes += s.size;
    allocated += s.blocks * 512;
    n++;
  }
  return { bytes, allocated, files: n };
}

/** Wall and CPU time of one query (CPU: this process, i.e. DuckDB's worker threads included). */
interface QueryTime {
  readonly ms: number;
  readonly cpuMs: number;
}

type Connection = Awaited<ReturnType<DuckDBInstance['connect']>>;

async function timeQuery(con: Connection, sql: string): Promise<QueryTime & { rows: string }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await con.runAndReadAll(sql);
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { ms, cpuMs: (c.user + c.system) / 1000, rows: JSON.stringify(r.getRows(), (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)) };
}

/**
 * One side of one query: cold (first run in a fresh DuckDB instance) and warm (its second run);
 * `disk`: the first run in another fresh instance after every file of the run folder was dropped
 * from the OS page cache ({@link evictPageCache}; absent where that cannot be done).
 */
export interface QuerySide {
  readonly cold: QueryTime;
  readonly warm: QueryTime;
  readonly disk?: QueryTime;
}

/** What {@link evictPageCache} runs: Node has no posix_fadvise, Python's os module does. */
const EVICT_PY = `
import os, sys
os.sync()
n = 0
for d, _, fs in os.walk(sys.argv[1]):
    for f in fs:
        fd = os.open(os.path.join(d, f), os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        n += 1
print(n)
`;

/**
 * Drops every file under `root` from the OS page cache (sync, then posix_fadvise DONTNEED per
 * file), so the next query reads them from the disk: a researcher's first query of the day, and
 * every query at the users' scale, where 572,850 dense windows are ~30 GB, more than the page cache
 * keeps. Only these files are dropped (no global drop_caches: the machine is shared). Returns the
 * number of files, or undefined (the `disk` figures are then left out) without python3 or
 * posix_fadvise (Windows, macOS). `fincore FILE` shows what stays resident (checked by hand:
 * nothing of an evicted Parquet file).
 */
export function evictPageCache(root: string): number | undefined {
  const r = spawnSync('python3', ['-c', EVICT_PY, root], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const n = Number(r.stdout.trim());
  return Number.isInteger(n) ? n : undefined;
}

/**
 * Runs `sql` in a fresh in-memory DuckDB instance (default settings: 2 threads here, no Parquet
 * metadata cache), twice. "Cold" is the first run: DuckDB has nothing cached, but the OS page cache
 * is warm, so it measures opening and decoding. "Warm" is the second run in the same instance.
 * "Disk" is the first run in another fresh instance after the run folder's files were dropped
 * from the page cache: opening, decoding and reading the disk.
 */
async function runSide(sql: string, root: string): Promise<QuerySide & { rows: string }> {
  const first = async <T>(f: (con: Connection) => Promise<T>): Promise<T> => {
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    try {
      return await f(con);
    } finally {
      con.closeSync();
      db.closeSync();
    }
  };
  const [cold, warm] = await first(async (con) => [await timeQuery(con, sql), await timeQuery(con, sql)] as const);
  if (cold.rows !== warm.rows) throw new Error('bench 11: a query gave two answers');
  const disk = evictPageCache(root) === undefined ? undefined : await first((con) => timeQuery(con, sql));
  if (disk && disk.rows !== warm.rows) throw new Error('bench 11: a query gave two answers');
  return { cold: { ms: cold.ms, cpuMs: cold.cpuMs }, warm: { ms: warm.ms, cpuMs: warm.cpuMs }, ...(disk ? { disk: { ms: disk.ms, cpuMs: disk.cpuMs } } : {}), rows: warm.rows };
}

/** The three inputs of every query: per-window files, the dataset, and all trades in one file (the bound). */
export interface QueryResult {
  readonly windows: QuerySide;
  readonly dataset: QuerySide;
  readonly oneFile: QuerySide;
  /** Kept for older readers of the JSON: warm wall times and their ratio. */
  readonly windowsMs: number;
  readonly datasetMs: number;
  readonly speedup: number;
}

/**
 * Writes every dataset trade (with its symbol) into one DuckDB-written Parquet file: the best case
 * any layout could reach for a whole-table query (no per-file cost at all), so the bench can tell
 * how much of the gap to 100x is the dataset's layout and how much the query's own work per row.
 */
export async function writeOneFile(out: string): Promise<string> {
  const file = join(out, 'one-file-trades.parquet');
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  await con.run(`COPY (SELECT * FROM read_parquet('${out}/dataset/trades/*/*.parquet', hive_partitioning = true)) TO '${file}' (FORMAT parquet, COMPRESSION zstd)`);
  con.closeSync();
  db.closeSync();
  return file;
}

/**
 * The two queries of the issue, each the same SQL over three inputs, on the same engine and
 * settings. Column pruning is DuckDB's: each query reads `size` (and `event_id`/`event` for the
 * join) plus the Hive `symbol`, nothing else. The answers must be equal on all three inputs.
 */
export async function queries(out: string, one: string, answers: Record<string, string>): Promise<Record<string, QueryResult>> {
  const inputs = {
    windows: { from: `read_parquet('${out}/windows/*/*/trades.parquet', hive_partitioning = true)`, event: 'event' },
    dataset: { from: `read_parquet('${out}/dataset/trades/*/*.parquet', hive_partitioning = true)`, event: 'event_id' },
    oneFile: { from: `read_parquet('${one}')`, event: 'event_id' },
  };
  const ev = `read_parquet('${out}/events/events.parquet')`;
  const qs: Record<string, (i: { from: string; event: string }) => string> = {
    'count+sum(size) by symbol': (i) => `SELECT symbol, count(*) AS n, sum(size) AS s FROM ${i.from} GROUP BY symbol ORDER BY symbol`,
    'join events on event_id': (i) => `SELECT e.event_type, count(*) AS n, sum(t.size) AS s FROM ${i.from} t JOIN ${ev} e ON e.event_id = t.${i.event} GROUP BY ALL ORDER BY ALL`,
  };
  const res: Record<string, QueryResult> = {};
  for (const [name, q] of Object.entries(qs)) {
    const windows = await runSide(q(inputs.windows), out);
    const dataset = await runSide(q(inputs.dataset), out);
    const oneFile = await runSide(q(inputs.oneFile), out);
    if (windows.rows !== dataset.rows || windows.rows !== oneFile.rows) throw new Error(`bench 11: ${name} differs between windows/, dataset/ and one file`);
    answers[name] = windows.rows;
    res[name] = { windows: strip(windows), dataset: strip(dataset), oneFile: strip(oneFile), windowsMs: windows.warm.ms, datasetMs: dataset.warm.ms, speedup: windows.warm.ms / dataset.warm.ms };
  }
  return res;
}

const strip = (s: QuerySide & { rows: string }): QuerySide => ({ cold: s.cold, warm: s.warm, ...(s.disk ? { disk: s.disk } : {}) });

/**
 * The same two queries in nodejs-polars, the library tickpipe itself is built on and the README's
 * second example: a lazy `scanParquet` over the same globs (Hive partitioning on), `collect()` off
 * the event loop, default settings (Polars' thread pool: 2 threads here). Polars opens every file
 * of a glob to read its schema and footer before it scans, which is where the per-window layout
 * costs most; the answers must equal DuckDB's. "Cold" is the query's first run in this process
 * (Polars keeps no Parquet metadata between queries), "warm" its second.
 */
export async function polarsQueries(out: string, one: string, duck: Record<string, string>): Promise<Record<string, QueryResult>> {
  // The README's scan: Hive partitioning with `symbol` as Categorical (a group-by on it ~2x faster
  // than on the default String, on both layouts; the per-window files also have `event` in their path).
  const scan = (glob: string, hiveSchema?: Record<string, pl.DataType>): pl.LazyDataFrame => pl.scanParquet(glob, hiveSchema ? { hivePartitioning: true, hiveSchema } : {});
  const inputs = {
    windows: { lf: () => scan(`${out}/windows/*/*/trades.parquet`, { symbol: pl.Categorical, event: pl.String }), event: 'event' },
    dataset: { lf: () => scan(`${out}/dataset/trades/*/*.parquet`, { symbol: pl.Categorical }), event: 'event_id' },
    oneFile: { lf: () => scan(one), event: 'event_id' },
  };
  const events = (): pl.LazyDataFrame => pl.scanParquet(`${out}/events/events.parquet`).select('event_id', 'event_type');
  const qs: Record<string, (i: { lf: () => pl.LazyDataFrame; event: string }) => pl.LazyDataFrame> = {
    'count+sum(size) by symbol': (i) =>
      i.lf().groupBy('symbol').agg(pl.len().cast(pl.Int64).alias('n'), pl.col('size').cast(pl.Int64).sum().alias('s')).sort('symbol'),
    'join events on event_id': (i) =>
      i
        .lf()
        .select(pl.col(i.event).alias('event_id'), 'size')
        .join(events(), { on: 'event_id' })
        .groupBy('event_type')
        .agg(pl.len().cast(pl.Int64).alias('n'), pl.col('size').cast(pl.Int64).sum().alias('s'))
        .sort('event_type'),
  };
  const time = async (lf: pl.LazyDataFrame): Promise<QueryTime & { rows: string }> => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const df = await lf.collect();
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    // Rows as DuckDB's answer prints them: [[key, n, s], ...] with the counts as decimal text.
    const cols = df.getColumns().map((s) => (s.dtype.equals(pl.Int64) ? s.cast(pl.String).toArray() : s.toArray()));
    const rows = JSON.stringify(Array.from({ length: df.height }, (_, r) => cols.map((c) => c[r])));
    return { ms, cpuMs: (c.user + c.system) / 1000, rows };
  };
  const res: Record<string, QueryResult> = {};
  for (const [name, q] of Object.entries(qs)) {
    const side = async (i: { lf: () => pl.LazyDataFrame; event: string }): Promise<QuerySide & { rows: string }> => {
      const cold = await time(q(i));
      const warm = await time(q(i));
      if (cold.rows !== warm.rows) throw new Error(`bench 11 (Polars): ${name} gave two answers`);
      const disk = evictPageCache(out) === undefined ? undefined : await time(q(i));
      if (disk && disk.rows !== warm.rows) throw new Error(`bench 11 (Polars): ${name} gave two answers`);
      return { cold: { ms: cold.ms, cpuMs: cold.cpuMs }, warm: { ms: warm.ms, cpuMs: warm.cpuMs }, ...(disk ? { disk: { ms: disk.ms, cpuMs: disk.cpuMs } } : {}), rows: warm.rows };
    };
    const windows = await side(inputs.windows);
    const dataset = await side(inputs.dataset);
    const oneFile = await side(inputs.oneFile);
    if (windows.rows !== dataset.rows || windows.rows !== oneFile.rows) throw new Error(`bench 11 (Polars): ${name} differs between windows/, dataset/ and one file`);
    // DuckDB returns sum(size) as a number, count(*) as a bigint: compare every value as text.
    const text = (rows: string): string => JSON.stringify((JSON.parse(rows) as unknown[][]).map((r) => r.map(String)));
    const expected = duck[name];
    if (expected !== undefined && text(windows.rows) !== text(expected)) throw new Error(`bench 11: ${name} differs between Polars and DuckDB: ${windows.rows.slice(0, 200)} vs ${expected.slice(0, 200)}`);
    res[name] = { windows: strip(windows), dataset: strip(dataset), oneFile: strip(oneFile), windowsMs: windows.warm.ms, datasetMs: dataset.warm.ms, speedup: windows.warm.ms / dataset.warm.ms };
  }
  return res;
}

/**
 * How fast the count query can get on this machine, whatever the layout: the same SQL (warm, median
 * of 5 in one DuckDB instance) over the dataset's trades rewritten by DuckDB's own Parquet writer,
 * one file per symbol as in `dataset/` (its writer dictionary-encodes `size`, which Polars' writer
 * stores plain: the fastest of the variants tried), uncompressed the same way, and over the same
 * rows loaded into a DuckDB in-memory table (no Parquet at all; `symbol` then is a column, not a
 * per-file constant). If none of them is 100x faster than the per-window files, no layout of
 * `dataset/` can be. Plus `count(*)` alone over `dataset/`, which DuckDB answers from the files'
 * footers: what opening the parts costs before any column is read.
 */
export interface LayoutBounds {
  readonly windowsMs: number;
  readonly datasetMs: number;
  readonly duckdbZstdMs: number;
  readonly duckdbUncompressedMs: number;
  readonly inMemoryTableMs: number;
  /** `SELECT count(*)` over `dataset/` alone: DuckDB answers it from the footers, reading no data page. */
  readonly footersOnlyMs: number;
}

export async function layoutBounds(out: string): Promise<LayoutBounds> {
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  try {
    const trades = join(out, 'dataset', 'trades');
    const symbols = (await readdir(trades)).filter((d) => d.startsWith('symbol='));
    for (const [name, codec] of [['duck-zstd', 'zstd'], ['duck-none', 'uncompressed']] as const) {
      for (const s of symbols) {
        mkdirSync(join(out, name, s), { recursive: true });
        await con.run(`COPY (SELECT * FROM read_parquet('${trades}/${s}/*.parquet')) TO '${join(out, name, s, 'part-000000.parquet')}' (FORMAT parquet, COMPRESSION ${codec})`);
      }
    }
    await con.run(`CREATE TABLE t AS SELECT symbol, size FROM read_parquet('${trades}/*/*.parquet', hive_partitioning = true)`); // a columnar table: other columns would not be read
    const sql = (from: string): string => `SELECT symbol, count(*) AS n, sum(size) AS s FROM ${from} GROUP BY symbol ORDER BY symbol`;
    const hive = (glob: string): string => `read_parquet('${glob}', hive_partitioning = true)`;
    const warm = async (query: string): Promise<{ ms: number; rows: string }> => {
      const ms: number[] = [];
      let rows = '';
      await con.runAndReadAll(query);
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        const r = await con.runAndReadAll(query);
        ms.push(performance.now() - t0);
        rows = JSON.stringify(r.getRows(), (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
      }
      return { ms: ms.sort((a, b) => a - b)[2]!, rows };
    };
    const w = await warm(sql(hive(`${out}/windows/*/*/trades.parquet`)));
    const sides = {
      datasetMs: await warm(sql(hive(`${trades}/*/*.parquet`))),
      duckdbZstdMs: await warm(sql(hive(`${out}/duck-zstd/*/*.parquet`))),
      duckdbUncompressedMs: await warm(sql(hive(`${out}/duck-none/*/*.parquet`))),
      inMemoryTableMs: await warm(sql('t')),
    };
    for (const [k, v] of Object.entries(sides)) if (v.rows !== w.rows) throw new Error(`bench 11: ${k} gave another answer than the window files`);
    const footers = await warm(`SELECT count(*) FROM read_parquet('${trades}/*/*.parquet')`);
    return { windowsMs: w.ms, datasetMs: sides.datasetMs.ms, duckdbZstdMs: sides.duckdbZstdMs.ms, duckdbUncompressedMs: sides.duckdbUncompressedMs.ms, inMemoryTableMs: sides.inMemoryTableMs.ms, footersOnlyMs: footers.ms };
  } finally {
    con.closeSync();
    db.closeSync();
  }
}

async function byteCopy(out: string): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  const h = await open(join(out, 'bytecopy.bin'), 'w');
  let bytes = 0;
  for await (const f of files(join(out, 'windows'))) {
    const b = await readFile(f);
    await h.write(b);
    bytes += b.byteLength;
  }
  await h.sync();
  await h.close();
  return { ms: performance.now() - t0, bytes };
}

async function polarsReadWrite(out: string): Promise<number> {
  const t0 = performance.now();
  for (const k of ['trades', 'quotes']) {
    await pl
      .scanParquet(join(out, 'windows', '*', '*', `${k}.parquet`))
      .sinkParquet(join(out, `rw-${k}.parquet`), { compression: 'zstd', statistics: true, sinkOptions: { syncOnClose: 'all', maintainOrder: true, mkdir: false } })
      .collect();
  }
  return performance.now() - t0;
}

export async function measureDataset(out: string, nWindows: number, nSymbols: number, log: (s: string) => void): Promise<DatasetBench> {
  let t0 = performance.now();
  log(`11 dataset: generating ${nWindows} windows over ${nSymbols} symbols`);
  const { trades, quotes } = generate(out, nWindows, nSymbols);
  const generateMs = performance.now() - t0;
  log(`11 dataset: ${trades} trades, ${quotes} quotes in ${(generateMs / 1000).toFixed(0)} s; baselines`);
  const bc = await byteCopy(out);
  const rw = await polarsReadWrite(out);
  log('11 dataset: compacting (child process)');
  t0 = performance.now();
  const c = await runChild<{ ms: number; maxRssMB: number; parts: number }>('dataset-child', [out]);
  log(`11 dataset: compacted in ${(c.ms / 1000).toFixed(1)} s; queries`);
  const one = await writeOneFile(out);
  const answers: Record<string, string> = {};
  const q = await queries(out, one, answers);
  log('11 dataset: the same queries in Polars');
  const qp = await polarsQueries(out, one, answers);
  const w = await diskUse(join(out, 'windows'));
  const d = await diskUse(join(out, 'dataset'));
  log('11 dataset: layout bounds (the count query on other layouts of the same rows)');
  const lb = await layoutBounds(out);
  return {
    windows: nWindows,
    symbols: nSymbols,
    trades,
    quotes,
    generateMs,
    queries: q,
    polarsQueries: qp,
    disk: { windowsBytes: w.bytes, windowsAllocated: w.allocated, datasetBytes: d.bytes, datasetAllocated: d.allocated, files: { windows: w.files, dataset: d.files } },
    compaction: c,
    baselines: { byteCopyMs: bc.ms, polarsReadWriteMs: rw, bytes: bc.bytes },
    layoutBounds: lb,
  };
}

/** The table rows of benchmark 11 (bench/run.ts prints them). */
export function datasetRows(d: DatasetBench, num: (x: number, digits?: number) => string): [string, string, string, string][] {
  const ms = (x: number): string => (x >= 10_000 ? `${num(x / 1000, 1)} s` : `${num(x)} ms`);
  const mb = (b: number): string => `${num(b / 1_048_576)} MB`;
  const rows: [string, string, string, string][] = [];
  const engines: [string, Record<string, QueryResult>][] = [['', d.queries], ...(d.polarsQueries ? [[' (Polars)', d.polarsQueries] as [string, Record<string, QueryResult>]] : [])];
  for (const [engine, byName] of engines) {
    for (const [name, q] of Object.entries(byName)) {
      for (const when of ['warm', 'cold', 'disk'] as const) {
        const w = q.windows[when];
        const s = q.dataset[when];
        const o = q.oneFile[when];
        if (!w || !s || !o) continue;
        rows.push([
          '11 dataset',
          `${name}${engine}, ${when === 'disk' ? 'from disk (page cache dropped)' : when}, ${num(d.windows)} windows (${num(d.trades)} trades)`,
          `${ms(s.ms)} (cpu ${ms(s.cpuMs)}) dataset: ${num(w.ms / s.ms, 0)}x wall, ${num(w.cpuMs / s.cpuMs, 0)}x cpu`,
          `per-window ${ms(w.ms)} (cpu ${ms(w.cpuMs)}); one file ${ms(o.ms)} (cpu ${ms(o.cpuMs)}): ${num(w.ms / o.ms, 0)}x wall, ${num(w.cpuMs / o.cpuMs, 0)}x cpu`,
        ]);
      }
    }
  }
  rows.push(['11 dataset', `disk (allocated), ${num(d.disk.files.dataset)} vs ${num(d.disk.files.windows)} files`, `${mb(d.disk.datasetAllocated)} dataset`, `${mb(d.disk.windowsAllocated)} windows (bytes ${mb(d.disk.datasetBytes)} vs ${mb(d.disk.windowsBytes)})`]);
  const lb = d.layoutBounds;
  if (lb) {
    const x = (v: number): string => `${ms(v)} (${num(lb.windowsMs / v, 0)}x)`;
    rows.push([
      '11 dataset',
      `count+sum(size) by symbol, warm median of 5, other layouts of the same rows (x: vs per-window ${ms(lb.windowsMs)})`,
      `dataset ${x(lb.datasetMs)}; DuckDB-written zstd ${x(lb.duckdbZstdMs)}`,
      `DuckDB-written uncompressed ${x(lb.duckdbUncompressedMs)}; DuckDB in-memory table ${x(lb.inMemoryTableMs)}`,
    ]);
    rows.push(['11 dataset', 'count(*) alone over dataset/ (from the footers: no data page read)', x(lb.footersOnlyMs), 'a lower bound for any query reading its files']);
  }
  rows.push(['11 dataset', `compaction of ${num(d.trades + d.quotes)} rows, ${num(d.compaction.parts)} parts`, `${ms(d.compaction.ms)}, peak RSS ${num(d.compaction.maxRssMB)} MB`, `byte copy ${ms(d.baselines.byteCopyMs)} (${num(d.baselines.byteCopyMs / d.compaction.ms, 2)}x), Polars read+write ${ms(d.baselines.polarsReadWriteMs)} (${num(d.baselines.polarsReadWriteMs / d.compaction.ms, 2)}x)`]);
  return rows;
}
