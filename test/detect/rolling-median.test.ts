/**
 * RollingMedian against Polars' own `rollingMedian(...).shift(1)` (what volume_spike's plan uses),
 * bit for bit: even counts interpolate as Polars does, and the window starts at `minPeriods`.
 */
import fc from 'fast-check';
import pl from 'nodejs-polars';
import { describe, expect, test } from 'vitest';
import { RollingMedian } from '../../src/detect/rolling-median.js';

/** Polars' median of the previous `size` values at each row (null → NaN), as volume_spike computes it. */
function polarsMedians(values: readonly number[], size: number, minPeriods: number): number[] {
  const df = pl.DataFrame([pl.Series('v', Float64Array.from(values))]);
  const m = df.select(pl.col('v').rollingMedian({ windowSize: size, minPeriods }).shift(1).cast(pl.Float64).fillNull(Number.NaN).alias('m'));
  return Array.from(m.getColumn('m').toTypedArray() as Float64Array);
}

function kernelMedians(values: readonly number[], size: number, minPeriods: number): number[] {
  const m = new RollingMedian(size, minPeriods);
  const reg = new Float64Array(1);
  return values.map((x) => {
    const median = m.median();
    reg[0] = x;
    m.push(reg, 0);
    return median;
  });
}

/** Whole volumes with many ties, zeros, and arbitrary doubles (where (a + b) / 2 would round differently). */
const value = fc.oneof(
  fc.constantFrom(0, 100, 100, 1000, 1000, 5000, 1e6),
  fc.integer({ min: 0, max: 100_000 }),
  fc.double({ min: -1e12, max: 1e12, noNaN: true }),
);

describe('RollingMedian', () => {
  test('equals Polars rollingMedian(...).shift(1) bit for bit, any window and minimum', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 300 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), (values, size, min) => {
        const minPeriods = Math.min(min, size);
        const got = kernelMedians(values, size, minPeriods);
        const want = polarsMedians(values, size, minPeriods);
        for (let i = 0; i < values.length; i++) {
          if (!Object.is(got[i], want[i])) throw new Error(`row ${i}: kernel ${got[i]} vs Polars ${want[i]} (size ${size}, min ${minPeriods})`);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('an even count interpolates as a + (b - a) * 0.5, not (a + b) / 2', () => {
    // A pair found by search for which the two formulas give different doubles.
    let pair: [number, number] | undefined;
    for (let a = 0.1; pair === undefined; a += 0.1) {
      const b = a * 3.3;
      if (!Object.is((a + b) / 2, a + (b - a) * 0.5)) pair = [a, b];
    }
    const got = kernelMedians([...pair, 0], 2, 2);
    expect(got[2]).toBe(pair[0] + (pair[1] - pair[0]) * 0.5);
    expect(got[2]).not.toBe((pair[0] + pair[1]) / 2);
    expect(polarsMedians([...pair, 0], 2, 2)[2]).toBe(got[2]);
  });

  test('fewer than minPeriods values: NaN; the minimum follows the window; clear() restarts it', () => {
    const m = new RollingMedian(3, 2);
    const reg = new Float64Array(1);
    const seen: [number, number][] = [];
    for (const x of [5, 1, 9, 7, 8]) {
      reg[0] = x;
      m.push(reg, 0);
      seen.push([m.median(), m.min]);
    }
    expect(seen).toEqual([
      [Number.NaN, 5],
      [3, 1],
      [5, 1],
      [7, 1],
      [8, 7],
    ]);
    m.clear();
    expect(m.median()).toBeNaN();
    expect(m.min).toBeNaN();
    reg[0] = 4;
    m.push(reg, 0);
    expect([m.median(), m.min, m.count]).toEqual([Number.NaN, 4, 1]);
  });

  test('the minimum equals a brute-force minimum of the last size values', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 300 }), fc.integer({ min: 1, max: 40 }), (values, size) => {
        const m = new RollingMedian(size, 1);
        const reg = new Float64Array(1);
        values.forEach((x, i) => {
          reg[0] = x;
          m.push(reg, 0);
          const want = Math.min(...values.slice(Math.max(0, i + 1 - size), i + 1));
          if (m.min !== want) throw new Error(`row ${i}: ${m.min} vs ${want}`);
        });
      }),
      { numRuns: 300 },
    );
  });

  test('windows beyond 64 values (sorted natively) match Polars too', () => {
    const values = Array.from({ length: 2000 }, (_, i) => ((i * 7919) % 1000) + (i % 3) * 0.1);
    const got = kernelMedians(values, 500, 100);
    const want = polarsMedians(values, 500, 100);
    got.forEach((g, i) => {
      if (!Object.is(g, want[i])) expect.fail(`row ${i}: ${g} vs ${want[i]}`);
    });
  });
});
