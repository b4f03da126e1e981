/** The retry layer: retryBackoff around one request, counting and logging each retry. */
import { describe, expect, it } from 'vitest';
import { defer, lastValueFrom, throwError, of, type Observable } from 'rxjs';
import { retryLayer } from '../../../src/streams/http/retry.js';
import { HttpMetrics } from '../../../src/streams/http/metrics.js';
import { AuthError, RateLimitedError, ServerError } from '../../../src/errors.js';

/** A request failing with `errors` in turn, then answering 'ok'; counts its tries. */
function flaky(errors: Error[]): { req$: Observable<string>; tries: () => number } {
  let n = 0;
  const req$ = defer((): Observable<string> => {
    const e = errors[n++];
    return e ? throwError(() => e) : of('ok');
  });
  return { req$, tries: () => n };
}

describe('retryLayer', () => {
  it('with a bucket a 429 is requeued at once (the bucket waits); other errors back off; each retry is counted and logged', async () => {
    const m = new HttpMetrics();
    const logs: unknown[] = [];
    const seen: Array<[string, number, number]> = [];
    const { req$, tries } = flaky([new RateLimitedError('429', 5_000), new ServerError('503', 503)]);
    const out = await lastValueFrom(
      req$.pipe(retryLayer({ baseMs: 1, capMs: 1, random: () => 1, onRetry: (e, a, d) => seen.push([(e as ServerError).code, a, d]) }, true, '/v3/x', m, { warn: (o) => logs.push(o) })),
    );
    expect(out).toBe('ok');
    expect(tries()).toBe(3);
    expect(seen).toEqual([
      ['E_RATE_LIMITED', 1, 0],
      ['E_SERVER', 2, 1],
    ]);
    expect(m.retries).toBe(2);
    expect(logs).toEqual([
      { path: '/v3/x', code: 'E_RATE_LIMITED', attempt: 1, delayMs: 0 },
      { path: '/v3/x', code: 'E_SERVER', attempt: 2, delayMs: 1 },
    ]);
  });

  it('without a bucket a 429 waits its Retry-After', async () => {
    const delays: number[] = [];
    const { req$ } = flaky([new RateLimitedError('429', 30)]);
    await lastValueFrom(req$.pipe(retryLayer({ baseMs: 1, onRetry: (_e, _a, d) => delays.push(d) }, false, '/v3/x', new HttpMetrics(), undefined)));
    expect(delays).toEqual([30]);
  });

  it('a non-retryable error passes at once; the last error after maxAttempts is the error itself; false disables it', async () => {
    const m = new HttpMetrics();
    const auth = new AuthError('401', 401);
    const a = flaky([auth]);
    expect(await lastValueFrom(a.req$.pipe(retryLayer({ baseMs: 1 }, false, '/v3/x', m, undefined))).catch((e: unknown) => e)).toBe(auth);
    expect(a.tries()).toBe(1);

    const last = new ServerError('503 #3', 503);
    const s = flaky([new ServerError('503 #1', 503), new ServerError('503 #2', 503), last]);
    expect(await lastValueFrom(s.req$.pipe(retryLayer({ baseMs: 1, maxAttempts: 3 }, false, '/v3/x', m, undefined))).catch((e: unknown) => e)).toBe(last);
    expect(m.retries).toBe(2);

    const off = flaky([new ServerError('503', 503)]);
    expect(await lastValueFrom(off.req$.pipe(retryLayer(false, true, '/v3/x', m, undefined))).catch((e: unknown) => e)).toBeInstanceOf(ServerError);
    expect(off.tries()).toBe(1);
  });
});
