/** WindowMax against a brute-force scan of flush's window rule (previous bars with t - span <= t' < t). */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { WindowMax } from '../../src/detect/window-max.js';

describe('WindowMax', () => {
  test('the max of the earlier bars within the span equals a brute-force scan, gaps and ties included', () => {
    const bars = fc.array(fc.record({ gap: fc.integer({ min: 1, max: 6 }), x: fc.oneof(fc.constantFrom(0, 1, 2, 2, 3), fc.double({ noNaN: true, noDefaultInfinity: true })) }), {
      maxLength: 200,
    });
    fc.assert(
      fc.property(bars, fc.integer({ min: 1, max: 20 }), (input, span) => {
        const w = new WindowMax(span, span + 1);
        const reg = new Float64Array(2);
        const times: number[] = [];
        let t = 0;
        for (const { gap, x } of input) {
          t += gap;
          let want = Number.NaN;
          for (let j = 0; j < times.length; j++) {
            if (times[j]! >= t - span && !(input[j]!.x <= want)) want = input[j]!.x;
          }
          reg[0] = t;
          reg[1] = x;
          w.step(reg, 0, 1);
          // Only the value matters to flush (a zero high never fires), so -0 and 0 count as equal.
          if (!(w.max === want || (Number.isNaN(w.max) && Number.isNaN(want)))) throw new Error(`t=${t}: ${w.max} vs ${want}`);
          times.push(t);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('clear() empties the window', () => {
    const w = new WindowMax(10, 11);
    const reg = Float64Array.of(1, 5);
    w.step(reg, 0, 1);
    w.clear();
    reg[0] = 2;
    w.step(reg, 0, 1);
    expect(w.max).toBeNaN();
  });
});
