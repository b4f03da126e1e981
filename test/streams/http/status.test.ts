/** The status → error mapper is pure: a table of replies and the error each one must raise. */
import { describe, expect, it } from 'vitest';
import { errorForStatus, parseRetryAfter } from '../../../src/streams/http/status.js';
import { transportError } from '../../../src/streams/http/transport.js';
import {
  AbortedError,
  AuthError,
  BadRequestError,
  NetworkError,
  NotFoundError,
  ProtocolError,
  RateLimitedError,
  ServerError,
  TimeoutError,
} from '../../../src/errors.js';

const L = '/v3/trades/AAPL';
type Row = [status: number, body: string, cls: new (...a: never[]) => Error, code: string, retryable: boolean, message: string];

const rows: Row[] = [
  [401, '{"status":"ERROR","error":"Unknown API Key"}', AuthError, 'E_AUTH', false, `GET ${L}: HTTP 401 Unknown API Key`],
  [400, '{"status":"ERROR","error":"API Key was not provided"}', AuthError, 'E_AUTH', false, `GET ${L}: HTTP 400 API Key was not provided`],
  [400, '{"status":"ERROR","error":"Could not parse the timestamp"}', BadRequestError, 'E_BAD_REQUEST', false, `GET ${L}: HTTP 400 Could not parse the timestamp`],
  [403, '{"status":"NOT_AUTHORIZED","message":"You are not entitled to this data."}', BadRequestError, 'E_BAD_REQUEST', false, `GET ${L}: HTTP 403 You are not entitled to this data.`],
  [404, '{"status":"NOT_FOUND","message":"Not found"}', NotFoundError, 'E_NOT_FOUND', false, `GET ${L}: HTTP 404 Not found`],
  [422, 'not json', BadRequestError, 'E_BAD_REQUEST', false, `GET ${L}: HTTP 422 not json`],
  [429, '{"status":"ERROR","error":"too many"}', RateLimitedError, 'E_RATE_LIMITED', true, `GET ${L}: HTTP 429 too many`],
  [500, '{"status":"ERROR"}', ServerError, 'E_SERVER', true, `GET ${L}: HTTP 500 ERROR`],
  [502, '<html>\n  <body>Bad   Gateway</body>\n</html>', ServerError, 'E_SERVER', true, `GET ${L}: HTTP 502 <html> <body>Bad Gateway</body> </html>`],
  [503, '', ServerError, 'E_SERVER', true, `GET ${L}: HTTP 503`],
  [304, '', ProtocolError, 'E_PROTOCOL', true, `GET ${L}: HTTP 304`],
];

describe('errorForStatus', () => {
  it.each(rows)('HTTP %i %j → %o', (status, text, cls, code, retryable, message) => {
    const err = errorForStatus({ status, text, label: L });
    expect(err).toBeInstanceOf(cls);
    expect(err.code).toBe(code);
    expect(err.status).toBe(status);
    expect(err.retryable).toBe(retryable);
    expect(err.message).toBe(message);
  });

  it('a 429 carries the Retry-After it is given, as is (the rate-limit layer caps it)', () => {
    expect((errorForStatus({ status: 429, text: '', label: L, retryAfterMs: 3_600_000 }) as RateLimitedError).retryAfterMs).toBe(3_600_000);
    expect((errorForStatus({ status: 429, text: '', label: L }) as RateLimitedError).retryAfterMs).toBeUndefined();
  });

  it('the detail is one line of at most 300 characters', () => {
    const err = errorForStatus({ status: 500, text: JSON.stringify({ error: 'x'.repeat(1000) }), label: L });
    expect(err.message).toBe(`GET ${L}: HTTP 500 ${'x'.repeat(300)}`);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2024-03-12T15:00:00Z');
  it.each([
    ['1', 1000],
    ['1.5', 1500],
    [' 30 ', 30_000],
    ['Tue, 12 Mar 2024 15:00:05 GMT', 5000],
    ['Tue, 12 Mar 2024 14:00:00 GMT', 0],
    ['soon', undefined],
    [undefined, undefined],
  ] as Array<[string | undefined, number | undefined]>)('%j → %j', (header, ms) => {
    expect(parseRetryAfter(header, now)).toBe(ms);
  });
  it('takes the first of repeated headers', () => {
    expect(parseRetryAfter(['2', '9'], now)).toBe(2000);
  });
});

describe('transportError', () => {
  const cases: Array<[code: string | undefined, name: string, phase: 'request' | 'body', aborted: boolean, cls: new (...a: never[]) => Error, message: string]> = [
    [undefined, 'AbortError', 'request', false, AbortedError, `GET ${L}: aborted`],
    ['ECONNRESET', 'Error', 'request', true, AbortedError, `GET ${L}: aborted`],
    ['UND_ERR_CLOSED', 'ClientClosedError', 'request', false, AbortedError, `GET ${L}: client closed`],
    ['UND_ERR_HEADERS_TIMEOUT', 'HeadersTimeoutError', 'request', false, TimeoutError, `GET ${L}: no response (UND_ERR_HEADERS_TIMEOUT)`],
    ['UND_ERR_BODY_TIMEOUT', 'BodyTimeoutError', 'body', false, TimeoutError, `GET ${L}: body stalled (UND_ERR_BODY_TIMEOUT)`],
    ['HPE_INVALID_CONSTANT', 'Error', 'request', false, ProtocolError, `GET ${L}: malformed HTTP response (HPE_INVALID_CONSTANT)`],
    ['UND_ERR_SOCKET', 'SocketError', 'body', false, ProtocolError, `GET ${L}: response body cut short (UND_ERR_SOCKET)`],
    ['ECONNREFUSED', 'Error', 'request', false, NetworkError, `GET ${L}: ECONNREFUSED`],
    ['EWHATEVER', 'Error', 'request', false, NetworkError, `GET ${L}: transport failure (EWHATEVER)`],
  ];
  it.each(cases)('%s (%s, %s, aborted %s) → %o', (code, name, phase, aborted, cls, message) => {
    const raw = Object.assign(new Error('raw'), { code, name });
    const err = transportError(raw, L, phase, aborted);
    expect(err).toBeInstanceOf(cls);
    expect(err.message).toBe(message);
    // The raw error (which may hold the socket) is not kept, only a copy of its name, code and message.
    expect(err.cause).not.toBe(raw);
    expect(err.cause).toMatchObject({ message: 'raw', name, code });
  });
});
