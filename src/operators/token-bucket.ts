import { Observable, asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import { AbortedError } from '../errors.js';

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

/**
 * Options of {@link TokenBucket}, validated by the constructor (a bad value throws a TypeError showing it).
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
   * @default (n) => Math.min(30_000, 1_000 * 2 ** (n - 1)); with `adaptive`, 250 ms instead of
   * 1 s to start with, since lowering the rate already relieves the server
   
   */
  readonly pauseOnRateLimitMs?: number | ((consecutive: number) => number);
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
}

interface Waiter {
  state: 0 | 1 | 2; // 0 waiting, 1 granted, 2 cancelled
  readonly grant: () => void;
}

function describe(v: unknown): string {
  let shown: string;
  try {
    shown = typeof v === 'function' ? '[function]' : typeof v === 'bigint' ? `${v}n` : JSON.stringify(v) ?? String(v);
  } catch {
    shown = String(v);
  }
  return `\`${shown}\` (${typeof v})`;
}

function positive(name: string, v: unknown, allowZero = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (allowZero ? v < 0 : v <= 0)) {
    throw new TypeError(`TokenBucket: expected \`${name}\` to be a finite number ${allowZero ? '>= 0' : '> 0'}, got ${describe(v)}`);
  }
  return v;
}

const defaultPause = (n: number): number => Math.min(30_000, 1_000 * 2 ** Math.max(0, n - 1));
const adaptivePause = (n: number): number => Math.min(30_000, 250 * 2 ** Math.max(0, n - 1));

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
export class TokenBucket {
  readonly rate: number;
  readonly burst: number;
  readonly scheduler: SchedulerLike;
  readonly adaptive: Readonly<Required<AdaptiveOptions>> | undefined;
  readonly pauseOnRateLimitMs: number | ((consecutive: number) => number);

  private tokens: number;
  private lastRefill: number;
  private rateNow: number;
  private lastIncrease: number;
  private pausedUntil = -Infinity;
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
      throw new TypeError(`TokenBucket: expected an options object, got ${describe(options)}`);
    }
    this.rate = positive('rate', options.rate);
    const burst = options.burst ?? Math.max(1, Math.ceil(this.rate * 0.1));
    positive('burst', burst);
    if (burst < 1) throw new TypeError(`TokenBucket: expected \`burst\` to be >= 1, got ${describe(burst)}`);
    this.burst = burst;
    const scheduler = options.scheduler ?? asyncScheduler;
    if (typeof scheduler !== 'object' || typeof scheduler.now !== 'function' || typeof scheduler.schedule !== 'function') {
      throw new TypeError(`TokenBucket: expected \`scheduler\` to be an RxJS SchedulerLike, got ${describe(scheduler)}`);
    }
    this.scheduler = scheduler;

    const a = options.adaptive;
    if (a === undefined || a === false) {
      this.adaptive = undefined;
    } else if (a === true || (typeof a === 'object' && a !== null)) {
      const o: AdaptiveOptions = a === true ? {} : a;
      const decrease = o.decrease ?? 0.85;
      if (typeof decrease !== 'number' || !(decrease > 0 && decrease < 1)) {
        throw new TypeError(`TokenBucket: expected \`adaptive.decrease\` to be a number in (0, 1), got ${describe(decrease)}`);
      }
      const increaseStep = positive('adaptive.increaseStep', o.increaseStep ?? this.rate * 0.01);
      const minRate = positive('adaptive.minRate', o.minRate ?? this.rate * 0.05);
      if (minRate > this.rate) {
        throw new TypeError(`TokenBucket: expected \`adaptive.minRate\` to be <= rate (${this.rate}), got ${describe(minRate)}`);
      }
      this.adaptive = Object.freeze({ decrease, increaseStep, minRate });
    } else {
      throw new TypeError(`TokenBucket: expected \`adaptive\` to be a boolean or an object, got ${describe(a)}`);
    }

    const p = options.pauseOnRateLimitMs ?? (this.adaptive ? adaptivePause : defaultPause);
    if (typeof p !== 'function') positive('pauseOnRateLimitMs', p, true);
    this.pauseOnRateLimitMs = p;

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
    };
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
      };
      this.queue.push(w);
      this.live++;
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
   * The server answered 429: pause all dispatch for `retryAfterMs` (or the exponential
   * `pauseOnRateLimitMs`), and in adaptive mode lower the rate. 429s arriving while already paused
   * belong to the same window (requests already in flight when it began) and count once.
   */
  onRateLimited(retryAfterMs?: number): void {
    if (retryAfterMs !== undefined && !(typeof retryAfterMs === 'number' && retryAfterMs >= 0 && Number.isFinite(retryAfterMs))) {
      retryAfterMs = undefined;
    }
    const now = this.scheduler.now();
    this.refill(now);
    const sameWindow = now < this.pausedUntil;
    if (!sameWindow) {
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
    if (until > this.pausedUntil) this.pausedUntil = until;
    // Whatever accrued was evidently too much for the server: restart from empty after the pause.
    this.tokens = 0;
    this.lastRefill = Math.max(now, this.pausedUntil);
    this.lastIncrease = this.lastRefill;
    this.rearm(true);
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
        const w = this.dequeueLive();
        if (!w) break;
        this.tokens -= 1;
        this.grantedCount++;
        w.state = 1;
        this.live--;
        w.grant();
      }
    } finally {
      this.draining = false;
    }
    this.rearm(false);
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

  private disarm(): void {
    this.wake?.unsubscribe();
    this.wake = undefined;
    this.wakeDue = Infinity;
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
      due = now + Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.rateNow));
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
