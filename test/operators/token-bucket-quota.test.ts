/**
 * Issue 16 point 5 and issue 15 points 6 and 9: never more than the rate in any sliding second,
 * a 429 answered in proportion, Retry-After capped and visible, a graceful stop that does not wait
 * out a pause, and partition halves whose caps add up to the quota. Virtual time throughout.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TestScheduler } from 'rxjs/testing';
import { VirtualTimeScheduler, type Subscription } from 'rxjs';
import { TokenBucket } from '../../src/operators/token-bucket.js';
import { rateLimit } from '../../src/operators/rate-limit.js';
import { AbortedError } from '../../src/errors.js';

const show = (v: unknown) => JSON.stringify(v);
const newTs = () => new TestScheduler((actual, expected) => expect(show(actual)).toEqual(show(expected)));

/** Most grants inside any half-open window [t, t + windowMs). */
function peakIn(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let peak = 0;
  for (let i = 0, j = 0; j < sorted.length; j++) {
    while (sorted[j]! - sorted[i]! >= windowMs) i++;
    peak = Math.max(peak, j - i + 1);
  }
  return peak;
}

function backlog(bucket: TokenBucket, vts: VirtualTimeScheduler, n: number): number[] {
  const grants: number[] = [];
  for (let i = 0; i < n; i++) bucket.acquire().subscribe(() => grants.push(vts.now()));
  vts.flush();
  return grants;
}

describe('TokenBucket sliding-second cap', () => {
  it('the default burst never lets more than the rate into any 1-second window (was rate + burst)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 60 }), (rate, burst) => {
        const vts = new VirtualTimeScheduler();
        const bucket = new TokenBucket({ rate, burst, scheduler: vts });
        const grants = backlog(bucket, vts, rate * 6);
        expect(peakIn(grants, 1000)).toBeLessThanOrEqual(rate);
        // ...and it still uses the quota: 6 s worth within about 6 guarded windows (burst 1 loses what
        // whole-ms wake-ups round away, as in token-bucket.test.ts).
        const effective = Math.min(burst >= 2 ? rate : 1000 / Math.ceil(1000 / rate), (rate * 1000) / 1010);
        expect(grants[grants.length - 1]!).toBeLessThanOrEqual(((rate * 6) / effective) * 1000 + 1000 / rate + 2);
      }),
      { numRuns: 60 },
    );
  });

  it('50/s with the default burst: 50 in the first second, not 55, and >= 98% of the rate sustained', () => {
    const vts = new VirtualTimeScheduler();
    const bucket = new TokenBucket({ rate: 50, scheduler: vts });
    expect(bucket.burst).toBe(5);
    const grants = backlog(bucket, vts, 1000);
    expect(grants.filter((t) => t < 1000).length).toBe(50);
    expect(peakIn(grants, 1000)).toBe(50);
    const span = (grants[999]! - grants[0]!) / 1000;
    expect(999 / span / 50).toBeGreaterThanOrEqual(0.98);
  });

  it('maxPerSecond: false opts into bursts beyond the rate (the old rate + burst)', () => {
    const vts = new VirtualTimeScheduler();
    const bucket = new TokenBucket({ rate: 50, scheduler: vts, maxPerSecond: false });
    const grants = backlog(bucket, vts, 200);
    expect(peakIn(grants, 1000)).toBeGreaterThan(50);
  });

  it('validates maxPerSecond, windowGuardMs and maxServerPauseMs showing the bad value', () => {
    expect(() => new TokenBucket({ rate: 5, maxPerSecond: 0 })).toThrow(/maxPerSecond.*0/);
    expect(() => new TokenBucket({ rate: 5, maxPerSecond: 2.5 })).toThrow(/maxPerSecond.*2\.5/);
    expect(() => new TokenBucket({ rate: 5, windowGuardMs: -1 })).toThrow(/windowGuardMs.*-1/);
    expect(() => new TokenBucket({ rate: 5, maxServerPauseMs: Number.NaN })).toThrow(/maxServerPauseMs/);
  });

  it('--partition halves: two processes at quota / 2 never put more than the quota into one second (issue 15 point 9)', () => {
    fc.assert(
      // quota >= N: with fewer requests per second than processes, nothing short of a shared bucket
      // (cluster mode) can stop all of them from sending in the same second.
      fc.property(fc.integer({ min: 4, max: 200 }), fc.integer({ min: 2, max: 4 }), fc.array(fc.integer({ min: 0, max: 900 }), { minLength: 2, maxLength: 4 }), (quota, n, offsets) => {
        const vts = new VirtualTimeScheduler();
        const all: number[] = [];
        for (let k = 0; k < n; k++) {
          // Each half as run.ts builds it (rate = quota / N), starting at its own moment.
          const bucket = new TokenBucket({ rate: quota / n, scheduler: vts });
          vts.schedule(() => {
            for (let i = 0; i < quota * 3; i++) bucket.acquire().subscribe(() => all.push(vts.now()));
          }, offsets[k % offsets.length]!);
        }
        vts.flush();
        expect(peakIn(all, 1000)).toBeLessThanOrEqual(quota);
      }),
      { numRuns: 60 },
    );
  });
});

describe('TokenBucket counting sends (trackSend)', () => {
  /** Acquires `n` tokens; each grant reports its send `delayOf(i)` ms later (or never: `unsent` then). */
  function tracked(bucket: TokenBucket, vts: VirtualTimeScheduler, n: number, delayOf: (i: number) => number | 'unsent'): { grants: number[]; sends: number[] } {
    const grants: number[] = [];
    const sends: number[] = [];
    for (let i = 0; i < n; i++) {
      bucket.acquire().subscribe(() => {
        grants.push(vts.now());
        const report = bucket.trackSend();
        const d = delayOf(i);
        if (d === 'unsent') vts.schedule(() => report.unsent(), 0);
        else
          vts.schedule(() => {
            sends.push(vts.now());
            report.sent();
            report.sent(); // a second report changes nothing
          }, d);
      });
    }
    vts.flush();
    return { grants, sends };
  }

  it('a request that left late holds its place in the window from when it left, not from its grant', () => {
    const vts = new VirtualTimeScheduler();
    const bucket = new TokenBucket({ rate: 2, burst: 2, windowGuardMs: 0, scheduler: vts });
    // a and b granted at 0; a leaves at once, b 300 ms late. Counted by grant, c and d would both
    // go at 1000; counted by send, d waits until b's place frees at 1300.
    const { grants, sends } = tracked(bucket, vts, 4, (i) => (i === 1 ? 300 : 0));
    expect(grants).toEqual([0, 0, 1000, 1300]);
    expect(sends).toEqual([0, 300, 1000, 1300]);
  });

  it('a granted request not sent yet holds its place; one that will never be sent gives it back', () => {
    const vts = new VirtualTimeScheduler();
    const bucket = new TokenBucket({ rate: 1, burst: 1, windowGuardMs: 0, scheduler: vts });
    // a is granted at 0 and reports nothing until 1500: b may not go at 1000 (a may leave any
    // moment), and once a left at 1500, b waits for a second after that.
    const late = tracked(bucket, vts, 2, (i) => (i === 0 ? 1500 : 0));
    expect(late.grants).toEqual([0, 2500]);
    const vts2 = new VirtualTimeScheduler();
    const bucket2 = new TokenBucket({ rate: 1, burst: 1, windowGuardMs: 0, scheduler: vts2 });
    let reportA: ReturnType<TokenBucket['trackSend']> | undefined;
    const grants: number[] = [];
    bucket2.acquire().subscribe(() => {
      grants.push(vts2.now());
      reportA = bucket2.trackSend();
    });
    bucket2.acquire().subscribe(() => grants.push(vts2.now()));
    vts2.schedule(() => reportA!.unsent(), 1500);
    vts2.flush();
    expect(grants).toEqual([0, 1500]);
  });

  it('no sliding window holds more than the cap of sends, whatever the delay of each request after its grant (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 120 }),
        fc.array(fc.oneof(fc.integer({ min: 0, max: 80 }), fc.constant('unsent' as const)), { minLength: 1, maxLength: 40 }),
        (rate, delays) => {
          const vts = new VirtualTimeScheduler();
          const bucket = new TokenBucket({ rate, scheduler: vts });
          const n = rate * 4;
          const { grants, sends } = tracked(bucket, vts, n, (i) => delays[i % delays.length]!);
          expect(grants.length).toBe(n);
          expect(peakIn(sends, bucket.windowMs)).toBeLessThanOrEqual(bucket.maxPerSecond as number);
        },
      ),
      { numRuns: 80 },
    );
  });
});

describe('TokenBucket 429 handling', () => {
  it('a lone 429 pauses dispatch for one interval (100 ms at 10/s), not a second', () => {
    const ts = newTs();
    ts.run(({ cold, expectObservable }) => {
      const bucket = new TokenBucket({ rate: 10, burst: 1, scheduler: ts });
      ts.schedule(() => bucket.onRateLimited(), 5);
      // a at 0 (the initial token); the 429 at 5 pauses until 105, when the bucket restarts with one
      // token: b at 105, c one interval later.
      expectObservable(cold('(abc|)').pipe(rateLimit(bucket))).toBe('a 104ms b 99ms (c|)');
    });
  });

  it('Retry-After: 3600 s is cut to maxServerPauseMs, and stats say the server paused us until when', () => {
    const ts = newTs();
    ts.run(({ cold, expectObservable, flush }) => {
      const bucket = new TokenBucket({ rate: 10, burst: 1, scheduler: ts, maxServerPauseMs: 90_000 });
      ts.schedule(() => bucket.onRateLimited(3_600_000), 0);
      ts.schedule(() => {
        const s = bucket.stats();
        expect(s.paused).toBe(true);
        expect(s.pausedByServer).toBe(true);
        expect(s.pausedUntil).toBe(90_000);
        expect(s.serverAskedMs).toBe(3_600_000);
        expect(s.rateLimited).toBe(1);
      }, 1);
      ts.schedule(() => expect(bucket.stats()).toMatchObject({ paused: false, pausedUntil: undefined, pausedByServer: false }), 90_000);
      expectObservable(cold('(ab|)').pipe(rateLimit(bucket))).toBe('90000ms a 99ms (b|)');
      flush();
      expect(bucket.capRetryAfter(3_600_000)).toBe(90_000);
      expect(bucket.capRetryAfter(2_000)).toBe(2_000);
    });
    // The default cap is 60 s.
    expect(new TokenBucket({ rate: 1 }).maxServerPauseMs).toBe(60_000);
  });

  it("tickpipe's own backoff is not reported as the server's pause", () => {
    const vts = new VirtualTimeScheduler();
    const bucket = new TokenBucket({ rate: 10, scheduler: vts });
    bucket.onRateLimited();
    expect(bucket.stats()).toMatchObject({ paused: true, pausedByServer: false, pausedUntil: 100 });
  });

  it('graceful stop: waiters still waiting out a pause are dropped with AbortedError; outside pauses tokens flow', () => {
    const vts = new VirtualTimeScheduler();
    const bucket = new TokenBucket({ rate: 10, burst: 1, scheduler: vts });
    const events: string[] = [];
    const subs: Subscription[] = [];
    const wait = (name: string) =>
      subs.push(bucket.acquire().subscribe({ next: () => events.push(`${name}@${vts.now()}`), error: (e) => events.push(`${name}:${(e as Error).constructor.name}@${vts.now()}`) }));
    // Without a pause, stopping changes nothing: w1 and w2 get their tokens.
    wait('w1');
    wait('w2');
    bucket.stopWaitingWhilePaused();
    vts.schedule(() => bucket.onRateLimited(3_600_000), 150); // the server asks for an hour (capped at 60 s)
    vts.schedule(() => wait('w3'), 200); // asks during the pause: dropped at once
    vts.flush();
    expect(events).toEqual(['w1@0', 'w2@100', 'w3:AbortedError@200']);
    for (const s of subs) s.unsubscribe();
  });

  it('graceful stop during a pause drops those already waiting; take() rejects with AbortedError', async () => {
    const vts = new VirtualTimeScheduler();
    const bucket = new TokenBucket({ rate: 10, burst: 1, scheduler: vts });
    bucket.onRateLimited(3_600_000);
    const p = bucket.take();
    const q = bucket.take();
    bucket.stopWaitingWhilePaused();
    await expect(p).rejects.toBeInstanceOf(AbortedError);
    await expect(q).rejects.toBeInstanceOf(AbortedError);
    expect(bucket.waiting).toBe(0);
  });
});

describe('retryBackoff with rateLimitedWaitsInBucket', () => {
  it('requeues a 429 at once (the bucket does the waiting); other errors keep their backoff', async () => {
    const { retryBackoff } = await import('../../src/operators/retry-backoff.js');
    const { RateLimitedError, ServerError } = await import('../../src/errors.js');
    const { defer, throwError, of } = await import('rxjs');
    const ts = newTs();
    ts.run(({ expectObservable }) => {
      let n = 0;
      const src = defer(() => (++n === 1 ? throwError(() => new RateLimitedError('429', 3_600_000)) : of('ok')));
      expectObservable(src.pipe(retryBackoff({ scheduler: ts, rateLimitedWaitsInBucket: true, random: () => 0.5 }))).toBe('(o|)', { o: 'ok' });
      let m = 0;
      const src2 = defer(() => (++m === 1 ? throwError(() => new ServerError('503', 503)) : of('ok')));
      expectObservable(src2.pipe(retryBackoff({ scheduler: ts, rateLimitedWaitsInBucket: true, random: () => 0.5 }))).toBe('100ms (o|)', { o: 'ok' });
    });
  });
});
