import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { InputError } from '../../src/errors.js';
import {
  canonicalEventId,
  parsePythonTimestamp,
  pythonIsoformat,
  toUtcInstant,
} from '../../src/streams/event-id.js';

/*
 * Expected values below were produced ONCE by Python 3.11.7 running the original pipeline's code
 * (the independent oracle), not by this implementation:
 *
 *   def parse(raw):
 *       try: ts = datetime.fromisoformat(raw.replace("Z", "+00:00"))
 *       except ValueError: ts = datetime.strptime(raw, "%Y-%m-%d %H:%M:%S")
 *       if ts.tzinfo is None: ts = ts.replace(tzinfo=timezone.utc)
 *       return ts
 *   u = ts.astimezone(timezone.utc)
 *   h = hashlib.sha1(f"{symbol}|{et}|{u.isoformat()}".encode()).hexdigest()[:8]
 *   id = f"{symbol}_{et}_{u.strftime('%Y%m%d_%H%M%S')}_{h}"
 *
 * ms rows use `epoch + timedelta(milliseconds=ms)`, ns rows `epoch + timedelta(microseconds=ns // 1000)`.
 * Rows: [symbol, event_type, input, u.isoformat(), event_id].
 */
const STRING_CASES: ReadonlyArray<readonly [symbol: string, eventType: string, raw: string, iso: string, id: string]> = [
  ["AAPL", "orb_break", "2023-12-07T13:02:00+00:00", "2023-12-07T13:02:00+00:00", "AAPL_orb_break_20231207_130200_41ff7a70"],
  ["AAPL", "orb_break", "2023-12-07T13:02:00Z", "2023-12-07T13:02:00+00:00", "AAPL_orb_break_20231207_130200_41ff7a70"],
  ["AAPL", "vwap_break", "2023-12-07T13:02:00", "2023-12-07T13:02:00+00:00", "AAPL_vwap_break_20231207_130200_1273c8d2"],
  ["AAPL", "vwap_break", "2023-12-07 13:02:00", "2023-12-07T13:02:00+00:00", "AAPL_vwap_break_20231207_130200_1273c8d2"],
  ["MSFT", "flush", "2023-12-07T08:02:00-05:00", "2023-12-07T13:02:00+00:00", "MSFT_flush_20231207_130200_706736ba"],
  ["MSFT", "flush", "2023-12-07T13:02:00.123456Z", "2023-12-07T13:02:00.123456+00:00", "MSFT_flush_20231207_130200_b25bce5e"],
  ["MSFT", "flush", "2023-12-07T13:02:00.000001+00:00", "2023-12-07T13:02:00.000001+00:00", "MSFT_flush_20231207_130200_fe2384b6"],
  ["MSFT", "volume_spike", "2023-12-07T13:02:00.123+00:00", "2023-12-07T13:02:00.123000+00:00", "MSFT_volume_spike_20231207_130200_4a7a0a74"],
  ["MSFT", "volume_spike", "2023-12-07T13:02:00.5", "2023-12-07T13:02:00.500000+00:00", "MSFT_volume_spike_20231207_130200_92a93674"],
  ["BRK.B", "orb_break", "2024-03-10T01:59:59-05:00", "2024-03-10T06:59:59+00:00", "BRK.B_orb_break_20240310_065959_d4188d24"],
  ["BRK.B", "orb_break", "2024-03-10T03:00:00-04:00", "2024-03-10T07:00:00+00:00", "BRK.B_orb_break_20240310_070000_8180ef9e"],
  ["BF-B", "flush", "2024-11-03T01:30:00-04:00", "2024-11-03T05:30:00+00:00", "BF-B_flush_20241103_053000_d5f4c728"],
  ["BF-B", "flush", "2024-11-03T01:30:00-05:00", "2024-11-03T06:30:00+00:00", "BF-B_flush_20241103_063000_ad102537"],
  ["GME", "flush", "2021-01-28T09:30:00.999999+05:30", "2021-01-28T04:00:00.999999+00:00", "GME_flush_20210128_040000_64cbe312"],
  ["GME", "flush", "2021-01-28T23:59:59.9999999-01:00", "2021-01-29T00:59:59.999999+00:00", "GME_flush_20210129_005959_23e033b0"],
  ["X", "orb_break", "2020-02-29T00:00:00+00:00", "2020-02-29T00:00:00+00:00", "X_orb_break_20200229_000000_d790f067"],
  ["AMC", "flush", "2023-06-30 23:59:59", "2023-06-30T23:59:59+00:00", "AMC_flush_20230630_235959_ff3d786e"],
  ["AMC", "flush", "2023-6-3 9:5:7", "2023-06-03T09:05:07+00:00", "AMC_flush_20230603_090507_09f99f51"],
  ["AMC", "flush", "2023-12-31T23:30:00-01:00", "2024-01-01T00:30:00+00:00", "AMC_flush_20240101_003000_9176ba33"],
  ["TSLA", "vwap_break", "2023-12-07T13:02", "2023-12-07T13:02:00+00:00", "TSLA_vwap_break_20231207_130200_94964b9c"],
  ["TSLA", "vwap_break", "2023-12-07", "2023-12-07T00:00:00+00:00", "TSLA_vwap_break_20231207_000000_f0de2722"],
  ["TSLA", "vwap_break", "20231207T130200", "2023-12-07T13:02:00+00:00", "TSLA_vwap_break_20231207_130200_94964b9c"],
  ["TSLA", "vwap_break", "2023-12-07T13:02:00,25+00:00", "2023-12-07T13:02:00.250000+00:00", "TSLA_vwap_break_20231207_130200_e8917341"],
  ["TSLA", "vwap_break", "2023-12-07T13:02:00+0130", "2023-12-07T11:32:00+00:00", "TSLA_vwap_break_20231207_113200_8cce7405"],
  ["TSLA", "vwap_break", "2023-12-07T13:02:00.000000Z", "2023-12-07T13:02:00+00:00", "TSLA_vwap_break_20231207_130200_94964b9c"],
  ["NVDA", "orb_break", "1999-12-31T23:59:59.999999-00:00", "1999-12-31T23:59:59.999999+00:00", "NVDA_orb_break_19991231_235959_5ae33d77"],
];
const MS_CASES: ReadonlyArray<readonly [symbol: string, eventType: string, ms: number, iso: string, id: string]> = [
  ["AAPL", "orb_break", 1701954120000, "2023-12-07T13:02:00+00:00", "AAPL_orb_break_20231207_130200_41ff7a70"],
  ["AAPL", "orb_break", 1701954120001, "2023-12-07T13:02:00.001000+00:00", "AAPL_orb_break_20231207_130200_7991fee0"],
  ["MSFT", "flush", 1701954120123, "2023-12-07T13:02:00.123000+00:00", "MSFT_flush_20231207_130200_4d7cfd68"],
  ["SPY", "vwap_break", 0, "1970-01-01T00:00:00+00:00", "SPY_vwap_break_19700101_000000_ef3f4bed"],
  ["BRK.A", "flush", 1710053999999, "2024-03-10T06:59:59.999000+00:00", "BRK.A_flush_20240310_065959_31df7b52"],
  ["QQQ", "flush", 946684799999, "1999-12-31T23:59:59.999000+00:00", "QQQ_flush_19991231_235959_ba6a4ce7"],
];
const NS_CASES: ReadonlyArray<readonly [symbol: string, eventType: string, ns: bigint, iso: string, id: string]> = [
  ["AAPL", "orb_break", 1701954120123456789n, "2023-12-07T13:02:00.123456+00:00", "AAPL_orb_break_20231207_130200_2daa159c"],
  ["AAPL", "orb_break", 1701954120000000999n, "2023-12-07T13:02:00+00:00", "AAPL_orb_break_20231207_130200_41ff7a70"],
  ["AAPL", "orb_break", 1701954120000001000n, "2023-12-07T13:02:00.000001+00:00", "AAPL_orb_break_20231207_130200_8d712f8e"],
  ["IWM", "flush", 1701954120000000000n, "2023-12-07T13:02:00+00:00", "IWM_flush_20231207_130200_5c3f57fa"],
];

// Strings Python 3.11 rejects with both parsers (checked with the same script).
const REJECTED = [
  '',
  'garbage',
  '2023-02-30T00:00:00',
  '2023-12-07T24:00:00',
  '2023-12-07 13:02:00 ',
  ' 2023-12-07',
  '2023-12-07T13:02:00+25:00',
  '2023-12-07T13:02:00.',
  '2023-12-07T13:02:00z',
  '2023-12-07T13:02:60',
  '2023-12-07 13:02:00.123 ',
];

describe('canonicalEventId (Python oracle table)', () => {
  it.each(STRING_CASES)('%s %s %s', (symbol, eventType, raw, iso, id) => {
    expect(pythonIsoformat(raw)).toBe(iso);
    expect(canonicalEventId(symbol, eventType, raw)).toBe(id);
  });
  it.each(MS_CASES)('%s %s %d ms', (symbol, eventType, ms, iso, id) => {
    expect(pythonIsoformat(ms)).toBe(iso);
    expect(canonicalEventId(symbol, eventType, ms)).toBe(id);
    expect(canonicalEventId(symbol, eventType, new Date(ms))).toBe(id);
  });
  it.each(NS_CASES)('%s %s %s ns', (symbol, eventType, ns, iso, id) => {
    expect(pythonIsoformat(ns)).toBe(iso);
    expect(canonicalEventId(symbol, eventType, ns)).toBe(id);
  });
  it.each(REJECTED)('rejects %j like Python does', (raw) => {
    expect(() => parsePythonTimestamp(raw)).toThrow(InputError);
  });
});

describe('timestamp inputs', () => {
  it('rejects non-integer ms, NaN and invalid dates naming the value', () => {
    expect(() => toUtcInstant(1.5)).toThrow(/1\.5 \(number\)/);
    expect(() => toUtcInstant(Number.NaN)).toThrow(InputError);
    expect(() => toUtcInstant(new Date('nope'))).toThrow(/Invalid Date/);
  });
  it('floors nanoseconds to microseconds, also before the epoch', () => {
    expect(toUtcInstant(-1n)).toEqual({ epochSeconds: -1, micros: 999_999 });
    expect(toUtcInstant(1_999n)).toEqual({ epochSeconds: 0, micros: 1 });
  });
  it('agrees with itself across input forms (ms number = ISO string = ns bigint)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_102_444_800_000 }), (ms) => {
        const iso = new Date(ms).toISOString();
        const viaString = canonicalEventId('AAPL', 'flush', iso);
        expect(canonicalEventId('AAPL', 'flush', ms)).toBe(viaString);
        expect(canonicalEventId('AAPL', 'flush', BigInt(ms) * 1_000_000n + 999n)).toBe(viaString);
      }),
    );
  });
  it('hash is sha1 of symbol|type|isoformat', () => {
    const iso = '2023-12-07T13:02:00.000001+00:00';
    const h = createHash('sha1').update(`X|t|${iso}`).digest('hex').slice(0, 8);
    expect(canonicalEventId('X', 't', iso)).toBe(`X_t_20231207_130200_${h}`);
  });
});
