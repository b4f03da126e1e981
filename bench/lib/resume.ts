/**
 * Benchmarks 5 and 6 share one synthetic 572,850-event manifest (the old pipeline's real size)
 * and journals made from its canonical IDs. Benchmark 5: resume costs and the cost of one commit
 * (fsync'd journal line vs rewriting the old JSON checkpoint). Benchmark 6: peak RSS of streaming
 * vs queueing everything up front.
 */
import { copyFile, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Journal } from '../../src/sinks/index.js';
import { readManifest } from '../../src/streams/manifest.js';
import { median, runChild, syntheticEvents, writeManifest } from './common.js';
import { openSim } from './sim.js';

export const RESUME_EVENTS = 572_850;
const NEW_EVENTS = 10;
const SYMBOLS = 2_000;

export interface ResumeFixture {
  readonly dir: string;
  readonly baseManifest: string;
  readonly endManifest: string;
  readonly startManifest: string;
  /** part-0.jsonl naming every base event. */
  readonly fullJournal: string;
  /** part-0.jsonl naming every other base event, and the same IDs as the old JSON checkpoint. */
  readonly halfJournal: string;
  readonly halfCheckpoint: string;
  readonly ids: readonly string[];
}

export async function buildResumeFixture(dir: string, events = RESUME_EVENTS): Promise<ResumeFixture> {
  const base = syntheticEvents(events, SYMBOLS);
  const extra = syntheticEvents(NEW_EVENTS, SYMBOLS, events);
  const f = {
    dir,
    baseManifest: join(dir, 'base.parquet'),
    endManifest: join(dir, 'new-at-end.parquet'),
    startManifest: join(dir, 'new-at-start.parquet'),
    fullJournal: join(dir, 'full.jsonl'),
    halfJournal: join(dir, 'half.jsonl'),
    halfCheckpoint: join(dir, 'half-checkpoint.json'),
  };
  writeManifest(f.baseManifest, base);
  writeManifest(f.endManifest, [...base, ...extra]);
  writeManifest(f.startManifest, [...extra, ...base]);
  const ids: string[] = [];
  const full: string[] = [];
  const half: string[] = [];
  const halfIds: string[] = [];
  for await (const e of readManifest(f.baseManifest)) {
    ids.push(e.eventId);
    const line = `${JSON.stringify({ event: e.eventId, symbol: e.symbol, trades: 1234, quotes: 1800 })}\n`;
    full.push(line);
    if (e.index % 2 === 0) {
      half.push(line);
      halfIds.push(e.eventId);
    }
  }
  await writeFile(f.fullJournal, full.join(''));
  await writeFile(f.halfJournal, half.join(''));
  await writeFile(f.halfCheckpoint, JSON.stringify({ completed_events: halfIds, last_updated: new Date().toISOString() }, null, 2));
  return { ...f, ids };
}

/** A fresh run folder holding a copy of `journal` as state/ingest/part-0.jsonl. */
export async function runFolder(parent: string, journal: string): Promise<string> {
  const out = await mkdtemp(join(parent, 'run-'));
  await mkdir(join(out, 'state', 'ingest'), { recursive: true });
  await copyFile(journal, join(out, 'state', 'ingest', 'part-0.jsonl'));
  return out;
}

export interface ResumeChildResult {
  readonly variant: string;
  readonly loadMs?: number;
  readonly total?: number;
  readonly windows?: number;
  readonly startMs?: number;
  readonly firstRequestMs?: number | null;
  readonly totalMs?: number;
  readonly maxRssMB: number;
}

const VARIANTS = ['load-only', 'skip-all', 'new-end', 'new-start'] as const;

/** Each variant `runs` times, each in a fresh child process and run folder; medians per field. */
export async function measureResume(f: ResumeFixture, runs: number): Promise<Record<string, Record<string, number | null>>> {
  const sim = await openSim({ seed: 7 });
  const out: Record<string, Record<string, number | null>> = {};
  try {
    for (const variant of VARIANTS) {
      const results: ResumeChildResult[] = [];
      for (let r = 0; r < runs; r++) {
        const outDir = await runFolder(f.dir, f.fullJournal);
        const manifestPath = variant === 'new-end' ? f.endManifest : variant === 'new-start' ? f.startManifest : f.baseManifest;
        try {
          results.push(await runChild<ResumeChildResult>('resume-child', [JSON.stringify({ variant, outDir, manifestPath, url: sim.url })]));
        } finally {
          await rm(outDir, { recursive: true, force: true });
        }
      }
      const med: Record<string, number | null> = {};
      for (const k of ['loadMs', 'startMs', 'firstRequestMs', 'totalMs', 'maxRssMB', 'windows', 'total'] as const) {
        const xs = results.map((x) => x[k]).filter((x): x is number => typeof x === 'number');
        if (xs.length) med[k] = median(xs);
      }
      out[variant] = med;
    }
  } finally {
    await sim.close();
  }
  return out;
}

export interface CommitCost {
  /** Median ms per `Journal.append` with an fsync per line (groupCommitMs 0). */
  readonly journalAppendMs: number;
  /** Median ms to rewrite (json.dump, indent 2) and fsync the checkpoint of `ids.length` IDs. */
  readonly checkpointRewriteMs: number;
  readonly ratio: number;
  readonly ids: number;
}

export async function measureCommit(f: ResumeFixture, appends: number, rewrites: number): Promise<CommitCost> {
  const dir = await runFolder(f.dir, f.fullJournal);
  try {
    const j = await Journal.open<{ event: string; symbol: string; trades: number; quotes: number }>(join(dir, 'state', 'ingest', 'part-0.jsonl'), {
      groupCommitMs: 0,
    });
    const a: number[] = [];
    for (let i = 0; i < appends; i++) {
      const t0 = performance.now();
      await j.append({ event: `${f.ids[i]!}_x`, symbol: 'XB', trades: 1234, quotes: 1800 });
      a.push(performance.now() - t0);
    }
    await j.close();
    // The old CheckpointManager.save(): the whole list, indent=2, to the same path, per item; plus
    // the fsync the old code lacked, so that both sides are equally durable.
    const path = join(dir, 'checkpoint.json');
    const ids = [...f.ids];
    const c: number[] = [];
    for (let i = 0; i < rewrites; i++) {
      const t0 = performance.now();
      const text = JSON.stringify({ completed_events: ids, last_updated: new Date().toISOString() }, null, 2);
      const h = await open(path, 'w');
      try {
        await h.writeFile(text);
        await h.sync();
      } finally {
        await h.close();
      }
      c.push(performance.now() - t0);
    }
    const journalAppendMs = median(a);
    const checkpointRewriteMs = median(c);
    return { journalAppendMs, checkpointRewriteMs, ratio: checkpointRewriteMs / journalAppendMs, ids: ids.length };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface MemoryChildResult {
  readonly variant: string;
  readonly processed: number;
  readonly skipped: number;
  readonly sec: number;
  readonly maxRssMB: number;
}

/** Benchmark 6: each variant `runs` times in a fresh child; medians of peak RSS and time. */
export async function measureMemory(f: ResumeFixture, runs: number): Promise<Record<string, { maxRssMB: number; sec: number; processed: number; skipped: number }>> {
  const out: Record<string, { maxRssMB: number; sec: number; processed: number; skipped: number }> = {};
  for (const variant of ['pull', 'old-mergemap', 'old-closures'] as const) {
    const rs: MemoryChildResult[] = [];
    for (let r = 0; r < runs; r++) {
      const outDir = await runFolder(f.dir, f.halfJournal);
      try {
        rs.push(await runChild<MemoryChildResult>('memory-child', [JSON.stringify({ variant, outDir, manifestPath: f.baseManifest, checkpointPath: f.halfCheckpoint })]));
      } finally {
        await rm(outDir, { recursive: true, force: true });
      }
    }
    out[variant] = {
      maxRssMB: median(rs.map((x) => x.maxRssMB)),
      sec: median(rs.map((x) => x.sec)),
      processed: rs[0]!.processed,
      skipped: rs[0]!.skipped,
    };
  }
  return out;
}
