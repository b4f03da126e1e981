/**
 * Faults in the data rather than the transport, for soaks and tests of "nothing lost silently":
 * a 200 reply whose body says `"status":"ERROR"` (a real API does this under load), and one
 * poisoned ticker whose trades pages carry a `sip_timestamp` beyond Int64 (a row no client can
 * store), so its windows must end in the failure journal while every other window completes.
 */

/** A 200 reply that is not data. */
export function errorBody200(requestId: string): string {
  return `{"status":"ERROR","request_id":"${requestId}","error":"Internal error while processing the request; please retry"}`;
}

/** Larger than any Int64 (9223372036854775807). */
export const POISON_SIP_TIMESTAMP = '99999999999999999999';

/**
 * The body of `pathname` with its first `sip_timestamp` replaced by {@link POISON_SIP_TIMESTAMP}
 * when it is a trades page of `ticker`; otherwise the body unchanged.
 */
export function poisonTradesBody(pathname: string, ticker: string | undefined, body: string | Buffer): string | Buffer {
  if (ticker === undefined || pathname !== `/v3/trades/${encodeURIComponent(ticker)}`) return body;
  const text = typeof body === 'string' ? body : body.toString('utf8');
  return text.replace(/"sip_timestamp":\d+/, `"sip_timestamp":${POISON_SIP_TIMESTAMP}`);
}
