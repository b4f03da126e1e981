/**
 * The auth layer: the only holder of the API key. It adds the key to a request at send time only
 * (a query member or a Bearer header on the wire; never into a target, a next_url, a log line or a
 * file), and on the way up passes every error through the one secret scrubber (src/secrets.ts), so
 * a server or proxy echoing the key into a body, or undici quoting a request, cannot carry it out.
 */
import { scrubError, scrubSecrets } from '../../secrets.js';
import type { Interceptor } from './layer.js';

/** How the key is sent: `apiKey` query parameter (like the JS clients) or `Authorization: Bearer`. */
export type AuthMode = 'query' | 'bearer';

export class ApiKeyAuth {
  readonly mode: AuthMode;
  // A private field: neither util.inspect nor JSON.stringify of the client shows it.
  readonly #key: string;
  readonly #keyMember: string;

  constructor(key: string, mode: AuthMode) {
    this.#key = key;
    this.#keyMember = `apiKey=${encodeURIComponent(key)}`;
    this.mode = mode;
  }

  /** `text` without the key (raw or URL-encoded) and without anything key-shaped. */
  scrub(text: string): string {
    return scrubSecrets(text, [this.#key]);
  }

  /** `err` scrubbed in place (message, stack, cause); its class and code stay. */
  scrubError<E>(err: E): E {
    return scrubError(err, [this.#key]);
  }

  /** The layer: signs the request on the way down, scrubs errors on the way up. */
  readonly layer: Interceptor = (next) => async (req) => {
    const signed =
      this.mode === 'bearer'
        ? { ...req, headers: { ...req.headers, authorization: `Bearer ${this.#key}` } }
        : { ...req, target: req.target + (req.target.includes('?') ? '&' : '?') + this.#keyMember };
    try {
      return await next({ ...signed, redact: (text) => this.scrub(text) });
    } catch (e) {
      throw this.scrubError(e);
    }
  };
}
