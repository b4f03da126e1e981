/**
 * Synthetic small-cap market data, a pure function of (seed, ticker, day, eventiness).
 *
 * Layering, so that every consumer sees one truth and the cheap paths stay cheap:
 * 1. the day plan (random stream "P"): per-minute trade counts and volumes, price levels, order
 *    flow, spreads, events;
 * 2. the trade core (stream "A"): price and size of every trade; minute bars are the exact
 *    aggregation of this core, so bars never need the expensive per-trade details;
 * 3. trade details (stream "B"): timestamps, exchanges, conditions, TRF fields;
 * 4. quotes (stream "C"): derived from the trades so that the NBBO in force brackets every trade.
 * Each layer has its own generator, so asking for bars never shifts the draws of trades or quotes.
 *
 * Prices are integers in units of $0.0001 ("E4"), on a $0.01 grid at or above $1 and a $0.0001 grid
 * below, so sums of price x size are exact and the JSON shows no binary-float noise.
 */
import { Rng, cumulative, hashUnit } from './prng.js';
import {
  rthCloseMinute,
  RTH_OPEN_MINUTE,
  SESSION_MINUTES,
  isSessionDay,
  nextSessionDay,
  sessionStartMs,
} from './calendar.js';
import { LruCache } from './lru.js';

/** Options of the data generator itself (the server passes its own through). */
export interface SimDataOptions {
  /**
   * How often "in play" days (gaps, spikes, flushes, volume bursts, trends) happen, 0..1.
   * At 0 days are quiet random walks (events are rare but not impossible); at 1 most days are in play.
   * @default 0.5
   */
  readonly eventiness?: number;
  /**
   * How densely the market trades and quotes. `sparse` is the original profile (a small cap on a
   * normal day); `busy` averages at least 1.5 trades/s and 4.5 quotes/s through any 30-minute window;
   * `in-play` makes every day in play, at least 3 trades/s and 10 quotes/s, with bursts of at least
   * 10x the day's base activity in the minutes of its planted events.
   * @default 'sparse'
   */
  readonly density?: Density;
}

export const DEFAULT_EVENTINESS = 0.5;

/** Tick density profiles of the simulator (see {@link SimDataOptions.density}). */
export type Density = 'sparse' | 'busy' | 'in-play';
export const DENSITIES: readonly Density[] = ['sparse', 'busy', 'in-play'];

/**
 * Dense profiles: trades per minute = (floor + scale x the sparse intensity) x the event burst of
 * the minute; quotes per trade are 2..5 (mean 3.5) instead of 1..4 (mean 2.5). The floor is what
 * holds the averages in quiet stretches (early pre-market, the midday lull).
 */
const DENSE = {
  busy: { floor: 100, scale: 0.3, minBurst: 1 },
  'in-play': { floor: 190, scale: 2, minBurst: 10 },
} as const;
/** Most trades per minute a dense plan draws (sparse keeps its own cap of 1200). */
const DENSE_CAP = 8000;

export type DayEventKind = 'gap_up' | 'gap_down' | 'spike' | 'flush' | 'volume_burst' | 'trend_up' | 'trend_down';

/** An event the generator planted in a day (minute index counted from 04:00 New York). */
export interface DayEvent {
  readonly kind: DayEventKind;
  readonly minute: number;
  /** Relative size: gap/spike/flush/trend as a fraction of price, bursts as the activity multiple. */
  readonly magnitude: number;
}

const MINUTE_NS = 60e9;
/** Minimum spacing of consecutive trades, so 1–4 quotes always fit strictly between two trades. */
const MIN_TRADE_GAP_NS = 2000;

// ---------------------------------------------------------------------------------------------
// Per-ticker constants and the day-to-day price anchor

interface TickerProfile {
  readonly basePrice: number;
  readonly liquidity: number;
  readonly volScale: number;
  readonly tape: number;
}

const profileCache = new LruCache<string, TickerProfile>(20_000);

function tickerProfile(seed: number, ticker: string): TickerProfile {
  const key = `${seed}|${ticker}`;
  let p = profileCache.get(key);
  if (!p) {
    const r = new Rng(`${key}|profile`);
    const u = r.next();
    p = {
      basePrice: Math.exp(r.range(Math.log(1.5), Math.log(14))),
      liquidity: Math.exp(r.range(Math.log(0.35), Math.log(2))),
      volScale: r.range(0.7, 1.5),
      tape: u < 0.7 ? 3 : u < 0.9 ? 2 : 1,
    };
    profileCache.set(key, p);
  }
  return p;
}

/** Trade intensity of 04:00-07:00 (see baseIntensity). */
const EARLY_PM = 0.06;
/** Sigma of the independent per-day log move of the anchor price. */
const DAY_MOVE = 0.04;

const OCTAVES = [
  { period: 5, amp: 0.04 },
  { period: 23, amp: 0.1 },
  { period: 97, amp: 0.18 },
  { period: 389, amp: 0.3 },
] as const;

/**
 * Closing price level a day is steered to, from smooth value noise over the day index. It is a pure
 * function of the day, which is what lets any day be generated without its predecessors while
 * yesterday's close still lines up with today's open.
 */
export function anchorPrice(seed: number, ticker: string, day: number): number {
  const prof = tickerProfile(seed, ticker);
  let x = Math.log(prof.basePrice);
  for (let k = 0; k < OCTAVES.length; k++) {
    const { period, amp } = OCTAVES[k]!;
    const pos = day / period;
    const i = Math.floor(pos);
    const f = pos - i;
    const s = f * f * (3 - 2 * f);
    const a = hashUnit(`${seed}|${ticker}|o${k}|${i}`) * 2 - 1;
    const b = hashUnit(`${seed}|${ticker}|o${k}|${i + 1}`) * 2 - 1;
    x += amp * (a + (b - a) * s);
  }
  // Plus an independent move per day, so that days trend (the close lands away from the open, and
  // the price away from its VWAP) instead of wandering back to where they started.
  const u1 = Math.max(1e-12, hashUnit(`${seed}|${ticker}|d1|${day}`));
  const u2 = hashUnit(`${seed}|${ticker}|d2|${day}`);
  x += DAY_MOVE * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  return Math.min(19, Math.max(1.1, Math.exp(x)));
}

// ---------------------------------------------------------------------------------------------
// Day plan

export interface DayPlan {
  readonly seed: number;
  readonly ticker: string;
  readonly day: number;
  readonly eventiness: number;
  readonly density: Density;
  readonly tape: number;
  /** UTC ms of 04:00 New York. */
  readonly baseMs: number;
  /** Minute index (from 04:00) of the regular-session close: 720 (16:00), or 540 (13:00) on early closes. */
  readonly rthClose: number;
  /** Trades per minute. */
  readonly counts: Int32Array;
  /** First trade index of each minute (length SESSION_MINUTES + 1; the last entry is the total). */
  readonly starts: Int32Array;
  /** Price level in dollars at each minute boundary. */
  readonly level: Float64Array;
  /** Target volume (shares) of each minute that trades; trade sizes are scaled to about this sum. */
  readonly vol: Float64Array;
  /** Relative amplitude of intra-minute price noise. */
  readonly noise: Float64Array;
  /** Order-flow imbalance, -1..1: > 0 more trades at the ask (up-leg), < 0 more at the bid. */
  readonly flow: Float64Array;
  /** Quoted spread in price ticks. */
  readonly spread: Int32Array;
  /** Multiplier on the minute's volume (bursts trade bigger lots); already applied in `vol`. */
  readonly sizeMult: Float64Array;
  readonly events: readonly DayEvent[];
}

/**
 * Expected trades per minute (before liquidity and activity): a sparse early pre-market, a ramp into
 * the open, then the U-shaped regular session (a burst at the open decaying into a midday lull, a
 * build-up into the close), and an after-hours tail fading out.
 */
function baseIntensity(m: number, close: number): number {
  if (m < 180) return EARLY_PM; // 04:00-07:00
  if (m < RTH_OPEN_MINUTE) return 0.2 * Math.exp((Math.LN10 * (m - 180)) / 150); // 07:00-09:30: 0.2 → 2
  if (m < close) {
    // The U shape spans the day's regular session: 390 minutes, or 210 on a 13:00 early close.
    const len = close - RTH_OPEN_MINUTE;
    const t = m - RTH_OPEN_MINUTE;
    const u = (t - len / 2) / (len / 2);
    return 3.4 + 22 * Math.exp(-t / 15) + 2.5 * u * u + 7 * Math.exp(-(len - 1 - t) / 25);
  }
  return 0.05 + 1.2 * Math.exp(-(m - close) / 60); // after the close (16:00 or 13:00) to 20:00 fades out
}

const baseIntensityCache = new Map<number, Float64Array>();

/** Expected trades per minute of a day whose regular session closes at minute index `close`. */
function baseIntensityFor(close: number): Float64Array {
  let a = baseIntensityCache.get(close);
  if (a === undefined) {
    a = Float64Array.from({ length: SESSION_MINUTES }, (_, m) => baseIntensity(m, close));
    baseIntensityCache.set(close, a);
  }
  return a;
}

// Price regimes (see dayPlan): a regular-session leg lasts SEG_MIN..SEG_MAX minutes (extended-hours
// legs 60-180) and keeps the previous leg's direction with chance SEG_KEEP; its log move is
// (SEG_MIN_MOVE + |normal|) x SEG_MOVE (SEG_MOVE_EXT outside the session) x sqrt(hours), scaled by the
// ticker's volatility. Around the legs, a random walk of WALK_SIGMA per minute (x EXT_WALK outside
// the session, x 1.8 in the opening half hour).
const SEG_MIN = 20;
const SEG_MAX = 90;
const SEG_KEEP = 0.8;
const SEG_MIN_MOVE = 0.6;
const SEG_MOVE = 0.01;
const SEG_MOVE_EXT = 0.015;
const WALK_SIGMA = 0.0003;
const EXT_WALK = 0.5;
/**
 * Order flow: at a log drift of FLOW_SLOPE per minute or more, prints land on the touch the leg is
 * heading for (the ask in an up-leg) with FLOW_SIDE of the chance they otherwise land elsewhere
 * removed; in a flat market they bounce between bid and ask.
 */
const FLOW_SIDE = 1;
const FLOW_SLOPE = 0.00002;
/** Shares per unit of trade intensity in a minute's volume, and the sigma of its lognormal noise. */
const LOT_SHARES = 350;
const VOL_NOISE = 0.35;

const EVENT_KINDS = ['spike', 'flush', 'volume_burst', 'trend'] as const;
const EVENT_WEIGHTS = cumulative([3, 3, 3, 1.5]);

/** In-play bursts are at least 10x the day's base activity; other profiles keep the draw. */
function minBurst(boost: number, density: Density): number {
  return density === 'in-play' ? Math.max(DENSE['in-play'].minBurst, boost) : boost;
}

/** A busy market is evenly busy: its event bursts are damped (square root); in-play keeps them whole. */
function burstOf(burst: number, density: Density): number {
  return density === 'busy' ? Math.sqrt(burst) : burst;
}

function clampEventiness(e: number | undefined): number {
  return e === undefined ? DEFAULT_EVENTINESS : e;
}

/** Generator-stream tag of a profile: sparse keeps the original tag, so its bytes never change. */
function profileTag(eventiness: number, density: Density): string {
  return density === 'sparse' ? String(eventiness) : `${eventiness}|${density}`;
}

/** Per-minute multipliers the day's plan writes into; one array per effect. */
interface MinuteShape {
  readonly activity: Float64Array;
  readonly drift: Float64Array;
  readonly volMult: Float64Array;
  readonly sizeMult: Float64Array;
  /** The day's session-level activity, without event bursts: dense plans scale bursts separately. */
  readonly dayBoost: Float64Array;
  readonly events: DayEvent[];
}

// Every helper below draws from the plan's `Rng` in a fixed order: reordering draws changes every
// simulated day (and the sparse profile's bytes are promised never to change).

/** An in-play day: a busier session (pre-market most) and often a gap. Returns the gap (log), if any. */
function inPlaySession(r: Rng, shape: MinuteShape, close: number): number | undefined {
  const rthBoost = r.range(2, 5);
  const pmBoost = r.range(4, 10);
  for (let m = 0; m < shape.activity.length; m++) {
    shape.activity[m] = m < RTH_OPEN_MINUTE ? pmBoost : m < close ? rthBoost : pmBoost / 2;
    shape.dayBoost[m] = shape.activity[m]!;
    shape.volMult[m] = 1.6;
  }
  if (!r.chance(0.6)) return undefined;
  const up = r.chance(0.65);
  const mag = r.range(0.05, 0.3);
  shape.events.push({ kind: up ? 'gap_up' : 'gap_down', minute: 0, magnitude: up ? mag : -mag });
  return up ? Math.log(1 + mag) : Math.log(1 - mag);
}

/** A sharp move over `dur` minutes with bigger lots, then a partial retrace with fading activity. */
function moveAndRetrace(shape: MinuteShape, m0: number, dur: number, logMove: number, boost: number, retrace: { frac: number; rdur: number; fade: number }): void {
  const n = shape.activity.length;
  for (let j = 0; j < dur && m0 + j < n; j++) {
    shape.drift[m0 + j]! += logMove / dur;
    shape.activity[m0 + j]! *= boost;
    shape.sizeMult[m0 + j] = 2;
    shape.volMult[m0 + j]! *= 2;
  }
  const { frac, rdur, fade } = retrace;
  for (let j = 0; j < rdur && m0 + dur + j < n; j++) {
    shape.drift[m0 + dur + j]! -= (logMove * frac) / rdur;
    shape.activity[m0 + dur + j]! *= 1 + fade * (1 - j / rdur);
  }
}

/** One intraday event of a random kind at a random minute, written into `shape`. */
function planEvent(r: Rng, shape: MinuteShape, density: Density): void {
  const n = shape.activity.length;
  const kind = EVENT_KINDS[r.pick(EVENT_WEIGHTS)]!;
  const where = r.next();
  const m0 = where < 0.65 ? r.int(RTH_OPEN_MINUTE + 5, 700) : where < 0.9 ? r.int(150, RTH_OPEN_MINUTE - 5) : r.int(725, 840);
  if (kind === 'spike' || kind === 'flush') {
    const spike = kind === 'spike';
    const dur = spike ? r.int(2, 6) : r.int(2, 7);
    const size = spike ? r.range(0.08, 0.3) : r.range(0.13, 0.28);
    const boost = minBurst(spike ? r.range(8, 25) : r.range(8, 20), density);
    const frac = spike ? r.range(0.3, 0.9) : r.range(0.2, 0.6);
    const rdur = spike ? r.int(8, 40) : r.int(10, 30);
    const logMove = Math.log(spike ? 1 + size : 1 - size);
    moveAndRetrace(shape, m0, dur, logMove, boost, { frac, rdur, fade: spike ? 3 : 2 });
    shape.events.push({ kind, minute: m0, magnitude: spike ? size : -size });
  } else if (kind === 'volume_burst') {
    const dur = r.int(1, 3);
    const boost = minBurst(r.range(10, 25), density);
    const move = r.normal() * 0.02;
    for (let j = 0; j < dur && m0 + j < n; j++) {
      shape.activity[m0 + j]! *= boost;
      shape.sizeMult[m0 + j] = 2.5;
      shape.drift[m0 + j]! += move / dur;
    }
    shape.events.push({ kind, minute: m0, magnitude: boost });
  } else {
    const up = r.chance(0.55);
    const mag = r.range(0.06, 0.18);
    const from = 360;
    const to = 690;
    for (let m = from; m < to; m++) {
      shape.drift[m]! += Math.log(up ? 1 + mag : 1 - mag) / (to - from);
      shape.activity[m]! *= 1.5;
    }
    shape.events.push({ kind: up ? 'trend_up' : 'trend_down', minute: from, magnitude: up ? mag : -mag });
  }
}

/**
 * The slope of each minute's leg. Price path in log space: legs (regimes of 20-180 minutes, each a
 * steady drift) plus a small random walk, so price trends away from the day's VWAP and stays on one
 * side of it for long stretches instead of chopping around it. Legs tend to continue the previous
 * direction (momentum) and break at the open and the close. In-play days swing wider (`volScale`).
 */
function legSlopes(r: Rng, n: number, close: number, volScale: number): Float64Array {
  const slope = new Float64Array(n);
  let dir = r.chance(0.5) ? 1 : -1;
  for (let m = 0; m < n; ) {
    const ext = m < RTH_OPEN_MINUTE || m >= close;
    const limit = m < RTH_OPEN_MINUTE ? RTH_OPEN_MINUTE : m < close ? close : n;
    let dur = ext ? r.int(60, 180) : r.int(SEG_MIN, SEG_MAX);
    if (limit - (m + dur) < 20) dur = limit - m;
    if (!r.chance(SEG_KEEP)) dir = -dir;
    const move = dir * (SEG_MIN_MOVE + Math.abs(r.normal())) * (ext ? SEG_MOVE_EXT : SEG_MOVE) * volScale * Math.sqrt(dur / 60);
    for (let j = 0; j < dur; j++) slope[m + j] = move / dur;
    m += dur;
  }
  return slope;
}

/** Log price at each minute boundary: the legs, the events' drift and the random walk. */
function logPrices(r: Rng, shape: MinuteShape, slope: Float64Array, close: number, start: number, sigma: number): Float64Array {
  const n = slope.length;
  const x = new Float64Array(n + 1);
  x[0] = start;
  for (let m = 0; m < n; m++) {
    const open = m < RTH_OPEN_MINUTE || m >= close ? EXT_WALK : m < RTH_OPEN_MINUTE + 30 ? 1.8 : 1;
    x[m + 1] = x[m]! + sigma * open * shape.volMult[m]! * r.normal() + slope[m]! + shape.drift[m]!;
  }
  return x;
}

/**
 * Per-minute correction that makes the regular-session close meet the next session day's anchor
 * (close → next open is the gap). It steepens the legs that already go its way (spread evenly only
 * when they are too few): added to every minute it would flatten legs going against it into chop.
 */
function closeCorrection(slope: Float64Array, fix: number, close: number): Float64Array {
  let along = 0;
  for (let m = 0; m < close; m++) if (slope[m]! * fix > 0) along++;
  const fixRate = new Float64Array(slope.length);
  for (let m = 0; m < close; m++) {
    fixRate[m] = along >= 90 ? (slope[m]! * fix > 0 ? fix / along : 0) : fix / close;
  }
  return fixRate;
}

/** Price level in dollars at each minute boundary, kept within $0.30–$60. */
function priceLevels(x: Float64Array, fixRate: Float64Array): Float64Array {
  const n = fixRate.length;
  const level = new Float64Array(n + 1);
  let cum = 0;
  for (let m = 0; m <= n; m++) {
    level[m] = Math.min(60, Math.max(0.3, Math.exp(x[m]! + cum)));
    if (m < n) cum += fixRate[m]!;
  }
  return level;
}

type MinuteFlow = Pick<DayPlan, 'counts' | 'starts' | 'vol' | 'noise' | 'flow' | 'spread'>;

/**
 * Trades per minute (Poisson) and, separately, the volume of each minute that trades: a smooth
 * intraday profile with moderate lognormal noise, so a minute's volume is never many times its
 * neighbours' unless the plan says so (bursts, spikes, flushes multiply activity and lot size).
 */
function minuteFlow(
  r: Rng,
  shape: MinuteShape,
  path: { readonly slope: Float64Array; readonly fixRate: Float64Array; readonly level: Float64Array; readonly sigma: number },
  day: { readonly close: number; readonly liquidity: number; readonly density: Density },
): MinuteFlow {
  const n = path.slope.length;
  const baseIntensity = baseIntensityFor(day.close);
  const f: MinuteFlow = { counts: new Int32Array(n), starts: new Int32Array(n + 1), vol: new Float64Array(n), noise: new Float64Array(n), flow: new Float64Array(n), spread: new Int32Array(n) };
  const rthSpread = r.range(0.0015, 0.005);
  const extSpread = r.range(0.003, 0.01);
  let spreadAr = 0;
  let total = 0;
  const dense = day.density === 'sparse' ? undefined : DENSE[day.density];
  for (let m = 0; m < n; m++) {
    const sparse = 0.6 * baseIntensity[m]! * day.liquidity * shape.activity[m]!;
    const lambda = dense
      ? Math.min(DENSE_CAP, (dense.floor + dense.scale * 0.6 * baseIntensity[m]! * day.liquidity) * burstOf(shape.activity[m]! / shape.dayBoost[m]!, day.density))
      : Math.min(1200, sparse);
    const c = r.poisson(lambda);
    f.counts[m] = c;
    f.starts[m] = total;
    total += c;
    f.vol[m] = c === 0 ? 0 : Math.round(LOT_SHARES * shape.sizeMult[m]! * (0.5 + lambda) * Math.exp(VOL_NOISE * r.normal() - VOL_NOISE * VOL_NOISE / 2));
    f.noise[m] = path.sigma * 0.8 * shape.volMult[m]!;
    const fl = (path.slope[m]! + shape.drift[m]! + path.fixRate[m]!) / FLOW_SLOPE;
    f.flow[m] = fl > 1 ? 1 : fl < -1 ? -1 : fl;
    // The quoted spread wanders slowly around the day's typical width (a fresh width every minute
    // would make every print jump by half a spread at random, chop no trader would recognise).
    spreadAr = 0.95 * spreadAr + 0.31 * r.normal();
    const price = path.level[m]!;
    const rel = (m >= RTH_OPEN_MINUTE && m < day.close ? rthSpread : extSpread) * Math.exp(0.15 * spreadAr);
    const tick = price >= 1 ? 0.01 : 0.0001;
    f.spread[m] = Math.max(1, Math.round((price * rel) / tick));
  }
  f.starts[n] = total;
  return f;
}

export function dayPlan(seed: number, ticker: string, day: number, eventinessOpt?: number, density: Density = 'sparse'): DayPlan {
  const eventiness = clampEventiness(eventinessOpt);
  const prof = tickerProfile(seed, ticker);
  const r = new Rng(`${seed}|${ticker}|${day}|${profileTag(eventiness, density)}|plan`);
  const n = SESSION_MINUTES;
  // Early-close days (13:00) end the regular session there; the extended session still runs to 20:00.
  const close = rthCloseMinute(day);
  const shape: MinuteShape = {
    activity: new Float64Array(n).fill(1),
    drift: new Float64Array(n),
    volMult: new Float64Array(n).fill(1),
    sizeMult: new Float64Array(n).fill(1),
    dayBoost: new Float64Array(n).fill(1),
    events: [],
  };
  const inPlay = r.chance(0.1 + 0.6 * eventiness) || density === 'in-play';
  let gap = r.normal() * 0.01;
  if (inPlay) gap = inPlaySession(r, shape, close) ?? gap;
  const nEvents = inPlay ? 1 + r.poisson(2 * eventiness) : r.chance(0.5 * eventiness) ? 1 : 0;
  for (let k = 0; k < nEvents; k++) planEvent(r, shape, density);

  const slope = legSlopes(r, n, close, prof.volScale * (inPlay ? 1.4 : 1));
  const sigma = WALK_SIGMA * prof.volScale;
  const x = logPrices(r, shape, slope, close, Math.log(anchorPrice(seed, ticker, day)) + gap, sigma);
  const target = Math.log(anchorPrice(seed, ticker, nextSessionDay(day))) + r.normal() * 0.005;
  const fixRate = closeCorrection(slope, target - x[close]!, close);
  const level = priceLevels(x, fixRate);
  const flow = minuteFlow(r, shape, { slope, fixRate, level, sigma }, { close, liquidity: prof.liquidity, density });
  const { sizeMult, events } = shape;
  return { seed, ticker, day, eventiness, density, tape: prof.tape, baseMs: sessionStartMs(day), rthClose: close, level, ...flow, sizeMult, events };
}

// ---------------------------------------------------------------------------------------------
// Trade core: prices and sizes (stream A)

/** E4 price → nearest valid price on the tick grid. */
export function toGridE4(e4: number): number {
  if (e4 >= 10_000) return Math.round(e4 / 100) * 100;
  const v = Math.round(e4);
  return v < 1 ? 1 : v;
}

export function tickE4(e4: number): number {
  return e4 >= 10_000 ? 100 : 1;
}

// Size buckets: odd lots, round lots, larger blocks. One uniform draw picks the bucket and, reused,
// the value inside it.
const SIZE_CUM = [0.28, 0.68, 0.78, 0.83, 0.92, 0.98, 1];

function drawSize(u: number): number {
  let size: number;
  if (u < SIZE_CUM[0]!) size = 1 + Math.floor((u / SIZE_CUM[0]!) * 99);
  else if (u < SIZE_CUM[1]!) size = 100;
  else if (u < SIZE_CUM[2]!) size = 200;
  else if (u < SIZE_CUM[3]!) size = 300;
  else if (u < SIZE_CUM[4]!) size = 100 * (4 + Math.floor(((u - SIZE_CUM[3]!) / 0.09) * 6));
  else if (u < SIZE_CUM[5]!) size = 100 * (10 + Math.floor(((u - SIZE_CUM[4]!) / 0.06) * 16));
  else size = 100 * (30 + Math.floor(((u - SIZE_CUM[5]!) / 0.02) * 71));
  return size;
}

export interface TradeCore {
  readonly plan: DayPlan;
  readonly price: Int32Array;
  readonly size: Int32Array;
}

export function tradeCore(plan: DayPlan): TradeCore {
  const total = plan.starts[SESSION_MINUTES]!;
  const price = new Int32Array(total);
  const size = new Int32Array(total);
  const r = new Rng(`${plan.seed}|${plan.ticker}|${plan.day}|${profileTag(plan.eventiness, plan.density)}|core`);
  for (let m = 0; m < SESSION_MINUTES; m++) {
    const c = plan.counts[m]!;
    if (c === 0) continue;
    const s0 = plan.starts[m]!;
    const l0 = plan.level[m]! * 1e4;
    const l1 = plan.level[m + 1]! * 1e4;
    const amp = plan.noise[m]!;
    // Order flow follows the leg: buyers lift the offer in an up-leg, sellers hit the bid in a
    // down-leg. With no drift, prints are 45% bid, 45% ask, 10% inside the spread.
    const flow = plan.flow[m]!;
    const strength = flow < 0 ? -flow : flow;
    const against = 0.45 * (1 - FLOW_SIDE * strength);
    const midCut = against + 0.1 * (1 - FLOW_SIDE * strength);
    const withSign = flow < 0 ? -1 : 1;
    let odd = 0;
    let lots = 0;
    for (let j = 0; j < c; j++) {
      // One 32-bit draw per trade, split: 12 bits of noise, 8 bits of side, 12 bits of size. Bars
      // are built from this loop alone, so its cost is the cost of a long minute-bar download.
      const w = r.u32();
      const f = c === 1 ? 0.5 : j / (c - 1);
      const mid = (l0 + (l1 - l0) * f) * (1 + amp * ((w & 0xfff) / 2048 - 1));
      const tick = mid >= 10_000 ? 100 : 1;
      const half = (plan.spread[m]! * tick) / 2;
      const side = ((w >>> 12) & 0xff) / 256;
      const p = side < against ? mid - withSign * half : side < midCut ? mid : mid + withSign * half;
      price[s0 + j] = toGridE4(p);
      const sz = drawSize((w >>> 20) / 4096);
      size[s0 + j] = sz;
      if (sz < 100) odd += sz;
      else lots += sz;
    }
    // Scale the round lots so the minute trades about its planned volume: sizes keep their mix
    // (odd lots, round lots, blocks), but one block can no longer make a quiet minute a spike.
    if (lots > 0) {
      const k = Math.max(0, plan.vol[m]! - odd) / lots;
      for (let i = s0; i < s0 + c; i++) {
        const sz = size[i]!;
        if (sz >= 100) size[i] = Math.max(100, 100 * Math.round((sz * k) / 100));
      }
    }
  }
  return { plan, price, size };
}

// ---------------------------------------------------------------------------------------------
// Minute bars, the exact aggregation of the trade core

/** Minute bars of one day as columns; prices in E4, `pv` = sum(priceE4 * size) (exact integer). */
export interface DayBars {
  readonly count: number;
  readonly t: Float64Array;
  readonly o: Int32Array;
  readonly h: Int32Array;
  readonly l: Int32Array;
  readonly c: Int32Array;
  readonly v: Float64Array;
  readonly pv: Float64Array;
  readonly n: Int32Array;
}

export const EMPTY_BARS: DayBars = {
  count: 0,
  t: new Float64Array(0),
  o: new Int32Array(0),
  h: new Int32Array(0),
  l: new Int32Array(0),
  c: new Int32Array(0),
  v: new Float64Array(0),
  pv: new Float64Array(0),
  n: new Int32Array(0),
};

export function barsFromCore(core: TradeCore): DayBars {
  const { plan, price, size } = core;
  let count = 0;
  for (let m = 0; m < SESSION_MINUTES; m++) if (plan.counts[m]! > 0) count++;
  const b = {
    count,
    t: new Float64Array(count),
    o: new Int32Array(count),
    h: new Int32Array(count),
    l: new Int32Array(count),
    c: new Int32Array(count),
    v: new Float64Array(count),
    pv: new Float64Array(count),
    n: new Int32Array(count),
  };
  let k = 0;
  for (let m = 0; m < SESSION_MINUTES; m++) {
    const cnt = plan.counts[m]!;
    if (cnt === 0) continue;
    const s0 = plan.starts[m]!;
    let hi = price[s0]!;
    let lo = hi;
    let vol = 0;
    let pv = 0;
    for (let i = s0; i < s0 + cnt; i++) {
      const p = price[i]!;
      if (p > hi) hi = p;
      if (p < lo) lo = p;
      vol += size[i]!;
      pv += p * size[i]!;
    }
    b.t[k] = plan.baseMs + m * 60_000;
    b.o[k] = price[s0]!;
    b.c[k] = price[s0 + cnt - 1]!;
    b.h[k] = hi;
    b.l[k] = lo;
    b.v[k] = vol;
    b.pv[k] = pv;
    b.n[k] = cnt;
    k++;
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
// Trades and quotes with every field (streams B and C)

const LIT_EXCHANGES = [12, 11, 10, 8, 7, 15, 19, 21, 1, 2, 3, 9];
const LIT_CUM = cumulative([30, 12, 8, 9, 4, 5, 9, 4, 3, 5, 3, 3]);
const TRF_IDS = [201, 202, 203];
const TRF_CUM = cumulative([60, 30, 10]);

/** Condition bits for trades; see {@link conditionCodes}. */
export const COND_EXTENDED = 1; // 12: Form T (extended hours)
export const COND_ISO = 2; // 14: intermarket sweep
export const COND_ODD_LOT = 4; // 37: odd lot

/** All trades and quotes of a ticker-day as columns. Times are ns offsets from the 04:00 base. */
export interface DayTicks {
  readonly day: number;
  readonly tape: number;
  /** UTC ms of 04:00 New York; absolute ns = baseMs * 1e6 + offset. */
  readonly baseMs: number;
  readonly tradeCount: number;
  readonly tSip: Float64Array;
  readonly tPart: Float64Array;
  /** TRF timestamp offset, NaN when the trade was not reported through a TRF. */
  readonly tTrf: Float64Array;
  readonly tPrice: Int32Array;
  readonly tSize: Int32Array;
  readonly tExch: Uint8Array;
  readonly tTrfId: Int32Array;
  readonly tCond: Uint8Array;
  readonly tSeq: Int32Array;
  readonly quoteCount: number;
  readonly qSip: Float64Array;
  readonly qPart: Float64Array;
  readonly qBid: Int32Array;
  readonly qAsk: Int32Array;
  readonly qBidSize: Int32Array;
  readonly qAskSize: Int32Array;
  readonly qBidExch: Uint8Array;
  readonly qAskExch: Uint8Array;
  readonly qSeq: Int32Array;
}

type TradeTicks = Pick<DayTicks, 'tSip' | 'tPart' | 'tTrf' | 'tExch' | 'tTrfId' | 'tCond' | 'tSeq'>;
type QuoteTicks = Pick<DayTicks, 'quoteCount' | 'qSip' | 'qPart' | 'qBid' | 'qAsk' | 'qBidSize' | 'qAskSize' | 'qBidExch' | 'qAskExch' | 'qSeq'>;

/** The plan's random stream named `part` (trades or quotes): each part draws from its own. */
function tickRng(plan: DayPlan, part: 'trades' | 'quotes'): Rng {
  return new Rng(`${plan.seed}|${plan.ticker}|${plan.day}|${profileTag(plan.eventiness, plan.density)}|${part}`);
}

/** Times, venues, conditions and sequence numbers of the day's trades (prices and sizes are the core's). */
function tradeTicks(plan: DayPlan, core: TradeCore): TradeTicks {
  const total = core.price.length;
  const t: TradeTicks = {
    tSip: new Float64Array(total),
    tPart: new Float64Array(total),
    tTrf: new Float64Array(total),
    tExch: new Uint8Array(total),
    tTrfId: new Int32Array(total),
    tCond: new Uint8Array(total),
    tSeq: new Int32Array(total),
  };
  const rb = tickRng(plan, 'trades');
  const gaps = new Float64Array(1300);
  for (let m = 0; m < SESSION_MINUTES; m++) {
    const c = plan.counts[m]!;
    if (c === 0) continue;
    // Exponential gaps give Poisson-like clustering; the j*MIN_TRADE_GAP term keeps times strictly
    // increasing and inside the minute whatever the draws.
    const g = c + 1 <= gaps.length ? gaps : new Float64Array(c + 1);
    let sum = 0;
    for (let j = 0; j <= c; j++) {
      const e = rb.exp();
      g[j] = e;
      sum += e;
    }
    const width = MINUTE_NS - 2 * MIN_TRADE_GAP_NS * (c + 1);
    const ext = m < RTH_OPEN_MINUTE || m >= plan.rthClose;
    let acc = 0;
    for (let j = 0; j < c; j++) {
      acc += g[j]!;
      const i = plan.starts[m]! + j;
      tradeVenue(rb, t, i, m * MINUTE_NS + Math.floor((width * acc) / sum) + (j + 1) * MIN_TRADE_GAP_NS, ext, core.size[i]!);
    }
  }
  return t;
}

/** Trade `i` at SIP time `sip`: its venue (a TRF a third of the time), latencies, conditions, sequence. */
function tradeVenue(rb: Rng, t: TradeTicks, i: number, sip: number, ext: boolean, size: number): void {
  t.tSip[i] = sip;
  const viaTrf = rb.next() < 0.35;
  const lat = 20_000 + Math.floor(rb.next() * 3_000_000);
  if (viaTrf) {
    t.tExch[i] = 4;
    t.tTrfId[i] = TRF_IDS[rb.pick(TRF_CUM)]!;
    const trfLat = 5_000 + Math.floor(rb.next() * 900_000);
    t.tTrf[i] = sip - trfLat;
    t.tPart[i] = sip - trfLat - lat;
  } else {
    t.tExch[i] = LIT_EXCHANGES[rb.pick(LIT_CUM)]!;
    t.tTrf[i] = NaN;
    t.tPart[i] = sip - lat;
  }
  let cond = 0;
  if (ext) cond |= COND_EXTENDED;
  if (size < 100) cond |= COND_ODD_LOT;
  if (!ext && !viaTrf && rb.next() < 0.06) cond |= COND_ISO;
  t.tCond[i] = cond;
  t.tSeq[i] = 4 * i + 1 + Math.floor(rb.next() * 3);
}

/** The NBBO updates of a day, appended one at a time into preallocated columns. */
class QuoteTape {
  private readonly qSip: Float64Array;
  private readonly qPart: Float64Array;
  private readonly qBid: Int32Array;
  private readonly qAsk: Int32Array;
  private readonly qBidSize: Int32Array;
  private readonly qAskSize: Int32Array;
  private readonly qBidExch: Uint8Array;
  private readonly qAskExch: Uint8Array;
  private readonly qSeq: Int32Array;
  private q = 0;

  constructor(private readonly rc: Rng, cap: number) {
    this.qSip = new Float64Array(cap);
    this.qPart = new Float64Array(cap);
    this.qBid = new Int32Array(cap);
    this.qAsk = new Int32Array(cap);
    this.qBidSize = new Int32Array(cap);
    this.qAskSize = new Int32Array(cap);
    this.qBidExch = new Uint8Array(cap);
    this.qAskExch = new Uint8Array(cap);
    this.qSeq = new Int32Array(cap);
  }

  emit(sip: number, bid: number, ask: number): void {
    const { q, rc } = this;
    this.qSip[q] = sip;
    this.qPart[q] = sip - (10_000 + Math.floor(rc.next() * 1_000_000));
    this.qBid[q] = bid;
    this.qAsk[q] = ask;
    this.qBidSize[q] = 100 * (1 + Math.floor(rc.next() * rc.next() * 40));
    this.qAskSize[q] = 100 * (1 + Math.floor(rc.next() * rc.next() * 40));
    this.qBidExch[q] = LIT_EXCHANGES[rc.pick(LIT_CUM)]!;
    this.qAskExch[q] = LIT_EXCHANGES[rc.pick(LIT_CUM)]!;
    this.qSeq[q] = 3 * q + 1 + Math.floor(rc.next() * 2);
    this.q++;
  }

  columns(): QuoteTicks {
    const q = this.q;
    return {
      quoteCount: q,
      qSip: this.qSip.subarray(0, q),
      qPart: this.qPart.subarray(0, q),
      qBid: this.qBid.subarray(0, q),
      qAsk: this.qAsk.subarray(0, q),
      qBidSize: this.qBidSize.subarray(0, q),
      qAskSize: this.qAskSize.subarray(0, q),
      qBidExch: this.qBidExch.subarray(0, q),
      qAskExch: this.qAskExch.subarray(0, q),
      qSeq: this.qSeq.subarray(0, q),
    };
  }
}

function quoteAround(mid: number, spreadTicks: number): [number, number] {
  const tick = tickE4(mid);
  let bid = toGridE4(mid - (spreadTicks * tick) / 2);
  if (bid < tick) bid = tick;
  return [bid, bid + spreadTicks * tick];
}

/**
 * Quotes: 1–4 (mean 2.5; 2–5 on dense days) NBBO updates strictly between consecutive trades; the
 * last one before a trade brackets its price, so bid <= price <= ask holds at every trade time.
 */
function quoteTicks(plan: DayPlan, core: TradeCore, tSip: Float64Array): QuoteTicks {
  const total = core.price.length;
  const rc = tickRng(plan, 'quotes');
  const dense = plan.density !== 'sparse';
  const tape = new QuoteTape(rc, (dense ? 5 : 4) * total + 4);
  let prevT = 0;
  let prevP = total > 0 ? core.price[0]! : Math.round(plan.level[0]! * 1e4);
  let minute = 0;
  for (let i = 0; i <= total; i++) {
    const last = i === total;
    const t = last ? SESSION_MINUTES * MINUTE_NS : tSip[i]!;
    const p = last ? prevP : core.price[i]!;
    if (!last) while (plan.starts[minute + 1]! <= i) minute++;
    const spreadTicks = plan.spread[last ? SESSION_MINUTES - 1 : minute]!;
    const u = rc.next();
    const r = last ? 1 + Math.floor(u * 3) : dense ? 2 + Math.floor(u * 4) : u < 0.15 ? 1 : u < 0.5 ? 2 : u < 0.85 ? 3 : 4;
    const gap = t - prevT;
    let prevQ = prevT;
    for (let k = 0; k < r; k++) {
      let sip = prevT + 1 + Math.floor(((gap - 2) * (k + rc.next())) / r);
      if (sip <= prevQ) sip = prevQ + 1;
      prevQ = sip;
      if (!last && k === r - 1) {
        const tick = tickE4(p);
        const below = Math.floor(rc.next() * (spreadTicks + 1));
        let bid = p - below * tick;
        if (bid < 1) bid = 1;
        // below <= spreadTicks, so ask = bid + spread >= price (also when bid is clamped).
        tape.emit(sip, bid, bid + spreadTicks * tick);
      } else {
        const [bid, ask] = quoteAround(prevP + (p - prevP) * ((k + 1) / (r + 1)), spreadTicks);
        tape.emit(sip, bid, ask);
      }
    }
    prevT = t;
    prevP = p;
  }
  return tape.columns();
}

export function dayTicks(plan: DayPlan, core: TradeCore): DayTicks {
  const trades = tradeTicks(plan, core);
  const quotes = quoteTicks(plan, core, trades.tSip);
  return { day: plan.day, tape: plan.tape, baseMs: plan.baseMs, tradeCount: core.price.length, ...trades, tPrice: core.price, tSize: core.size, ...quotes };
}

export const EMPTY_TICKS: DayTicks = {
  day: 0,
  tape: 3,
  baseMs: 0,
  tradeCount: 0,
  tSip: new Float64Array(0),
  tPart: new Float64Array(0),
  tTrf: new Float64Array(0),
  tPrice: new Int32Array(0),
  tSize: new Int32Array(0),
  tExch: new Uint8Array(0),
  tTrfId: new Int32Array(0),
  tCond: new Uint8Array(0),
  tSeq: new Int32Array(0),
  quoteCount: 0,
  qSip: new Float64Array(0),
  qPart: new Float64Array(0),
  qBid: new Int32Array(0),
  qAsk: new Int32Array(0),
  qBidSize: new Int32Array(0),
  qAskSize: new Int32Array(0),
  qBidExch: new Uint8Array(0),
  qAskExch: new Uint8Array(0),
  qSeq: new Int32Array(0),
};

/** Condition codes of a trade's condition bits, in ascending order. */
export function conditionCodes(bits: number): number[] {
  const out: number[] = [];
  if (bits & COND_EXTENDED) out.push(12);
  if (bits & COND_ISO) out.push(14);
  if (bits & COND_ODD_LOT) out.push(37);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Cached accessors: bars are small and asked for in long runs of days (detect stage), ticks are
// large and asked for a few days at a time (event windows), so they get separate LRUs.

const barsCache = new LruCache<string, DayBars>(2048);
const ticksCache = new LruCache<string, DayTicks>(16);
/** A dense day holds up to ~1 M quotes (~40 MB of columns): keep fewer of them. */
const denseTicksCache = new LruCache<string, DayTicks>(4);

function key(seed: number, ticker: string, day: number, eventiness: number, density: Density): string {
  return `${seed}|${profileTag(eventiness, density)}|${ticker}|${day}`;
}

export function getDayBars(seed: number, ticker: string, day: number, eventiness = DEFAULT_EVENTINESS, density: Density = 'sparse'): DayBars {
  if (!isSessionDay(day)) return EMPTY_BARS;
  const k = key(seed, ticker, day, eventiness, density);
  let b = barsCache.get(k);
  if (!b) {
    b = barsFromCore(tradeCore(dayPlan(seed, ticker, day, eventiness, density)));
    barsCache.set(k, b);
  }
  return b;
}

export function getDayTicks(seed: number, ticker: string, day: number, eventiness = DEFAULT_EVENTINESS, density: Density = 'sparse'): DayTicks {
  if (!isSessionDay(day)) return EMPTY_TICKS;
  const k = key(seed, ticker, day, eventiness, density);
  const cache = density === 'sparse' ? ticksCache : denseTicksCache;
  let t = cache.get(k);
  if (!t) {
    const plan = dayPlan(seed, ticker, day, eventiness, density);
    const core = tradeCore(plan);
    t = dayTicks(plan, core);
    cache.set(k, t);
    if (!barsCache.get(k)) barsCache.set(k, barsFromCore(core));
  }
  return t;
}
