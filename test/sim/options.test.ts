import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { simMinuteBars, simTrades, startSim } from '../../src/sim/index.js';
import { resolveSimOptions } from '../../src/sim/options.js';

describe('sim options are validated up front', () => {
  it('applies the documented defaults', () => {
    expect(resolveSimOptions({})).toEqual({
      seed: 7,
      host: '127.0.0.1',
      port: 0,
      apiKey: undefined,
      rate: undefined,
      quotaMode: 'tolerant',
      density: 'sparse',
      retryAfter: false,
      latency: undefined,
      errorRate: 0,
      resetRate: 0,
      truncateRate: 0,
      stallRate: 0,
      repeatCursorRate: 0,
      errorBodyRate: 0,
      poisonTrades: undefined,
      echoKey: false,
      eventiness: 0.5,
      tickerCount: 5000,
      pageThreads: 0,
    });
  });

  it('builds pages on one thread by default only for a strict quota', () => {
    expect(resolveSimOptions({ rate: 50, quotaMode: 'strict' }).pageThreads).toBe(1);
    expect(resolveSimOptions({ rate: 50 }).pageThreads).toBe(0);
    expect(resolveSimOptions({ quotaMode: 'strict' }).pageThreads).toBe(0);
    expect(resolveSimOptions({ rate: 50, quotaMode: 'strict', pageThreads: 0 }).pageThreads).toBe(0);
    expect(resolveSimOptions({ pageThreads: 3 }).pageThreads).toBe(3);
  });

  const bad: [Record<string, unknown>, RegExp][] = [
    [{ seed: '7' }, /seed: .*"7" \(string\)/],
    [{ seed: 1.5 }, /seed: .*1\.5 \(number\)/],
    [{ port: 70000 }, /port: .*70000 \(number\)/],
    [{ rate: 0 }, /rate: .*0 \(number\)/],
    [{ rate: '100/s' }, /rate: .*"100\/s" \(string\)/],
    [{ errorRate: 1.2 }, /errorRate: .*1\.2 \(number\)/],
    [{ resetRate: -0.1 }, /resetRate/],
    [{ echoKey: 'yes' }, /echoKey: .*"yes" \(string\)/],
    [{ truncateRate: NaN }, /truncateRate: .*NaN \(number\)/],
    [{ retryAfter: 'yes' }, /retryAfter: .*"yes" \(string\)/],
    [{ latency: { minMs: 400, maxMs: 50 } }, /latency: .*\{"minMs":400,"maxMs":50\} \(object\)/],
    [{ latency: { medianMs: 100 } }, /latency/],
    [{ latency: 100 }, /latency: .*100 \(number\)/],
    [{ apiKey: '' }, /apiKey: .*"" \(string\)/],
    [{ eventiness: 2 }, /eventiness: .*2 \(number\)/],
    [{ tickerCount: 0 }, /tickerCount/],
    [{ pageThreads: 1.5 }, /pageThreads: .*1\.5 \(number\)/],
    [{ pageThreads: 17 }, /pageThreads: .*17 \(number\)/],
    [{ host: null }, /host: .*null \(null\)/],
    [{ errorRate: 0.6, resetRate: 0.6 }, /at most 1/],
    [{ errorrate: 0.1 }, /"errorrate" is unknown/],
  ];
  for (const [opts, re] of bad) {
    it(`rejects ${JSON.stringify(opts)}`, async () => {
      expect(() => resolveSimOptions(opts as any)).toThrow(InputError);
      expect(() => resolveSimOptions(opts as any)).toThrow(re);
      await expect(startSim(opts as any)).rejects.toBeInstanceOf(InputError);
    });
  }

  it('the data functions check their arguments', () => {
    expect(() => simMinuteBars(7, 'aaoi', '2024-03-11')).toThrow(InputError);
    expect(() => simMinuteBars(7, 'AAOI', '2024-02-30')).toThrow(/"2024-02-30" \(string\)/);
    expect(() => simMinuteBars(-1, 'AAOI', '2024-03-11')).toThrow(InputError);
    expect(() => simMinuteBars(7, 'AAOI', '2024-03-11', { eventiness: 3 })).toThrow(InputError);
    expect(() => simTrades(7, 'AAOI', 1 as any, 2n)).toThrow(/\(number\)/);
  });
});
