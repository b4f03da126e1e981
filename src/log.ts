import { makeDirsSync } from './fs/make-dirs.js';
import { dirname } from 'node:path';
import { pino, type Logger } from 'pino';
import { DiskError, toDiskError } from './errors.js';
import { LOG_REDACT_PATHS, REDACTED } from './secrets.js';

export type { Logger } from 'pino';

/** The one secret scrubber; re-exported here, where callers of the logger look for it. */
export { scrubSecret } from './secrets.js';

/** The two pino streams of a run folder: the application log and the heartbeat log. */
export interface RunLogs {
  /** `logs/tickpipe.log`: application events (warnings, retries, stage changes). */
  readonly log: Logger;
  /** The heartbeat file: one line per completed item or interval; read by `tail` and `report`. */
  readonly heartbeat: Logger;
  /** Flushes both files synchronously; safe to call on exit, and never spins on a failed file. */
  flush(): void;
  /** The first log write that failed (disk full, …), as a DiskError naming the file; undefined while all is well. */
  failure(): Error | undefined;
  /** Calls `cb` once, with that error, when a log write fails (at once if one already has). */
  onFailure(cb: (err: Error) => void): void;
}

type Failed = (err: Error) => void;

function fileLogger(path: string, name: string, failed: Failed): Logger {
  // sync: true: a log line is a few hundred bytes at most a few hundred times a second (µs each), and
  // a write error then surfaces at the write. The async destination buffered it, re-emitted the
  // error unhandled, and flushed at exit with a loop that retries ENOSPC forever (SIGKILL only).
  const dest = pino.destination({ dest: path, mkdir: true, sync: true, minLength: 0 });
  dest.on('error', (err: unknown) => {
    // Stop writing to it (like pino does on EPIPE): later lines would fail the same way, and a
    // flush would retry the bytes already refused.
    const noop = (): boolean => true;
    Object.assign(dest, { write: noop, flushSync: () => undefined, end: () => undefined });
    const e = toDiskError(err, 'writing', path);
    failed(e instanceof Error ? e : new DiskError(`writing ${path}: ${String(err)}`));
  });
  return pino(
    {
      name,
      base: { pid: process.pid },
      // Paths whose values are never written, whatever a caller passes to the logger.
      redact: { paths: [...LOG_REDACT_PATHS], censor: REDACTED },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    dest,
  );
}

/**
 * Opens (appending) a run's log and heartbeat files, whose paths the run-folder layout gives
 * (`runLogPaths`: the one-host files, or a cluster slot's own; one writer per file).
 */
export function openRunLogs(files: { readonly log: string; readonly heartbeat: string }): RunLogs {
  makeDirsSync(dirname(files.log));
  makeDirsSync(dirname(files.heartbeat));
  let first: Error | undefined;
  const waiting: Failed[] = [];
  const failed: Failed = (err) => {
    if (first) return;
    first = err;
    for (const cb of waiting.splice(0)) cb(err);
  };
  const log = fileLogger(files.log, 'tickpipe', failed);
  const heartbeat = fileLogger(files.heartbeat, 'heartbeat', failed);
  return {
    log,
    heartbeat,
    failure: () => first,
    onFailure(cb) {
      if (first) cb(first);
      else waiting.push(cb);
    },
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
