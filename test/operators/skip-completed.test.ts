import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { skipCompleted } from '../../src/operators/skip-completed.js';
import { InputError } from '../../src/errors.js';

const scheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('skipCompleted', () => {
  it('marble: drops journaled keys and reports the running skip count', () => {
    scheduler().run(({ cold, expectObservable, flush }) => {
      const counts: number[] = [];
      const done = new Set(['b', 'd']);
      const out = cold('a-b-c-d-e|').pipe(skipCompleted(done, (s: string) => s, { onSkip: (n) => counts.push(n) }));
      expectObservable(out).toBe('a---c---e|');
      flush();
      expect(counts).toEqual([1, 2]);
    });
  });

  it('marble: predicate form; errors pass through; each subscription counts from zero', () => {
    scheduler().run(({ cold, expectObservable, flush }) => {
      const counts: number[] = [];
      const out = cold('a-b-c-#').pipe(skipCompleted((s: string) => s !== 'b', { onSkip: (n) => counts.push(n) }));
      expectObservable(out).toBe('--b---#');
      expectObservable(out).toBe('--b---#');
      flush();
      expect(counts).toEqual([1, 1, 2, 2]);
    });
  });

  it('requires a key function with a set', () => {
    expect(() => skipCompleted(new Set<string>(), undefined as unknown as (x: string) => string)).toThrow(InputError);
  });
});
