/** Minute bars of the simulator's market model, built in-process (no HTTP), as `Bar` rows. */
import { isSessionDay, parseDay } from '../../src/sim/calendar.js';
import { aggRecord, minuteAgg } from '../../src/sim/json.js';
import { getDayBars, type Density } from '../../src/sim/market.js';
import type { Bar } from '../../src/types.js';

/**
 * The bars the simulator's `/v2/aggs/.../1/minute/from/to` would serve for `ticker` over the session
 * days `from`..`to` (YYYY-MM-DD, inclusive), in time order.
 */
export function simMinuteBars(seed: number, ticker: string, from: string, to: string, density: Density = 'sparse'): Bar[] {
  const first = parseDay(from);
  const last = parseDay(to);
  if (first === undefined || last === undefined) throw new Error(`bad day range ${from}..${to}`);
  const out: Bar[] = [];
  for (let day = first; day <= last; day++) {
    if (!isSessionDay(day)) continue;
    const b = getDayBars(seed, ticker, day, 0.5, density);
    for (let i = 0; i < b.count; i++) out.push(aggRecord(minuteAgg(b, i)));
  }
  return out;
}
