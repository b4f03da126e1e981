import fc from 'fast-check';
import pl from 'nodejs-polars';
import { describe, expect, test } from 'vitest';
import { InputError } from '../../src/errors.js';
import {
  builtinDetectorNames,
  builtinDetectors,
  candidateColumns,
  detectEvents,
  detectorsByName,
  flush,
  nyLocalParts,
  sessionOf,
  volumeSpike,
  type Detector,
} from '../../src/detect/index.js';
import type { Bar, EventRow } from '../../src/types.js';
import { bar, run } from './helpers.js';

/** A detector whose candidates are the bars at the given NY minutes of the day. */
function atMinutes(minutes: number[], extra: Partial<Detector> = {}): Detector {
  return {
    name: 'custom',
    description: 'test detector',
    measure: 'close',
    candidates: (bars) => bars.filter(pl.col('minute').isIn(minutes)).select(...candidateColumns(pl.col('c'))),
    ...extra,
  };
}
const hm = (h: number, m: number) => h * 60 + m;
const iso = (rows: EventRow[]) => rows.map((r) => new Date(r.timestamp).toISOString());

describe('detectEvents', () => {
  test('empty input, no detectors, or only bars outside 04:00–20:00: no events', async () => {
    expect(await detectEvents([], 'TEST', builtinDetectors())).toEqual([]);
    expect(await detectEvents(run('2024-03-11', '09:30', 20), 'TEST', [])).toEqual([]);
    const outside = [...run('2024-03-11', '03:30', 30, (i) => ({ c: 10 - i * 0.5, v: i === 29 ? 1e6 : 1000 })), ...run('2024-03-11', '20:00', 30, (i) => ({ c: 10 - i * 0.5 }))];
    expect(await detectEvents(outside, 'TEST', builtinDetectors())).toEqual([]);
  });

  test('cooldown is per (detector, NY day): exactly cooldownMinutes later is kept, the next day starts afresh', async () => {
    const d = atMinutes([hm(9, 30), hm(9, 31), hm(9, 44), hm(9, 45), hm(19, 59), hm(4, 0)], { cooldownMinutes: 15 });
    const bars = [...run('2024-03-11', '09:30', 20), bar('2024-03-11', '19:59'), bar('2024-03-12', '04:00')];
    expect(iso(await detectEvents(bars, 'TEST', [d]))).toEqual([
      '2024-03-11T13:30:00.000Z',
      '2024-03-11T13:45:00.000Z',
      '2024-03-11T23:59:00.000Z',
      '2024-03-12T08:00:00.000Z',
    ]);
    const long = atMinutes([hm(19, 59), hm(4, 0)], { cooldownMinutes: 24 * 60 });
    expect(await detectEvents(bars, 'TEST', [long])).toHaveLength(2);
  });

  test('oncePerDay keeps the first candidate of each NY day', async () => {
    const d = atMinutes([hm(9, 31), hm(9, 40), hm(10, 0)], { oncePerDay: true });
    const bars = [...run('2024-03-08', '09:30', 40), ...run('2024-03-11', '09:35', 40)];
    expect(iso(await detectEvents(bars, 'TEST', [d]))).toEqual(['2024-03-08T14:31:00.000Z', '2024-03-11T13:40:00.000Z']);
  });

  test('without a cooldown every candidate is an event, but a repeated row is one event', async () => {
    const twice: Detector = {
      ...atMinutes([hm(9, 30), hm(9, 31)]),
      candidates: (bars) => {
        const one = bars.filter(pl.col('minute').isIn([hm(9, 30), hm(9, 31)])).select(...candidateColumns(pl.col('c')));
        return pl.concat([one, one]);
      },
    };
    expect(iso(await detectEvents(run('2024-03-11', '09:30', 5), 'TEST', [twice]))).toEqual(['2024-03-11T13:30:00.000Z', '2024-03-11T13:31:00.000Z']);
  });

  test('rows are sorted by (timestamp, event_type) across detectors', async () => {
    const bars = [...run('2024-03-11', '09:30', 10, () => ({ c: 10, h: 10 })), bar('2024-03-11', '09:40', { c: 8.5, v: 10_000 })];
    const rows = await detectEvents(bars, 'ABCD', [volumeSpike(), flush(), atMinutes([hm(9, 40), hm(9, 30)], { name: 'a_first' })]);
    expect(rows.map((r) => [r.event_type, new Date(r.timestamp).toISOString().slice(11, 16)])).toEqual([
      ['a_first', '13:30'],
      ['a_first', '13:40'],
      ['flush', '13:40'],
      ['volume_spike', '13:40'],
    ]);
    expect(rows.every((r) => r.symbol === 'ABCD')).toBe(true);
  });

  test('a user detector with extra columns and integer t works through the same interface', async () => {
    const d: Detector = {
      name: 'gap_up',
      description: 'close >= 20% above the previous close of the same day',
      measure: 'gain_pct',
      candidates: (bars) =>
        bars
          .withColumns(pl.col('c').div(pl.col('c').shift(1)).sub(1).mul(100).alias('measure'), pl.col('t').cast(pl.Int64).alias('t'))
          .filter(pl.col('day').shift(1).eq(pl.col('day')).and(pl.col('measure').gtEq(20)))
          .select(...candidateColumns(pl.col('measure')), pl.lit('ignored').alias('note')),
    };
    const rows = await detectEvents([bar('2024-03-11', '09:30', { c: 10 }), bar('2024-03-11', '09:31', { c: 12.5 })], 'TEST', [d]);
    expect(rows).toMatchObject([{ event_type: 'gap_up', timestamp: Date.UTC(2024, 2, 11, 13, 31), measure: 25 }]);
  });

  test('many candidates (typed-array path) give the same rows as few; null measures become NaN', async () => {
    const every: Detector = {
      name: 'every',
      description: 'every bar',
      measure: 'none',
      candidates: (bars) => bars.select(...candidateColumns(pl.when(pl.col('minute').eq(hm(4, 0))).then(pl.lit(null)).otherwise(pl.col('c')))),
    };
    const days = ['2024-03-08', '2024-03-11', '2024-03-12', '2024-03-13', '2024-03-14', '2024-03-15'];
    const bars = days.flatMap((d) => run(d, '04:00', 960, (i) => ({ c: 1 + i })));
    const rows = await detectEvents(bars, 'TEST', [every]);
    expect(rows).toHaveLength(bars.length);
    expect(rows.map((r) => r.timestamp)).toEqual(bars.map((b) => b.t));
    expect(rows.map((r) => r.measure)).toEqual(bars.map((b, i) => (i % 960 === 0 ? Number.NaN : b.c)));
    const few = await detectEvents(bars.slice(0, 960), 'TEST', [every]);
    expect(few).toEqual(rows.slice(0, 960));
  });

  test('the event loop keeps turning during a large symbol (sliced preparation, async collect)', async () => {
    const t0 = Date.UTC(2024, 0, 2, 9);
    const bars: Bar[] = Array.from({ length: 200_000 }, (_, i) => {
      const t = t0 + Math.floor(i / 960) * 86_400_000 + (i % 960) * 60_000;
      const c = 10 + Math.sin(i / 7);
      return { t, o: c, h: c + 0.1, l: c - 0.1, c, v: 1000 + (i % 13) * 100, vw: c, n: 5 };
    });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      const rows = await detectEvents(bars, 'BIG', builtinDetectors());
      expect(rows.length).toBeGreaterThan(0);
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0);
  });

  test('bad detector lists are InputErrors', async () => {
    await expect(detectEvents([], 'TEST', [flush(), flush()])).rejects.toThrow(/"flush" is listed twice/);
    await expect(detectEvents([], 'TEST', [atMinutes([], { cooldownMinutes: -5 })])).rejects.toThrow('-5 (number)');
    await expect(detectEvents([], '', builtinDetectors())).rejects.toThrow(InputError);
  });
});

describe('registry', () => {
  test('builtinDetectors() are the four, in order, with descriptions naming their thresholds', () => {
    expect(builtinDetectors().map((d) => d.name)).toEqual(['opening_range_break', 'vwap_break', 'flush', 'volume_spike']);
    expect(builtinDetectorNames).toEqual(builtinDetectors().map((d) => d.name));
    expect(builtinDetectors().map((d) => d.measure)).toEqual(['break_pct', 'vwap_dist_pct', 'drop_pct', 'volume_ratio']);
    expect(builtinDetectors()[2]!.description).toMatch(/10%.*15 minutes.*30 min/);
    expect(builtinDetectors()[2]!.settings).toEqual({ dropPct: 10, lookbackMinutes: 15, cooldownMinutes: 30 });
  });
  test('detectorsByName picks in the given order; unknown or repeated names are InputErrors listing the known ones', () => {
    expect(detectorsByName(['volume_spike', 'flush']).map((d) => d.name)).toEqual(['volume_spike', 'flush']);
    expect(() => detectorsByName(['flush', 'dip'])).toThrow(InputError);
    expect(() => detectorsByName(['dip'])).toThrow('unknown detector "dip"; known detectors: opening_range_break, vwap_break, flush, volume_spike');
    expect(() => detectorsByName(['toString'])).toThrow(/unknown detector/);
    expect(() => detectorsByName(['flush', 'flush'])).toThrow(/listed twice/);
  });
});

describe('properties', () => {
  // Days on both sides of both DST switches; NY offset of each (hours behind UTC).
  const DAYS = [
    ['2024-03-08', 5],
    ['2024-03-11', 4],
    ['2024-11-01', 4],
    ['2024-11-04', 5],
  ] as const;
  const PRICES = [8, 8.9, 9.5, 10, 10.2, 10.5, 11];
  // Runs of mostly consecutive minutes (so windows fill up), some outside 04:00–20:00.
  const arbRun = fc.record({
    day: fc.integer({ min: 0, max: DAYS.length - 1 }),
    start: fc.oneof(fc.integer({ min: hm(9, 20), max: hm(9, 40) }), fc.integer({ min: hm(3, 0), max: hm(20, 30) })),
    bars: fc.array(
      fc.record({
        present: fc.integer({ min: 0, max: 9 }),
        c: fc.constantFrom(...PRICES),
        h: fc.constantFrom(0, 0.3),
        v: fc.constantFrom(0, 1000, 1000, 1000, 1000, 20_000),
      }),
      { maxLength: 60 },
    ),
  });
  const arbBars = fc.array(arbRun, { minLength: 1, maxLength: 4 }).map((runs) => {
    // One bar per t, so that "first of equal t wins" cannot depend on the shuffle.
    const byT = new Map<number, Bar>();
    for (const r of runs) {
      const [day, off] = DAYS[r.day]!;
      r.bars.forEach((x, i) => {
        if (x.present === 0) return;
        const t = Date.parse(`${day}T00:00:00Z`) + (r.start + i + off * 60) * 60_000;
        byT.set(t, { t, o: x.c, h: x.c + x.h, l: x.c, c: x.c, v: x.v, vw: x.c, n: 1 });
      });
    }
    return [...byT.values()];
  });

  test('shuffling the bars does not change the events; events respect cooldowns, sessions and order', async () => {
    const cooldown = new Map(builtinDetectors().map((d) => [d.name, (d.cooldownMinutes ?? 0) * 60_000]));
    await fc.assert(
      fc.asyncProperty(
        arbBars.chain((bars) => fc.tuple(fc.constant(bars), fc.shuffledSubarray(bars, { minLength: bars.length, maxLength: bars.length }))),
        async ([bars, shuffled]) => {
          const sorted = [...bars].sort((a, b) => a.t - b.t);
          const a = await detectEvents(sorted, 'P', builtinDetectors());
          const b = await detectEvents(shuffled, 'P', builtinDetectors());
          expect(b).toEqual(a);
          const times = new Set(bars.map((x) => x.t));
          const last = new Map<string, EventRow>();
          for (let i = 0; i < a.length; i++) {
            const e = a[i]!;
            expect(times.has(e.timestamp)).toBe(true);
            expect(e.session).toBe(sessionOf(e.timestamp));
            if (i > 0) {
              const p = a[i - 1]!;
              expect(p.timestamp < e.timestamp || (p.timestamp === e.timestamp && p.event_type < e.event_type)).toBe(true);
            }
            const prev = last.get(e.event_type);
            if (prev !== undefined && nyLocalParts(prev.timestamp).date === nyLocalParts(e.timestamp).date) {
              expect(e.event_type).not.toBe('opening_range_break');
              expect(e.timestamp - prev.timestamp).toBeGreaterThanOrEqual(cooldown.get(e.event_type)!);
            }
            last.set(e.event_type, e);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
