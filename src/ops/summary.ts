import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { loadCommittedWindows, type CommittedWindows } from '../sinks/committed-index.js';
import { loadJournal } from '../sinks/journal.js';
import { committedShards, readShardJournals } from '../sinks/shard-sink.js';
import { listJournals } from '../run-folder/folder.js';
import { detectJournalName, manifestPath, runSpecPath, stateDirs } from '../run-folder/layout.js';
import { DetectFold } from '../run-folder/model.js';
import { polars } from '../polars.js';

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


/** Stage 1 through the model's fold (the pipeline's reader: a corrupt or misshapen line throws). */
async function detectCounts(outDir: string): Promise<DetectFold> {
  const fold = new DetectFold();
  for (const { worker, lines } of await readShardJournals(outDir)) {
    lines.forEach((l, i) => fold.add(worker, l, `${detectJournalName(worker)}:${i + 1}`));
  }
  return fold;
}

/** Event rows present more than once across the committed shards. */
async function shardDuplicateRows(outDir: string): Promise<number> {
  const shards = (await committedShards(outDir)).filter((s) => s.rows > 0);
  if (shards.length === 0) return 0;
  const pl = await polars();
  const all = pl.concat(shards.map((s) => pl.scanParquet(s.path)));
  const [total, unique] = await Promise.all([
    all.select(pl.len().alias('n')).collect(),
    all.unique({ subset: ['symbol', 'event_type', 'timestamp'] }).select(pl.len().alias('n')).collect(),
  ]);
  return Number(total.getColumn('n').get(0)) - Number(unique.getColumn('n').get(0));
}

/** Events of the manifest, by type. */
async function manifestCounts(outDir: string): Promise<{ events: number; eventsByType: Record<string, number> }> {
  let events = 0;
  const eventsByType: Record<string, number> = {};
  const mp = manifestPath(outDir);
  if (!existsSync(mp)) return { events, eventsByType };
  const pl = await polars();
  const counts = await pl.scanParquet(mp).groupBy('event_type').agg(pl.len().alias('n')).sort('event_type').collect();
  const types = counts.getColumn('event_type').toArray() as string[];
  const ns = counts.getColumn('n').toArray() as Array<number | bigint>;
  types.forEach((t, i) => {
    eventsByType[t] = Number(ns[i]);
    events += Number(ns[i]);
  });
  return { events, eventsByType };
}

/**
 * Stage 2: the committed index plus the journal bytes it does not cover (this run's lines), so
 * the run's end does not parse the whole journal again (a fresh index is written for the next
 * start); failures of windows no journal commits.
 */
async function windowCounts(outDir: string): Promise<{ windows: CommittedWindows; failed: number }> {
  const journals = await listJournals(outDir);
  const windows = await loadCommittedWindows(
    stateDirs(outDir).ingest,
    journals.ingest.map((f) => f.name), // in reading order (by partition number)
  );
  const failed = new Set<string>();
  for (const f of journals.failed) {
    for (const e of (await loadJournal<{ event: string }>(f.path)).entries) if (!windows.ids.has(e.event)) failed.add(e.event);
  }
  return { windows, failed: failed.size };
}

export async function runSummary(
  outDir: string,
  run: { wallMs: number; metrics: RequestCounts; quota: number; ingestElapsedMs: number | undefined; manifestEvents?: number | undefined },
): Promise<RunSummary> {
  const spec = JSON.parse(await readFile(runSpecPath(outDir), 'utf8')) as { universe?: { count: number } };
  const detect = await detectCounts(outDir);
  const shardDuplicates = await shardDuplicateRows(outDir);
  // A --manifest elsewhere (no events/events.parquet here): the events the ingest stage counted in it.
  const { events, eventsByType } = !existsSync(manifestPath(outDir)) && run.manifestEvents !== undefined ? { events: run.manifestEvents, eventsByType: {} } : await manifestCounts(outDir);
  const { windows, failed } = await windowCounts(outDir);
  const m = run.metrics;
  const elapsed = run.ingestElapsedMs ?? run.wallMs;
  const requestsPerSec = elapsed > 0 ? m.ok / (elapsed / 1000) : 0;
  return {
    symbols: spec.universe?.count ?? detect.symbols.size,
    symbolsDone: detect.symbols.size,
    events,
    eventsByType,
    windows: windows.ids.size,
    windowsFailed: failed,
    tradeRows: windows.trades,
    quoteRows: windows.quotes,
    duplicates: shardDuplicates + (detect.symbolMentions - detect.symbols.size) + (windows.lines - windows.ids.size),
    wallMs: run.wallMs,
    requests: m.requests,
    rateLimited: m.rateLimited,
    rateLimitedShare: m.requests > 0 ? m.rateLimited / m.requests : 0,
    requestsPerSec,
    quota: run.quota,
    quotaShare: m.ok > 0 && run.ingestElapsedMs !== undefined ? requestsPerSec / run.quota : undefined,
  };
}
