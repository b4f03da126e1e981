/**
 * Test support for the operating commands: a real run folder built by the real pipeline (detect →
 * consolidate → ingest) against the simulator, copies of it, file listings, and a function that
 * inflicts every kind of damage `verify` names.
 */
import { appendFileSync, copyFileSync, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { lastValueFrom } from 'rxjs';
import { builtinDetectors } from '../../src/detect/index.js';
import type { CommandIo } from '../../src/cli/command.js';
import { main } from '../../src/cli/main.js';
import { TokenBucket } from '../../src/operators/token-bucket.js';
import { consolidate } from '../../src/pipeline/consolidate.js';
import { detectStage } from '../../src/pipeline/detect-stage.js';
import { ingestStage } from '../../src/pipeline/ingest-stage.js';
import { ensureRunSpec, hashUniverse } from '../../src/sinks/index.js';
import { startSim } from '../../src/sim/index.js';
import { PolygonClient } from '../../src/streams/polygon-client.js';

export const SYMBOLS = ['AAOI', 'ABVC', 'ADTX'];
const FROM = '2024-03-04';
const TO = '2024-03-05';

/** Runs the whole pipeline on a tiny universe into a fresh folder; returns its path. */
export async function buildRunFolder(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'tickpipe-ops-'));
  const sim = await startSim({ seed: 7, port: 0, rate: 1000, latency: { minMs: 0, maxMs: 2 } });
  try {
    const bucket = new TokenBucket({ rate: 1000 });
    const client = new PolygonClient({ apiKey: 'test-key', baseUrl: sim.url, bucket });
    try {
      await ensureRunSpec(dir, {
        version: 1,
        source: { sim: { seed: 7 } },
        universe: { hash: hashUniverse(SYMBOLS), count: SYMBOLS.length },
        from: FROM,
        to: TO,
        detectors: {},
        window: { beforeMs: 60_000, afterMs: 120_000 },
        quotesHz: 1,
      });
      await lastValueFrom(
        detectStage({ outDir: dir, symbols: SYMBOLS, from: FROM, to: TO, client, detectors: builtinDetectors(), workers: 2, batchSize: 1 }),
        { defaultValue: undefined },
      );
      await consolidate(dir);
      await lastValueFrom(
        ingestStage({ outDir: dir, manifestPath: join(dir, 'events', 'events.parquet'), client, window: { beforeMs: 60_000, afterMs: 120_000 }, groupCommitMs: 0 }),
        { defaultValue: undefined },
      );
    } finally {
      await client.close();
    }
  } finally {
    await sim.close();
  }
  return dir;
}

/** A copy of `src` in a fresh temp folder. */
export function copyRun(src: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tickpipe-ops-copy-'));
  cpSync(src, dir, { recursive: true });
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Every file and folder under `dir` with size and mtime: equal listings mean nothing changed. */
export function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const st = statSync(p);
      out.push(`${relative(dir, p)}${e.isDirectory() ? '/' : ` ${st.size} ${st.mtimeMs}`}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** Runs the CLI in-process; returns exit code and captured output. */
export async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (f: (s: string) => void) => ({ write: (s: string) => (f(String(s)), true), isTTY: false }) as unknown as NodeJS.WriteStream;
  const io: CommandIo = { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), env: {} };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

export interface WindowLine {
  event: string;
  symbol: string;
  trades: number;
  quotes: number;
}

export function readLines<T>(path: string): T[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

const winDir = (dir: string, w: WindowLine) => join(dir, 'windows', `symbol=${w.symbol}`, `event=${w.event}`);

/** What {@link damage} did, for the assertions. */
export interface Damage {
  /** Windows by role. */
  readonly missingQuotes: WindowLine;
  readonly truncated: WindowLine;
  readonly mismatched: WindowLine;
  readonly gone: WindowLine;
  readonly unjournaled: WindowLine;
  readonly tmpWindow: WindowLine;
  readonly duplicatedRows: number;
}

/**
 * Inflicts one instance of every kind of damage verify names (two tmp files):
 * duplicate rows (a copied shard + forged journal line naming it, without symbols), a symbol
 * journaled twice (a forged no-shard line), a window journaled twice, a window missing
 * quotes.parquet, a truncated Parquet file, a row-count mismatch (edited journal line), a journal
 * line whose files are gone, a complete window not journaled, an uncommitted shard, orphan tmp files
 * (a complete window-file tmp whose final is missing, and a lock-file tmp), a torn journal tail and a
 * corrupt journal line (in the failure journal, so the pipeline's own readers are not blocked).
 */
export function damage(dir: string): Damage {
  const part0 = join(dir, 'state', 'ingest', 'part-0.jsonl');
  const lines = readLines<WindowLine>(part0);
  if (lines.length < 8) throw new Error(`need >= 8 windows to damage, got ${lines.length}`);
  const [missingQuotes, truncated, mismatched, gone, unjournaled, tmpWindow, twiceW] = lines as [WindowLine, WindowLine, WindowLine, WindowLine, WindowLine, WindowLine, WindowLine];

  // Stage 1. worker-0 has shard-000000 (batch size 1: one shard per symbol with events).
  const w0 = join(dir, 'events', 'shards', 'worker-0');
  const j0 = join(dir, 'state', 'detect', 'worker-0.jsonl');
  const shardLines = readLines<{ shard: string | null; symbols: string[]; rows: number }>(j0);
  const first = shardLines.find((l) => l.shard !== null)!;
  const used = new Set(readdirSync(w0));
  let n = 0;
  const next = () => {
    while (used.has(`shard-${String(n).padStart(6, '0')}.parquet`)) n++;
    const name = `shard-${String(n).padStart(6, '0')}.parquet`;
    used.add(name);
    return name;
  };
  const copy = next();
  copyFileSync(join(w0, first.shard!), join(w0, copy));
  appendFileSync(j0, `${JSON.stringify({ shard: copy, symbols: [], rows: first.rows })}\n`);
  const uncommitted = next();
  copyFileSync(join(w0, first.shard!), join(w0, uncommitted));
  // a symbol of worker 0 journaled again by worker 1
  appendFileSync(join(dir, 'state', 'detect', 'worker-1.jsonl'), `${JSON.stringify({ shard: null, symbols: [first.symbols[0]], rows: 0 })}\n`);

  // Stage 2.
  unlinkSync(join(winDir(dir, missingQuotes), 'quotes.parquet'));
  const tp = join(winDir(dir, truncated), 'trades.parquet');
  truncateSync(tp, Math.floor(statSync(tp).size / 2));
  rmSync(winDir(dir, gone), { recursive: true });
  // the tmp of a window's quotes whose final file is missing: a complete Parquet file
  const q = join(winDir(dir, tmpWindow), 'quotes.parquet');
  copyFileSync(q, `${q}.tmp-0123456789ab`);
  unlinkSync(q);
  const kept = lines.filter((l) => l !== unjournaled).map((l) => (l === mismatched ? { ...l, trades: l.trades + 5 } : l));
  writeFileSync(part0, kept.map((l) => JSON.stringify(l)).join('\n') + '\n');
  // the same window journaled again by another partition, then a torn tail
  writeFileSync(join(dir, 'state', 'ingest', 'part-1.jsonl'), `${JSON.stringify(twiceW)}\n{"event":"torn`);
  // a corrupt line (not the last) in a failure journal
  writeFileSync(join(dir, 'state', 'ingest', 'part-0.failed.jsonl'), 'garbage{\n{"event":"X_flush_20240304_130000_00000000","symbol":"X","status":404,"code":"E_NOT_FOUND","reason":"gone","at":"2024-01-01T00:00:00Z"}\n');
  // a lock-file tmp leftover
  writeFileSync(join(dir, 'state', 'ingest', 'part-0.lock.tmp-abcdefabcdef'), '{"pid":1');
  return { missingQuotes, truncated, mismatched, gone, unjournaled, tmpWindow, duplicatedRows: first.rows };
}
