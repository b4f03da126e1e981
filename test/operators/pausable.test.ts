import { describe, expect, it } from 'vitest';
import { Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { pausable } from '../../src/operators/pausable.js';

const scheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
const B = { t: true, f: false };

describe('pausable', () => {
  it('marble: holds values while paused and releases them in order on resume', () => {
    scheduler().run(({ cold, hot, expectObservable }) => {
      const paused = hot('f--t------f--', B);
      const source = cold('a-b-c-d-e------g-|'); // (cde) spans 5 frames, so g is at 15
      expectObservable(source.pipe(pausable(paused))).toBe('a-b-------(cde)g-|');
    });
  });

  it('marble: completion waits for release; values flow before paused$ emits', () => {
    scheduler().run(({ cold, hot, expectObservable }) => {
      const paused = hot('--t----f', B);
      expectObservable(cold('a--b|').pipe(pausable(paused))).toBe('a------(b|)');
    });
  });

  it('marble: errors are forwarded at once (held values were never started)', () => {
    scheduler().run(({ cold, hot, expectObservable }) => {
      const paused = hot('t-----', B);
      expectObservable(cold('a-b-#').pipe(pausable(paused))).toBe('----#');
      expectObservable(cold('a-b-|').pipe(pausable(hot('f-#', B)))).toBe('a-#');
    });
  });

  it('re-pausing from inside a released value stops the release', () => {
    const paused = new Subject<boolean>();
    const source = new Subject<number>();
    const got: number[] = [];
    source.pipe(pausable(paused)).subscribe((v) => {
      got.push(v);
      if (v === 2) paused.next(true);
    });
    paused.next(true);
    [1, 2, 3, 4].forEach((v) => source.next(v));
    paused.next(false);
    expect(got).toEqual([1, 2]);
    paused.next(false);
    expect(got).toEqual([1, 2, 3, 4]);
  });
});
