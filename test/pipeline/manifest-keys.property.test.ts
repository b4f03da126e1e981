/**
 * The manifest key file (`state/ingest/committed.keys`) never changes what a resume requests or
 * counts: over random manifests (CSV with several spellings of one instant, Parquet Datetime and
 * integer-ms columns, repeated rows), random committed subsets, torn journal tails, journals
 * appended to or rewritten, and key files that are stale, foreign, corrupt or torn, a pass that
 * skips rows by key yields the same events (same index, same ID) and the same counts as the slow
 * path that computes every row's ID.
 */
import fc from 'fast-check';
import { appendFile, copyFile, mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManifestPass, openPassKeys, type ManifestCounts } from '../../src/pipeline/manifest-pass.js';
import { MANIFEST_KEYS_NAME } from '../../src/sinks/committed-index.js';
import { loadIngestState } from '../../src/sinks/window-sink.js';
import { canonicalEventId } from '../../src/streams/event-id.js';
import { readManifestBatches, type ManifestEvent } from '../../src/streams/manifest.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tickpipe-manifest-keys-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const SYMBOLS = ['ABCD', 'WXYZ', 'Q'];
const TYPES = ['flush', 'vwap_break'];
const BASE_MS = Date.UTC(2024, 2, 11, 15, 0, 0);
/** Spellings of one instant (UTC ms) as a CSV cell; all give the same event ID. */
const SPELLINGS: ReadonlyArray<(ms: number) => string> = [
  (ms) => new Date(ms).toISOString().replace('.000Z', 'Z'),
  (ms) => new Date(ms).toISOString().replace('T', ' ').replace('.000Z', ''),
  (ms) => new Date(ms - 4 * 3_600_000).toISOString().replace('.000Z', '-04:00'),
  (ms) => String(ms),
];

interface Row {
  readonly symbol: string;
  readonly type: string;
  readonly ms: number;
  readonly spelling: number;
}

const rowArb = fc.record({
  symbol: fc.constantFrom(...SYMBOLS),
  type: fc.constantFrom(...TYPES),
  ms: fc.integer({ min: 0, max: 11 }).map((m) => BASE_MS + m * 60_000),
  spelling: fc.integer({ min: 0, max: SPELLINGS.length - 1 }),
});

type Mutation = 'none' | 'append' | 'rewrite-journal' | 'foreign-keys' | 'corrupt-keys' | 'torn-keys' | 'delete-index';

const caseArb = fc.record({
  rows: fc.array(rowArb, { minLength: 1, maxLength: 60 }),
  format: fc.constantFrom('csv', 'parquet-datetime', 'parquet-int-ms'),
  /** Which distinct IDs are journaled before the first pass, and which are added after it. */
  before: fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
  after: fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
  torn: fc.boolean(),
  mutation: fc.constantFrom<Mutation>('none', 'append', 'rewrite-journal', 'foreign-keys', 'corrupt-keys', 'torn-keys', 'delete-index'),
  /** The second pass reads the manifest with these rows appended (new events, new spellings). */
  extra: fc.array(rowArb, { maxLength: 10 }),
});

const idOf = (r: Row): string => canonicalEventId(r.symbol, r.type, r.ms);

async function writeManifest(path: string, rows: readonly Row[], format: string): Promise<string> {
  if (format === 'csv') {
    const p = `${path}.csv`;
    await writeFile(p, `symbol,event_type,timestamp\n${rows.map((r) => `${r.symbol},${r.type},${SPELLINGS[r.spelling]!(r.ms)}`).join('\n')}\n`);
    return p;
  }
  const p = `${path}.parquet`;
  const ts = pl.Series('timestamp', rows.map((r) => r.ms), pl.Float64).cast(pl.Int64);
  const df = pl.DataFrame({ symbol: rows.map((r) => r.symbol), event_type: rows.map((r) => r.type) }).withColumns(format === 'parquet-datetime' ? ts.cast(pl.Datetime('ms', 'UTC')) : ts);
  df.writeParquet(p);
  return p;
}

const journalLine = (id: string): string => `${JSON.stringify({ event: id, symbol: id.split('_')[0], trades: 1, quotes: 2 })}\n`;

interface PassResult {
  readonly events: Array<[number, string]>;
  readonly counts: ManifestCounts;
  readonly known: number;
}

/** One start: state loaded (index written), keys used or not, the pass run to its end. */
async function pass(out: string, manifest: string, withKeys: boolean): Promise<PassResult & { keysUse: string }> {
  const state = await loadIngestState(out, { rewriteIndexAfterLines: 1 });
  const keys = withKeys ? await openPassKeys(out, state.completed, 1) : undefined;
  const p = new ManifestPass(state, { index: 0, count: 1 }, false, keys);
  const events: Array<[number, string]> = [];
  let counts: ManifestCounts | undefined;
  let known = 0;
  const batches = readManifestBatches(manifest, { batchRows: 7, ...(keys ? { keys: keys.keys } : {}) });
  async function* counting() {
    for await (const b of batches) {
      for (let i = 0; i < b.length; i++) if (b.known[i]! >= 0) known++;
      yield b;
    }
  }
  for await (const x of p.events(counting(), (c) => ({ counts: c }))) {
    if ('counts' in x) counts = x.counts;
    else events.push([(x as ManifestEvent).index, (x as ManifestEvent).eventId]);
  }
  return { events, counts: counts!, known, keysUse: keys?.keys.use ?? 'none' };
}

describe('manifest key file: exactness', () => {
  it('a pass with the key file requests and counts exactly what the slow path does', async () => {
    let n = 0;
    let fastRows = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const base = join(dir, `case-${n++}`);
        const out = join(base, 'out');
        const ingestDir = join(out, 'state', 'ingest');
        await mkdir(ingestDir, { recursive: true });
        const rows = c.format === 'csv' ? c.rows : c.rows.map((r) => ({ ...r, spelling: 0 }));
        const distinct = [...new Set([...rows, ...c.extra].map(idOf))];
        const journal = join(ingestDir, 'part-0.jsonl');
        const foreign = canonicalEventId('ZZZZ', 'flush', BASE_MS);
        await writeFile(journal, [foreign, ...distinct.filter((_, i) => c.before[i % 40])].map(journalLine).join(''));
        if (c.torn) await appendFile(journal, '{"event":"ABCD_fl');
        const first = await writeManifest(join(base, 'm1'), rows, c.format);
        await pass(out, first, true); // learns the keys of the committed rows, writes the key file

        if (c.torn) await truncate(journal, (await readFile(journal)).lastIndexOf(0x0a) + 1);
        const later = distinct.filter((_, i) => !c.before[i % 40] && c.after[i % 40]);
        if (c.mutation === 'append') await appendFile(journal, later.map(journalLine).join(''));
        if (c.mutation === 'rewrite-journal') await writeFile(journal, [...distinct.filter((_, i) => c.after[i % 40]), foreign].reverse().map(journalLine).join(''));
        const keysFile = join(ingestDir, MANIFEST_KEYS_NAME);
        if (c.mutation === 'foreign-keys') {
          // A key file of another run folder with a different committed set: its entry numbers mean other IDs.
          const other = join(base, 'other');
          await mkdir(join(other, 'state', 'ingest'), { recursive: true });
          await writeFile(join(other, 'state', 'ingest', 'part-0.jsonl'), [...distinct].reverse().map(journalLine).join(''));
          await pass(other, first, true);
          await copyFile(join(other, 'state', 'ingest', MANIFEST_KEYS_NAME), keysFile).catch(() => undefined);
        }
        const keyBytes = await readFile(keysFile).catch(() => undefined);
        if (keyBytes && c.mutation === 'corrupt-keys') {
          keyBytes[keyBytes.length - 5] ^= 0x5a;
          await writeFile(keysFile, keyBytes);
        }
        if (keyBytes && c.mutation === 'torn-keys') await truncate(keysFile, Math.floor(keyBytes.length / 2));
        if (c.mutation === 'delete-index') await rm(join(ingestDir, 'committed.idx'), { force: true });

        const second = await writeManifest(join(base, 'm2'), [...rows, ...(c.format === 'csv' ? c.extra : c.extra.map((r) => ({ ...r, spelling: 0 })))], c.format);
        const slow = await pass(out, second, false);
        const fast = await pass(out, second, true);
        expect(fast.events).toEqual(slow.events);
        expect(fast.counts).toEqual(slow.counts);
        fastRows += fast.known;
        if (c.mutation === 'corrupt-keys' || c.mutation === 'torn-keys') expect(fast.keysUse === 'used' ? keyBytes === undefined : true).toBe(true);
        await rm(base, { recursive: true, force: true });
      }),
      { numRuns: 120 },
    );
    expect(fastRows).toBeGreaterThan(0); // the fast path was taken, not only the slow one
  }, 300_000);

  it('CSV with a BOM, CRLF, quoted and blank lines, non-ASCII bytes: same events and counts, quote-free lines skipped by key', async () => {
    const out = join(dir, 'crlf');
    const ingestDir = join(out, 'state', 'ingest');
    await mkdir(ingestDir, { recursive: true });
    const rows: string[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const ms = BASE_MS + i * 60_000;
      const sym = SYMBOLS[i % 3]!;
      if (i % 7 === 3) rows.push(`"${sym}",flush,${SPELLINGS[0]!(ms)},"a, ""note"""`);
      else if (i % 11 === 5) rows.push(`${sym},flush,${SPELLINGS[1]!(ms)},café`);
      else rows.push(`${sym},flush,${SPELLINGS[i % 4]!(ms)},x`);
      ids.push(canonicalEventId(sym, 'flush', ms));
    }
    const m = join(dir, 'crlf.csv');
    await writeFile(m, `\uFEFFsymbol,event_type,timestamp,note\r\n${rows.slice(0, 20).join('\r\n')}\r\n\r\n   \r\n${rows.slice(20).join('\r\n')}`);
    await writeFile(join(ingestDir, 'part-0.jsonl'), ids.filter((_, i) => i % 5 !== 0).map(journalLine).join(''));
    await pass(out, m, true);
    const slow = await pass(out, m, false);
    const fast = await pass(out, m, true);
    expect(fast.keysUse).toBe('used');
    expect(fast.events).toEqual(slow.events);
    expect(fast.counts).toEqual(slow.counts);
    expect(fast.events.map(([, id]) => id)).toEqual(ids.filter((_, i) => i % 5 === 0));
    // Every done line without a quote is skipped by its key (quoted lines take the slow path).
    expect(fast.known).toBe(ids.filter((_, i) => i % 5 !== 0 && i % 7 !== 3).length);
  });

  it('a second start over the same manifest skips every done row by key, requests only the new ones', async () => {
    const out = join(dir, 'plain');
    const ingestDir = join(out, 'state', 'ingest');
    await mkdir(ingestDir, { recursive: true });
    for (const format of ['csv', 'parquet-datetime', 'parquet-int-ms']) {
      const rows: Row[] = [];
      for (let i = 0; i < 300; i++) rows.push({ symbol: SYMBOLS[i % 3]!, type: TYPES[i % 2]!, ms: BASE_MS + i * 60_000, spelling: format === 'csv' ? i % 3 : 0 });
      const done = rows.slice(0, 290);
      await writeFile(join(ingestDir, 'part-0.jsonl'), done.map((r) => journalLine(idOf(r))).join(''));
      await rm(join(ingestDir, MANIFEST_KEYS_NAME), { force: true });
      const m = await writeManifest(join(dir, `plain-${format}`), rows, format);
      const first = await pass(out, m, true);
      expect(first.known).toBe(0);
      const second = await pass(out, m, true);
      expect(second.keysUse).toBe('used');
      expect(second.known).toBe(290);
      expect(second.events).toEqual(rows.slice(290).map((r, i) => [290 + i, idOf(r)]));
      expect(second.counts).toEqual(first.counts);

      // Released once the pass is over (as the ingest stage does): the keys find nothing, so a later
      // probe can only take the slow path (the ID computed, the committed set decides), never skip.
      const state = await loadIngestState(out);
      const keys = await openPassKeys(out, state.completed);
      expect(keys.keys.use).toBe('used');
      const sizeBefore = keys.keys.parquet.size + keys.keys.csv.size;
      expect(sizeBefore).toBeGreaterThanOrEqual(290);
      keys.keys.release();
      expect(keys.keys.parquet.size + keys.keys.csv.size).toBe(0);
      expect(keys.keys.lookupParquet(0, 0, 'us', 0)).toBe(-1);
      expect(keys.keys.csvHeaderMatches(keys.keys.csvHeader ?? '')).toBe(false);
      state.completed.release();
      const third = await pass(out, m, true); // the files on disk are untouched by a release
      expect([third.keysUse, third.known, third.events]).toEqual(['used', 290, second.events]);
    }
  }, 120_000);
});
