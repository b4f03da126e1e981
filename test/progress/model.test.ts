import { map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import {
  activeMs,
  detectHeartbeat,
  ingestHeartbeat,
  initialProgress,
  parseHeartbeat,
  progressFigures,
  progressScan,
  rateValue,
  reduceProgress,
  startRate,
  stepRate,
  throttleAdvice,
  type ProgressEvent,
  type ProgressState,
} from '../../src/progress/index.js';

const T0 = Date.UTC(2026, 0, 5, 14, 0, 0);
const start = (total: number | null = 1000): ProgressState => initialProgress({ stage: 'ingest', at: T0, total, done: 0, configuredRate: 100 });
const fold = (s: ProgressState, events: ProgressEvent[]) => events.reduce(reduceProgress, s);
const tick = (at: number, ok = 0, rateLimited = 0): ProgressEvent => ({ kind: 'tick', at, requests: ok + rateLimited, ok, rateLimited, rate: 100 });
const items = (at: number, n: number): ProgressEvent[] => Array.from({ length: n }, () => ({ kind: 'item', at, part: '0', ok: true, last: 'X' }));

describe('smoothed rate (EWMA ~30 s)', () => {
  it('a steady rate reads as that rate from the first second on (bias-corrected)', () => {
    let r = startRate(0, 0);
    for (let s = 1; s <= 120; s++) {
      r = stepRate(r, s * 1000, s * 10);
      expect(rateValue(r)).toBeCloseTo(10, 9);
    }
  });

  it('a burst moves the rate a little, not the whole way (no 2 minute → 58 minute ETA jumps)', () => {
    let r = startRate(0, 0);
    for (let s = 1; s <= 60; s++) r = stepRate(r, s * 1000, s * 10);
    r = stepRate(r, 61_000, 600 + 0); // one second with nothing done
    const after = rateValue(r)!;
    expect(after).toBeGreaterThan(9.5); // a 1 s stall changes a 30 s average by ~3%
    expect(after).toBeLessThan(10);
  });
});

describe('pause', () => {
  it('is shown with its start, keeps paused time out of the rate, and has no ETA', () => {
    let s = start();
    for (let i = 1; i <= 30; i++) s = fold(s, [...items(T0 + i * 1000 - 1, 5), tick(T0 + i * 1000)]);
    const before = progressFigures(s);
    expect(before.itemsPerSec).toBeCloseTo(5, 6);
    s = reduceProgress(s, { kind: 'pause', at: T0 + 30_500, paused: true });
    for (let i = 31; i <= 90; i++) s = reduceProgress(s, tick(T0 + i * 1000));
    const paused = progressFigures(s);
    expect(paused.paused).toBe(true);
    expect(paused.pausedSince).toBe(T0 + 30_500);
    expect(paused.etaSec).toBeNull();
    expect(paused.pausedMs).toBe(59_500);
    // A minute of pause does not drag the rate down.
    expect(paused.itemsPerSec).toBeCloseTo(5, 6);
    s = reduceProgress(s, { kind: 'pause', at: T0 + 90_500, paused: false });
    for (let i = 91; i <= 95; i++) s = fold(s, [...items(T0 + i * 1000 - 1, 5), tick(T0 + i * 1000)]);
    const resumed = progressFigures(s);
    expect(resumed.paused).toBe(false);
    expect(resumed.itemsPerSec).toBeCloseTo(5, 1);
    expect(activeMs(s)).toBe(95_000 - 60_000);
    expect(resumed.etaSec).toBe(Math.round((1000 - 175) / resumed.itemsPerSec!));
  });
});

describe('pause with windows in flight', () => {
  it('counts time as paused only once requests have stopped, so no rate is inflated by the windows that finish', () => {
    let s = start();
    // 20 requests/s and 5 windows/s for 30 s.
    for (let i = 1; i <= 30; i++) s = fold(s, [...items(T0 + i * 1000 - 1, 5), tick(T0 + i * 1000, i * 20)]);
    s = reduceProgress(s, { kind: 'pause', at: T0 + 30_500, paused: true });
    // The windows in flight fetch their last pages for 5 more seconds at the same pace, then nothing.
    for (let i = 31; i <= 35; i++) s = fold(s, [...items(T0 + i * 1000 - 1, 5), tick(T0 + i * 1000, i * 20)]);
    for (let i = 36; i <= 60; i++) s = reduceProgress(s, tick(T0 + i * 1000, 700));
    const paused = progressFigures(s);
    expect(paused.paused).toBe(true);
    expect(paused.pausedSince, 'PAUSED since: when the flag was found').toBe(T0 + 30_500);
    expect(paused.pausedMs, 'paused time: from the last tick that saw requests').toBe(25_000);
    expect(activeMs(s)).toBe(35_000);
    expect(paused.okPerSec).toBeCloseTo(20, 6);
    expect(paused.itemsPerSec).toBeCloseTo(5, 6);
    // The summary's figure: requests over active time, not 700 requests over 30.5 s (23/s at a 20/s pace).
    expect(s.requests / (activeMs(s) / 1000)).toBe(20);
    s = reduceProgress(s, { kind: 'pause', at: T0 + 60_500, paused: false });
    for (let i = 61; i <= 65; i++) s = fold(s, [...items(T0 + i * 1000 - 1, 5), tick(T0 + i * 1000, 700 + (i - 60) * 20)]);
    expect(activeMs(s)).toBe(65_000 - 25_500);
    expect(progressFigures(s).okPerSec).toBeCloseTo(20, 0);
  });
});

describe('429s', () => {
  it('a steady stream of 429s gives the advice to use --adaptive or a lower --rate', () => {
    let s = start();
    expect(throttleAdvice(s, false)).toBeNull();
    for (let i = 1; i <= 30; i++) s = reduceProgress(s, tick(T0 + i * 1000, i * 40, i * 2));
    expect(progressFigures(s).throttled).toBe(true);
    expect(throttleAdvice(s, false)).toMatch(/keeps answering 429 \(60 so far\).*below --rate 100\/s; pass --adaptive or a lower --rate/);
    expect(throttleAdvice(s, true)).toMatch(/--adaptive is lowering the rate/);
  });

  it('a single early burst of 429s that stopped is not "keeps coming"', () => {
    let s = start();
    s = reduceProgress(s, tick(T0 + 1000, 10, 12));
    for (let i = 2; i <= 120; i++) s = reduceProgress(s, tick(T0 + i * 1000, i * 40, 12));
    expect(progressFigures(s).throttled).toBe(false);
  });
});

describe('unknown total', () => {
  it('a null total (still counting) has no remaining and no ETA, and the heartbeat says null', () => {
    let s = start(null);
    s = fold(s, [...items(T0 + 500, 3), tick(T0 + 1000)]);
    const f = progressFigures(s);
    expect(f.total).toBeNull();
    expect(f.remaining).toBeNull();
    expect(f.etaSec).toBeNull();
    const hb = ingestHeartbeat(s, 0, { beat: 'tick', rssMB: 1, trades: 0, quotes: 0, bytes: 0, latencyP50Ms: null, latencyP95Ms: null });
    expect(hb.total).toBeNull();
    const back = parseHeartbeat(JSON.stringify({ time: T0 + 1000, pid: 1, ...hb }));
    expect(back?.total).toBeNull();
  });
});

describe('finished before any rate', () => {
  it('a stage whose items all arrived before its first tick shows ETA 0, not unknown', () => {
    const s = fold(start(25), items(T0 + 200, 25));
    const f = progressFigures(s);
    expect(f.itemsPerSec).toBeNull();
    expect(f.remaining).toBe(0);
    expect(f.etaSec).toBe(0);
  });
  it('with items left and no rate yet the ETA stays unknown', () => {
    const f = progressFigures(fold(start(25), items(T0 + 200, 5)));
    expect(f.etaSec).toBeNull();
  });
});

describe('progressScan (marble)', () => {
  it('folds items, ticks and a pause into one state per event', () => {
    const ts = new TestScheduler((a, b) => expect(a).toEqual(b));
    ts.run(({ cold, expectObservable }) => {
      const ev: Record<string, ProgressEvent> = {
        i: { kind: 'item', at: T0 + 500, part: '0', ok: true, last: 'A' },
        t: tick(T0 + 1000, 3),
        p: { kind: 'pause', at: T0 + 1500, paused: true },
        u: { kind: 'tick', at: T0 + 5000, requests: 3, ok: 3, rateLimited: 0, rate: 100 },
      };
      const out = cold('i-t-p-u|', ev).pipe(progressScan(start(10)));
      const pick = (s: ProgressState) => ({ done: progressFigures(s).done, paused: s.paused, rate: progressFigures(s).itemsPerSec });
      const picked = out.pipe(map(pick));
      expectObservable(picked).toBe('a-b-c-d|', {
        a: { done: 1, paused: false, rate: null },
        b: { done: 1, paused: false, rate: 1 },
        c: { done: 1, paused: true, rate: 1 },
        d: { done: 1, paused: true, rate: 1 },
      });
    });
  });
});

describe('heartbeat round trip', () => {
  it('what run writes is what tail and report read: the same rate, pause and 429 fields', () => {
    let s = initialProgress({ stage: 'detect', at: T0, total: 20, done: 2, configuredRate: 50, parts: { '0': { total: 10, done: 1 }, '1': { total: 10, done: 1 } } });
    s = fold(s, [{ kind: 'item', at: T0 + 400, part: '1', ok: true, last: 'ABC' }, tick(T0 + 1000, 5, 1), { kind: 'pause', at: T0 + 1200, paused: true }]);
    const hb = detectHeartbeat(s, 1, { beat: 'item', rssMB: 10, batch: 1, totalBatches: 1 });
    const back = parseHeartbeat(JSON.stringify({ level: 30, time: new Date(T0 + 1300).toISOString(), pid: 42, ...hb }));
    expect(back).toMatchObject({ stage: 'detect', worker: 1, symbol: 'ABC', workerDone: 2, workerTotal: 10, done: 3, total: 20, paused: true, pausedSince: new Date(T0 + 1200).toISOString(), rateLimited: 1, configuredRate: 50, itemsPerSec: 1, pid: 42 });
  });

  it('reads version-1 lines: their "quota" was the client rate', () => {
    const v1 = parseHeartbeat('{"level":30,"time":1700000000000,"pid":7,"stage":"ingest","partition":0,"last":"E","processed":5,"failed":1,"skipped":4,"total":20,"reqPerSec":9.5,"rateLimited":2,"rate":80,"quota":100}');
    expect(v1).toMatchObject({ v: 1, stage: 'ingest', done: 10, configuredRate: 100, rate: 80, itemsPerSec: null, paused: false });
  });
});
