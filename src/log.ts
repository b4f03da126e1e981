import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Paths whose values are never written, whatever a caller passes to the logger. */
const REDACT_PATHS = ['apiKey', 'api_key', 'key', '*.apiKey', '*.api_key', 'headers.authorization', '*.headers.authorization'];

/** The two pino streams of a run folder: the application log and the heartbeat log. */
export interface RunLogs {
  /** `logs/tickpipe.log`: application events (warnings, retries, stage changes). */
  readonly log: Logger;
  /** `logs/heartbeat.ndjson`: one line per completed item or interval; read by `tail` and `report`. */
  readonly heartbeat: Logger;
  /** Flushes both files synchronously; safe to call on exit. */
  flush(): void;
}

function fileLogger(path: string, name: string): Logger {
  // sync: false keeps appends off the hot path; flush() is called on every exit route.
  const dest = pino.destination({ dest: path, mkdir: true, sync: false, minLength: 0 });
  return pino(
    {
      name,
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    dest,
  );
}

/**
 * Opens (appending) `DIR/logs/tickpipe.log` and `DIR/logs/heartbeat.ndjson`; a cluster worker
 * passes its own file names (one writer per file).
 */
export function openRunLogs(outDir: string, names?: { readonly log: string; readonly heartbeat: string }): RunLogs {
  const dir = join(outDir, 'logs');
  mkdirSync(dir, { recursive: true });
  const log = fileLogger(join(dir, names?.log ?? 'tickpipe.log'), 'tickpipe');
  const heartbeat = fileLogger(join(dir, names?.heartbeat ?? 'heartbeat.ndjson'), 'heartbeat');
  return {
    log,
    heartbeat,
    flush() {
      for (const l of [log, heartbeat]) {
        try {
          l.flush();
        } catch {
          // a logger that cannot flush at exit must not mask the real exit status
        }
      }
    },
  };
}

/** A logger that drops everything: for library use without a run folder. */
export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * Removes every occurrence of `secret` from `text`. Defence in depth for messages that reach the
 * terminal: the client never puts the key in an error, but a message quoting a user's URL might.
 */
export function scrubSecret(text: string, secret: string | undefined): string {
  if (!secret || secret.length < 4) return text;
  return text.split(secret).join('[redacted]');
}
