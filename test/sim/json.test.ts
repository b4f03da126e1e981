import { describe, expect, it } from 'vitest';
import { BodyWriter, priceText } from '../../src/sim/json.js';

describe('sim JSON writers', () => {
  it('priceText is exactly String(e4 / 1e4) for every price up to $200', () => {
    const bad: number[] = [];
    for (let e4 = 0; e4 <= 2_000_000; e4++) if (priceText(e4) !== String(e4 / 1e4)) bad.push(e4);
    expect(bad).toEqual([]);
  });

  it('BodyWriter reassembles what was written, across chunk boundaries and non-ASCII', () => {
    const w = new BodyWriter();
    let expected = '';
    for (let i = 0; i < 20_000; i++) {
      const s = `{"i":${i},"name":"Société ${i}"},`;
      w.write(s);
      expected += s;
    }
    expect(w.finish().toString('utf8')).toBe(expected);
    expect(new BodyWriter().finish().length).toBe(0);
  });
});
