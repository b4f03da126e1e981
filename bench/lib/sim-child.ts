/**
 * The simulator in its own process, driven over IPC, so the server's CPU (data generation, JSON
 * rendering) does not run on the event loop of the pipeline being measured.
 *
 * Protocol: the parent sends the SimOptions once and gets `{ url }`; then `{ id, cmd: 'stats' |
 * 'reset' | 'close' | 'cpu' }` messages each get `{ id, stats?, cpu? }` (cpu: the child's process.cpuUsage()).
 */
import { startSim, type SimOptions } from '../../src/sim/index.js';

interface Cmd {
  readonly id: number;
  readonly cmd: 'stats' | 'reset' | 'close' | 'cpu';
}

process.once('message', (opts: SimOptions) => {
  void startSim(opts).then((sim) => {
    process.on('message', (m: Cmd) => {
      if (m.cmd === 'stats') process.send!({ id: m.id, stats: sim.stats() });
      else if (m.cmd === 'cpu') process.send!({ id: m.id, cpu: process.cpuUsage() });
      else if (m.cmd === 'reset') {
        sim.resetStats();
        process.send!({ id: m.id });
      } else if (m.cmd === 'close') {
        void sim.close().then(() => {
          process.send!({ id: m.id }, () => process.exit(0));
        });
      }
    });
    process.send!({ url: sim.url });
  });
});
// The parent going away must not leave a server behind.
process.on('disconnect', () => process.exit(0));
