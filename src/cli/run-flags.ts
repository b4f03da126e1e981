/**
 * The `run` command's flags and the parsers of their values, apart from `run.ts` so that the job
 * (`run-job.ts`, loaded lazily) and the command share them without importing each other.
 */
import { UsageError } from '../errors.js';
import type { EventWindow } from '../pipeline/ingest-stage.js';
import { parseDuration, type ParsedFlags } from '../args.js';
import { OUT_FLAG } from './command.js';

export const FLAGS = {
  stage: { type: 'string' },
  universe: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  ...OUT_FLAG,
  workers: { type: 'string' },
  'batch-size': { type: 'string' },
  concurrency: { type: 'string' },
  rate: { type: 'string' },
  adaptive: { type: 'boolean' },
  'max-server-pause': { type: 'string' },
  partition: { type: 'string' },
  manifest: { type: 'string' },
  window: { type: 'string' },
  'quotes-hz': { type: 'string' },
  'retry-failed': { type: 'boolean' },
  detectors: { type: 'string' },
  'detector-module': { type: 'string' },
  'base-url': { type: 'string' },
  'api-key': { type: 'string' },
  'api-key-file': { type: 'string' },
  'steal-locks': { type: 'boolean' },
  sim: { type: 'boolean' },
  'sim-seed': { type: 'string' },
  'no-progress': { type: 'boolean' },
  cluster: { type: 'string' },
  'no-compact': { type: 'boolean' },
  'remove-windows': { type: 'boolean' },
} as const;

/** `-10m,+20m` → window. */
export function parseWindow(flag: string, value: string): EventWindow {
  const parts = value.split(',').map((s) => s.trim());
  const ok = parts.length === 2 && parts[0]!.startsWith('-') && parts[1]!.startsWith('+');
  if (!ok) throw new UsageError(`${flag}: expected -BEFORE,+AFTER such as -10m,+20m, got ${JSON.stringify(value)}`);
  const beforeMs = parseDuration(flag, parts[0]!.slice(1));
  const afterMs = parseDuration(flag, parts[1]!.slice(1));
  if (beforeMs < 0 || afterMs < 0 || beforeMs + afterMs <= 0) throw new UsageError(`${flag}: the window must not be empty, got ${JSON.stringify(value)}`);
  return { beforeMs, afterMs };
}

/**
 * Whether `run` uses the embedded simulator: with `--sim` always (an exported POLYGON_API_KEY, set
 * for other tools, must not turn the demo into a real-API run), otherwise when neither a base URL
 * nor a key is given.
 */
export function usesEmbeddedSim(values: { sim?: boolean; 'base-url'?: string; 'api-key'?: string; 'api-key-file'?: string }, env: NodeJS.ProcessEnv): boolean {
  if (values.sim) {
    if (values['base-url'] !== undefined) throw new UsageError(`--sim and --base-url ${JSON.stringify(values['base-url'])} exclude each other: --sim runs on the embedded simulator`);
    if (values['api-key'] !== undefined) throw new UsageError('--sim and --api-key exclude each other: the embedded simulator needs no key');
    if (values['api-key-file'] !== undefined) throw new UsageError('--sim and --api-key-file exclude each other: the embedded simulator needs no key');
    return true;
  }
  return values['base-url'] === undefined && values['api-key-file'] === undefined && !(values['api-key'] ?? env.POLYGON_API_KEY);
}

/** Parsed flags of `run` (`--help` is answered before the job sees them). */
export type RunValues = ParsedFlags<typeof FLAGS>['values'];
