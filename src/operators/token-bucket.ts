import { Observable, asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import { AbortedError } from '../errors.js';
import { finiteNumber, optionError } from '../options.js';

/** AIMD settings of an adaptive {@link TokenBucket}. */
export interface AdaptiveOptions {
  /**
   * Factor applied to the current rate on a 429 (once per pause window). The rate at which the 429
   * came is remembered as the server's ceiling: recovery is `increaseStep * 5` up to 95% of it,
   * then `increaseStep` while probing above it, so the rate spends its time just under the quota
   * instead of sawing between half and all of it.
   * @default 0.85
   */
  readonly decrease?: number;
  /**
   * Additive recovery, in tokens/s gained per second of successful traffic, near the ceiling.
   * @default rate * 0.01
   */
  readonly increaseStep?: number;
  /**
   * The rate never drops below this.
   * @default rate * 0.05
   */
  readonly minRate?: number;
}

/** The defaults of {@link AdaptiveOptions} (shares are of the configured rate); the shared Redis bucket uses them too. */
export const ADAPTIVE_DEFAULTS = { decrease: 0.85, increaseShare: 0.01, minRateShare: 0.05 } as const;

/**
 * Options of {@link TokenBucket}, validated by the constructor (a bad value throws an InputError, code E_INPUT, showing it).
 * @example new TokenBucket({ rate: 100, burst: 10, adaptive: { decrease: 0.5 } })
 */
export interface TokenBucketOptions {
  /** Sustained rate in tokens (requests) per second. Required, > 0. */
  readonly rate: number;
  /**
   * Capacity: the most tokens that can be spent at once. Releasing ~100 ms worth per wake-up is what
   * lets the bucket keep its rate although Node timers fire late.
   * @default Math.max(1, Math.ceil(rate * 0.1))
   */
  readonly burst?: number;
  /**
   * Scheduler of the single wake-up; marble tests pass a TestScheduler.
   * @default asyncScheduler
   */
  readonly scheduler?: SchedulerLike;
  /**
   * Lower the rate multiplicatively on 429 and recover it additively on success (AIMD).
   * `true` uses the {@link AdaptiveOptions} defaults.
   * @default false
   */
  readonly adaptive?: boolean | AdaptiveOptions;
  /**
   * Pause when a 429 carries no Retry-After: a fixed number of ms, or a function of the number of
   * consecutive rate-limit windows (1, 2, …).
   * @default a lone 429 (n = 1) waits one token's interval (`1000 / rate` ms: the server counted
   * one request more than we did, and its window frees a place about that much later); a run of
   * them 100 ms, 200 ms, … (`100 * 2 ** (n - 2)`), at most 30 s. After any pause the bucket
   * restarts with one token: the first request goes when the pause ends. The same with `adaptive`,
   * where 429s within 250 ms of the one that lowered the rate join its window (they answer
   * requests sent at the old rate) instead of lowering it again.
   */
  readonly pauseOnRateLimitMs?: number | ((consecutive: number) => number);
  /**
   * The most tokens granted in any sliding window of `1000 + windowGuardMs` ms: what a server that
   * counts requests over the last second admits. The burst above then only absorbs late timers and
   * never lets `rate + burst` requests into one second. With `--partition i/N` each process runs at
   * rate / N, so the halves' caps add up to the quota. `false` lifts the cap (bursts beyond the
   * rate, the pre-0.2 behaviour, as an explicit opt-in).
   * @default Math.max(1, Math.floor(rate))
   */
  readonly maxPerSecond?: number | false;
  /**
   * Added to the 1-second window of `maxPerSecond`, so that requests arriving at the server a few
   * ms unevenly (network, event-loop delay) still fall into distinct seconds. Costs about
   * `windowGuardMs / 1000` of the rate.
   * @default 10
   */
  readonly windowGuardMs?: number;
  /**
   * Longest pause a 429's `Retry-After` can impose; longer values are cut to this (the requests are
   * retried then, and a server still refusing answers 429 again). `Retry-After: 3600` would otherwise
   * stop a run for an hour.
   * @default 60_000
   */
  readonly maxServerPauseMs?: number;
}

/** A snapshot of a {@link TokenBucket} (`bucket.stats()`). */
export interface TokenBucketStats {
  /** Tokens handed out since creation. */
  readonly granted: number;
  /** Rate-limit pause windows entered (a burst of 429s inside one window counts once). */
  readonly pauses: number;
  /** Current rate in tokens/s (below the configured rate while adaptive mode backs off). */
  readonly rate: number;
  /** Live waiters. */
  readonly waiting: number;
  /** Whether dispatch is paused right now. */
  readonly paused: boolean;
  /** 429s reported through {@link TokenBucket.onRateLimited}. */
  readonly rateLimited: number;
  /**
   * When the current pause ends, in scheduler time (epoch ms with the default scheduler), while
   * paused; undefined otherwise.
   */
  readonly pausedUntil: number | undefined;
  /** Whether the current pause is the server's (a Retry-After), not tickpipe's own backoff. */
  readonly pausedByServer: boolean;
  /** The Retry-After the server asked for when it was longer than `maxServerPauseMs` (ms), else undefined. */
  readonly serverAskedMs: number | undefined;
}

/**
 * What the HTTP client and the `rateLimit` operator need of a rate limiter: a token per request,
 * and the server's answers fed back. {@link TokenBucket} (one process) and the cluster's
 * `RedisTokenBucket` (every host) both implement it.
 */
export interface RateLimiter {
  /** Emits once and completes when a request may go; unsubscribing gives up the place in the queue. */
  acquire(): Observable<void>;
  /** A request succeeded (ends a run of 429s; adaptive limiters recover their rate). */
  onSuccess(): void;
  /** The server answered 429, asking for `retryAfterMs` (the limiter caps it) or saying nothing. */
  onRateLimited(retryAfterMs?: number): void;
  /** The Retry-After (ms) the limiter will honour for a server asking `retryAfterMs`. */
  capRetryAfter(retryAfterMs: number | undefined): number | undefined;
  /**
   * Optional. Called synchronously when a token was just granted, by a caller that will say when
   * that request actually leaves ({@link SendReport.sent}) or that it never will
   * ({@link SendReport.unsent}); the limiter then also counts its sliding window by those times.
   * Undefined where the limiter does not use it.
   */
  trackSend?(): SendReport;
}

/** What a caller of {@link RateLimiter.trackSend} reports about one granted request (each at most once; later calls do nothing). */
export interface SendReport {
  /** The request's first byte is being written now. */
  readonly sent: () => void;
  /** The request will not be sent (failed or cancelled before it was written). */
  readonly unsent: () => void;
}

interface Waiter {
  state: 0 | 1 | 2; // 0 waiting, 1 granted, 2 cancelled
  readonly grant: () => void;
  readonly drop: (err: Error) => void;
}

function positive(name: string, v: unknown, allowZero = false): number {
  return finiteNumber('TokenBucket', name, v, 0, allowZero);
}

/** The report of a limiter with nothing to track (the one-process bucket without a window cap, the cluster's bucket for a request it does not track). */
export const NO_REPORT: SendReport = Object.freeze({ sent: () => {}, unsent: () => {} });

/** How runs of 429 windows back off (the one-process bucket and the shared Redis bucket). */
export const RATE_LIMIT_BACKOFF = {
  /** The pause of the second 429 window in a row; it doubles with each further one. */
  baseMs: 100,
  /** The longest pause a run of 429 windows reaches (without Retry-After). */
  maxMs: 30_000,
} as const;

/**
 * A lone 429 (the server counted one request more than we did, e.g. two requests that left a
 * second apart arrived closer together) costs one token's interval and the request is retried;
 * only a run of 429 windows backs off further. Measured against a strict sliding-second server
 * (benchmark 9, quiet): a 100 ms pause for every lone 429 cost 7–15% of the quota, one interval
 * 3–5% (see BENCHMARKS.md).
 * The shared Redis bucket's Lua script computes the same pauses.
 */
export const defaultPause = (rate: number) => (n: number): number =>
  Math.min(RATE_LIMIT_BACKOFF.maxMs, n <= 1 ? 1000 / rate : RATE_LIMIT_BACKOFF.baseMs * 2 ** (n - 2));

/**
 * Adaptive mode: 429s within this many ms of the one that lowered the rate answer requests already
 * in flight at the old rate (a round trip or two), so they join its window instead of lowering the
 * rate again. This used to be done by pausing 250 ms per 429 window, which cost 5–10% of a strict
 * server's quota (benchmark 9); the hold costs nothing.
 */
export const ADAPTIVE_HOLD_MS = 250;

/**
 * The one token bucket shared by every request of a process: a request is sent only while it holds
 * a token.
 *
 * All waiting is driven by a single scheduled wake-up for the whole bucket, never by a timer per
 * waiter. Timers fire late, so each wake hands every token accrued since the previous wake (capped
 * at `burst`) to the FIFO queue; over any window of length t at most `burst + rate * t` tokens are
 * granted.
 *
 * @example
 * const bucket = new TokenBucket({ rate: 50, adaptive: true });
 * urls$.pipe(rateLimit(bucket), mergeMap(fetchOne, 32));
 */
export class TokenBucket implements RateLimiter {
  readonly rate: number;
  readonly burst: number;
  readonly scheduler: SchedulerLike;
  readonly adaptive: Readonly<Required<AdaptiveOptions>> | undefined;
  readonly pauseOnRateLimitMs: number | ((consecutive: number) => number);
  readonly maxPerSecond: number | false;
  readonly windowMs: number;
  readonly maxServerPauseMs: number;

  private tokens: number;
  /** Grant times of the last `maxPerSecond` grants (ring; -Infinity = none yet). */
  private readonly grants: Float64Array;
  private grantNext = 0;
  /**
   * Send times of the last `maxPerSecond` requests whose callers report sends ({@link trackSend}),
   * in the order they left (ring; -Infinity = none yet), and how many granted requests have not
   * reported yet. A request can leave later than its grant (a new connection, a busy event loop:
   * up to ~30 ms measured); counted by grant time, the request after it a second later could
   * reach the server less than a second after it, and a strict server refuses that one.
   */
  private readonly sends: Float64Array;
  private sendNext = 0;
  private unsent = 0;
  private rateLimitedCount = 0;
  private pauseByServer = false;
  private serverAsked: number | undefined;
  /** Graceful stop: waiters still waiting while a pause is in force are dropped (AbortedError). */
  private stopping = false;
  private lastRefill: number;
  private rateNow: number;
  private lastIncrease: number;
  private pausedUntil = -Infinity;
  /** When the current 429 window began (adaptive mode: see ADAPTIVE_HOLD_MS). */
  private windowStart = -Infinity;
  private consecutive = 0;
  /** Rate at which the server last answered 429 (adaptive mode). */
  private ceiling = Infinity;
  private grantedCount = 0;
  private pauseCount = 0;

  // FIFO as array + head index: shift() is O(n) on large queues; cancelled waiters are skipped lazily.
  private queue: Waiter[] = [];
  private head = 0;
  private live = 0;

  private wake: Subscription | undefined;
  private wakeDue = Infinity;
  private draining = false;

  constructor(options: TokenBucketOptions) {
    if (options === null || typeof options !== 'object') {
      throw optionError('TokenBucket', 'options', 'an options object', options);
    }
    this.rate = positive('rate', options.rate);
    const burst = options.burst ?? Math.max(1, Math.ceil(this.rate * 0.1));
    positive('burst', burst);
    if (burst < 1) throw optionError('TokenBucket', 'burst', `>= 1`, burst);
    this.burst = burst;
    const scheduler = options.scheduler ?? asyncScheduler;
    if (typeof scheduler !== 'object' || typeof scheduler.now !== 'function' || typeof scheduler.schedule !== 'function') {
      throw optionError('TokenBucket', 'scheduler', `an RxJS SchedulerLike`, scheduler);
    }
    this.scheduler = scheduler;

    const a = options.adaptive;
    if (a === undefined || a === false) {
      this.adaptive = undefined;
    } else if (a === true || (typeof a === 'object' && a !== null)) {
      const o: AdaptiveOptions = a === true ? {} : a;
      const decrease = o.decrease ?? ADAPTIVE_DEFAULTS.decrease;
      if (typeof decrease !== 'number' || !(decrease > 0 && decrease < 1)) {
        throw optionError('TokenBucket', 'adaptive.decrease', `a number in (0, 1)`, decrease);
      }
      const increaseStep = positive('adaptive.increaseStep', o.increaseStep ?? this.rate * ADAPTIVE_DEFAULTS.increaseShare);
      const minRate = positive('adaptive.minRate', o.minRate ?? this.rate * ADAPTIVE_DEFAULTS.minRateShare);
      if (minRate > this.rate) {
        throw optionError('TokenBucket', 'adaptive.minRate', `<= rate (${this.rate})`, minRate);
      }
      this.adaptive = Object.freeze({ decrease, increaseStep, minRate });
    } else {
      throw optionError('TokenBucket', 'adaptive', `a boolean or an object`, a);
    }

    const p = options.pauseOnRateLimitMs ?? defaultPause(this.rate);
    if (typeof p !== 'function') positive('pauseOnRateLimitMs', p, true);
    this.pauseOnRateLimitMs = p;

    const cap = options.maxPerSecond ?? Math.max(1, Math.floor(this.rate));
    if (cap !== false && (typeof cap !== 'number' || !Number.isInteger(cap) || cap < 1)) {
      throw optionError('TokenBucket', 'maxPerSecond', `a whole number >= 1 or false`, cap);
    }
    this.maxPerSecond = cap;
    this.windowMs = 1000 + positive('windowGuardMs', options.windowGuardMs ?? 10, true);
    this.grants = new Float64Array(cap === false ? 0 : cap).fill(-Infinity);
    this.sends = new Float64Array(cap === false ? 0 : cap).fill(-Infinity);
    this.maxServerPauseMs = positive('maxServerPauseMs', options.maxServerPauseMs ?? 60_000, true);

    this.tokens = this.burst;
    this.rateNow = this.rate;
    this.lastRefill = this.scheduler.now();
    this.lastIncrease = this.lastRefill;
  }

  /** Current rate in tokens/s. */
  get currentRate(): number {
    return this.rateNow;
  }

  /** Number of callers waiting for a token. */
  get waiting(): number {
    return this.live;
  }

  stats(): TokenBucketStats {
    return {
      granted: this.grantedCount,
      pauses: this.pauseCount,
      rate: this.rateNow,
      waiting: this.live,
      paused: this.scheduler.now() < this.pausedUntil,
      rateLimited: this.rateLimitedCount,
      pausedUntil: this.scheduler.now() < this.pausedUntil ? this.pausedUntil : undefined,
      pausedByServer: this.scheduler.now() < this.pausedUntil && this.pauseByServer,
      serverAskedMs: this.scheduler.now() < this.pausedUntil ? this.serverAsked : undefined,
    };
  }

  /**
   * Graceful stop: from now on, whoever waits for a token while dispatch is paused (a server's
   * Retry-After, a 429 backoff) gets an AbortedError at once instead of waiting the pause out, and
   * so does whoever asks for one during a later pause. Outside pauses tokens are still granted, so
   * requests already under way finish their window.
   */
  stopWaitingWhilePaused(): void {
    this.stopping = true;
    this.dropIfPaused();
  }

  private dropIfPaused(): void {
    if (!this.stopping || this.scheduler.now() >= this.pausedUntil) return;
    const err = new AbortedError('stopping: not waiting out the rate-limit pause');
    while (this.live > 0) {
      const w = this.dequeueLive();
      if (!w) break;
      w.state = 2;
      this.live--;
      w.drop(err);
    }
    this.disarm();
  }

  /**
   * Emits once and completes when a token is granted. Unsubscribing before that removes the
   * waiter without consuming a token. Waiters are served in subscription order.
   */
  acquire(): Observable<void> {
    return new Observable<void>((subscriber) => {
      const w: Waiter = {
        state: 0,
        grant: () => {
          subscriber.next();
          subscriber.complete();
        },
        drop: (err) => subscriber.error(err),
      };
      this.queue.push(w);
      this.live++;
      if (this.stopping) this.dropIfPaused();
      this.drain();
      return () => {
        if (w.state === 0) {
          w.state = 2;
          this.live--;
          if (this.live === 0) this.disarm();
        }
      };
    });
  }

  /**
   * The request granted just now will report when it leaves: until it does it counts as sent now
   * and later, and once sent it counts at its send time, so no sliding window holds more than
   * `maxPerSecond` requests by the time they left, whatever delayed them after their grant.
   * Without a window cap (`maxPerSecond: false`) there is nothing to track.
   */
  trackSend(): SendReport {
    if (this.sends.length === 0) return NO_REPORT;
    this.unsent++;
    let open = true;
    return {
      sent: () => {
        if (!open) return;
        open = false;
        this.unsent--;
        this.sends[this.sendNext] = this.scheduler.now();
        this.sendNext = (this.sendNext + 1) % this.sends.length;
        // Counted as sent before and after: no room freed, but the wake-up may now be a timer.
        this.rearm(false);
      },
      unsent: () => {
        if (!open) return;
        open = false;
        this.unsent--;
        this.drain();
      },
    };
  }

  /** Promise form of {@link acquire}; rejects with AbortedError if `signal` fires first. */
  take(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new AbortedError('token wait aborted', { cause: signal.reason }));
        return;
      }
      let sub: Subscription | undefined;
      let settled = false;
      const onAbort = (): void => {
        if (settled) return;
        settled = true;
        sub?.unsubscribe();
        reject(new AbortedError('token wait aborted', { cause: signal?.reason }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      sub = this.acquire().subscribe({
        error: (e: unknown) => {
          if (settled) return;
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
        complete: () => {
          if (settled) return;
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      });
    });
  }

  /**
   * The server answered 429: pause all dispatch for `retryAfterMs` (capped at `maxServerPauseMs`)
   * or the short, exponential `pauseOnRateLimitMs`, and in adaptive mode lower the rate. 429s
   * arriving while already paused belong to the same window (requests already in flight when it
   * began) and count once. The refused request itself is retried by the caller, with a new token.
   */
  onRateLimited(retryAfterMs?: number): void {
    if (retryAfterMs !== undefined && !(typeof retryAfterMs === 'number' && retryAfterMs >= 0 && Number.isFinite(retryAfterMs))) {
      retryAfterMs = undefined;
    }
    this.rateLimitedCount++;
    const asked = retryAfterMs;
    if (retryAfterMs !== undefined && retryAfterMs > this.maxServerPauseMs) retryAfterMs = this.maxServerPauseMs;
    const now = this.scheduler.now();
    this.refill(now);
    const sameWindow = now < this.pausedUntil || (this.adaptive !== undefined && now - this.windowStart < ADAPTIVE_HOLD_MS);
    if (!sameWindow) {
      this.windowStart = now;
      this.consecutive++;
      this.pauseCount++;
      if (this.adaptive) {
        this.ceiling = this.rateNow;
        this.rateNow = Math.max(this.adaptive.minRate, this.rateNow * this.adaptive.decrease);
      }
    }
    const p = this.pauseOnRateLimitMs;
    const delay = retryAfterMs ?? (typeof p === 'function' ? p(this.consecutive) : p);
    const until = now + Math.max(0, Number.isFinite(delay) ? delay : 0);
    if (until > this.pausedUntil) {
      this.pausedUntil = until;
      this.pauseByServer = retryAfterMs !== undefined;
      this.serverAsked = asked !== undefined && asked > this.maxServerPauseMs ? asked : undefined;
    }
    // Whatever accrued was evidently too much for the server: drop it, and restart with one token
    // when the pause ends (the refill clock set one interval before the end, never before now: no
    // token is made faster than the rate). The first request goes at the pause's end (Retry-After:
    // N s means "at N s", not one interval later), the next ones paced from there, so a lone 429
    // costs one interval of dispatch, not two (against a strict server, benchmark 9 busy, 0.5–0.9%
    // of requests draw one: each interval is ~0.5–0.9% of the quota).
    this.tokens = 0;
    this.lastIncrease = Math.max(now, this.pausedUntil);
    this.lastRefill = Math.max(now, this.lastIncrease - 1000 / this.rateNow);
    this.dropIfPaused();
    this.rearm(true);
  }

  /** Retry-After (ms) as the bucket will honour it: capped at `maxServerPauseMs`. */
  capRetryAfter(retryAfterMs: number | undefined): number | undefined {
    return retryAfterMs === undefined ? undefined : Math.min(retryAfterMs, this.maxServerPauseMs);
  }

  /** A request succeeded: ends the run of consecutive 429s; in adaptive mode recovers the rate. */
  onSuccess(): void {
    const now = this.scheduler.now();
    if (now >= this.pausedUntil) this.consecutive = 0;
    if (!this.adaptive || this.rateNow >= this.rate) return;
    const elapsed = now - this.lastIncrease;
    if (elapsed <= 0) return;
    this.refill(now);
    const step = this.rateNow < this.ceiling * 0.95 ? this.adaptive.increaseStep * 5 : this.adaptive.increaseStep;
    this.rateNow = Math.min(this.rate, this.rateNow + (step * elapsed) / 1000);
    this.lastIncrease = now;
    // A faster rate may need an earlier wake than the one armed.
    this.rearm(false);
  }

  private refill(now: number): void {
    const dt = now - this.lastRefill;
    if (dt <= 0) return;
    this.tokens = Math.min(this.burst, this.tokens + (dt * this.rateNow) / 1000);
    this.lastRefill = now;
  }

  private drain(): void {
    // Granting runs user code (concatMap subscribing the next acquire); re-entry only enqueues.
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.live > 0) {
        const now = this.scheduler.now();
        if (now < this.pausedUntil) break;
        this.refill(now);
        if (this.tokens < 1) break;
        if (this.windowFull(now)) break;
        const w = this.dequeueLive();
        if (!w) break;
        this.tokens -= 1;
        this.grantedCount++;
        if (this.grants.length > 0) {
          this.grants[this.grantNext] = now;
          this.grantNext = (this.grantNext + 1) % this.grants.length;
        }
        w.state = 1;
        this.live--;
        w.grant();
      }
    } finally {
      this.draining = false;
    }
    this.rearm(false);
  }

  /**
   * Whether granting now would put more than the window's cap ({@link windowCap}) grants into one
   * window, or (for requests that report sends) more than the cap of requests leaving in one.
   */
  private windowFull(now: number): boolean {
    if (this.grants.length === 0) return false;
    if (now - this.oldestInWindow() < this.windowMs) return true;
    const room = this.windowCap() - this.unsent;
    return room <= 0 || now - this.nthNewestSend(room) < this.windowMs;
  }

  /** Send time of the `k`-th newest reported send (k >= 1; -Infinity when there were fewer). */
  private nthNewestSend(k: number): number {
    const n = this.sends.length;
    return this.sends[(this.sendNext - k + n) % n]!;
  }

  /**
   * The most grants one window may hold: `maxPerSecond`, or in adaptive mode the whole part of the
   * current rate when that is lower. A server that refused us at 51/s counts over a sliding second
   * too; a cap left at the configured rate would let the burst carry 60 into that second.
   */
  private windowCap(): number {
    const n = this.grants.length;
    return this.adaptive && this.rateNow < n ? Math.max(1, Math.floor(this.rateNow)) : n;
  }

  /** Grant time of the `windowCap()`-th newest grant (-Infinity when there were fewer). */
  private oldestInWindow(): number {
    const n = this.grants.length;
    return this.grants[(this.grantNext - this.windowCap() + n) % n]!;
  }

  private dequeueLive(): Waiter | undefined {
    const q = this.queue;
    while (this.head < q.length) {
      const w = q[this.head]!;
      q[this.head] = undefined as unknown as Waiter;
      this.head++;
      if (w.state === 0) {
        if (this.head > 1024 && this.head * 2 > q.length) {
          this.queue = q.slice(this.head);
          this.head = 0;
        }
        return w;
      }
    }
    this.queue = [];
    this.head = 0;
    return undefined;
  }

  private cancelWake(): void {
    this.wake?.unsubscribe();
    this.wake = undefined;
    this.wakeDue = Infinity;
  }

  private disarm(): void {
    this.cancelWake();
    // Cancelled waiters leave holes; with nobody live the whole queue can go.
    if (this.live === 0) {
      this.queue = [];
      this.head = 0;
    }
  }

  /** Keeps exactly one wake-up armed while someone waits; `force` replaces a pending one. */
  private rearm(force: boolean): void {
    if (this.live === 0) {
      this.disarm();
      return;
    }
    const now = this.scheduler.now();
    let due: number;
    if (now < this.pausedUntil) {
      due = this.pausedUntil;
    } else {
      // ceil: waking a hair early would only re-arm; at least 1 ms so float dust can't spin.
      due = this.tokens >= 1 ? now : now + Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.rateNow));
      // The oldest grant of a full window must have left it, and so must the oldest send.
      if (this.grants.length > 0) {
        const room = this.windowCap() - this.unsent;
        if (room <= 0) {
          // Every place in the window is held by a request not sent yet: its sent/unsent re-arms.
          this.cancelWake();
          return;
        }
        due = Math.max(due, Math.ceil(this.oldestInWindow() + this.windowMs), Math.ceil(this.nthNewestSend(room) + this.windowMs));
      }
      if (due <= now) due = now + 1;
    }
    // Waking early is harmless (the wake re-arms), so keep an earlier pending wake-up.
    if (this.wake && !force && this.wakeDue <= due) return;
    if (this.wake && force && this.wakeDue === due) return;
    this.wake?.unsubscribe();
    this.wakeDue = due;
    this.wake = this.scheduler.schedule(() => {
      this.wake = undefined;
      this.wakeDue = Infinity;
      this.drain();
    }, Math.max(0, due - now));
  }
}
