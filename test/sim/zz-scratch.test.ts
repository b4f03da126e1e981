import { it } from 'vitest';
import { simMinuteBars, simDayEvents } from '../../src/sim/index.js';
import { formatDay, isSessionDay, parseDay } from '../../src/sim/calendar.js';
import { builtinDetectors, detectEvents } from '../../src/detect/index.js';
import { DEMO_UNIVERSE } from '../../src/cli/demo.js';
import type { Bar } from '../../src/types.js';

it('scratch', async () => {
  const detectors = builtinDetectors();
  const by: Record<string, number> = {};
  let days = 0, nb = 0, pm = 0, ah = 0, vol = 0, dv = 0;
  const planted: Record<string, number> = {};
  const volMin: Record<string, number> = {};
  const persym: string[] = [];
  const hours: Record<number, number> = {}; const meas: number[] = [];
  for (const sym of DEMO_UNIVERSE) {
    const bars: Bar[] = [];
    for (let d = parseDay('2024-03-01')!; d <= parseDay('2024-03-29')!; d++) {
      if (!isSessionDay(d)) continue;
      const db = simMinuteBars(7, sym, formatDay(d));
      for (const e of simDayEvents(7, sym, formatDay(d))) planted[e.kind] = (planted[e.kind] ?? 0) + 1;
      for (const b of db) { bars.push(b); vol += b.v; dv += b.v * b.vw; }
      nb += db.length; days++;
    }
    const ev = await detectEvents(bars, sym, detectors);
    const nv = ev.filter((e) => e.event_type === 'vwap_break').length;
    persym.push(`${sym}:$${(bars.reduce((a, b) => a + b.c, 0) / bars.length).toFixed(1)}:${nv}`);
    for (const e of ev) {
      const k = `${e.event_type}/${e.session}`; by[k] = (by[k] ?? 0) + 1;
      if (e.event_type === 'vwap_break') {
        const h = Math.floor(((e.timestamp / 60000 - 240 + 24 * 60 * 10) % 1440) / 60); // approx EDT hour
        hours[h] = (hours[h] ?? 0) + 1; meas.push(e.measure);
      }
      if (e.event_type === 'volume_spike' && e.session === 'RTH') {
        const d = new Date(e.timestamp); const key = d.toISOString().slice(11, 16);
        volMin[key] = (volMin[key] ?? 0) + 1;
      }
    }
  }
  const top = Object.entries(volMin).sort((a, b) => b[1] - a[1]).slice(0, 8);
  console.log(JSON.stringify(Object.fromEntries(Object.entries(by).sort()), null, 0), `\nbars/day ${(nb/days).toFixed(0)} vol/day ${(vol/days/1e3).toFixed(0)}k $/day ${(dv/days/1e6).toFixed(2)}M`, JSON.stringify(planted), JSON.stringify(top), '\nvwap hours(EDT-ish)', JSON.stringify(hours), persym.join(' '), 'measure quantiles', [0.1,0.5,0.9].map(q => meas.sort((a,b)=>a-b)[Math.floor(q*meas.length)]!.toFixed(3)));
});
