import { Worker } from 'node:worker_threads';
import type { SimOptions } from './options.js';

/** A simulator running in a worker thread: same server, its own event loop. */
export interface SimThread {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts the simulator in a worker thread, so that generating and serializing pages (tens of ms
 * for a large page) never delays the pipeline's timers or its token bucket in the same process.
 * `tickpipe run` uses this for its embedded simulator; tests use {@link startSim} in-process.
 *
 * @example
 * const sim = await startSimThread({ seed: 7, rate: 100 });
 * // … point a PolygonClient at sim.url …
 * await sim.close();
 */
export async function startSimThread(opts: SimOptions): Promise<SimThread> {
  const worker = new Worker(new URL('./thread-main.js', import.meta.url), { workerData: opts });
  const url = await new Promise<string>((resolve, reject) => {
    worker.once('message', (m: { url?: string; error?: string }) => (m.url ? resolve(m.url) : reject(new Error(m.error))));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`simulator thread exited with code ${code}`)));
  });
  worker.unref();
  return {
    url,
    async close() {
      // An unref'd worker would let the process exit while we wait for it, silently dropping the
      // caller's pending error or summary: hold the loop open until the thread is gone.
      worker.ref();
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('close');
      await exited;
    },
  };
}
