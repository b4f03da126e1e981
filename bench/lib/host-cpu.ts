/**
 * The machine's CPU over an interval, from /proc/stat (Linux; elsewhere nothing): how busy both
 * cores were and how much time the hypervisor gave to other guests ("steal"). On this shared VM
 * steal reaches several percent under load, and a quota figure at the edge of 2 cores (benchmark 9,
 * busy 100/s) moves with it: the figures are reported beside the result, not corrected for.
 *
 * @example const a = hostCpu(); await work(); const { busy, steal } = hostCpuShares(a, hostCpu());
 */
import { readFileSync } from 'node:fs';

export interface HostCpu {
  readonly total: number;
  readonly idle: number;
  readonly steal: number;
}

/** The aggregate `cpu` line of /proc/stat, in jiffies; undefined where there is none. */
export function hostCpu(): HostCpu | undefined {
  try {
    const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is in user)
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    if (f.length < 8 || f.some((x) => !Number.isFinite(x))) return undefined;
    return { total: f.reduce((a, b) => a + b, 0), idle: f[3]! + f[4]!, steal: f[7]! };
  } catch {
    return undefined;
  }
}

/** Shares of the interval between two snapshots: busy (neither idle nor stolen) and stolen. */
export function hostCpuShares(a: HostCpu | undefined, b: HostCpu | undefined): { busy: number; steal: number } | undefined {
  if (!a || !b || b.total <= a.total) return undefined;
  const t = b.total - a.total;
  return { busy: (t - (b.idle - a.idle) - (b.steal - a.steal)) / t, steal: (b.steal - a.steal) / t };
}
