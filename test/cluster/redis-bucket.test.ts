/**
 * The cluster's shared quota against a real Redis: several buckets (as several hosts) on one key
 * never exceed the rate together, and a 429 reported by one pauses all of them. Only lower bounds
 * on elapsed time are asserted (load can slow a test down, never speed it up).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { lastValueFrom } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisTokenBucket } from '../../src/cluster/redis-bucket.js';
import { TokenBucket } from '../../src/operators/token-bucket.js';
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
    await conns[0]?.del(key, `${key}-pause`);
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
    // 102 slots spaced 1/50 s apart: the last is due ~2.02 s after the first.
    expect(elapsed).toBeGreaterThanOrEqual(((102 - 1) / rate) * 1000 - 10);
    expect(buckets.reduce((n, b) => n + b.stats().granted, 0)).toBe(102);
    for (const b of buckets) b.close();
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
