import type { Redis } from 'ioredis';
import { Observable } from 'rxjs';
import { TokenBucket, type TokenBucketStats } from '../operators/token-bucket.js';

/**
 * Reserves up to `want` request slots on the cluster's one schedule (GCRA: the "theoretical arrival
 * time" `tat` advances by 1/rate per slot), at most `horizon` ms ahead of Redis's own clock (TIME,
 * so hosts with skewed clocks share one timeline). Returns {count, waitMs, rate, delay1, delay2…}:
 * the caller fires slot i after delay_i ms. Slots are never closer than 1/rate apart, so any
 * 1-second window holds at most rate + 1 of them; an idle bucket banks nothing.
 * Adaptive recovery runs here too: while not paused, the rate climbs by step/s (5x below 95% of
 * the rate that drew the last 429), as the one-process TokenBucket does.
 */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local want = tonumber(ARGV[1]); local maxRate = tonumber(ARGV[2]); local horizon = tonumber(ARGV[3])
local adaptive = ARGV[4] == '1'; local step = tonumber(ARGV[5]); local okSeen = ARGV[6] == '1'
local h = redis.call('HMGET', KEYS[1], 'tat', 'ts', 'rate', 'paused', 'ceiling')
local ts = tonumber(h[2]) or now
local rate = tonumber(h[3]) or maxRate
local paused = tonumber(h[4]) or 0
local ceiling = tonumber(h[5]) or 1e18
if okSeen then redis.call('HSET', KEYS[1], 'consecutive', 0) end
local dt = now - ts
if dt < 0 then dt = 0 end
if adaptive and rate < maxRate and dt > 0 and now >= paused then
  local s = step
  if rate < ceiling * 0.95 then s = step * 5 end
  rate = math.min(maxRate, rate + s * dt / 1000)
end
local tat = math.max(tonumber(h[1]) or now, now, paused)
local interval = 1000 / rate
local out = {}
for i = 1, want do
  if tat - now > horizon then break end
  out[#out + 1] = tostring(tat - now)
  tat = tat + interval
end
local wait = 0
if #out < want then wait = math.max(1, math.ceil(tat - horizon - now)) end
redis.call('HSET', KEYS[1], 'tat', tostring(tat), 'ts', tostring(now), 'rate', tostring(rate))
redis.call('PEXPIRE', KEYS[1], 86400000)
local r = {#out, wait, tostring(rate)}
for i = 1, #out do r[#r + 1] = out[i] end
return r
`;

/**
 * A 429 somewhere: every host pauses until Redis's clock passes `paused`. 429s inside one pause
 * window count once; adaptive mode lowers the shared rate once per window.
 * ARGV: retryAfterMs (-1 = none), adaptive, decrease, minRate, basePauseMs, maxRate.
 */
const RATE_LIMITED = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
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
redis.call('HSET', KEYS[1], 'rate', tostring(rate), 'paused', tostring(paused), 'consecutive', consecutive, 'tat', tostring(paused), 'ts', tostring(paused))
redis.call('PEXPIRE', KEYS[1], 86400000)
return tostring(paused - now)
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
   * How far ahead (ms) a process may reserve slots. Reserving ahead is what keeps the schedule
   * full although timers fire late; it is also how long requests reserved before a 429 may still
   * go out after it. @default 100
   */
  readonly horizonMs?: number;
  /** Most slots one round trip reserves for this process. @default max(1, ceil(rate * horizon)) */
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
/** Longest pause one 429's Retry-After imposes on every host (the local bucket's default `maxServerPauseMs`). */
const MAX_SERVER_PAUSE_MS = 60_000;

export class RedisTokenBucket extends TokenBucket {
  readonly #redis: Redis;
  readonly #key: string;
  readonly #adaptive: boolean;
  readonly #horizon: number;
  readonly #batch: number;
  #scheduled = 0;
  readonly #onError: (err: unknown) => void;
  #queue: Waiter[] = [];
  #pumping = false;
  #timer: NodeJS.Timeout | undefined;
  #rateNow: number;
  #okSeen = false;
  #granted = 0;
  #pauses = 0;
  #pausedUntil = 0;
  #rateLimited = 0;
  #serverAskedLast = false;
  #closed = false;

  constructor(opts: RedisTokenBucketOptions) {
    super({ rate: opts.rate });
    this.#redis = opts.redis;
    this.#key = opts.key;
    this.#adaptive = opts.adaptive ?? false;
    this.#horizon = opts.horizonMs ?? 100;
    this.#batch = Math.max(1, opts.batch ?? Math.ceil((opts.rate * this.#horizon) / 1000));
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
    const paused = Date.now() < this.#pausedUntil;
    return {
      granted: this.#granted,
      pauses: this.#pauses,
      rate: this.#rateNow,
      waiting: this.waiting,
      paused,
      rateLimited: this.#rateLimited,
      pausedUntil: paused ? this.#pausedUntil : undefined,
      pausedByServer: paused && this.#serverAskedLast,
      serverAskedMs: undefined,
    };
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
    this.#rateLimited++;
    this.#serverAskedLast = typeof retryAfterMs === 'number';
    // A Retry-After is capped as in the local bucket (issue 15: `Retry-After: 3600` must not stop every host for an hour).
    const ms = typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs >= 0 ? Math.min(Math.round(retryAfterMs), MAX_SERVER_PAUSE_MS) : -1;
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

  /** A reserved slot is due: hand it to the oldest live waiter (none left: the slot goes unused). */
  #fire(): void {
    this.#scheduled--;
    for (;;) {
      const w = this.#queue.shift();
      if (!w) break;
      if (!w.live) continue;
      w.live = false;
      this.#granted++;
      w.grant();
      break;
    }
    void this.#pump();
  }

  async #pump(): Promise<void> {
    if (this.#pumping || this.#closed) return;
    this.#pumping = true;
    try {
      for (;;) {
        this.#queue = this.#queue.filter((w) => w.live);
        const want = Math.min(this.#queue.length - this.#scheduled, this.#batch);
        if (want <= 0) return;
        let granted = 0;
        let waitMs: number;
        try {
          const okSeen = this.#okSeen;
          this.#okSeen = false;
          const r = await (this.#redis as unknown as { tickpipeTake(k: string, ...a: unknown[]): Promise<Array<number | string>> }).tickpipeTake(
            this.#key,
            want,
            this.rate,
            this.#horizon,
            this.#adaptive ? '1' : '0',
            this.rate * 0.01,
            okSeen ? '1' : '0',
          );
          granted = Number(r[0]);
          waitMs = Number(r[1]);
          this.#rateNow = Number(r[2]);
          for (let i = 0; i < granted; i++) {
            this.#scheduled++;
            const delay = Math.max(0, Number(r[3 + i]));
            if (delay < 0.5) this.#fire();
            else setTimeout(() => this.#fire(), delay);
          }
        } catch (err) {
          this.#onError(err);
          waitMs = 500;
        }
        if (this.#closed) return;
        if (granted < want) await new Promise<void>((r) => (this.#timer = setTimeout(r, Math.min(Math.max(1, waitMs), 1000))));
      }
    } finally {
      this.#pumping = false;
    }
  }
}
