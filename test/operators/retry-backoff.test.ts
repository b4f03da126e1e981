import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { defer, of, throwError } from 'rxjs';
import { retryBackoff, backoffCeiling } from '../../src/operators/retry-backoff.js';
import { BadRequestError, NetworkError, RateLimitedError, ServerError } from '../../src/errors.js';

const newTs = () => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const err500 = new ServerError('GET /x: HTTP 500', 500);

describe('retryBackoff', () => {
  it('resubscribes after each retryable error with full-jitter exponential delays', () => {
    const ts = newTs();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const src = cold('--#', undefined, err500);
      // random 0.5, base 100: waits 50 then 100; the third failure exhausts maxAttempts 3.
      const out = src.pipe(retryBackoff({ maxAttempts: 3, baseMs: 100, random: () => 0.5, scheduler: ts }));
      expectObservable(out).toBe('156ms #', undefined, err500);
      expectSubscriptions(src.subscriptions).toBe(['^-!', '52ms ^-!', '154ms ^-!']);
    });
  });

  it('emits once the source finally succeeds (delays 50 + 100 + 200)', () => {
    const ts = newTs();
    ts.run(({ expectObservable }) => {
      let n = 0;
      const src = defer(() => (++n < 4 ? throwError(() => new NetworkError('GET /x: ECONNRESET')) : of('a')));
      const onRetry: Array<[number, number]> = [];
      const out = src.pipe(
        retryBackoff({ baseMs: 100, random: () => 0.5, scheduler: ts, onRetry: (_e, attempt, ms) => onRetry.push([attempt, ms]) }),
      );
      expectObservable(out).toBe('350ms (a|)');
      ts.flush();
      expect(onRetry).toEqual([
        [1, 50],
        [2, 100],
        [3, 200],
      ]);
    });
  });

  it('caps the ceiling at capMs', () => {
    const ts = newTs();
    ts.run(({ cold, expectObservable }) => {
      const src = cold('#', undefined, err500);
      const delays: number[] = [];
      const out = src.pipe(
        retryBackoff({ maxAttempts: 5, baseMs: 100, capMs: 250, random: () => 0.999999, scheduler: ts, onRetry: (_e, _a, ms) => delays.push(ms) }),
      );
      // floor(0.999999 * ceiling): 99, 199, 249, 249
      expectObservable(out).toBe('796ms #', undefined, err500);
      ts.flush();
      expect(delays).toEqual([99, 199, 249, 249]);
    });
    expect([1, 2, 3, 4, 20].map((a) => backoffCeiling(a, 200, 30_000))).toEqual([200, 400, 800, 1600, 30_000]);
  });

  it('passes non-retryable errors through at once', () => {
    const ts = newTs();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const e403 = new BadRequestError('GET /x: HTTP 403', 403);
      const src = cold('-#', undefined, e403);
      expectObservable(src.pipe(retryBackoff({ scheduler: ts, random: () => 0.5 }))).toBe('-#', undefined, e403);
      expectSubscriptions(src.subscriptions).toBe('^!');
    });
  });

  it('waits at least Retry-After on RateLimitedError', () => {
    const ts = newTs();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const e429 = new RateLimitedError('GET /x: HTTP 429', 1_000);
      const src = cold('#', undefined, e429);
      expectObservable(src.pipe(retryBackoff({ maxAttempts: 2, baseMs: 100, random: () => 0.5, scheduler: ts }))).toBe(
        '1000ms #',
        undefined,
        e429,
      );
      expectSubscriptions(src.subscriptions).toBe(['(^!)', '1000ms (^!)']);
    });
  });

  it('shouldRetry overrides the default classification and sees the attempt number', () => {
    const ts = newTs();
    ts.run(({ cold, expectObservable }) => {
      const plain = new Error('boom');
      const seen: number[] = [];
      const src = cold('#', undefined, plain);
      const out = src.pipe(
        retryBackoff({
          baseMs: 10,
          random: () => 0,
          scheduler: ts,
          shouldRetry: (e, attempt) => (seen.push(attempt), e === plain && attempt < 3),
        }),
      );
      expectObservable(out).toBe('#', undefined, plain);
      ts.flush();
      expect(seen).toEqual([1, 2, 3]);
    });
  });

  it('validates options up front', () => {
    expect(() => retryBackoff({ maxAttempts: 0 })).toThrow(/maxAttempts.*`0` \(number\)/);
    expect(() => retryBackoff({ baseMs: -1 })).toThrow(/baseMs/);
    expect(() => retryBackoff({ capMs: Number.POSITIVE_INFINITY })).toThrow(/capMs/);
    expect(() => retryBackoff({ random: 5 as never })).toThrow(/random.*number/);
    expect(() => retryBackoff({ shouldRetry: 'x' as never })).toThrow(/shouldRetry/);
  });
});
