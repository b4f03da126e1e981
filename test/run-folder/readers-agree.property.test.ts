/**
 * Every reader that counts committed items agrees with the run-folder model, and the model agrees
 * with an oracle of the documented rule (the first valid line of an item commits it; failure lines
 * of committed windows are void; torn and corrupt lines commit nothing). Journals are generated with
 * repeated items across lines and files (one-host and cluster-slot numbering), corrupt lines before
 * the last, and torn tails.
 *
 * Readers: status, verify's `committed` counts, reconcile's plan (windows kept + added), the run
 * summary (which refuses corrupt journals, as the pipeline does), tail's disk state, and report.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import pl from 'nodejs-polars';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { buildReport } from '../../src/ops/report.js';
import { reconcileRun } from '../../src/ops/reconcile.js';
import { runStatus } from '../../src/ops/status.js';
import { runSummary } from '../../src/ops/summary.js';
import { StateReader } from '../../src/ops/tail.js';
import { verifyRun } from '../../src/ops/verify.js';
import { detectPaths, ingestPaths, readRunFolder, shardPath, windowPaths } from '../../src/run-folder/index.js';
import { ensureRunSpec } from '../../src/sinks/index.js';
import type { ClientMetrics } from '../../src/streams/polygon-client.js';

const EVENTS = ['E0', 'E1', 'E2', 'E3', 'E4', 'E5'];
const SYMBOLS = ['S0', 'S1', 'S2', 'S3'];
const symbolOf = (event: string): string => `S${Number(event.slice(1)) % 3}`;
const shardName = (n: number): string => `shard-${String(n).padStart(6, '0')}.parquet`;

type Entry<T> = { readonly valid: T } | { readonly garbage: string };
interface Journal<T> {
  readonly index: number;
  readonly entries: ReadonlyArray<Entry<T>>;
  /** Written after the last newline: a torn tail (a valid line without its newline is torn too). */
  readonly tail: string;
}
interface ShardLine {
  shard: string | null;
  symbols: string[];
  rows: number;
}
interface WindowLine {
  event: string;
  symbol: string;
  trades: number;
  quotes: number;
}
interface FailureLine {
  event: string;
  symbol: string;
  status: number | null;
  code: string;
  reason: string;
  at: string;
}

const garbage = fc.constantFrom('{"event":"E1","sym', 'not json', '{"shard":', '\u0000\u0000\u0000', '}{');
// 2, 10 and 1001 sort differently as strings and as numbers: the reading order is numeric.
const journalIndex = fc.constantFrom(0, 2, 10, 1001);

/** One journal; without `corrupt`, only its tail may be damaged (so the summary, which refuses corrupt journals, is compared too). */
function journal<T>(line: fc.Arbitrary<T>, corrupt: boolean): fc.Arbitrary<Journal<T>> {
  const valid = line.map((v): Entry<T> => ({ valid: v }));
  const entry: fc.Arbitrary<Entry<T>> = corrupt ? fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: garbage.map((g) => ({ garbage: g })) }) : valid;
  const tail = fc.oneof(fc.constant(''), garbage, line.map((l) => JSON.stringify(l)));
  return fc.record({ index: journalIndex, entries: fc.array(entry, { maxLength: 8 }), tail });
}

const shardLine: fc.Arbitrary<ShardLine> = fc.record({
  shard: fc.option(fc.integer({ min: 0, max: 2 }).map(shardName), { nil: null }),
  symbols: fc.uniqueArray(fc.constantFrom(...SYMBOLS), { minLength: 1, maxLength: 3 }),
  rows: fc.integer({ min: 0, max: 50 }),
});
const windowLine: fc.Arbitrary<WindowLine> = fc
  .record({ event: fc.constantFrom(...EVENTS), trades: fc.integer({ min: 0, max: 1000 }), quotes: fc.integer({ min: 0, max: 1000 }) })
  .map((w) => ({ ...w, symbol: symbolOf(w.event) }));
const failureLine: fc.Arbitrary<FailureLine> = fc
  .record({ event: fc.constantFrom(...EVENTS), code: fc.constantFrom('E_NOT_FOUND', 'E_HTTP') })
  .map((f) => ({ event: f.event, symbol: symbolOf(f.event), status: 404, code: f.code, reason: `failed ${f.code}`, at: '2024-03-04T00:00:00.000Z' }));

/** Journals of one kind, at most one per index (a file holds one journal). */
function journals<T>(line: fc.Arbitrary<T>, corrupt: boolean): fc.Arbitrary<Array<Journal<T>>> {
  return fc.uniqueArray(journal(line, corrupt), { maxLength: 3, selector: (j) => j.index });
}

const folderSpec = fc
  .boolean()
  .chain((corrupt) => fc.record({ detect: journals(shardLine, corrupt), ingest: journals(windowLine, corrupt), failed: journals(failureLine, corrupt) }));
type FolderSpec = { detect: Array<Journal<ShardLine>>; ingest: Array<Journal<WindowLine>>; failed: Array<Journal<FailureLine>> };

function text<T>(j: Journal<T>): string {
  return j.entries.map((e) => `${'valid' in e ? JSON.stringify(e.valid) : e.garbage}\n`).join('') + j.tail;
}

/** Committed lines in reading order: journals by index, valid terminated lines only. */
function validLines<T>(js: ReadonlyArray<Journal<T>>): Array<{ index: number; line: T }> {
  return [...js].sort((a, b) => a.index - b.index).flatMap((j) => j.entries.flatMap((e) => ('valid' in e ? [{ index: j.index, line: e.valid }] : [])));
}

/** The documented rule, written independently of src/. */
function oracle(spec: FolderSpec) {
  const symbols = new Set<string>();
  const shards = new Map<string, number>();
  for (const { index, line } of validLines(spec.detect)) {
    for (const s of line.symbols) symbols.add(s);
    const key = `${index}/${line.shard}`;
    if (line.shard !== null && !shards.has(key)) shards.set(key, line.rows);
  }
  const windows = new Map<string, WindowLine>();
  for (const { line } of validLines(spec.ingest)) if (!windows.has(line.event)) windows.set(line.event, line);
  const failed = new Set(validLines(spec.failed).map((l) => l.line.event).filter((e) => !windows.has(e)));
  let trades = 0;
  let quotes = 0;
  for (const w of windows.values()) {
    trades += w.trades;
    quotes += w.quotes;
  }
  return {
    symbols: symbols.size,
    shards: shards.size,
    eventRows: [...shards.values()].reduce((a, b) => a + b, 0),
    windows: windows.size,
    trades,
    quotes,
    failed: failed.size,
  };
}

function hasCorruptLine<T>(js: ReadonlyArray<Journal<T>>): boolean {
  // An invalid line followed by another non-blank line (or a non-empty tail) is corrupt.
  return js.some((j) => j.entries.some((e, i) => 'garbage' in e && (i < j.entries.length - 1 || j.tail.length > 0)));
}

let root: string;
let template: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'tickpipe-readers-agree-'));
  template = join(root, 'template.parquet');
  const df = pl.DataFrame({ symbol: ['S0'], event_type: ['flush'], timestamp: [new Date('2024-03-04T14:30:00Z')] });
  df.writeParquet(template);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

let runs = 0;

async function writeFolder(spec: FolderSpec): Promise<string> {
  const dir = join(root, `run-${runs++}`);
  await ensureRunSpec(dir, { version: 1, source: { baseUrl: 'https://api.polygon.io' } }, { stage: 'adopt' });
  for (const j of spec.detect) {
    const p = detectPaths(dir, j.index);
    mkdirSync(p.dir, { recursive: true });
    mkdirSync(join(p.journal, '..'), { recursive: true });
    writeFileSync(p.journal, text(j));
    // Every shard a line names exists, so the summary and reconcile can open it.
    for (const e of j.entries) if ('valid' in e && e.valid.shard !== null) copyFileSync(template, shardPath(dir, j.index, e.valid.shard));
  }
  for (const j of spec.ingest) {
    mkdirSync(join(ingestPaths(dir, j.index).journal, '..'), { recursive: true });
    writeFileSync(ingestPaths(dir, j.index).journal, text(j));
  }
  for (const j of spec.failed) {
    mkdirSync(join(ingestPaths(dir, j.index).failed, '..'), { recursive: true });
    writeFileSync(ingestPaths(dir, j.index).failed, text(j));
  }
  // Every journaled window is complete on disk, so reconcile keeps exactly the committed ones.
  for (const { line } of validLines(spec.ingest)) {
    const w = windowPaths(dir, line.symbol, line.event);
    mkdirSync(w.dir, { recursive: true });
    copyFileSync(template, w.trades);
    copyFileSync(template, w.quotes);
  }
  return dir;
}

const NO_METRICS = { requests: 0, ok: 0, rateLimited: 0 } as unknown as ClientMetrics;

describe('the readers of a run folder agree with its model', () => {
  it('status, verify, summary, tail, report and reconcile count what the model commits', async () => {
    await fc.assert(
      fc.asyncProperty(folderSpec, async (spec) => {
        const dir = await writeFolder(spec);
        const want = oracle(spec);
        const model = await readRunFolder(dir);
        const got = {
          symbols: model.detect.symbols.size,
          shards: model.detect.shards.size,
          eventRows: model.detect.eventRows,
          windows: model.ingest.windows.size,
          trades: model.ingest.trades,
          quotes: model.ingest.quotes,
          failed: model.failures.size,
        };
        expect(got).toEqual(want);

        const status = await runStatus(dir);
        if (status.detect) expect({ symbols: status.detect.symbolsDone, shards: status.detect.shards, eventRows: status.detect.eventRows }).toEqual({ symbols: want.symbols, shards: want.shards, eventRows: want.eventRows });
        else expect(want.symbols).toBe(0);
        if (status.ingest) {
          expect({ windows: status.ingest.windowsDone, trades: status.ingest.tradeRows, quotes: status.ingest.quoteRows, failed: status.ingest.failed }).toEqual({
            windows: want.windows,
            trades: want.trades,
            quotes: want.quotes,
            failed: want.failed,
          });
        } else expect(want.windows + want.failed).toBe(0);

        const verified = await verifyRun(dir);
        expect(verified.committed).toEqual({ symbols: want.symbols, shards: want.shards, windows: want.windows, failed: want.failed });

        const disk = await new StateReader(dir).refresh();
        expect({ symbols: disk.symbolsCommitted, windows: disk.windowsCommitted, failed: disk.windowsFailed }).toEqual({ symbols: want.symbols, windows: want.windows, failed: want.failed });
        const report = await buildReport(dir);
        expect({ symbols: report.disk.symbolsCommitted, windows: report.disk.windowsCommitted, failed: report.disk.windowsFailed }).toEqual({ symbols: want.symbols, windows: want.windows, failed: want.failed });

        const summary = runSummary(dir, { wallMs: 1, metrics: NO_METRICS, quota: 1, ingestElapsedMs: undefined });
        if (hasCorruptLine(spec.detect) || hasCorruptLine(spec.ingest) || hasCorruptLine(spec.failed)) {
          await expect(summary).rejects.toBeInstanceOf(InputError); // the pipeline refuses a corrupt journal
        } else {
          const s = await summary;
          expect({ symbols: s.symbolsDone, windows: s.windows, trades: s.tradeRows, quotes: s.quoteRows, failed: s.windowsFailed }).toEqual({
            symbols: want.symbols,
            windows: want.windows,
            trades: want.trades,
            quotes: want.quotes,
            failed: want.failed,
          });
        }

        // Last: reconcile rewrites the journals. Every journaled window is on disk, so it keeps one
        // line per committed window and adds none.
        const r = await reconcileRun(dir);
        expect(r.ingest.kept + r.ingest.added.length).toBe(want.windows);
        expect(r.ingest.added).toEqual([]);
        rmSync(dir, { recursive: true, force: true });
      }),
      { numRuns: 40 },
    );
  }, 600_000);
});
