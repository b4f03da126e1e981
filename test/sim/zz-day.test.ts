import { it } from 'vitest';
import { simMinuteBars } from '../../src/sim/index.js';
import { builtinDetectors, detectEvents } from '../../src/detect/index.js';
import { sessionStartMs, parseDay } from '../../src/sim/calendar.js';

it('day', async () => {
  const sym = process.env.SYM ?? 'AAOI', day = process.env.DAY ?? '2024-03-12';
  const bars = simMinuteBars(7, sym, day);
  const ev = await detectEvents(bars, sym, builtinDetectors());
  const base = sessionStartMs(parseDay(day)!);
  let pv = 0, v = 0; const out: string[] = [];
  for (const b of bars) {
    pv += b.vw * b.v; v += b.v; const vw = pv / v;
    const m = (b.t - base) / 60000;
    const e = ev.filter((x) => x.timestamp === b.t).map((x) => x.event_type).join(',');
    out.push(`${String(m).padStart(4)} n=${String(b.n).padStart(3)} v=${String(b.v).padStart(6)} c=${b.c.toFixed(4)} vwap=${vw.toFixed(4)} ${b.c > vw ? '+' : '-'} ${e}`);
  }
  console.log(out.join('\n'));
});
