/**
 * The endpoints: request parsing and the response envelopes of the real API. Handlers throw
 * BadRequestError / NotFoundError; the server turns them into the API's ERROR / NOT_FOUND bodies.
 *
 * Time parameters, where the real API leaves the meaning of a date open:
 * - a date `YYYY-MM-DD` stands for its whole New York day: `from`/`timestamp.gte` start at its
 *   midnight, `to`/`timestamp.lte` include all of it, `timestamp.gt` starts after it,
 *   `timestamp.lt` ends before it, `timestamp=DATE` is that day;
 * - aggregates take Unix ms, trades/quotes Unix ns; numeric bounds are inclusive (gt/lt exclusive);
 * - trades/quotes need at least one bound; with only one, the range is the rest of that bound's
 *   New York day (the real API would default to "most recent", which has no place in a seeded sim).
 * - Empty aggregate results omit `results` (as the real API does); v3 listings send `results: []`.
 */
import { BadRequestError, NotFoundError } from '../errors.js';
import { nyDayOfMs, nyMidnightMs, parseDay } from './calendar.js';
import { cursorField, decodeCursor, encodeCursor } from './cursor.js';
import { aggJson, str } from './json.js';
import { ByteWriter, COMMA, writeQuote, writeTrade } from './tick-bytes.js';
import { aggPage, type Timespan } from './aggs.js';
import { tickPage, type Order, type TickKind } from './ticks.js';
import type { Density } from './market.js';
import { referenceTickers, refTickerJson } from './tickers.js';

export const TICKER_RE = /^[A-Z][A-Z0-9.]{0,9}$/;
export const MAX_LIMIT = 50_000;

export interface RouteContext {
  readonly seed: number;
  readonly eventiness: number;
  readonly density?: Density;
  readonly tickerCount: number;
  /** `http://host:port` as the client addressed the server. */
  readonly origin: string;
  readonly requestId: string;
  /** Path and query as received, without the API key. */
  readonly url: URL;
  readonly repeatCursor: boolean;
  /** A key to echo into every next_url (the `echoKey` option), else undefined. */
  readonly echoKey?: string | undefined;
}

export interface RouteResult {
  readonly status: number;
  readonly body: Buffer;
  /** The next_url was pointed back at the page just served (fault injection). */
  readonly repeatedCursor: boolean;
}

const AGGS_RE = /^\/v2\/aggs\/ticker\/([^/]+)\/range\/([^/]+)\/([^/]+)\/([^/]+)\/([^/]+)\/?$/;
const TICKS_RE = /^\/v3\/(trades|quotes)\/([^/]+)\/?$/;
const TICKERS_RE = /^\/v3\/reference\/tickers\/?$/;

export function route(ctx: RouteContext): RouteResult {
  const path = ctx.url.pathname;
  let m = AGGS_RE.exec(path);
  if (m) return aggregates(ctx, m);
  m = TICKS_RE.exec(path);
  if (m) return ticks(ctx, m[1] as TickKind, m[2]!);
  if (TICKERS_RE.test(path)) return tickers(ctx);
  throw new NotFoundError(`Not found: ${path}`);
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new BadRequestError(`malformed path segment ${JSON.stringify(part)}`, 400);
  }
}

function ticker(raw: string): string {
  const t = decode(raw);
  if (!TICKER_RE.test(t)) {
    throw new BadRequestError(`invalid ticker ${JSON.stringify(t)}: expected 1-10 of A-Z, 0-9, '.' starting with a letter`, 400);
  }
  return t;
}

function limitParam(q: URLSearchParams, fallback: number, max: number): number {
  const v = q.get('limit');
  if (v === null) return fallback;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > max) {
    throw new BadRequestError(`limit must be a whole number from 1 to ${max}, got ${JSON.stringify(v)}`, 400);
  }
  return Number(v);
}

function orderParam(q: URLSearchParams, name: string, fallback: Order): Order {
  const v = q.get(name);
  if (v === null) return fallback;
  if (v !== 'asc' && v !== 'desc') throw new BadRequestError(`${name} must be asc or desc, got ${JSON.stringify(v)}`, 400);
  return v;
}

function origin(ctx: RouteContext, pathAndQuery: string): string {
  return `${ctx.origin}${pathAndQuery}${ctx.echoKey !== undefined ? `&apiKey=${encodeURIComponent(ctx.echoKey)}` : ''}`;
}

/** The URL of the page just served, for the repeat-cursor fault (only pages reached by cursor). */
function selfUrl(ctx: RouteContext): string | undefined {
  const c = ctx.url.searchParams.get('cursor');
  return c === null ? undefined : origin(ctx, `${ctx.url.pathname}?cursor=${c}`);
}

// ---------------------------------------------------------------------------------------------
// /v2/aggs

const TIMESPANS = ['minute', 'hour', 'day'];
const UNSUPPORTED_TIMESPANS = ['second', 'week', 'month', 'quarter', 'year'];

/** A `from`/`to` path value → [first ms, last ms] it stands for (a date is its whole NY day). */
function timeParam(name: string, v: string): [number, number] {
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) {
    const d = parseDay(v);
    if (d !== undefined) return [nyMidnightMs(d), nyMidnightMs(d + 1) - 1];
  } else if (/^\d{1,15}$/.test(v)) {
    const ms = Number(v);
    return [ms, ms];
  }
  throw new BadRequestError(
    `Could not parse the time parameter: '${name}' (${JSON.stringify(v)}). Use YYYY-MM-DD or Unix MS Timestamps`,
    400,
  );
}

function aggregates(ctx: RouteContext, m: RegExpExecArray): RouteResult {
  const t = ticker(m[1]!);
  const multRaw = decode(m[2]!);
  const timespan = decode(m[3]!);
  const fromRaw = decode(m[4]!);
  const toRaw = decode(m[5]!);
  if (!/^\d{1,6}$/.test(multRaw) || Number(multRaw) < 1) {
    throw new BadRequestError(`multiplier must be a whole number of at least 1, got ${JSON.stringify(multRaw)}`, 400);
  }
  if (!TIMESPANS.includes(timespan)) {
    if (UNSUPPORTED_TIMESPANS.includes(timespan)) {
      throw new BadRequestError(`timespan ${JSON.stringify(timespan)} is not supported by the simulator (minute, hour, day)`, 400);
    }
    throw new BadRequestError(`invalid timespan ${JSON.stringify(timespan)}`, 400);
  }
  const fromMs = timeParam('from', fromRaw)[0];
  const toMs = timeParam('to', toRaw)[1];

  const q = ctx.url.searchParams;
  const cursor = q.get('cursor');
  let limit: number;
  let sort: Order;
  let adjusted: boolean;
  if (cursor !== null) {
    const c = decodeCursor(cursor);
    limit = Number(cursorField(c, 'limit'));
    sort = cursorField(c, 'sort') === 'desc' ? 'desc' : 'asc';
    adjusted = cursorField(c, 'adjusted') !== 'false';
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new BadRequestError('invalid cursor: bad limit', 400);
  } else {
    limit = limitParam(q, 5000, MAX_LIMIT);
    sort = orderParam(q, 'sort', 'asc');
    const adj = q.get('adjusted');
    if (adj !== null && adj !== 'true' && adj !== 'false') {
      throw new BadRequestError(`adjusted must be true or false, got ${JSON.stringify(adj)}`, 400);
    }
    adjusted = adj !== 'false';
  }

  const page = aggPage({
    seed: ctx.seed,
    eventiness: ctx.eventiness,
    density: ctx.density,
    ticker: t,
    multiplier: Number(multRaw),
    timespan: timespan as Timespan,
    fromMs,
    toMs,
    sort,
    limit,
  });

  let nextUrl: string | undefined;
  let repeated = false;
  if (page.nextBoundMs !== undefined) {
    const c = encodeCursor({ v: '1', limit: String(limit), sort, adjusted: String(adjusted) });
    const from = sort === 'asc' ? String(page.nextBoundMs) : fromRaw;
    const to = sort === 'asc' ? toRaw : String(page.nextBoundMs);
    nextUrl = origin(ctx, `/v2/aggs/ticker/${encodeURIComponent(t)}/range/${multRaw}/${timespan}/${from}/${to}?cursor=${c}`);
    const self = ctx.repeatCursor ? selfUrl(ctx) : undefined;
    if (self !== undefined) {
      nextUrl = self;
      repeated = true;
    }
  }
  const w = new ByteWriter();
  w.text(`{"ticker":${str(t)},"queryCount":${page.queryCount},"resultsCount":${page.results.length},"adjusted":${adjusted},`);
  // Like the real API, an empty result has no `results` key at all.
  if (page.results.length > 0) {
    w.text('"results":[');
    page.results.forEach((a, i) => w.text(i === 0 ? aggJson(a) : `,${aggJson(a)}`));
    w.text('],');
  }
  w.text(`"status":"OK","request_id":"${ctx.requestId}"${nextUrl !== undefined ? `,"next_url":${str(nextUrl)}` : ''}}`);
  return { status: 200, body: w.finish(), repeatedCursor: repeated };
}

// ---------------------------------------------------------------------------------------------
// /v3/trades, /v3/quotes

/** A timestamp filter value → [first ns, last ns] it stands for (a date is its whole NY day). */
function nsParam(name: string, v: string): [bigint, bigint] {
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) {
    const d = parseDay(v);
    if (d !== undefined) {
      return [BigInt(nyMidnightMs(d)) * 1_000_000n, BigInt(nyMidnightMs(d + 1)) * 1_000_000n - 1n];
    }
  } else if (/^\d{1,19}$/.test(v)) {
    const ns = BigInt(v);
    return [ns, ns];
  }
  throw new BadRequestError(
    `Could not parse the timestamp parameter: '${name}' (${JSON.stringify(v)}). Use YYYY-MM-DD or Unix nanosecond timestamps`,
    400,
  );
}

const MAX_NS = 10n ** 19n;

function tickRange(q: URLSearchParams): [bigint, bigint] {
  let lo: bigint | undefined;
  let hi: bigint | undefined;
  const raise = (x: bigint): void => {
    lo = lo === undefined || x > lo ? x : lo;
  };
  const lower = (x: bigint): void => {
    hi = hi === undefined || x < hi ? x : hi;
  };
  const exact = q.get('timestamp');
  if (exact !== null) {
    const [a, b] = nsParam('timestamp', exact);
    raise(a);
    lower(b);
  }
  const gte = q.get('timestamp.gte');
  if (gte !== null) raise(nsParam('timestamp.gte', gte)[0]);
  const gt = q.get('timestamp.gt');
  if (gt !== null) raise(nsParam('timestamp.gt', gt)[1] + 1n);
  const lte = q.get('timestamp.lte');
  if (lte !== null) lower(nsParam('timestamp.lte', lte)[1]);
  const lt = q.get('timestamp.lt');
  if (lt !== null) lower(nsParam('timestamp.lt', lt)[0] - 1n);
  if (lo === undefined && hi === undefined) {
    throw new BadRequestError(
      'the simulator needs a time range: give timestamp, timestamp.gte/gt and/or timestamp.lte/lt (a date or Unix ns)',
      400,
    );
  }
  // One bound alone means the rest of that bound's New York day, which keeps scans finite.
  const dayEdge = (ns: bigint, end: boolean): bigint => {
    const d = nyDayOfMs(Number(ns / 1_000_000n));
    return end ? BigInt(nyMidnightMs(d + 1)) * 1_000_000n - 1n : BigInt(nyMidnightMs(d)) * 1_000_000n;
  };
  if (lo === undefined) lo = dayEdge(hi!, false);
  if (hi === undefined) hi = dayEdge(lo, true);
  return [lo, hi];
}

function ticks(ctx: RouteContext, kind: TickKind, rawTicker: string): RouteResult {
  const t = ticker(rawTicker);
  const q = ctx.url.searchParams;
  const cursor = q.get('cursor');
  let lo: bigint;
  let hi: bigint;
  let order: Order;
  let limit: number;
  let after: bigint | undefined;
  if (cursor !== null) {
    const c = decodeCursor(cursor);
    const big = (name: string): bigint => {
      const v = cursorField(c, name);
      if (!/^-?\d{1,20}$/.test(v)) throw new BadRequestError(`invalid cursor: bad ${name}`, 400);
      return BigInt(v);
    };
    lo = big('lo');
    hi = big('hi');
    after = big('after');
    order = cursorField(c, 'order') === 'asc' ? 'asc' : 'desc';
    limit = Number(cursorField(c, 'limit'));
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new BadRequestError('invalid cursor: bad limit', 400);
  } else {
    const sort = q.get('sort');
    if (sort !== null && sort !== 'timestamp') throw new BadRequestError(`sort must be timestamp, got ${JSON.stringify(sort)}`, 400);
    order = orderParam(q, 'order', 'desc');
    limit = limitParam(q, 1000, MAX_LIMIT);
    [lo, hi] = tickRange(q);
    if (hi > MAX_NS) hi = MAX_NS;
  }

  const w = new ByteWriter(256 * 1024);
  w.bytes(RESULTS_OPEN);
  const row = kind === 'trades' ? writeTrade : writeQuote;
  let first = true;
  const page = tickPage({ seed: ctx.seed, eventiness: ctx.eventiness, density: ctx.density, ticker: t, kind, lo, hi, order, after }, limit, (d, i) => {
    if (!first) w.byte(COMMA);
    row(w, d, i);
    first = false;
  });

  let nextUrl: string | undefined;
  let repeated = false;
  if (page.next !== undefined) {
    const c = encodeCursor({ v: '1', lo: String(lo), hi: String(hi), order, limit: String(limit), after: String(page.next) });
    nextUrl = origin(ctx, `/v3/${kind}/${encodeURIComponent(t)}?cursor=${c}`);
    const self = ctx.repeatCursor ? selfUrl(ctx) : undefined;
    if (self !== undefined) {
      nextUrl = self;
      repeated = true;
    }
  }
  w.text(`],"status":"OK","request_id":"${ctx.requestId}"${nextUrl !== undefined ? `,"next_url":${str(nextUrl)}` : ''}}`);
  return { status: 200, body: w.finish(), repeatedCursor: repeated };
}

const RESULTS_OPEN = Buffer.from('{"results":[', 'latin1');

// ---------------------------------------------------------------------------------------------
// /v3/reference/tickers

const TICKER_FILTERS = ['ticker', 'ticker.gte', 'ticker.gt', 'ticker.lte', 'ticker.lt', 'search', 'type', 'market', 'exchange', 'active'];

function tickers(ctx: RouteContext): RouteResult {
  const q = ctx.url.searchParams;
  const cursor = q.get('cursor');
  let p: URLSearchParams;
  let after: string | undefined;
  if (cursor !== null) {
    p = decodeCursor(cursor);
    after = cursorField(p, 'after');
  } else {
    p = q;
    const sort = q.get('sort');
    if (sort !== null && sort !== 'ticker') {
      throw new BadRequestError(`sort ${JSON.stringify(sort)} is not supported by the simulator (ticker)`, 400);
    }
    const active = q.get('active');
    if (active !== null && active !== 'true' && active !== 'false') {
      throw new BadRequestError(`active must be true or false, got ${JSON.stringify(active)}`, 400);
    }
  }
  const order = orderParam(p, 'order', 'asc');
  const limit = limitParam(p, 100, 1000);
  const f = (name: string): string | null => p.get(name);
  const search = f('search')?.toLowerCase();
  const match = (r: { ticker: string; name: string; type: string; primary_exchange: string }): boolean => {
    const tk = r.ticker;
    if (f('ticker') !== null && tk !== f('ticker')) return false;
    if (f('ticker.gte') !== null && !(tk >= f('ticker.gte')!)) return false;
    if (f('ticker.gt') !== null && !(tk > f('ticker.gt')!)) return false;
    if (f('ticker.lte') !== null && !(tk <= f('ticker.lte')!)) return false;
    if (f('ticker.lt') !== null && !(tk < f('ticker.lt')!)) return false;
    if (f('type') !== null && r.type !== f('type')) return false;
    if (f('market') !== null && f('market') !== 'stocks') return false;
    if (f('exchange') !== null && r.primary_exchange !== f('exchange')) return false;
    if (f('active') === 'false') return false;
    if (search !== undefined && !tk.toLowerCase().includes(search) && !r.name.toLowerCase().includes(search)) return false;
    return true;
  };

  const list = referenceTickers(ctx.seed, ctx.tickerCount);
  const rows: string[] = [];
  let last: string | undefined;
  let more = false;
  const n = list.length;
  for (let k = 0; k < n; k++) {
    const r = list[order === 'asc' ? k : n - 1 - k]!;
    if (after !== undefined && (order === 'asc' ? r.ticker <= after : r.ticker >= after)) continue;
    if (!match(r)) continue;
    if (rows.length === limit) {
      more = true;
      break;
    }
    rows.push(refTickerJson(r));
    last = r.ticker;
  }

  let nextUrl: string | undefined;
  let repeated = false;
  if (more && last !== undefined) {
    const fields: Record<string, string> = { v: '1', order, limit: String(limit), after: last };
    for (const name of TICKER_FILTERS) {
      const v = f(name);
      if (v !== null) fields[name] = v;
    }
    nextUrl = origin(ctx, `/v3/reference/tickers?cursor=${encodeCursor(fields)}`);
    const self = ctx.repeatCursor ? selfUrl(ctx) : undefined;
    if (self !== undefined) {
      nextUrl = self;
      repeated = true;
    }
  }
  const body =
    `{"results":[${rows.join(',')}],"status":"OK","request_id":"${ctx.requestId}","count":${rows.length}` +
    (nextUrl !== undefined ? `,"next_url":${str(nextUrl)}` : '') +
    '}';
  return { status: 200, body: Buffer.from(body, 'utf8'), repeatedCursor: repeated };
}
