import type { Redis } from 'ioredis';
import { Observable } from 'rxjs';
import { TokenBucket, type TokenBucketStats } from '../operators/token-bucket.js';

/**
 * Takes up to `want` tokens from the shared bucket. Time is Redis's own clock (TIME), so hosts with
 * skewed clocks share one timeline. Returns {granted, waitMs, rate-as-string}.
 * Adaptive recovery runs here too: while not paused, the rate climbs by step/s (5x below 95% of the
 * rate that drew the last 429), as the one-process TokenBucket does.
 */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local want = tonumber(ARGV[1]); local maxRate = tonumber(ARGV[2]); local burst = tonumber(ARGV[3])
local adaptive = ARGV[4] == '1'; local step = tonumber(ARGV[5]); local okSeen = ARGV[6] == '1'
local h = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'rate', 'paused', 'ceiling', 'consecutive')
local tokens = tonumber(h[1]) or burst
local ts = tonumber(h[2]) or now
local rate = tonumber(h[3]) or maxRate
local paused = tonumber(h[4]) or 0
local ceiling = tonumber(h[5]) or 1e18
if now < paused then
  return {0, paused - now, tostring(rate)}
end
if okSeen then redis.call('HSET', KEYS[1], 'consecutive', 0) end
local dt = now - ts
if dt < 0 then dt = 0 end
if adaptive and rate < maxRate and dt > 0 then
  local s = step
  if rate < ceiling * 0.95 then s = step * 5 end
  rate = math.min(maxRate, rate + s * dt / 1000)
end
tokens = math.min(burst, tokens + dt * rate / 1000)
local g = math.min(want, math.floor(tokens))
tokens = tokens - g
local wait = 0
if g < want then wait = math.max(1, math.ceil((1 - tokens) * 1000 / rate)) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now, 'rate', tostring(rate))
redis.call('PEXPIRE', KEYS[1], 86400000)
return {g, wait, tostring(rate)}
`;

/**
 * A 429 somewhere: every host pauses until Redis's clock passes `paused`. 429s inside one pause
 * window count once; adaptive mode lowers the shared rate once per window.
 * ARGV: retryAfterMs (-1 = none), adaptive, decrease, minRate, basePauseMs, maxRate.
 */
const RATE_LIMITED = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HMGET', KEYS[1], 'rate', 'paused', 'consecutive')
local rate = tonumber(h[1]) or tonumber(ARGV[6])
local paused = tonumber(h[2]) or 0
local consecutive = tonumber(h[3]) or 0
if now >= paused then
  consecutive = consecutive + 1
  if ARGV[2] == '1' then
    redis.call('HSET', KEYS[1], 'ceiling', tostring(rate))
    rate = math.max(tonumber(ARGV[4]), rate * tonumber(ARGV[3]))
  end
end
local delay = tonumber(ARGV[1])
if delay < 0 then delay = math.min(30000, tonumber(ARGV[5]) * 2 ^ (consecutive - 1)) end
local untilMs = now + delay
if untilMs > paused then paused = untilMs end
redis.call('HSET', KEYS[1], 'rate', tostring(rate), 'paused', paused, 'consecutive', consecutive, 'tokens', 0, 'ts', paused)
redis.call('PEXPIRE', KEYS[1], 86400000)
return paused - now
`;

/** Options of {@link RedisTokenBucket}. */
export interface RedisTokenBucketOptions {
  /** Connection (not shared with BullMQ's blocking connections). */
  readonly redis: Redis;
  /** Hash key of the shared bucket (one per run). */
  readonly key: string;
  /** Combined rate of every host, requests/s. */
  readonly rate: number;
  /** Lower the shared rate on 429 (AIMD), as TokenBucket's `adaptive` does. @default false */
  readonly adaptive?: boolean;
  /**
   * Tokens the bucket holds at most. Over any 1-second window every host together gets at most
   * `rate + burst`. @default max(1, floor(rate / 100)): 1% over the quota at most
   */
  readonly burst?: number;
  /** Most tokens one round trip takes for this process. @default burst */
  readonly batch?: number;
  /** Errors talking to Redis (the bucket keeps retrying; requests wait meanwhile). */
  readonly onError?: (err: unknown) => void;
}

interface Waiter {
  live: boolean;
  readonly grant: () => void;
}

/**
 * The cluster's one quota: a token bucket kept in Redis that every request of every host draws
 * from, through an atomic Lua script, a few tokens per round trip (only as many as requests are
 * waiting here, so no host sits on tokens). A 429 anywhere pauses every host (the pause lives in
 * the same hash) and, with `adaptive`, lowers the rate for all.
 *
 * It is a {@link TokenBucket} to the client and the operators (same `acquire`, `take`,
 * `onRateLimited`, `onSuccess`, `currentRate`, `stats`); the inherited local state is unused.
 */
export class RedisTokenBucket extends TokenBucket {
  readonly #redis: Redis;
  readonly #key: string;
  readonly #adaptive: boolean;
  readonly #burst: number;
  readonly #batch: number;
  readonly #onError: (err: unknown) => void;
  #queue: Waiter[] = [];
  #pumping = false;
  #timer: NodeJS.Timeout | undefined;
  #rateNow: number;
  #okSeen = false;
  #granted = 0;
  #pauses = 0;
  #pausedUntil = 0;
  #closed = false;

  constructor(opts: RedisTokenBucketOptions) {
    super({ rate: opts.rate });
    this.#redis = opts.redis;
    this.#key = opts.key;
    this.#adaptive = opts.adaptive ?? false;
    this.#burst = opts.burst ?? Math.max(1, Math.floor(opts.rate / 100));
    this.#batch = Math.max(1, Math.min(opts.batch ?? this.#burst, this.#burst));
    this.#onError = opts.onError ?? (() => undefined);
    this.#rateNow = opts.rate;
    this.#redis.defineCommand('tickpipeTake', { numberOfKeys: 1, lua: TAKE });
    this.#redis.defineCommand('tickpipeRateLimited', { numberOfKeys: 1, lua: RATE_LIMITED });
  }

  override get currentRate(): number {
    return this.#rateNow;
  }

  override get waiting(): number {
    return this.#queue.filter((w) => w.live).length;
  }

  override stats(): TokenBucketStats {
    return { granted: this.#granted, pauses: this.#pauses, rate: this.#rateNow, waiting: this.waiting, paused: Date.now() < this.#pausedUntil };
  }

  override acquire(): Observable<void> {
    return new Observable<void>((subscriber) => {
      const w: Waiter = {
        live: true,
        grant: () => {
          subscriber.next();
          subscriber.complete();
        },
      };
      this.#queue.push(w);
      void this.#pump();
      return () => {
        w.live = false;
      };
    });
  }

  override onSuccess(): void {
    this.#okSeen = true;
  }

  override onRateLimited(retryAfterMs?: number): void {
    const ms = typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs >= 0 ? Math.round(retryAfterMs) : -1;
    const rate = this.rate;
    const args = [ms, this.#adaptive ? '1' : '0', 0.85, rate * 0.05, this.#adaptive ? 250 : 1000, rate];
    (this.#redis as unknown as { tickpipeRateLimited(k: string, ...a: unknown[]): Promise<number> })
      .tickpipeRateLimited(this.#key, ...args)
      .then((pauseMs) => {
        this.#pauses++;
        this.#pausedUntil = Date.now() + Number(pauseMs);
      })
      .catch(this.#onError);
  }

  /** Stops asking Redis; waiters stay unserved. */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  async #pump(): Promise<void> {
    if (this.#pumping || this.#closed) return;
    this.#pumping = true;
    try {
      for (;;) {
        this.#queue = this.#queue.filter((w) => w.live);
        const want = Math.min(this.#queue.length, this.#batch);
        if (want === 0) return;
        let granted: number;
        let waitMs: number;
        try {
          const okSeen = this.#okSeen;
          this.#okSeen = false;
          const r = (await (this.#redis as unknown as { tickpipeTake(k: string, ...a: unknown[]): Promise<[number, number, string]> }).tickpipeTake(
            this.#key,
            want,
            this.rate,
            this.#burst,
            this.#adaptive ? '1' : '0',
            this.rate * 0.01,
            okSeen ? '1' : '0',
          ));
          granted = Number(r[0]);
          waitMs = Number(r[1]);
          this.#rateNow = Number(r[2]);
        } catch (err) {
          this.#onError(err);
          granted = 0;
          waitMs = 500;
        }
        // Tokens are handed to waiters still live now; one whose subscriber left meanwhile loses its token.
        for (let i = 0; i < granted; i++) {
          const w = this.#queue.shift();
          if (!w) break;
          if (!w.live) continue;
          w.live = false;
          this.#granted++;
          w.grant();
        }
        if (granted < want) {
          await new Promise<void>((r) => (this.#timer = setTimeout(r, Math.min(Math.max(1, waitMs), 1000))));
          if (this.#closed) return;
        }
      }
    } finally {
      this.#pumping = false;
    }
  }
}
