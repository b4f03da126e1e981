import { existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { watch } from 'chokidar';
import { distinctUntilChanged, Observable } from 'rxjs';
import { finiteNumber } from '../options.js';

export interface PauseFlagOptions {
  /**
   * Also re-check the file this often, in ms (0 disables). A safety net for file systems where
   * change notifications are lost (network mounts, some containers); one `stat` per interval.
   * @default 1000
   */
  readonly recheckMs?: number;
  /**
   * Poll instead of using native notifications (chokidar `usePolling`).
   * @default false
   */
  readonly usePolling?: boolean;
}

/**
 * Whether the flag file `path` exists, now and whenever that changes: emits the current state
 * first, then each change (distinct). Watches the file's directory (depth 0, other entries
 * ignored), since chokidar 4 cannot watch a file that does not exist yet.
 *
 * @example
 * pullMap(events, fetchWindow, 64, { paused$: pauseFlag$(join(out, 'PAUSE')) })
 * // `touch out/PAUSE` stops new work within a second; `rm out/PAUSE` resumes it.
 */
export function pauseFlag$(path: string, options: PauseFlagOptions = {}): Observable<boolean> {
  const recheckMs = options.recheckMs ?? 1000;
  finiteNumber('pauseFlag$', 'recheckMs', recheckMs, 0, true);
  const file = resolve(path);
  const dir = dirname(file);
  const name = basename(file);
  return new Observable<boolean>((subscriber) => {
    // The event says something changed; the file system says what is true now (events can arrive
    // out of order when the flag is created and removed quickly).
    const check = (): void => subscriber.next(existsSync(file));
    check();
    const watcher = watch(dir, {
      ignoreInitial: true,
      depth: 0,
      usePolling: options.usePolling ?? false,
      ignored: (p: string) => p !== dir && basename(p) !== name,
    });
    watcher.on('add', check).on('unlink', check).on('change', check).on('ready', check);
    watcher.on('error', (err) => subscriber.error(err));
    const timer = recheckMs > 0 ? setInterval(check, recheckMs) : undefined;
    timer?.unref();
    return () => {
      if (timer) clearInterval(timer);
      void watcher.close().catch(() => undefined);
    };
  }).pipe(distinctUntilChanged());
}
