/** Bar builders for the detector tests. NY → UTC goes through Intl (ICU), not the code under test. */
import pl from 'nodejs-polars';
import { candidateColumns, type Detector } from '../../src/detect/index.js';
import type { Bar } from '../../src/types.js';

const fmt = new Intl.DateTimeFormat('en-US', {
  timeZone: 'America/New_York',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
});

/** NY local `YYYY-MM-DD HH:MM` as Intl renders it. */
export function intlNyLocal(utcMs: number): string {
  const p = Object.fromEntries(fmt.formatToParts(new Date(utcMs)).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
}

/** UTC ms of a NY wall-clock time `day` `hh:mm` (must exist and be unambiguous). */
export function ny(day: string, hhmm: string): number {
  const naive = Date.parse(`${day}T${hhmm}:00Z`);
  for (const off of [240, 300]) {
    const utc = naive + off * 60_000;
    if (intlNyLocal(utc) === `${day} ${hhmm}`) return utc;
  }
  throw new Error(`no UTC instant for NY ${day} ${hhmm}`);
}

/** A bar at NY `day hh:mm`; unspecified prices default to `c`, `vw` to `c`, volume to 1000. */
export function bar(day: string, hhmm: string, f: Partial<Omit<Bar, 't'>> = {}): Bar {
  const c = f.c ?? 10;
  return { t: ny(day, hhmm), o: f.o ?? c, h: f.h ?? c, l: f.l ?? c, c, v: f.v ?? 1000, vw: f.vw ?? c, n: f.n ?? 10 };
}

/** `HH:MM` plus `k` minutes. */
export function plus(hhmm: string, k: number): string {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  const x = h * 60 + m + k;
  return `${String(Math.floor(x / 60)).padStart(2, '0')}:${String(x % 60).padStart(2, '0')}`;
}

/** `count` consecutive flat one-minute bars from `start`, each built by `f(i)`. */
export function run(day: string, start: string, count: number, f: (i: number) => Partial<Omit<Bar, 't'>> = () => ({})): Bar[] {
  return Array.from({ length: count }, (_, i) => bar(day, plus(start, i), f(i)));
}

const gain = pl.col('c').div(pl.col('c').shift(1)).sub(1).mul(100);

/** A user detector with no `plan` part: Polars' per-symbol path, never the kernel. */
export const jumpUp: Detector = {
  name: 'jump_up',
  description: 'close >= 1% above the previous close of the same NY day',
  measure: 'gain_pct',
  cooldownMinutes: 10,
  candidates: (bars) => bars.filter(pl.col('day').shift(1).eq(pl.col('day')).and(gain.gtEq(1))).select(...candidateColumns(gain)),
};
