/**
 * The pagination layer: a listing's pages, following `next_url` lazily (the next page is requested
 * only after the previous one was emitted, and only while subscribed; each page is one retried
 * request of the layers below). Both the row path (`pages$`) and the column path (`tickColumns$`)
 * page through here. The rules for a `next_url`:
 * - a member named like a key (a proxy echoing it) is removed before the URL is handed on;
 * - one on another origin is refused (ProtocolError): the key is never sent there;
 * - one repeating a cursor already seen in this listing is a PaginationLoopError;
 * both errors come after the page that carried the `next_url`.
 */
import { Observable, type Subscription } from 'rxjs';
import { PaginationLoopError, ProtocolError } from '../../errors.js';
import { withoutKeyMembers } from '../../secrets.js';

/** What a listing needs besides the layers below. */
export interface ListingSpec<B, P> {
  /** Origin of the API; a `next_url` elsewhere is refused. */
  readonly origin: string;
  /** Path of the listing without query, for messages. */
  readonly label: string;
  /** Target (path and query, no key) of the first page. */
  readonly first: string;
  /** One page: the rate-limited, retried request of `target`, emitting its decoded body once. */
  readonly fetch: (target: string) => Observable<B>;
  /** The body's `next_url` as the server sent it (undefined or '' when there is none). */
  readonly nextUrlOf: (body: B) => string | undefined;
  /** The page to emit, given its body, its `next_url` without key members, and its number (1-based). A throw ends the listing with that error. */
  readonly toPage: (body: B, nextUrl: string | undefined, pageNo: number) => P;
  /** Called for each page emitted (the metrics' page count). */
  readonly onPage?: () => void;
}

/** Identity of a page within its listing: its cursor, else its whole path and query. */
function cursorKey(u: URL): string {
  return u.searchParams.get('cursor') ?? u.pathname + u.search;
}

/**
 * The target to request for `nextUrl` (path and query, key members removed), or the error to end
 * the listing with: a foreign origin, an unparseable URL, or a cursor in `seen` (which it joins).
 */
export function followNextUrl(nextUrl: string, origin: string, seen: Set<string>, label: string, pageNo: number): string {
  let u: URL;
  try {
    u = new URL(withoutKeyMembers(nextUrl), origin);
  } catch {
    throw new ProtocolError(`${label}: page ${pageNo} has an unparseable next_url`);
  }
  if (u.origin !== origin) {
    throw new ProtocolError(`${label}: page ${pageNo} has a next_url on another origin (${u.origin}); not following it with the API key`);
  }
  const key = cursorKey(u);
  if (seen.has(key)) throw new PaginationLoopError(`${label}: next_url of page ${pageNo} repeats a cursor already seen in this listing`);
  seen.add(key);
  return u.pathname + u.search;
}

/** The pages of a listing (see the module comment). Cold; unsubscribing aborts the page in flight. */
export function paginate$<B, P>(s: ListingSpec<B, P>): Observable<P> {
  return new Observable<P>((subscriber) => {
    const seen = new Set<string>([cursorKey(new URL(s.first, s.origin))]);
    let inner: Subscription | undefined;
    let pageNo = 0;

    const onBody = (body: B): void => {
      pageNo++;
      const raw = s.nextUrlOf(body);
      const nextUrl = raw === undefined || raw === '' ? undefined : withoutKeyMembers(raw);
      let page: P;
      try {
        page = s.toPage(body, nextUrl, pageNo);
      } catch (e) {
        subscriber.error(e);
        return;
      }
      let next: string | undefined;
      let stop: unknown;
      if (nextUrl !== undefined) {
        try {
          next = followNextUrl(nextUrl, s.origin, seen, s.label, pageNo);
        } catch (e) {
          stop = e;
        }
      }
      s.onPage?.();
      subscriber.next(page);
      if (subscriber.closed) return;
      if (stop !== undefined) subscriber.error(stop);
      else if (next !== undefined) fetchPage(next);
      else subscriber.complete();
    };

    const fetchPage = (target: string): void => {
      let body: B | undefined;
      let got = false;
      inner = s.fetch(target).subscribe({
        next: (b) => {
          body = b;
          got = true;
        },
        error: (e) => subscriber.error(e),
        complete: () => (got ? onBody(body as B) : subscriber.complete()),
      });
    };

    fetchPage(s.first);
    return () => inner?.unsubscribe();
  });
}
