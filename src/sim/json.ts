/**
 * JSON text of the simulator's records, written by hand: nanosecond timestamps exceed 2^53 and must
 * reach the client as exact integers, which JSON.stringify cannot write (it rejects bigint), and a
 * 50,000-row page is built faster from columns than through intermediate objects.
 */
import type { Bar, Quote, Trade } from '../types.js';
import { conditionCodes, type DayBars, type DayTicks } from './market.js';

/** "", ".0001" … ".9999" with trailing zeros dropped: what Number#toString gives for k / 1e4. */
export const FRACTION: readonly string[] = Array.from({ length: 10_000 }, (_, k) =>
  k === 0 ? '' : `.${String(k).padStart(4, '0')}`.replace(/0+$/, ''),
);

/** JSON text of an E4 price; identical to `String(e4 / 1e4)` without the float formatting cost. */
export function priceText(e4: number): string {
  const whole = Math.floor(e4 / 1e4);
  return `${whole}${FRACTION[e4 - whole * 1e4]}`;
}

export function nsBigint(baseMs: number, offNs: number): bigint {
  return BigInt(baseMs) * 1_000_000n + BigInt(offNs);
}

/** E4 integer price → dollars as a JS number (the shortest decimal that round-trips). */
export function dollars(e4: number): number {
  return e4 / 1e4;
}

export function tradeRecord(d: DayTicks, i: number): Trade {
  const bits = d.tCond[i]!;
  const trf = d.tTrf[i]!;
  const base = {
    ...(bits !== 0 ? { conditions: conditionCodes(bits) } : {}),
    exchange: d.tExch[i]!,
    id: String(i + 1),
    participant_timestamp: nsBigint(d.baseMs, d.tPart[i]!),
    price: d.tPrice[i]! / 1e4,
    sequence_number: d.tSeq[i]!,
    sip_timestamp: nsBigint(d.baseMs, d.tSip[i]!),
    size: d.tSize[i]!,
    tape: d.tape,
  };
  return trf === trf ? { ...base, trf_id: d.tTrfId[i]!, trf_timestamp: nsBigint(d.baseMs, trf) } : base;
}

export function quoteRecord(d: DayTicks, i: number): Quote {
  return {
    ask_exchange: d.qAskExch[i]!,
    ask_price: d.qAsk[i]! / 1e4,
    ask_size: d.qAskSize[i]!,
    bid_exchange: d.qBidExch[i]!,
    bid_price: d.qBid[i]! / 1e4,
    bid_size: d.qBidSize[i]!,
    participant_timestamp: nsBigint(d.baseMs, d.qPart[i]!),
    sequence_number: d.qSeq[i]!,
    sip_timestamp: nsBigint(d.baseMs, d.qSip[i]!),
    tape: d.tape,
  };
}

/** One aggregate: prices in E4, `pv` = sum(priceE4 * size). */
export interface AggValue {
  t: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  pv: number;
  n: number;
}

/** vw from exact integer sums; the only rounding is this one division. */
export function vwap(pv: number, v: number): number {
  return v > 0 ? pv / v / 1e4 : 0;
}

export function aggJson(a: AggValue): string {
  return `{"v":${a.v},"vw":${vwap(a.pv, a.v)},"o":${priceText(a.o)},"c":${priceText(a.c)},"h":${priceText(a.h)},"l":${priceText(a.l)},"t":${a.t},"n":${a.n}}`;
}

export function aggRecord(a: AggValue): Bar {
  return { t: a.t, o: a.o / 1e4, h: a.h / 1e4, l: a.l / 1e4, c: a.c / 1e4, v: a.v, vw: vwap(a.pv, a.v), n: a.n };
}

export function minuteAgg(b: DayBars, i: number): AggValue {
  return { t: b.t[i]!, o: b.o[i]!, h: b.h[i]!, l: b.l[i]!, c: b.c[i]!, v: b.v[i]!, pv: b.pv[i]!, n: b.n[i]! };
}

/** A JSON string literal (for names and URLs, which may hold any character). */
export function str(s: string): string {
  return JSON.stringify(s);
}

/** The API's error body: `{"status":"ERROR","request_id":…,"error":…}`. */
export function errorBody(requestId: string, message: string): string {
  return `{"status":"ERROR","request_id":"${requestId}","error":${str(message)}}`;
}
