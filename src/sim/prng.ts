/**
 * Seeded pseudo-random numbers for the simulator. Everything the simulator produces must be a pure
 * function of its inputs, so no draw may ever come from Math.random or the clock.
 */

/** 128-bit string hash (cyrb128) as four 32-bit words: good avalanche, no dependencies, fast. */
export function hash128(str: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/** 32 lowercase hex digits of {@link hash128}: the shape of the real API's `request_id`. */
export function hashHex(str: string): string {
  return hash128(str)
    .map((w) => w.toString(16).padStart(8, '0'))
    .join('');
}

/** One 32-bit word of {@link hash128}, as a float in [0, 1). */
export function hashUnit(str: string): number {
  return hash128(str)[0]! / 4294967296;
}

/**
 * sfc32 generator. Chosen because it passes PractRand, needs only 32-bit integer ops (which V8 keeps
 * unboxed) and runs at a few ns per draw: the day generator draws ~10^5 numbers per ticker-day.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(key: string) {
    const [a, b, c, d] = hash128(key);
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
    // Early outputs of sfc32 are correlated with the seed words; discard them.
    for (let i = 0; i < 12; i++) this.next();
  }

  /** Uniform 32-bit unsigned integer (callers split it into several small draws). */
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** Uniform float in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box-Muller; the second value is dropped to keep the stream position simple). */
  normal(): number {
    let u = this.next();
    if (u < 1e-12) u = 1e-12;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Exponential with mean 1. */
  exp(): number {
    return -Math.log(1 - this.next());
  }

  /** Poisson count: inversion with one draw below 30 (exact), rounded normal above (close enough there). */
  poisson(lambda: number): number {
    if (lambda <= 0) return 0;
    if (lambda < 30) {
      const u = this.next();
      let p = Math.exp(-lambda);
      let cdf = p;
      let k = 0;
      while (u > cdf && k < 200) {
        k++;
        p *= lambda / k;
        cdf += p;
      }
      return k;
    }
    const n = Math.round(lambda + Math.sqrt(lambda) * this.normal());
    return n < 0 ? 0 : n;
  }

  /** Index drawn from cumulative weights (last entry is the total). */
  pick(cumulative: readonly number[]): number {
    const x = this.next() * cumulative[cumulative.length - 1]!;
    let i = 0;
    while (cumulative[i]! <= x) i++;
    return i;
  }
}

/** Cumulative sums, for {@link Rng.pick}. */
export function cumulative(weights: readonly number[]): number[] {
  let s = 0;
  return weights.map((w) => (s += w));
}
