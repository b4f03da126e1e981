/** The generated reference ticker list (`/v3/reference/tickers`), a pure function of seed and size. */
import { Rng, hashHex } from './prng.js';
import { LruCache } from './lru.js';
import { str } from './json.js';

export interface RefTicker {
  readonly ticker: string;
  readonly name: string;
  readonly primary_exchange: string;
  readonly type: string;
  readonly cik: string;
  readonly composite_figi: string;
  readonly share_class_figi: string;
}

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const SUFFIXES = ['Holdings Inc.', 'Therapeutics Inc.', 'Technologies Corp.', 'Biosciences Inc.', 'Energy Corp.', 'Group Ltd.', 'Mining Corp.', 'Pharmaceuticals Inc.'];
const EXCHANGES = ['XNAS', 'XNAS', 'XNAS', 'XNYS', 'XASE', 'ARCX'];
const FIGI_CHARS = 'BCDFGHJKLMNPQRSTVWXYZ0123456789';

const cache = new LruCache<string, readonly RefTicker[]>(8);

export function referenceTickers(seed: number, count: number): readonly RefTicker[] {
  const key = `${seed}|${count}`;
  let list = cache.get(key);
  if (list) return list;
  const r = new Rng(`${seed}|tickers`);
  const seen = new Set<string>();
  const out: RefTicker[] = [];
  while (out.length < count) {
    const u = r.next();
    const len = u < 0.02 ? 1 : u < 0.08 ? 2 : u < 0.45 ? 3 : u < 0.97 ? 4 : 5;
    let t = '';
    for (let i = 0; i < len; i++) t += LETTERS[r.int(0, 25)];
    const warrant = r.chance(0.03);
    if (warrant) t = `${t.slice(0, 4)}.WS`;
    if (seen.has(t)) continue;
    seen.add(t);
    const figi = (tag: string): string => {
      let s = 'BBG';
      const h = hashHex(`${seed}|${t}|${tag}`);
      for (let i = 0; i < 9; i++) s += FIGI_CHARS[parseInt(h.slice(2 * i, 2 * i + 2), 16) % FIGI_CHARS.length];
      return s;
    };
    out.push({
      ticker: t,
      name: `${t.charAt(0)}${t.slice(1).toLowerCase().replace('.ws', '')} ${SUFFIXES[r.int(0, SUFFIXES.length - 1)]}${warrant ? ' Warrants' : ''}`,
      primary_exchange: EXCHANGES[r.int(0, EXCHANGES.length - 1)]!,
      type: warrant ? 'WARRANT' : r.chance(0.05) ? 'ETF' : 'CS',
      cik: String(r.int(1_000_000, 1_999_999)).padStart(10, '0'),
      composite_figi: figi('c'),
      share_class_figi: figi('s'),
    });
  }
  out.sort((a, b) => (a.ticker < b.ticker ? -1 : a.ticker > b.ticker ? 1 : 0));
  list = out;
  cache.set(key, list);
  return list;
}

export function refTickerJson(t: RefTicker): string {
  return (
    `{"ticker":${str(t.ticker)},"name":${str(t.name)},"market":"stocks","locale":"us",` +
    `"primary_exchange":${str(t.primary_exchange)},"type":${str(t.type)},"active":true,"currency_name":"usd",` +
    `"cik":${str(t.cik)},"composite_figi":${str(t.composite_figi)},"share_class_figi":${str(t.share_class_figi)},` +
    `"last_updated_utc":"2024-01-02T00:00:00Z"}`
  );
}
