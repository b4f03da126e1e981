/**
 * First SIGINT/SIGTERM: graceful drain through the returned AbortSignal. Second: stop at once, by
 * removing these handlers and raising the signal again so its default action ends the process
 * (status 130/143 to the shell). Every file is published atomically and the journal is the commit
 * point, so this never leaves corrupt output, only work to redo.
 */
export function gracefulStop(onFirst: (signal: NodeJS.Signals) => void, onHardExit: () => void = () => {}): {
  readonly signal: AbortSignal;
  readonly received: () => NodeJS.Signals | undefined;
  dispose(): void;
} {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const handler = (sig: NodeJS.Signals) => {
    if (received) {
      onHardExit();
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
      process.kill(process.pid, sig);
      return;
    }
    received = sig;
    onFirst(sig);
    controller.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    received: () => received,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/** Exit status after a graceful drain caused by `sig`. */
export function exitStatusForSignal(sig: NodeJS.Signals): number {
  return sig === 'SIGTERM' ? 143 : 130;
}
