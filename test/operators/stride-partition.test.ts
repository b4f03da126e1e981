import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { from, lastValueFrom, mergeMap, map, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { stridePartition } from '../../src/operators/stride-partition.js';

const scheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('stridePartition', () => {
  it('marble: routes by index mod n, keeping timing and order', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const idx: Record<string, number> = { a: 0, b: 1, c: 2, d: 3, e: 4 };
      const source = cold('a-b-c-d-e|');
      const out = source.pipe(
        stridePartition(2, (s: string) => idx[s]!),
        mergeMap((g) => g.pipe(map((v) => `${g.key}${v}`))),
      );
      expectObservable(out).toBe('a-b-c-d-e|', { a: '0a', b: '1b', c: '0c', d: '1d', e: '0e' });
    });
  });

  it('marble: an invalid index errors the stream', () => {
    scheduler().run(({ cold, expectObservable }) => {
      const out = cold('a-b|').pipe(
        stridePartition(3, (s: string) => (s === 'b' ? Number.NaN : 0)),
        mergeMap((g) => g),
      );
      expectObservable(out).toBe('a-#', undefined, new RangeError('stridePartition: index must be a whole number >= 0, got NaN (number)'));
    });
  });

  it('validates n, naming value and type', () => {
    expect(() => stridePartition(0, () => 0)).toThrow('got `0` (number)');
    expect(() => stridePartition(2.5, () => 0)).toThrow('got `2.5` (number)');
    expect(() => stridePartition('4' as unknown as number, () => 0)).toThrow('got `"4"` (string)');
  });

  it('property: partitions are a disjoint cover, order kept in each, key = index mod n', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.nat(10_000), { maxLength: 80 }), fc.integer({ min: 1, max: 12 }), async (indices, n) => {
        const groups = await lastValueFrom(
          from(indices).pipe(
            stridePartition(n, (i: number) => i),
            mergeMap((g) => g.pipe(toArray(), map((items) => ({ key: g.key, items })))),
            toArray(),
          ),
        );
        const seen = groups.flatMap((g) => g.items);
        expect([...seen].sort((a, b) => a - b)).toEqual([...indices].sort((a, b) => a - b)); // cover, no duplicates
        expect(new Set(groups.map((g) => g.key)).size).toBe(groups.length); // one group per key
        for (const g of groups) {
          expect(g.items.every((i) => i % n === g.key)).toBe(true);
          expect(g.items).toEqual(indices.filter((i) => i % n === g.key)); // input order kept
        }
      }),
    );
  });
});
