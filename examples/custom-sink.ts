/**
 * Example: your own sink. Downloads the trades of every symbol-day of an events manifest into a
 * different layout, one Parquet per symbol-day:
 *
 *   by-day/symbol=S/date=YYYY-MM-DD/trades.parquet
 *
 * while keeping tickpipe's exactly-once protocol through its one commit sink (`CommitSink`, the
 * lifecycle of docs/ARCHITECTURE.md "The commit protocol"): a lock (one writer); the file in
 * progress as a tmp file, published atomically (fsync + rename + folder fsync: pending), THEN a
 * journal line (committed). On start everything the journal names is skipped; before a symbol-day
 * is redone, `recoverFolder` removes the tmp files a killed run left in its folder, and a pending
 * file (a crash between publish and journal) is simply overwritten by the re-download.
 *
 *   npx tsc -p tsconfig.examples.json && node dist-examples/custom-sink.js --manifest run/events/events.parquet --out ./by-day-run
 */
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { concatMap, from, lastValueFrom, mergeMap, reduce } from 'rxjs';
import { CommitSink, Journal, NOTHING_COMMITTED, PolygonClient, TokenBucket, acquireLock, fetchTrades, itemsNamed, recoverFolder, tradesFrame } from 'tickpipe';
import { epochDayToIso, nyEpochDay } from 'tickpipe/detect';
import { skipCompleted } from 'tickpipe/operators';
import { readManifest } from 'tickpipe/streams';

/** Options of {@link main}. */
export interface CustomSinkOptions {
  /** Output folder (holds by-day/ and state/by-day/). */
  readonly outDir: string;
  /** Events manifest (Parquet or CSV with symbol, event_type, timestamp), e.g. a run's events/events.parquet. */
  readonly manifestPath: string;
  readonly baseUrl: string;
  /** @default process.env.POLYGON_API_KEY, or a dummy key for the simulator */
  readonly apiKey?: string;
  /** Time kept before the day's first event and after its last. @default { beforeMs: 600_000, afterMs: 1_200_000 } */
  readonly window?: { readonly beforeMs: number; readonly afterMs: number };
  /** Symbol-days in flight. @default 8 */
  readonly concurrency?: number;
  /** @default 100 */
  readonly rate?: number;
}

/** One journal line: the commit point of a symbol-day. */
export interface DayLine {
  readonly symbol: string;
  readonly date: string;
  readonly gte: string;
  readonly lte: string;
  readonly trades: number;
}

/** One unit of work: a symbol-day and the time span of its event windows (Unix ns). */
export interface SymbolDay {
  readonly symbol: string;
  readonly date: string;
  readonly gte: bigint;
  readonly lte: bigint;
}

/** Where a symbol-day's file lives. */
export function dayPath(outDir: string, symbol: string, date: string): string {
  return join(outDir, 'by-day', `symbol=${symbol}`, `date=${date}`, 'trades.parquet');
}

/** The journal of this sink (one writer: guarded by the lock next to it). */
export function journalPath(outDir: string): string {
  return join(outDir, 'state', 'by-day', 'journal.jsonl');
}

/** Symbol-days of a manifest, each spanning all its events' windows, sorted by (symbol, date). */
export async function symbolDays(manifestPath: string, window: { beforeMs: number; afterMs: number }): Promise<SymbolDay[]> {
  const spans = new Map<string, { symbol: string; date: string; lo: number; hi: number }>();
  for await (const e of readManifest(manifestPath)) {
    const date = epochDayToIso(nyEpochDay(e.timestampMs));
    const key = `${e.symbol}|${date}`;
    const s = spans.get(key) ?? { symbol: e.symbol, date, lo: Infinity, hi: -Infinity };
    s.lo = Math.min(s.lo, e.timestampMs - window.beforeMs);
    s.hi = Math.max(s.hi, e.timestampMs + window.afterMs);
    spans.set(key, s);
  }
  return [...spans.values()]
    .sort((a, b) => (a.symbol === b.symbol ? a.date.localeCompare(b.date) : a.symbol < b.symbol ? -1 : 1))
    .map((s) => ({ symbol: s.symbol, date: s.date, gte: BigInt(s.lo) * 1_000_000n, lte: BigInt(s.hi) * 1_000_000n }));
}

/** What one call did. */
export interface CustomSinkResult {
  readonly total: number;
  readonly skipped: number;
  readonly written: number;
  readonly trades: number;
}

export async function main(opts: CustomSinkOptions): Promise<CustomSinkResult> {
  const window = opts.window ?? { beforeMs: 600_000, afterMs: 1_200_000 };
  const days = await symbolDays(opts.manifestPath, window);
  // The lock first: a second process on the same folder is refused before anything is written.
  const lock = await acquireLock(join(opts.outDir, 'state', 'by-day', 'writer.lock'));
  const client = new PolygonClient({
    baseUrl: opts.baseUrl,
    apiKey: opts.apiKey ?? process.env.POLYGON_API_KEY ?? 'simulator',
    bucket: new TokenBucket({ rate: opts.rate ?? 100 }),
  });
  try {
    // Journal.load truncates a torn last line left by a crash, then returns the committed lines.
    const { journal, entries } = await Journal.load<DayLine>(journalPath(opts.outDir), { groupCommitMs: 100 });
    const done = new Set(entries.map((l) => `${l.symbol}|${l.date}`));
    const sink = new CommitSink(journal);
    try {
      const counts = await lastValueFrom(
        from(days).pipe(
          skipCompleted(done, (d) => `${d.symbol}|${d.date}`),
          mergeMap(
            (d) =>
              fetchTrades(client, d.symbol, d.gte, d.lte).pipe(
                concatMap(async (trades) => {
                  const path = dayPath(opts.outDir, d.symbol, d.date);
                  // Not journaled, so whatever a killed run left for this symbol-day is recovered
                  // first: tmp files removed, a published file left for the publish to overwrite.
                  await recoverFolder(dirname(path), itemsNamed([basename(path)], d), NOTHING_COMMITTED, 'overwrite');
                  const frame = tradesFrame(trades);
                  // Published first (pending), then the journal line: only now is the symbol-day done.
                  await sink.commit([{ path, write: async (tmp) => frame.writeParquet(tmp, { compression: 'zstd' }) }], () => ({
                    symbol: d.symbol,
                    date: d.date,
                    gte: String(d.gte),
                    lte: String(d.lte),
                    trades: trades.length,
                  }));
                  return trades.length;
                }),
              ),
            opts.concurrency ?? 8,
          ),
          reduce((acc, n) => ({ written: acc.written + 1, trades: acc.trades + n }), { written: 0, trades: 0 }),
        ),
      );
      return { total: days.length, skipped: days.filter((d) => done.has(`${d.symbol}|${d.date}`)).length, ...counts };
    } finally {
      await journal.close();
    }
  } finally {
    await client.close();
    await lock.release();
  }
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const manifest = flag('manifest');
  if (manifest === undefined) {
    console.error('usage: node dist-examples/custom-sink.js --manifest FILE [--out DIR] [--base-url URL]  (default: in-process simulator)');
    process.exit(2);
  }
  const { startSim } = await import('tickpipe/sim');
  const sim = flag('base-url') === undefined ? await startSim({ seed: 7 }) : undefined;
  try {
    const result = await main({ outDir: resolve(flag('out') ?? 'by-day-run'), manifestPath: resolve(manifest), baseUrl: flag('base-url') ?? sim!.url });
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await sim?.close();
  }
}
