/**
 * Issue 16, the scanner's fast paths stay exact: keys matched by prediction four bytes at a time
 * (whatever the key order, whitespace, unknown keys that share a prefix with known ones, repeated
 * keys), presence kept as a bit mask with a scratch page reused across pages of other shapes,
 * downsampled quotes marked and compacted column by column (every column follows its row, within
 * a page and across pages), and Int64 read as 15 + up to 4 digits.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RowValueError } from '../../src/errors.js';
import { TickColumns, fieldId, scanPageInto, scanTicksPage, type FieldName } from '../../src/streams/column-scanner.js';

const T0 = 1709818200000000000n;
const page = (rows: string[]): Buffer => Buffer.from(`{"results":[${rows.join(',')}],"status":"OK","request_id":"r1"}`);

type Kind = 'i64' | 'f64' | 'i32' | 'str' | 'list';
const TRADE: Record<string, Kind> = {
  sip_timestamp: 'i64',
  participant_timestamp: 'i64',
  trf_timestamp: 'i64',
  sequence_number: 'i64',
  id: 'str',
  price: 'f64',
  size: 'f64',
  exchange: 'i32',
  tape: 'i32',
  conditions: 'list',
  correction: 'i32',
  trf_id: 'i32',
};
const OPTIONAL = ['participant_timestamp', 'trf_timestamp', 'conditions', 'correction', 'trf_id'];
/** Unknown keys, some a prefix or an extension of a known one (a wrong prediction must not match them). */
const UNKNOWN = ['siz', 'sizes', 'size_', 'pric', 'prices', 'decimal_size', 'ids', 'i', 'tape2', 'sip_timestamp_', 'conditionsX'];

type Value = bigint | number | string | number[] | null;
const valueArb: Record<Kind, fc.Arbitrary<Value>> = {
  i64: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  f64: fc.oneof(fc.integer({ min: 1, max: 99_999_999 }).map((n) => n / 10_000), fc.double({ noNaN: true, noDefaultInfinity: true })),
  i32: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  str: fc.string({ maxLength: 6 }),
  list: fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 3 }),
};
const text = (v: Value): string => (typeof v === 'bigint' ? String(v) : JSON.stringify(v));
const ws = fc.constantFrom('', '', '', ' ', '\n', '\t ');

/** One trade row as [key, value] pairs in the order written (a repeated key: the last one counts). */
const rowArb = fc
  .record({
    values: fc.record(Object.fromEntries(Object.entries(TRADE).map(([k, kind]) => [k, OPTIONAL.includes(k) ? fc.option(valueArb[kind]) : valueArb[kind]]))) as fc.Arbitrary<Record<string, Value>>,
    unknown: fc.subarray(UNKNOWN, { maxLength: 3 }),
    repeat: fc.option(fc.record({ key: fc.constantFrom(...OPTIONAL), value: fc.option(fc.constant(7)) })),
    order: fc.array(fc.integer(), { minLength: 20, maxLength: 20 }),
  })
  .map(({ values, unknown, repeat, order }) => {
    const pairs: Array<[string, Value]> = [...Object.entries(values), ...unknown.map((k): [string, Value] => [k, [1, { a: 'x' }] as unknown as Value])];
    const keyed = pairs.map((p, i) => ({ p, o: order[i % order.length]! }));
    keyed.sort((a, b) => a.o - b.o);
    const out = keyed.map((k) => k.p);
    if (repeat) {
      // A repeated optional field whose last value is 7 (or null, or a list for conditions).
      const v: Value = repeat.value === null ? null : TRADE[repeat.key] === 'list' ? [7] : TRADE[repeat.key] === 'i64' ? 7n : 7;
      out.push([repeat.key, v]);
    }
    return out;
  });

function rowText(pairs: Array<[string, Value]>, spaces: string[]): string {
  const s = (i: number): string => spaces[i % spaces.length]!;
  return `${s(0)}{${pairs.map(([k, v], i) => `${s(i + 1)}"${k}"${s(i + 2)}:${s(i + 3)}${typeof v === 'object' && v !== null && !Array.isArray(v) ? JSON.stringify(v) : text(v)}${s(i + 4)}`).join(',')}}`;
}

function expectRow(cols: TickColumns, row: number, pairs: Array<[string, Value]>): void {
  const last = new Map(pairs);
  for (const [name, kind] of Object.entries(TRADE)) {
    const f = fieldId(name as FieldName);
    const v = last.has(name) ? last.get(name)! : null;
    expect(cols.present[f]![row], `${name} presence at row ${row}`).toBe(v === null ? 0 : 1);
    if (v === null) continue;
    if (kind === 'i64') expect(cols.i64[f]![row]).toBe(v);
    else if (kind === 'f64') expect(Object.is(cols.f64[f]![row], JSON.parse(text(v)))).toBe(true);
    else if (kind === 'i32') expect(cols.i32[f]![row]).toBe(v);
    else if (kind === 'str') expect(cols.stringAt(f, row)).toBe(v);
    else expect(cols.listAt(f, row)).toEqual(v);
  }
}

describe('column scanner fast paths', () => {
  it('rows in any key order, with whitespace, look-alike unknown keys and repeated keys, over reused scratch pages', () => {
    fc.assert(
      fc.property(fc.array(fc.array(rowArb, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 4 }), fc.array(ws, { minLength: 1, maxLength: 7 }), (pages, spaces) => {
        const cols = new TickColumns('trades');
        const all: Array<Array<[string, Value]>> = [];
        for (const rows of pages) {
          // Rows of one page share the first row's sip and grow by one ns (the window keeps every trade).
          scanPageInto(cols, page(rows.map((r) => rowText(r, spaces))), 'GET t');
          all.push(...rows);
        }
        expect(cols.length).toBe(all.length);
        all.forEach((pairs, i) => expectRow(cols, i, pairs));
      }),
      { numRuns: 300 },
    );
  });

  it('a page of rows without optional fields after a page with them: the reused scratch page leaves no presence behind', () => {
    const cols = new TickColumns('trades');
    const full = `{"sip_timestamp":${T0},"participant_timestamp":${T0 - 5n},"trf_timestamp":${T0 - 2n},"sequence_number":1,"id":"a","price":4.5,"size":10,"exchange":4,"tape":3,"conditions":[12],"correction":1,"trf_id":201}`;
    const bare = `{"sip_timestamp":${T0 + 1n},"sequence_number":2,"id":"b","price":4.6,"size":20,"exchange":5,"tape":3}`;
    scanPageInto(cols, page([full, full.replace('"id":"a"', '"id":"a2"')]), 'GET t');
    scanPageInto(cols, page([bare, bare.replace('"id":"b"', '"id":"b2"')]), 'GET t');
    for (const name of OPTIONAL) {
      const f = fieldId(name as FieldName);
      expect(Array.from(cols.present[f]!.subarray(0, 4)), name).toEqual([1, 1, 0, 0]);
    }
    expect(cols.stringAt(fieldId('id'), 3)).toBe('b2');
  });

  /** Quotes whose every column is a function of the row number, so a column left behind shows. */
  const quote = (sip: bigint, n: number): string =>
    `{"ask_exchange":${n % 20},"ask_price":${n / 100},"ask_size":${n + 1},"bid_exchange":${(n + 3) % 20},"bid_price":${n / 50},"bid_size":${n + 2},"participant_timestamp":${sip - BigInt(n)},"sequence_number":${n},"sip_timestamp":${sip}${n % 3 === 0 ? `,"conditions":[${n},${n + 1}]` : ''},"tape":${(n % 3) + 1}${n % 4 === 0 ? `,"indicators":[${n}]` : ''}}`;
  function expectQuote(cols: TickColumns, row: number, n: number, sip: bigint): void {
    const at = (name: FieldName) => fieldId(name);
    expect(cols.i64[at('sip_timestamp')]![row]).toBe(sip);
    expect(cols.i64[at('participant_timestamp')]![row]).toBe(sip - BigInt(n));
    expect(cols.i64[at('sequence_number')]![row]).toBe(BigInt(n));
    expect(cols.f64[at('ask_price')]![row]).toBe(n / 100);
    expect(cols.f64[at('bid_price')]![row]).toBe(n / 50);
    expect(cols.f64[at('ask_size')]![row]).toBe(n + 1);
    expect(cols.f64[at('bid_size')]![row]).toBe(n + 2);
    expect(cols.i32[at('ask_exchange')]![row]).toBe(n % 20);
    expect(cols.i32[at('bid_exchange')]![row]).toBe((n + 3) % 20);
    expect(cols.i32[at('tape')]![row]).toBe((n % 3) + 1);
    expect(cols.listAt(at('conditions'), row)).toEqual(n % 3 === 0 ? [n, n + 1] : null);
    expect(cols.listAt(at('indicators'), row)).toEqual(n % 4 === 0 ? [n] : null);
  }

  it('downsampled quotes: the last quote of each bucket is kept whole, within and across pages, by both entry points', () => {
    const bucket = 1_000_000_000;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 600_000_000 }), { minLength: 1, maxLength: 80 }), fc.array(fc.integer({ min: 1, max: 79 }), { maxLength: 5 }), (steps, cuts) => {
        let t = T0;
        const raw = steps.map((s, n) => ({ sip: (t += BigInt(s)), n }));
        const want = raw.filter((q, i) => i === raw.length - 1 || raw[i + 1]!.sip / BigInt(bucket) !== q.sip / BigInt(bucket));
        const bounds = [0, ...[...new Set(cuts.filter((c) => c < raw.length))].sort((a, b) => a - b), raw.length];
        const pages = bounds.slice(1).map((end, i) => page(raw.slice(bounds[i], end).map((q) => quote(q.sip, q.n))));
        const direct = new TickColumns('quotes', bucket, 4);
        const viaScratch = new TickColumns('quotes', bucket);
        for (const p of pages) {
          scanTicksPage(p, direct, 'GET q');
          scanPageInto(viaScratch, p, 'GET q');
        }
        for (const cols of [direct, viaScratch]) {
          expect(cols.length).toBe(want.length);
          want.forEach((q, row) => expectQuote(cols, row, q.n, q.sip));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('Int64 from 15 to 19 digits and beyond: exact to the limits, then a value error', () => {
    const trade = (sip: string): Buffer => page([`{"sip_timestamp":${sip},"sequence_number":1,"id":"a","price":1,"size":1,"exchange":1,"tape":1}`]);
    const edges = [999_999_999_999_999n, 1_000_000_000_000_000n, 4_294_967_296n * 2_147_483_647n, 2n ** 63n - 1n, -(2n ** 63n), 9_999_999_999_999_999n, 10n ** 18n, -(10n ** 18n) - 1n];
    for (const v of edges) {
      const cols = new TickColumns('trades');
      scanTicksPage(trade(String(v)), cols, 'GET t');
      expect(cols.i64[fieldId('sip_timestamp')]![0]).toBe(v);
    }
    for (const bad of ['9223372036854775808', '-9223372036854775809', '10000000000000000000', '99999999999999999999', '123456789012345678901234']) {
      expect(() => scanTicksPage(trade(bad), new TickColumns('trades'), 'GET t'), bad).toThrow(RowValueError);
    }
  });
});
