/**
 * The one secret scrubber of tickpipe. Everything that may carry an API key (or a Redis password)
 * towards a terminal, a log line, an error message or a file goes through here: the HTTP client's
 * auth layer, the CLI's last-resort error printer, lock files, failure journals, the pino logger's
 * redaction paths and the cluster's Redis URL. One censor string, one list of secret field names.
 *
 * Two ways to find a secret:
 * - by value, when the caller knows it (the client holds its key): every occurrence, raw and
 *   URL-encoded, wherever it sits in the text;
 * - by shape, when it does not (a command line, a stored failure reason): `--api-key VALUE` flags,
 *   `apiKey=VALUE` query members, `Bearer VALUE`, and the password of `scheme://user:password@host`.
 */

/** What a secret is replaced with, everywhere. */
export const REDACTED = '[redacted]';

/**
 * Object keys whose values are never logged (pino `redact` paths are derived from these), and
 * query-member names whose values are never kept in a URL handed on.
 */
export const SECRET_FIELD_NAMES = ['apiKey', 'api_key', 'key'] as const;

/** The pino `redact.paths` of every tickpipe logger: the secret fields at the top level and one below, and auth headers. */
export const LOG_REDACT_PATHS: readonly string[] = [
  ...SECRET_FIELD_NAMES,
  ...SECRET_FIELD_NAMES.filter((n) => n !== 'key').map((n) => `*.${n}`),
  'headers.authorization',
  '*.headers.authorization',
];

/**
 * A known secret shorter than this is not searched for by value: no real key is that short, and
 * replacing every "a" of a message would hide the message, not the key.
 */
const MIN_SECRET_LENGTH = 4;

const SECRET_FLAG = /(--api-key|--apikey|--key|--token)(=|\s+)\S+/gi;
const SECRET_MEMBER = /(apiKey|api_key|token|key)=([^&\s]+)/gi;
const BEARER = /(Bearer\s+)\S+/gi;
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:@/\s]*:)[^@/\s]*@/gi;

/**
 * Removes every occurrence of each known secret in `secrets` (raw and URL-encoded; undefined and
 * very short values are skipped) from `text`. The value-based half of the scrubber.
 */
export function scrubKnownSecrets(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const s of secrets) {
    if (s === undefined || s.length < MIN_SECRET_LENGTH) continue;
    out = out.split(s).join(REDACTED);
    const enc = encodeURIComponent(s);
    if (enc !== s) out = out.split(enc).join(REDACTED);
  }
  return out;
}

/**
 * Redacts secrets by their shape: `--api-key`/`--key`/`--token` flag values, `apiKey=`/`key=`/`token=`
 * members, Bearer tokens and URL passwords. For text whose secrets nobody knows (a command line,
 * a failure reason) before it is stored anywhere.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(SECRET_FLAG, `$1$2${REDACTED}`)
    .replace(SECRET_MEMBER, `$1=${REDACTED}`)
    .replace(BEARER, `$1${REDACTED}`)
    .replace(URL_PASSWORD, `$1${REDACTED}@`);
}

/** Both halves: the known secrets by value, then anything secret-shaped. */
export function scrubSecrets(text: string, secrets: ReadonlyArray<string | undefined> = []): string {
  return redactSecrets(scrubKnownSecrets(text, secrets));
}

/**
 * Removes every occurrence of `secret` from `text` (and secret-shaped values). Defence in depth for
 * messages that reach the terminal: the client never puts the key in an error, but a message
 * quoting a user's URL might.
 */
export function scrubSecret(text: string, secret: string | undefined): string {
  return scrubSecrets(text, [secret]);
}

/** `url` without its password (`redis://user:[redacted]@host`). */
export function redactUrlPassword(url: string): string {
  return url.replace(URL_PASSWORD, `$1${REDACTED}@`);
}

/**
 * `url` (absolute, or a path with a query) without any query member named like a key
 * (`apiKey`, `api_key`, `key`, any case): what a proxy echoed into a `next_url` is not handed on.
 */
export function withoutKeyMembers(url: string): string {
  const isKey = (name: string): boolean => SECRET_FIELD_NAMES.some((n) => n.toLowerCase() === name.toLowerCase());
  try {
    const absolute = /^[a-z][a-z0-9+.-]*:/i.test(url);
    const u = new URL(url, 'http://relative.invalid');
    const names = [...u.searchParams.keys()];
    if (!names.some(isKey)) return url;
    for (const k of names) if (isKey(k)) u.searchParams.delete(k);
    return absolute ? u.toString() : u.pathname + u.search + u.hash;
  } catch {
    return url.replace(/([?&])(apikey|api_key|key)=[^&#]*&?/gi, '$1');
  }
}

/**
 * `err` with every known secret and secret-shaped value removed from its message, its stack and
 * its direct cause (a cause that carried one is replaced by a scrubbed plain copy). Mutates and
 * returns `err`, so its class, `code` and `status` stay.
 */
export function scrubError<E>(err: E, secrets: ReadonlyArray<string | undefined>): E {
  if (!(err instanceof Error)) return err;
  const scrub = (s: string): string => scrubSecrets(s, secrets);
  const clean = scrub(err.message);
  if (clean !== err.message) Object.defineProperty(err, 'message', { value: clean, writable: true, configurable: true, enumerable: false });
  if (typeof err.stack === 'string') {
    const stack = scrub(err.stack);
    if (stack !== err.stack) Object.defineProperty(err, 'stack', { value: stack, writable: true, configurable: true, enumerable: false });
  }
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const message = scrub(cause.message);
    const stack = scrub(cause.stack ?? '');
    if (message !== cause.message || stack !== (cause.stack ?? '')) {
      const copy = Object.assign(new Error(message), { name: cause.name, code: (cause as { code?: unknown }).code });
      copy.stack = stack;
      Object.defineProperty(err, 'cause', { value: copy, writable: true, configurable: true, enumerable: false });
    }
  } else if (typeof cause === 'string' && scrub(cause) !== cause) {
    Object.defineProperty(err, 'cause', { value: scrub(cause), writable: true, configurable: true, enumerable: false });
  }
  return err;
}
