/**
 * A simulator handle that is the same whether the server runs in this process or in a child.
 *
 * @example
 * const sim = await openSim({ rate: 50, latency: { medianMs: 100, p99Ms: 600 } }, 'child');
 * const before = await sim.stats(); … ; await sim.close();
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startSim, type SimOptions, type SimStats } from '../../src/sim/index.js';

export type SimMode = 'child' | 'inproc';

export interface SimHandle {
  readonly url: string;
  readonly mode: SimMode;
  stats(): Promise<SimStats>;
  /** CPU time of the server's process (user + system, µs): the child's, or this process's when in-process. */
  cpuUs(): Promise<number>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

const CHILD = fileURLToPath(new URL('./sim-child.js', import.meta.url));

/** Starts the simulator in-process or in a forked child (default: child). */
export async function openSim(opts: SimOptions, mode: SimMode = 'child'): Promise<SimHandle> {
  if (mode === 'inproc') {
    const sim = await startSim(opts);
    const cpuUs = async (): Promise<number> => {
      const c = process.cpuUsage();
      return c.user + c.system;
    };
    return { url: sim.url, mode, stats: async () => sim.stats(), cpuUs, reset: async () => sim.resetStats(), close: () => sim.close() };
  }
  const child: ChildProcess = fork(CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  let nextId = 1;
  type Reply = { stats?: SimStats; cpu?: NodeJS.CpuUsage };
  const waiting = new Map<number, (m: Reply) => void>();
  const url = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`sim child exited early (code ${String(code)})`)));
    child.once('message', (m: { url: string }) => resolve(m.url));
    child.send(opts);
  });
  child.removeAllListeners('exit');
  child.on('message', (m: Reply & { id?: number }) => {
    if (m.id !== undefined) {
      waiting.get(m.id)?.(m);
      waiting.delete(m.id);
    }
  });
  const call = (cmd: 'stats' | 'reset' | 'close' | 'cpu'): Promise<Reply> =>
    new Promise((resolve) => {
      const id = nextId++;
      waiting.set(id, resolve);
      child.send({ id, cmd });
    });
  let closed: Promise<void> | undefined;
  return {
    url,
    mode,
    stats: async () => (await call('stats')).stats!,
    cpuUs: async () => {
      const c = (await call('cpu')).cpu!;
      return c.user + c.system;
    },
    reset: async () => void (await call('reset')),
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        void call('close');
        // A wedged child is killed (by its own pid) rather than hanging the bench.
        setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
      })),
  };
}
