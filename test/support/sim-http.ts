/** HTTP helpers for the simulator's tests: plain undici requests, exact ns timestamps, a pager. */
import { request } from 'undici';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  const res = await request(url, { headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

const NS_FIELDS = /"(sip_timestamp|participant_timestamp|trf_timestamp)":(-?\d+)/g;

/** JSON.parse that keeps nanosecond timestamps exact, as decimal strings. */
export function parseExact(text: string): any {
  return JSON.parse(text.replace(NS_FIELDS, '"$1":"$2"'));
}

/** Adds the key to a next_url the way every official client does. */
export function withKey(url: string, key: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}apiKey=${encodeURIComponent(key)}`;
}

export interface PagedResult {
  results: any[];
  pages: any[];
  urls: string[];
}

/** Follows next_url until the end (bounded), returning all results in page order. */
export async function pageAll(firstUrl: string, key: string, maxPages = 10_000): Promise<PagedResult> {
  const results: any[] = [];
  const pages: any[] = [];
  const urls: string[] = [];
  let url: string | undefined = firstUrl;
  while (url !== undefined) {
    if (pages.length >= maxPages) throw new Error(`more than ${maxPages} pages`);
    urls.push(url);
    const r = await get(withKey(url, key));
    if (r.status !== 200) throw new Error(`HTTP ${r.status} for ${url}: ${r.text}`);
    const body = parseExact(r.text);
    pages.push(body);
    results.push(...(body.results ?? []));
    url = body.next_url;
  }
  return { results, pages, urls };
}

/** A bigint-bearing record with its bigints as decimal strings (the shape parseExact gives). */
export function stringifyBigints<T extends object>(rec: T): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rec)) out[k] = typeof v === 'bigint' ? v.toString() : v;
  return out;
}
