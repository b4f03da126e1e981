import type { Redis } from 'ioredis';
import { Observable } from 'rxjs';
import { ADAPTIVE_DEFAULTS, ADAPTIVE_HOLD_MS, NO_REPORT, RATE_LIMIT_BACKOFF, TokenBucket, type RateLimiter, type SendReport, type TokenBucketStats } from '../operators/token-bucket.js';

/**
 * Grants up to `want` requests on the cluster's one quota, to be sent at once, and records their
 * grant times. Two rules, as the one-process {@link TokenBucket} has them:
 * - GCRA pacing at the current (adaptive) rate with a burst tolerance of `burst` requests: the
 *   "theoretical arrival time" `tat` advances by 1/rate per grant and a grant needs
 *   `tat - now <= (burst - 1) / rate`; an idle bucket banks nothing beyond the burst;
 * - a sliding window: no `windowMs` span (1 s plus a guard for the jitter between the grant and the
 *   request reaching the server) holds more than `cap` grants, or in adaptive mode the whole part of
 *   the lowered rate when that is less (as the one-process bucket). The list KEYS[2] keeps the last
 *   `cap` grant times, newest first; a grant needs the `limit`-th newest to be `windowMs` old.
 * Nothing is reserved for later: a grant is for now, so a late timer on a host can only delay its
 * own request, never bunch it into the next second. `now` is Redis's clock (TIME: hosts with
 * skewed clocks share one timeline) unless ARGV[9] passes one (tests drive a virtual clock).
 * Returns {count, waitMs, rate}: waitMs is when asking again can succeed.
 * Adaptive recovery runs here too: while not paused, the rate climbs by step/s (5x below 95% of
 * the rate that drew the last 429), as the one-process TokenBucket does.
 */
const TAKE = `
local now
if ARGV[9] ~= '' then now = tonumber(ARGV[9]) else
  local t = redis.call('TIME'); now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000 end
local want = tonumber(ARGV[1]); local maxRate = tonumber(ARGV[2]); local burst = tonumber(ARGV[3])
local adaptive = ARGV[4] == '1'; local step = tonumber(ARGV[5]); local okSeen = ARGV[6] == '1'
local cap = tonumber(ARGV[7]); local windowMs = tonumber(ARGV[8])
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
local stamp = string.format('%.3f', now)
local interval = 1000 / rate
local tolerance = (burst - 1) * interval
local tat = math.max(tonumber(h[1]) or now, now)
local n = redis.call('LLEN', KEYS[2])
local limit = cap
if adaptive and rate < cap then limit = math.max(1, math.floor(rate)) end
local count = 0
local wait = 0
if now < paused then wait = paused - now end
while wait == 0 and count < want do
  if tat - now > tolerance then wait = tat - tolerance - now; break end
  if n >= limit then
    local oldest = tonumber(redis.call('LINDEX', KEYS[2], limit - 1))
    if now - oldest < windowMs then wait = oldest + windowMs - now; break end
  end
  redis.call('LPUSH', KEYS[2], stamp)
  n = n + 1
  if n > cap then redis.call('LTRIM', KEYS[2], 0, cap - 1); n = cap end
  tat = tat + interval
  count = count + 1
end
if dt > 0 or count > 0 then
  redis.call('HSET', KEYS[1], 'tat', string.format('%.3f', tat), 'ts', string.format('%.3f', math.max(now, ts)), 'rate', tostring(rate))
end
redis.call('PEXPIRE', KEYS[1], 86400000)
redis.call('PEXPIRE', KEYS[2], 86400000)
return {count, tostring(wait), tostring(rate), stamp}
`;

/**
 * Re-dates `count` grants stamped `ARGV[1]` whose process could not send them at once (its event
 * loop was busy when the reply came): they are removed from the window and granted again at `now`
 * as far as the window allows (KEYS[2] stays newest first: `now` is the newest time). A grant sent
 * late but recorded early would let the grants of the next second go out less than a second after
 * it. With ARGV[7] = '1' (forced) the requests have already left (undici wrote them late): all
 * `count` are re-dated whatever the window holds, since they count at the server whatever happens.
 * ARGV: stamp, count, cap, windowMs, now ('' = TIME), adaptive, forced. Returns {regranted, newStamp}.
 */
const REDATE = `
local now
if ARGV[5] ~= '' then now = tonumber(ARGV[5]) else
  local t = redis.call('TIME'); now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000 end
local count = tonumber(ARGV[2]); local cap = tonumber(ARGV[3]); local windowMs = tonumber(ARGV[4])
local limit = cap
if ARGV[6] == '1' then
  local rate = tonumber(redis.call('HGET', KEYS[1], 'rate'))
  if rate and rate < cap then limit = math.max(1, math.floor(rate)) end
end
for i = 1, count do redis.call('LREM', KEYS[2], 1, ARGV[1]) end
local stamp = string.format('%.3f', now)
local n = redis.call('LLEN', KEYS[2])
local added = 0
local forced = ARGV[7] == '1'
while added < count do
  if n >= limit and not forced then
    local oldest = tonumber(redis.call('LINDEX', KEYS[2], limit - 1))
    if now - oldest < windowMs then break end
  end
  redis.call('LPUSH', KEYS[2], stamp)
  n = n + 1
  if n > cap then redis.call('LTRIM', KEYS[2], 0, cap - 1); n = cap end
  added = added + 1
end
return {added, stamp}
`;

/**
 * A 429 somewhere: every host pauses until Redis's clock passes `paused`, with the one-process
 * TokenBucket's rules: 429s while paused, or in adaptive mode within `holdMs` of the one that
 * opened the window (requests already in flight at the old rate), join that window; a new window
 * counts one more in the run of 429 windows (reset by a success: TAKE's okSeen) and, adaptive,
 * lowers the shared rate. The pause is Retry-After when given, else one token's interval for the
 * first window of a run and backoffBaseMs × 2^(n−2) (at most backoffMaxMs) for the n-th.
 * ARGV: retryAfterMs (-1 = none), adaptive, decrease, minRate, holdMs, maxRate, now ('' = TIME),
 * backoffBaseMs, backoffMaxMs. Returns the pause left, ms.
 */
const RATE_LIMITED = `
local now
if ARGV[7] ~= '' then now = tonumber(ARGV[7]) else
  local t = redis.call('TIME'); now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000 end
local adaptive = ARGV[2] == '1'
local maxRate = tonumber(ARGV[6])
local h = redis.call('HMGET', KEYS[1], 'rate', 'paused', 'consecutive', 'wstart')
local rate = tonumber(h[1]) or maxRate
local paused = tonumber(h[2]) or 0
local consecutive = tonumber(h[3]) or 0
local wstart = tonumber(h[4])
local same = now < paused or (adaptive and wstart ~= nil and now - wstart < tonumber(ARGV[5]))
if not same then
  consecutive = consecutive + 1
  wstart = now
  if adaptive then
    redis.call('HSET', KEYS[1], 'ceiling', tostring(rate))
    rate = math.max(tonumber(ARGV[4]), rate * tonumber(ARGV[3]))
  end
end
if consecutive < 1 then consecutive = 1 end
local delay = tonumber(ARGV[1])
if delay < 0 then
  if consecutive <= 1 then delay = 1000 / maxRate else delay = tonumber(ARGV[8]) * 2 ^ (consecutive - 2) end
  delay = math.min(tonumber(ARGV[9]), delay)
end
local untilMs = now + delay
if untilMs > paused then
  paused = untilMs
  redis.call('HSET', KEYS[1], 'tat', string.format('%.3f', paused), 'ts', string.format('%.3f', paused))
end
redis.call('HSET', KEYS[1], 'rate', tostring(rate), 'paused', string.format('%.3f', paused), 'consecutive', consecutive, 'wstart', string.format('%.3f', wstart))
redis.call('PEXPIRE', KEYS[1], 86400000)
return tostring(paused - now)
`;

const defined = new WeakSet<Redis>();
function defineScripts(redis: Redis): void {
  if (defined.has(redis)) return;
  redis.defineCommand('tickpipeTake', { numberOfKeys: 2, lua: TAKE });
  redis.defineCommand('tickpipeRateLimited', { numberOfKeys: 1, lua: RATE_LIMITED });
  redis.defineCommand('tickpipeRedate', { numberOfKeys: 2, lua: REDATE });
  defined.add(redis);
}

/** What the {@link TAKE} script needs to know about the shared bucket (the same on every host). */
export interface SharedBucketSpec {
  /** Hash key; the grant times live in `${key}:grants`. */
  readonly key: string;
  /** Combined rate, requests/s (the adaptive rate never exceeds it). */
  readonly rate: number;
  /** Grants allowed at once after a lull. */
  readonly burst: number;
  /** Most grants in any sliding `windowMs`. */
  readonly maxPerSecond: number;
  /** 1000 ms plus the guard. */
  readonly windowMs: number;
  readonly adaptive: boolean;
}

/**
 * One atomic round trip on the shared bucket: how many of `want` requests may go now (`granted`),
 * and, if not all, how long until asking again can succeed (`waitMs`). `now` (ms) replaces Redis's
 * clock, for tests that drive a virtual one.
 * @example const { granted, waitMs } = await takeSharedGrants(redis, spec, 3);
 */
export async function takeSharedGrants(
  redis: Redis,
  spec: SharedBucketSpec,
  want: number,
  opts: { readonly now?: number; readonly okSeen?: boolean } = {},
): Promise<{ granted: number; waitMs: number; rate: number; stamp: string }> {
  defineScripts(redis);
  const r = await (redis as unknown as { tickpipeTake(k: string, g: string, ...a: unknown[]): Promise<Array<number | string>> }).tickpipeTake(
    spec.key,
    `${spec.key}:grants`,
    want,
    spec.rate,
    spec.burst,
    spec.adaptive ? '1' : '0',
    spec.rate * ADAPTIVE_DEFAULTS.increaseShare,
    opts.okSeen ? '1' : '0',
    spec.maxPerSecond,
    spec.windowMs,
    opts.now !== undefined ? String(opts.now) : '',
  );
  return { granted: Number(r[0]), waitMs: Number(r[1]), rate: Number(r[2]), stamp: String(r[3]) };
}

/**
 * Re-dates `count` grants stamped `stamp` to now (see {@link REDATE}): how many of them still fit
 * the window (the rest are given back), and their new stamp.
 */
export async function redateSharedGrants(
  redis: Redis,
  spec: SharedBucketSpec,
  stamp: string,
  count: number,
  opts: { readonly now?: number; readonly forced?: boolean } = {},
): Promise<{ granted: number; stamp: string }> {
  defineScripts(redis);
  const r = await (redis as unknown as { tickpipeRedate(k: string, g: string, ...a: unknown[]): Promise<Array<number | string>> }).tickpipeRedate(
    spec.key,
    `${spec.key}:grants`,
    stamp,
    count,
    spec.maxPerSecond,
    spec.windowMs,
    opts.now !== undefined ? String(opts.now) : '',
    spec.adaptive ? '1' : '0',
    opts.forced ? '1' : '0',
  );
  return { granted: Number(r[0]), stamp: String(r[1]) };
}

/**
 * Reports a 429 on the shared bucket (see {@link RATE_LIMITED}): every host pauses for the returned
 * ms. `retryAfterMs` is the server's Retry-After, already capped; undefined when it sent none.
 */
export async function reportSharedRateLimited(
  redis: Redis,
  spec: SharedBucketSpec,
  retryAfterMs: number | undefined,
  opts: { readonly now?: number } = {},
): Promise<number> {
  defineScripts(redis);
  const r = await (redis as unknown as { tickpipeRateLimited(k: string, ...a: unknown[]): Promise<string> }).tickpipeRateLimited(
    spec.key,
    retryAfterMs ?? -1,
    spec.adaptive ? '1' : '0',
    ADAPTIVE_DEFAULTS.decrease,
    spec.rate * ADAPTIVE_DEFAULTS.minRateShare,
    ADAPTIVE_HOLD_MS,
    spec.rate,
    opts.now !== undefined ? String(opts.now) : '',
    RATE_LIMIT_BACKOFF.baseMs,
    RATE_LIMIT_BACKOFF.maxMs,
  );
  return Number(r);
}

/** Options of {@link RedisTokenBucket}. */
export interface RedisTokenBucketOptions {
  /** Connection (not shared with BullMQ's blocking connections). */
  readonly redis: Redis;
  /** Hash key of the shared bucket (one per run); the grant times live in `${key}:grants`. */
  readonly key: string;
  /** Combined rate of every host, requests/s. */
  readonly rate: number;
  /** Lower the shared rate on 429 (AIMD), as TokenBucket's `adaptive` does. @default false */
  readonly adaptive?: boolean;
  /**
   * Most requests granted at once after a lull (and so the most one round trip takes for this
   * process). @default max(1, ceil(rate * 0.1)), the local bucket's burst
   */
  readonly burst?: number;
  /**
   * The most grants in any sliding `1000 + windowGuardMs` ms, across every host: what a server
   * that counts requests over the last second admits. @default max(1, floor(rate))
   */
  readonly maxPerSecond?: number;
  /**
   * Added to the 1-second window so that requests reaching the server a few ms unevenly (Redis
   * round trip, event-loop delay on either side) still fall into distinct seconds. Costs about
   * `windowGuardMs / 1000` of the rate. @default 20
   */
  readonly windowGuardMs?: number;
  /** Clock passed to the scripts (ms); tests drive a virtual one. @default Redis's own TIME */
  readonly now?: () => number;
  /** Errors talking to Redis (the bucket keeps retrying; requests wait meanwhile). */
  readonly onError?: (err: unknown) => void;
}

interface Waiter {
  live: boolean;
  readonly grant: () => void;
}

/** Longest pause one 429's Retry-After imposes on every host (the local bucket's default `maxServerPauseMs`). */
const MAX_SERVER_PAUSE_MS = 60_000;

/**
 * Default guard added to the 1-second window: twice the local bucket's 10 ms, since a cluster's
 * requests leave from several processes (each with its own event-loop delay) and a grant goes
 * through Redis first. Costs ~2% of the quota.
 */
const DEFAULT_GUARD_MS = 20;

/**
 * The cluster's one quota: every request of every host draws from one bucket kept in Redis,
 * through an atomic Lua script ({@link TAKE}), as many grants per round trip as requests wait here
 * (up to `burst`, so no host sits on tokens). Like the local {@link TokenBucket} it paces at the
 * rate with a small burst and never lets more than `maxPerSecond` requests into any sliding second
 * (plus `windowGuardMs`), counted across all hosts. A 429 anywhere pauses every host (the pause
 * lives in the same hash) and, with `adaptive`, lowers the rate for all.
 *
 * It is a {@link TokenBucket} to the client and the operators (same `acquire`, `take`,
 * `onRateLimited`, `onSuccess`, `currentRate`, `stats`); the inherited local state is unused.
 *
 * @example
 * const bucket = new RedisTokenBucket({ redis, key: 'tickpipe:run1:bucket', rate: 25 });
 * await bucket.take(); // one request may go now, whichever host asks
 */
export class RedisTokenBucket extends TokenBucket implements RateLimiter {
  readonly #redis: Redis;
  readonly #key: string;
  readonly #adaptive: boolean;
  readonly #burst: number;
  readonly #spec: SharedBucketSpec;
  readonly #now: (() => number) | undefined;
  readonly #lateMs: number;
  #redated = 0;
  /** Requests undici wrote late, re-dated in Redis after they left ({@link trackSend}). */
  #sentLate = 0;
  /** The grant just handed to a waiter (its Redis stamp, when), for the trackSend that follows it synchronously. */
  #lastGrant: { readonly stamp: string; readonly at: number } | undefined;
  #live = 0;
  #waitingFrom = 0;
  readonly #busy: Array<[number, number]> = [];
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
    this.#burst = Math.max(1, Math.floor(opts.burst ?? Math.ceil(opts.rate * 0.1)));
    this.#spec = {
      key: opts.key,
      rate: opts.rate,
      burst: this.#burst,
      maxPerSecond: Math.max(1, Math.floor(opts.maxPerSecond ?? opts.rate)),
      windowMs: 1000 + (opts.windowGuardMs ?? DEFAULT_GUARD_MS),
      adaptive: this.#adaptive,
    };
    this.#now = opts.now;
    this.#lateMs = (this.#spec.windowMs - 1000) / 2;
    this.#waitingFrom = Date.now();
    this.#onError = opts.onError ?? (() => undefined);
    this.#rateNow = opts.rate;
    defineScripts(this.#redis);
  }

  override get currentRate(): number {
    return this.#rateNow;
  }

  /** Grants re-dated because this process handled Redis's reply late (see {@link REDATE}). */
  get redated(): number {
    return this.#redated;
  }

  /** Requests undici wrote more than `windowGuardMs / 2` after their grant, re-dated in Redis when they left. */
  get sentLate(): number {
    return this.#sentLate;
  }

  /**
   * Spans (epoch ms, at least a second long) during which requests of this process waited for the
   * shared quota without a break: then the quota, not this host's CPU or its work, set the pace.
   * The three-host test compares the server's counters with the quota over these spans only.
   */
  get quotaBoundSpans(): ReadonlyArray<readonly [number, number]> {
    return this.#live > 0 && Date.now() - this.#waitingFrom >= 1000 ? [...this.#busy, [this.#waitingFrom, Date.now()]] : [...this.#busy];
  }

  #demandChanged(delta: 1 | -1): void {
    const before = this.#live;
    this.#live += delta;
    if (before === 0 && this.#live > 0) this.#waitingFrom = Date.now();
    else if (before > 0 && this.#live === 0 && Date.now() - this.#waitingFrom >= 1000) {
      this.#busy.push([this.#waitingFrom, Date.now()]);
      if (this.#busy.length > 1000) this.#busy.shift();
    }
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

  /**
   * A grant whose request undici writes more than `windowGuardMs / 2` after this process was
   * granted it (a new connection, a busy event loop) is re-dated in Redis to when it left, forced
   * (it counts at the server whatever the window holds), so the grants of the next second on every
   * host wait for it. Nothing to do for one never sent: its grant only cost quota.
   */
  override trackSend(): SendReport {
    const g = this.#lastGrant;
    if (!g) return NO_REPORT;
    this.#lastGrant = undefined;
    let open = true;
    return {
      sent: () => {
        if (!open) return;
        open = false;
        if (performance.now() - g.at <= this.#lateMs) return;
        this.#sentLate++;
        redateSharedGrants(this.#redis, this.#spec, g.stamp, 1, { forced: true, ...(this.#now ? { now: this.#now() } : {}) }).catch(this.#onError);
      },
      unsent: () => {
        open = false;
      },
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
      this.#demandChanged(1);
      void this.#pump();
      return () => {
        if (w.live) this.#demandChanged(-1);
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
    reportSharedRateLimited(this.#redis, this.#spec, ms < 0 ? undefined : ms, this.#now ? { now: this.#now() } : {})
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

  /** A grant stamped `stamp` by Redis: to the oldest live waiter (none left: the grant goes unused). */
  #grantOne(stamp: string): void {
    for (;;) {
      const w = this.#queue.shift();
      if (!w) return;
      if (!w.live) continue;
      w.live = false;
      this.#demandChanged(-1);
      this.#granted++;
      this.#lastGrant = { stamp, at: performance.now() };
      w.grant();
      this.#lastGrant = undefined;
      return;
    }
  }

  /**
   * How many requests may go now, and when to ask again if not all. A reply this process handled
   * more than `windowGuardMs / 2` after asking is re-dated first (the grants would otherwise leave
   * later than Redis recorded them); a few tries, then the grants are given back.
   */
  async #take(want: number): Promise<{ granted: number; waitMs: number; stamp: string }> {
    const okSeen = this.#okSeen;
    this.#okSeen = false;
    const clock = () => (this.#now ? { now: this.#now() } : {});
    let asked = performance.now();
    const r = await takeSharedGrants(this.#redis, this.#spec, want, { okSeen, ...clock() });
    this.#rateNow = r.rate;
    let { granted, stamp } = r;
    for (let tries = 0; granted > 0 && performance.now() - asked > this.#lateMs; tries++) {
      // Unsent grants left in the window only cost quota, never exceed it.
      if (tries === 3) granted = 0;
      else {
        this.#redated += granted;
        asked = performance.now();
        ({ granted, stamp } = await redateSharedGrants(this.#redis, this.#spec, stamp, granted, clock()));
      }
    }
    return { granted, waitMs: granted < want ? Math.max(1, r.waitMs) : 0, stamp };
  }

  async #pump(): Promise<void> {
    if (this.#pumping || this.#closed) return;
    this.#pumping = true;
    try {
      for (;;) {
        this.#queue = this.#queue.filter((w) => w.live);
        const want = Math.min(this.#queue.length, this.#burst);
        if (want <= 0) return;
        let granted = 0;
        let waitMs: number;
        try {
          let stamp: string;
          ({ granted, waitMs, stamp } = await this.#take(want));
          for (let i = 0; i < granted; i++) this.#grantOne(stamp);
        } catch (err) {
          this.#onError(err);
          waitMs = 500;
        }
        if (this.#closed) return;
        if (granted < want) await new Promise<void>((r) => (this.#timer = setTimeout(r, Math.min(Math.max(1, Math.ceil(waitMs)), 1000))));
      }
    } finally {
      this.#pumping = false;
    }
  }
}
