/** The Redis URL of cluster mode: parsing and redaction, without loading BullMQ. */
import { UsageError } from '../errors.js';
import { redactUrlPassword } from '../secrets.js';

/** The URL without its password (the one scrubber's rule). */
export const redactRedisUrl: (url: string) => string = redactUrlPassword;

/** Checks `redis://HOST:PORT` (or rediss://); a bad value is a UsageError naming the flag. */
export function parseRedisUrl(flag: string, url: string): URL {
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'redis:' && u.protocol !== 'rediss:')) throw new UsageError(`${flag}: expected redis://HOST:PORT, got ${JSON.stringify(redactRedisUrl(url))}`);
  return u;
}

/** The Redis URL from `--cluster` or `TICKPIPE_REDIS_URL`, validated; undefined when neither is set. */
export function clusterUrl(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const url = flag ?? (env.TICKPIPE_REDIS_URL || undefined);
  if (url === undefined) return undefined;
  parseRedisUrl(flag !== undefined ? '--cluster' : 'TICKPIPE_REDIS_URL', url);
  return url;
}
