/**
 * Opaque pagination cursors: base64url of a query string, like the real API's (whose aggregate
 * cursors decode to e.g. `limit=2&sort=asc`). Everything needed to continue is inside, never the key.
 */
import { BadRequestError } from '../errors.js';

export function encodeCursor(fields: Record<string, string>): string {
  return Buffer.from(new URLSearchParams(fields).toString(), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): URLSearchParams {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw new BadRequestError(`invalid cursor ${JSON.stringify(cursor)}`, 400);
  const params = new URLSearchParams(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (params.get('v') !== '1') throw new BadRequestError(`invalid cursor ${JSON.stringify(cursor)}`, 400);
  return params;
}

/** A required field of a decoded cursor. */
export function cursorField(params: URLSearchParams, name: string): string {
  const v = params.get(name);
  if (v === null) throw new BadRequestError(`invalid cursor: no ${name}`, 400);
  return v;
}
