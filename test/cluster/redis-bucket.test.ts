/**
 * The cluster's shared quota against a real Redis: several buckets (as several hosts) on one key
 * never exceed the rate together in any sliding second, keep the quota full while they have work,
 * and a 429 reported by one pauses all of them. The window properties run the real Lua script on a
 * virtual clock passed in by the test (so they hold whatever the machine's load); in real time only
 * lower bounds on elapsed time are asserted (load can slow a test down, never speed it up).
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { lastValueFrom } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisTokenBucket, redateSharedGrants, reportSharedRateLimited, takeSharedGrants, type SharedBucketSpec } from '../../src/cluster/redis-bucket.js';
import { ADAPTIVE_HOLD_MS, TokenBucket, defaultPause } from '../../src/operators/token-bucket.js';
import { findRedis } from './redis-env.js';

const found = await findRedis();
const skip = 'skip' in found ? found.skip : undefined;

describe.skipIf(skip !== undefined)(`RedisTokenBucket (${skip ? `skipped: ${skip}` : 'real Redis'})`, () => {
  const url = (found as { url: string }).url;
  const conns: Redis[] = [];
  const key = `tickpipe-test:${randomBytes(6).toString('hex')}:bucket`;
  const conn = () => {
    const r = new Redis(url, { maxRetriesPerRequest: null });
    conns.push(r);
    return r;
  };
  afterAll(async () => {
    const extra = await conns[0]?.keys(`${key}*`);
    if (extra && extra.length > 0) await conns[0]?.del(...extra);
    for (const c of conns) c.disconnect();
    await (found as { stop?: () => Promise<void> }).stop?.();
  });

  it('is a TokenBucket to the client and the operators', () => {
    const b = new RedisTokenBucket({ redis: conn(), key, rate: 10 });
    expect(b).toBeInstanceOf(TokenBucket);
    expect(b.currentRate).toBe(10);
    b.close();
  });

  it('three buckets on one key hand out no more than the rate together', async () => {
    const rate = 50;
    const buckets = [0, 1, 2].map(() => new RedisTokenBucket({ redis: conn(), key, rate }));
    const t0 = Date.now();
    await Promise.all(buckets.flatMap((b) => Array.from({ length: 34 }, () => b.take())));
    const elapsed = Date.now() - t0;
    // At most 50 grants in any 1010 ms: grants 101 and 102 come >= 2 x 1010 ms after the first two.
    expect(elapsed).toBeGreaterThanOrEqual(2 * 1010 - 5);
    expect(buckets.reduce((n, b) => n + b.stats().granted, 0)).toBe(102);
    for (const b of buckets) b.close();
  }, 60_000);

  /** Grants as [virtual ms, host]; checks no span of `windowMs` holds more than `cap` of them. */
  function maxInWindow(times: readonly number[], windowMs: number): number {
    let most = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while (times[i]! - times[j]! >= windowMs) j++;
      most = Math.max(most, i - j + 1);
    }
    return most;
  }

  it('hosts asking at arbitrary moments never get more than the rate into any sliding second (virtual clock)', async () => {
    const redis = conn();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 60 }),
        fc.array(fc.record({ gapMs: fc.integer({ min: 0, max: 120 }), want: fc.integer({ min: 1, max: 8 }) }), { minLength: 50, maxLength: 250 }),
        async (rate, asks) => {
          const spec: SharedBucketSpec = { key: `${key}-prop-${run++}`, rate, burst: Math.max(1, Math.ceil(rate * 0.1)), maxPerSecond: Math.floor(rate) || 1, windowMs: 1010, adaptive: false };
          let now = 1_700_000_000_000;
          const times: number[] = [];
          for (const a of asks) {
            now += a.gapMs;
            const r = await takeSharedGrants(redis, spec, a.want, { now });
            expect(r.granted).toBeLessThanOrEqual(a.want);
            for (let i = 0; i < r.granted; i++) times.push(now);
          }
          await redis.del(spec.key, `${spec.key}:grants`);
          // Strictly what a server counting the last 1000 ms sees, and the guard's 1010 ms too.
          expect(maxInWindow(times, 1000)).toBeLessThanOrEqual(spec.maxPerSecond);
          expect(maxInWindow(times, 1010)).toBeLessThanOrEqual(spec.maxPerSecond);
        },
      ),
      { numRuns: 15 },
    );
  }, 120_000);

  it('three hosts with work keep >= 97% of the quota in use, asking again when told (virtual clock, late wake-ups)', async () => {
    const redis = conn();
    const rate = 25;
    const spec: SharedBucketSpec = { key: `${key}-full`, rate, burst: 3, maxPerSecond: rate, windowMs: 1010, adaptive: false };
    const t0 = 1_700_000_000_000;
    const end = t0 + 20_000;
    // Each host asks at its own next moment: when the script said, plus 0-5 ms of timer lateness.
    const next = [t0, t0 + 1, t0 + 2];
    const times: number[] = [];
    let seed = 7;
    const late = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % 6);
    for (;;) {
      const h = next.indexOf(Math.min(...next));
      const now = next[h]!;
      if (now >= end) break;
      const r = await takeSharedGrants(redis, spec, 3, { now });
      for (let i = 0; i < r.granted; i++) times.push(now);
      next[h] = now + (r.granted < 3 ? Math.max(1, Math.ceil(r.waitMs)) : 40) + late();
    }
    await redis.del(spec.key, `${spec.key}:grants`);
    expect(maxInWindow(times, 1000)).toBeLessThanOrEqual(rate);
    // 20 virtual seconds at 25/s: 500 is the quota; the 10 ms guard and the lateness cost ~1.5%.
    expect(times.length / (rate * 20)).toBeGreaterThanOrEqual(0.97);
  }, 120_000);

  it('a request undici wrote late is re-dated to when it left, even into a full window: the next grants wait for it (virtual clock)', async () => {
    const redis = conn();
    const spec: SharedBucketSpec = { key: `${key}-sent-late`, rate: 2, burst: 2, maxPerSecond: 2, windowMs: 1000, adaptive: false };
    const t0 = 1_700_000_000_000;
    const first = await takeSharedGrants(redis, spec, 2, { now: t0 });
    expect(first.granted).toBe(2);
    // One of the two left 300 ms late; another host took nothing meanwhile. Forced: the window
    // (2 grants) is full, the request is re-dated all the same.
    const late = await redateSharedGrants(redis, spec, first.stamp, 1, { now: t0 + 300, forced: true });
    expect(late.granted).toBe(1);
    // At t0 + 1000 only the one that left at t0 has aged out; the late one holds its place until t0 + 1300.
    expect((await takeSharedGrants(redis, spec, 2, { now: t0 + 1000 })).granted).toBe(1);
    const blocked = await takeSharedGrants(redis, spec, 1, { now: t0 + 1100 });
    expect(blocked.granted).toBe(0);
    expect(blocked.waitMs).toBeCloseTo(200, 0);
    expect((await takeSharedGrants(redis, spec, 1, { now: t0 + 1300 })).granted).toBe(1);
    await redis.del(spec.key, `${spec.key}:grants`);
  }, 60_000);

  it('adaptive: a lowered shared rate also lowers the sliding-second cap, re-dated grants included (virtual clock)', async () => {
    const redis = conn();
    const spec: SharedBucketSpec = { key: `${key}-adaptive-cap`, rate: 40, burst: 40, maxPerSecond: 40, windowMs: 1010, adaptive: true };
    // What a 429 at 11/s left behind: the shared rate lowered to 10.5/s, 11 remembered as the ceiling
    // (the burst would still allow 40 at once).
    await redis.hset(spec.key, 'rate', '10.5', 'ceiling', '11', 'ts', '1700000000000', 'tat', '1700000000000');
    const times: number[] = [];
    let now = 1_700_000_000_000;
    for (let i = 0; i < 60; i++, now += 50) {
      const r = await takeSharedGrants(redis, spec, 8, { now });
      for (let k = 0; k < r.granted; k++) times.push(now);
      // Half of each grant could not be sent at once: re-dated 20 ms later, within the same cap.
      if (r.granted >= 2) {
        const back = Math.floor(r.granted / 2);
        times.splice(times.length - back, back);
        const d = await redateSharedGrants(redis, spec, r.stamp, back, { now: now + 20 });
        for (let k = 0; k < d.granted; k++) times.push(now + 20);
      }
    }
    await redis.del(spec.key, `${spec.key}:grants`);
    times.sort((a, b) => a - b);
    // Near its ceiling the rate recovers by 0.4/s per second (1% of 40): under 12/s over these 3 s.
    expect(maxInWindow(times, 1010)).toBeLessThanOrEqual(11);
    expect(times.length).toBeGreaterThanOrEqual(25);
  }, 60_000);

  it('429s back off as in the one-process bucket: one interval, then 100 ms doubling; a success ends the run (virtual clock)', async () => {
    const redis = conn();
    const spec: SharedBucketSpec = { key: `${key}-backoff`, rate: 25, burst: 3, maxPerSecond: 25, windowMs: 1010, adaptive: false };
    const local = defaultPause(25);
    const t = 1_700_000_000_000;
    await takeSharedGrants(redis, spec, 1, { now: t });
    // A lone 429 costs one token's interval (40 ms at 25/s), as the local bucket's pause.
    expect(await reportSharedRateLimited(redis, spec, undefined, { now: t + 10 })).toBeCloseTo(local(1), 3);
    // Another 429 inside that pause joins its window (one interval from now, not the 100 ms of a second window).
    expect(await reportSharedRateLimited(redis, spec, undefined, { now: t + 30 })).toBeCloseTo(local(1), 3);
    // After the pause, no success in between: the next windows back off 100 ms, then 200 ms.
    expect(await reportSharedRateLimited(redis, spec, undefined, { now: t + 80 })).toBeCloseTo(local(2), 3);
    expect(await reportSharedRateLimited(redis, spec, undefined, { now: t + 200 })).toBeCloseTo(local(3), 3);
    // A success (reported with the next take) ends the run: a lone 429 again costs one interval.
    await takeSharedGrants(redis, spec, 1, { now: t + 500, okSeen: true });
    expect(await reportSharedRateLimited(redis, spec, undefined, { now: t + 510 })).toBeCloseTo(local(1), 3);
    // Retry-After wins over the backoff.
    expect(await reportSharedRateLimited(redis, spec, 1_500, { now: t + 600 })).toBeCloseTo(1_500, 3);
    await redis.del(spec.key, `${spec.key}:grants`);
  }, 60_000);

  it('adaptive: 429s within the hold of the one that lowered the rate lower it once (virtual clock)', async () => {
    const redis = conn();
    const spec: SharedBucketSpec = { key: `${key}-hold`, rate: 40, burst: 4, maxPerSecond: 40, windowMs: 1010, adaptive: true };
    const t = 1_700_000_000_000;
    const rate = async () => Number(await redis.hget(spec.key, 'rate'));
    await takeSharedGrants(redis, spec, 1, { now: t });
    await reportSharedRateLimited(redis, spec, undefined, { now: t + 10 });
    expect(await rate()).toBeCloseTo(40 * 0.85, 6);
    // After its 25 ms pause but within ADAPTIVE_HOLD_MS: requests sent at the old rate, not a new window.
    const late = await reportSharedRateLimited(redis, spec, undefined, { now: t + 10 + ADAPTIVE_HOLD_MS - 20 });
    expect(await rate()).toBeCloseTo(40 * 0.85, 6);
    expect(late).toBeCloseTo(defaultPause(40)(1), 3);
    // Past the hold: a new window lowers the rate again (and, without a success between, backs off 100 ms).
    const next = await reportSharedRateLimited(redis, spec, undefined, { now: t + 10 + ADAPTIVE_HOLD_MS + 20 });
    expect(await rate()).toBeCloseTo(40 * 0.85 * 0.85, 6);
    expect(next).toBeCloseTo(defaultPause(40)(2), 3);
    await redis.del(spec.key, `${spec.key}:grants`);
  }, 60_000);

  it('a 429 reported by one host pauses every host', async () => {
    const k = `${key}-pause`;
    const a = new RedisTokenBucket({ redis: conn(), key: k, rate: 1000 });
    const b = new RedisTokenBucket({ redis: conn(), key: k, rate: 1000 });
    await b.take(); // the bucket exists and serves
    a.onRateLimited(1_500);
    await new Promise((r) => setTimeout(r, 100)); // the pause reaches Redis
    const t0 = Date.now();
    await lastValueFrom(b.acquire(), { defaultValue: undefined });
    // b had no 429 itself; it waited for a's pause (minus the 100 ms already spent).
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1_300);
    a.close();
    b.close();
  }, 60_000);
});
