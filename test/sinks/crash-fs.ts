/** Helpers for the crash-injection property tests. */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { instrumentFs, nodeFs, SimulatedCrash, type FsLayer, type InstrumentedFs } from '../../src/fs/fs-layer.js';

/**
 * nodeFs without the fsyncs. An in-process "crash" keeps the page cache, so fsync adds nothing to
 * what these tests can observe; the instrumented layer still counts (and can crash at) every sync.
 */
export const noSyncFs: FsLayer = {
  ...nodeFs,
  fsyncDir: async () => undefined,
  open: async (path, flags) => {
    const h = await nodeFs.open(path, flags);
    return { ...h, sync: async () => undefined };
  },
};

/** A crash plan for one simulated process: crash at `step`, tearing the write if it is one. */
export interface CrashPlan {
  readonly step: number;
  readonly torn: boolean;
}

/** An fs layer that dies at `plan.step` (never when `plan` is undefined). */
export function crashingFs(plan: CrashPlan | undefined): InstrumentedFs {
  return instrumentFs(noSyncFs, (c) => {
    if (plan && c.step === plan.step) {
      if (plan.torn && c.op === 'handle.write') return { partial: 7 };
      throw new SimulatedCrash(c.step, c.op);
    }
    return undefined;
  });
}

/** A temp folder on tmpfs when available (fast), else the OS temp folder. */
export async function fastTempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = await mkdtemp(join(base, prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Rethrows anything that is not a simulated crash. */
export function onlyCrash(err: unknown): void {
  if (!(err instanceof SimulatedCrash)) throw err;
}
