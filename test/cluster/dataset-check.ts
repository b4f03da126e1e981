/**
 * Checks of a cluster run folder shared by the cluster tests, read from the files: the compacted
 * dataset against the stage-2 journals of every process, and the per-host lines of the summary.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { expect } from 'vitest';

export function jsonl<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

export interface WindowLine {
  event: string;
  symbol: string;
  trades: number;
  quotes: number;
}

/** Every stage-2 journal line of every process. */
export function windowLines(out: string): WindowLine[] {
  const dir = join(out, 'state', 'ingest');
  return readdirSync(dir)
    .filter((n) => /^part-\d+\.jsonl$/.test(n))
    .flatMap((n) => jsonl<WindowLine>(join(dir, n)));
}

/** From the files: every committed window's rows are in the dataset exactly once, nothing else is. */
export async function expectDatasetExactlyOnce(out: string): Promise<void> {
  const windows = windowLines(out);
  expect(new Set(windows.map((w) => w.event)).size, 'no window journaled twice').toBe(windows.length);
  const parts = jsonl<{ symbol: string; events: string[] }>(join(out, 'state', 'compact', 'compact.jsonl'));
  const compacted = parts.flatMap((p) => p.events);
  expect(compacted.length - new Set(compacted).size, 'no window in two parts').toBe(0);
  expect([...compacted].sort()).toEqual(windows.map((w) => w.event).sort());
  for (const kind of ['trades', 'quotes'] as const) {
    const rows = await pl
      .scanParquet(join(out, 'dataset', kind, '*', '*.parquet'))
      .groupBy('event_id')
      .agg(pl.len().alias('n'))
      .collect();
    const got = new Map<string, number>();
    const ids = rows.getColumn('event_id').toArray() as string[];
    const ns = rows.getColumn('n').toArray() as Array<number | bigint>;
    ids.forEach((id, i) => got.set(id, Number(ns[i])));
    for (const w of windows) expect(got.get(w.event) ?? 0, `${kind} rows of ${w.event}`).toBe(w[kind]);
    const committed = new Set(windows.map((w) => w.event));
    expect([...got.keys()].filter((id) => !committed.has(id)), `no ${kind} rows of a window that is not committed`).toEqual([]);
  }
}

/** The per-host lines of a cluster run's summary: slot → windows. */
export function hostLines(stdout: string): Map<number, number> {
  const m = new Map<number, number>();
  for (const x of stdout.matchAll(/^ {2}slot (\d+) on \S+.*?\s{2}[\d,]+ symbols, ([\d,]+) windows \(trades/gm)) m.set(Number(x[1]), Number(x[2]!.replace(/,/g, '')));
  return m;
}

