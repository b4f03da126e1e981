import { describe, expect, it } from 'vitest';
import { InputError } from '../src/errors.js';
import { describeValue, finiteNumber, optionError, wholeNumber } from '../src/options.js';
import { batchBySymbols } from '../src/operators/batch-by-symbols.js';
import { retryBackoff } from '../src/operators/retry-backoff.js';
import { TokenBucket } from '../src/operators/token-bucket.js';
import { pullMap } from '../src/streams/pull.js';

describe('option validation: one helper, one typed error', () => {
  it('names the owner, the option, what it wants and the bad value with its type', () => {
    expect(() => wholeNumber('pullMap', 'concurrency', 0)).toThrow('pullMap: expected `concurrency` to be a whole number >= 1, got `0` (number)');
    expect(() => wholeNumber('x', 'n', 2.5, 0)).toThrow('expected `n` to be a whole number >= 0, got `2.5` (number)');
    expect(() => finiteNumber('x', 'ms', -1, 0, true)).toThrow('expected `ms` to be a finite number >= 0, got `-1` (number)');
    expect(() => finiteNumber('x', 'ms', 0, 0, false)).toThrow('a finite number > 0, got `0` (number)');
    expect(() => finiteNumber('x', 'ms', Infinity, 0, false)).toThrow('got `Infinity` (number)');
    expect(wholeNumber('x', 'n', 3)).toBe(3);
    expect(finiteNumber('x', 'ms', 0, 0, true)).toBe(0);
    expect(describeValue('8')).toBe('`"8"` (string)');
    expect(describeValue(5n)).toBe('`5n` (bigint)');
    expect(describeValue(undefined)).toBe('`undefined` (undefined)');
    expect(describeValue(() => 1)).toBe('`[function]` (function)');
    expect(optionError('o', 'n', 'x', null)).toBeInstanceOf(InputError);
  });

  it('every operator, stage and client option error is an InputError with code E_INPUT', () => {
    const bad: Array<() => unknown> = [
      () => wholeNumber('x', 'n', NaN),
      () => batchBySymbols(0),
      () => pullMap([], () => [], 0),
      () => retryBackoff({ maxAttempts: 0 }),
      () => new TokenBucket({ rate: -1 }),
      () => new TokenBucket({ rate: 5, burst: 0 }),
    ];
    for (const f of bad) {
      let caught: unknown;
      try {
        f();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(InputError);
      expect(caught).toMatchObject({ code: 'E_INPUT' });
    }
  });
});
