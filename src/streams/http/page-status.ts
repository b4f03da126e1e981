/**
 * What a 200 reply of the API means. A body that says `"status":"ERROR"` (or any status other than
 * OK/DELAYED), or a v3 listing page without `results`, is not "no data": committing it as an empty
 * page would publish an empty window, journal it complete, and make every later run skip it. Such a
 * reply is a retryable {@link ProtocolError}; once the retries are spent it lands in the failure
 * journal. An aggregates reply with `resultsCount: 0` and no `results` is a real empty day.
 *
 * One pure function so every parser of pages (the JSON path and a byte-level scanner alike) applies
 * the same rule.
 */
import { ProtocolError } from '../../errors.js';

/** Which API a page came from: v2 aggregates may omit `results` on an empty day; v3 listings may not. */
export type PageEndpointKind = 'aggregates' | 'v3';

/** What the rule looks at, taken from the parsed body. */
export interface PageStatusFacts {
  /** The body's `status` field as sent (undefined when absent or not a string). */
  readonly status: string | undefined;
  /** Whether the body has a `results` key whose value is not null. */
  readonly hasResults: boolean;
  /** The body's `resultsCount` (aggregates) when it is a number. */
  readonly resultsCount: number | undefined;
  readonly kind: PageEndpointKind;
  /** `GET /path` (no query, never the key) for the error message. */
  readonly label: string;
  /** The body's `error`/`message` text, if any, for the error message. */
  readonly detail?: string | undefined;
}

const GOOD_STATUSES = new Set(['OK', 'DELAYED']);

/**
 * Undefined when the page is data (possibly an honest empty one), otherwise the retryable
 * {@link ProtocolError} to raise. A missing `status` is accepted when `results` is present (some
 * proxies strip it); a missing `status` without `results` is not data.
 */
export function pageStatusProblem(f: PageStatusFacts): ProtocolError | undefined {
  const said = f.detail ? `: ${f.detail.replace(/\s+/g, ' ').trim().slice(0, 200)}` : '';
  if (f.status !== undefined && !GOOD_STATUSES.has(f.status)) {
    return new ProtocolError(`${f.label}: HTTP 200 with status ${JSON.stringify(f.status.slice(0, 40))}${said}`, 200);
  }
  if (f.hasResults) return undefined;
  if (f.kind === 'aggregates' && f.status !== undefined && f.resultsCount === 0) return undefined;
  const why = f.kind === 'aggregates' ? 'no "results" and no "resultsCount": 0' : 'no "results"';
  return new ProtocolError(`${f.label}: HTTP 200 with ${why}${f.status === undefined ? ' and no "status"' : ''}${said}`, 200);
}

/** {@link pageStatusProblem} on a losslessly parsed body. */
export function checkPageBody(body: unknown, kind: PageEndpointKind, label: string): ProtocolError | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return new ProtocolError(`${label}: HTTP 200 with a body that is not a JSON object`, 200);
  }
  const b = body as Record<string, unknown>;
  const rc = b.resultsCount;
  const detail = typeof b.error === 'string' ? b.error : typeof b.message === 'string' ? b.message : undefined;
  return pageStatusProblem({
    status: typeof b.status === 'string' ? b.status : undefined,
    hasResults: b.results !== undefined && b.results !== null,
    resultsCount: typeof rc === 'number' ? rc : typeof rc === 'bigint' ? Number(rc) : undefined,
    kind,
    label,
    detail,
  });
}
