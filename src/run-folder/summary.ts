import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import pl from 'nodejs-polars';
import { loadCommittedWindows } from '../sinks/committed-index.js';
import { loadJournal } from '../sinks/journal.js';
import { committedShards } from '../sinks/shard-sink.js';
import { listJournals } from './folder.js';
import { manifestPath, runSpecPath, stateDirs } from './layout.js';

/**
 * The run summary: what `tickpipe run` prints at its end, read back from the run folder. It counts
 * committed items with the run-folder model's rule (model.ts: the first line of an item commits
 * it, a repeat counts once), but reads stage 2 through the committed index, which keeps only IDs
 * and the first line's counts, so the end of a run does not parse the whole journal again. Like
 * the pipeline, and unlike the operating commands, it refuses a journal with a corrupt line.
 */

/** The request counters of the run's HTTP client (a subset of its metrics snapshot). */
export interface RequestCounts {
  readonly requests: number;
  readonly ok: number;
  readonly rateLimited: number;
}
/** What `tickpipe run` prints at the end; every count is read back from the run folder. */
export interface RunSummary {
  readonly symbols: number;
  readonly symbolsDone: number;
  readonly events: number;
  readonly eventsByType: Readonly<Record<string, number>>;
  readonly windows: number;
  readonly windowsFailed: number;
  readonly tradeRows: number;
  readonly quoteRows: number;
  /** Duplicate event rows across committed shards + symbols journaled twice + windows journaled twice. */
  readonly duplicates: number;
  readonly wallMs: number;
  readonly requests: number;
  readonly rateLimited: number;
  readonly rateLimitedShare: number;
  readonly requestsPerSec: number;
  readonly quota: number;
  /** Successful requests/s during ingest over the quota; undefined when nothing was requested. */
  readonly quotaShare: number | undefined;
}


export async function runSummary(
  outDir: string,
  run: { wallMs: number; metrics: RequestCounts; quota: number; ingestElapsedMs: number | undefined },
): Promise<RunSummary> {
  const spec = JSON.parse(await readFile(runSpecPath(outDir), 'utf8')) as { universe?: { count: number } };

  let symbolsJournaled = 0;
  const symbolsDone = new Set<string>();
  const journals = await listJournals(outDir);
  for (const f of journals.detect) {
    for (const e of (await loadJournal<{ symbols: string[] }>(f.path)).entries) {
      for (const s of e.symbols) {
        symbolsJournaled++;
        symbolsDone.add(s);
      }
    }
  }

  let shardDuplicates = 0;
  const shards = (await committedShards(outDir)).filter((s) => s.rows > 0);
  if (shards.length > 0) {
    const all = pl.concat(shards.map((s) => pl.scanParquet(s.path)));
    const [total, unique] = await Promise.all([
      all.select(pl.len().alias('n')).collect(),
      all.unique({ subset: ['symbol', 'event_type', 'timestamp'] }).select(pl.len().alias('n')).collect(),
    ]);
    shardDuplicates = Number(total.getColumn('n').get(0)) - Number(unique.getColumn('n').get(0));
  }

  let events = 0;
  const eventsByType: Record<string, number> = {};
  const mp = manifestPath(outDir);
  if (existsSync(mp)) {
    const counts = await pl.scanParquet(mp).groupBy('event_type').agg(pl.len().alias('n')).sort('event_type').collect();
    const types = counts.getColumn('event_type').toArray() as string[];
    const ns = counts.getColumn('n').toArray() as Array<number | bigint>;
    types.forEach((t, i) => {
      eventsByType[t] = Number(ns[i]);
      events += Number(ns[i]);
    });
  }

  // The committed index plus the journal bytes it does not cover (this run's lines): no second
  // parse of the whole journal at the run's end; a fresh index is written for the next start.
  const ingestDir = stateDirs(outDir).ingest;
  const windowJournals = journals.ingest.map((f) => f.name); // in reading order (by partition number)
  const { ids: windows, lines: windowLines, trades: tradeRows, quotes: quoteRows } = await loadCommittedWindows(ingestDir, windowJournals);
  const failed = new Set<string>();
  for (const f of journals.failed) {
    for (const e of (await loadJournal<{ event: string }>(f.path)).entries) if (!windows.has(e.event)) failed.add(e.event);
  }

  const m = run.metrics;
  const elapsed = run.ingestElapsedMs ?? run.wallMs;
  const requestsPerSec = elapsed > 0 ? m.ok / (elapsed / 1000) : 0;
  return {
    symbols: spec.universe?.count ?? symbolsDone.size,
    symbolsDone: symbolsDone.size,
    events,
    eventsByType,
    windows: windows.size,
    windowsFailed: failed.size,
    tradeRows,
    quoteRows,
    duplicates: shardDuplicates + (symbolsJournaled - symbolsDone.size) + (windowLines - windows.size),
    wallMs: run.wallMs,
    requests: m.requests,
    rateLimited: m.rateLimited,
    rateLimitedShare: m.requests > 0 ? m.rateLimited / m.requests : 0,
    requestsPerSec,
    quota: run.quota,
    quotaShare: m.ok > 0 && run.ingestElapsedMs !== undefined ? requestsPerSec / run.quota : undefined,
  };
}
