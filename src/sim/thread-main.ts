import { parentPort, workerData } from 'node:worker_threads';
import type { SimOptions } from './options.js';
import { startSim } from './index.js';

// Entry point of the simulator thread started by startSimThread().
const port = parentPort!;
startSim(workerData as SimOptions).then(
  (sim) => {
    port.postMessage({ url: sim.url });
    port.on('message', (m) => {
      if (m === 'close') void sim.close().then(() => port.close());
    });
  },
  (err: unknown) => port.postMessage({ error: err instanceof Error ? err.message : String(err) }),
);
