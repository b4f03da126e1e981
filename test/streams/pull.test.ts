import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BehaviorSubject, tap, firstValueFrom, lastValueFrom, map, mergeMap, of, Subject, throwError, timer, toArray } from 'rxjs';
import { filterAsync, mapAsync, pullMap } from '../../src/streams/pull.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('pullMap', () => {
  it('never has more than `concurrency` items pulled-but-unfinished (200,000 items, c=8)', async () => {
    const N = 200_000;
    let pulled = 0;
    let finished = 0;
    let maxOutstanding = 0;
    function* gen(): Generator<number> {
      for (let i = 0; i < N; i++) {
        pulled++;
        maxOutstanding = Math.max(maxOutstanding, pulled - finished);
        yield i;
      }
    }
    let sum = 0;
    const t0 = performance.now();
    await lastValueFrom(
      pullMap(
        gen(),
        (x) =>
          // Every 1000th item waits a macrotask, so slots really are held across event-loop turns.
          new Promise<number>((resolve) => (x % 1000 === 0 ? setTimeout : queueMicrotask)(() => resolve(x))).then((v) => {
            finished++;
            return v;
          }),
        8,
      ).pipe(map((x) => (sum += x))),
    );
    const ms = performance.now() - t0;
    expect(pulled).toBe(N);
    expect(finished).toBe(N);
    expect(maxOutstanding).toBeLessThanOrEqual(8);
    expect(maxOutstanding).toBe(8);
    expect(sum).toBe((N * (N - 1)) / 2);
    console.log(`pullMap: ${N} promise-returning items, c=8: ${ms.toFixed(0)} ms (${((ms * 1000) / N).toFixed(2)} µs/item)`);
  });

  it('overhead: 200,000 synchronous items with of(x), no stack growth', async () => {
    const N = 200_000;
    const t0 = performance.now();
    let n = 0;
    await lastValueFrom(pullMap(Array.from({ length: N }, (_, i) => i), (x) => of(x), 16).pipe(map(() => n++)));
    const ms = performance.now() - t0;
    expect(n).toBe(N);
    console.log(`pullMap sync overhead: ${((ms * 1000) / N).toFixed(2)} µs/item`);
  });

  it('unsubscribing stops pulling and runs the generator finally (through filterAsync)', async () => {
    let pulled = 0;
    let finallyRan = false;
    async function* gen(): AsyncGenerator<number> {
      try {
        for (let i = 0; ; i++) {
          pulled++;
          yield i;
        }
      } finally {
        finallyRan = true;
      }
    }
    const started: number[] = [];
    const sub = pullMap(filterAsync(gen(), (x) => x % 2 === 0), (x) => (started.push(x), new Subject<number>()), 4).subscribe();
    for (let i = 0; i < 20; i++) await tick();
    expect(started).toEqual([0, 2, 4, 6]);
    const pulledAtStop = pulled;
    sub.unsubscribe();
    for (let i = 0; i < 20; i++) await tick();
    expect(finallyRan).toBe(true);
    expect(pulled).toBe(pulledAtStop);
  });

  it('an error from project (thrown or emitted) propagates and stops pulling', async () => {
    let pulled = 0;
    let finallyRan = false;
    function* gen(): Generator<number> {
      try {
        for (let i = 0; i < 1000; i++) {
          pulled++;
          yield i;
        }
      } finally {
        finallyRan = true;
      }
    }
    await expect(
      lastValueFrom(pullMap(gen(), (x) => (x === 5 ? throwError(() => new Error('boom')) : timer(1).pipe(map(() => x))), 3)),
    ).rejects.toThrow('boom');
    expect(pulled).toBeLessThanOrEqual(8);
    expect(finallyRan).toBe(true);
    await expect(
      lastValueFrom(
        pullMap([1, 2, 3], (x) => {
          if (x === 2) throw new Error('sync boom');
          return of(x);
        }, 1),
      ),
    ).rejects.toThrow('sync boom');
  });

  it('an error from the iterator propagates', async () => {
    async function* gen(): AsyncGenerator<number> {
      yield 1;
      throw new Error('disk gone');
    }
    await expect(lastValueFrom(pullMap(gen(), (x) => of(x), 2))).rejects.toThrow('disk gone');
  });

  it('completes on an empty source and validates concurrency', async () => {
    await expect(lastValueFrom(pullMap([], (x: number) => of(x), 1).pipe(toArray()))).resolves.toEqual([]);
    expect(() => pullMap([], (x: number) => of(x), 0)).toThrow(/got `0` \(number\)/);
    expect(() => pullMap([], (x: number) => of(x), 1.5)).toThrow(/1\.5/);
  });

  it('paused$ stops new pulls; work resumes when it turns false', async () => {
    const paused$ = new BehaviorSubject(true);
    let pulled = 0;
    function* gen(): Generator<number> {
      for (let i = 0; i < 5; i++) {
        pulled++;
        yield i;
      }
    }
    const out = firstValueFrom(pullMap(gen(), (x) => of(x), 2, { paused$ }).pipe(toArray()));
    await tick();
    expect(pulled).toBe(0);
    paused$.next(false);
    await expect(out).resolves.toEqual([0, 1, 2, 3, 4]);
  });

  it('property: output multiset = project applied to every input exactly once (c = 1..16)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer(), { maxLength: 60 }),
        fc.integer({ min: 1, max: 16 }),
        fc.boolean(),
        fc.array(fc.nat(3), { minLength: 1, maxLength: 10 }),
        async (xs, c, asyncSource, delays) => {
          let outstanding = 0;
          let max = 0;
          const calls: number[] = [];
          const src = asyncSource ? mapAsync(xs, (x) => x) : xs;
          const out = await lastValueFrom(
            pullMap(src, (x, i) => {
              calls.push(i);
              outstanding++;
              max = Math.max(max, outstanding);
              const d = delays[i % delays.length]!;
              const pair = d === 0 ? of(x * 2, x * 2 + 1) : timer(d - 1).pipe(mergeMap(() => of(x * 2, x * 2 + 1)));
              return pair.pipe(tap({ complete: () => void outstanding-- }));
            }, c).pipe(toArray()),
          );
          const flat = out;
          const expected = xs.flatMap((x) => [x * 2, x * 2 + 1]);
          expect([...flat].sort((a, b) => a - b)).toEqual([...expected].sort((a, b) => a - b));
          expect([...calls].sort((a, b) => a - b)).toEqual(xs.map((_, i) => i));
          expect(max).toBeLessThanOrEqual(c);
        },
      ),
      { numRuns: 150 },
    );
  });
});
