import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pl from 'nodejs-polars';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError, LockedError } from '../../src/errors.js';
import { int64Values, quotesFrame, tradesFrame } from '../../src/sinks/parquet.js';
import { loadIngestState, windowComplete, windowPaths, WindowWriter } from '../../src/sinks/window-sink.js';
import { fakeQuotes, fakeTrades, T0, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => cleanup());

const ID = 'AAPL_flush_20231207_130200_1a2b3c4d';

describe('WindowWriter', () => {
  it('publishes trades.parquet and quotes.parquet, then journals {event, symbol, trades, quotes}', async () => {
    const w = await WindowWriter.open(dir, { index: 0, count: 1 }, { groupCommitMs: 5 });
    const r = await w.commit({ symbol: 'AAPL', eventId: ID, trades: tradesFrame(fakeTrades(3)), quotes: quotesFrame([]) });
    expect(r.trades).toBe(3);
    expect(r.quotes).toBe(0);
    expect(r.bytes).toBeGreaterThan(0);
    await w.close();
    const p = windowPaths(dir, 'AAPL', ID);
    expect(p.dir).toBe(join(dir, 'windows', 'symbol=AAPL', `event=${ID}`));
    expect((await readdir(p.dir)).sort()).toEqual(['quotes.parquet', 'trades.parquet']);
    expect(int64Values(pl.readParquet(p.trades), 'sip_timestamp')).toEqual([T0, T0 + 1n, T0 + 2n]);
    expect(pl.readParquet(p.quotes).height).toBe(0);
    expect(await readFile(join(dir, 'state/ingest/part-0.jsonl'), 'utf8')).toBe(`{"event":"${ID}","symbol":"AAPL","trades":3,"quotes":0}\n`);
    expect(await windowComplete(dir, 'AAPL', ID)).toBe(true);
    expect(await windowComplete(dir, 'AAPL', 'other')).toBe(false);
    expect(await readdir(join(dir, 'state/ingest'))).not.toContain('part-0.lock');
  });

  it('a repeated download overwrites identical content (idempotent)', async () => {
    const w = await WindowWriter.open(dir, { index: 0, count: 1 });
    const args = { symbol: 'AAPL', eventId: ID, trades: tradesFrame(fakeTrades(50)), quotes: quotesFrame(fakeQuotes(20)) };
    await w.commit(args);
    const p = windowPaths(dir, 'AAPL', ID);
    const first = [await readFile(p.trades), await readFile(p.quotes)];
    await w.commit(args);
    await w.close();
    expect(await readFile(p.trades)).toEqual(first[0]);
    expect(await readFile(p.quotes)).toEqual(first[1]);
  });

  it('failures go to the failure journal (secrets redacted); state is the union over partitions', async () => {
    const a = await WindowWriter.open(dir, { index: 0, count: 2 }, { groupCommitMs: 0 });
    const b = await WindowWriter.open(dir, { index: 1, count: 2 }, { groupCommitMs: 0 });
    await a.commit({ symbol: 'A', eventId: 'e1', trades: tradesFrame([]), quotes: quotesFrame([]) });
    await b.commit({ symbol: 'B', eventId: 'e2', trades: tradesFrame([]), quotes: quotesFrame([]) });
    await b.fail({ eventId: 'e3', symbol: 'B', status: 404, code: 'E_NOT_FOUND', reason: 'GET https://api.polygon.io/v3/trades/B?apiKey=SECRET: 404' });
    await a.fail({ eventId: 'e4', symbol: 'A', code: 'E_SERVER', reason: 'retries exhausted' });
    await Promise.all([a.close(), b.close()]);
    // a later run with another partition count completes e4
    const c = await WindowWriter.open(dir, { index: 0, count: 1 });
    await c.commit({ symbol: 'A', eventId: 'e4', trades: tradesFrame([]), quotes: quotesFrame([]) });
    await c.close();
    const state = await loadIngestState(dir);
    expect([...state.completed].sort()).toEqual(['e1', 'e2', 'e4']);
    expect([...state.failed.keys()]).toEqual(['e3']);
    expect(state.failed.get('e3')).toEqual({ symbol: 'B', code: 'E_NOT_FOUND', status: 404, reason: 'GET https://api.polygon.io/v3/trades/B?apiKey=[redacted] 404' });
    const failedText = await readFile(join(dir, 'state/ingest/part-1.failed.jsonl'), 'utf8');
    expect(failedText).not.toContain('SECRET');
    expect(JSON.parse(failedText.split('\n')[0]!)).toMatchObject({ event: 'e3', symbol: 'B', status: 404, code: 'E_NOT_FOUND' });
    const nothing = await loadIngestState(join(dir, 'nothing'));
    expect(nothing.completed.size).toBe(0);
    expect(nothing.failed).toEqual(new Map());
  });

  it('symbols and event IDs that could escape the output folder are refused before any path is built', async () => {
    const w = await WindowWriter.open(dir, { index: 0, count: 1 });
    const frames = { trades: tradesFrame([]), quotes: quotesFrame([]) };
    for (const [symbol, eventId] of [
      ['../x', 'e'],
      ['A/B', 'e'],
      ['A', '../../etc'],
      ['A', 'x\u0000y'],
      ['..', 'e'],
      ['A', ''],
      ['A', 'a\\b'],
      ['A=B', 'e'],
    ]) {
      await expect(w.commit({ symbol: symbol!, eventId: eventId!, ...frames }), `${symbol} ${eventId}`).rejects.toBeInstanceOf(InputError);
    }
    await expect(w.fail({ symbol: 'A', eventId: '../e', code: 'x', reason: 'y' })).rejects.toBeInstanceOf(InputError);
    await w.close();
    expect(await readdir(dir)).toEqual(['state']);
  });

  it('validates the partition and refuses a second writer', async () => {
    await expect(WindowWriter.open(dir, { index: 2, count: 2 })).rejects.toBeInstanceOf(InputError);
    await expect(WindowWriter.open(dir, { index: 0, count: 0 })).rejects.toBeInstanceOf(InputError);
    await expect(WindowWriter.open(dir, { index: 0, count: 1 }, { groupCommitMs: -5 })).rejects.toBeInstanceOf(InputError);
    const w = await WindowWriter.open(dir, { index: 0, count: 1 });
    await expect(WindowWriter.open(dir, { index: 0, count: 3 })).rejects.toBeInstanceOf(LockedError);
    await w.close();
  });
});
