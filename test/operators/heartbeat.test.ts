import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { heartbeat } from '../../src/operators/heartbeat.js';

describe('heartbeat', () => {
  it('beats once per value and once per interval, and passes values through', () => {
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ cold, expectObservable, flush }) => {
      const beats: Array<[number, string | undefined]> = [];
      const src = cold('a 9ms b 14ms |');
      const out = src.pipe(heartbeat((v) => beats.push([ts.now(), v]), 10, ts));
      expectObservable(out).toBe('a 9ms b 14ms |');
      flush();
      expect(beats).toEqual([
        [0, 'a'],
        [10, undefined],
        [10, 'b'],
        [20, undefined],
      ]);
    });
  });

  it('stops beating when the source errors', () => {
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ cold, expectObservable, flush }) => {
      let n = 0;
      expectObservable(cold('5ms #').pipe(heartbeat(() => n++, 2, ts))).toBe('5ms #');
      flush();
      expect(n).toBe(2);
    });
  });

  it('rejects a non-positive interval with the bad value in the message', () => {
    expect(() => heartbeat(() => {}, 0)).toThrow(/got `0` \(number\)/);
  });
});
