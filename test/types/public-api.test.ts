/**
 * Pins the public signatures as users see them (through the package's exports map, i.e. the
 * shipped dist/*.d.ts). The assertions are checked by `tsc --noEmit` (npm test); at runtime
 * expectTypeOf is a no-op, so this file also proves the entry points load.
 */
import type { GroupedObservable, MonoTypeOperatorFunction, Observable, OperatorFunction } from 'rxjs';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as root from 'tickpipe';
import type { DetectProgress, DetectStageOptions, Detector, IngestProgress, IngestStageOptions, Quote, RetryBackoffOptions, TokenBucket } from 'tickpipe';
import * as detect from 'tickpipe/detect';
import * as operators from 'tickpipe/operators';
import * as sim from 'tickpipe/sim';
import * as sinks from 'tickpipe/sinks';
import * as streams from 'tickpipe/streams';

describe('public API types', () => {
  it('operators', () => {
    expectTypeOf(operators.stridePartition<string>).toEqualTypeOf<(n: number, index: (item: string) => number) => OperatorFunction<string, GroupedObservable<number, string>>>();
    expectTypeOf(operators.batchBySymbols<number>).toEqualTypeOf<(size: number) => OperatorFunction<number, number[]>>();
    expectTypeOf(operators.pausable<number>).toEqualTypeOf<(paused$: Observable<boolean>) => MonoTypeOperatorFunction<number>>();
    expectTypeOf(operators.downsampleQuotes).toEqualTypeOf<(hz: number) => OperatorFunction<Quote[], Quote[]>>();
    expectTypeOf(operators.rateLimit<number>).toEqualTypeOf<(bucket: TokenBucket) => MonoTypeOperatorFunction<number>>();
    expectTypeOf(operators.retryBackoff<number>).toEqualTypeOf<(options?: RetryBackoffOptions) => MonoTypeOperatorFunction<number>>();
    expectTypeOf(operators.heartbeat<number>).parameters.toEqualTypeOf<[beat: (value: number | undefined) => void, intervalMs?: number, scheduler?: import('rxjs').SchedulerLike]>();
    expectTypeOf(operators.heartbeat<number>).returns.toEqualTypeOf<MonoTypeOperatorFunction<number>>();
    // skipCompleted: a predicate, or a set of keys plus a key function.
    expectTypeOf(operators.skipCompleted<string>((s: string) => s === 'x')).toEqualTypeOf<MonoTypeOperatorFunction<string>>();
    expectTypeOf(operators.skipCompleted(new Set<string>(), (s: { symbol: string }) => s.symbol)).toEqualTypeOf<MonoTypeOperatorFunction<{ symbol: string }>>();
  });

  it('stages', () => {
    expectTypeOf(root.detectStage).toEqualTypeOf<(opts: DetectStageOptions) => Observable<DetectProgress>>();
    expectTypeOf(root.ingestStage).toEqualTypeOf<(opts: IngestStageOptions) => Observable<IngestProgress>>();
    expectTypeOf<DetectStageOptions['detectors']>().toEqualTypeOf<readonly Detector[]>();
    expectTypeOf<DetectStageOptions['workers']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<IngestStageOptions['quotesHz']>().toEqualTypeOf<number | undefined>();
    expectTypeOf(root.consolidate).returns.resolves.toHaveProperty('events');
    expectTypeOf(root.verifyRun).returns.resolves.toHaveProperty('ok').toEqualTypeOf<boolean>();
  });

  it('detectors', () => {
    expectTypeOf(detect.builtinDetectors).returns.toEqualTypeOf<Detector[]>();
    expectTypeOf(detect.loadDetectorModule).returns.resolves.toHaveProperty('detectors').toEqualTypeOf<readonly Detector[]>();
    expectTypeOf<Detector['cooldownMinutes']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<Detector['name']>().toEqualTypeOf<string>();
  });

  it('every entry point loads and shares its classes with the root', () => {
    expect(operators.TokenBucket).toBe(root.TokenBucket);
    expect(sinks.Journal).toBe(root.Journal);
    expect(streams.PolygonClient).toBe(root.PolygonClient);
    expect(detect.builtinDetectors).toBe(root.builtinDetectors);
    expect(typeof sim.startSim).toBe('function');
  });
});
