import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { batchBySymbols } from '../../src/operators/batch-by-symbols.js';

const scheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

describe('batchBySymbols', () => {
  it('marble: full batches as they fill, partial batch flushed on complete', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a-b-c-d-e|').pipe(batchBySymbols(2))).toBe('--x---y--(z|)', {
        x: ['a', 'b'],
        y: ['c', 'd'],
        z: ['e'],
      });
    });
  });

  it('marble: nothing for an empty source; exact multiple has no empty tail', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('|').pipe(batchBySymbols(3))).toBe('|');
      expectObservable(cold('a-b|').pipe(batchBySymbols(2))).toBe('--x|', { x: ['a', 'b'] });
    });
  });

  it('marble: an error mid-batch never publishes the partial batch', () => {
    scheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a-b-c-#').pipe(batchBySymbols(2))).toBe('--x---#', { x: ['a', 'b'] });
    });
  });

  it('validates size', () => {
    expect(() => batchBySymbols(0)).toThrow('got `0` (number)');
    expect(() => batchBySymbols(Number.NaN)).toThrow('got `NaN` (number)');
  });
});
