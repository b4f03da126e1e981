import { describe, expect, it } from 'vitest';
import { nsBigint, priceText } from '../../src/sim/json.js';
import { conditionCodes, getDayTicks, type DayTicks } from '../../src/sim/market.js';
import { parseDay } from '../../src/sim/calendar.js';
import { ByteWriter, writeQuote, writeTrade } from '../../src/sim/tick-bytes.js';

// The oracle: rows as template strings, the way the simulator wrote them before the byte writer.
function nsText(baseMs: number, offNs: number): string {
  return nsBigint(baseMs, offNs).toString();
}
const CONDITION_TEXT = Array.from({ length: 8 }, (_, bits) => {
  const codes = conditionCodes(bits);
  return codes.length === 0 ? '' : `"conditions":[${codes.join(',')}],`;
});
function tradeJson(d: DayTicks, i: number): string {
  const trf = d.tTrf[i]!;
  const size = d.tSize[i]!;
  const head =
    `{${CONDITION_TEXT[d.tCond[i]!]}"exchange":${d.tExch[i]},"id":"${i + 1}",` +
    `"participant_timestamp":${nsText(d.baseMs, d.tPart[i]!)},"price":${priceText(d.tPrice[i]!)},` +
    `"sequence_number":${d.tSeq[i]},"sip_timestamp":${nsText(d.baseMs, d.tSip[i]!)},` +
    `"size":${size},"decimal_size":"${size}.0","tape":${d.tape}`;
  return trf === trf ? `${head},"trf_id":${d.tTrfId[i]},"trf_timestamp":${nsText(d.baseMs, trf)}}` : `${head}}`;
}
function quoteJson(d: DayTicks, i: number): string {
  return (
    `{"ask_exchange":${d.qAskExch[i]},"ask_price":${priceText(d.qAsk[i]!)},"ask_size":${d.qAskSize[i]},` +
    `"bid_exchange":${d.qBidExch[i]},"bid_price":${priceText(d.qBid[i]!)},"bid_size":${d.qBidSize[i]},` +
    `"participant_timestamp":${nsText(d.baseMs, d.qPart[i]!)},"sequence_number":${d.qSeq[i]},` +
    `"sip_timestamp":${nsText(d.baseMs, d.qSip[i]!)},"tape":${d.tape}}`
  );
}

describe('sim tick rows as bytes', () => {
  it('write the same text as the template-string rows, every row of sparse, busy and in-play days', () => {
    const days = [['AAOI', '2024-03-11', 'sparse'], ['ZZZ', '2024-03-12', 'busy'], ['BRK.B', '2024-11-04', 'in-play']] as const;
    let trades = 0;
    let quotes = 0;
    let trf = 0;
    let conds = 0;
    /**
     * Every row of one kind of a day through ONE writer, as a page writes them (the second's digits
     * carried from row to row, the buffer regrown from 16 bytes), each compared with the oracle.
     */
    const sameRows = (label: string, n: number, write: (w: ByteWriter, i: number) => void, oracle: (i: number) => string): void => {
      const w = new ByteWriter(16);
      let from = 0;
      for (let i = 0; i < n; i++) {
        write(w, i);
        const all = w.finish();
        const got = all.toString('latin1', from);
        from = all.length;
        const want = oracle(i);
        if (got !== want) expect(got, `${label} ${i}`).toBe(want);
      }
    };
    for (const [ticker, day, density] of days) {
      const d = getDayTicks(7, ticker, parseDay(day)!, 0.5, density);
      sameRows(`${ticker} ${day} trade`, d.tradeCount, (w, i) => writeTrade(w, d, i), (i) => tradeJson(d, i));
      sameRows(`${ticker} ${day} quote`, d.quoteCount, (w, i) => writeQuote(w, d, i), (i) => quoteJson(d, i));
      trades += d.tradeCount;
      quotes += d.quoteCount;
      for (let i = 0; i < d.tradeCount; i++) {
        if (d.tTrf[i] === d.tTrf[i]) trf++;
        if (d.tCond[i] !== 0) conds++;
      }
    }
    // The days exercise every branch: TRF trades, conditions, many rows.
    expect(trf).toBeGreaterThan(100);
    expect(conds).toBeGreaterThan(100);
    expect(trades).toBeGreaterThan(10_000);
    expect(quotes).toBeGreaterThan(50_000);
  });

  it('write numbers as Number#toString does: whole numbers, exact nanoseconds beyond 2^53, E4 prices', () => {
    const w = new ByteWriter(1);
    const want: string[] = [];
    for (const n of [0, 7, 9, 10, 99, 100, 12345, 2 ** 31 - 1, 2 ** 53 - 1, -1, -(2 ** 31)]) {
      w.int(n);
      w.byte(32);
      want.push(String(n));
    }
    for (const off of [0, 1, 99, 1e8 - 1, 1e8, 999_999_999, 1e9, 5.76e13 + 123, -5, -1e9 - 7]) {
      w.ns(1710144000123, off);
      w.byte(32);
      want.push(nsBigint(1710144000123, off).toString());
    }
    expect(w.finish().toString('latin1')).toBe(`${want.join(' ')} `);
    const bad: number[] = [];
    for (let e4 = 0; e4 <= 2_000_000; e4++) {
      const p = new ByteWriter(8);
      p.price(e4);
      if (p.finish().toString('latin1') !== String(e4 / 1e4)) bad.push(e4);
    }
    expect(bad).toEqual([]);
  });

  it('keep text of any kind and the buffer its own', () => {
    const w = new ByteWriter(4);
    let want = '';
    for (let i = 0; i < 5_000; i++) {
      // Past the first buffer several times: regrowing keeps what was written.
      const s = `{"name":"Société Générale ✓ ${i}"},`;
      w.text(s);
      want += s;
    }
    expect(w.finish().toString('utf8')).toBe(want);
    // Never a slice of Node's shared pool of small Buffers: the page thread transfers it.
    expect(w.finish().buffer.byteLength).toBeGreaterThan(Buffer.poolSize);
  });
});
