import type { Command } from './command.js';

/**
 * A command as `tickpipe --help` lists it, without loading it: `--help` and `--version` stay fast
 * (loading a command can load Polars, over a second). Its summary lives here only.
 */
export interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  readonly load: () => Promise<Command>;
}

/** Every CLI command, loaded lazily. One line per command; the order is the order of `tickpipe --help`. */
export const COMMANDS: readonly CommandEntry[] = [
  { name: 'run', summary: 'detect events and download their trade/quote windows (both stages, resumable)', load: async () => (await import('./run.js')).runCommand },
  { name: 'sim', summary: 'serve the simulated Polygon-compatible market on loopback', load: async () => (await import('./sim.js')).simCommand },
  { name: 'consolidate', summary: 'write events/events.parquet from the committed shards', load: async () => (await import('./consolidate.js')).consolidateCommand },
  { name: 'compact', summary: 'compact the committed windows into the query-ready dataset/ (exactly once)', load: async () => (await import('./compact.js')).compactCommand },
  { name: 'status', summary: 'summarise a run folder: progress, failures, last activity, live locks', load: async () => (await import('./status.js')).statusCommand },
  { name: 'verify', summary: 'check a run folder for duplicates, missing or broken files and journal drift', load: async () => (await import('./verify.js')).verifyCommand },
  { name: 'reconcile', summary: 'rebuild the journals from the files on disk', load: async () => (await import('./reconcile.js')).reconcileCommand },
  { name: 'clean', summary: 'remove tmp leftovers and uncommitted shards (--dry-run to preview)', load: async () => (await import('./clean.js')).cleanCommand },
  { name: 'tail', summary: 'live view of a run folder: per-worker progress, rates, 429s, ETA, stalls', load: async () => (await import('./tail.js')).tailCommand },
  { name: 'report', summary: 'write a self-contained HTML report (charts of throughput, quota, 429s, events, workers)', load: async () => (await import('./report.js')).reportCommand },
  { name: 'adopt', summary: 'import the windows and checkpoints of the older Python scripts into a run folder', load: async () => (await import('./adopt.js')).adoptCommand },
  { name: 'worker', summary: 'work on a cluster run started by `run --cluster` (any number of hosts)', load: async () => (await import('./worker.js')).workerCommand },
];

/** Name, summary and loader of every command; loads none of them. */
export async function commandIndex(): Promise<readonly CommandEntry[]> {
  return COMMANDS;
}
