import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adopt, parseEventId } from '../../src/ops/adopt.js';
import { acquireLock, int64Values, loadCompletedSymbols, loadIngestState, loadJournal, quotesFrame, tradesFrame, windowPaths, type WindowJournalLine } from '../../src/sinks/index.js';
import { canonicalEventId } from '../../src/streams/event-id.js';
import { runCli } from '../support/cli.js';

const ts = (m: number) => Date.UTC(2024, 2, 4, 14, m, 0);
const ID = {
  good: canonicalEventId('AAPL', 'opening_range_break', ts(30)),
  converted: canonicalEventId('MSFT', 'vwap_break', ts(31)),
  corrupt: canonicalEventId('AAPL', 'flush', ts(32)),
  noQuotes: canonicalEventId('AAPL', 'volume_spike', ts(33)),
  badSchema: canonicalEventId('MSFT', 'flush', ts(34)),
  missing: canonicalEventId('MSFT', 'volume_spike', ts(35)),
  underscore: canonicalEventId('BRK_B', 'opening_range_break', ts(36)),
};
const NS = 1_709_562_600_123_456_789n;
const trades = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ sip_timestamp: NS + BigInt(i), participant_timestamp: NS + BigInt(i) - 5n, sequence_number: i, id: String(i), price: 10 + i / 100, size: 100, exchange: 4, tape: 3, conditions: [12, 37] }));
const quotes = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ sip_timestamp: NS + BigInt(i), participant_timestamp: NS + BigInt(i), sequence_number: i, bid_price: 10, bid_size: 1, bid_exchange: 11, ask_price: 10.01, ask_size: 2, ask_exchange: 12, tape: 3 }));

let root: string;
let old: string;
let out: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tp-adopt-'));
  old = join(root, 'old');
  out = join(root, 'run');
  const win = async (rel: string, t: pl.DataFrame | Buffer | undefined, q: pl.DataFrame | Buffer | undefined) => {
    const d = join(old, rel);
    await mkdir(d, { recursive: true });
    for (const [name, v] of [['trades.parquet', t], ['quotes.parquet', q]] as const) {
      if (v === undefined) continue;
      if (Buffer.isBuffer(v)) await writeFile(join(d, name), v);
      else v.writeParquet(join(d, name));
    }
  };
  await win(`symbol=AAPL/event=${ID.good}`, tradesFrame(trades(5)), quotesFrame(quotes(4)));
  // Older writer: Datetime(ns) timestamps, Int64 exchange codes, an extra column, symbol only in the ID.
  const oldTrades = tradesFrame(trades(3)).withColumns(pl.col('sip_timestamp').cast(pl.Datetime('ns')), pl.col('exchange').cast(pl.Int64), pl.lit('x').alias('extra'));
  await win(`2024-03-04/event=${ID.converted}`, oldTrades, quotesFrame(quotes(2)));
  await win(`symbol=AAPL/event=${ID.corrupt}`, Buffer.from('PAR1 this is not parquet'), quotesFrame(quotes(1)));
  await win(`symbol=AAPL/event=${ID.noQuotes}`, tradesFrame(trades(1)), undefined);
  await win(`2024-03-04/event=${ID.badSchema}`, tradesFrame(trades(1)), quotesFrame(quotes(1)).drop('bid_price'));
  await win(`symbol=BRK_B/event=${ID.underscore}`, tradesFrame([]), quotesFrame([]));
  await win(`symbol=AAPL/event=not-an-event-id`, tradesFrame([]), quotesFrame([]));
  await writeFile(join(old, 'checkpoint_ingest.json'), JSON.stringify({ completed_events: [ID.good, ID.converted, ID.missing, ID.corrupt] }));
  await writeFile(join(old, 'checkpoint_detect.json'), JSON.stringify({ completed_symbols: ['AAPL', 'MSFT'] }));
  await writeFile(join(old, 'settings.json'), JSON.stringify({ other: true }));
});
afterAll(async () => rm(root, { recursive: true, force: true }));

describe('parseEventId', () => {
  it('parses from the right and confirms the split with the hash', () => {
    expect(parseEventId(ID.good)).toMatchObject({ symbol: 'AAPL', eventType: 'opening_range_break', verified: true });
    expect(parseEventId(ID.underscore)).toMatchObject({ symbol: 'BRK_B', eventType: 'opening_range_break', verified: true });
    expect(parseEventId('AAPL_flush_20240304_143000_00000000')).toMatchObject({ symbol: 'AAPL', eventType: 'flush', verified: false });
    expect(parseEventId('nope')).toBeUndefined();
  });
});

describe('tickpipe adopt', () => {
  it('imports valid windows into a fresh folder and reports skipped/invalid ones', async () => {
    const r = await runCli(['adopt', '--from', old, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/created run\.json/);
    expect(r.stdout).toMatch(/imported 3 windows \(2 hard-linked, 0 copied, 1 converted/);
    expect(r.stdout).toMatch(/detect checkpoint: 2 symbols listed but NOT marked done/);
    expect(r.stdout).toMatch(new RegExp(`${ID.corrupt}: trades\\.parquet does not open`));
    expect(r.stdout).toMatch(new RegExp(`${ID.noQuotes}: missing quotes\\.parquet`));
    expect(r.stdout).toMatch(new RegExp(`${ID.badSchema}: quotes: missing column\\(s\\) bid_price`));
    expect(r.stdout).toMatch(new RegExp(`event ${ID.missing}: listed as completed in .* but no valid window on disk`));
    expect(r.stdout).toMatch(/not-an-event-id: event ID "not-an-event-id" is not/);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('total: 3 imported, 0 skipped, 5 invalid');

    // verify-like checks: every journaled window has both files, with the journaled row counts
    const j = await loadJournal<WindowJournalLine>(join(out, 'state', 'ingest', 'part-0.jsonl'));
    expect(j.entries.map((e) => e.event).sort()).toEqual([ID.converted, ID.good, ID.underscore].sort());
    for (const e of j.entries) {
      const p = windowPaths(out, e.symbol, e.event);
      const [t, q] = await Promise.all([pl.readParquet(p.trades), pl.readParquet(p.quotes)]);
      expect([t.height, q.height]).toEqual([e.trades, e.quotes]);
    }
    expect(j.entries.find((e) => e.event === ID.converted)).toMatchObject({ symbol: 'MSFT', trades: 3, quotes: 2 });
    // hard link: same inode as the source
    const src = await stat(join(old, `symbol=AAPL/event=${ID.good}`, 'trades.parquet'));
    expect((await stat(windowPaths(out, 'AAPL', ID.good).trades)).ino).toBe(src.ino);
    // converted file has tickpipe's exact schema and exact nanoseconds
    const conv = pl.readParquet(windowPaths(out, 'MSFT', ID.converted).trades);
    expect(conv.columns).toEqual(Object.keys((await import('../../src/sinks/index.js')).TRADES_SCHEMA));
    expect(String(conv.schema.sip_timestamp)).toBe(String(pl.Int64));
    expect(int64Values(conv, 'sip_timestamp')).toEqual([NS, NS + 1n, NS + 2n]);
    // nothing of the invalid ones leaked in
    expect(existsSync(join(out, 'windows', 'symbol=AAPL', `event=${ID.corrupt}`))).toBe(false);
    // a later ingest skips exactly the imported events
    const st = await loadIngestState(out);
    expect([...st.completed].sort()).toEqual([ID.converted, ID.good, ID.underscore].sort());
    expect(JSON.parse(await readFile(join(out, 'run.json'), 'utf8'))).toMatchObject({ version: 1, source: { baseUrl: 'https://api.polygon.io' } });
    expect(existsSync(join(out, 'state', 'ingest', 'part-0.lock'))).toBe(false);
    expect(await loadCompletedSymbols(out)).toEqual(new Set());
  });

  it('a second adopt skips what is present; it refuses while a live lock is held', async () => {
    const again = await runCli(['adopt', '--from', old, '--out', out]);
    expect(again.code).toBe(0);
    expect(again.stdout.trim().split('\n').at(-1)).toBe('total: 0 imported, 3 skipped, 5 invalid');
    expect(again.stdout).toMatch(/already present in the run folder/);
    expect((await loadJournal(join(out, 'state', 'ingest', 'part-0.jsonl'))).entries).toHaveLength(3);

    const lock = await acquireLock(join(out, 'state', 'ingest', 'part-1.lock'), { command: 'tickpipe run' });
    try {
      const r = await runCli(['adopt', '--from', old, '--out', out]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/refusing to adopt .*part-1\.lock is held by pid/);
    } finally {
      await lock.release();
    }
    const bad = await runCli(['adopt', '--from', join(root, 'missing'), '--out', out]);
    expect(bad.code).toBe(2);
    expect((await runCli(['adopt', '--out', out])).code).toBe(2);
  });

  it('--trust-symbols journals detect-checkpoint symbols so stage 1 skips them; --copy copies', async () => {
    const out2 = join(root, 'run2');
    const r = await adopt({ from: old, out: out2, trustSymbols: true, mode: 'copy' });
    expect(r.imported.map((w) => w.method).sort()).toEqual(['converted', 'copy', 'copy']);
    expect(r.symbols).toEqual({ listed: ['AAPL', 'MSFT'], journaled: 2 });
    expect(await loadCompletedSymbols(out2)).toEqual(new Set(['AAPL', 'MSFT']));
    expect(existsSync(join(out2, 'state', 'detect', 'worker-0.lock'))).toBe(false);
  });
});
