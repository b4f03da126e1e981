import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { take } from 'rxjs';
import { TokenBucket } from '../../src/operators/token-bucket.js';
import { rateLimit } from '../../src/operators/rate-limit.js';

const newTs = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('rateLimit', () => {
  it('delays each value until it holds a token, keeping order', () => {
    const ts = newTs();
    ts.run(({ cold, expectObservable }) => {
      const bucket = new TokenBucket({ rate: 20, burst: 2, scheduler: ts });
      // a, b use the burst; c, d, e then every 50 ms; f arrives late enough to find a token.
      expectObservable(cold('(abcde) 500ms f|').pipe(rateLimit(bucket))).toBe('(ab) 46ms c 49ms d 49ms e 356ms f|');
    });
  });

  it('does not lose or reorder values while the bucket is paused', () => {
    const ts = newTs();
    ts.run(({ cold, expectObservable }) => {
      const bucket = new TokenBucket({ rate: 100, burst: 1, scheduler: ts });
      ts.schedule(() => bucket.onRateLimited(200), 5);
      expectObservable(cold('a-b-c-d|').pipe(rateLimit(bucket))).toBe('a 204ms b 9ms c 9ms (d|)');
    });
  });

  it('unsubscribing downstream withdraws the pending waiter', () => {
    const ts = newTs();
    ts.run(({ cold, expectObservable, flush }) => {
      const bucket = new TokenBucket({ rate: 10, burst: 1, scheduler: ts });
      expectObservable(cold('(abc)').pipe(rateLimit(bucket), take(2))).toBe('a 99ms (b|)');
      flush();
      expect(bucket.waiting).toBe(0);
      expect(bucket.stats().granted).toBe(2);
    });
  });

  it('rejects a non-bucket argument', () => {
    expect(() => rateLimit({} as TokenBucket)).toThrow(/TokenBucket/);
  });
});
