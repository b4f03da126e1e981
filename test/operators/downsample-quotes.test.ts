import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { from, lastValueFrom, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { bucketNsForHz, downsampleQuotes } from '../../src/operators/downsample-quotes.js';
import type { Quote } from '../../src/types.js';

const scheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

function q(ns: bigint, seq = 0): Quote {
  return {
    ask_exchange: 1,
    ask_price: 10,
    ask_size: 1,
    bid_exchange: 1,
    bid_price: 9,
    bid_size: 1,
    participant_timestamp: ns,
    sequence_number: seq,
    sip_timestamp: ns,
    tape: 1,
  };
}

/** Naive reference: group the whole list by bucket, keep each bucket's last quote. */
function reference(quotes: Quote[], hz: number): Quote[] {
  if (hz === 0) return quotes;
  const b = BigInt(Math.round(1e9 / hz));
  const last = new Map<bigint, Quote>();
  for (const x of quotes) {
    const k = x.sip_timestamp >= 0n ? x.sip_timestamp / b : -((-x.sip_timestamp + b - 1n) / b);
    last.set(k, x);
  }
  return [...last.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1)).map(([, v]) => v);
}

const T0 = 1_701_954_120_000_000_000n; // beyond 2^53: bigint all the way

describe('downsampleQuotes', () => {
  it('marble: last quote per epoch-aligned bucket; a bucket spanning pages is held', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const s = 1_000_000_000n;
      const pages = {
        a: [q(T0 + 100n, 1), q(T0 + 900_000_000n, 2), q(T0 + s + 5n, 3)],
        b: [q(T0 + s + 7n, 4)], // same bucket as 3: nothing released yet
        c: [q(T0 + 3n * s, 5)],
      };
      const out = cold('a-b-c|', pages).pipe(downsampleQuotes(1));
      expectObservable(out).toBe('a---c(d|)', { a: [pages.a[1]], c: [pages.b[0]], d: [pages.c[0]] });
    });
  });

  it('marble: hz = 0 passes pages through; empty source emits nothing; errors pass', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const p = { a: [q(T0), q(T0 + 1n)] };
      expectObservable(cold('a|', p).pipe(downsampleQuotes(0))).toBe('a|', p);
      expectObservable(cold<Quote[]>('|').pipe(downsampleQuotes(10))).toBe('|');
      expectObservable(cold<Quote[]>('a#', p).pipe(downsampleQuotes(10))).toBe('-#');
    });
  });

  it('errors when a quote goes back to an earlier bucket', async () => {
    await expect(lastValueFrom(from([[q(T0 + 2_000_000_000n)], [q(T0)]]).pipe(downsampleQuotes(1)))).rejects.toThrow(/out of order/);
  });

  it('validates hz and derives bucket widths', () => {
    expect(bucketNsForHz(10)).toBe(100_000_000n);
    expect(bucketNsForHz(3)).toBe(333_333_333n);
    expect(() => downsampleQuotes(-1)).toThrow('got `-1` (number)');
    expect(() => downsampleQuotes(Number.NaN)).toThrow('got `NaN` (number)');
  });

  it('property: any split into pages gives downsample(whole list); output ≤ one held quote behind', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.bigInt({ min: 0n, max: 5_000_000_000n }), { maxLength: 120 }),
        fc.array(fc.nat(120), { maxLength: 12 }),
        fc.constantFrom(0, 1, 2, 3, 10, 1000, 0.5),
        async (offsets, cuts, hz) => {
          const quotes = [...offsets].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((o, i) => q(T0 + o, i));
          const bounds = [...new Set(cuts.map((c) => Math.min(c, quotes.length)))].sort((a, b) => a - b);
          const pages: Quote[][] = [];
          let start = 0;
          for (const b of [...bounds, quotes.length]) {
            pages.push(quotes.slice(start, b)); // empty pages included on purpose
            start = b;
          }
          const out = await lastValueFrom(from(pages).pipe(downsampleQuotes(hz), toArray()));
          expect(out.flat()).toEqual(reference(quotes, hz));
          if (hz !== 0) expect(out.every((p) => p.length > 0)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
