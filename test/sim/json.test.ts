import { describe, expect, it } from 'vitest';
import { priceText } from '../../src/sim/json.js';

describe('sim JSON writers', () => {
  it('priceText is exactly String(e4 / 1e4) for every price up to $200', () => {
    const bad: number[] = [];
    for (let e4 = 0; e4 <= 2_000_000; e4++) if (priceText(e4) !== String(e4 / 1e4)) bad.push(e4);
    expect(bad).toEqual([]);
  });
});
