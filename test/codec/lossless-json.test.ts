import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { losslessParse, losslessStringify } from '../../src/codec/lossless-json.js';
import { ProtocolError } from '../../src/errors.js';

function tradesBody(n: number): string {
  const rows: string[] = [];
  let ts = 1_700_000_000_000_000_000n;
  for (let i = 0; i < n; i++) {
    ts += BigInt(1 + ((i * 7919) % 100_000));
    rows.push(
      `{"conditions":[12,37],"exchange":${i % 20},"id":"${i * 3 + 1}","participant_timestamp":${ts - 1234n},` +
        `"price":${(100 + (i % 997) / 100).toFixed(2)},"sequence_number":${i + 1000},"sip_timestamp":${ts},"size":${(i % 500) + 1},` +
        `"tape":${(i % 3) + 1},"trf_id":${i % 4},"trf_timestamp":${ts - 999n}}`,
    );
  }
  return `{"results":[${rows.join(',')}],"status":"OK","request_id":"a1b2c3","next_url":"https://api.polygon.io/v3/trades/AAPL?cursor=YWJj"}`;
}

describe('losslessParse', () => {
  it('returns *_timestamp integers as exact bigint (beyond 2^53)', () => {
    const v = losslessParse('{"results":[{"sip_timestamp":1700000000123456789,"participant_timestamp":-1700000000123456789,"trf_timestamp":0,"price":1.5,"size":100}]}');
    const r = v.results[0];
    expect(r.sip_timestamp).toBe(1700000000123456789n);
    expect(r.participant_timestamp).toBe(-1700000000123456789n);
    expect(r.trf_timestamp).toBe(0n);
    expect(r.price).toBe(1.5);
    expect(r.size).toBe(100);
    expect(String(JSON.parse('{"a":1700000000123456789}').a)).not.toBe('1700000000123456789');
  });

  it('is not fooled by the pattern inside string values, and leaves non-integers and strings alone', () => {
    const text =
      '{"note":"\\"sip_timestamp\\":1700000000123456789","k":"x_timestamp","t_timestamp":"1700000000123456789",' +
      '"f_timestamp":1.7e18,"g_timestamp":12.5,"nested":{"deep":[{"q_timestamp" : 1700000000123456789 }]},' +
      '"weird\\"a_timestamp":5,"empty_timestamp":null}';
    const v = losslessParse(text);
    expect(v.note).toBe('"sip_timestamp":1700000000123456789');
    expect(v.k).toBe('x_timestamp');
    expect(v.t_timestamp).toBe('1700000000123456789');
    expect(v.f_timestamp).toBe(1.7e18);
    expect(v.g_timestamp).toBe(12.5);
    expect(v.nested.deep[0].q_timestamp).toBe(1700000000123456789n);
    expect(v['weird"a_timestamp']).toBe(5n);
    expect(v.empty_timestamp).toBeNull();
  });

  it('round-trips arbitrary objects with bigint timestamps and adversarial strings (fast-check)', () => {
    const strArb = fc.oneof(fc.string(), fc.constantFrom('"sip_timestamp":1', '\\"a_timestamp\\": 9', '_timestamp"', 'x_timestamp'));
    const rowArb = fc.record({
      sip_timestamp: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n }),
      note: strArb,
      n: fc.integer(),
      inner: fc.array(fc.record({ participant_timestamp: fc.bigInt({ min: 0n, max: 2n ** 64n }), s: strArb }), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(fc.array(rowArb, { maxLength: 5 }), (rows) => {
        const text = losslessStringify({ results: rows });
        expect(losslessParse(text)).toEqual({ results: rows });
      }),
      { numRuns: 500 },
    );
  });

  it('turns truncated or malformed JSON into ProtocolError', () => {
    const body = tradesBody(3);
    for (const bad of [body.slice(0, body.length - 10), body.slice(0, 40), '', '<html>502</html>', '{"a":1,}']) {
      let err: unknown;
      try {
        losslessParse(bad, { context: 'GET /v3/trades/AAPL', status: 200 });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ProtocolError);
      expect((err as ProtocolError).message).toMatch(/^GET \/v3\/trades\/AAPL: /);
    }
  });

  it('measures the cost on a 50,000-trade page (figures only, no timing assert)', () => {
    const body = tradesBody(50_000);
    const reps = 8;
    const time = (f: () => unknown): number => {
      f(); // warm-up
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) f();
      return (performance.now() - t0) / reps;
    };
    const plain = time(() => JSON.parse(body));
    const lossless = time(() => losslessParse(body));
    const parsed = losslessParse(body);
    expect(parsed.results).toHaveLength(50_000);
    expect(typeof parsed.results[49_999].sip_timestamp).toBe('bigint');
    // eslint-disable-next-line no-console
    console.log(
      `[lossless-json] 50,000 trades, ${(body.length / 1e6).toFixed(1)} MB: JSON.parse ${plain.toFixed(1)} ms, ` +
        `losslessParse ${lossless.toFixed(1)} ms (${(lossless / plain).toFixed(2)}x, +${(lossless - plain).toFixed(1)} ms/page)`,
    );
  });
});
