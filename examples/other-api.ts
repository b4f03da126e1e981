/**
 * Example: tickpipe's rate limiting and retries reused against another paged REST API.
 *
 * A tiny paged JSON API (`GET /items?cursor=N` → `{ items, next }`) runs on 127.0.0.1 inside this
 * file and answers some requests with 503 or 429 (+ Retry-After). Every request, retries included,
 * first takes a token from ONE shared `TokenBucket` (`rateLimit`), failures are retried with
 * exponential backoff and full jitter (`retryBackoff`), a 429 pauses the whole bucket, and pages
 * are followed until `next` is null.
 *
 *   npx tsc -p tsconfig.examples.json && node dist-examples/other-api.js
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EMPTY, defer, expand, lastValueFrom, map, mergeMap, of, reduce, type Observable } from 'rxjs';
import { RateLimitedError, ServerError, TokenBucket, rateLimit, retryBackoff } from 'tickpipe';

/** One page of the other API. */
export interface ItemsPage {
  readonly items: readonly number[];
  readonly next: number | null;
}

/** A paged API serving `count` items in pages of `pageSize`; every 5th request is a 503, every 7th a 429. */
export async function startPagedApi(count = 200, pageSize = 10): Promise<{ url: string; requests(): number; close(): Promise<void> }> {
  let n = 0;
  const server: Server = createServer((req, res) => {
    n++;
    const url = new URL(req.url ?? '/', 'http://x');
    if (n % 7 === 0) {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' }).end('{"error":"slow down"}');
      return;
    }
    if (n % 5 === 0) {
      res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"try again"}');
      return;
    }
    const cursor = Number(url.searchParams.get('cursor') ?? 0);
    const items = Array.from({ length: Math.max(0, Math.min(pageSize, count - cursor)) }, (_, i) => cursor + i);
    const next = cursor + pageSize < count ? cursor + pageSize : null;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items, next }));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => n,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

/** Options of {@link main}. */
export interface OtherApiOptions {
  /** Base URL of a paged API. @default a paged API started in-process on 127.0.0.1 */
  readonly baseUrl?: string;
  /** Requests per second, shared by all streams. @default 200 */
  readonly rate?: number;
  /** Listings fetched at once (each a paged stream through the same bucket). @default 3 */
  readonly listings?: number;
}

/** What one call did. */
export interface OtherApiResult {
  readonly items: number;
  readonly pages: number;
  readonly retries: number;
  readonly rateLimitPauses: number;
  readonly requests: number;
}

export async function main(opts: OtherApiOptions = {}): Promise<OtherApiResult> {
  const api = opts.baseUrl === undefined ? await startPagedApi() : undefined;
  const baseUrl = opts.baseUrl ?? api!.url;
  const bucket = new TokenBucket({ rate: opts.rate ?? 200 });
  let retries = 0;
  let requests = 0;

  // One try of one page: wait for a token, send, classify the failure so retryBackoff knows what to do.
  const fetchPage = (cursor: number): Observable<ItemsPage> =>
    of(cursor).pipe(
      rateLimit(bucket),
      mergeMap(async () => {
        requests++;
        const res = await fetch(`${baseUrl}/items?cursor=${cursor}`);
        if (res.status === 429) {
          const retryAfterMs = Number(res.headers.get('retry-after') ?? 1) * 1000;
          bucket.onRateLimited(retryAfterMs); // pauses every stream sharing the bucket
          throw new RateLimitedError(`429 on cursor ${cursor}`, retryAfterMs);
        }
        if (res.status >= 500) throw new ServerError(`${res.status} on cursor ${cursor}`, res.status);
        if (!res.ok) throw new Error(`${res.status} on cursor ${cursor}`); // not retryable
        bucket.onSuccess();
        return (await res.json()) as ItemsPage;
      }),
    );

  // Retry each page on its own, so a failure repeats one request, not the whole listing. This API
  // fails ~31% of requests, so 12 tries leave a page ~1e-6 odds of failing for good.
  const page$ = (cursor: number) =>
    defer(() => fetchPage(cursor)).pipe(retryBackoff({ maxAttempts: 12, baseMs: 10, capMs: 200, onRetry: () => retries++ }));

  const listing$ = () => page$(0).pipe(expand((p) => (p.next === null ? EMPTY : page$(p.next))));

  try {
    const listings = opts.listings ?? 3;
    const totals = await lastValueFrom(
      of(...Array.from({ length: listings }, (_, i) => i)).pipe(
        mergeMap(() => listing$()),
        map((p) => p.items.length),
        reduce((acc, n) => ({ items: acc.items + n, pages: acc.pages + 1 }), { items: 0, pages: 0 }),
      ),
    );
    return { ...totals, retries, rateLimitPauses: bucket.stats().pauses, requests };
  } finally {
    await api?.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  console.log(JSON.stringify(await main(), null, 2));
}
