import type { Command } from './main.js';

/**
 * Every CLI command, loaded lazily so `tickpipe sim` does not pay for Polars and `--help` stays
 * fast. One line per command; the order is the order of `tickpipe --help`.
 */
export const COMMANDS: ReadonlyArray<() => Promise<Command>> = [
  async () => (await import('./run.js')).runCommand,
  async () => (await import('./sim.js')).simCommand,
  async () => (await import('./consolidate.js')).consolidateCommand,
  async () => (await import('./compact.js')).compactCommand,
  async () => (await import('./status.js')).statusCommand,
  async () => (await import('./verify.js')).verifyCommand,
  async () => (await import('./reconcile.js')).reconcileCommand,
  async () => (await import('./clean.js')).cleanCommand,
  async () => (await import('./tail.js')).tailCommand,
  async () => (await import('./report.js')).reportCommand,
  async () => (await import('./adopt.js')).adoptCommand,
];
