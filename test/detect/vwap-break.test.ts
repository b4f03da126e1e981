import { describe, expect, test } from 'vitest';
import { InputError } from '../../src/errors.js';
import { detectEvents, vwapBreak } from '../../src/detect/index.js';
import type { Bar } from '../../src/types.js';
import { bar } from './helpers.js';

const detect = (bars: Bar[], d = vwapBreak()) => detectEvents(bars, 'TEST', [d]);
/** A heavy first bar pins the day VWAP at ~10, so 9.9 is below it and 10.1 above it. */
const anchor = (day: string, hhmm = '04:00') => bar(day, hhmm, { c: 10, v: 1_000_000 });
const below = (day: string, hhmm: string) => bar(day, hhmm, { c: 9.9, v: 1 });
const above = (day: string, hhmm: string) => bar(day, hhmm, { c: 10.1, v: 1 });

describe('vwap_break', () => {
  test('close above VWAP after a close below it, with hand-computed VWAP and measure', async () => {
    // v = 1000, vw = close: VWAP after 04:00 = 10, after 04:01 = 9.5 (close 9 below), after 04:02 = 29/3.
    const rows = await detect([bar('2024-03-11', '04:00', { c: 10 }), bar('2024-03-11', '04:01', { c: 9 }), bar('2024-03-11', '04:02', { c: 10 })]);
    expect(rows).toEqual([
      {
        symbol: 'TEST',
        event_type: 'vwap_break',
        timestamp: Date.UTC(2024, 2, 11, 8, 2),
        session: 'PM',
        price: 10,
        volume: 1000,
        vwap: expect.closeTo(29 / 3, 12),
        measure: expect.closeTo(100 / 29, 12),
      },
    ]);
  });

  test('before DST the same NY times are an hour later in UTC', async () => {
    const rows = await detect([anchor('2024-03-08', '09:30'), below('2024-03-08', '09:31'), above('2024-03-08', '09:32')]);
    expect(rows.map((r) => [r.timestamp, r.session])).toEqual([[Date.UTC(2024, 2, 8, 14, 32), 'RTH']]);
  });

  test('cooldown 15 min: a cross 14 min later is dropped, one 17 min later kept', async () => {
    const d = '2024-03-11';
    const rows = await detect([
      anchor(d),
      below(d, '04:01'),
      above(d, '04:02'), // event
      below(d, '04:15'),
      above(d, '04:16'), // 14 min: dropped
      above(d, '04:17'), // no cross: previous bar already above
      below(d, '04:18'),
      above(d, '04:19'), // 17 min: event
    ]);
    expect(rows.map((r) => new Date(r.timestamp).toISOString())).toEqual(['2024-03-11T08:02:00.000Z', '2024-03-11T08:19:00.000Z']);
  });

  test('cooldownMinutes: 0 keeps every cross', async () => {
    const d = '2024-03-11';
    const rows = await detect([anchor(d), below(d, '04:01'), above(d, '04:02'), below(d, '04:03'), above(d, '04:04')], vwapBreak({ cooldownMinutes: 0 }));
    expect(rows).toHaveLength(2);
  });

  test('previous close equal to VWAP, or close equal to VWAP, is not a cross', async () => {
    // First bar: close = VWAP = 10. Second: close 10 = VWAP 10.
    const rows = await detect([bar('2024-03-11', '04:00', { c: 10 }), bar('2024-03-11', '04:01', { c: 11 }), bar('2024-03-11', '04:02', { c: 10, vw: 10, v: 0 })]);
    expect(rows).toEqual([]);
  });

  test('the previous bar must be from the same NY day', async () => {
    const rows = await detect([
      anchor('2024-03-11'),
      below('2024-03-11', '19:59'),
      // First bar of the next day: its VWAP is its own vw (9), close 10 is above it.
      bar('2024-03-12', '04:00', { c: 10, vw: 9 }),
    ]);
    expect(rows).toEqual([]);
  });

  test('the previous bar is the previous bar, whatever the gap (missing minutes)', async () => {
    const d = '2024-03-11';
    const rows = await detect([anchor(d), below(d, '04:01'), above(d, '04:10')]);
    expect(rows.map((r) => r.timestamp)).toEqual([Date.UTC(2024, 2, 11, 8, 10)]);
  });

  test('options are validated', () => {
    expect(() => vwapBreak({ cooldownMinutes: -1 })).toThrow(InputError);
    expect(() => vwapBreak({ cooldownMinutes: '15' as unknown as number })).toThrow('"15" (string)');
  });
});
