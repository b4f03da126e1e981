/**
 * The pagination layer: next_url rules (pure), laziness and error order (over plain Observables),
 * and loop detection against the simulator's repeat-cursor fault on both the row and column paths.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastValueFrom, of, take, toArray, defer, type Observable } from 'rxjs';
import { followNextUrl, paginate$, type ListingSpec } from '../../../src/streams/http/pagination.js';
import { startSim, type SimServer } from '../../../src/sim/index.js';
import { PolygonClient } from '../../../src/streams/polygon-client.js';
import { TickColumns } from '../../../src/streams/column-scanner.js';
import { PaginationLoopError, ProtocolError } from '../../../src/errors.js';

const O = 'http://127.0.0.1:8080';
const L = '/v3/trades/X';
const DAY = { gte: 1710216000000000000n, lte: 1710302399999999999n }; // 2024-03-12 in New York, ns

describe('followNextUrl', () => {
  it('returns path and query on the origin, without key members, and records the cursor', () => {
    const seen = new Set<string>();
    expect(followNextUrl(`${O}/v3/trades/X?cursor=abc&apiKey=k`, O, seen, L, 1)).toBe('/v3/trades/X?cursor=abc');
    expect(followNextUrl('/v3/trades/X?cursor=def', O, seen, L, 2)).toBe('/v3/trades/X?cursor=def');
    expect([...seen]).toEqual(['abc', 'def']);
  });

  it.each([
    ['http://evil.example/v3/trades/X?cursor=1', ProtocolError, /page 3 has a next_url on another origin \(http:\/\/evil\.example\); not following it with the API key/],
    ['https://127.0.0.1:8080/v3/trades/X?cursor=1', ProtocolError, /another origin/],
    ['http://[bad', ProtocolError, /page 3 has an unparseable next_url/],
    [`${O}/v3/trades/X?cursor=seen`, PaginationLoopError, /next_url of page 3 repeats a cursor already seen in this listing/],
    [`${O}/v3/trades/X?apiKey=other&cursor=seen`, PaginationLoopError, /repeats a cursor/],
  ] as const)('%s → %o', (url, cls, message) => {
    const seen = new Set(['seen']);
    let err: unknown;
    try {
      followNextUrl(url, O, seen, L, 3);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(cls);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message.startsWith(`${L}: `)).toBe(true);
  });

  it('a listing without cursors is identified by its whole path and query', () => {
    const seen = new Set<string>();
    followNextUrl('/v2/aggs/ticker/X/range/1/minute/1/2', O, seen, L, 1);
    expect(() => followNextUrl('/v2/aggs/ticker/X/range/1/minute/1/2', O, seen, L, 2)).toThrow(PaginationLoopError);
  });
});

describe('paginate$', () => {
  interface Body {
    readonly n: number;
    readonly next?: string;
  }
  /** A listing whose page `cursor=N` links to `links(N)`; fetched targets are recorded. */
  function listing(links: (n: number) => string | undefined): { spec: ListingSpec<Body, string>; fetched: string[] } {
    const fetched: string[] = [];
    const fetch = (target: string): Observable<Body> =>
      defer(() => {
        fetched.push(target);
        const n = Number(new URL(target, O).searchParams.get('cursor') ?? '1');
        const next = links(n);
        return of({ n, ...(next !== undefined ? { next } : {}) });
      });
    return {
      fetched,
      spec: { origin: O, label: L, first: `${L}?limit=2`, fetch, nextUrlOf: (b) => b.next, toPage: (b, next, pageNo) => `${pageNo}:${b.n}:${next ?? '-'}` },
    };
  }

  it('follows next_url page by page and hands on each next_url without key members', async () => {
    const { spec, fetched } = listing((n) => (n < 3 ? `${O}${L}?cursor=${n + 1}&apiKey=k` : undefined));
    const pages = await lastValueFrom(paginate$(spec).pipe(toArray()));
    expect(pages).toEqual([`1:1:${O}${L}?cursor=2`, `2:2:${O}${L}?cursor=3`, '3:3:-']);
    expect(fetched).toEqual([`${L}?limit=2`, `${L}?cursor=2`, `${L}?cursor=3`]);
  });

  it('is lazy: nothing before subscription, and no page after the subscriber stops', async () => {
    const { spec, fetched } = listing((n) => `${O}${L}?cursor=${n + 1}`);
    const listing$ = paginate$(spec);
    expect(fetched).toEqual([]);
    expect(await lastValueFrom(listing$.pipe(take(2), toArray()))).toHaveLength(2);
    expect(fetched).toHaveLength(2);
  });

  it('a repeated cursor or a foreign origin errors after the page that carried it', async () => {
    for (const [links, cls] of [
      [(n: number) => `${O}${L}?cursor=${n === 3 ? 2 : n + 1}`, PaginationLoopError],
      [(n: number) => (n === 2 ? `http://other:1${L}?cursor=3` : `${O}${L}?cursor=${n + 1}`), ProtocolError],
    ] as const) {
      const { spec, fetched } = listing(links);
      const got: string[] = [];
      const err = await new Promise<unknown>((resolve) => paginate$(spec).subscribe({ next: (p) => got.push(p), error: resolve, complete: () => resolve(undefined) }));
      expect(err).toBeInstanceOf(cls);
      expect(got).toHaveLength(cls === PaginationLoopError ? 3 : 2);
      expect(fetched).toHaveLength(got.length);
    }
  });

  it('a page that cannot be made ends the listing with that error, and counts no page', async () => {
    const { spec } = listing((n) => `${O}${L}?cursor=${n + 1}`);
    let counted = 0;
    const boom = new ProtocolError('bad page');
    const err = await lastValueFrom(
      paginate$({
        ...spec,
        onPage: () => counted++,
        toPage: (b) => {
          if (b.n === 2) throw boom;
          return String(b.n);
        },
      }).pipe(toArray()),
    ).catch((e: unknown) => e);
    expect(err).toBe(boom);
    expect(counted).toBe(1);
  });
});

describe('loop detection against the simulator (repeat-cursor fault)', () => {
  let sim: SimServer;
  let client: PolygonClient;
  beforeAll(async () => {
    sim = await startSim({ seed: 3, repeatCursorRate: 1 });
    client = new PolygonClient({ apiKey: 'test-key-1234', baseUrl: sim.url, retry: false });
  });
  afterAll(async () => {
    await client.close();
    await sim.close();
  });

  it('row path and column path both stop with PaginationLoopError after the page that repeats', async () => {
    const rows: unknown[] = [];
    const e1 = await new Promise<unknown>((resolve) => client.trades$('ABVC', { ...DAY, limit: 50 }).subscribe({ next: (p) => rows.push(p), error: resolve, complete: () => resolve(undefined) }));
    const headers: unknown[] = [];
    const e2 = await new Promise<unknown>((resolve) =>
      client.tickColumns$('trades', 'ABVC', { ...DAY, limit: 50 }, new TickColumns('trades')).subscribe({ next: (h) => headers.push(h), error: resolve, complete: () => resolve(undefined) }),
    );
    for (const e of [e1, e2]) {
      expect(e).toBeInstanceOf(PaginationLoopError);
      expect((e as Error).message).toBe('/v3/trades/ABVC: next_url of page 2 repeats a cursor already seen in this listing');
    }
    // page 1 (no cursor) links on; page 2, reached by cursor, links back to itself.
    expect(rows).toHaveLength(2);
    expect(headers).toHaveLength(2);
    expect(sim.stats().repeatedCursors).toBe(2);
    expect(client.metrics()).toMatchObject({ sent: 4, pages: 4 });
  });
});
