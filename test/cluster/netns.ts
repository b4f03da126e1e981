/**
 * Three "hosts" for the cluster test: network namespaces joined by a bridge in the root namespace,
 * addresses in a private /24 picked from this process's pid, so parallel runs never collide.
 * Needs root (`ip netns`); callers fall back to plain loopback processes when `setupHosts` returns
 * a reason instead. Everything created here is removed by `teardown()`.
 */
import { spawnSync } from 'node:child_process';

export interface Hosts {
  /** Address of the root namespace on the bridge: the simulator and Redis listen here. */
  readonly serverAddr: string;
  /** Command prefix per host: `ip netns exec NAME`, plus its own UTS namespace named `tp-hostK` (so each host reports its own hostname). */
  readonly prefixes: readonly (readonly string[])[];
  readonly addrs: readonly string[];
  teardown(): void;
}

function ip(...args: string[]): { ok: boolean; err: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return { ok: r.status === 0, err: (r.stderr ?? '').trim() };
}

export function setupHosts(n: number): Hosts | { skip: string } {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return { skip: 'network namespaces need root on Linux' };
  const id = process.pid % 200 + 20;
  const tag = `tp${process.pid % 100000}`;
  const br = `${tag}br`;
  const names: string[] = [];
  const made: Array<() => void> = [];
  const teardown = () => {
    for (const undo of made.reverse()) undo();
    made.length = 0;
  };
  const must = (...args: string[]) => {
    const r = ip(...args);
    if (!r.ok) throw new Error(`ip ${args.join(' ')}: ${r.err}`);
  };
  try {
    must('link', 'add', br, 'type', 'bridge');
    made.push(() => void ip('link', 'del', br));
    must('addr', 'add', `10.213.${id}.1/24`, 'dev', br);
    must('link', 'set', br, 'up');
    for (let k = 0; k < n; k++) {
      const ns = `${tag}h${k}`;
      must('netns', 'add', ns);
      made.push(() => void ip('netns', 'del', ns));
      must('link', 'add', `${tag}v${k}`, 'type', 'veth', 'peer', 'name', `${tag}p${k}`);
      made.push(() => void ip('link', 'del', `${tag}v${k}`));
      must('link', 'set', `${tag}v${k}`, 'master', br);
      must('link', 'set', `${tag}v${k}`, 'up');
      must('link', 'set', `${tag}p${k}`, 'netns', ns);
      must('-n', ns, 'addr', 'add', `10.213.${id}.${k + 2}/24`, 'dev', `${tag}p${k}`);
      must('-n', ns, 'link', 'set', `${tag}p${k}`, 'up');
      must('-n', ns, 'link', 'set', 'lo', 'up');
      names.push(ns);
    }
  } catch (err) {
    teardown();
    return { skip: `could not create network namespaces (${(err as Error).message}); using loopback processes` };
  }
  return {
    serverAddr: `10.213.${id}.1`,
    prefixes: names.map((ns, k) => ['ip', 'netns', 'exec', ns, 'unshare', '--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', `tp-host${k}`]),
    addrs: names.map((_, k) => `10.213.${id}.${k + 2}`),
    teardown,
  };
}
